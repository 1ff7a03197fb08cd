"""Significance tests and unit conversions shared by every tool (RULES.md §3 and §5).

Public API:
    TestResult                      one test's statistic, p-value and verdict
    one_sample_vs_sota(values, sota, margin, alpha)   written rule: mean < SOTA - margin
    welch_vs_previous(new, previous, alpha)           frontier rule: mean(new) < mean(previous)
    paired_test(a, b, alternative, alpha)             ablations: per-seed differences a - b
    mean_std(values)                -> (mean, sample standard deviation)
    nats_per_bpb(val_loss, val_bpb) the run's own nats-per-token / bits-per-byte ratio
    bpb_gap_to_nats(gap_bpb, ratio) a BPB gap in per-token nats, through that ratio
    bpb_gap_to_nats_per_byte(gap_bpb)  a BPB gap in nats per byte (gap * ln 2)
    implied_val_bytes(val_tokens, val_loss, val_bpb)  scored validation bytes a log implies
    val_bytes_plausible(implied_bytes)  within VAL_BYTES_TOLERANCE of CANONICAL_VAL_BYTES
    RECORD_MARGIN_NATS, WRITTEN_RULE_ALPHA, FRONTIER_ALPHA, CANONICAL_VAL_BYTES, VAL_BYTES_TOLERANCE

Sign convention: t is (mean - reference) / standard error, as scipy computes it, so an
improvement (lower loss) gives a negative t. Records sometimes quote the magnitude only
(t = 9.06 for the 2026-03-19 one-sample test); the p-value is the same.

Degenerate inputs never raise. Fewer than two values (per group) gives t, df and p of nan,
passed None and a detail that says why. Values with zero spread make the standard error zero:
the statistic is then decided by the sign alone, t = -inf with p = 0 when the mean is below
the reference, t = +inf with p = 1 when above, and t = nan with p = 1 when equal (no evidence
of improvement).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

RECORD_MARGIN_NATS = 0.005
WRITTEN_RULE_ALPHA = 0.01
FRONTIER_ALPHA = 0.25

# Scored validation bytes inferred from every canonical tokenisation in main (SP1024, SP4096,
# SP8192, CaseOps, byte-level) land on 151.07-151.08 M. val_tokens is cut to a multiple of
# seq_len (about 0.05 %), so 0.1 % separates honest runs from LUT bugs (157 M, 176 M: 4 %+).
CANONICAL_VAL_BYTES = 151_080_000
VAL_BYTES_TOLERANCE = 0.001

ALTERNATIVES = ("two-sided", "less", "greater")


@dataclass(frozen=True)
class TestResult:
    """One test: statistic, degrees of freedom, p-value, and the verdict at the given alpha.

    `threshold` is the reference the mean was tested against (SOTA - margin, or the previous
    mean, or 0 for paired differences); `passed` is None when no alpha was given or the test
    could not be computed.
    """

    __test__ = False  # not a pytest test class, despite the name

    name: str
    t: float
    df: float
    p: float
    n: int
    mean: float
    passed: bool | None
    threshold: float | None
    detail: str


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample (ddof=1) standard deviation; nan where there are too few values."""
    mean = statistics.fmean(values) if values else math.nan
    std = statistics.stdev(values) if len(values) >= 2 else math.nan
    return mean, std


def one_sample_vs_sota(
    val_losses_nats: list[float],
    sota_nats: float,
    margin_nats: float = RECORD_MARGIN_NATS,
    alpha: float = WRITTEN_RULE_ALPHA,
) -> TestResult:
    """Written record rule: is the mean per-seed loss below SOTA - margin? One-sided, one-sample t-test.

    The function is unit-agnostic: early records tested BPB values against SOTA - 0.005 BPB.
    """
    name = "one-sample t-test vs SOTA - margin"
    threshold = sota_nats - margin_nats
    problem = _too_few(val_losses_nats, 2, "values")
    if problem:
        return _undefined(name, val_losses_nats, threshold, problem)
    return _one_sample(name, val_losses_nats, threshold, "less", alpha)


