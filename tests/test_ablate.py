"""golf.ablation (variant specs, pairing, the table) and tools/ablate.py run for real on the tiny config."""
from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from golf.ablation import (
    BASELINE,
    DEFAULT_VARIANTS,
    Arm,
    Row,
    RunResult,
    Variant,
    check_manifest,
    compare,
    parse_variant,
    render_text,
    render_trajectory,
    trajectory,
    with_baseline,
    with_steps,
)
from golf.findings import InputError
from golf.stats import one_sample_vs_sota, paired_test
from trainer_support import processes_in

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
    with pytest.raises(InputError, match="paired with clip"):
        with_baseline([Variant("gain_clip", {}, against="clip")])


def test_default_variants_are_the_sources_settings_with_their_controls():
    variants = {v.name: v for v in DEFAULT_VARIANTS}
    assert variants["bpb"].env == {"BPB_WEIGHTED_LOSS": "1"}
    assert variants["token_gain"].env == {"PRECISION_GAIN": "1.0"}
    assert variants["layer_gain"].env == {"LAYER_GAIN": "0.5"}
    assert variants["layer_const"].env["LAYER_GAIN_CLAMP"] == "2.0,2.0"
    assert variants["gain_clip"].against == "baseline_clip"
    assert with_baseline(list(DEFAULT_VARIANTS)) == list(DEFAULT_VARIANTS)


def test_with_steps_spaces_eight_validations_and_a_30_percent_warmdown():
    env = with_steps({"ITERATIONS": "200"}, 800)
    assert (env["ITERATIONS"], env["WARMDOWN_ITERS"], env["VAL_LOSS_EVERY"]) == ("800", "240", "100")


def done(variant: str, seed: int, bpb: float, loss: float, step_ms: float = 100.0, entropy: float | None = None,
         points: tuple = ()) -> RunResult:
    return RunResult(variant, seed, "done", "", bpb, loss, step_ms, 1_000_000, entropy, points)


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


def test_a_variant_is_paired_with_its_own_reference():
    results = [done(BASELINE, s, 1.5, 3.0, entropy=4.0) for s in (1, 2)]
    results += [done("clip", s, 1.4, 2.8, entropy=4.1) for s in (1, 2)]
    results += [done("gain_clip", 1, 1.38, 2.76, entropy=4.3), done("gain_clip", 2, 1.36, 2.72, entropy=4.5)]
    variants = [Variant(BASELINE, {}), Variant("clip", {}), Variant("gain_clip", {}, against="clip")]
    row = compare(results, variants)[2]
    assert (row.against, row.delta_bpb) == ("clip", pytest.approx(-0.03))
    assert (row.entropy_mean, row.delta_entropy) == (pytest.approx(4.4), pytest.approx(0.3))


def test_trajectory_pairs_each_validated_step_by_seed():
    results = [done(BASELINE, 1, 1.5, 3.0, points=((10, 2.0), (20, 1.8))),
               done(BASELINE, 2, 1.5, 3.0, points=((10, 2.2), (20, 1.9))),
               done("bpb", 1, 1.5, 3.0, points=((10, 2.1), (20, 1.8))),
               done("bpb", 2, 1.5, 3.0, points=((10, 2.4), (20, 1.95)))]
    points = trajectory(results, [Variant(BASELINE, {}), Variant("bpb", {})])
    assert points["bpb"][10][0] == pytest.approx(0.15) and points["bpb"][20][0] == pytest.approx(0.025)
    assert render_trajectory(points).splitlines()[2:] == ["| 10 | +0.1500 |", "| 20 | +0.0250 |"]


def test_render_text_is_pinned():
    rows = [Row(BASELINE, 3, 0, 1.5, 0.01, None, None, None, None, 1_234_567.0, 4.5),
            Row("bpb", 2, 1, 1.49, 0.02, -0.0123, 0.0456, 0.789, 1.03, 1_234_000.0, 4.6, 0.1)]
    assert render_text(rows) == (
        "variant   n             val_bpb mean ± std  Δ vs      Δval_bpb  p (2-sided)  p (Δloss<-0.005)  entropy  "
        "Δentropy  step time ×  artifact bytes\n"
        "baseline  3             1.5000 ± 0.0100     —         —         —            —                 4.500    "
        "—         —            1,234,567\n"
        "bpb       2 (1 failed)  1.4900 ± 0.0200     baseline  -0.0123   0.046        0.789             4.600    "
        "+0.100    1.03         1,234,000"
    )


