"""Unnormalised scoring: a byte-level mixture that is no distribution over the vocabulary (RULES C2, E11).

Catches the PPM-D shape: a per-token log-probability (a value that flows from a loss or
log-softmax) divided by the byte length of the token's piece (a value that flows from
`len(piece.encode())`), spreading it over bytes (`rep_lp / rep_len`, `-nll[i] / nb`), and, in the
same function, a convex mixture with other predictions (`lam * exp(nn) + (1 - lam) * exp(ppm)`);
or the same two steps in C source the script compiles at run time (`-nll / (double)nb`,
`log(exp(a) + exp(c))`). The mixed per-byte probabilities do not come from a normalised
distribution over the token vocabulary, so the BPB they give is no cross-entropy (C2; issue
#1872, PR #1902 excluded PRs #1835, #1850, #1854, #1858). A causal token-level tilt that is
renormalised (E7) passes. Code gated off that no run enables and no log shows running is INFO.
"""
from __future__ import annotations

import ast
import dataclasses
import re

from golf.analysis import Hit, Unanalysable, own_nodes, verdict
from golf.findings import FAIL, Finding
from golf.rules.severity import both_policies

ID = "normalization"
SEVERITY = both_policies(fail="a live byte-level mixture of token and byte predictions", warn="never")
CITES = "RULES.md §4 C2, E11"
C_SPREAD = re.compile(r"(?:n?lp|logp\w*|nll\w*)\s*(?:\[[^\]]*\])?\s*/\s*(?:\(\s*double\s*\)\s*)?(?:nb|len|n_?bytes)\b")
C_MIX = re.compile(r"log\s*\(\s*exp\s*\([^;]*\)\s*\+\s*exp\s*\(|\(\s*1(?:\.0)?\s*-\s*(\w+)\s*\)\s*\*")


def check(context) -> list[Finding]:
    analysis = context.analysis
    if isinstance(analysis, Unanalysable):
        return [analysis.finding(ID)]
    hits = []
    for function in analysis.program.functions:
        for spread, mix in _python_mixtures(function) + _compiled_mixtures(function):
            events = tuple(dataclasses.replace(analysis.site(function, node, "BYTEMIX"), line=line) for node, line in
                           (spread, mix))
            hits.append(Hit(FAIL, f"{function.name}() spreads token log-probabilities over bytes (line "
                                  f"{spread[1]}) and mixes them with byte-level predictions (line {mix[1]}): "
                                  "the scored probability is not a normalised distribution over the vocabulary "
                                  "(C2, E11)", events))
    clean = "every scored probability comes from a distribution over the vocabulary"
    return [verdict(analysis, ID, hits, clean)]


def _python_mixtures(function) -> list[tuple]:
    spreads = [e.node for e in function.events if e.kind == "SPREAD"]
    mixes = [n for n in own_nodes(function) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add)
             and _convex(n)]
    if spreads and mixes:
        spread, mix = min(spreads, key=lambda n: n.lineno), min(mixes, key=lambda n: n.lineno)
        return [((spread, spread.lineno), (mix, mix.lineno))]
    return []


def _compiled_mixtures(function) -> list[tuple]:
    """C or C++ source held in a string constant and compiled at run time."""
    found = []
    for node in own_nodes(function):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) > 200:
            spread, mix = C_SPREAD.search(node.value), C_MIX.search(node.value)
            if spread and mix:
                found.append(((node, node.lineno + node.value.count("\n", 0, spread.start())),
                              (node, node.lineno + node.value.count("\n", 0, mix.start()))))
    return found


def _convex(node: ast.BinOp) -> bool:
    """`w * x + (1 - w) * y`: a mixing weight and its complement."""
    terms = [t for t in (node.left, node.right) if isinstance(t, ast.BinOp) and isinstance(t.op, ast.Mult)]
    if len(terms) != 2:
        return False
    weights = {ast.dump(f) for f in (terms[0].left, terms[0].right)}
    return any(isinstance(f, ast.BinOp) and isinstance(f.op, ast.Sub) and isinstance(f.left, ast.Constant)
               and f.left.value == 1 and ast.dump(f.right) in weights for f in (terms[1].left, terms[1].right))
