"""Run the trainer once per seed inside a folder, safely enough to re-run after any failure.

Public API:
    SeedRun                 what happened to one seed: "done" | "skipped" | "failed" | "interrupted"
    seed_log_path(run_dir, seed) -> Path        run_dir / "train_seed<seed>.log"
    log_is_complete(path) -> bool               the log has a score line (golf.logs)
    run_seed(run_dir, seed, nproc, env, on_progress, script) -> SeedRun
    SeedProgress                                turns the trainer's stdout into one progress line

Only a complete log ever gets the name `train_seed<seed>.log`: the trainer writes
`logs/train_seed<seed>.txt`, which is moved into place with os.replace once it holds a final
metric line. A failed or interrupted run leaves `train_seed<seed>.log.partial` instead, which
neither the resume logic nor the submission checker reads as a finished run.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from golf.findings import InputError
from golf.logs import parse_log_file, parse_log_text
from golf.smoke import run_env, torchrun_command

TERMINATE_GRACE_SECONDS = 10.0
_WALLCLOCK = re.compile(r"\bmax_wallclock_seconds:([0-9.]+)")
TAIL_LINES = 200  # torchrun prints a long failure report after the trainer's own error line


@dataclass(frozen=True)
class SeedRun:
    """One seed's outcome; `message` is a one-line explanation for humans."""

    seed: int
    log_path: Path
    status: str  # "done" | "skipped" | "failed" | "interrupted"
    returncode: int | None
    message: str


def seed_log_path(run_dir: Path, seed: int) -> Path:
    return Path(run_dir) / f"train_seed{seed}.log"


def log_is_complete(path: Path) -> bool:
    """True when the file exists and holds a final (non-diagnostic) metric line."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        return parse_log_file(path).complete
    except InputError:
        return False


def seed_env(seed: int) -> dict[str, str]:
    """Per-seed settings: the seed, the log name, and artifact paths that seeds do not share."""
    return {
        "SEED": str(seed),
        "RUN_ID": f"train_seed{seed}",
        "ARTIFACT_PATH": f"final_model_seed{seed}.ptz",
        "RAW_MODEL_PATH": f"final_model_seed{seed}.pt",
    }


def run_seed(run_dir: Path, seed: int, nproc: int = 8, env: dict[str, str] | None = None,
             on_progress: Callable[[str], None] | None = None, script: str = "train_gpt.py",
             on_start: Callable[[subprocess.Popen], None] | None = None) -> SeedRun:
    """Run `torchrun --standalone --nproc_per_node=nproc script` in run_dir for one seed.

    The child gets os.environ + env + seed_env(seed). Each stdout/stderr line of the child is
    passed, without its newline, to on_progress; on_start gets the process (a caller running
    seeds in threads terminates it with terminate_group). A complete train_seed<seed>.log is
    never re-run ("skipped"). Ctrl-C terminates the torchrun process group and returns
    "interrupted"; callers stop their seed loop on it.
    """
    run_dir = Path(run_dir)
    final_path = seed_log_path(run_dir, seed)
    if log_is_complete(final_path):
        return SeedRun(seed, final_path, "skipped", None, f"{final_path.name} is complete; not re-run")
    if not (run_dir / script).is_file():
        raise InputError(f"{run_dir / script}: no training script; run tools/make_record.py first")
    if final_path.exists():  # an incomplete log under the final name (copied in, or cut short)
        os.replace(final_path, final_path.with_name(final_path.name + ".partial"))
    trainer_log = run_dir / "logs" / f"train_seed{seed}.txt"
    trainer_log.unlink(missing_ok=True)  # the trainer appends: a stale partial log would be merged in
    command = torchrun_command(nproc, Path(script))
    process = subprocess.Popen(command, cwd=run_dir, env=run_env({**(env or {}), **seed_env(seed)}),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                               errors="replace", start_new_session=True)
    if on_start is not None:
        on_start(process)
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        for line in process.stdout:
            tail.append(line.rstrip("\n"))
            if on_progress is not None:
                on_progress(tail[-1])
        returncode = process.wait()
    except KeyboardInterrupt:
        terminate_group(process)
        partial = _keep_partial(trainer_log, final_path)
        return SeedRun(seed, final_path, "interrupted", process.returncode, f"seed {seed} interrupted{partial}")
    return _finish(seed, returncode, trainer_log, final_path, tail)


def _finish(seed: int, returncode: int, trainer_log: Path, final_path: Path, tail: deque[str]) -> SeedRun:
    if returncode == 0 and log_is_complete(trainer_log):
        os.replace(trainer_log, final_path)
        _remove_if_empty(trainer_log.parent)
        final_path.with_name(final_path.name + ".partial").unlink(missing_ok=True)
        score = parse_log_file(final_path).final
        return SeedRun(seed, final_path, "done", 0, f"seed {seed} done: {score.text}")
    partial = _keep_partial(trainer_log, final_path)
    reason = last_error_line(tail) if returncode != 0 else "exited 0 without a final val_loss/val_bpb line"
    return SeedRun(seed, final_path, "failed", returncode, f"seed {seed} failed (exit {returncode}): {reason}{partial}")


def terminate_group(process: subprocess.Popen) -> None:
    """SIGTERM the whole torchrun process group, then SIGKILL whatever outlives the grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=TERMINATE_GRACE_SECONDS)
            break
        except subprocess.TimeoutExpired:
            continue
    if process.stdout is not None:
        process.stdout.close()


