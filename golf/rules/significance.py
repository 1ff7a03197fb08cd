"""With --sota, the record beats the SOTA by 0.005 nats at p < 0.01, and the frontier p-value.

Written rule (README "Submission Process" item 1): a one-sided one-sample t-test of the
per-seed val_loss (nats) against SOTA_nats − 0.005 at p < 0.01, plus a one-sided Welch t-test
at p < 0.01 when the SOTA's per-seed values are known (--sota RECORD_DIR). Maintainers' final
rule (RULES.md §3, PRs #1900/#1902/#2146): one-sided Welch p < 0.25 against the previous record;
with only a SOTA BPB it is approximated by a one-sample test against the SOTA mean. PASS when
the written rule holds, WARN when only the frontier rule does, FAIL when neither (the row would
be left off the leaderboard). The gap is reported in bpb, in per-token nats through this run's
val_loss/val_bpb ratio, and in nats per byte. Without --sota: WARN, not checked. Fewer than 3
seeds: WARN (`seeds` reports repeated seeds and undisclosed runs).
Example: `PASS mean 1.224382 vs SOTA 1.232429 bpb (...): gap -0.00805 bpb = -0.01359 nats/token ...`.
"""
from __future__ import annotations

import math

from golf import stats
from golf.facts import MIN_RECORD_SEEDS, final_evidence, mean, plural
from golf.findings import FAIL, INFO, PASS, WARN, Finding
from golf.rules.severity import both_policies

ID = "significance"
SEVERITY = both_policies(
    fail="with --sota: neither the written rule nor the frontier rule (Welch p < 0.25) holds",
    warn="only the frontier rule holds; no --sota; fewer than 3 seeds",
)
CITES = "RULES.md §3"


def check(context) -> list[Finding]:
    if not context.record_track:
        return [Finding(ID, INFO, "non-record track: no significance test")]
    figures = significance_figures(context)
    if not figures:
        return [Finding(ID, WARN, "not checked: no seed has a final score")]
    few = []
    if figures["n"] < MIN_RECORD_SEEDS:
        few = [Finding(ID, WARN, f"only {plural(figures['n'], 'seed')}; p-values from fewer than 3 runs are weak")]
    if "sota" not in figures:
        return [Finding(ID, WARN, f"not checked: pass --sota BPB or --sota RECORD_DIR (mean "
                                  f"{figures['mean_val_bpb']:.6f} bpb over {figures['n']} seeds)")] + few
    written, welch, frontier = figures["written_rule"], figures["welch_written"], figures["frontier_rule"]
    passed = bool(written["passed"]) and (welch is None or bool(welch["passed"]))
    status = PASS if passed else WARN if frontier["passed"] else FAIL
    sota = figures["sota"]
    message = (f"mean {figures['mean_val_bpb']:.6f} vs SOTA {sota['val_bpb']:.6f} bpb ({sota['source']}): "
               f"gap {figures['gap_bpb']:+.5f} bpb = {figures['gap_nats_per_token']:+.5f} nats/token "
               f"(ratio {figures['nats_per_bpb']:.4f}) = {figures['gap_nats_per_byte']:+.5f} nats/byte; "
               f"written rule (0.005 nats, p < 0.01): {_test_text(written)}")
    if welch:
        message += f"; Welch p < 0.01: {_test_text(welch)}"
    approximated = "" if welch else ", approximated from the SOTA mean"
    frontier_message = (f"frontier rule (one-sided Welch p < 0.25 vs previous record{approximated}): "
                        f"{_test_text(frontier)} -> {'passes' if frontier['passed'] else 'fails'}")
    return [Finding(ID, status, message, final_evidence(context.scored)),
            Finding(ID, INFO, frontier_message)] + few


def significance_figures(context) -> dict:
    """Mean, spread and, with a SOTA, both significance tests and the gap in bpb and nats (RecordResult.stats)."""
    rows = context.scored
    if not rows:
        return {}
    losses, bpbs = [row.final.val_loss for row in rows], [row.final.val_bpb for row in rows]
    mean_loss, std_loss = stats.mean_std(losses)
    mean_bpb, std_bpb = stats.mean_std(bpbs)
    ratio = stats.nats_per_bpb(mean_loss, mean_bpb)
    figures = {"n": len(rows), "seeds": [row.seed for row in rows], "mean_val_bpb": mean_bpb,
               "std_val_bpb": std_bpb, "mean_val_loss": mean_loss, "std_val_loss": std_loss, "nats_per_bpb": ratio}
    sota = context.sota
    if sota is None:
        return figures
    # Per-token nats are not comparable across tokenizers: bring the SOTA through this run's ratio.
    sota_nats = [bpb * ratio for bpb in sota.val_bpbs] or [sota.val_bpb * ratio]
    gap = mean_bpb - sota.val_bpb
    written = stats.one_sample_vs_sota(losses, mean(sota_nats))
    welch = stats.welch_vs_previous(losses, sota_nats, stats.WRITTEN_RULE_ALPHA) if len(sota_nats) > 1 else None
    if len(sota_nats) > 1:
        frontier = stats.welch_vs_previous(losses, sota_nats, stats.FRONTIER_ALPHA)
    else:
        frontier = stats.one_sample_vs_sota(losses, sota_nats[0], margin_nats=0.0, alpha=stats.FRONTIER_ALPHA)
    figures.update(
        sota={"source": sota.label, "val_bpb": sota.val_bpb, "val_loss_nats": mean(sota_nats), "n": len(sota.val_bpbs)},
        gap_bpb=gap, gap_nats_per_token=stats.bpb_gap_to_nats(gap, ratio),
        gap_nats_per_byte=stats.bpb_gap_to_nats_per_byte(gap), written_rule=_test_json(written),
        welch_written=_test_json(welch) if welch else None, frontier_rule=_test_json(frontier))
    return figures


def _test_json(result: stats.TestResult) -> dict:
    def clean(value):
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else value

    return {"test": result.name, "t": clean(result.t), "df": clean(result.df), "p": clean(result.p), "n": result.n,
            "threshold": clean(result.threshold), "passed": result.passed, "detail": result.detail}


def _test_text(result: dict) -> str:
    if result["p"] is None:
        return f"not computable ({result['detail']})"
    t = "n/a" if result["t"] is None else f"{result['t']:.2f}"
    df = "n/a" if result["df"] is None else f"{result['df']:.2f}"
    return f"t={t} df={df} p={result['p']:.4g}"
