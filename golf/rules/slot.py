"""SLOT/ETLB: eval-time deltas or logit biases optimised on a window, then that window scored.

Catches tensors created with `requires_grad=True` (or `nn.Parameter`, `.requires_grad_()`)
inside an evaluation function, optimised against a loss on validation tokens, and then used
for the score of those tokens (RULES E9, E10; PR #1229 closed, C3). The word "slot" or a
`__slots__` declaration alone is not reported.
"""
from __future__ import annotations

from golf.analysis import Hit, Unanalysable, VAL, verdict
from golf.findings import FAIL, Finding
from golf.rules.severity import both_policies

ID = "slot"
SEVERITY = both_policies(fail="eval-time parameters optimised on the positions then scored", warn="never")
CITES = "RULES.md §4 E9, E10"


def check(context) -> list[Finding]:
    analysis = context.analysis
    if isinstance(analysis, Unanalysable):
        return [analysis.finding(ID)]
    hits = []
    for event in analysis.events:
        if event.kind == "BW" and event.flags & VAL and analysis.is_slot(event):
            scored = [s for s in analysis.scores_in(event.func) if s.line > event.line]
            params = [e for e in event.func.events if e.kind == "PARAM"]
            if scored:
                names = ", ".join(sorted(event.func.trainable))
                hits.append(Hit(FAIL, f"{names} optimised on validation tokens in {event.func.name}() and then "
                                      "used to score them (E9/E10)", (event, *params[:1], scored[0])))
    return [verdict(analysis, ID, hits, "no eval-time parameters optimised on scored positions")]