def _keep_partial(trainer_log: Path, final_path: Path) -> str:
    """Move what the trainer wrote to <final>.partial; return a note naming it (or "")."""
    if not trainer_log.is_file():
        return ""
    partial = final_path.with_name(final_path.name + ".partial")
    os.replace(trainer_log, partial)
    _remove_if_empty(trainer_log.parent)
    return f"; partial log kept as {partial.name}"


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def last_error_line(tail: deque[str]) -> str:
    """The trainer's own `error:` line, else the last exception line that is not torchrun's wrapper."""
    lines = [line.strip() for line in tail]
    for wanted in (lambda line: line.startswith("error:"),
                   lambda line: "Error" in line and "ChildFailedError" not in line):
        found = [line for line in lines if wanted(line)]
        if found:
            return found[-1]
    return lines[-1] if lines else "no output"


class SeedProgress:
    """Keeps the last step/train/val figures of one seed and renders a one-line status.

    feed(line) returns the status line when the line moved the run forward (a `step:` line),
    else None. ETA = (total - step) * step_avg from the trainer's own step_avg, or the time left
    under MAX_WALLCLOCK_SECONDS when that comes first (read from the settings line it logs).
    """

    def __init__(self, seed: int):
        self.seed = seed
        self.step: int | None = None
        self.total: int | None = None
        self.step_avg_ms: float | None = None
        self.train_time_ms: float | None = None
        self.cap_ms: float | None = None
        self.train_loss: float | None = None
        self.val_bpb: float | None = None

    def feed(self, line: str) -> str | None:
        cap = _WALLCLOCK.search(line)
        if cap and float(cap.group(1)) > 0:
            self.cap_ms = 1000.0 * float(cap.group(1))
        steps = parse_log_text(line, "stdout").steps
        if not steps:
            return None
        step = steps[-1]
        self.step, self.total = step.step, step.total or self.total
        self.step_avg_ms = step.step_avg_ms or self.step_avg_ms
        self.train_time_ms = step.train_time_ms if step.train_time_ms is not None else self.train_time_ms
        self.train_loss = step.train_loss if step.train_loss is not None else self.train_loss
        self.val_bpb = step.val_bpb if step.val_bpb is not None else self.val_bpb
        return self.render()

    def render(self) -> str:
        parts = [f"seed {self.seed}", f"step {self.step}/{self.total or '?'}"]
        if self.train_loss is not None:
            parts.append(f"train_loss {self.train_loss:.4f}")
        if self.val_bpb is not None:
            parts.append(f"val_bpb {self.val_bpb:.4f}")
        parts.append(f"ETA {_eta(self)}")
        return "  ".join(parts)


def _eta(progress: SeedProgress) -> str:
    if progress.total is None or progress.step_avg_ms is None or progress.step is None:
        return "?"
    seconds = max(progress.total - progress.step, 0) * progress.step_avg_ms / 1000.0
    if progress.cap_ms is not None and progress.train_time_ms is not None:
        seconds = min(seconds, max(progress.cap_ms - progress.train_time_ms, 0.0) / 1000.0)
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
