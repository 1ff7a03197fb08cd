"""tools/check_submission.py on a record folder built from the frontier_0323 stack (score-first TTT).

make_record --stack frontier_0323 -> run_seeds (one tiny CPU seed on the smoke data) ->
make_submission -> check_submission: the folder passes under --policy competition, where
score-first TTT is legal (RULES.md E1, merged PR #549), and fails check `ttt` under --policy
strict, where no test-time training is.

The two policy tests need an analysis that follows the validation glob through our trainer's
Hyperparameters: it is set in __init__ (`self.val_files = os.path.join(self.data_path,
"fineweb_val_*.bin")`) and read in main() as `load_validation_tokens(args.val_files, ...)`.
golf/analysis.py as committed at 5c60f13 loses the flag there and PASSes `ttt` under both
policies ("no backward pass or optimizer step on validation data"); the checker's pending change
follows it and gives E1: PASS under competition, FAIL under strict.
"""
from __future__ import annotations

import json
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


@pytest.fixture(scope="module")
def record(tmp_path_factory, smoke_data_env):
    root = tmp_path_factory.mktemp("frontier_0323")
    made = tool("make_record", "frontier_0323", "--stack", "frontier_0323", "--track", "non_record_16mb",
                "--records-root", str(root / "records"), "--date", DAY)
    assert made.returncode == 0, made.stderr
    folder = root / "records" / "track_non_record_16mb" / f"{DAY}_frontier_0323"
    env = [arg for key, value in {**TINY_ENV, **smoke_data_env}.items() for arg in ("--env", f"{key}={value}")]
    ran = tool("run_seeds", str(folder), "--seeds", "1", "--nproc", "1", *env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    filled = tool("make_submission", str(folder), "--author", "Smoke Test", "--github-id", "smoke",
                  "--policy", "competition", "--root-json", str(root / "submission.json"))
    assert filled.returncode == 0, filled.stdout + filled.stderr
    return folder


def check(folder: Path, policy: str) -> tuple[int, dict[str, dict]]:
    done = tool("check_submission", str(folder), "--track", "non_record_16mb", "--policy", policy, "--json")
    return done.returncode, {finding["id"]: finding for finding in json.loads(done.stdout)["checks"]}


def test_the_folder_scores_with_legal_ttt_and_passes_the_competition_policy(record):
    assert "legal_ttt_exact" in (record / "train_seed1.log").read_text()
    code, findings = check(record, "competition")
    assert code == 0, {i: f["message"] for i, f in findings.items() if f["status"] == "FAIL"}
    assert findings["provenance"]["status"] == "PASS" and findings["ttt"]["status"] == "PASS"


def test_competition_policy_passes_ttt_as_score_first(record):
    _, findings = check(record, "competition")
    assert "score-first TTT (E1)" in findings["ttt"]["message"]


def test_strict_policy_fails_ttt(record):
    code, findings = check(record, "strict")
    assert code == 1 and findings["ttt"]["status"] == "FAIL"
