"""The challenge baseline and our trainer side by side on a GPU (issue 9): the runs, and the table from their logs.

Public API:
    BENCH_ENV               settings every run shares: the baseline's 9x512 model and 524,288-token batch
    BenchRun, RUNS          (a) the baseline, (b) ours with every switch off, (c) ours with every switch on
    bench_env(run, steps, data_dir) -> dict     what one run adds to the caller's environment
    bench_command(run, nproc, baseline) -> list torchrun over the run's script
    Outcome                 how one run ended, and its parsed log
    execute(run, command, env, work_dir, on_progress) -> Outcome    run it in work_dir, reporting progress
    outcome_of(run, work_dir, returncode) -> Outcome
    summarize(outcomes, settings) -> dict       one JSON-ready object; rows compared with the baseline
    render_table(summary) -> str
    render_json(summary, indent) -> str
    progress_note(log_text) -> str              "step 12/100", "warmup 3/20" or "starting"

Every run is `torchrun --standalone` in its own folder, so logs/<RUN_ID>.txt and the artifacts of
one run never mix with another's. The figures come from golf.logs, which reads the baseline's
dialect and ours alike; only the peak-memory line, which it does not keep, is read here.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from golf.findings import InputError
from golf.logs import RunLog, parse_log_file
from golf.render import json_safe
from golf.runner import last_error_line, terminate_group
from golf.smoke import TRAINER, data_env, torchrun_command

BENCH_ENV = {
    "VOCAB_SIZE": "1024",
    "NUM_LAYERS": "9",
    "MODEL_DIM": "512",
    "NUM_HEADS": "8",
    "NUM_KV_HEADS": "4",
    "MLP_MULT": "2",
    "TRAIN_SEQ_LEN": "1024",
    "TRAIN_BATCH_TOKENS": "524288",
    "WARMUP_STEPS": "20",
    "VAL_LOSS_EVERY": "0",
    "MAX_WALLCLOCK_SECONDS": "0",
    "TRAIN_LOG_EVERY": "1",  # every step's train_loss and train_time, not only steps 1..10
    "VAL_BATCH_SIZE": "65536",  # 8 sequences per micro-batch: a few batches cover the smoke validation set
    "SEED": "1337",
}
LOSS_STEPS = (1, 2, 5, 10)
DELTA_STEPS = range(1, 11)
PROGRESS_SECONDS = 20.0
POLL_SECONDS = 1.0
CONSOLE_NAME = "console.txt"

_PEAK_MEMORY = re.compile(r"^peak memory allocated:\s*(\d+)\s*MiB\s+reserved:\s*(\d+)\s*MiB", re.MULTILINE)
_PROGRESS = re.compile(r"^(warmup_step|step):(\d+)/(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class BenchRun:
    """One run of the benchmark: `name` is its folder and RUN_ID, `label` its row in the table."""

    name: str
    label: str
    is_baseline: bool
    overrides: dict[str, str]


RUNS = (
    BenchRun("baseline", "(a) baseline", True, {}),
    BenchRun("off", "(b) ours, switches off", False,
             {"BPB_WEIGHTED_LOSS": "0", "PRECISION_GAIN": "0", "LAYER_GAIN": "0"}),
    # The sources' strengths; an empty LAYER_GAIN_EXCLUDE gains every layer. Muon momentum warmup is on in all three.
    BenchRun("on", "(c) ours, switches on", False,
             {"BPB_WEIGHTED_LOSS": "1", "PRECISION_GAIN": "1.0", "LAYER_GAIN": "0.5", "LAYER_GAIN_EXCLUDE": ""}),
)


@dataclass(frozen=True)
class Outcome:
    """How one run ended: `error` is None when it exited 0 with a round-trip score in its log."""

    run: BenchRun
    log_path: Path
    console_path: Path
    error: str | None
    log: RunLog | None
    peak_memory_mib: tuple[int, int] | None  # (allocated, reserved)
    interrupted: bool = False


def bench_env(run: BenchRun, steps: int, data_dir: Path) -> dict[str, str]:
    return {**BENCH_ENV, **data_env(data_dir), **run.overrides,
            "ITERATIONS": str(steps), "RUN_ID": run.name, "PYTHONUNBUFFERED": "1"}


def bench_command(run: BenchRun, nproc: int, baseline: Path) -> list[str]:
    return torchrun_command(nproc, Path(baseline).resolve() if run.is_baseline else TRAINER)


def execute(run: BenchRun, command: list[str], env: dict[str, str], work_dir: Path,
            on_progress: Callable[[str], None]) -> Outcome:
    """Run command in work_dir with stdout and stderr in console.txt; every PROGRESS_SECONDS report
    the elapsed time and the last step of the trainer's log. Ctrl-C stops the process group and gives
    an interrupted outcome, so the runs finished before it still make a table."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = _log_path(run, work_dir)
    log_path.unlink(missing_ok=True)  # the trainers append: a log from an earlier bench would be merged in
    with (work_dir / CONSOLE_NAME).open("w") as console:
        process = subprocess.Popen(command, cwd=work_dir, env=env, stdout=console, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            returncode = _wait_reporting(process, run, log_path, on_progress)
        except KeyboardInterrupt:
            terminate_group(process)
            returncode = None
    return outcome_of(run, work_dir, returncode)


def _wait_reporting(process: subprocess.Popen, run: BenchRun, log_path: Path,
                    on_progress: Callable[[str], None]) -> int:
    start = last_report = time.monotonic()
    while (returncode := process.poll()) is None:
        time.sleep(POLL_SECONDS)
        if time.monotonic() - last_report >= PROGRESS_SECONDS:
            last_report = time.monotonic()
            on_progress(f"{run.label}: {last_report - start:.0f}s, {progress_note(_read_text(log_path))}")
    on_progress(f"{run.label}: exited {returncode} after {time.monotonic() - start:.0f}s")
    return returncode


def progress_note(log_text: str) -> str:
    """The last step a trainer log shows: "step 12/100", "warmup 3/20" (compiling), or "starting"."""
    matches = _PROGRESS.findall(log_text)
    if not matches:
        return "starting"
    kind, step, total = matches[-1]
    return f"{'warmup' if kind == 'warmup_step' else 'step'} {step}/{total}"


def outcome_of(run: BenchRun, work_dir: Path, returncode: int | None) -> Outcome:
    """A run that exited non-zero fails with the console's last error line; one that left no score, with a
    note; returncode None means it was interrupted (Ctrl-C, or SIGTERM from `timeout`)."""
    log_path, console_path = _log_path(run, work_dir), Path(work_dir) / CONSOLE_NAME
    log = parse_log_file(log_path) if log_path.is_file() else None
    if returncode is None:
        error = f"interrupted at {progress_note(_read_text(log_path))}"
    elif returncode != 0:
        error = last_error_line(_read_text(console_path).splitlines())
    elif log is None:
        error = f"exited 0 but wrote no {log_path.name}"
    elif log.final is None:
        error = "exited 0 without a final round-trip val_bpb line"
    else:
        error = None
    return Outcome(run, log_path, console_path, error, log, peak_memory_mib(_read_text(log_path)), returncode is None)


def peak_memory_mib(log_text: str) -> tuple[int, int] | None:
    """(allocated, reserved) from the `peak memory allocated: N MiB reserved: N MiB` line, if any."""
    match = _PEAK_MEMORY.search(log_text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def summarize(outcomes: list[Outcome], settings: dict) -> dict:
    """The settings, the card and torch version from the logs, a row per run (same keys, ok or failed),
    and the count of failed runs. Ratios and |Δ train_loss| are against the baseline run."""
    finished = [outcome for outcome in outcomes if outcome.error is None]
    baseline = next((outcome for outcome in finished if outcome.run.is_baseline), None)
    return {
        **settings,
        "gpu": next((outcome.log.gpu_lines[0].value for outcome in finished if outcome.log.gpu_lines), None),
        "torch": next((outcome.log.pytorch_version for outcome in finished if outcome.log.pytorch_version), None),
        "runs": [_row(outcome, baseline) for outcome in outcomes],
        "failed": len(outcomes) - len(finished),
        "interrupted": any(outcome.interrupted for outcome in outcomes),
    }


def _row(outcome: Outcome, baseline: Outcome | None) -> dict:
    log = outcome.log if outcome.error is None else None
    losses = _train_losses(log)
    reference = _train_losses(baseline.log) if baseline and baseline is not outcome else {}
    ours, theirs = _step_ms(log), _step_ms(baseline.log if baseline else None)
    last_step = max(losses) if losses else None
    peak = outcome.peak_memory_mib if log else None
    return {
        "name": outcome.run.name,
        "label": outcome.run.label,
        "overrides": outcome.run.overrides,
        "status": "failed" if outcome.error else "ok",
        "error": outcome.error,
        "log": str(outcome.log_path),
        "console": str(outcome.console_path),
        "step_ms": ours,
        "ratio_to_baseline": ours / theirs if ours and theirs else None,
        "peak_memory_allocated_mib": peak[0] if peak else None,
        "peak_memory_reserved_mib": peak[1] if peak else None,
        "train_loss": {str(step): losses.get(step) for step in LOSS_STEPS},
        "last_step": last_step,
        "train_loss_last": losses.get(last_step),
        "max_abs_delta_train_loss_steps_1_10": max_abs_delta(losses, reference),
        "val_bpb": log.final.val_bpb if log else None,
    }


def _train_losses(log: RunLog | None) -> dict[int, float]:
    return {line.step: line.train_loss for line in log.steps if line.train_loss is not None} if log else {}


def _step_ms(log: RunLog | None) -> float | None:
    """Median of successive train_time differences (golf.logs); the clock starts after the warmup steps."""
    return log.median_step_ms if log else None


def max_abs_delta(losses: dict[int, float], reference: dict[int, float]) -> float | None:
    """Largest |Δ train_loss| over the steps 1..10 that both runs logged; None when they share none."""
    deltas = [abs(losses[step] - reference[step]) for step in DELTA_STEPS if step in losses and step in reference]
    return max(deltas) if deltas else None


def render_table(summary: dict) -> str:
    """A title line, one aligned row per finished run, then one line per failed run."""
    headers = ["run", "step ms", "ratio", "peak MiB", *(f"loss@{step}" for step in LOSS_STEPS),
               "loss@last", "max|dloss| 1-10", "val_bpb"]
    finished = [row for row in summary["runs"] if row["status"] == "ok"]
    table = [headers] + [_cells(row) for row in finished]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(headers))]
    lines = [_title(summary)]
    for cells in table:
        lines.append("  ".join([cells[0].ljust(widths[0])]
                               + [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:])]))
    for row in summary["runs"]:
        if row["status"] != "ok":
            lines.append(f"{row['label'].ljust(widths[0])}  failed: {row['error']} (log: {row['console']})")
    return "\n".join(lines)


