#!/usr/bin/env python3
"""Train a record folder's train_gpt.py once per seed and write train_seed<SEED>.log beside it.

Each seed runs `torchrun --standalone --nproc_per_node=N train_gpt.py` inside RECORD_DIR with
this process's environment, the --env pairs, SEED and RUN_ID=train_seed<SEED>, and its own
ARTIFACT_PATH/RAW_MODEL_PATH. Progress (step, last train/val figures, ETA) streams as it runs.
A seed whose complete log exists is skipped, so re-running resumes; a failed or interrupted
seed leaves train_seed<SEED>.log.partial, never a log that looks complete. Ctrl-C stops the
run cleanly.

Exit codes: 0 every seed done or skipped, 1 a seed failed, 2 bad input, 130 interrupted.
Example: python tools/run_seeds.py records/track_10min_16mb/2026-04-30_EMA --seeds 42 314 999
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golf import stats  # noqa: E402
from golf.checks import check_record  # noqa: E402
from golf.findings import InputError  # noqa: E402
from golf.record import load_record  # noqa: E402
from golf.runner import SeedProgress, run_seed  # noqa: E402
from golf.submission import seed_results, significance_lines  # noqa: E402

ECHOED = ("error", "Error", "WARNING", "final_", "ema:")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("record_dir", type=Path, metavar="RECORD_DIR", help="record folder holding train_gpt.py")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 314, 999], help="seeds to run, in order (default 42 314 999)")
    parser.add_argument("--nproc", type=int, default=8, help="processes per run, torchrun --nproc_per_node (default 8)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for every run, e.g. --env EVAL_STRIDE=64 (repeatable)")
    parser.add_argument("--sota", metavar="BPB|RECORD_DIR", help="also print the significance against this record")
    args = parser.parse_args(argv)
    try:
        env = _env_pairs(args.env)
        _check_folder(args.record_dir, args.seeds, args.nproc)
        failed = _run_all(args.record_dir, args.seeds, args.nproc, env)
        if failed is None:
            return 130
        _summary(args.record_dir, args.seeds, args.sota)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 1 if failed else 0


def _env_pairs(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--env {pair!r} is not KEY=VALUE (e.g. --env EVAL_STRIDE=64)")
        env[key.strip()] = value
    return env


def _check_folder(folder: Path, seeds: list[int], nproc: int) -> None:
    if not (folder / "train_gpt.py").is_file():
        raise InputError(f"{folder}: no train_gpt.py; create the folder with tools/make_record.py")
    if len(set(seeds)) != len(seeds):
        raise InputError(f"--seeds {' '.join(map(str, seeds))} repeats a seed; each seed is one run")
    if nproc < 1:
        raise InputError(f"--nproc {nproc} must be at least 1 (8 on 8xH100, 1 on CPU)")


def _run_all(folder: Path, seeds: list[int], nproc: int, env: dict[str, str]) -> list[int] | None:
    """Run each seed; the failed seeds, or None when Ctrl-C stopped the series."""
    failed = []
    for index, seed in enumerate(seeds, 1):
        print(f"[{index}/{len(seeds)}] seed {seed}", flush=True)
        progress = SeedProgress(seed)
        outcome = run_seed(folder, seed, nproc=nproc, env=env, on_progress=lambda line, p=progress: _show(p, line))
        print(f"  {outcome.status}: {outcome.message}", flush=True)
        if outcome.status == "interrupted":
            print(f"interrupted: seed {seed} stopped, completed seeds are kept; re-run the same command to resume",
                  file=sys.stderr)
            return None
        if outcome.status == "failed":
            failed.append(seed)
    return failed


def _show(progress: SeedProgress, line: str) -> None:
    status = progress.feed(line)
    if status is not None:
        print(f"  {status}", flush=True)
    elif line.startswith(ECHOED) or (line.startswith("Total submission size ") and "+" in line):
        print(f"  | {line}", flush=True)


def _summary(folder: Path, seeds: list[int], sota: str | None) -> None:
    wanted = {str(seed) for seed in seeds}
    results = [r for r in seed_results(load_record(folder)) if r.seed in wanted]
    for r in results:
        print(f"seed {r.seed}: val_bpb {r.val_bpb:.8f} val_loss {r.val_loss:.8f} "
              f"artifact {r.artifact_bytes if r.artifact_bytes is not None else 'n/a'} bytes ({r.log}:{r.line})")
    if not results:
        return
    mean_bpb, std_bpb = stats.mean_std([r.val_bpb for r in results])
    print(f"mean val_bpb {mean_bpb:.8f} ± {std_bpb:.8f} over {len(results)} seed(s)")
    if sota is not None:
        for line in significance_lines(check_record(folder, sota=sota).stats):
            if line:
                print(line)


if __name__ == "__main__":
    sys.exit(main())
