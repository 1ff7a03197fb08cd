"""golf.ablation (variant specs, pairing, the table) and tools/ablate.py run for real on the tiny config."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from golf.ablation import (
    BASELINE,
    DEFAULT_VARIANTS,
    Row,
    RunResult,
    Variant,
    check_manifest,
    compare,
    parse_variant,
    render_text,
    with_baseline,
)
from golf.findings import InputError
from golf.stats import one_sample_vs_sota, paired_test

TOOL = Path(__file__).resolve().parent.parent / "tools" / "ablate.py"


@pytest.mark.parametrize("spec, name, env", [
    ("baseline=", "baseline", {}),
    ("bpb=BPB_WEIGHTED_LOSS=1", "bpb", {"BPB_WEIGHTED_LOSS": "1"}),
    ("pg=PRECISION_GAIN=1.0,PRECISION_GAIN_CLAMP=0.1,5.0,LAYER_GAIN=0.5", "pg",
     {"PRECISION_GAIN": "1.0", "PRECISION_GAIN_CLAMP": "0.1,5.0", "LAYER_GAIN": "0.5"}),
])
def test_parse_variant_keeps_commas_inside_values(spec, name, env):
    assert parse_variant(spec) == Variant(name, env)


@pytest.mark.parametrize("spec", ["bpb", "b p=X=1", "bpb=lower=1", "bpb=BPB_WEIGHTED_LOSS"])
def test_parse_variant_rejects_malformed_specs(spec):
    with pytest.raises(InputError):
        parse_variant(spec)


def test_baseline_is_added_first_and_names_are_unique():
    assert [v.name for v in with_baseline([Variant("bpb", {})])] == [BASELINE, "bpb"]
    assert [v.name for v in with_baseline(list(reversed(DEFAULT_VARIANTS)))][0] == BASELINE
    with pytest.raises(InputError, match="repeat"):
        with_baseline([Variant("x", {}), Variant("x", {"LAYER_GAIN": "1"})])


def done(variant: str, seed: int, bpb: float, loss: float, step_ms: float = 100.0) -> RunResult:
    return RunResult(variant, seed, "done", "", bpb, loss, step_ms, 1_000_000)


def test_compare_pairs_by_seed_and_leaves_failed_runs_out():
    results = [
        done(BASELINE, 1, 1.50, 3.00), done(BASELINE, 2, 1.52, 3.04), done(BASELINE, 3, 1.51, 3.02),
        done("gain", 1, 1.48, 2.96, 120.0), done("gain", 2, 1.49, 2.98, 120.0),
        RunResult("gain", 3, "failed", "seed 3 failed (exit 1)"),
    ]
    baseline, gain = compare(results, [Variant(BASELINE, {}), Variant("gain", {})])
    assert (baseline.n, baseline.failed, baseline.delta_bpb) == (3, 0, None)
    assert (gain.n, gain.failed) == (2, 1)
    assert gain.delta_bpb == pytest.approx(-0.025)
    assert gain.p_two_sided == pytest.approx(paired_test([1.48, 1.49], [1.50, 1.52]).p)
    assert gain.p_margin == pytest.approx(one_sample_vs_sota([-0.04, -0.06], 0.0, 0.005).p)
    assert gain.step_ratio == pytest.approx(1.2)


def test_render_text_is_pinned():
    rows = [Row(BASELINE, 3, 0, 1.5, 0.01, None, None, None, None, 1_234_567.0),
            Row("bpb", 2, 1, 1.49, 0.02, -0.0123, 0.0456, 0.789, 1.03, 1_234_000.0)]
    assert render_text(rows) == (
        "variant   n             val_bpb mean ± std  Δ vs baseline  p (2-sided)  p (Δloss<-0.005)  step time ×  artifact bytes\n"
        "baseline  3             1.5000 ± 0.0100     —              —            —                 —            1,234,567\n"
        "bpb       2 (1 failed)  1.4900 ± 0.0200     -0.0123        0.046        0.789             1.03         1,234,000"
    )


def test_manifest_refuses_to_mix_configs(tmp_path):
    variants = [Variant(BASELINE, {})]
    check_manifest(tmp_path, {"ITERATIONS": "10"}, variants)
    check_manifest(tmp_path, {"ITERATIONS": "10"}, variants + [Variant("bpb", {"BPB_WEIGHTED_LOSS": "1"})])
    with pytest.raises(InputError, match="ITERATIONS"):
        check_manifest(tmp_path, {"ITERATIONS": "20"}, variants)
    with pytest.raises(InputError, match="bpb"):
        check_manifest(tmp_path, {"ITERATIONS": "10"}, [Variant("bpb", {"BPB_WEIGHTED_LOSS": "0"})])


def run_tool(out: Path, data: Path, *variants: str) -> subprocess.CompletedProcess:
    args = ["--config", "tiny", "--seeds", "2", "--data", str(data), "--out", str(out)]
    args += [part for spec in variants for part in ("--variant", spec)]
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True)


def test_ablation_runs_pairs_reports_a_failed_variant_and_resumes(tmp_path, smoke_data):
    out = tmp_path / "ablation"
    first = run_tool(out, smoke_data, "bpb=BPB_WEIGHTED_LOSS=1", "bad=PRECISION_GAIN=-1")
    assert first.returncode == 1, first.stderr
    report = json.loads((out / "ablation.json").read_text())
    rows = {row["variant"]: row for row in report["rows"]}
    assert (rows["baseline"]["n"], rows["bpb"]["n"], rows["bad"]["n"], rows["bad"]["failed"]) == (2, 2, 0, 2)
    assert rows["bpb"]["delta_bpb"] is not None and rows["bad"]["bpb_mean"] is None
    assert first.stdout.count("FAILED bad seed") == 2
    assert sorted(p.name for p in (out / "bpb").glob("train_seed*.log")) == ["train_seed1.log", "train_seed2.log"]
    assert "| bpb | 2 |" in (out / "ablation.md").read_text()

    second = run_tool(out, smoke_data, "bpb=BPB_WEIGHTED_LOSS=1")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("skipped: ") == 4
    assert json.loads((out / "ablation.json").read_text())["rows"] == report["rows"][:2]
