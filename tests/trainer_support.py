"""Helpers for the trainer tests: run train_gpt.py with torchrun on the tiny config."""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from golf.smoke import TINY_ENV, TRAINER, run_env, torchrun_command

FINAL_LINE = re.compile(r"^final_int8_(zlib|zstd)_roundtrip_exact val_loss:([0-9.]+) val_bpb:([0-9.]+)$", re.M)
TOTAL_LINE = re.compile(r"^Total submission size int8\+(?:zlib|zstd): (\d+) bytes$", re.M)


def run_trainer(workdir: Path, data_env: dict, overrides: dict | None = None, nproc: int = 1,
                script: Path = TRAINER) -> tuple[subprocess.CompletedProcess, str]:
    """Run the trainer with the tiny config in workdir; return the process and its log text."""
    env = run_env({**TINY_ENV, **data_env, "RUN_ID": "test", **(overrides or {})})
    completed = subprocess.run(torchrun_command(nproc, script), cwd=workdir, env=env,
                               capture_output=True, text=True, timeout=600)
    log_path = workdir / "logs" / "test.txt"
    return completed, log_path.read_text() if log_path.exists() else ""


def processes_in(folder: Path) -> list[int]:
    """Live processes whose working directory is the folder (the trainer runs there)."""
    time.sleep(0.5)
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "cwd") == str(folder):
                found.append(int(entry.name))
        except OSError:
            continue
    return found
