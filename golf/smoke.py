"""The embedded smoke default: a small config that trains on CPU in a couple of minutes.

One place for it, so the quick start, the tests, the seed runner and the ablation agree.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAINER = REPO_ROOT / "train_gpt.py"
SMOKE_DATA_DIR = REPO_ROOT / "smoke_data"

# Small enough for 2 CPU cores, large enough to leave the unigram stage. The iteration-based
# warmdown (MAX_WALLCLOCK_SECONDS=0) keeps runs deterministic for a given seed.
SMOKE_ENV = {
    "VOCAB_SIZE": "1024",
    "NUM_LAYERS": "4",
    "MODEL_DIM": "128",
    "NUM_HEADS": "4",
    "NUM_KV_HEADS": "2",
    "TRAIN_SEQ_LEN": "256",
    "TRAIN_BATCH_TOKENS": "8192",
    "ITERATIONS": "100",
    "WARMUP_STEPS": "2",
    "WARMDOWN_ITERS": "30",
    "VAL_LOSS_EVERY": "50",
    "TRAIN_LOG_EVERY": "10",
    "VAL_BATCH_SIZE": "65536",
    "MAX_WALLCLOCK_SECONDS": "0",
}

# A much smaller model for tests: seconds per run.
TINY_ENV = {
    **SMOKE_ENV,
    "NUM_LAYERS": "2",
    "MODEL_DIM": "64",
    "NUM_HEADS": "2",
    "NUM_KV_HEADS": "1",
    "TRAIN_SEQ_LEN": "64",
    "TRAIN_BATCH_TOKENS": "1024",
    "ITERATIONS": "6",
    "WARMUP_STEPS": "1",
    "WARMDOWN_ITERS": "2",
    "VAL_LOSS_EVERY": "3",
    "TRAIN_LOG_EVERY": "1",
    "VAL_BATCH_SIZE": "8192",
}


def data_env(data_dir: Path) -> dict[str, str]:
    return {"DATA_PATH": str(data_dir), "TOKENIZER_PATH": str(Path(data_dir) / "tokenizer.model")}


def build_smoke_data(data_dir: Path = SMOKE_DATA_DIR, extra_args: tuple[str, ...] = ()) -> None:
    """Run tools/make_smoke_data.py (a no-op when the data is already there)."""
    command = [sys.executable, str(REPO_ROOT / "tools" / "make_smoke_data.py"), "--out", str(data_dir), *extra_args]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def torchrun_command(nproc: int, script: Path = TRAINER) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", str(script)]


def run_env(overrides: dict[str, str]) -> dict[str, str]:
    """The caller's environment plus overrides, with one thread per process: CPU cores are few."""
    env = {**os.environ, **overrides}
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def import_trainer():
    """Load train_gpt.py as a module (it is a script, not part of the package) for in-process use."""
    spec = importlib.util.spec_from_file_location("train_gpt", TRAINER)
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_gpt"] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module
