"""tools/run_seeds.py and golf/runner.py: real torchrun runs of the tiny config, resume, failure, Ctrl-C."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

from golf.findings import InputError
from golf.logs import parse_log_file
from golf.runner import SeedProgress, log_is_complete, run_seed, seed_log_path
from golf.smoke import REPO_ROOT, TINY_ENV, TRAINER
from trainer_support import processes_in

TOOL = REPO_ROOT / "tools" / "run_seeds.py"


@pytest.fixture
def record(tmp_path):
    folder = tmp_path / "record"
    folder.mkdir()
    shutil.copy(TRAINER, folder / "train_gpt.py")
    return folder


def env_args(smoke_data_env: dict, **extra: str) -> list[str]:
    pairs = {**TINY_ENV, **smoke_data_env, **extra}
    return [arg for key, value in pairs.items() for arg in ("--env", f"{key}={value}")]


def run_tool(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=600, env=env)


def test_help():
    done = run_tool("--help")
    assert done.returncode == 0 and "--seeds" in done.stdout and "--env" in done.stdout


def test_runs_each_seed_then_resumes(record, smoke_data_env):
    done = run_tool(str(record), "--seeds", "7", "--nproc", "1", *env_args(smoke_data_env))
    assert done.returncode == 0, done.stdout + done.stderr
    log = seed_log_path(record, 7)
    run = parse_log_file(log)
    assert run.complete and run.seed.value == 7
    assert (record / "final_model_seed7.ptz").is_file() and not (record / "logs").exists()
    assert "seed 7  step 6/6" in done.stdout and "ETA" in done.stdout
    assert f"val_bpb {run.final.val_bpb:.8f}" in done.stdout
    first_bytes, first_mtime = log.read_bytes(), log.stat().st_mtime_ns

    again = run_tool(str(record), "--seeds", "7", "8", "--nproc", "1", *env_args(smoke_data_env))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "skipped: train_seed7.log is complete" in again.stdout
    assert log.read_bytes() == first_bytes and log.stat().st_mtime_ns == first_mtime
    assert log_is_complete(seed_log_path(record, 8)) and "over 2 seed(s)" in again.stdout


def test_a_failed_seed_leaves_only_a_partial_log(record, smoke_data_env):
    done = run_tool(str(record), "--seeds", "5", "--nproc", "1", *env_args(smoke_data_env, VOCAB_SIZE="512"))
    assert done.returncode == 1
    assert "seed 5 failed (exit 1): error: VOCAB_SIZE=512 does not match the tokenizer" in done.stdout
    assert not seed_log_path(record, 5).exists()
    partial = record / "train_seed5.log.partial"
    assert partial.is_file() and not log_is_complete(partial)


def test_ctrl_c_stops_cleanly_and_keeps_no_complete_log(record, smoke_data_env):
    command = [sys.executable, str(TOOL), str(record), "--seeds", "3", "--nproc", "1",
               *env_args(smoke_data_env, ITERATIONS="100000", VAL_LOSS_EVERY="0")]
    # As from a terminal: a job started in the background by a non-interactive shell (as CI may
    # start this suite) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in process.stdout:
        if "step 2/100000" in line:
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    assert not seed_log_path(record, 3).exists() and (record / "train_seed3.log.partial").is_file()
    assert processes_in(record) == []


@pytest.mark.parametrize("args, message", [
    (["--env", "NOEQUALS"], "is not KEY=VALUE"),
    (["--seeds", "1", "1"], "repeats a seed"),
    (["--nproc", "0"], "at least 1"),
])
def test_bad_input_exits_2(record, args, message):
    done = run_tool(str(record), *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_an_incomplete_log_under_the_final_name_is_moved_aside(record, smoke_data_env):
    seed_log_path(record, 4).write_text("step:1/6 train_loss:6.9\n")
    outcome = run_seed(record, 4, nproc=1, env={**TINY_ENV, **smoke_data_env, "VOCAB_SIZE": "512", "OMP_NUM_THREADS": "1"})
    assert outcome.status == "failed" and not seed_log_path(record, 4).exists()
    assert "VOCAB_SIZE=512" in outcome.message and (record / "train_seed4.log.partial").is_file()


def test_missing_script_exits_2(tmp_path):
    done = run_tool(str(tmp_path))
    assert done.returncode == 2 and "no train_gpt.py" in done.stderr
    with pytest.raises(InputError, match="no training script"):
        run_seed(tmp_path, 1, nproc=1)


def test_progress_line_and_eta():
    progress = SeedProgress(42)
    assert progress.feed("model_params:123") is None
    assert progress.feed("step:10/1010 train_loss:3.5000 train_time:1000ms step_avg:100.00ms") == \
        "seed 42  step 10/1010  train_loss 3.5000  ETA 1m40s"
    assert progress.feed("step:1000/1010 val_loss:2.1000 val_bpb:1.2345 train_time:99000ms step_avg:99.00ms") == \
        "seed 42  step 1000/1010  train_loss 3.5000  val_bpb 1.2345  ETA 1s"


def test_eta_stops_at_the_wallclock_cap():
    progress = SeedProgress(1)
    progress.feed("train_batch_tokens:524288 train_seq_len:1024 iterations:20000 warmup_steps:20 max_wallclock_seconds:600.000")
    assert progress.feed("step:1000/20000 train_loss:3.0000 train_time:45000ms step_avg:45.00ms").endswith("ETA 9m15s")
