"""The log lines a script's format strings can produce, as patterns to find in its logs (RULES E8).

A path counts as run when a line that only its own print sites produce appears in a log: an
f-string `f"slot:start steps={n}"`, a `"...{}".format(...)`, a `"... %d" % x`. Each site becomes
a template, its literal text kept and each formatted field a wildcard that never starts with
`{` or `%` (so the script's own source, which logs often open with, does not match itself).
Sites with less than MIN_LITERAL characters of literal text say too little to count.

Public API:
    Template                  a site: line, skeleton (literal text with fields as `{}`), pattern
    templates(nodes)          the templates among some syntax-tree nodes
    found_in(templates, text) the first template with a line in `text`, or None
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

MIN_LITERAL = 10
_FIELD = r"(?![{%])[^\n]*?"
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\d+|\*)?(?:\.\d+)?[sdifeEgGxXrcoa%]")
_BRACES = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class Template:
    """One format string's log line: its skeleton for comparison, its regular expression for search."""

    line: int
    skeleton: str
    pattern: str


def templates(nodes) -> list[Template]:
    """Templates of the f-strings and format strings among `nodes` (each site once)."""
    found = {}
    for node in nodes:
        parts = _parts(node)
        if parts is None:
            continue
        literal = "".join(part for part in parts if part is not None)
        if len(literal.strip()) < MIN_LITERAL or None not in parts:
            continue
        skeleton = "".join("{}" if part is None else part for part in parts)
        pattern = "".join(_FIELD if part is None else re.escape(part) for part in parts)
        found.setdefault((node.lineno, skeleton), Template(node.lineno, skeleton, pattern))
    return list(found.values())


def found_in(candidates: list[Template], text: str) -> Template | None:
    """The first template that matches a line of `text`."""
    for template in candidates:
        if re.search(template.pattern, text):
            return template
    return None


def _parts(node: ast.AST) -> list[str | None] | None:
    """Literal pieces and fields (None) of a format site, or None when `node` is none."""
    if isinstance(node, ast.JoinedStr):
        return [value.value if isinstance(value, ast.Constant) else None for value in node.values
                if not (isinstance(value, ast.Constant) and value.value == "")]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str)):
        return _split(node.func.value.value, _BRACES)
    if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)):
        return _split(node.left.value, _PERCENT)
    return None


def _split(text: str, field: re.Pattern) -> list[str | None]:
    parts: list[str | None] = []
    position = 0
    for match in field.finditer(text):
        parts += [text[position:match.start()], None]
        position = match.end()
    parts.append(text[position:])
    return [part for part in parts if part != ""]
