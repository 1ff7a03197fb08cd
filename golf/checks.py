"""Check a record folder against every rule in the registry (golf.rules), before its PR is opened.

`check_record(folder, policy, sota, track)` loads the folder once (golf.record), runs every
rule module listed in golf/rules/__init__.py and returns a RecordResult: the findings, a
verdict ("fail" when any finding is FAIL), the per-seed table and the significance figures.
Nothing is printed here; golf/render.py turns a result into text, JSON Lines or markdown.

A rule is a module `golf/rules/<id>.py` with `check(context) -> list[Finding]`; `context` is
a golf.facts.Context, where the helpers several rules share (`where`, `model_log`,
`artifact_figures`, ...) live too: the runner imports the rules and the facts, never the reverse.

Policies: `strict` (this harness's own standard: no test-time training of any kind, and no
validation data anywhere but in scoring) and `competition` (the challenge's rules, where
score-first TTT is legal). Only the compliance rules read the policy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from golf.facts import RECORD_TRACK, Context, Sota, artifact_figures, mean
from golf.findings import FAIL, INFO, PASS, WARN, Finding, InputError
from golf.record import Record, as_float, load_record
from golf.rules import REGISTRY
from golf.rules.significance import significance_figures

POLICIES = ("strict", "competition")
TRACKS = ("10min_16mb", "non_record_16mb")


@dataclass
class RecordResult:
    """A checked folder: verdict, findings, per-seed figures and significance statistics."""

    record: str
    track: str
    policy: str
    findings: list[Finding]
    seeds: dict[str, dict]
    stats: dict = field(default_factory=dict)
    sota_pick: dict | None = None   # what --sota auto chose (golf.sota_auto.SotaPick.to_json), if it ran

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
                "checks": [finding.to_json() for finding in self.findings], "seeds": self.seeds, "stats": self.stats,
                **({"sota_auto": self.sota_pick} if self.sota_pick else {})}


# ---------------------------------------------------------------------------------------------
# Entry points


def check_record(folder, policy: str = "strict", sota: Sota | float | str | None = None,
                 track: str | None = None) -> RecordResult:
    """Check one record folder. Raises InputError (exit code 2) when it cannot be read at all."""
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
    return [(rule.id, rule.summary) for rule in REGISTRY]
