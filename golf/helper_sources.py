"""C-family helper sources beside the script (n-gram kernels loaded through ctypes or
torch.utils.cpp_extension), read as text: nothing is compiled or run.

Public API:
    HELPER_SUFFIXES                         file suffixes read as C-family source
    loaded_helpers(files, python_texts)     helper files the folder's Python code names (`kernel.cpp`)
    target_gated_predictions(text)          [(line, function, message)] where the token at the
                                            predicted position reaches that position's prediction
    leaks_in_helpers(record)                the same over a record's loaded helpers, with file names

RULES C1: the distribution scored at position p may depend on the prefix only. A kernel that reads
the token at p itself (`tokens[p]`, a bare index) is reading the target; that is legal for the table
updates made after the prediction (`within_update(tok, ...)`), and a leak when the value reaches
the call that makes the prediction (`within_hint(is_boundary[tok], ...)`): then whether a hint
fires depends on the class of the token being predicted.
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath

HELPER_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".cu", ".h", ".hpp")
MAX_HELPER_BYTES = 2_000_000  # per file read; a kernel source is tens of KB
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_FUNCTION_HEAD = re.compile(r"\b(\w+)\s*\([^;{}()]*(?:\([^;{}()]*\)[^;{}()]*)*\)\s*(?:const\s*)?\{")
_NOT_FUNCTIONS = {"if", "for", "while", "switch", "catch", "return", "sizeof"}
_CURRENT_TOKEN = re.compile(r"\b\w*tok\w*\s*\[\s*[A-Za-z_]\w*\s*\]")  # tokens_[p], not tokens_[p - 1]
_ASSIGNMENT = re.compile(r"\b(\w+)\s*=(?!=)([^;]*);")
_CALLEE = re.compile(r"\b(\w+)\s*\(")
_PREDICTS = re.compile(r"hint|predict|prob|logit|score", re.IGNORECASE)
_UPDATES = re.compile(r"update|push|increment|insert|add|observe|record|count", re.IGNORECASE)


def leaks_in_helpers(record) -> list[tuple[str, int, str, str]]:
    """(file, line, function, message) for each leak in the helper sources a golf.record.Record's
    Python code loads (the decoded script and the other .py files in the folder)."""
    files = record.files
    python = [record.script.decoded.text] if record.script.decoded is not None else []
    python += [_read(files.root / name) for name in files.files if name.endswith(".py") and name != files.script]
    return [(name, line, function, message) for name in loaded_helpers(files.files, python)
            for line, function, message in target_gated_predictions(_read(files.root / name))]


def _read(path) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_HELPER_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def loaded_helpers(files: tuple[str, ...], python_texts: list[str]) -> list[str]:
    """The helper sources in `files` whose file name (`kernel.cpp`) the folder's Python code mentions."""
    code = "\n".join(python_texts)
    return [name for name in files if PurePosixPath(name).suffix.lower() in HELPER_SUFFIXES
            and re.search(rf"\b{re.escape(PurePosixPath(name).name)}\b", code)]


def target_gated_predictions(text: str) -> list[tuple[int, str, str]]:
    """Per function, follow values read at the current position into prediction calls."""
    source = _COMMENT.sub(lambda match: "\n" * match.group(0).count("\n"), text)
    hits = []
    for name, start, body in _functions(source):
        hits += [(start + offset, name, message) for offset, message in _leaks(body)]
    return hits


def _functions(source: str) -> list[tuple[str, int, str]]:
    """(name, first line, body text) of each top-level or member function, by brace matching."""
    found, position = [], 0
    while match := _FUNCTION_HEAD.search(source, position):
        end = _closing(source, match.end() - 1, "{", "}")
        if match.group(1) in _NOT_FUNCTIONS:
            position = match.end()
            continue
        found.append((match.group(1), source.count("\n", 0, match.end()) + 1, source[match.end():end]))
        position = end
    return found


def _closing(text: str, opening: int, open_char: str, close_char: str) -> int:
    """Index of the bracket that closes the one at `opening` (the end of the text if none does)."""
    depth = 0
    for index in range(opening, len(text)):
        depth += (text[index] == open_char) - (text[index] == close_char)
        if depth == 0:
            return index
    return len(text)


def _leaks(body: str) -> list[tuple[int, str]]:
    """(line offset, message) where a value derived from tokens[p] is an argument of a prediction call."""
    tainted: set[str] = set()
    leaks = []
    for offset, statement in _statements(body):
        for target, value in _ASSIGNMENT.findall(statement):
            if _CURRENT_TOKEN.search(value) or _mentions(value, tainted):
                tainted.add(target)
        for callee, arguments in _calls(statement):
            used = _mentions(arguments, tainted)
            if used and _PREDICTS.search(callee) and not _UPDATES.search(callee):
                leaks.append((offset, f"{callee}() gets {used}, read from the token at the predicted position"))
    return leaks


def _calls(statement: str) -> list[tuple[str, str]]:
    """(callee, argument text) of every call in the statement, nested ones included."""
    calls = []
    for match in _CALLEE.finditer(statement):
        if match.group(1) not in _NOT_FUNCTIONS:
            close = _closing(statement, match.end() - 1, "(", ")")
            calls.append((match.group(1), statement[match.end():close]))
    return calls


def _statements(body: str) -> list[tuple[int, str]]:
    """Statements split at ';' (each keeps its ';'), with the line offset where each ends."""
    statements, line, current = [], 0, ""
    for char in body:
        current += char
        line += char == "\n"
        if char == ";":
            statements.append((line, current.strip()))
            current = ""
    return statements


def _mentions(text: str, names: set[str]) -> str | None:
    return next((name for name in sorted(names) if re.search(rf"\b{re.escape(name)}\b", text)), None)
