"""Complete logs back every reported seed; 3 distinct seeds on the record track; honest run counts.

A log that ends without a final metric line (crashed, cut) is a FAIL naming the seed when
submission.json reports that seed or lists none: the claim has no score behind it; an
unreported extra run that is incomplete is a WARN. No complete seed at all on the record track
is a FAIL. One or two complete seeds is a WARN: the README says three runs are usually enough,
and merged records were accepted with one or two (early records, PR #1851 with a third-party
rerun) (README "Submission Process" item 3, RULES.md §3). Repeated seeds, more training runs
than reported, and a README that mentions more runs than reported are warnings (best-of-N
selection must be disclosed, RULES.md §3, §7). Log-like files with no seed and no training
steps (notes, summaries) are not counted as runs (INFO).
Example: `WARN 1 complete seed (1337); the record track asks for 3`.
"""
from __future__ import annotations

import re

from golf.facts import MIN_RECORD_SEEDS, final_evidence, plural, seed_list, where
from golf.findings import FAIL, INFO, PASS, WARN, Finding
from golf.rules.severity import both_policies

ID = "seeds"
SEVERITY = both_policies(
    fail="a reported seed's log has no final score; no complete seed",
    warn="fewer than 3 complete seeds; repeated seeds; more runs than reported",
)
CITES = "RULES.md §3, §7"
RUN_COUNT_IN_TEXT = re.compile(r"\b(\d{1,2})\s+(?:seeds|runs|training runs)\b", re.IGNORECASE)


def check(context) -> list[Finding]:
    record, scored = context.record, context.scored
    findings = _incomplete(context)
    if context.record_track and len(scored) < MIN_RECORD_SEEDS:
        status = FAIL if not scored else WARN
        findings.append(Finding(ID, status, f"{plural(len(scored), 'complete seed')} ({seed_list(scored) or 'none'}); "
                                            f"the record track asks for {MIN_RECORD_SEEDS}"))
    findings += _run_count_warnings(context)
    if not findings:
        message = f"{plural(len(scored), 'seed')} with complete logs: {seed_list(scored)}"
        findings.append(Finding(ID, PASS if context.record_track else INFO, message, final_evidence(scored)))
    if record.not_runs:
        findings.append(Finding(ID, INFO, "not counted as runs (no seed, no training steps): "
                                          f"{', '.join(log.name for log in record.not_runs)}"))
    return findings


def _incomplete(context) -> list[Finding]:
    """Seeds whose log has no usable final line: FAIL when reported, WARN for an unreported extra run."""
    listed, findings = set(context.record.submission.listed_seeds), []
    for row in context.record.seeds:
        if row.complete:
            continue
        log, final = row.score_log, row.final
        reported = not listed or row.seed in listed or len(context.scored) < MIN_RECORD_SEEDS
        if final is None:
            message = (f"seed {row.seed}: {log.name} ends at line {log.run.line_count} without a final metric line "
                       "(crashed, cut, or still running)")
            evidence = (where(log, log.run.line_count),)
        else:
            message = f"seed {row.seed}: the final line scores val_loss {final.val_loss} val_bpb {final.val_bpb}"
            evidence = (where(log, final.line),)
        findings.append(Finding(ID, FAIL if reported else WARN, message, evidence))
    return findings


def _run_count_warnings(context) -> list[Finding]:
    record, findings = context.record, []
    for row in record.seeds:
        if row.extra_logs:
            names = [log.name for log in (row.train_log, *row.extra_logs)]
            findings.append(Finding(ID, WARN, f"seed {row.seed} was trained {len(names)} times: {', '.join(names)}",
                                    tuple(names)))
    listed, name = record.submission.listed_seeds, record.submission.name
    if len(set(listed)) < len(listed):
        findings.append(Finding(ID, WARN, f"{name} lists a seed twice: {', '.join(listed)}", (name,)))
    runs = sum(1 + len(row.extra_logs) for row in record.seeds if row.train_log is not None)
    reported = len(set(listed)) or len(context.scored)
    if listed and runs > reported:
        findings.append(Finding(ID, WARN, f"{runs} training runs in the logs, {reported} reported in {name}: "
                                          "disclose how the reported runs were chosen"))
    mentioned = [int(match.group(1)) for match in RUN_COUNT_IN_TEXT.finditer(record.readme_text)]
    if mentioned and max(mentioned) > max(reported, runs):
        findings.append(Finding(ID, WARN, f"{record.files.readme} mentions {max(mentioned)} seeds/runs, "
                                          f"{reported} are reported", (record.files.readme,)))
    return findings
