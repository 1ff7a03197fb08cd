"""Check a record folder against every rule in the registry (golf.rules), before its PR is opened.

`check_record(folder, policy, sota, track)` loads the folder once (golf.record), runs every
rule module listed in golf/rules/__init__.py and returns a RecordResult: the findings, a
verdict ("fail" when any finding is FAIL), the per-seed table and the significance figures.
Nothing is printed here; golf/render.py turns a result into text, JSON Lines or markdown.

A rule is a module `golf/rules/<id>.py` with `check(context) -> list[Finding]`; `context` is
the Context below. The helpers here (`where`, `model_log`, `artifact_figures`, ...) are the
ones several rules share.

Policies: `strict` (this harness's own standard: no test-time training of any kind, and no
validation data anywhere but in scoring) and `competition` (the challenge's rules, where
score-first TTT is legal). Only the compliance rules read the policy.
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from golf.findings import FAIL, INFO, PASS, WARN, Finding, InputError
from golf.record import LoadedLog, Record, SeedRow, as_float, load_record

POLICIES = ("strict", "competition")
TRACKS = ("10min_16mb", "non_record_16mb")
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
        from golf.analysis import analyse
        return analyse(self)

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


@dataclass
class RecordResult:
    """A checked folder: verdict, findings, per-seed figures and significance statistics."""

    record: str
    track: str
    policy: str
    findings: list[Finding]
    seeds: dict[str, dict]
    stats: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "fail" if any(finding.status == FAIL for finding in self.findings) else "pass"

    def counts(self) -> dict[str, int]:
        return {status: sum(f.status == status for f in self.findings) for status in (PASS, WARN, FAIL, INFO)}

    def statuses(self) -> dict[str, str]:
        """Worst status per id (FAIL > WARN > PASS > INFO), e.g. for make_submission.py's compliance flags."""
        order = {INFO: 0, PASS: 1, WARN: 2, FAIL: 3}
        worst: dict[str, str] = {}
        for finding in self.findings:
            if order[finding.status] >= order[worst.get(finding.id, INFO)]:
                worst[finding.id] = finding.status
        return worst

    def to_json(self) -> dict:
        return {"record": self.record, "verdict": self.verdict, "track": self.track, "policy": self.policy,
                "checks": [finding.to_json() for finding in self.findings], "seeds": self.seeds, "stats": self.stats}


# ---------------------------------------------------------------------------------------------
# Helpers shared by the rules


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


def seed_table_json(context: Context) -> dict[str, dict]:
    """The JSON `seeds` object: final score, artifact bytes and times per seed."""
    table = {}
    for row in context.record.seeds:
        final, train = row.final, row.train_log
        computed, stated = artifact_figures(context.record, row)
        eval_ms = row.score_log.run.eval_time_ms if row.score_log else None
        train_ms = train.run.train_time_ms.value if train and train.run.train_time_ms else None
        table[row.seed] = {
            "val_bpb": final.val_bpb if final else None,
            "val_loss": final.val_loss if final else None,
            "artifact_bytes": stated if stated is not None else computed,
            "train_time_s": round(train_ms / 1000, 3) if train_ms is not None else None,
            "eval_time_s": round(eval_ms / 1000, 3) if eval_ms is not None else None,
            "log": row.score_log.name if row.score_log else None,
        }
    return table


# ---------------------------------------------------------------------------------------------
# Entry points


def check_record(folder, policy: str = "strict", sota: Sota | float | str | None = None,
                 track: str | None = None) -> RecordResult:
    """Check one record folder. Raises InputError (exit code 2) when it cannot be read at all."""
    from golf.rules import REGISTRY
    from golf.rules.significance import significance_figures

    if policy not in POLICIES:
        raise InputError(f"policy {policy!r} is not one of {', '.join(POLICIES)}")
    if track is not None and normalise_track(track) is None:
        raise InputError(f"track {track!r} is not one of {', '.join(TRACKS)}")
    record = load_record(folder)
    chosen, source = infer_track(record, track)
    if sota is not None and not isinstance(sota, Sota):
        sota = load_sota(sota)
    context = Context(record, policy, chosen, source, sota)
    findings = [finding for rule in REGISTRY for finding in run_rule(rule.id, rule.module.check, context)]
    return RecordResult(str(folder), chosen, policy, findings, seed_table_json(context), significance_figures(context))


def run_rule(rule_id: str, check, context: Context) -> list[Finding]:
    """Run one rule; a crash is a bug in the checker, reported as a FAIL rather than a traceback."""
    try:
        return check(context)
    except Exception as error:  # noqa: BLE001 - the gatekeeper must finish and say what broke
        return [Finding(rule_id, FAIL, f"checker error in {rule_id} ({type(error).__name__}: {error}); "
                                       "this is a bug in the checker, please report it")]


def normalise_track(text: str) -> str | None:
    """A track as TRACKS spells it, from the spellings records use (`non-record-unlimited-compute-16mb`)."""
    lowered = text.strip().lower().removeprefix("track_")
    if "non" in lowered or "unlimited" in lowered:
        return "non_record_16mb"
    return RECORD_TRACK if "10min" in lowered or "10_min" in lowered else None


def infer_track(record: Record, given: str | None) -> tuple[str, str]:
    """--track, else a `track_<name>` path component, else submission.json `track`, else the record track."""
    if given:
        return normalise_track(given) or RECORD_TRACK, "from --track"
    for part in reversed(record.root.parts):
        if part.startswith("track_") and part.removeprefix("track_") in TRACKS:
            return part.removeprefix("track_"), "from the path"
    declared = (record.submission.data or {}).get("track")
    if isinstance(declared, str) and normalise_track(declared):
        return normalise_track(declared), f"from submission.json track {declared!r}"
    return RECORD_TRACK, "by default: no track in the path or submission.json"


def load_sota(value: float | str | Path) -> Sota:
    """--sota: a BPB number, or a record folder whose logs give the SOTA's per-seed scores."""
    if isinstance(value, (int, float)):
        return Sota(f"{float(value):g} bpb", float(value))
    number = as_float(value) if isinstance(value, str) and not Path(value).exists() else None
    if number is not None:
        return Sota(f"{number:g} bpb", number)
    if not Path(value).exists():
        raise InputError(f"--sota {value!r} is neither a BPB number nor an existing record folder")
    rows = [row for row in load_record(value).seeds if row.complete]
    if not rows:
        raise InputError(f"--sota {value}: no log in that folder has a final val_loss/val_bpb line; "
                         "pass the SOTA's BPB instead")
    bpbs = tuple(row.final.val_bpb for row in rows)
    return Sota(Path(value).resolve().name, mean(list(bpbs)), tuple(row.final.val_loss for row in rows), bpbs)


def describe_checks() -> list[tuple[str, str]]:
    """(id, one-line summary) for every registered rule, in registry order."""
    from golf.rules import REGISTRY
    return [(rule.id, rule.summary) for rule in REGISTRY]
