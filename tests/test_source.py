"""golf.source: peeling exec wrappers without running them, and finding code loaded at run time."""
from __future__ import annotations

import base64
import bz2
import gzip
import lzma
import zlib
from pathlib import Path

import pytest

from golf.findings import InputError
from golf.source import MAX_DECODED_BYTES, MAX_LAYERS, SourceError, decode_file, decode_source, runtime_code_files

FIXTURES = Path(__file__).parent / "fixtures" / "compliance"
SCRIPT = (FIXTURES / "legal_baseline.py").read_text()


def b85_lzma(text: str) -> str:
    return base64.b85encode(lzma.compress(text.encode())).decode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# Each builder wraps a script the way real packed submissions do; (name, builder, layers).
WRAPPERS = [
    ("lzma_b85_aliased", lambda s: f'import lzma as L,base64 as B\nexec(L.decompress(B.b85decode("{b85_lzma(s)}")))',
     ("lzma+b85",)),
    ("from_import_aliases", lambda s: "from lzma import decompress as D\nfrom base64 import b85decode as E\n"
                                      f'exec(D(E("{b85_lzma(s)}")).decode("utf-8"))', ("lzma+b85",)),
    ("zlib_b64_bytes", lambda s: f"import zlib,base64\nexec(zlib.decompress(base64.b64decode(b'{b64(zlib.compress(s.encode()))}')).decode())",
     ("zlib+b64",)),
    ("gzip_b64", lambda s: f"import gzip, base64\nexec(gzip.decompress(base64.b64decode('{b64(gzip.compress(s.encode()))}')))",
     ("gzip+b64",)),
    ("bz2_codecs", lambda s: f"import bz2,codecs\nexec(bz2.decompress(codecs.decode(b'{b64(bz2.compress(s.encode()))}','base64')))",
     ("bz2+b64",)),
    ("dunder_import", lambda s: f'exec(__import__("lzma").decompress(__import__("base64").b85decode("{b85_lzma(s)}")))',
     ("lzma+b85",)),
    ("split_into_variable", lambda s: (lambda blob: f's="{blob[:40]}"\\\n"{blob[40:]}";import lzma as L,base64 as B;'
                                                    "exec(L.decompress(B.b85decode(s)))")(b85_lzma(s)), ("lzma+b85",)),
    ("compile_then_exec", lambda s: f'import lzma,base64\nexec(compile(lzma.decompress(base64.b85decode("{b85_lzma(s)}")),"<x>","exec"))',
     ("lzma+b85",)),
    ("raw_lzma2_filters", lambda s: "import lzma,base64\nexec(lzma.decompress(base64.b85decode(\"{}\"),format=lzma.FORMAT_RAW,"
                                    "filters=[{{\"id\":lzma.FILTER_LZMA2}}]))".format(base64.b85encode(lzma.compress(
                                        s.encode(), format=lzma.FORMAT_RAW,
                                        filters=[{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}])).decode()),
     ("lzma+b85",)),
]


@pytest.mark.parametrize("name, build, layers", WRAPPERS, ids=[w[0] for w in WRAPPERS])
def test_wrapper_is_peeled_to_the_original_script(name, build, layers):
    stub = build(SCRIPT).encode()
    decoded = decode_source(stub)
    assert decoded.text == SCRIPT
    assert decoded.layers == layers
    assert decoded.raw_bytes == len(stub)
    assert decoded.syntax_error is None and decoded.tree is not None


def test_nested_wrappers_are_peeled_outermost_first():
    inner = WRAPPERS[0][1](SCRIPT)
    outer = WRAPPERS[2][1](inner)
    decoded = decode_source(outer.encode())
    assert decoded.layers == ("zlib+b64", "lzma+b85")
    assert decoded.text == SCRIPT


def test_plain_script_has_no_layers_and_keeps_its_text():
    decoded = decode_file(FIXTURES / "legal_baseline.py")
    assert decoded.layers == ()
    assert decoded.text == decoded.raw_text == SCRIPT
    assert decoded.raw_bytes == (FIXTURES / "legal_baseline.py").stat().st_size


def test_exec_of_a_file_is_not_a_wrapper():
    decoded = decode_source(b'exec(open("train_gpt_decode.py").read())\n')
    assert decoded.layers == ()


def test_decompression_bomb_is_refused_with_the_cap_in_the_message():
    bomb = base64.b85encode(lzma.compress(b"\0" * (40 * 1024 * 1024), preset=0)).decode()
    assert len(bomb) < 100_000
    stub = f'import lzma,base64\nexec(lzma.decompress(base64.b85decode("{bomb}")))'.encode()
    with pytest.raises(SourceError, match=r"32 MiB") as error:
        decode_source(stub)
    assert str(MAX_DECODED_BYTES) in str(error.value) and "bomb" in str(error.value)


