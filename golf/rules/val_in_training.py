"""Validation data used for training or calibration (RULES E12, E13).

Catches a training loop whose loss depends on validation tokens (a loader built from
`fineweb_val_*` or `val_files`, `val_tokens` mixed into the batches), validation tensors
passed to calibration (GPTQ/AWQ/Hessian collection, found by name), and validation data run
through the model after `register_forward_hook` in a function that does not score it.
Calibration on training shards or on self-generated tokens (PR #1019) passes, and so does
periodic VAL_LOSS_EVERY monitoring.
"""
from __future__ import annotations

from golf.analysis import Hit, Unanalysable, VAL, verdict
from golf.findings import FAIL, Finding
from golf.rules.severity import both_policies

ID = "val_in_training"
SEVERITY = both_policies(fail="validation data in a training loss or calibration", warn="never")
CITES = "RULES.md §4 E12, E13"


def check(context) -> list[Finding]:
    analysis = context.analysis
    if isinstance(analysis, Unanalysable):
        return [analysis.finding(ID)]
    hits = []
    for event in analysis.kind("BW", VAL):
        read = analysis.in_training_loop(event)
        if read is not None:
            hits.append(Hit(FAIL, f"the training loop in {event.func.name}() backpropagates a loss on "
                                  "validation data", (event, read)))
    for event in analysis.kind("CALIB"):
        hits.append(Hit(FAIL, f"{event.what}() is fed validation data (E13: calibrate on training data or "
                              "self-generated tokens)", (event,)))
    for function in analysis.program.functions:
        hooks = sorted((e for e in function.events if e.kind == "HOOK"), key=lambda e: e.line)
        scores = any(e.kind == "ACC" and e.flags & VAL for e in function.events)
        uses = [e for e in function.events if e.kind == "VALUSE" and hooks and e.line > hooks[0].line
                and not any(id(c) in analysis.has_score for c in e.callees)]
        if uses and not scores:
            hits.append(Hit(FAIL, f"forward hooks in {function.name}() collect activation statistics while "
                                  f"validation data runs through the model ({uses[0].what}, E13)", (uses[0], hooks[0])))
    return [verdict(analysis, ID, hits, "validation data reaches neither training nor calibration")]
