#!/usr/bin/env python3
"""Paired ablation of the trainer's switches on CPU: every variant on the same seeds and data order.

    python tools/ablate.py                          # 10 default variants x 3 seeds, plus the long arm
    python tools/ablate.py --variant pg1=PRECISION_GAIN=1.0 --seeds 2 --steps 60 --long-steps 0 --out /tmp/sweep

Two arms: the short arm runs every variant (OUT/<variant>/); the long arm runs baseline and bpb at
--long-steps (OUT/long/<variant>/) to see whether a gap closes or widens with training. --jobs
runs go at a time, the long arm's first, then seed by seed (the variant order rotates by one each
seed), through golf.runner, so an interrupted ablation resumes where it stopped and skips
completed runs. The trainer is copied to
OUT/train_gpt.py on first start and that copy runs every time, so a resumed ablation keeps
comparing like with like. Writes OUT/ablation.md, OUT/ablation.json and, with matplotlib,
OUT/delta_bpb.png (Δval_bpb against step, one line per variant).

Exit codes: 0 every run completed, 1 a run failed, 2 bad input, 130 interrupted (Ctrl-C).
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golf import ablation  # noqa: E402
from golf.findings import InputError  # noqa: E402
from golf.runner import SeedProgress, run_seed, terminate_group  # noqa: E402
from golf.smoke import REPO_ROOT, TRAINER, build_smoke_data, data_env  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "ablation"
DEFAULT_DATA = DEFAULT_OUT / "docs_data"
EXIT_INTERRUPTED = 130


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", default=None, metavar="NAME=ENV[,ENV...]",
                        help="a short-arm variant to run (repeatable; replaces the defaults; `baseline`, every "
                             "switch off, is always added); default: "
                             + ", ".join(v.spec() for v in ablation.DEFAULT_VARIANTS))
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N for every variant of both arms (default 3)")
    parser.add_argument("--steps", type=int, default=None,
                        help="short-arm ITERATIONS, warmdown over the last 30%%, 8 validations (default: the config's, 200)")
    parser.add_argument("--long-steps", type=int, default=None,
                        help="long-arm ITERATIONS (baseline and bpb; default 4x the short arm's; 0 skips the arm)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="runs at a time (default 2: one per core; each run is deterministic for its seed)")
    parser.add_argument("--nproc", type=int, default=1,
                        help="processes per run for torchrun (default 1: on CPU, splitting a run costs more than it gains)")
    parser.add_argument("--threads", type=int, default=1,
                        help="OMP_NUM_THREADS per process (default 1: threads beside a busy core spin and stall)")
    parser.add_argument("--config", choices=sorted(ablation.CONFIGS), default="ablation",
                        help="model and batch settings: ablation (default, 1-2 min a run) or tiny (seconds, for tests)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="data folder; built with make_smoke_data.py --corpus docs when it has no "
                             "tokenizer.model (default ablation/docs_data)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder (default ablation/)")
    args = parser.parse_args(argv)
    if min(args.seeds, args.jobs, args.nproc, args.threads) < 1 or (args.steps is not None and args.steps < 1):
        parser.error("--seeds, --steps, --jobs, --nproc and --threads must be at least 1")
    if args.long_steps is not None and args.long_steps < 0:
        parser.error("--long-steps must be 0 (no long arm) or more")
    return args


def build_arms(args: argparse.Namespace, variants: list[ablation.Variant]) -> list[ablation.Arm]:
    short_env = ablation.CONFIGS[args.config]
    if args.steps is not None:
        short_env = ablation.with_steps(short_env, args.steps)
    long_steps = args.long_steps if args.long_steps is not None else ablation.LONG_FACTOR * int(short_env["ITERATIONS"])
    common = {**ablation.SWITCHES_OFF, **data_env(args.data.resolve()), "OMP_NUM_THREADS": str(args.threads)}
    arms = [ablation.Arm("short", "", {**short_env, **common}, tuple(variants), args.seeds)]
    if long_steps > 0:
        long_env = ablation.with_steps(short_env, long_steps)
        arms.append(ablation.Arm("long", "long", {**long_env, **common}, ablation.LONG_VARIANTS, args.seeds))
    return arms


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


def tasks_in_order(arms: list[ablation.Arm]) -> list[tuple[ablation.Arm, ablation.Variant, int]]:
    """The long arm first (its runs are the longest), each arm seed by seed so that a stopped
    ablation has whole seeds to pair; the variant order rotates by one each seed, so that a change
    in machine load hits no variant alone."""
    tasks = []
    for arm in sorted(arms, key=lambda arm: arm.name != "long"):
        variants = list(arm.variants)
        for seed in range(1, arm.seeds + 1):
            turn = (seed - 1) % len(variants)
            tasks += [(arm, variant, seed) for variant in variants[turn:] + variants[:turn]]
    return tasks


def run_all(args, arms: list[ablation.Arm], trainer: Path) -> tuple[list[ablation.RunResult], bool]:
    """--jobs runs at a time; (results in task order, True unless Ctrl-C stopped the ablation)."""
    tasks = tasks_in_order(arms)
    stop, live = threading.Event(), set()

    def work(number: int, arm: ablation.Arm, variant: ablation.Variant, seed: int) -> ablation.RunResult | None:
        if stop.is_set():
            return None
        label = f"[{number}/{len(tasks)} {arm.name}] {variant.name}"
        run_dir = args.out / arm.folder / variant.name
        run_dir.mkdir(parents=True, exist_ok=True)
        seed_run = run_seed(run_dir, seed, args.nproc, {**arm.env, **variant.env}, progress_printer(label, seed),
                            str(trainer), on_start=live.add)
        if stop.is_set() and seed_run.status == "failed":
            seed_run = replace(seed_run, status="interrupted", message=f"seed {seed} interrupted by Ctrl-C")
        print(f"{label}  {seed_run.status}: {seed_run.message}", flush=True)
        return ablation.result_from_seed_run(arm.name, variant.name, seed_run)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(work, number, *task) for number, task in enumerate(tasks, start=1)]
        try:
            for future in futures:
                future.result()
        except KeyboardInterrupt:
            stop.set()
            for process in list(live):
                terminate_group(process)
    results = [future.result() for future in futures]
    return [result for result in results if result is not None], not stop.is_set()


def report(args, arms, results, elapsed: str, argv) -> None:
    stats = {arm.name: ablation.data_stats(args.data, arm.env) for arm in arms}
    rows, sections, texts = {}, [], []
    for arm in arms:
        arm_results = [r for r in results if r.arm == arm.name]
        rows[arm.name] = ablation.compare(arm_results, list(arm.variants))
        header = ablation.describe(arm, stats[arm.name], shown(args.data), args.nproc, args.jobs)
        trajectory = ablation.render_trajectory(ablation.trajectory(arm_results, list(arm.variants)))
        sections += [(f"{arm.name} arm", header, ablation.render_markdown(rows[arm.name])),
                     (f"{arm.name} arm: Δval_bpb by step", [], trajectory)]
        texts += [f"{arm.name} arm", ablation.render_text(rows[arm.name]), ""]
    notes = ablation.notes(results, stats["short"])
    command = " ".join(["python tools/ablate.py", *(sys.argv[1:] if argv is None else argv)])
    print("\n" + "\n".join(texts + notes))
    (args.out / "ablation.md").write_text(ablation.render_report(sections, notes, command, elapsed), encoding="utf-8")
    (args.out / "ablation.json").write_text(ablation.report_json(arms, rows, results, stats) + "\n", encoding="utf-8")
    print(f"wrote {args.out / 'ablation.md'} and {args.out / 'ablation.json'}")


def plot_deltas(out: Path, arms: list[ablation.Arm], results: list) -> None:
    """OUT/delta_bpb.png: Δval_bpb against step, one line per variant (long arm dashed); matplotlib is optional."""
    if importlib.util.find_spec("matplotlib") is None:
        print("plot: skipped, matplotlib is not installed (pip install matplotlib, then re-run: runs are skipped)")
        return
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(9, 5.5))
    for arm in arms:
        points = ablation.trajectory([r for r in results if r.arm == arm.name], list(arm.variants))
        for name, by_step in points.items():
            steps = sorted(by_step)
            axes.plot(steps, [by_step[step][0] for step in steps], marker="o", markersize=3,
                      linestyle="--" if arm.name == "long" else "-", label=f"{name} ({arm.name})")
    axes.axhline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel("step")
    axes.set_ylabel("Δ val_bpb vs reference (mean over seeds)")
    axes.set_title("Ablation: paired Δval_bpb of each variant during training")
    axes.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(out / "delta_bpb.png", dpi=120)
    print(f"wrote {out / 'delta_bpb.png'}")


def minutes(seconds: float, skipped: int, total: int) -> str:
    return f"{seconds / 60:.1f} min wall for {total - skipped} runs" + (f", {skipped} completed earlier" if skipped else "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        variants = ablation.with_baseline([ablation.parse_variant(s) for s in args.variant]
                                          if args.variant else list(ablation.DEFAULT_VARIANTS))
        if not (args.data / "tokenizer.model").is_file():
            print(f"building {shown(args.data)} (make_smoke_data.py --corpus docs, about 2 min)", flush=True)
            build_smoke_data(args.data, ("--corpus", "docs"))
        arms = build_arms(args, variants)
        ablation.check_manifest(args.out, arms)
        trainer = freeze_trainer(args.out)
        for arm in arms:
            print("\n".join(ablation.describe(arm, ablation.data_stats(args.data, arm.env), shown(args.data),
                                               args.nproc, args.jobs)), flush=True)
        results, completed = run_all(args, arms, trainer)
        skipped = sum(r.status == "skipped" for r in results)
        report(args, arms, results, minutes(time.perf_counter() - started, skipped, len(results)), argv)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not completed:
        print(f"interrupted: re-run the same command to resume; completed runs in {args.out} are skipped")
        return EXIT_INTERRUPTED
    plot_deltas(args.out, arms, results)
    return 0 if all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