def test_zlib_bomb_is_refused_too():
    bomb = b64(zlib.compress(b"#" * (MAX_DECODED_BYTES + 10), 1))
    with pytest.raises(SourceError, match="decoded size cap"):
        decode_source(f"import zlib,base64\nexec(zlib.decompress(base64.b64decode('{bomb}')))".encode())


def test_bad_base85_is_an_error_naming_the_wrapper():
    with pytest.raises(SourceError, match=r"line 2: cannot decode the b85 wrapper"):
        decode_source(b'import lzma,base64\nexec(lzma.decompress(base64.b85decode("~~~~~")))')


def test_truncated_lzma_stream_is_an_error():
    blob = base64.b85encode(lzma.compress(SCRIPT.encode())[:-40]).decode()
    with pytest.raises(SourceError, match="lzma"):
        decode_source(f'import lzma,base64\nexec(lzma.decompress(base64.b85decode("{blob}")))'.encode())


def test_too_many_nested_layers_is_an_error():
    text = "print('innermost')\n"
    for _ in range(MAX_LAYERS + 1):
        text = WRAPPERS[0][1](text)
    with pytest.raises(SourceError, match="nested"):
        decode_source(text.encode())


def test_stub_that_would_run_code_to_get_its_payload_is_left_alone(tmp_path):
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    stub = (f'import lzma,base64\nexec(lzma.decompress(base64.b85decode(__import__("shutil").rmtree({str(sentinel)!r}))))\n'
            f'exec(__import__("os").system("rm -rf {sentinel}"))\n')
    decoded = decode_source(stub.encode())
    assert decoded.layers == ()
    assert sentinel.is_dir()


def test_syntax_error_is_reported_with_its_line():
    decoded = decode_source(b"import os\ndef broken(:\n    pass\n")
    assert decoded.tree is None
    assert decoded.syntax_error.startswith("line 2:")


def test_unreadable_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        decode_file(tmp_path / "missing.py")


def test_runtime_code_files_lists_what_the_script_loads(tmp_path):
    (tmp_path / "ngram").mkdir()
    (tmp_path / "ngram" / "fused_expert_kernel.cpp").write_text("// kernel\n" * 10)
    (tmp_path / "train_gpt_decode.py").write_text("x = 1\n" * 50)
    (tmp_path / "ngram_tilt.py").write_text("def tilt(): pass\n")
    (tmp_path / "libfast.so").write_bytes(b"\x7fELF" + b"\0" * 60)
    (tmp_path / "README.py").write_text("# mentioned only in a comment\n")
    (tmp_path / "lossless_caps").mkdir()
    (tmp_path / "lossless_caps" / "__init__.py").write_text("A = 1\n")
    script = '''import os, ctypes
import torch
import ngram_tilt
from lossless_caps import A
from torch.utils.cpp_extension import load
# see README.py for details
exec(open("train_gpt_decode.py").read())
kernel = load(name="fused", sources=[os.path.join(os.path.dirname(__file__), "ngram", "fused_expert_kernel.cpp")])
lib = ctypes.CDLL("./libfast.so")
print(open(__file__).read())
'''
    (tmp_path / "train_gpt.py").write_text(script)
    found = runtime_code_files(decode_file(tmp_path / "train_gpt.py"), tmp_path, script="train_gpt.py")
    assert list(found) == [
        ("libfast.so", 64, 9),
        ("lossless_caps/__init__.py", 6, 4),
        ("ngram/fused_expert_kernel.cpp", 100, 8),
        ("ngram_tilt.py", 17, 3),
        ("train_gpt_decode.py", 300, 7),
    ]


def test_runtime_code_files_reads_inside_a_wrapper(tmp_path):
    (tmp_path / "helper.py").write_text("Y = 2\n")
    inner = "import helper\nprint(helper.Y)\n"
    (tmp_path / "train_gpt.py").write_text(WRAPPERS[0][1](inner))
    found = runtime_code_files(decode_file(tmp_path / "train_gpt.py"), tmp_path)
    assert found == (("helper.py", 6, 1),)


def test_runtime_code_files_ignores_paths_outside_the_folder(tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("z = 3\n")
    folder = tmp_path / "record"
    folder.mkdir()
    (folder / "train_gpt.py").write_text('exec(open("../outside.py").read())\n')
    assert runtime_code_files(decode_file(folder / "train_gpt.py"), folder) == ()


@pytest.mark.parametrize(
    "script",
    [
        'x = f"{d["k"]}"\n',
        'print(f"{"-".join(f"{v:.3f}" for v in xs)} done")\n',
        'log(f"step:{step} {m["loss"]:.4f} {{literal}}")  # "quoted" comment\n',
        'path = f"{root}\\\\{d["name"]}"\n',
    ],
)
def test_python_312_fstrings_with_reused_quotes_parse(script):
    decoded = decode_source(script.encode())
    assert decoded.syntax_error is None and decoded.tree is not None


def test_a_real_syntax_error_is_still_reported():
    assert decode_source(b'x = f"{d["k"]}"\ndef f(:\n').syntax_error == "line 2: invalid syntax"
