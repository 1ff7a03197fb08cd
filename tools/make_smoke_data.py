"""Build a tokenizer and challenge-format shards from text that ships with Python: no download needed.

    python tools/make_smoke_data.py --out smoke_data
    DATA_PATH=smoke_data TOKENIZER_PATH=smoke_data/tokenizer.model python train_gpt.py

Corpora: `pydoc` (default) is one document per pydoc topic, in sorted key order. `stdlib` adds,
for every .py file of the standard library (site-packages left out), one document holding its
module/class/function docstrings in source order, read with ast (never imported), and one
document per .txt/.rst file outside test folders (LICENSE.txt, idlelib's NEWS, ...). `docs` adds
to `stdlib` the docstrings of the installed numpy, scipy and torch packages, read the same way
(about 4x the stdlib's tokens: enough for the ablation's long runs).
`--text FILE ...` replaces the corpus: one document per blank-line-separated block.
Exact duplicate documents (and, for stdlib, repeated docstrings) are kept once.

Split: documents are walked in sha256-of-text order and go to validation while they fit in
min(--val-fraction of the corpus bytes, --val-max-bytes); the rest, in corpus order, is training.

Tokenizer: SentencePiece BPE trained on the lines of the training documents only, settings in
TOKENIZER_SETTINGS (<pad>=0, <s>=1 is BOS, </s>=2, <unk>=3, 256 byte pieces, no normalisation).
Each document is encoded as [BOS] + tokens; train shards hold at most --shard-tokens tokens each.

Re-runs: the output folder gets a stamp with a fingerprint of the input bytes and settings;
a re-run with the same fingerprint and intact files only reports (use --force to rebuild).
A rebuild deletes fineweb_train_*.bin and fineweb_val_*.bin already in the folder.

Exit codes: 0 written or up to date, 1 failed, 2 bad input.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.util
import io
import json
import os
import re
import sys
import sysconfig
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import sentencepiece as spm

from golf.findings import InputError
from golf.shards import MAX_TOKEN_ID, shard_name, write_shard

TOKENIZER_NAME = "tokenizer.model"
STAMP_NAME = "smoke_data_stamp.json"
STAMP_FORMAT = 1  # bump when the output for the same inputs changes
TOKENIZER_SETTINGS = dict(
    model_type="bpe",
    byte_fallback=True,
    normalization_rule_name="identity",
    remove_extra_whitespaces=False,  # keeps decode(encode(text)) == text, so byte counts stay exact
    split_digits=True,
    add_dummy_prefix=True,
    character_coverage=0.9995,
    pad_id=0,
    bos_id=1,
    eos_id=2,
    unk_id=3,
    num_threads=1,
    shuffle_input_sentence=False,
    minloglevel=2,
)
PROSE_SUFFIXES = (".txt", ".rst")
TEST_FOLDERS = {"test", "tests", "idle_test", "testing"}
DOC_PACKAGES = ("numpy", "scipy", "torch")


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def pydoc_topics_file() -> Path:
    import pydoc_data.topics

    return Path(pydoc_data.topics.__file__)


def is_stdlib_source(path: Path, root: Path) -> bool:
    """Every .py file, and .txt/.rst prose outside test folders; installed packages are not the stdlib."""
    parts = set(path.relative_to(root).parts)
    if "site-packages" in parts or not path.is_file():
        return False
    return path.suffix == ".py" or (path.suffix in PROSE_SUFFIXES and not parts & TEST_FOLDERS)


def stdlib_sources() -> list[Path]:
    root = stdlib_root()
    found = [path for path in root.rglob("*") if is_stdlib_source(path, root)]
    return sorted(found, key=lambda path: path.relative_to(root).as_posix())


def package_sources() -> list[Path]:
    """The .py files of the installed DOC_PACKAGES outside test folders, found without importing them."""
    found = []
    for name in DOC_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise InputError(f"--corpus docs needs the {name} package installed: pip install {name}")
        root = Path(next(iter(spec.submodule_search_locations)))
        files = [path for path in root.rglob("*.py") if not set(path.relative_to(root).parts) & TEST_FOLDERS]
        found += sorted(files, key=lambda path: path.relative_to(root).as_posix())
    return found


def corpus_sources(args) -> list[Path]:
    """The files whose bytes decide the corpus: the fingerprint hashes them."""
    if args.text:
        return [Path(name) for name in args.text]
    if args.corpus == "pydoc":
        return [pydoc_topics_file()]
    return stdlib_sources() + (package_sources() if args.corpus == "docs" else [])


def pydoc_documents() -> list[str]:
    from pydoc_data.topics import topics

    return [topics[key] for key in sorted(topics)]


def docstrings_in_order(source: bytes) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # old escape sequences in stdlib sources warn on parse
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):  # deliberately broken test inputs ship with the stdlib
            return []
    documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    nodes = [node for node in ast.walk(tree) if isinstance(node, documented)]
    nodes.sort(key=lambda node: getattr(node, "lineno", 0))
    return [text for text in map(ast.get_docstring, nodes) if text]


def stdlib_documents(sources: list[Path]) -> list[str]:
    """pydoc topics, then per source file its docstrings not seen before, or its prose."""
    documents = pydoc_documents()
    seen_docstrings = set()
    for path in sources:
        if path.suffix == ".py":
            fresh = [text for text in docstrings_in_order(path.read_bytes()) if text not in seen_docstrings]
            seen_docstrings.update(fresh)
            documents.append("\n\n".join(fresh))
        else:
            documents.append(path.read_text(encoding="utf-8", errors="replace"))
    return documents


def text_documents(sources: list[Path]) -> list[str]:
    documents = []
    for path in sources:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise InputError(f"--text {path}: not UTF-8 text ({error.reason} at byte {error.start}): pass UTF-8 files")
        documents.extend(re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")))
    return documents


def unique_documents(documents: list[str]) -> list[str]:
    stripped = (document.strip("\n") for document in documents)
    return list(dict.fromkeys(document for document in stripped if document.strip()))


def corpus_documents(args, sources: list[Path]) -> list[str]:
    if args.text:
        return unique_documents(text_documents(sources))
    if args.corpus == "pydoc":
        return unique_documents(pydoc_documents())
    return unique_documents(stdlib_documents(sources))


def fingerprint(args, sources: list[Path]) -> str:
    settings = dict(
        format=STAMP_FORMAT,
        sentencepiece=spm.__version__,
        corpus="text" if args.text else args.corpus,
        vocab_size=args.vocab_size,
        val_fraction=args.val_fraction,
        val_max_bytes=args.val_max_bytes,
        shard_tokens=args.shard_tokens,
        tokenizer=TOKENIZER_SETTINGS,
    )
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for path in sources:
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError as error:
            raise InputError(f"cannot read {path} ({error.strerror}): pass existing, readable files")
    return digest.hexdigest()


def text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def split_documents(documents: list[str], val_fraction: float, val_max_bytes: int) -> tuple[list[str], list[str]]:
    """Validation takes documents in hash order while they fit the byte budget: stable and disjoint."""
    sizes = [len(document.encode()) for document in documents]
    budget = min(val_fraction * sum(sizes), val_max_bytes)
    order = sorted(range(len(documents)), key=lambda index: text_hash(documents[index]))
    val_indices, used = set(), 0
    for index in order:
        if used + sizes[index] <= budget:
            val_indices.add(index)
            used += sizes[index]
    train = [document for index, document in enumerate(documents) if index not in val_indices]
    val = [document for index, document in enumerate(documents) if index in val_indices]
    if not train or not val:
        raise InputError(
            f"corpus of {len(documents)} documents gives {len(train)} train and {len(val)} val documents: "
            "add text or raise --val-fraction / --val-max-bytes"
        )
    return train, val


def train_tokenizer(documents: list[str], vocab_size: int) -> bytes:
    lines = [line for document in documents for line in document.splitlines() if line.strip()]
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size, **TOKENIZER_SETTINGS
        )
    except RuntimeError as error:
        reason = str(error).split("] ")[-1]
        raise InputError(f"cannot train a {vocab_size}-token tokenizer on this corpus: {reason}") from None
    return model.getvalue()


def encode_documents(tokenizer: spm.SentencePieceProcessor, documents: list[str]) -> np.ndarray:
    bos = np.array([tokenizer.bos_id()], dtype=np.uint16)
    pieces = []
    for ids in tokenizer.encode(documents):
        pieces += [bos, np.asarray(ids, dtype=np.uint16)]
    return np.concatenate(pieces)


def clear_outputs(out: Path) -> None:
    (out / STAMP_NAME).unlink(missing_ok=True)
    for stale in [*out.glob("fineweb_train_*.bin"), *out.glob("fineweb_val_*.bin")]:
        stale.unlink()


def write_tokenizer(path: Path, model: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(model)
    os.replace(partial, path)


def write_shards(out: Path, train_tokens: np.ndarray, val_tokens: np.ndarray, shard_tokens: int) -> list[str]:
    names = []
    for index, start in enumerate(range(0, len(train_tokens), shard_tokens)):
        names.append(shard_name("train", index))
        write_shard(out / names[-1], train_tokens[start : start + shard_tokens])
    names.append(shard_name("val", 0))
    write_shard(out / names[-1], val_tokens)
    return names


def build(args, sources: list[Path], input_fingerprint: str) -> dict:
    out = args.out
    documents = corpus_documents(args, sources)
    train_documents, val_documents = split_documents(documents, args.val_fraction, args.val_max_bytes)
    model = train_tokenizer(train_documents, args.vocab_size)
    tokenizer = spm.SentencePieceProcessor(model_proto=model)
    train_tokens = encode_documents(tokenizer, train_documents)
    val_tokens = encode_documents(tokenizer, val_documents)
    out.mkdir(parents=True, exist_ok=True)
    clear_outputs(out)
    write_tokenizer(out / TOKENIZER_NAME, model)
    names = [TOKENIZER_NAME, *write_shards(out, train_tokens, val_tokens, args.shard_tokens)]
    summary = dict(
        out=str(out),
        corpus="text" if args.text else args.corpus,
        vocab_size=args.vocab_size,
        documents=dict(train=len(train_documents), val=len(val_documents)),
        tokens=dict(train=int(train_tokens.size), val=int(val_tokens.size)),
        files=names,
        fingerprint=input_fingerprint,
    )
    stamp = dict(summary, file_sizes={name: (out / name).stat().st_size for name in names})
    (out / STAMP_NAME).write_text(json.dumps(stamp, indent=2) + "\n")
    return summary


def up_to_date_summary(out: Path, expected_fingerprint: str) -> dict | None:
    """The stamped summary when the stamp matches and every file it lists is intact, else None."""
    try:
        stamp = json.loads((out / STAMP_NAME).read_text())
        if stamp["fingerprint"] != expected_fingerprint:
            return None
        if any((out / name).stat().st_size != size for name, size in stamp["file_sizes"].items()):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    stamp.pop("file_sizes")
    return dict(stamp, out=str(out))


def render(summary: dict) -> str:
    out = Path(summary["out"])
    documents, tokens = summary["documents"], summary["tokens"]
    state = "up to date" if summary["up_to_date"] else "written"
    return "\n".join([
        f"{state}: {out} (corpus {summary['corpus']}, vocab {summary['vocab_size']})",
        f"documents: train {documents['train']:,}  val {documents['val']:,}",
        f"tokens:    train {tokens['train']:,}  val {tokens['val']:,}",
        "files:     " + " ".join(summary["files"]),
        f"DATA_PATH={out} TOKENIZER_PATH={out / TOKENIZER_NAME}",
    ])


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder to write tokenizer.model and the shards into")
    parser.add_argument("--vocab-size", type=int, default=1024, help="exact tokenizer vocabulary size (default 1024)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--corpus", choices=("pydoc", "stdlib", "docs"), default="pydoc",
        help="text shipped with Python (and, for docs, numpy, scipy and torch) to use (default pydoc)"
    )
    source.add_argument(
        "--text", nargs="+", metavar="FILE",
        help="UTF-8 files to use instead, one document per blank-line-separated block"
    )
    parser.add_argument(
        "--val-fraction", type=float, default=0.1, help="share of corpus bytes for validation (default 0.1)"
    )
    parser.add_argument(
        "--val-max-bytes", type=int, default=100_000,
        help="cap on validation bytes, ~40k tokens at vocab 1024 (default 100000)"
    )
    parser.add_argument(
        "--shard-tokens", type=int, default=100_000_000, help="most tokens per train shard (default 100000000)"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if the stamp says up to date")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser.parse_args(argv)


def check_args(args) -> None:
    if not 1 <= args.vocab_size <= MAX_TOKEN_ID + 1:
        raise InputError(f"--vocab-size {args.vocab_size} does not fit uint16 shards: pass 1..{MAX_TOKEN_ID + 1}")
    if not 0 < args.val_fraction < 1:
        raise InputError(f"--val-fraction {args.val_fraction} is outside (0, 1): pass e.g. 0.1")
    if args.val_max_bytes < 1 or args.shard_tokens < 1:
        raise InputError(f"--val-max-bytes {args.val_max_bytes}, --shard-tokens {args.shard_tokens}: both must be > 0")


def make_smoke_data(args) -> dict:
    sources = corpus_sources(args)
    input_fingerprint = fingerprint(args, sources)
    stamped = None if args.force else up_to_date_summary(args.out, input_fingerprint)
    if stamped:
        return dict(stamped, up_to_date=True)
    return dict(build(args, sources, input_fingerprint), up_to_date=False)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        check_args(args)
        summary = make_smoke_data(args)
    except InputError as error:
        print(f"make_smoke_data: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"make_smoke_data: cannot write {error.filename or args.out}: {error.strerror}", file=sys.stderr)
        return 1
    print(json.dumps(summary) if args.json else render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
