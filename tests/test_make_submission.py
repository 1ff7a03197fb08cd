"""tools/make_submission.py: submission.json and the README table from real tiny-run logs and the checker."""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from golf.logs import parse_log_file
from golf.runner import run_seed
from golf.smoke import REPO_ROOT, TINY_ENV
from golf.submission import create_record

TOOL = REPO_ROOT / "tools" / "make_submission.py"
SEEDS = (11, 12)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, smoke_data_env):
    """A non-record folder (sliding-window patch) with two complete tiny seeds; copied per test."""
    root = tmp_path_factory.mktemp("records")
    folder = create_record("Tiny", [REPO_ROOT / "patches" / "sliding_window_eval.patch"], "non_record_16mb",
                           REPO_ROOT / "train_gpt.py", root, "2026-04-30")
    for seed in SEEDS:
        outcome = run_seed(folder, seed, nproc=1, env={**TINY_ENV, **smoke_data_env, "OMP_NUM_THREADS": "1"})
        assert outcome.status == "done", outcome.message
    return folder


@pytest.fixture
def record(trained, tmp_path):
    folder = tmp_path / "track_non_record_16mb" / trained.name
    shutil.copytree(trained, folder)
    return folder


def make_submission(folder: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(TOOL), str(folder), "--root-json", str(folder.parent / "root_submission.json"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


def line_of(path: Path, number: int) -> str:
    return path.read_text(encoding="utf-8").split("\n")[number - 1]


def test_every_number_comes_from_a_log_line(record):
    done = make_submission(record, "--author", "Ada", "--github-id", "ada")
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((record / "submission.json").read_text())
    runs = {seed: parse_log_file(record / f"train_seed{seed}.log") for seed in SEEDS}
    assert data["seeds"] == list(SEEDS) and data["status"] == "ready"
    for seed, run in runs.items():
        entry = data["seed_results"][str(seed)]
        log_name, line = entry["source"].split(":")
        assert log_name == f"train_seed{seed}.log"
        assert line_of(record / log_name, int(line)) == f"final_sliding_window_exact val_loss:{entry['val_loss']:.8f} val_bpb:{entry['val_bpb']:.8f}"
        assert (entry["val_bpb"], entry["val_loss"]) == (run.final.val_bpb, run.final.val_loss)
        assert f"Total submission size int8+zlib: {entry['artifact_bytes']} bytes" in (record / log_name).read_text()
        assert f"Serialized model int8+zlib: {entry['bytes_model']} bytes" in (record / log_name).read_text()
        assert entry["train_time_ms"] == run.train_time_ms.value and entry["eval_time_ms"] == run.eval_time_ms
        assert entry["steps"] == int(TINY_ENV["ITERATIONS"])
    bpbs = [runs[s].final.val_bpb for s in SEEDS]
    assert data["val_bpb"] == round(statistics.fmean(bpbs), 8)
    assert data["val_bpb_std"] == round(statistics.stdev(bpbs), 8)
    assert data["val_loss"] == round(statistics.fmean(runs[s].final.val_loss for s in SEEDS), 8)
    assert data["bytes_total"] == max(data["seed_results"][str(s)]["artifact_bytes"] for s in SEEDS)
    assert data["bytes_code"] == runs[SEEDS[0]].code_bytes.value == (record / "train_gpt.py").stat().st_size
    assert data["hardware"] == "1x cpu" and data["pytorch_version"] == torch.__version__
    assert (data["author"], data["github_id"]) == ("Ada", "ada")
    assert data["compliance"]["artifact_under_16mb"] is True and data["compliance"]["checker_verdict"] == "pass"
    assert data["compliance"]["evaluation_rules"] is True


def test_readme_table_and_root_json(record):
    assert make_submission(record).returncode == 0
    data = json.loads((record / "submission.json").read_text())
    readme = (record / "README.md").read_text()
    for seed in SEEDS:
        entry = data["seed_results"][str(seed)]
        assert f"| {seed} | {entry['val_loss']:.8f} | {entry['val_bpb']:.8f} | {entry['artifact_bytes']:,} |" in readme
    assert f"**{data['val_bpb']:.8f}**" in readme and "No runs yet" not in readme
    assert readme.count("<!-- results:start") == 1 and "## What changed" in readme
    root = json.loads((record.parent / "root_submission.json").read_text())
    assert root["record"] == str(record) and root["val_bpb"] == data["val_bpb"] and root["status"] == data["status"]


def test_rerun_is_idempotent_and_keeps_the_author(record):
    assert make_submission(record, "--author", "Ada", "--github-id", "ada").returncode == 0
    first = ((record / "submission.json").read_bytes(), (record / "README.md").read_bytes())
    assert make_submission(record).returncode == 0
    assert ((record / "submission.json").read_bytes(), (record / "README.md").read_bytes()) == first


def test_significance_against_a_bpb_and_a_record_folder(record, tmp_path):
    done = make_submission(record, "--sota", "9.0")
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads((record / "submission.json").read_text())["significance"]
    assert figures["sota"]["val_bpb"] == 9.0 and figures["gap_bpb"] < 0
    assert figures["written_rule"]["p"] is not None and figures["gap_nats_per_token"] < 0
    assert "One-sided one-sample t-test of val_loss against SOTA − 0.005 nats: t = " in (record / "README.md").read_text()

    previous = tmp_path / "previous"
    shutil.copytree(record, previous)
    assert make_submission(record, "--sota", str(previous)).returncode == 0
    figures = json.loads((record / "submission.json").read_text())["significance"]
    assert figures["sota"]["n"] == len(SEEDS) and figures["welch_written"]["test"]
    assert "Welch t-test" in (record / "README.md").read_text()


def test_no_complete_log_is_an_input_error(tmp_path):
    folder = create_record("Empty", [], "non_record_16mb", REPO_ROOT / "train_gpt.py", tmp_path, "2026-04-30")
    (folder / "train_seed1.log.partial").write_text("step:1/6 train_loss:6.9\n")
    draft = (folder / "submission.json").read_bytes()
    done = make_submission(folder)
    assert done.returncode == 2 and "run tools/run_seeds.py first" in done.stderr and "Traceback" not in done.stderr
    assert (folder / "submission.json").read_bytes() == draft


def test_bad_sota_writes_nothing(record):
    before = (record / "submission.json").read_bytes()
    done = make_submission(record, "--sota", "not-a-number-or-folder")
    assert done.returncode == 2 and "--sota" in done.stderr and "Traceback" not in done.stderr
    assert (record / "submission.json").read_bytes() == before


def test_missing_folder_exits_2(tmp_path):
    done = make_submission(tmp_path / "nope")
    assert done.returncode == 2 and "no such record folder" in done.stderr


def test_root_draft_says_no_runs_yet():
    root = json.loads((REPO_ROOT / "submission.json").read_text())
    assert root["status"] in ("draft", "ready", "check_failed")
    if root["status"] == "draft" and root["record"] is None:
        assert root["val_bpb"] is None and root["seed_results"] == {} and "No runs yet" in root["blurb"]
