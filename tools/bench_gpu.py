#!/usr/bin/env python3
"""Run the challenge baseline and our trainer side by side on CUDA and print one comparison table.

Builds the smoke data set (tools/make_smoke_data.py: a real SentencePiece tokenizer and real
shards), then runs one after another with `torchrun --standalone --nproc_per_node=N`:
(a) the baseline script, (b) our train_gpt.py with every switch off, (c) ours with every switch
on at the sources' strengths; all at the baseline's shape and batch (golf.bench_gpu.BENCH_ENV).
Each run works in its own folder OUT/<run> (logs/<run>.txt, console.txt, the artifacts); the
summary is also written to OUT/bench.json. Progress lines go to stderr while a run compiles and trains.

Table: median step ms after warmup, ratio to the baseline, peak GPU memory, train_loss at steps
1, 2, 5, 10 and the last, the largest |Δ train_loss| against the baseline over steps 1..10, and
the final int8+zlib round-trip val_bpb.

Ctrl-C or SIGTERM (`timeout 500 python3 tools/bench_gpu.py ...`) stops the run in progress and
still prints the table of the runs that finished.

Exit codes: 0 every run finished, 1 a run failed, 2 could not run (bad input, no CUDA), 130 interrupted.
Example: python3 tools/bench_gpu.py --baseline gpu_ref/challenge_train_gpt.py --steps 100 --out /tmp/bench
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golf.bench_gpu import (BENCH_ENV, RUNS, bench_command, bench_env, execute, render_json,  # noqa: E402
                            render_table, summarize)
from golf.findings import InputError  # noqa: E402
from golf.smoke import REPO_ROOT, SMOKE_DATA_DIR, build_smoke_data  # noqa: E402

NPROC_CHOICES = (1, 2, 4, 8)  # the trainers split 8 micro-batches across ranks
SUMMARY_NAME = "bench.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="the challenge's train_gpt.py to compare against")
    parser.add_argument("--steps", type=int, default=100, help="training steps per run, ITERATIONS (default 100)")
    parser.add_argument("--nproc", type=int, default=1, help="GPUs per run, torchrun --nproc_per_node: 1, 2, 4 or 8 (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "logs" / "bench_gpu",
                        help="folder for the runs' working folders and bench.json (default logs/bench_gpu)")
    args = parser.parse_args(argv)
    try:
        check_args(args)
        check_cuda(args.nproc)
        build_data()
        summary = run_all(args)
    except InputError as error:
        print(f"bench_gpu: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"bench_gpu: cannot write {error.filename or args.out}: {error.strerror}; pass another --out", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench_gpu: interrupted", file=sys.stderr)
        return 130
    print(render_json(summary) if args.json else render_table(summary))
    return 130 if summary["interrupted"] else 1 if summary["failed"] else 0


def check_args(args) -> None:
    if not args.baseline.is_file():
        raise InputError(f"--baseline {args.baseline}: no such file; pass the challenge's train_gpt.py")
    if args.steps < 1:
        raise InputError(f"--steps {args.steps}: pass 1 or more")
    if args.nproc not in NPROC_CHOICES:
        raise InputError(f"--nproc {args.nproc}: pass one of {', '.join(map(str, NPROC_CHOICES))} (it must divide 8)")


def check_cuda(nproc: int) -> None:
    """Before anything is built: the runs need nproc CUDA devices (both trainers compile for CUDA)."""
    try:
        import torch
    except ImportError:
        raise InputError("PyTorch is not installed for this python; run with the python that has torch") from None
    if not torch.cuda.is_available():
        raise InputError(f"CUDA is not available (torch {torch.__version__}): run this on a machine with an NVIDIA GPU")
    if torch.cuda.device_count() < nproc:
        raise InputError(f"--nproc {nproc} needs {nproc} GPUs; this machine has {torch.cuda.device_count()}")


def build_data() -> None:
    progress(f"building the smoke data set in {SMOKE_DATA_DIR}")
    try:
        build_smoke_data(SMOKE_DATA_DIR)
    except subprocess.CalledProcessError as error:
        raise InputError(f"tools/make_smoke_data.py failed (exit {error.returncode}) building {SMOKE_DATA_DIR}") from None


def run_all(args) -> dict:
    """The runs in order; an interrupted one (Ctrl-C, `timeout -s INT`) ends the loop with what finished."""
    outcomes = []
    for run in RUNS:
        work_dir = args.out / run.name
        progress(f"{run.label}: starting in {work_dir}")
        env = {**os.environ, **bench_env(run, args.steps, SMOKE_DATA_DIR)}
        outcomes.append(execute(run, bench_command(run, args.nproc, args.baseline), env, work_dir, progress))
        if outcomes[-1].interrupted:
            break
    settings = {"steps": args.steps, "nproc": args.nproc, "baseline_script": str(args.baseline), "out": str(args.out),
                "env": BENCH_ENV}
    summary = summarize(outcomes, settings)
    (args.out / SUMMARY_NAME).write_text(render_json(summary, indent=2) + "\n")
    return summary


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def progress(message: str) -> None:
    print(f"bench_gpu: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)  # `timeout` sends SIGTERM: keep the runs that finished
    sys.exit(main())
