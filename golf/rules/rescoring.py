"""Rescoring: validation tokens scored again after the model or a cache learned from them.

Catches a second scoring pass after score-first TTT (reporting "s_1", RULES E4, PR #991), a
two-pass n-gram cache that scores, fills the cache from the validation stream and rescores
(E5, PRs #846/#870), and a value chosen for its score on validation tokens (a temperature kept
when `loss < best_loss`) fed into a later scoring pass. A temperature fitted on training tokens,
per-token probabilities reused by a single blend, and passes on opposite branches of one switch
pass. C4 allows one left-to-right pass with each token scored once.
"""
from __future__ import annotations

import ast
import re

from golf.analysis import (Analysis, Event, Function, Hit, TTT_MARKERS, Unanalysable, VAL,
                          common_loops, exclusive, is_score, name_flags, verdict)
from golf.findings import FAIL, Finding
from golf.rules.severity import both_policies

ID = "rescoring"
SEVERITY = both_policies(fail="validation tokens scored again after the model or a cache learned them", warn="never")
CITES = "RULES.md §4 E4, E5"
# Progress lines of a second pass; any n-gram line would also show a live single-pass cache.
RESCORE_MARKERS = r"two_pass|rescor|pass ?2\b|second pass"


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
            fitted = {t for t in fit.targets if not is_score(t) and not name_flags(t) & VAL}
            for later in [s for s in scores if s.line > fit.line and s.kind == "CALL" and s.names & fitted]:
                hits.append(Hit(FAIL, f"{', '.join(sorted(fitted & later.names))} is fitted by scoring validation "
                                      f"tokens ({fit.what}) and then used to score them again", (fit, later)))
    markers = f"{TTT_MARKERS}|{RESCORE_MARKERS}"
    return [verdict(analysis, ID, hits, "each validation token is scored once", markers)]


def _changes(analysis: Analysis, function: Function) -> list[Event]:
    """Events after which the model or a cache knows tokens that were already scored."""
    changes = []
    scores = analysis.scores_in(function)
    for event in function.events:
        if analysis.is_ttt(event) and any(common_loops(s, event) and s.line < event.line for s in scores):
            changes.append(event)
        elif event.kind == "UPD" and event.flags & VAL and any(common_loops(s, event) for s in scores):
            changes.append(event)
        elif event.kind == "CALL" and any(id(c) in analysis.has_train and id(c) in analysis.has_score
                                          for c in event.callees):
            changes.append(event)
        elif (event.kind == "CALL" and event.flags & VAL and any(id(c) in analysis.has_update for c in event.callees)
              and any(s.line < event.line and not common_loops(s, event) for s in scores)):
            changes.append(event)  # pass 1 scored, then a cache is built from the validation tokens
    return changes


def _shares_state(change: Event, score: Event) -> bool:
    if change.kind == "UPD":
        scope = score.loops[0] if score.loops else None
        read = set(score.names) | ({n.id for n in ast.walk(scope) if isinstance(n, ast.Name)}
                                   | {n.attr for n in ast.walk(scope) if isinstance(n, ast.Attribute)} if scope else set())
        return change.what in read
    if change.kind == "CALL" and score.kind == "CALL":
        ignore = re.compile(r"^(args|h|hp|hparams|cfg|config|device|rank|world_size|local_rank|log\w*|sp|tokenizer|"
                            r"grad_accum_steps|\w*lut\w*|\w*bytes\w*|is_boundary\w*|\w*leading_space\w*|stride|"
                            r"\w*seq_len|\w*batch\w*|\w*_(tokens|files)|torch|F|np|math)$")
        shared = {n for n in change.names & score.names if not ignore.match(n) and not name_flags(n) & VAL}
        return bool(shared)
    return True


def _describe_change(analysis: Analysis, event: Event) -> str:
    if event.kind == "UPD":
        return f"cache {event.what} is filled from scored validation tokens (E5)"
    if event.kind == "CALL" and event.what and not any(id(c) in analysis.has_train for c in event.callees):
        return f"{event.what}() fills a cache from the validation tokens already scored (E5)"
    if event.kind == "CALL":
        return f"{event.what}() scores and trains on validation tokens (E4)"
    return "the model trains on validation chunks after scoring them (E4)"