def arm(name: str, env: dict, *variants: Variant) -> Arm:
    return Arm(name, name, env, (Variant(BASELINE, {}), *variants), 1)


def test_manifest_refuses_to_mix_configs(tmp_path):
    check_manifest(tmp_path, [arm("short", {"ITERATIONS": "10"})])
    check_manifest(tmp_path, [arm("short", {"ITERATIONS": "10"}, Variant("bpb", {"BPB_WEIGHTED_LOSS": "1"})),
                              arm("long", {"ITERATIONS": "40"})])
    with pytest.raises(InputError, match="short-arm runs .*ITERATIONS"):
        check_manifest(tmp_path, [arm("short", {"ITERATIONS": "20"})])
    with pytest.raises(InputError, match="long-arm runs .*ITERATIONS"):
        check_manifest(tmp_path, [arm("short", {"ITERATIONS": "10"}), arm("long", {"ITERATIONS": "80"})])
    with pytest.raises(InputError, match="bpb"):
        check_manifest(tmp_path, [arm("short", {"ITERATIONS": "10"}, Variant("bpb", {"BPB_WEIGHTED_LOSS": "0"}))])


def run_tool(out: Path, data: Path, *variants: str) -> subprocess.CompletedProcess:
    args = ["--config", "tiny", "--seeds", "2", "--long-steps", "8", "--nproc", "1", "--data", str(data), "--out", str(out)]
    args += [part for spec in variants for part in ("--variant", spec)]
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True)


def test_ablation_runs_pairs_reports_a_failed_variant_and_resumes(tmp_path, smoke_data):
    out = tmp_path / "ablation"
    first = run_tool(out, smoke_data, "bpb=BPB_WEIGHTED_LOSS=1", "bad=PRECISION_GAIN=-1")
    assert first.returncode == 1, first.stderr
    report = json.loads((out / "ablation.json").read_text())
    rows = {row["variant"]: row for row in report["arms"]["short"]["rows"]}
    assert (rows["baseline"]["n"], rows["bpb"]["n"], rows["bad"]["n"], rows["bad"]["failed"]) == (2, 2, 0, 2)
    assert rows["bpb"]["delta_bpb"] is not None and rows["bad"]["bpb_mean"] is None
    assert rows["bpb"]["entropy_mean"] > 0 and rows["bpb"]["delta_entropy"] is not None
    assert first.stdout.count("FAILED short bad seed") == 2
    assert sorted(p.name for p in (out / "bpb").glob("train_seed*.log")) == ["train_seed1.log", "train_seed2.log"]
    assert sorted(p.name for p in (out / "long" / "bpb").glob("train_seed*.log")) == ["train_seed1.log", "train_seed2.log"]
    markdown = (out / "ablation.md").read_text()
    assert "| bpb | 2 | " in markdown and "## long arm: Δval_bpb by step" in markdown
    assert "| 3 | +" in markdown or "| 3 | -" in markdown  # a trajectory row at the first validation
    assert (out / "delta_bpb.png").is_file() == (importlib.util.find_spec("matplotlib") is not None)

    second = run_tool(out, smoke_data, "bpb=BPB_WEIGHTED_LOSS=1")
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("skipped: ") == 8
    assert json.loads((out / "ablation.json").read_text())["arms"]["short"]["rows"] == report["arms"]["short"]["rows"][:2]


def test_ctrl_c_stops_both_jobs_and_keeps_no_complete_log(tmp_path, smoke_data):
    out = tmp_path / "ablation"
    command = [sys.executable, str(TOOL), "--config", "tiny", "--seeds", "1", "--steps", "100000", "--long-steps", "0",
               "--nproc", "1", "--jobs", "2", "--data", str(smoke_data), "--out", str(out),
               "--variant", "bpb=BPB_WEIGHTED_LOSS=1"]
    # A background job of a non-interactive shell inherits SIGINT ignored: give the child the default.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    started = set()
    for line in process.stdout:
        if "step 2/100000" in line:
            started.add(line.split("]")[1].split()[0])
        if started == {"baseline", "bpb"}:
            break
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    assert stdout.count("interrupted: seed 1 interrupted") == 2, stdout[-1500:]
    assert "re-run the same command" in stdout
    for variant in ("baseline", "bpb"):
        assert not (out / variant / "train_seed1.log").exists() and (out / variant / "train_seed1.log.partial").is_file()
        assert processes_in(out / variant) == []
