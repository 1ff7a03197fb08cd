"""The script parses, its wrappers decode safely, and the logs ran this very script.

Compressed `exec` wrappers (lzma/zlib/gzip/bz2 of base85/base64 literals, nested, minified) are
decoded by golf.source without executing anything, under a size cap. FAIL when the script is
empty, cannot be read, does not parse, or is a decompression bomb: a script that does not run
is rejected (README item 4, RULES.md §7). Where a log embeds the script's source (baseline logs
print it first) and it differs from the folder's script, raw or decoded, it is a WARN naming the
first differing line: merged records often ship a log from an earlier version of the script
(RULES.md §6). A log that embeds another file of the folder (an eval script) is INFO; one that
differs only in comments or blank lines, or whose `Code size:` differs from the bytes on disk, is
a WARN.
Example: `WARN train.log embeds a different script than train_gpt.py (first difference at line
57; 1,195 vs 1,126 lines): the logs came from another version`.
"""
from __future__ import annotations

import sys

from golf.facts import byte_count, where
from golf.findings import FAIL, INFO, PASS, WARN, Finding
from golf.rules.severity import both_policies

ID = "code"
SEVERITY = both_policies(
    fail="script empty, unreadable, does not parse, or a decompression bomb",
    warn="a log embeds another version of the script; Code size differs from disk",
)
CITES = "RULES.md §6, §7"
OTHER_SCRIPT_MAX_BYTES = 2_000_000


def check(context) -> list[Finding]:
    script = context.record.script
    if script.name is None:
        return [Finding(ID, INFO, "not checked: no training script in the folder")]
    if script.error or script.decoded is None:
        return [Finding(ID, FAIL, f"{script.name}: {script.error}", (script.name,))]
    decoded = script.decoded
    if not script.size:
        return [Finding(ID, FAIL, f"{script.name} is empty", (script.name,))]
    if decoded.syntax_error:
        return [_syntax_error(script)]
    figure = f"{script.name} parses: {byte_count(script.size)} on disk, {decoded.text.count(chr(10)) + 1:,} lines"
    if decoded.layers:
        figure += f"; decoded {' then '.join(decoded.layers)} wrapper to {byte_count(len(decoded.text.encode('utf-8')))}"
    return [Finding(ID, PASS, figure, (script.name,))] + _embedded_source(context) + _logged_code_size(context)


def _syntax_error(script) -> Finding:
    decoded = script.decoded
    after = f" after decoding {'+'.join(decoded.layers)}" if decoded.layers else ""
    message = f"{script.name} does not parse{after}: {decoded.syntax_error}"
    if "f-string" in decoded.syntax_error and sys.version_info < (3, 12):  # PEP 701 f-strings need 3.12
        return Finding(ID, WARN, f"{message} (under Python {sys.version.split()[0]}; records run on 3.12, whose "
                                 "f-strings allow this: check with Python 3.12)", (script.name,))
    return Finding(ID, FAIL, message, (script.name,))


def _normalised(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").lstrip("\ufeff").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _embedded_source(context) -> list[Finding]:
    """Compare the source each log embeds with the shipped script; one finding per kind of difference."""
    decoded, name = context.record.script.decoded, context.record.script.name
    shipped = [_normalised(decoded.raw_text), _normalised(decoded.text)]
    differing = [(log, embedded) for log in context.record.logs
                 if (embedded := _normalised(log.run.embedded_source or "")) and embedded not in shipped]
    others = _other_scripts(context) if differing else {}
    groups: dict[tuple, list] = {}
    for log, embedded in differing:
        groups.setdefault(_difference(embedded, shipped[0], others), []).append(log)
    return [_difference_finding(key, logs, name, len(shipped[0])) for key, logs in groups.items()]


def _difference(embedded: list[str], shipped: list[str], others: dict[str, list[str]]) -> tuple:
    other = next((other for other, lines in others.items() if lines == embedded), None)
    if other:
        return ("other", other)
    if _code_lines(embedded) == _code_lines(shipped):
        return ("layout",)
    first = next((i for i, (a, b) in enumerate(zip(embedded, shipped), start=1) if a != b),
                 min(len(embedded), len(shipped)) + 1)
    return ("different", first, len(embedded))


def _code_lines(lines: list[str]) -> list[str]:
    """The lines with blank lines, whole-line comments and indentation-only changes left out."""
    stripped = (line.strip() for line in lines)
    return [line for line in stripped if line and not line.startswith("#")]


def _difference_finding(key: tuple, logs: list, name: str, shipped_lines: int) -> Finding:
    names, verb = ", ".join(log.name for log in logs), "embeds" if len(logs) == 1 else "embed"
    if key[0] == "other":
        return Finding(ID, INFO, f"{names} {verb} {key[1]}, not {name}", (*(log.name for log in logs), key[1]))
    if key[0] == "layout":
        return Finding(ID, WARN, f"{names} {verb} a version of {name} that differs only in comments or blank lines",
                       (*(log.name for log in logs), name))
    _, first, lines = key
    message = (f"{names} {verb} a different script than {name} (first difference at line {first}; "
               f"{lines:,} vs {shipped_lines:,} lines): the logs came from another version")
    return Finding(ID, WARN, message, (*(where(log, first) for log in logs), f"{name}:{first}"))


def _other_scripts(context) -> dict[str, list[str]]:
    """Other top-level .py files (eval scripts, helpers), normalised, for logs that embed one of them."""
    files = context.record.files
    names = [name for name in files.files if name.endswith(".py") and "/" not in name and name != files.script
             and files.sizes[name] < OTHER_SCRIPT_MAX_BYTES]
    return {name: _normalised((files.root / name).read_bytes().decode("utf-8", "replace")) for name in names}


def _logged_code_size(context) -> list[Finding]:
    script = context.record.script
    sizes = {script.size, len(script.decoded.text.encode("utf-8"))}
    off = [log for log in context.record.logs if log.run.code_bytes and log.run.code_bytes.value not in sizes]
    if not off:
        return []
    figures = ", ".join(f"{value:,}" for value in sorted({log.run.code_bytes.value for log in off}))
    return [Finding(ID, WARN, f"logs state Code size {figures} B; {script.name} is {script.size:,} B on disk "
                              "(the runs used another version of the script?)",
                    tuple(where(log, log.run.code_bytes.line) for log in off))]
