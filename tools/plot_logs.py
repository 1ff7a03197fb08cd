#!/usr/bin/env python3
"""Plot val_bpb and train loss of every seed in a record folder, against step and wallclock.

Reads the `step:` lines of each seed's training log and writes one PNG with four panels
(val_bpb / train loss, by step / by training time) for the README. Needs matplotlib, which the
harness does not require: `pip install matplotlib`.

Exit codes: 0 written, 2 bad input (no folder, no step lines, matplotlib missing).
Example: python tools/plot_logs.py records/track_10min_16mb/2026-04-30_EMA -o curves.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golf.findings import InputError  # noqa: E402
from golf.record import load_record  # noqa: E402
from golf.submission import Curve, seed_curves  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("record_dir", type=Path, metavar="RECORD_DIR", help="record folder with the seeds' training logs")
    parser.add_argument("-o", "--output", type=Path, default=Path("curves.png"), help="PNG to write (default curves.png)")
    args = parser.parse_args(argv)
    try:
        curves = seed_curves(load_record(args.record_dir))
        if not curves:
            raise InputError(f"{args.record_dir}: no log has step:i/n lines with train_loss or val_bpb; run tools/run_seeds.py first")
        plot(_pyplot(), curves, args.output)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.output} ({len(curves)} seed(s))")
    return 0


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise InputError("matplotlib is not installed (it is optional): pip install matplotlib, then re-run") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
    return pyplot


def plot(pyplot, curves: list[Curve], output: Path) -> None:
    figure, axes = pyplot.subplots(2, 2, figsize=(11, 7), sharey="row")
    for curve in curves:
        for row, (points, label) in enumerate(((curve.val_bpb, "val_bpb"), (curve.train_loss, "train loss"))):
            steps = [p[0] for p in points]
            timed = [(p[1] / 1000.0, p[2]) for p in points if p[1] is not None]
            axes[row][0].plot(steps, [p[2] for p in points], marker=".", label=f"seed {curve.seed}")
            axes[row][1].plot([t for t, _ in timed], [v for _, v in timed], marker=".", label=f"seed {curve.seed}")
            axes[row][0].set_ylabel(label)
    axes[1][0].set_xlabel("step")
    axes[1][1].set_xlabel("training time (s, validation excluded)")
    axes[0][0].legend()
    figure.tight_layout()
    figure.savefig(output, dpi=120)
    pyplot.close(figure)


if __name__ == "__main__":
    sys.exit(main())
