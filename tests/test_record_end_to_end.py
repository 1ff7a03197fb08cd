"""The entrant's loop on CPU, through the real command lines:

make_record smoke --patch sliding_window_eval -> run_seeds --seeds 1 2 3 --nproc 1 (tiny config on
the smoke data) -> make_submission -> check_submission --track non_record_16mb passes; then one
edited byte of train_gpt.py, or one edited score in submission.json, fails with the right check id.
"""
from __future__ import annotations

import json
import shutil
import os
import subprocess
import sys
from pathlib import Path

import pytest

from golf.smoke import REPO_ROOT, TINY_ENV

DAY = "2026-04-30"


def tool(name: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO_ROOT / "tools" / f"{name}.py"), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert "Traceback" not in done.stderr, done.stderr
    return done


def failing_checks(folder: Path) -> set[str]:
    done = tool("check_submission", str(folder), "--track", "non_record_16mb", "--json")
    result = json.loads(done.stdout)
    assert done.returncode == (1 if result["verdict"] == "fail" else 0)
    return {check["id"] for check in result["checks"] if check["status"] == "FAIL"}


@pytest.fixture(scope="module")
def submitted(tmp_path_factory, smoke_data_env):
    root = tmp_path_factory.mktemp("e2e")
    made = tool("make_record", "smoke", "--patch", "sliding_window_eval", "--track", "non_record_16mb",
                "--records-root", str(root / "records"), "--date", DAY)
    assert made.returncode == 0, made.stderr
    folder = root / "records" / "track_non_record_16mb" / f"{DAY}_smoke"
    env = [arg for key, value in {**TINY_ENV, **smoke_data_env}.items() for arg in ("--env", f"{key}={value}")]
    ran = tool("run_seeds", str(folder), "--seeds", "1", "2", "3", "--nproc", "1", *env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    filled = tool("make_submission", str(folder), "--author", "Smoke Test", "--github-id", "smoke",
                  "--root-json", str(root / "submission.json"))
    assert filled.returncode == 0, filled.stdout + filled.stderr
    return folder


def test_the_loop_produces_a_folder_the_checker_passes(submitted):
    checked = tool("check_submission", str(submitted), "--track", "non_record_16mb")
    assert checked.returncode == 0, checked.stdout
    data = json.loads((submitted / "submission.json").read_text())
    assert data["seeds"] == [1, 2, 3] and data["status"] == "ready"
    assert data["compliance"]["reproducible_from_patches"] is True
    assert sorted(p.name for p in submitted.glob("train_seed*.log")) == ["train_seed1.log", "train_seed2.log", "train_seed3.log"]


def test_one_byte_of_the_script_fails_provenance(submitted, tmp_path):
    folder = copy_of(submitted, tmp_path)
    script = folder / "train_gpt.py"
    data = bytearray(script.read_bytes())
    at = data.index(b"low=1)")
    data[at + 4] = ord("2")  # low=1) -> low=2)
    script.write_bytes(bytes(data))
    assert "provenance" in failing_checks(folder)


def test_one_score_in_submission_json_is_reported_by_submission_json(submitted, tmp_path):
    """A claim the logs do not back is a WARN with the figures (merged records show such gaps accepted)."""
    folder = copy_of(submitted, tmp_path)
    path = folder / "submission.json"
    data = json.loads(path.read_text())
    data["seed_results"]["2"]["val_bpb"] = round(data["seed_results"]["2"]["val_bpb"] - 0.01, 8)
    path.write_text(json.dumps(data, indent=2))
    done = tool("check_submission", str(folder), "--track", "non_record_16mb", "--json")
    warned = [check for check in json.loads(done.stdout)["checks"]
              if check["id"] == "submission_json" and check["status"] == "WARN"]
    assert done.returncode == 0 and any(check["message"].startswith("seed 2: val_bpb") for check in warned)


def copy_of(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "track_non_record_16mb" / folder.name
    shutil.copytree(folder, copy)
    return copy
