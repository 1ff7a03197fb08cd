"""Which metric line is each seed's score, and why (INFO, one line per seed).

RULES.md §6: drop diagnostic and `step:` lines, take the last remaining metric line and prefer
its `_exact` twin; scores from an eval-only rerun log are named as such. Other rules
(submission_json, eval_time, bpb_bytes) judge the line this one reports.
Example: `INFO seed 42: val_bpb 1.22509229 val_loss 2.06851204 from train_seed42.log; last ...`.
"""
from __future__ import annotations

from golf.facts import where
from golf.findings import INFO, Finding
from golf.rules.severity import both_policies

ID = "final_line"
SEVERITY = both_policies(fail="never", warn="never")
CITES = "RULES.md §6"


def check(context) -> list[Finding]:
    findings = []
    for row in context.scored:
        final, log = row.final, row.score_log
        rerun = " (eval-only rerun)" if row.train_log is not None and log is not row.train_log else ""
        message = (f"seed {row.seed}: val_bpb {final.val_bpb} val_loss {final.val_loss} from {log.name}{rerun}; "
                   f"{log.run.final_reason}")
        findings.append(Finding(ID, INFO, message, (where(log, final.line),)))
    return findings
