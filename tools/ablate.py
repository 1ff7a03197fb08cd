#!/usr/bin/env python3
"""Paired ablation of the trainer's switches on CPU: every variant on the same seeds and data order.

    python tools/ablate.py                          # 5 default variants x 3 seeds, into ablation/
    python tools/ablate.py --variant pg1=PRECISION_GAIN=1.0 --seeds 2 --steps 60 --out /tmp/sweep

Runs go seed by seed (every variant for seed 1, then seed 2, ...; the variant order rotates by one
each seed) into OUT/<variant>/train_seed<s>.log through golf.runner, so an interrupted ablation
resumes where it stopped and skips completed runs.
The trainer is copied to OUT/train_gpt.py on first start and that copy runs every time, so a
resumed ablation keeps comparing like with like. Writes OUT/ablation.md and OUT/ablation.json,
and OUT/<variant>/curves.png through tools/plot_logs.py when matplotlib is installed.

Exit codes: 0 every run completed, 1 a run failed, 2 bad input, 130 interrupted (Ctrl-C).
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golf import ablation  # noqa: E402
from golf.findings import InputError  # noqa: E402
from golf.runner import SeedProgress, run_seed  # noqa: E402
from golf.smoke import REPO_ROOT, TRAINER, build_smoke_data, data_env  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "ablation"
DEFAULT_DATA = DEFAULT_OUT / "data"
PLOTTER = REPO_ROOT / "tools" / "plot_logs.py"
EXIT_INTERRUPTED = 130


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", default=None, metavar="NAME=ENV[,ENV...]",
                        help="a variant to run (repeatable; replaces the defaults; `baseline`, every switch "
                             "off, is always added); default: " + ", ".join(v.spec() for v in ablation.DEFAULT_VARIANTS))
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N for every variant (default 3)")
    parser.add_argument("--steps", type=int, default=None,
                        help="ITERATIONS per run, warmdown over the last third (default: the config's)")
    parser.add_argument("--nproc", type=int, default=1, help="processes per run for torchrun (default 1)")
    parser.add_argument("--threads", type=int, default=1,
                        help="OMP_NUM_THREADS per process (default 1: on a shared CPU, 2 threads ran slower)")
    parser.add_argument("--config", choices=sorted(ablation.CONFIGS), default="ablation",
                        help="model and batch settings: ablation (default, ~3 min a run) or tiny (seconds, for tests)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="data folder; built with make_smoke_data.py --corpus stdlib when it has no "
                             "tokenizer.model (default ablation/data)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder (default ablation/)")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.nproc < 1 or args.threads < 1 or (args.steps is not None and args.steps < 1):
        parser.error("--seeds, --steps, --nproc and --threads must be at least 1")
    return args


def ablation_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(ablation.CONFIGS[args.config])
    if args.steps is not None:
        env.update(ITERATIONS=str(args.steps), WARMDOWN_ITERS=str(args.steps // 3))
    return {**env, **ablation.SWITCHES_OFF, **data_env(args.data.resolve()), "OMP_NUM_THREADS": str(args.threads)}


def shown(path: Path) -> Path:
    """The path relative to the working folder when it lies inside it, for reports that travel."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def freeze_trainer(out: Path) -> Path:
    frozen = out / "train_gpt.py"
    if not frozen.is_file():
        shutil.copyfile(TRAINER, frozen)
    elif frozen.read_bytes() != TRAINER.read_bytes():
        print(f"note: {shown(frozen)} differs from {TRAINER.name}; runs keep using the copy "
              f"(delete {shown(out)} to start over)")
    return frozen


def progress_printer(label: str, seed: int) -> Callable[[str], None]:
    progress = SeedProgress(seed)

    def show(line: str) -> None:
        status = progress.feed(line)
        if status:
            print(f"{label}  {status}", flush=True)
    return show


def run_all(args, env, variants, trainer) -> list[ablation.RunResult]:
    """Seed-major order, so that a stopped ablation has whole seeds to pair."""
    results, total = [], args.seeds * len(variants)
    for seed in range(1, args.seeds + 1):
        turn = (seed - 1) % len(variants)  # rotate, so that a change in machine load hits no variant alone
        for variant in variants[turn:] + variants[:turn]:
            label = f"[{len(results) + 1}/{total}] {variant.name}"
            run_dir = args.out / variant.name
            run_dir.mkdir(parents=True, exist_ok=True)
            seed_run = run_seed(run_dir, seed, args.nproc, {**env, **variant.env}, progress_printer(label, seed),
                                str(trainer))
            print(f"{label}  {seed_run.status}: {seed_run.message}", flush=True)
            results.append(ablation.result_from_seed_run(variant.name, seed_run))
            if seed_run.status == "interrupted":
                return results
    return results


def write_reports(out: Path, text: str, markdown: str, report: str) -> None:
    print("\n" + text)
    (out / "ablation.md").write_text(markdown, encoding="utf-8")
    (out / "ablation.json").write_text(report + "\n", encoding="utf-8")
    print(f"wrote {out / 'ablation.md'} and {out / 'ablation.json'}")


def plot_curves(out: Path, variants: list[ablation.Variant]) -> None:
    """OUT/<variant>/curves.png through tools/plot_logs.py; matplotlib is optional."""
    if importlib.util.find_spec("matplotlib") is None:
        print("curves: skipped, matplotlib is not installed (pip install matplotlib, then re-run: runs are skipped)")
        return
    for variant in variants:
        folder = out / variant.name
        subprocess.run([sys.executable, str(PLOTTER), str(folder), "-o", str(folder / "curves.png")], check=False)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        variants = ablation.with_baseline([ablation.parse_variant(s) for s in args.variant]
                                          if args.variant else list(ablation.DEFAULT_VARIANTS))
        if not (args.data / "tokenizer.model").is_file():
            build_smoke_data(args.data, ("--corpus", "stdlib"))
        env = ablation_env(args)
        stats = ablation.data_stats(args.data, env)
        ablation.check_manifest(args.out, env, variants)
        trainer = freeze_trainer(args.out)
        header = ablation.describe(args.config, env, stats, args.nproc, shown(args.data))
        print("\n".join(header), flush=True)
        results = run_all(args, env, variants, trainer)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = ablation.compare(results, variants)
    notes = ablation.notes(results, stats)
    command = " ".join(["python tools/ablate.py", *(sys.argv[1:] if argv is None else argv)])
    write_reports(args.out, ablation.render_text(rows) + "\n\n" + "\n".join(notes),
                  ablation.render_report(header, rows, notes, command),
                  ablation.report_json(rows, results, variants, env, stats))
    if any(result.status == "interrupted" for result in results):
        print(f"interrupted: re-run the same command to resume; completed runs in {args.out} are skipped")
        return EXIT_INTERRUPTED
    plot_curves(args.out, variants)
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
