"""End-to-end: smoke data -> torchrun on CPU -> artifact -> round-trip score, for every switch."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from golf.smoke import TINY_ENV, TRAINER, run_env
from trainer_support import FINAL_LINE, TOTAL_LINE, run_trainer

SWITCHES = {
    "baseline": {},
    "bpb": {"BPB_WEIGHTED_LOSS": "1"},
    "token_gain": {"PRECISION_GAIN": "0.5"},
    "layer_gain": {"LAYER_GAIN": "0.5"},
    "all": {"BPB_WEIGHTED_LOSS": "1", "PRECISION_GAIN": "0.5", "LAYER_GAIN": "0.5", "MUON_MOMENTUM_WARMUP_STEPS": "0"},
}


@pytest.mark.parametrize("name", SWITCHES)
def test_run_writes_artifact_log_and_roundtrip_score(tmp_path, smoke_data_env, name):
    completed, log = run_trainer(tmp_path, smoke_data_env, SWITCHES[name])
    assert completed.returncode == 0, completed.stderr[-2000:]

    source, separator, rest = log.partition("=" * 100)
    assert separator and source.rstrip("\n") == TRAINER.read_text().rstrip("\n")
    assert re.search(r"^step:6/6 val_loss:[0-9.]+ val_bpb:[0-9.]+ train_time:\d+ms step_avg:[0-9.]+ms$", rest, re.M)
    final = FINAL_LINE.search(rest)
    assert final and 0 < float(final.group(3)) < 20
    total = int(TOTAL_LINE.search(rest).group(1))
    artifact = tmp_path / "final_model.int8.ptz"
    code_bytes = len(TRAINER.read_text().encode("utf-8"))
    assert total == artifact.stat().st_size + code_bytes
    assert f"Code size: {code_bytes} bytes" in rest

    switches = re.search(r"^switches (.*)$", rest, re.M).group(1)
    for variable, value in SWITCHES[name].items():
        assert f"{variable.lower()}:{value}" in switches or f"{variable.lower()}:{float(value)}" in switches
    gain_lines = re.findall(r"^gain step:.*$", rest, re.M)
    gains_on = "PRECISION_GAIN" in SWITCHES[name] or "LAYER_GAIN" in SWITCHES[name]
    assert len(gain_lines) == (6 if gains_on else 0)  # TRAIN_LOG_EVERY=1: one per step, none in warmup
    if "PRECISION_GAIN" in SWITCHES[name]:
        assert all(re.search(r"token_gain_mean:[0-9.]+ token_gain_std:[0-9.]+ token_gain_min:[0-9.]+ token_gain_max:[0-9.]+", line) for line in gain_lines)
    if "LAYER_GAIN" in SWITCHES[name]:
        assert all(re.search(r"layer_scales:[0-9.]+,[0-9.]+$", line) for line in gain_lines)


def test_two_gloo_ranks_with_both_gains_end_with_identical_parameters(tmp_path, smoke_data_env):
    overrides = {"PRECISION_GAIN": "0.5", "LAYER_GAIN": "1.0", "LAYER_GAIN_EXCLUDE": ""}
    completed, log = run_trainer(tmp_path, smoke_data_env, overrides, nproc=2)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "world_size:2 grad_accum_steps:4" in log
    assert re.search(r"^param_sync:identical ranks:2 digest:[0-9a-f]{16}$", log, re.M)
    assert FINAL_LINE.search(log)


def test_wallclock_cap_stops_early_in_the_baseline_format(tmp_path, smoke_data_env):
    completed, log = run_trainer(tmp_path, smoke_data_env, {"ITERATIONS": "100000", "MAX_WALLCLOCK_SECONDS": "1"})
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert re.search(r"^stopping_early: wallclock_cap train_time:\d+ms step:\d+/100000$", log, re.M)
    assert FINAL_LINE.search(log)


def test_slow_final_evaluation_is_flagged(tmp_path, smoke_data_env):
    completed, log = run_trainer(tmp_path, smoke_data_env, {"EVAL_BUDGET_SECONDS": "0.000001"})
    assert completed.returncode == 0
    assert re.search(r"^WARNING: eval over budget eval_time:\d+ms budget:0ms$", log, re.M)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"VOCAB_SIZE": "512"}, "error: VOCAB_SIZE=512 does not match the tokenizer (1024): pass VOCAB_SIZE=1024 or another TOKENIZER_PATH"),
        ({"DATA_PATH": "/nonexistent"}, "error: no validation shards match /nonexistent/fineweb_val_*.bin: check DATA_PATH"),
        ({"LAYER_GAIN": "-0.5"}, "error: LAYER_GAIN=-0.5 must be >= 0.0"),
        ({"PRECISION_GAIN_CLAMP": "5,1"}, "error: PRECISION_GAIN_CLAMP='5,1' needs 0 <= lo <= hi"),
    ],
)
def test_bad_input_is_one_line_on_stderr(tmp_path, smoke_data_env, overrides, message):
    env = run_env({**TINY_ENV, **smoke_data_env, **overrides})
    completed = subprocess.run([sys.executable, str(TRAINER)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert completed.returncode == 2
    assert completed.stderr.strip() == message
