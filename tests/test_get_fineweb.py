"""tools/get_fineweb.py as a real subprocess, against a local folder laid out like the Hugging Face repository."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from golf.shards import shard_token_count, write_shard

TOOLS = Path(__file__).resolve().parent.parent / "tools"
REMOTE_SHARDS = "datasets/datasets/fineweb10B_sp1024"
REMOTE_TOKENIZER = "datasets/tokenizers/fineweb_1024_bpe.model"


def run_tool(tool: str, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOLS / tool), *map(str, args)], capture_output=True, text=True, env=env)


def fetched(source: Path, out: Path, *args) -> dict:
    result = run_tool("get_fineweb.py", "--source", source, "--out", out, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def statuses(summary: dict) -> dict[str, str]:
    return {Path(entry["path"]).name: entry["status"] for entry in summary["files"]}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """Three small train shards, one val shard and a real 1024-token tokenizer, in the repository's layout."""
    root = tmp_path_factory.mktemp("source")
    shards = root / REMOTE_SHARDS
    shards.mkdir(parents=True)
    for index in range(3):
        write_shard(shards / f"fineweb_train_{index:06d}.bin", np.arange(1000 + index) % 1024)
    write_shard(shards / "fineweb_val_000000.bin", np.arange(500) % 1024)
    smoke = tmp_path_factory.mktemp("smoke")
    assert run_tool("make_smoke_data.py", "--out", smoke).returncode == 0
    (root / REMOTE_TOKENIZER).parent.mkdir(parents=True)
    shutil.copyfile(smoke / "tokenizer.model", root / REMOTE_TOKENIZER)
    return root


def test_layout_matches_the_readme_paths(source, tmp_path):
    summary = fetched(source, tmp_path, "--train-shards", 2)
    data = tmp_path / "datasets" / "fineweb10B_sp1024"
    assert summary["data_path"] == str(data)
    assert summary["tokenizer_path"] == str(tmp_path / "tokenizers" / "fineweb_1024_bpe.model")
    names = ["fineweb_train_000000.bin", "fineweb_train_000001.bin", "fineweb_val_000000.bin"]
    assert sorted(path.name for path in data.iterdir()) == names
    for name in names:
        assert (data / name).read_bytes() == (source / REMOTE_SHARDS / name).read_bytes()
    assert (tmp_path / "tokenizers" / "fineweb_1024_bpe.model").read_bytes() == (source / REMOTE_TOKENIZER).read_bytes()
    assert summary["fetched"] == 4 and summary["present"] == 0
    assert not (tmp_path / ".incoming").exists()


def test_resume_skips_valid_files_and_refetches_damaged_ones(source, tmp_path):
    fetched(source, tmp_path)
    data = tmp_path / "datasets" / "fineweb10B_sp1024"
    partial = data / "fineweb_train_000001.bin"
    partial.write_bytes(partial.read_bytes()[:700])
    (tmp_path / "tokenizers" / "fineweb_1024_bpe.model").write_bytes(b"not a model")
    (tmp_path / ".incoming").mkdir()
    (tmp_path / ".incoming" / "leftover.bin").write_bytes(b"from an interrupted run")
    summary = fetched(source, tmp_path)
    assert statuses(summary) == {
        "fineweb_val_000000.bin": "present",
        "fineweb_train_000000.bin": "present",
        "fineweb_train_000001.bin": "fetched",
        "fineweb_train_000002.bin": "present",
        "fineweb_1024_bpe.model": "fetched",
    }
    assert shard_token_count(partial) == 1001
    assert set(statuses(fetched(source, tmp_path)).values()) == {"present"}


def test_progress_lines_name_each_file(source, tmp_path):
    result = run_tool("get_fineweb.py", "--source", source, "--out", tmp_path, "--train-shards", 1)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"[1/3] fetched fineweb_val_000000.bin {1024 + 2 * 500:,} bytes"
    assert lines[-1].startswith(f"DATA_PATH={tmp_path / 'datasets' / 'fineweb10B_sp1024'} TOKENIZER_PATH=")


def test_invalid_source_file_is_never_put_in_place(source, tmp_path):
    broken = tmp_path / "source"
    shutil.copytree(source, broken)
    shard = broken / REMOTE_SHARDS / "fineweb_train_000000.bin"
    shard.write_bytes(shard.read_bytes()[:-10])
    result = run_tool("get_fineweb.py", "--source", broken, "--out", tmp_path / "out")
    assert result.returncode == 1
    assert "fineweb_train_000000.bin" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "datasets" / "fineweb10B_sp1024" / "fineweb_train_000000.bin").exists()
    assert not list((tmp_path / "out").rglob("fineweb_train_000000.bin*"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--train-shards", "5"], "has 3 for sp1024"),
        (["--variant", "sp4096"], "variants there: sp1024"),
        (["--variant", "byte260"], "sp<vocab size>"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(source, tmp_path, args, message):
    result = run_tool("get_fineweb.py", "--source", source, "--out", tmp_path, *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_offline_without_source_fails_in_one_line(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"))
    result = run_tool("get_fineweb.py", "--out", tmp_path / "out", env=env)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "pip install huggingface_hub" in result.stderr or "cannot list Hugging Face dataset" in result.stderr


def test_help():
    result = run_tool("get_fineweb.py", "--help")
    assert result.returncode == 0 and "--train-shards" in result.stdout
