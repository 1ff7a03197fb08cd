"""Read a submitted script the way the checks need it: its bytes on disk, and the source it really runs.

Packed submissions ship a short stub such as
`import lzma as L,base64 as B;exec(L.decompress(B.b85decode("...")))` (RULES §1, code
accounting (b); PR #1804 calls these "OBFUSCATED"). The checks must read the script inside, so
`decode_source` peels such wrappers. It never runs anything: it evaluates only constant data
found in the syntax tree (string and bytes literals, their concatenation, module-level names
bound to them, `.encode()`/`.decode()`, and a whitelist of decode and decompress calls matched
through the script's own import aliases). Decompression is incremental and capped, so a bomb
is refused before it is allocated.

`runtime_code_files` lists other code the script pulls in at run time (`exec(open(...))`,
local imports, C++ extensions, shared libraries), because those bytes count too (RULES §1).
"""
from __future__ import annotations

import ast
import base64
import binascii
import bz2
import codecs
import lzma
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from golf.findings import InputError

MAX_DECODED_BYTES = 32 * 1024 * 1024
MAX_LAYERS = 8
CODE_SUFFIXES = (".py", ".cpp", ".cc", ".cxx", ".c", ".h", ".hpp", ".cu", ".cuh", ".so", ".pyx")


class SourceError(Exception):
    """A wrapper that cannot be decoded safely: bad encoding, corrupt stream, bomb, too deep."""


@dataclass(frozen=True)
class DecodedSource:
    """A script as shipped (`raw_*`) and as it runs (`text`, `tree`), with the wrappers peeled."""

    raw_bytes: int
    raw_text: str
    text: str
    layers: tuple[str, ...]
    tree: ast.Module | None
    syntax_error: str | None

    @property
    def wrapped(self) -> bool:
        return bool(self.layers)