def render_json(summary: dict, indent: int | None = None) -> str:
    """The summary as JSON; a NaN figure (a diverged loss) becomes null."""
    return json.dumps(json_safe(summary), indent=indent)


def _title(summary: dict) -> str:
    shape = f"{BENCH_ENV['NUM_LAYERS']}x{BENCH_ENV['MODEL_DIM']}, vocab {BENCH_ENV['VOCAB_SIZE']}"
    return (f"{summary['nproc']} x {summary['gpu'] or 'unknown GPU'}, torch {summary['torch'] or 'unknown'}, "
            f"{summary['steps']} steps of {BENCH_ENV['TRAIN_BATCH_TOKENS']} tokens (seq {BENCH_ENV['TRAIN_SEQ_LEN']}), "
            f"{shape}; step ms: median after {BENCH_ENV['WARMUP_STEPS']} warmup steps; "
            "ratio and max|dloss| (steps 1-10) against (a)")


def _cells(row: dict) -> list[str]:
    losses = [row["train_loss"][str(step)] for step in LOSS_STEPS]
    return [row["label"], _number(row["step_ms"], 1), _number(row["ratio_to_baseline"], 3),
            _number(row["peak_memory_allocated_mib"], 0), *(_number(loss, 4) for loss in losses),
            _number(row["train_loss_last"], 4), _number(row["max_abs_delta_train_loss_steps_1_10"], 4),
            _number(row["val_bpb"], 4)]


def _number(value: float | int | None, decimals: int) -> str:
    return "-" if value is None else f"{value:.{decimals}f}"


def _log_path(run: BenchRun, work_dir: Path) -> Path:
    return Path(work_dir) / "logs" / f"{run.name}.txt"


def _read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from error
