"""Rescoring: validation tokens scored again after the model or a cache learned from them.

Catches a scoring pass after the model or a cache learned the tokens it scores: a second pass
after score-first TTT (reporting "s_1", RULES E4, PR #991); a count table filled from the
validation stream outside the loop that scores (a two-pass n-gram cache that fills and rescores,
E5, PRs #846/#870), then read by a later score; and a value chosen for its score on validation
tokens (a temperature kept when `loss < best_loss`) fed into a later scoring pass. "Scores" are
losses on validation tokens that reach the reported line or the caller; "later" is program
order. A cache updated after each chunk is scored in the same loop, a temperature fitted on
training tokens, and passes on opposite branches of one switch pass. C4 allows one left-to-right
pass with each token scored once.
"""
from __future__ import annotations

import ast

from golf.analysis import (CNT, HOLD, VAL, Analysis, Event, Function, Hit, Unanalysable, common_loops, exclusive,
                           names_in, verdict)
from golf.findings import FAIL, Finding
from golf.rules.severity import both_policies

ID = "rescoring"
SEVERITY = both_policies(fail="validation tokens scored again after the model or a cache learned them", warn="never")
CITES = "RULES.md §4 E4, E5"


def check(context) -> list[Finding]:
    analysis = context.analysis
    if isinstance(analysis, Unanalysable):
        return [analysis.finding(ID)]
    hits = []
    for function in analysis.program.functions:
        scores = analysis.scores_in(function)
        for change in _changes(analysis, function):
            later = [s for s in scores if s.line > change.line and not common_loops(s, change) and s is not change
                     and not exclusive(s, change) and _shares_state(change, s)]
            if later:
                hits.append(Hit(FAIL, f"{_describe_change(analysis, change)}, then scored again at line "
                                      f"{later[0].line} in {function.name}()", (change, later[0])))
        for fit in [s for s in scores if s.kind == "CALL" and s.targets and s.flags & VAL
                    and any(id(c) in analysis.has_selection for c in s.callees)]:
            fitted = set(fit.targets)
            for later in [s for s in scores if s.line > fit.line and s.kind == "CALL" and s.names & fitted]:
                hits.append(Hit(FAIL, f"{', '.join(sorted(fitted & later.names))} is fitted by scoring validation "
                                      f"tokens ({fit.what}) and then used to score them again", (fit, later)))
    return [verdict(analysis, ID, hits, "each validation token is scored once")]


def _changes(analysis: Analysis, function: Function) -> list[Event]:
    """Events after which the model or a cache knows validation tokens that a later pass scores."""
    changes = []
    scores = analysis.scores_in(function)
    for event in function.events:
        if analysis.is_ttt(event) and any(common_loops(s, event) and s.line < event.line for s in scores):
            changes.append(event)   # score-first TTT: the model has learned every chunk it scored
        elif event.kind == "UPD" and event.flags & VAL:
            changes.append(event)   # a count table filled from validation tokens
        elif event.kind == "CALL" and any(id(c) in analysis.has_train and id(c) in analysis.has_score
                                          for c in event.callees):
            changes.append(event)
        elif event.kind == "CALL" and event.flags & VAL and any(id(c) in analysis.has_update for c in event.callees):
            changes.append(event)   # a cache built from the validation tokens
    return changes


def _shares_state(change: Event, score: Event) -> bool:
    """The later score reads what the change wrote: the cache it filled, or the object its callee trained or filled."""
    if change.kind == "UPD":
        scope = score.loops[0] if score.loops else None
        read = set(score.names) | ({n.id for n in ast.walk(scope) if isinstance(n, ast.Name)}
                                   | {n.attr for n in ast.walk(scope) if isinstance(n, ast.Attribute)} if scope else set())
        return change.what in read
    if change.kind == "CALL" and score.kind == "CALL":
        return bool(_changed_arguments(change) & score.names)
    return True


def _changed_arguments(call: Event, seen: set[int] | None = None) -> set[str]:
    """Roots of the arguments whose parameters the callees train (an optimizer over them) or write into."""
    seen = set() if seen is None else seen
    node = call.node
    roots = set()
    for callee in call.callees:
        changed = _changed_params(callee, seen)
        offset = 1 if callee.is_method and isinstance(node.func, ast.Attribute) else 0
        if offset and callee.params and callee.params[0] in changed:
            roots.add(_root_name(node.func.value))
        for i, argument in enumerate(node.args):
            if i + offset < len(callee.params) and callee.params[i + offset] in changed:
                roots.add(_root_name(argument))
        roots |= {_root_name(k.value) for k in node.keywords if k.arg in changed}
    return roots - {None}


def _changed_params(function: Function, seen: set[int]) -> set[str]:
    if id(function) in seen:
        return set()
    seen.add(id(function))
    params = set(function.params)
    changed = {name for name, flags in function.mutates.items() if name in params and flags & (VAL | CNT | HOLD)}
    for event in function.events:
        if event.kind == "OPT" and event.node.args:   # the optimizer's parameters, traced to where they come from
            changed |= function.reaching(names_in(event.node.args[0])) & params
        elif event.kind == "CALL":
            changed |= _changed_arguments(event, seen) & params
    return changed


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _describe_change(analysis: Analysis, event: Event) -> str:
    if event.kind == "UPD":
        return f"cache {event.what} is filled from scored validation tokens (E5)"
    if event.kind == "CALL" and event.what and not any(id(c) in analysis.has_train for c in event.callees):
        return f"{event.what}() fills a cache from the validation tokens already scored (E5)"
    if event.kind == "CALL":
        return f"{event.what}() scores and trains on validation tokens (E4)"
    return "the model trains on validation chunks after scoring them (E4)"