def welch_vs_previous(new: list[float], previous: list[float], alpha: float) -> TestResult:
    """Is mean(new) below mean(previous)? One-sided Welch t-test (unequal variances).

    Use alpha 0.01 for the written rule, 0.25 for the maintainers' chronological frontier.
    """
    name = "Welch t-test vs previous record"
    threshold = statistics.fmean(previous) if previous else None
    problem = _too_few(new, 2, "new values") or _too_few(previous, 2, "previous values")
    if problem:
        return _undefined(name, new, threshold, problem)
    mean_new = statistics.fmean(new)
    detail = f"n={len(new)} vs n={len(previous)}, mean {mean_new:.6f} vs {threshold:.6f}"
    if _zero_spread_values(new) and _zero_spread_values(previous):
        t, p = _zero_spread(mean_new, threshold, "less")
        return TestResult(name, t, math.nan, p, len(new), mean_new, p < alpha, threshold,
                          detail + "; both groups have zero spread")
    from scipy import stats as scipy_stats  # a second to import: only when a test runs

    result = scipy_stats.ttest_ind(new, previous, equal_var=False, alternative="less")
    p = float(result.pvalue)
    return TestResult(name, float(result.statistic), float(result.df), p, len(new), mean_new,
                      p < alpha, threshold, detail)


def paired_test(
    a: list[float], b: list[float], alternative: str = "two-sided", alpha: float | None = None
) -> TestResult:
    """Paired t-test on per-seed differences a - b (ablations run on the same seeds).

    `alternative` is "two-sided", "less" (a below b) or "greater"; `passed` is set only when
    `alpha` is given.
    """
    name = f"paired t-test ({alternative})"
    if alternative not in ALTERNATIVES:
        return _undefined(name, [], 0.0, f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    if len(a) != len(b):
        return _undefined(name, [], 0.0, f"pairs need equal lengths: a has {len(a)} values, b has {len(b)}")
    differences = [x - y for x, y in zip(a, b)]
    problem = _too_few(differences, 2, "pairs")
    if problem:
        return _undefined(name, differences, 0.0, problem)
    return _one_sample(name, differences, 0.0, alternative, alpha)


def nats_per_bpb(val_loss: float, val_bpb: float) -> float:
    """The run's own ratio of per-token nats to bits per byte (SP1024 about 1.689)."""
    return val_loss / val_bpb


def bpb_gap_to_nats(gap_bpb: float, ratio: float) -> float:
    """A BPB gap in per-token nats through a run's nats_per_bpb ratio, as records report it."""
    return gap_bpb * ratio


def bpb_gap_to_nats_per_byte(gap_bpb: float) -> float:
    """A BPB gap in nats per byte; comparable across tokenizers, unlike per-token nats."""
    return gap_bpb * math.log(2)


def implied_val_bytes(val_tokens: int, val_loss: float, val_bpb: float) -> float:
    """Scored validation bytes implied by a log: val_tokens / (ln 2 * val_bpb / val_loss)."""
    return val_tokens / (math.log(2) * val_bpb / val_loss)


def val_bytes_plausible(implied_bytes: float, tolerance: float = VAL_BYTES_TOLERANCE) -> bool:
    """True when implied bytes are within `tolerance` (relative) of CANONICAL_VAL_BYTES."""
    return abs(implied_bytes / CANONICAL_VAL_BYTES - 1) <= tolerance


def _one_sample(name: str, values: list[float], reference: float, alternative: str,
                alpha: float | None) -> TestResult:
    mean = statistics.fmean(values)
    detail = f"n={len(values)}, mean {mean:.6f} vs {reference:.6f}"
    if _zero_spread_values(values):
        t, p = _zero_spread(mean, reference, alternative)
        detail += "; all values equal (zero spread)"
    else:
        from scipy import stats as scipy_stats  # a second to import: only when a test runs

        result = scipy_stats.ttest_1samp(values, reference, alternative=alternative)
        t, p = float(result.statistic), float(result.pvalue)
    passed = None if alpha is None else p < alpha
    return TestResult(name, t, float(len(values) - 1), p, len(values), mean, passed, reference, detail)


def _zero_spread_values(values: list[float]) -> bool:
    return max(values) == min(values)


def _zero_spread(mean: float, reference: float, alternative: str) -> tuple[float, float]:
    """(t, p) when the standard error is zero: the sign of mean - reference decides."""
    if mean == reference:
        return math.nan, 1.0
    t = -math.inf if mean < reference else math.inf
    in_direction = {"less": t < 0, "greater": t > 0, "two-sided": True}[alternative]
    return t, 0.0 if in_direction else 1.0


def _too_few(values: list[float], needed: int, what: str) -> str:
    if len(values) < needed:
        return f"needs at least {needed} {what}, got {len(values)}"
    if not all(math.isfinite(v) for v in values):
        return f"{what} include nan or inf: {list(values)}"
    return ""


def _undefined(name: str, values: list[float], threshold: float | None, why: str) -> TestResult:
    finite = [v for v in values if math.isfinite(v)]
    mean = statistics.fmean(finite) if finite else math.nan
    return TestResult(name, math.nan, math.nan, math.nan, len(values), mean, None, threshold, why)
