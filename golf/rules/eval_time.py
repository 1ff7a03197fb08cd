"""Every seed's scoring passes take at most 600 s, on top of training (record track).

The evaluation time is `total_eval_time`, else the sum of the `eval_time:` of the
non-diagnostic passes (quantized round trip, sliding window, TTT), which the budget covers when
the score chains them (RULES.md §2; PR #1514 records them summed). Over 600 s is a FAIL naming
the seed; a sum over 600 s whose scoring pass alone fits is a WARN (passes that do not feed the
score may not count). A TTT compile warmup logged outside the total that would push it over is
a WARN (flagged in PR #1530, accepted in PR #1855). No eval time in a log is a WARN; the
non-record track is INFO.
Example: `FAIL seed 314: eval 612.4 s > 600 s`.
"""
from __future__ import annotations

from golf.facts import where
from golf.findings import FAIL, INFO, PASS, WARN, Finding
from golf.logs import matches_claim
from golf.rules.severity import both_policies

ID = "eval_time"
SEVERITY = both_policies(
    fail="a seed's scoring passes over 600 s",
    warn="only the sum of passes, or a TTT compile warmup, goes over; no eval time logged",
)
CITES = "RULES.md §2"
EVAL_LIMIT_MS = 600_000


def check(context) -> list[Finding]:
    findings, times, missing, warmups = [], [], [], []
    for row in context.scored:
        run = row.score_log.run
        if run.eval_time_ms is None:
            missing.append(row.seed)
            continue
        evidence = tuple(where(row.score_log, line) for line in run.eval_time_lines[:4])
        times.append((run.eval_time_ms, row, evidence))
        warmup = run.ttt_warmup_s.value * 1000 if run.ttt_warmup_s else 0.0
        if context.record_track and run.eval_time_ms > EVAL_LIMIT_MS:
            findings.append(_overrun(row, evidence))
        elif context.record_track and run.eval_time_ms + warmup > EVAL_LIMIT_MS:
            warmups.append((row, run.eval_time_ms, warmup))
    if warmups:
        findings.append(_warmup_finding(warmups))
    if missing:
        findings.append(Finding(ID, WARN if context.record_track else INFO, f"no eval time in the log of seed "
                                f"{', '.join(missing)} (eval_time or total_eval_time lines)"))
    longest, row, evidence = max(times, key=lambda item: item[0], default=(0.0, None, ()))
    if times and (longest <= EVAL_LIMIT_MS or not context.record_track):
        message = f"eval {longest / 1000:,.1f} s{' ≤ 600 s' * context.record_track}, longest of {len(times)}: seed {row.seed}"
        findings.insert(0, Finding(ID, PASS if context.record_track else INFO, message, evidence))
    return findings


def _warmup_finding(warmups: list) -> Finding:
    figures = "; ".join(f"seed {row.seed} {eval_ms / 1000:.1f} s + {warmup / 1000:.1f} s = "
                        f"{(eval_ms + warmup) / 1000:.1f} s" for row, eval_ms, warmup in warmups)
    message = (f"a TTT compile warmup logged outside the eval total would take it past 600 s: {figures} "
               "(flagged in PR #1530, accepted in PR #1855)")
    evidence = tuple(where(row.score_log, row.score_log.run.ttt_warmup_s.line) for row, _, _ in warmups)
    return Finding(ID, WARN, message, evidence)


def _overrun(row, evidence: tuple[str, ...]) -> Finding:
    """Over 600 s: a FAIL, unless the time is a sum of passes and the scoring pass alone fits (WARN)."""
    run, final = row.score_log.run, row.final
    summed = any(metric.line in run.eval_time_lines for metric in run.metric_lines)
    message = f"seed {row.seed}: eval {run.eval_time_ms / 1000:,.1f} s > 600 s"
    # The pass that printed the score: the final line's label, or the line it aliases (PR #549 lineage).
    scoring = next((metric for metric in reversed(run.metric_lines)
                    if metric.eval_time_ms is not None and not metric.diagnostic
                    and (metric.label == final.label or matches_claim(metric, final.val_bpb))), None)
    if not summed or scoring is None or scoring.eval_time_ms > EVAL_LIMIT_MS:
        return Finding(ID, FAIL, message, evidence)
    return Finding(ID, WARN, f"{message} summed over {len(run.eval_time_lines)} passes; the scoring pass "
                             f"({scoring.label}) alone takes {scoring.eval_time_ms / 1000:,.1f} s", evidence)
