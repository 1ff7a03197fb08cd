"""Training data read during evaluation (README FAQ; RULES §1 and E12).

Catches reads of training shards (`train_files`, `fineweb_train_*`, the training loader)
inside functions that score validation tokens, or after the artifact has been written.
Statistics of training data are legal only if they are stored in the artifact and counted
against 16 MB, so this is a warning for a human to confirm. Calibration on training data
before the artifact is written is a time-budget question, not this rule.
"""
from __future__ import annotations

from golf.analysis import Hit, TRAIN, Unanalysable, VAL, common_loops, verdict
from golf.findings import WARN, Finding
from golf.rules.severity import both_policies

ID = "train_data_in_eval"
SEVERITY = both_policies(fail="never", warn="training data read while scoring or after the artifact is written")
CITES = "RULES.md §4 E12"


def check(context) -> list[Finding]:
    analysis = context.analysis
    if isinstance(analysis, Unanalysable):
        return [analysis.finding(ID)]
    hits = []
    for function in analysis.program.functions:
        trainer = any(e.kind == "BW" and analysis.in_training_loop(e) for e in function.events)
        direct_scores = [e for e in function.events if e.kind == "ACC" and e.flags & VAL and not trainer]
        serials = [e for e in function.events if e.kind == "SERIAL"
                   or (e.kind == "CALL" and any(id(c) in analysis.has_serial for c in e.callees))]
        last = max(serials, key=lambda e: e.line, default=None)
        reads = sorted((e for e in function.events if (e.kind == "TREAD" and e.own & TRAIN) or (
            e.kind == "CALL" and any(id(c) in analysis.has_train_read for c in e.callees))), key=lambda e: e.line)
        in_scoring = [e for e in reads if e.kind == "TREAD"] if direct_scores else []
        after_artifact = [e for e in reads if last and e.line > last.line and not common_loops(e, last)]
        if in_scoring:
            hits.append(Hit(WARN, f"{function.name}() scores validation tokens and reads training data "
                                  f"({in_scoring[0].what})", (in_scoring[0], direct_scores[0])))
        elif after_artifact:
            hits.append(Hit(WARN, f"training data is read ({after_artifact[0].what}) after the artifact is "
                                  f"written at line {last.line}", (after_artifact[0], last)))
    return [verdict(analysis, ID, hits, "no training data is read during evaluation")]
