"""golf.stats against closed-form figures and the numbers RULES.md §3 and §5 quote."""
from __future__ import annotations

import math

import pytest
from scipy import stats as scipy_stats

from golf.stats import (
    CANONICAL_VAL_BYTES,
    FRONTIER_ALPHA,
    WRITTEN_RULE_ALPHA,
    bpb_gap_to_nats,
    bpb_gap_to_nats_per_byte,
    implied_val_bytes,
    mean_std,
    nats_per_bpb,
    one_sample_vs_sota,
    paired_test,
    val_bytes_plausible,
    welch_vs_previous,
)


def lower_tail_df2(t: float) -> float:
    """Closed-form CDF of Student's t with 2 degrees of freedom."""
    return 0.5 * (1 + t / math.sqrt(t * t + 2))


def test_one_sample_reproduces_the_2026_03_19_record():
    # Three seeds spread by a standard deviation of 0.001 around a mean 9.06 standard errors under SOTA - 0.005.
    sota, margin, spread = 1.2244, 0.005, 0.001
    mean = sota - margin - 9.06 * spread / math.sqrt(3)
    result = one_sample_vs_sota([mean - spread, mean, mean + spread], sota, margin)
    assert result.t == pytest.approx(-9.06)
    assert result.df == 2
    assert result.p == pytest.approx(lower_tail_df2(-9.06))
    assert round(result.p, 3) == 0.006
    assert result.passed is True
    assert result.threshold == pytest.approx(sota - margin)
    assert result.n == 3


def test_one_sample_fails_when_the_margin_is_not_cleared():
    result = one_sample_vs_sota([1.2230, 1.2240, 1.2235], sota_nats=1.2244)
    assert result.passed is False
    assert result.p > 0.5


def test_welch_matches_the_closed_form_statistic_and_degrees_of_freedom():
    new, previous = [1.1142, 1.1150, 1.1147], [1.1190, 1.1240, 1.1205]
    mean_new, sd_new = mean_std(new)
    mean_previous, sd_previous = mean_std(previous)
    variance_new, variance_previous = sd_new**2 / 3, sd_previous**2 / 3
    t = (mean_new - mean_previous) / math.sqrt(variance_new + variance_previous)
    df = (variance_new + variance_previous) ** 2 / (variance_new**2 / 2 + variance_previous**2 / 2)
    result = welch_vs_previous(new, previous, alpha=WRITTEN_RULE_ALPHA)
    assert result.t == pytest.approx(t)
    assert result.df == pytest.approx(df)
    assert 2 < result.df < 4  # unequal spreads: fewer than the pooled 4
    assert result.p == pytest.approx(scipy_stats.t.cdf(t, df))
    assert result.threshold == pytest.approx(mean_previous)
    assert result.passed is (result.p < 0.01)


def test_frontier_alpha_accepts_what_the_written_rule_rejects():
    new, previous = [1.0810, 1.0790, 1.0805], [1.0812, 1.0808, 1.0820]
    strict = welch_vs_previous(new, previous, alpha=WRITTEN_RULE_ALPHA)
    frontier = welch_vs_previous(new, previous, alpha=FRONTIER_ALPHA)
    assert strict.p == frontier.p
    assert 0.01 < strict.p < 0.25
    assert (strict.passed, frontier.passed) == (False, True)


def test_paired_two_sided_matches_the_closed_form():
    result = paired_test([1.10, 1.11, 1.12], [1.11, 1.115, 1.13])
    assert result.t == pytest.approx(-5.0)
    assert result.p == pytest.approx(2 * lower_tail_df2(-5.0))
    assert result.passed is None
    assert result.mean == pytest.approx(-0.025 / 3)


