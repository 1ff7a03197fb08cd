"""Cross-document leakage: a one-token lookback (SmearGate) that does not mask BOS (RULES E14).

Catches a gate that mixes the previous position's state into each position, such as
`x[:, 1:] + g * x[:, :-1]` or `F.pad(x[:, :-1], (0, 0, 1, 0)) * w`, where no mask made by
comparing token ids with a constant (`ids[:, 1:] != BOS_ID`, `(ids == 1)` into `masked_fill`)
reaches the product: in a packed stream the last token of document N then reaches the BOS of
document N+1. The ruling dates from the late-April audit of
PR #1797, the first submission held to it: a record dated on or after it FAILs, an earlier one
(merged without the mask) WARNs. Token-id hashes with constant multipliers (BigramHash, E8) are
not lookbacks of this kind.
"""
from __future__ import annotations

import ast
import datetime

from golf.analysis import Hit, Unanalysable, names_in, own_nodes, verdict
from golf.findings import FAIL, WARN, Finding
from golf.rules.severity import both_policies

ID = "cross_document_leak"
SEVERITY = both_policies(
    fail="a live lookback without a BOS mask, dated on or after the ruling",
    warn="the same, dated before the ruling",
)
CITES = "RULES.md §4 E14"
RULING = datetime.date(2026, 4, 24)   # the cocohearts audit applied it to PR #1797, opened that day


def check(context) -> list[Finding]:
    analysis = context.analysis
    if isinstance(analysis, Unanalysable):
        return [analysis.finding(ID)]
    date = getattr(context, "date", None)
    enforced = date is None or date >= RULING
    when = f"dated {date}" if date else "undated"
    status = FAIL if enforced else WARN
    ruling = (f"{when}, on or after the {RULING} ruling" if enforced
              else f"{when}, before the {RULING} ruling: accepted then, masked BOS required since")
    hits = [Hit(status, f"one-token lookback in {function.name}() mixes position t-1 into t without masking BOS, "
                        f"so each document's last token leaks into the next document (E14); {ruling}",
                (analysis.site(function, node, "LOOKBACK"),))
            for function in analysis.program.functions
            for node in _lookbacks(function) if not _masked(function, node)]
    return [verdict(analysis, ID, hits, "no one-token lookback without a BOS mask")]


def _lookbacks(function):
    """Products of a gate and the previous position's state, one per line."""
    slices = {n.lineno for n in own_nodes(function) if isinstance(n, ast.Subscript) and _previous_slice(n)}
    if not slices:
        return []
    shifted = {target.id for node in own_nodes(function) if isinstance(node, ast.Assign)
               and any(node.lineno <= line <= (node.end_lineno or node.lineno) for line in slices)
               for target in node.targets if isinstance(target, ast.Name)}
    lines = {}
    for node in own_nodes(function):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            operands = (node.left, node.right)
            if any(isinstance(o, ast.Constant) for o in operands):
                continue
            if any(_previous(o, shifted) for o in operands):
                lines.setdefault(node.lineno, node)
    return sorted(lines.values(), key=lambda n: n.lineno)


def _previous(node: ast.expr, shifted: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in shifted
    return _previous_slice(node) or (isinstance(node, ast.Call)
                                     and any(_previous_slice(argument) for argument in node.args))


def _previous_slice(node: ast.AST) -> bool:
    """`x[:, :-1]`: every position but the last along the sequence axis."""
    if not isinstance(node, ast.Subscript) or not isinstance(node.slice, ast.Tuple) or len(node.slice.elts) < 2:
        return False
    first, second = node.slice.elts[:2]
    return (isinstance(first, ast.Slice) and first.lower is None and first.upper is None
            and isinstance(second, ast.Slice) and second.lower is None and second.step is None
            and isinstance(second.upper, ast.UnaryOp) and isinstance(second.upper.op, ast.USub)
            and getattr(second.upper.operand, "value", None) == 1)


def _masked(function, product: ast.BinOp) -> bool:
    """A comparison of token ids with a constant (a BOS mask) flows into the lookback product, or
    into what the product is assigned to, within the function."""
    statement = _statement_of(function, product)
    if statement is not None and _compares_ids(statement):
        return True
    written = {n.id for t in getattr(statement, "targets", []) for n in ast.walk(t) if isinstance(n, ast.Name)}
    uses = {target for target, read in function.defs.items() if read & written} - written
    related = function.reaching(names_in(product)) | uses
    return any(_compares_ids(node) for node in own_nodes(function) if isinstance(node, (ast.Assign, ast.AugAssign))
               and related & {n.id for t in _targets(node) for n in ast.walk(t) if isinstance(n, ast.Name)})


def _statement_of(function, node: ast.AST) -> ast.stmt | None:
    candidates = [s for s in own_nodes(function) if isinstance(s, ast.stmt) and not isinstance(s, ast.FunctionDef)
                  and s.lineno <= node.lineno <= (s.end_lineno or s.lineno) and not hasattr(s, "body")]
    return min(candidates, key=lambda s: (s.end_lineno or s.lineno) - s.lineno, default=None)


def _targets(node: ast.Assign | ast.AugAssign) -> list[ast.expr]:
    return node.targets if isinstance(node, ast.Assign) else [node.target]


def _compares_ids(node: ast.AST) -> bool:
    """`ids[:, 1:] != 1`, `x == BOS_ID`: an equality test against a constant or a plain name."""
    return any(isinstance(n, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq)) for op in n.ops)
               and any(isinstance(c, (ast.Constant, ast.Name, ast.Attribute)) and not isinstance(c, ast.Constant)
                       or (isinstance(c, ast.Constant) and isinstance(c.value, int)) for c in n.comparators)
               and isinstance(n.left, (ast.Subscript, ast.Name))
               for n in ast.walk(node))
