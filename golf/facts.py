"""What the rules read and share: the Context a rule is given, the SOTA, and small helpers over a record.

The layers run one way: golf.checks (the runner) imports golf.rules and this module; every
rule module imports this module (and golf.record, golf.logs, golf.analysis); nothing here
imports a rule or the runner. tests/test_facts.py enforces that direction.
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from functools import cached_property

import golf.analysis
from golf.record import LoadedLog, Record, SeedRow

RECORD_TRACK = "10min_16mb"
SIZE_CAP_BYTES = 16_000_000
MIN_RECORD_SEEDS = 3
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


@dataclass(frozen=True)
class Sota:
    """The record to beat: its mean BPB and, when read from its folder, its per-seed scores."""

    label: str
    val_bpb: float
    val_losses: tuple[float, ...] = ()
    val_bpbs: tuple[float, ...] = ()


@dataclass(frozen=True)
class Context:
    """What every rule reads: the loaded record and the options it was checked under."""

    record: Record
    policy: str
    track: str
    track_source: str
    sota: Sota | None

    @property
    def record_track(self) -> bool:
        return self.track == RECORD_TRACK

    @property
    def scored(self) -> list[SeedRow]:
        return [row for row in self.record.seeds if row.complete]

    @cached_property
    def analysis(self):
        """golf.analysis.analyse(self), built on first use: folders no compliance rule reads never pay for it."""
        return golf.analysis.analyse(self)

    @cached_property
    def date(self) -> datetime.date | None:
        """The submission's date, for dated rulings: the folder name's YYYY-MM-DD_ prefix, else submission.json `date`."""
        declared = (self.record.submission.data or {}).get("date")
        for text in (self.record.root.name, declared if isinstance(declared, str) else ""):
            match = _DATE.match(text)
            if match:
                try:
                    return datetime.date(*map(int, match.groups()))
                except ValueError:
                    continue
        return None


def where(log: LoadedLog | None, line: int | None = None) -> str:
    """Evidence string `file:line` (just `file` when the line is unknown or 0)."""
    if log is None:
        return ""
    return f"{log.name}:{line}" if line else log.name


def final_evidence(rows: list[SeedRow]) -> tuple[str, ...]:
    return tuple(where(row.score_log, row.final.line) for row in rows)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def seed_list(rows) -> str:
    return ", ".join(row.seed for row in rows)


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def byte_count(value: float) -> str:
    return f"{value:,.0f} B"


def model_log(row: SeedRow) -> LoadedLog | None:
    """The log that states this seed's artifact: the training log, else the one that scored it."""
    for log in (row.train_log, row.score_log):
        if log is not None and (log.run.model_bytes or log.run.total_bytes):
            return log
    return row.train_log or row.score_log


def artifact_figures(record: Record, row: SeedRow) -> tuple[int | None, int | None]:
    """(raw script bytes on disk + compressed model bytes, total the log states) for one seed."""
    log = model_log(row)
    if log is None:
        return None, None
    model, stated = log.run.model_bytes, log.run.total_bytes
    computed = record.script.size + model.value if model is not None and record.script.size is not None else None
    return computed, stated.value if stated is not None else None
