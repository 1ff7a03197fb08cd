"""Pre-eval TTT: optimizer steps on validation tokens before they are scored (RULES E2, E3).

Catches a fine-tune over `val_tokens` (`ttt_adapt`, "pre-quant TTT", PRs #152, #672, #1376)
whose model is then evaluated, and multi-epoch per-document TTT that scores a document only
on its last epoch, after earlier epochs trained on it (valerio-oai on PR #568). Fails under
both policies. Score-first TTT (E1) is not reported here.
"""
from __future__ import annotations

from golf.analysis import Hit, PATTERN_TEXT, Unanalysable, verdict
from golf.findings import FAIL, Finding
from golf.rules.severity import both_policies

ID = "pre_eval_ttt"
SEVERITY = both_policies(fail="training on validation tokens before they are scored", warn="never")
CITES = "RULES.md §4 E2, E3"


def check(context) -> list[Finding]:
    analysis = context.analysis
    if isinstance(analysis, Unanalysable):
        return [analysis.finding(ID)]
    hits = [Hit(FAIL, f"{PATTERN_TEXT[pattern]} in {event.func.name}()", (event, *events))
            for event, pattern, events in analysis.ttt_sites() if pattern != "E1"]
    return [verdict(analysis, ID, hits, "no training on validation tokens before they are scored")]
