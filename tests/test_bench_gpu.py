"""tools/bench_gpu.py and golf.bench_gpu on CPU: input errors, the no-CUDA exit, and the table from logs.

The GPU runs themselves need CUDA; here the logs are small hand-made files in both dialects
(tests/fixtures/bench_gpu: the baseline's, and ours with its extra header and gain lines), and a
stand-in trainer script exercises the run loop.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from golf.bench_gpu import (BENCH_ENV, RUNS, bench_command, bench_env, execute, outcome_of, progress_note,
                            render_json, render_table, summarize)
from golf.smoke import TRAINER

REPO = Path(__file__).resolve().parent.parent
TOOL = REPO / "tools" / "bench_gpu.py"
FIXTURES = Path(__file__).parent / "fixtures" / "bench_gpu"
FAKE_TRAINER = FIXTURES / "fake_trainer.py"
BASELINE, OFF, ON = RUNS
SETTINGS = {"steps": 12, "nproc": 1}
OOM_LINE = ("[rank0]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. "
            "GPU 0 has a total capacity of 139.81 GiB")


def run_tool(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def finished_summary() -> dict:
    return summarize([outcome_of(run, FIXTURES / run.name, 0) for run in RUNS], SETTINGS)


def test_without_cuda_it_says_so_in_one_line_and_builds_nothing(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    baseline = tmp_path / "challenge_train_gpt.py"
    baseline.write_text("raise SystemExit('must not run')\n")
    out = tmp_path / "bench"
    result = run_tool(tmp_path, "--baseline", str(baseline), "--out", str(out))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("bench_gpu: CUDA is not available")
    assert not out.exists()


@pytest.mark.parametrize("args, expected", [
    (["--baseline", "no/such/train_gpt.py"], "bench_gpu: --baseline no/such/train_gpt.py: no such file;"),
    (["--baseline", "."], "bench_gpu: --baseline .: no such file;"),
    (["--baseline", str(TRAINER), "--nproc", "3"], "bench_gpu: --nproc 3: pass one of 1, 2, 4, 8"),
    (["--baseline", str(TRAINER), "--steps", "0"], "bench_gpu: --steps 0: pass 1 or more"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, expected):
    result = run_tool(tmp_path, *args, "--out", str(tmp_path / "bench"))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(expected)
    assert not (tmp_path / "bench").exists()


def test_table_from_both_dialects_is_pinned():
    assert render_table(finished_summary()) == "\n".join([
        "1 x NVIDIA H200, torch 2.11.0+cu128, 12 steps of 524288 tokens (seq 1024), 9x512, vocab 1024; "
        "step ms: median after 20 warmup steps; ratio and max|dloss| (steps 1-10) against (a)",
        "run                     step ms  ratio  peak MiB  loss@1  loss@2  loss@5  loss@10  loss@last"
        "  max|dloss| 1-10  val_bpb",
        "(a) baseline              300.0  1.000     10244  6.9400  6.8400  6.5400   6.0400     5.8400"
        "                -   2.4103",
        "(b) ours, switches off    303.0  1.010     10300  6.9400  6.8400  6.5400   6.0400     5.8400"
        "           0.0007   2.4113",
        "(c) ours, switches on     306.0  1.020     10400  6.9400  6.7900  6.4900   5.9900     5.7900"
        "           0.0500   2.3903",
    ])


def test_figures_come_from_the_logs_not_the_embedded_source():
    baseline, off, on = finished_summary()["runs"]
    assert baseline["step_ms"] == 300.0  # one 900 ms hiccup: the median ignores it
    assert off["ratio_to_baseline"] == pytest.approx(1.01)
    assert off["max_abs_delta_train_loss_steps_1_10"] == pytest.approx(0.0007)
    assert on["max_abs_delta_train_loss_steps_1_10"] == pytest.approx(0.05)
    assert (baseline["peak_memory_allocated_mib"], baseline["peak_memory_reserved_mib"]) == (10244, 10540)
    assert baseline["val_bpb"] == 2.4103  # the _exact round-trip line, not the step:12 validation line
    assert on["train_loss"] == {"1": 6.94, "2": 6.79, "5": 6.49, "10": 5.99}
    assert (on["last_step"], on["train_loss_last"]) == (12, 5.79)


def test_a_crashed_run_is_a_failed_row_with_its_last_error_line():
    outcomes = [outcome_of(BASELINE, FIXTURES / "baseline", 0), outcome_of(OFF, FIXTURES / "off", 0),
                outcome_of(ON, FIXTURES / "crashed", 1)]
    summary = summarize(outcomes, SETTINGS)
    assert summary["failed"] == 1
    crashed = summary["runs"][2]
    assert (crashed["status"], crashed["error"]) == ("failed", OOM_LINE)
    assert crashed["step_ms"] is None and crashed["val_bpb"] is None
    console = FIXTURES / "crashed" / "console.txt"
    assert render_table(summary).splitlines()[-1] == f"(c) ours, switches on   failed: {OOM_LINE} (log: {console})"


def test_exit_0_without_a_score_is_a_failure():
    outcome = outcome_of(ON, FIXTURES / "crashed", 0)
    assert outcome.error == "exited 0 without a final round-trip val_bpb line"
    assert outcome_of(OFF, FIXTURES / "baseline", 0).error == "exited 0 but wrote no off.txt"


def test_a_failed_baseline_leaves_ratios_and_deltas_empty():
    outcomes = [outcome_of(BASELINE, FIXTURES / "crashed", 1), outcome_of(OFF, FIXTURES / "off", 0)]
    off = summarize(outcomes, SETTINGS)["runs"][1]
    assert off["step_ms"] == 303.0
    assert off["ratio_to_baseline"] is None and off["max_abs_delta_train_loss_steps_1_10"] is None


def test_json_is_one_object_with_the_same_keys_in_every_row():
    outcomes = [outcome_of(run, FIXTURES / run.name, 0) for run in RUNS[:2]] + [outcome_of(ON, FIXTURES / "crashed", 1)]
    text = render_json(summarize(outcomes, {**SETTINGS, "env": BENCH_ENV}))
    assert "\n" not in text
    data = json.loads(text)
    assert set(data) == {"steps", "nproc", "env", "gpu", "torch", "runs", "failed", "interrupted"}
    assert (data["gpu"], data["torch"], data["failed"]) == ("NVIDIA H200", "2.11.0+cu128", 1)
    assert [row["name"] for row in data["runs"]] == ["baseline", "off", "on"]
    assert [row["status"] for row in data["runs"]] == ["ok", "ok", "failed"]
    assert len({tuple(row) for row in data["runs"]}) == 1
    assert set(data["runs"][0]) == {
        "name", "label", "overrides", "status", "error", "log", "console", "step_ms", "ratio_to_baseline",
        "peak_memory_allocated_mib", "peak_memory_reserved_mib", "train_loss", "last_step", "train_loss_last",
        "max_abs_delta_train_loss_steps_1_10", "val_bpb"}
    assert set(data["runs"][0]["train_loss"]) == {"1", "2", "5", "10"}


def test_runs_share_the_baseline_shape_and_differ_only_in_switches(tmp_path):
    envs = {run.name: bench_env(run, 100, tmp_path) for run in RUNS}
    shared = {**BENCH_ENV, "ITERATIONS": "100", "DATA_PATH": str(tmp_path)}
    for name, env in envs.items():
        assert env.items() >= shared.items()
        assert env["RUN_ID"] == name
    assert "BPB_WEIGHTED_LOSS" not in envs["baseline"]
    assert {key: envs["off"][key] for key in ("BPB_WEIGHTED_LOSS", "PRECISION_GAIN", "LAYER_GAIN")} == \
        {"BPB_WEIGHTED_LOSS": "0", "PRECISION_GAIN": "0", "LAYER_GAIN": "0"}
    assert {key: envs["on"][key] for key in ("BPB_WEIGHTED_LOSS", "PRECISION_GAIN", "LAYER_GAIN", "LAYER_GAIN_EXCLUDE")} \
        == {"BPB_WEIGHTED_LOSS": "1", "PRECISION_GAIN": "1.0", "LAYER_GAIN": "0.5", "LAYER_GAIN_EXCLUDE": ""}
    assert (BENCH_ENV["VAL_LOSS_EVERY"], BENCH_ENV["MAX_WALLCLOCK_SECONDS"], BENCH_ENV["TRAIN_LOG_EVERY"]) == ("0", "0", "1")


def test_commands_run_torchrun_over_the_right_script(tmp_path):
    command = bench_command(BASELINE, 2, Path("gpu_ref/challenge_train_gpt.py"))
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert command[-1] == str(Path("gpu_ref/challenge_train_gpt.py").resolve())
    assert bench_command(OFF, 1, Path("x.py"))[-1] == str(TRAINER)


def test_execute_replaces_a_stale_log_and_reports_the_exit(tmp_path):
    work_dir = tmp_path / "off"
    (work_dir / "logs").mkdir(parents=True)
    (work_dir / "logs" / "off.txt").write_text("step:1/12 train_loss:9.9999 train_time:1ms step_avg:1.00ms\n")
    env = {**bench_env(OFF, 12, tmp_path), "FAKE_FIXTURES": str(FIXTURES)}
    messages = []
    outcome = execute(OFF, [sys.executable, str(FAKE_TRAINER)], env, work_dir, messages.append)
    assert outcome.error is None
    assert outcome.log_path.read_text() == (FIXTURES / "off" / "logs" / "off.txt").read_text()
    assert (work_dir / "console.txt").read_text() == "logs/off.txt\n"
    assert messages[-1].startswith("(b) ours, switches off: exited 0 after ")


def test_execute_of_a_crashing_run_keeps_its_console(tmp_path):
    env = {**bench_env(ON, 12, tmp_path), "FAKE_FIXTURES": str(FIXTURES), "FAKE_CASE": "crashed", "FAKE_EXIT": "1"}
    messages = []
    outcome = execute(ON, [sys.executable, str(FAKE_TRAINER)], env, tmp_path / "on", messages.append)
    assert outcome.error == OOM_LINE
    assert (tmp_path / "on" / "console.txt").read_text() == (FIXTURES / "crashed" / "console.txt").read_text()
    assert messages[-1].startswith("(c) ours, switches on: exited 1 after ")


@pytest.mark.parametrize("text, expected", [
    ("", "starting"),
    ("logs/on.txt\nval_bpb:enabled\n", "starting"),
    ("warmup_step:1/20\nwarmup_step:7/20\n", "warmup 7/20"),
    ("warmup_step:20/20\nstep:1/100 train_loss:6.9 train_time:300ms step_avg:300.00ms\n"
     "gain step:1/100 token_gain_mean:1.0\nstep:2/100 train_loss:6.8", "step 2/100"),
    ('    log0(f"step:{step}/{args.iterations} train_loss")\n', "starting"),
])
def test_progress_note(text, expected):
    assert progress_note(text) == expected


def test_an_interrupted_run_is_stopped_and_marked(tmp_path, monkeypatch):
    monkeypatch.setattr("golf.bench_gpu.PROGRESS_SECONDS", 0.0)
    env = {**bench_env(OFF, 12, tmp_path), "FAKE_FIXTURES": str(FIXTURES), "FAKE_SLEEP": "600"}

    def interrupt(message: str) -> None:
        raise KeyboardInterrupt

    outcome = execute(OFF, [sys.executable, str(FAKE_TRAINER)], env, tmp_path / "off", interrupt)
    assert outcome.interrupted
    assert outcome.error.startswith("interrupted at ")
    summary = summarize([outcome], SETTINGS)
    assert (summary["interrupted"], summary["failed"]) == (True, 1)


def load_tool():
    spec = importlib.util.spec_from_file_location("bench_gpu_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("as_json", [False, True])
def test_main_runs_the_three_in_order_and_writes_bench_json(tmp_path, monkeypatch, capsys, as_json):
    """The tool's loop on CPU: only the CUDA check, the data build and torchrun are stood in for."""
    tool = load_tool()
    monkeypatch.setattr(tool, "check_cuda", lambda nproc: None)
    monkeypatch.setattr(tool, "build_data", lambda: None)
    monkeypatch.setattr(tool, "bench_command", lambda run, nproc, baseline: [sys.executable, str(FAKE_TRAINER)])
    monkeypatch.setenv("FAKE_FIXTURES", str(FIXTURES))
    out = tmp_path / "bench"
    code = tool.main(["--baseline", str(TRAINER), "--steps", "12", "--out", str(out), *(["--json"] if as_json else [])])
    captured = capsys.readouterr()
    assert code == 0
    written = json.loads((out / "bench.json").read_text())
    assert [row["status"] for row in written["runs"]] == ["ok", "ok", "ok"]
    assert [(out / name / "logs" / f"{name}.txt").is_file() for name in ("baseline", "off", "on")] == [True] * 3
    if as_json:
        assert json.loads(captured.out) == written
    else:
        assert captured.out.splitlines()[2].startswith("(a) baseline              300.0  1.000     10244")
    progress = captured.err.splitlines()
    assert progress[0] == f"bench_gpu: (a) baseline: starting in {out / 'baseline'}"
    assert progress[-1].startswith("bench_gpu: (c) ours, switches on: exited 0 after ")


def test_an_unwritable_out_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    tool = load_tool()
    monkeypatch.setattr(tool, "check_cuda", lambda nproc: None)
    monkeypatch.setattr(tool, "build_data", lambda: None)
    (tmp_path / "a_file").write_text("")
    out = tmp_path / "a_file" / "bench"
    assert tool.main(["--baseline", str(TRAINER), "--out", str(out)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"bench_gpu: cannot write {out / 'baseline'}: Not a directory; pass another --out")
