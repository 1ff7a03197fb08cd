"""Test-time training: a backward pass or optimizer step on validation data during evaluation.

Catches `loss.backward()` where the loss is computed from validation tokens (data flow from
`val_tokens`, `fineweb_val_*`), outside the training loop. Strict policy: any such TTT fails.
Competition policy: only score-first TTT passes (RULES E1, merged PR #549): each chunk is
scored and added to the loss sum before the optimizer steps on it. Everything else fails.
Example that fails under both: `for ep in range(E): loss = model(val_x, val_y); loss.backward()`
followed by `eval_val(...)`.
"""
from __future__ import annotations

from golf.analysis import Hit, PATTERN_TEXT, Unanalysable, common_loops, verdict
from golf.findings import FAIL, PASS, Finding

ID = "ttt"
SEVERITY = {
    "competition": {"FAIL": "TTT that is not score-first", "WARN": "never"},
    "strict": {"FAIL": "any backward pass or optimizer step on validation data", "WARN": "never"},
}
CITES = "RULES.md §4 E1-E3"


def check(context) -> list[Finding]:
    analysis = context.analysis
    if isinstance(analysis, Unanalysable):
        return [analysis.finding(ID)]
    hits = []
    for event, pattern, events in analysis.ttt_sites():
        steps = [e for e in event.func.events if e.kind == "STEP" and common_loops(e, event)][:1]
        events = (*events, *steps)
        legal = pattern == "E1"
        status = FAIL if analysis.policy == "strict" or not legal else PASS
        nograd = " under no_grad/inference_mode" if legal and events[0].nograd else ""
        why = " (strict policy: no test-time training of any kind)" if analysis.policy == "strict" and legal else ""
        hits.append(Hit(status, f"{PATTERN_TEXT[pattern]}{nograd} in {event.func.name}(){why}", (event, *events)))
    return [verdict(analysis, ID, hits, "no backward pass or optimizer step on validation data")]
