"""`--sota auto`: the record to beat, found in a checkout of the challenge's repository.

Records are accepted in the order their PRs were opened, so the SOTA that counts is the one in
force when the folder was made (RULES.md §3). Inside a challenge-shaped checkout (the folder is
`records/<track_name>/<YYYY-MM-DD>_<name>` in a git work tree) that is the best (lowest)
`val_bpb` among the accepted records of the same track dated strictly before the folder:

- accepted: the sibling folders that commit `ref` holds (HEAD by default; the base of a pull
  request with --changed BASE), never the checked folder itself, and only names in the
  challenge's `YYYY-MM-DD_Name` form (stray folders are not records, RULES.md §0);
- their `val_bpb` is read from submission.json as `ref` has it (`val_bpb`, else `mean_val_bpb`
  and the like); a folder whose JSON gives none is scored from its logs; a retracted one is
  skipped;
- the pick is then loaded like `--sota RECORD_DIR`: per-seed scores from its logs when they
  have final lines, else its `val_bpb` alone.

Outside such a checkout `pick_sota` raises InputError, one line saying what it needs.
"""
from __future__ import annotations

import datetime
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from golf.checks import load_sota
from golf.facts import Sota
from golf.findings import InputError
from golf.git import file_at, folders_at, verify_ref, work_tree_root
from golf.record import as_float
from golf.rules.submission_json import HEADLINE_KEYS

DATED_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})_\S+")  # the challenge's folder names (RULES.md §0)


@dataclass(frozen=True)
class Candidate:
    """An accepted record dated before the checked folder, and where its val_bpb was read."""

    name: str
    val_bpb: float
    source: str


@dataclass(frozen=True)
class SotaPick:
    """What --sota auto chose for one folder, and from how many accepted records."""

    sota: Sota | None
    record: str | None          # the picked folder, from the work tree's root
    val_bpb: float | None
    source: str                 # where its val_bpb was read
    candidates: int             # accepted records of the track dated before the folder
    track_folder: str           # records/<track_name>, from the work tree's root
    ref: str
    before: datetime.date

    def describe(self) -> str:
        where = f"in {self.track_folder} at {self.ref} dated before {self.before.isoformat()}"
        if self.record is None:
            return f"--sota auto: no accepted record {where}; significance not tested"
        best = "the only accepted record" if self.candidates == 1 else f"the best of {self.candidates} accepted records"
        return f"--sota auto picked {self.record} (val_bpb {self.val_bpb:.6g} from {self.source}), {best} {where}"

    def to_json(self) -> dict:
        return {"record": self.record, "val_bpb": self.val_bpb, "source": self.source, "candidates": self.candidates,
                "track_folder": self.track_folder, "ref": self.ref, "before": self.before.isoformat(),
                "text": self.describe()}


def pick_sota(folder: str | os.PathLike, ref: str = "HEAD") -> SotaPick:
    """The best accepted record of `folder`'s track dated before it; InputError outside a challenge checkout."""
    folder = Path(folder).resolve()
    root, track_folder, before = challenge_layout(folder)
    verify_ref(ref, root)
    names = [name for name in folders_at(ref, track_folder, root)
             if name != folder.name and (date := folder_date(name)) is not None and date < before]
    candidates = [found for name in names if (found := read_candidate(root, track_folder, name, ref))]
    if not candidates:
        return SotaPick(None, None, None, "", 0, track_folder, ref, before)
    best = min(candidates, key=lambda candidate: (candidate.val_bpb, candidate.name))
    record = f"{track_folder}/{best.name}"
    return SotaPick(load_picked(root / record, best), record, best.val_bpb, best.source, len(candidates),
                    track_folder, ref, before)


def challenge_layout(folder: Path) -> tuple[Path, str, datetime.date]:
    """(work tree root, records/<track_name> from it, the folder's date) of a challenge-shaped folder."""
    needs = (f"--sota auto needs a checkout of the challenge: {folder} is not "
             "records/track_<name>/<YYYY-MM-DD>_<name> inside a git work tree; pass --sota BPB or --sota RECORD_DIR")
    if folder.parent.parent.name != "records" or not folder.parent.name.startswith("track_") or not folder.is_dir():
        raise InputError(needs)
    root = work_tree_root(folder)
    if root is None:
        raise InputError(needs)
    before = folder_date(folder.name)
    if before is None:
        raise InputError(f"--sota auto cannot date {folder.name!r}: record folders are named YYYY-MM-DD_Name "
                         "(RULES.md §0); rename it or pass --sota BPB")
    return root, folder.parent.resolve().relative_to(root.resolve()).as_posix(), before


def folder_date(name: str) -> datetime.date | None:
    match = DATED_NAME.fullmatch(name)
    if not match:
        return None
    try:
        return datetime.date(*map(int, match.groups()))
    except ValueError:
        return None


def read_candidate(root: Path, track_folder: str, name: str, ref: str) -> Candidate | None:
    """The record's val_bpb: its submission.json at `ref`, else its logs on disk; None when retracted or unscored."""
    data = _json_at(ref, f"{track_folder}/{name}/submission.json", root)
    if data.get("status") == "retracted":
        return None
    for key in HEADLINE_KEYS:
        value = as_float(data.get(key))
        if value is not None:
            return Candidate(name, value, f"submission.json {key}")
    try:
        from_logs = load_sota(root / track_folder / name)
    except InputError:
        return None
    return Candidate(name, from_logs.val_bpb, f"its logs (mean of {len(from_logs.val_bpbs)} seeds)")


def _json_at(ref: str, path: str, root: Path) -> dict:
    raw = file_at(ref, path, root)
    try:
        data = json.loads(raw) if raw is not None else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def load_picked(folder: Path, best: Candidate) -> Sota:
    """The pick as --sota RECORD_DIR loads it (per-seed scores from its logs), else its val_bpb alone."""
    try:
        return load_sota(folder)
    except InputError:
        return Sota(folder.name, best.val_bpb)