def decode_file(path: Path) -> DecodedSource:
    """Read and decode one script; InputError if the file cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from error
    return decode_source(data)


def decode_source(data: bytes) -> DecodedSource:
    """Peel every exec-of-decoded-literal wrapper, outermost first, and parse what is inside."""
    raw_text = data.decode("utf-8", errors="replace")
    text, layers = raw_text, []
    tree, error = _parse(text)
    while tree is not None:
        peeled = _peel(tree, text)
        if peeled is None:
            break
        if len(layers) == MAX_LAYERS:
            raise SourceError(f"more than {MAX_LAYERS} nested exec wrappers: refusing to go deeper")
        text, layer = peeled
        layers.append(layer)
        tree, error = _parse(text)
    return DecodedSource(len(data), raw_text, text, tuple(layers), tree, error)


def _parse(text: str) -> tuple[ast.Module | None, str | None]:
    try:
        return ast.parse(text.lstrip("\ufeff")), None
    except SyntaxError as error:
        try:
            return ast.parse(_requote_nested_fstrings(text.lstrip("\ufeff"))), None
        except SyntaxError as later_error:  # past the 3.12 f-strings: the script's own mistake
            return None, f"line {later_error.lineno}: {later_error.msg}"
        except (ValueError, RecursionError, MemoryError):
            return None, f"line {error.lineno}: {error.msg}"
    except ValueError as error:  # null bytes
        return None, str(error)
    except (RecursionError, MemoryError):
        return None, "nested too deeply for Python's parser"


# --- Python 3.12 f-strings on an older parser ---------------------------------------------------
# Records run on Python 3.12, whose f-strings may reuse their own quote inside a replacement
# field (PEP 701): f"{d["k"]}". Older parsers reject that, so before giving up we swap such
# inner literals to the other quote. Same length, same lines: evidence line numbers still hold.

_STRING_PREFIX = re.compile(r"(?<![A-Za-z0-9_])[rRbBuUfF]{1,2}$")


def _requote_nested_fstrings(text: str) -> str:
    out = list(text)
    i = 0
    while i < len(text):
        if text[i] == "#":
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
        elif text[i] in "'\"":
            i = _scan_string(text, out, i)
        else:
            i += 1
    return "".join(out)


def _scan_string(text: str, out: list[str], start: int) -> int:
    """Skip the literal opening at `start`, fixing its replacement fields; return the index after it."""
    match = _STRING_PREFIX.search(text, max(0, start - 2), start)
    prefix = match.group(0).lower() if match else ""
    quote = text[start] * 3 if text.startswith(text[start] * 3, start) else text[start]
    j = start + len(quote)
    while j < len(text):
        if text[j] == "\\" and "r" not in prefix:
            j += 2
        elif text.startswith(quote, j):
            return j + len(quote)
        elif text[j] == "{" and "f" in prefix:
            j = j + 2 if text.startswith("{{", j) else _scan_field(text, out, j + 1, quote)
        else:
            j += 1
    return len(text)


def _scan_field(text: str, out: list[str], j: int, outer_quote: str) -> int:
    depth = 1
    while j < len(text) and depth:
        if text[j] in "'\"":
            end = _scan_string(text, out, j)
            body = text[j + 1 : end - 1]
            other = "'" if text[j] == '"' else '"'
            if outer_quote == text[j] and other not in body:
                out[j] = out[end - 1] = other
            j = end
            continue
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
    return j


# --- peeling one layer -------------------------------------------------------------------------


def _peel(tree: ast.Module, text: str) -> tuple[str, str] | None:
    """Decode the payloads of every `exec`/`eval` whose argument is decodable constant data.

    A pure stub (no functions or classes) becomes its payload. A full script that also execs a
    packed blob keeps its own text, with the payload appended after a marker comment.
    """
    imports, candidates, defines = [], [], False
    for node in ast.walk(tree):   # one pass: most scripts have no exec of a constant, and stop here
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(node)
        elif isinstance(node, ast.Call) and node.args and _may_exec(node.func):
            candidates.append(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defines = True
    imported = {alias.asname or alias.name for node in imports for alias in node.names}
    candidates = [c for c in candidates if not isinstance(c.func, ast.Name) or c.func.id in imported | {"exec", "eval"}]
    if not candidates:
        return None
    evaluator = _ConstantEvaluator(tree, imports)
    payloads: list[tuple[str, str]] = []
    for node in candidates:
        if evaluator.is_exec(node.func):
            decoded = evaluator.decode(node.args[0])
            if decoded is not None:
                payloads.append(decoded)
    if not payloads:
        return None
    body = "\n".join(payload for payload, _ in payloads)
    layer = payloads[0][1]
    if defines:
        body = f"{text}\n# --- decoded from {layer} exec payload ---\n{body}"
    return body, layer


def _may_exec(func: ast.expr) -> bool:
    """`exec`, `eval`, an alias imported under another name, or `builtins.exec`: worth resolving."""
    if isinstance(func, ast.Attribute):
        return func.attr in {"exec", "eval"}
    return isinstance(func, ast.Name)


@dataclass(frozen=True)
class _Ref:
    """A module, function or constant named through the whitelist, e.g. "lzma.decompress"."""

    dotted: str


class _Unresolved(Exception):
    """The expression is not built from constants alone: not a wrapper."""


_MODULES = {"lzma", "zlib", "gzip", "bz2", "base64", "binascii", "codecs", "builtins", "importlib"}
_CONSTANT_PREFIXES = ("FORMAT_", "FILTER_", "PRESET_", "CHECK_", "MF_", "MODE_", "MAX_WBITS")


class _ConstantEvaluator:
    """Evaluate the tiny expression language that wrapper stubs are written in."""

    def __init__(self, tree: ast.Module, imports: list[ast.Import | ast.ImportFrom]):
        self.aliases: dict[str, _Ref] = {}
        self.bindings: dict[str, ast.expr] = {}
        self.star_modules: list[str] = []
        self.ops: list[str] = []
        self.resolving: set[str] = set()
        for node in imports:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    root = alias.name.split(".")[0]
                    self.aliases[alias.asname or root] = _Ref(alias.name if alias.asname else root)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    if alias.name == "*":
                        self.star_modules.append(node.module)
                    else:
                        self.aliases[alias.asname or alias.name] = _Ref(f"{node.module}.{alias.name}")
        for node in tree.body:
            for statement in _flatten(node):
                if isinstance(statement, ast.Assign):
                    for target in statement.targets:
                        if isinstance(target, ast.Name):
                            self.bindings[target.id] = statement.value

    def is_exec(self, func: ast.expr) -> bool:
        ref = self._ref(func)
        return ref is not None and ref.dotted in {"exec", "eval", "builtins.exec", "builtins.eval"}

    def decode(self, node: ast.expr) -> tuple[str, str] | None:
        """(payload text, layer name) if `node` decodes constant data, else None."""
        self.ops = []
        try:
            value = self._eval(node)
        except _Unresolved:
            return None
        except RecursionError:
            raise SourceError(f"line {node.lineno}: the exec wrapper's expression is nested too deeply to decode") from None
        except SourceError as error:
            raise SourceError(f"line {node.lineno}: {error}") from None
        except (ValueError, TypeError, LookupError, binascii.Error, lzma.LZMAError, zlib.error, OSError, EOFError) as error:
            layer = "+".join(reversed(self.ops)) or "exec"
            raise SourceError(
                f"line {node.lineno}: cannot decode the {layer} wrapper ({type(error).__name__}: {error}); "
                "the payload is corrupt or uses an encoding this checker does not know"
            ) from None
        if not self.ops or not isinstance(value, (str, bytes)):
            return None
        text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
        return text, "+".join(reversed(self.ops))

    # The evaluator proper. Anything outside the whitelist raises _Unresolved.

    def _ref(self, node: ast.expr) -> _Ref | None:
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            if node.id in self.bindings:
                return None
            if node.id in {"exec", "eval", "compile", "str", "bytes", "__import__", "bytearray"}:
                return _Ref(node.id)
            for module in self.star_modules:
                if module in _MODULES and hasattr(_module(module), node.id):
                    return _Ref(f"{module}.{node.id}")
            return None
        if isinstance(node, ast.Attribute):
            base = self._ref(node.value)
            if base is None and isinstance(node.value, ast.Call) and self._is_import(node.value):
                try:
                    value = self._eval(node.value)
                except _Unresolved:
                    return None
                base = value if isinstance(value, _Ref) else None
            return _Ref(f"{base.dotted}.{node.attr}") if base else None
        return None

    def _is_import(self, call: ast.Call) -> bool:
        ref = self._ref(call.func)
        return ref is not None and ref.dotted in {"__import__", "importlib.import_module"}

    def _eval(self, node: ast.expr):
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes, int, bool)):
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.BitOr)):
            left, right = self._eval(node.left), self._eval(node.right)
            if type(left) is not type(right):
                raise _Unresolved
            return left + right if isinstance(node.op, ast.Add) else left | right
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self._eval(item) for item in node.elts]
        if isinstance(node, ast.Dict):
            return {self._eval(key): self._eval(value) for key, value in zip(node.keys, node.values) if key}
        if isinstance(node, ast.Name) and node.id in self.bindings and node.id not in self.resolving:
            self.resolving.add(node.id)
            try:
                return self._eval(self.bindings[node.id])
            finally:
                self.resolving.discard(node.id)
        if isinstance(node, (ast.Name, ast.Attribute)):
            ref = self._ref(node)
            if ref is not None:
                return _constant(ref)
            if isinstance(node, ast.Attribute):
                return _Bound(self._eval(node.value), node.attr)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise _Unresolved

    def _call(self, node: ast.Call):
        if isinstance(node.func, ast.Attribute):
            func = self._eval(node.func)
        elif isinstance(node.func, ast.Name) and node.func.id in self.bindings and node.func.id not in self.aliases:
            func = self._eval(node.func)
        else:
            func = self._ref(node.func)
        args = [self._eval(arg) for arg in node.args]
        kwargs = {k.arg: self._eval(k.value) for k in node.keywords if k.arg}
        if isinstance(func, _Bound):
            return _method(func.value, func.name, args, kwargs)
        if not isinstance(func, _Ref):
            raise _Unresolved
        name = func.dotted
        if name in {"__import__", "importlib.import_module"} and args and args[0] in _MODULES:
            return _Ref(args[0])
        if name == "compile" and args:
            return args[0]
        if name in {"str", "bytes", "bytearray"}:
            if len(args) >= 2:
                return _method(args[0], "decode" if name == "str" else "encode", args[1:], {})
            raise _Unresolved
        if name in _DECODERS:
            op, function = _DECODERS[name]
            self.ops.append(op)
            return function(args, kwargs)
        if name == "codecs.decode" and args:
            return self._codecs(args[0], (args[1:] or [kwargs.get("encoding", "utf-8")])[0])
        raise _Unresolved

    def _codecs(self, data, encoding):
        encoding = str(encoding).lower().replace("-", "_")
        table = {"base64": "base64.b64decode", "base_64": "base64.b64decode", "base64_codec": "base64.b64decode",
                 "zlib": "zlib.decompress", "zip": "zlib.decompress", "zlib_codec": "zlib.decompress",
                 "bz2": "bz2.decompress", "bz2_codec": "bz2.decompress", "hex": "binascii.unhexlify",
                 "hex_codec": "binascii.unhexlify"}
        if encoding in table:
            op, function = _DECODERS[table[encoding]]
            self.ops.append(op)
            return function([data], {})
        if encoding in {"rot13", "rot_13"} and isinstance(data, str):
            self.ops.append("rot13")
            return codecs.decode(data, "rot13")
        return _method(data, "decode", [encoding], {})


@dataclass(frozen=True)
class _Bound:
    value: object
    name: str


def _flatten(node: ast.stmt):
    """Module-level statements, looking inside `if`/`try` blocks that stubs sometimes use."""
    yield node
    for field in ("body", "orelse", "finalbody"):
        if isinstance(node, (ast.If, ast.Try)):
            for child in getattr(node, field, []):
                yield from _flatten(child)


def _module(name: str):
    return {"lzma": lzma, "zlib": zlib, "bz2": bz2, "base64": base64, "binascii": binascii, "codecs": codecs}.get(name)


def _constant(ref: _Ref):
    module, _, attr = ref.dotted.rpartition(".")
    if module in {"lzma", "zlib"} and attr.startswith(_CONSTANT_PREFIXES):
        return getattr(_module(module), attr)
    return ref


def _method(value, name: str, args: list, kwargs: dict):
    if isinstance(value, bytes) and name == "decode":
        return value.decode(*(args[:1] or [kwargs.get("encoding", "utf-8")]), errors="replace")
    if isinstance(value, str) and name == "encode":
        return value.encode(*(args[:1] or [kwargs.get("encoding", "utf-8")]))
    if isinstance(value, (str, bytes)) and name in {"strip", "replace"} and all(isinstance(a, type(value)) for a in args):
        return getattr(value, name)(*args)
    raise _Unresolved


# --- capped decoders ---------------------------------------------------------------------------


def _as_bytes(value) -> bytes:
    if isinstance(value, str):
        return value.encode("ascii")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise _Unresolved


def _check_cap(size: int, what: str) -> None:
    if size > MAX_DECODED_BYTES:
        raise SourceError(
            f"{what} payload expands past the decoded size cap of {MAX_DECODED_BYTES // (1024 * 1024)} MiB "
            f"({MAX_DECODED_BYTES} bytes): refusing a possible decompression bomb"
        )


def _lzma(args: list, kwargs: dict) -> bytes:
    data = _as_bytes(args[0])
    fmt = args[1] if len(args) > 1 else kwargs.get("format", lzma.FORMAT_AUTO)
    filters = args[3] if len(args) > 3 else kwargs.get("filters")
    out = bytearray()
    while True:
        decompressor = lzma.LZMADecompressor(format=fmt, filters=filters)
        out += decompressor.decompress(data, max_length=MAX_DECODED_BYTES - len(out) + 1)
        _check_cap(len(out), "lzma")
        if not decompressor.eof:
            raise lzma.LZMAError("compressed data ended before the end-of-stream marker")
        data = decompressor.unused_data
        if not data or fmt == lzma.FORMAT_RAW:
            return bytes(out)


def _zlib_stream(data: bytes, wbits: int, what: str, multi: bool) -> bytes:
    out = bytearray()
    while True:
        decompressor = zlib.decompressobj(wbits)
        out += decompressor.decompress(data, MAX_DECODED_BYTES - len(out) + 1)
        _check_cap(len(out), what)
        if not decompressor.eof:
            raise zlib.error("incomplete or truncated stream")
        data = decompressor.unused_data.lstrip(b"\x00") if multi else b""
        if not data:
            return bytes(out)


def _zlib(args: list, kwargs: dict) -> bytes:
    wbits = args[1] if len(args) > 1 else kwargs.get("wbits", zlib.MAX_WBITS)
    return _zlib_stream(_as_bytes(args[0]), wbits, "zlib", multi=False)


def _gzip(args: list, kwargs: dict) -> bytes:
    return _zlib_stream(_as_bytes(args[0]), 16 + zlib.MAX_WBITS, "gzip", multi=True)


def _bz2(args: list, kwargs: dict) -> bytes:
    data, out = _as_bytes(args[0]), bytearray()
    while data:
        decompressor = bz2.BZ2Decompressor()
        out += decompressor.decompress(data, max_length=MAX_DECODED_BYTES - len(out) + 1)
        _check_cap(len(out), "bz2")
        if not decompressor.eof:
            raise OSError("bz2 stream ended before the end-of-stream marker")
        data = decompressor.unused_data
    return bytes(out)


def _plain(function):
    return lambda args, kwargs: function(_as_bytes(args[0]))


_DECODERS = {
    "lzma.decompress": ("lzma", _lzma),
    "zlib.decompress": ("zlib", _zlib),
    "gzip.decompress": ("gzip", _gzip),
    "bz2.decompress": ("bz2", _bz2),
    "base64.b85decode": ("b85", _plain(base64.b85decode)),
    "base64.a85decode": ("a85", _plain(base64.a85decode)),
    "base64.b64decode": ("b64", _plain(lambda b: base64.b64decode(b, validate=False))),
    "base64.standard_b64decode": ("b64", _plain(base64.standard_b64decode)),
    "base64.urlsafe_b64decode": ("b64", _plain(base64.urlsafe_b64decode)),
    "base64.decodebytes": ("b64", _plain(base64.decodebytes)),
    "base64.b32decode": ("b32", _plain(base64.b32decode)),
    "base64.b16decode": ("hex", _plain(base64.b16decode)),
    "binascii.a2b_base64": ("b64", _plain(binascii.a2b_base64)),
    "binascii.unhexlify": ("hex", _plain(binascii.unhexlify)),
    "binascii.a2b_hex": ("hex", _plain(binascii.a2b_hex)),
    "bytes.fromhex": ("hex", lambda args, kwargs: bytes.fromhex(args[0] if isinstance(args[0], str) else "")),
}


# --- other code the script runs ------------------------------------------------------------------

_LOADER_CALLS = {
    "open", "exec", "eval", "compile", "run_path", "run_module", "spec_from_file_location", "load", "load_inline",
    "CDLL", "PyDLL", "LoadLibrary", "load_library", "run", "Popen", "call", "check_call", "check_output",
    "system", "join", "Path", "read_text", "read_bytes", "source_from_cache", "import_module",
}


@lru_cache(maxsize=8)  # the artifact-size rule and the analysis both ask, for the same script
def runtime_code_files(source: DecodedSource, folder: Path, script: str | None = None) -> tuple[tuple[str, int, int], ...]:
    """Code beside the script that it imports, execs, compiles or loads at run time.

    Returns (path relative to `folder`, size in bytes, line in the decoded source), one row per
    file, for files that exist. Found: local `import x`/`from x import`, and `.py/.cpp/.cu/.so`
    paths named as constants inside `open`/`exec`/`compile`/`runpy`/`cpp_extension.load`/
    `ctypes.CDLL`/`subprocess`/`os.path.join`/`Path` calls. `script` (the scanned file's own
    name) is left out.
    """
    if source.tree is None:
        return ()
    folder = Path(folder)
    found: dict[str, tuple[int, int]] = {}

    def add(relative: str, line: int) -> None:
        root, path = folder.resolve(), (folder / relative).resolve()
        if root != path and root not in path.parents:
            return
        if path.is_file():
            files = [path]
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in CODE_SUFFIXES)
        else:
            files = []
        for file in files:
            name = file.relative_to(root).as_posix()
            if name != script and name not in found:
                found[name] = (file.stat().st_size, line)

    for node in ast.walk(source.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                _add_module(alias.name, folder, node.lineno, add)
        elif isinstance(node, ast.ImportFrom):
            if node.module:
                _add_module(node.module, folder, node.lineno, add)
            else:
                for alias in node.names:
                    _add_module(alias.name, folder, node.lineno, add)
        elif isinstance(node, ast.Call) and _call_name(node.func) in _LOADER_CALLS:
            for path in _constant_paths(node):
                add(path, node.lineno)
    return tuple(sorted((name, size, line) for name, (size, line) in found.items()))


def _add_module(dotted: str, folder: Path, line: int, add) -> None:
    parts = dotted.split(".")
    for depth in range(len(parts), 0, -1):
        stem = "/".join(parts[:depth])
        if (folder / f"{stem}.py").is_file():
            add(f"{stem}.py", line)
            return
        if (folder / stem).is_dir() and depth == 1:
            add(stem, line)
            return
    for suffix in (".so", ".pyd"):
        for library in [*folder.glob(f"{parts[0]}{suffix}"), *folder.glob(f"{parts[0]}.*{suffix}")]:
            add(library.name, line)


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


_PATHLIKE = re.compile(r"^[\w./\\-]+$")


def _constant_paths(call: ast.Call) -> list[str]:
    """Constant strings in the call that name code files, joining `os.path.join`/`/` pieces."""
    paths: list[str] = []
    for node in ast.walk(call):
        pieces: list[str] = []
        if isinstance(node, ast.Call) and _call_name(node.func) in {"join", "Path"}:
            pieces = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            pieces = [n.value for n in _div_chain(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            pieces = [node.value]
        candidate = "/".join(p.strip("/") for p in pieces if p)
        if candidate.endswith(CODE_SUFFIXES) and _PATHLIKE.match(candidate):
            paths.append(candidate)
    return paths


def _div_chain(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _div_chain(node.left) + _div_chain(node.right)
    return [node]