def test_paired_one_sided_with_alpha():
    less = paired_test([1.10, 1.11, 1.12], [1.11, 1.115, 1.13], alternative="less", alpha=0.05)
    greater = paired_test([1.10, 1.11, 1.12], [1.11, 1.115, 1.13], alternative="greater", alpha=0.05)
    assert less.p == pytest.approx(lower_tail_df2(-5.0))
    assert less.passed is True
    assert greater.p == pytest.approx(1 - lower_tail_df2(-5.0))
    assert greater.passed is False


@pytest.mark.parametrize("result", [
    one_sample_vs_sota([1.1], 1.2),
    one_sample_vs_sota([], 1.2),
    welch_vs_previous([1.1, 1.2], [1.3], alpha=0.01),
    paired_test([1.0], [2.0]),
])
def test_too_few_values_give_nan_and_say_why(result):
    assert math.isnan(result.p) and math.isnan(result.t)
    assert result.passed is None
    assert "needs at least 2" in result.detail


def test_nan_input_and_bad_arguments_are_explained():
    assert "nan or inf" in one_sample_vs_sota([1.1, math.nan, 1.2], 1.3).detail
    assert "equal lengths" in paired_test([1.0, 2.0], [1.0]).detail
    assert "alternative must be one of" in paired_test([1.0, 2.0], [1.0, 2.0], alternative="lower").detail


@pytest.mark.parametrize("values,t,p,passed", [
    ([1.10, 1.10, 1.10], -math.inf, 0.0, True),    # below SOTA - margin with no spread
    ([1.30, 1.30, 1.30], math.inf, 1.0, False),    # above it
    ([1.195, 1.195, 1.195], math.nan, 1.0, False),  # exactly on it: no evidence of improvement
])
def test_zero_spread_is_decided_by_the_sign(values, t, p, passed):
    result = one_sample_vs_sota(values, sota_nats=1.2)
    assert result.t == t or (math.isnan(t) and math.isnan(result.t))
    assert result.p == p
    assert result.passed is passed
    assert "zero spread" in result.detail


def test_welch_with_two_constant_groups():
    result = welch_vs_previous([1.0, 1.0], [1.1, 1.1], alpha=0.01)
    assert (result.t, result.p, result.passed) == (-math.inf, 0.0, True)


def test_paired_identical_runs_are_not_different():
    result = paired_test([1.1, 1.2, 1.3], [1.1, 1.2, 1.3], alpha=0.05)
    assert result.p == 1.0
    assert result.passed is False


def test_mean_std():
    assert mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    mean, std = mean_std([4.0])
    assert mean == 4.0 and math.isnan(std)
    assert all(math.isnan(value) for value in mean_std([]))


def test_pr_1019_gap_in_nats():
    # RULES.md §3: -0.00464 BPB = -0.00784 nats through the SP1024 ratio of about 1.689.
    assert round(bpb_gap_to_nats(-0.00464, 1.689), 5) == -0.00784
    assert bpb_gap_to_nats_per_byte(-0.00464) == pytest.approx(-0.00464 * math.log(2))
    assert nats_per_bpb(2.07269931, 1.22436570) == pytest.approx(1.6929, abs=1e-4)


@pytest.mark.parametrize("val_tokens,val_loss,val_bpb,plausible", [
    (62_021_632, 1.89121234, 1.12008345, True),   # SP1024 (legal_ttt fixture)
    (40_540_160, 2.79503456, 1.08201234, True),   # SP8192 (train_seed42 fixture)
    (63_779_840, 2.07269931, 1.22436570, False),  # launch-day export: 155.8 M
])
def test_implied_val_bytes(val_tokens, val_loss, val_bpb, plausible):
    implied = implied_val_bytes(val_tokens, val_loss, val_bpb)
    assert implied == pytest.approx(val_tokens * val_loss / (math.log(2) * val_bpb))
    assert val_bytes_plausible(implied) is plausible
    if not plausible:
        assert implied == pytest.approx(155.8e6, rel=1e-3)
    else:
        assert implied == pytest.approx(CANONICAL_VAL_BYTES, rel=1e-4)
