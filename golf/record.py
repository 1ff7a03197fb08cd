"""A record folder as data: its files, its submission.json, its logs and one row per seed.

`load_record(folder)` reads everything a check needs, once, without importing or executing
anything from the folder. Reads are bounded (file count, folder depth, bytes per log: a longer
log is read at its head and its tail, its line numbers kept physical) so a hostile or broken
folder gives findings or an `InputError`, never a hang or a traceback.

Layout it understands (RULES.md §6): `README.md`, `submission.json` (or
`submission_<x>.json`), `train_gpt.py` (or another `train*.py`), and logs anywhere below the
folder: `train.log`, `train_seed<N>.log`, `logs/*.txt`, eval-only reruns such as
`ttt_pr1767/seed_<N>.log`.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from golf.findings import InputError
from golf.logs import Gap, RunLog, looks_like_train_log, matches_claim, parse_log_text
from golf.source import DecodedSource, SourceError, decode_file

SCRIPT_NAME = "train_gpt.py"
MAX_FILES = 2000
MAX_DEPTH = 6
MAX_LOG_BYTES = 8_000_000       # per log; real logs, source included, are a few MB at most; a longer one is
                                # read at its head and its tail, half each, so its final lines are seen
MAX_COUNTED_BYTES = 1_000_000_000  # lines skipped between head and tail are counted; past this, head only
COUNT_CHUNK_BYTES = 1 << 22
MAX_TOTAL_LOG_BYTES = 64_000_000
MAX_SCRIPT_BYTES = 16_000_000   # a bigger script cannot fit the artifact cap anyway
MAX_JSON_BYTES = 2_000_000
MAX_README_BYTES = 1_000_000
LOG_NAME = re.compile(r"(train|seed|run|log|eval|ttt)", re.IGNORECASE)


@dataclass(frozen=True)
class RecordFiles:
    """Every regular file in the folder (relative POSIX paths) and the ones that matter."""

    root: Path
    files: tuple[str, ...]
    sizes: dict[str, int]               # bytes on disk, per file in `files`
    skipped: tuple[str, ...]            # symlinks, special files, entries past the limits
    readme: str | None                  # README.md, else the largest other top-level *readme*.md
    submissions: tuple[str, ...]        # submission.json first, then submission_<x>.json
    script: str | None                  # train_gpt.py, else the largest other train*.py
    other_scripts: tuple[str, ...]      # top-level train*.py other than `script`
    requirements: str | None
    logs: tuple[str, ...]               # files that hold (or claim to hold) a run's log


@dataclass(frozen=True)
class ClaimedSeed:
    """What submission.json says about one seed."""

    seed: str
    val_bpb: float | None
    val_loss: float | None
    artifact_bytes: int | None


@dataclass(frozen=True)
class Submission:
    """submission.json read tolerantly: `data` is None and `error` says why when it is unusable."""

    name: str | None
    data: dict | None
    error: str | None
    claims: tuple[ClaimedSeed, ...] = ()
    listed_seeds: tuple[str, ...] = ()

    def decimals(self, key: str) -> int | None:
        """Digits after the point as written in the file (1.0810 -> 4), None when not a number."""
        value = (self.data or {}).get(key)
        text = getattr(value, "text", None)
        if text is None:
            return None
        mantissa = text.lower().split("e")[0]
        return len(mantissa.split(".")[1]) if "." in mantissa else 0


@dataclass(frozen=True)
class LoadedLog:
    """One log file: its parsed run, plus how much of it was read.

    A log past the read cap is `truncated`: `text` holds its head and, when `gap` is set, its tail
    too. Line numbers in `run` are physical either way; `physical_line` maps a line of `text`.
    """

    name: str
    size: int
    truncated: bool
    run: RunLog
    text: str
    gap: Gap | None = None

    @property
    def is_training(self) -> bool:
        return bool(self.run.steps) or self.run.train_time_ms is not None

    def physical_line(self, text_line: int) -> int:
        """The file's line number of line `text_line` (1-based) of `text`."""
        return self.gap.physical(text_line) if self.gap else text_line

    def lines_after(self, first: int, last: int) -> str:
        """The text read after physical line `first`, up to and including physical line `last`."""
        start, end = (self.gap.text_line(line) if self.gap else line for line in (first, last))
        return "\n".join(self.text.split("\n")[start:end])


@dataclass(frozen=True)
class SeedRow:
    """One seed: the log that trained it, the log its score comes from (often the same)."""

    seed: str
    seed_source: str                    # "log" (seed line), "file name", or "none"
    train_log: LoadedLog | None
    score_log: LoadedLog | None
    extra_logs: tuple[LoadedLog, ...]   # further training runs that name the same seed

    @property
    def final(self):
        return self.score_log.run.final if self.score_log else None

    @property
    def complete(self) -> bool:
        """A final metric line with finite numbers (a diverged run prints nan)."""
        final = self.final
        return final is not None and math.isfinite(final.val_loss) and math.isfinite(final.val_bpb)


@dataclass(frozen=True)
class Script:
    """The training script: raw size on disk and the decoded source (or why it could not be)."""

    name: str | None
    size: int | None
    decoded: DecodedSource | None
    error: str | None


@dataclass(frozen=True)
class Record:
    """Everything the checks read about one record folder."""

    path: str                           # as given on the command line
    files: RecordFiles
    submission: Submission
    script: Script
    logs: tuple[LoadedLog, ...]
    seeds: tuple[SeedRow, ...]
    not_runs: tuple[LoadedLog, ...] = ()   # log-like files that are no run: summaries, notes
    readme_text: str = ""
    unreadable: tuple[str, ...] = field(default_factory=tuple)

    @property
    def root(self) -> Path:
        return self.files.root


def load_record(folder: str | os.PathLike) -> Record:
    """Read a record folder; raise InputError when it is missing, not a folder, or unreadable."""
    files = find_record_files(folder)
    unreadable: list[str] = []
    logs, budget = [], MAX_TOTAL_LOG_BYTES
    for name in files.logs:
        if budget <= 0:
            unreadable.append(f"{name} (past the {MAX_TOTAL_LOG_BYTES:,} B read budget for all logs)")
            continue
        try:
            logs.append(load_log(files.root, name, min(budget, MAX_LOG_BYTES)))
        except OSError as error:
            unreadable.append(f"{name} ({error.strerror or error})")
            continue
        budget -= len(logs[-1].text)
    submission = (read_submission(files.root, files.submissions[0]) if files.submissions
                  else Submission(None, None, "no submission.json"))
    seeds, not_runs = seed_table(logs, submission.claims)
    return Record(
        path=str(folder),
        files=files,
        submission=submission,
        script=read_script(files.root, files.script),
        logs=tuple(logs),
        seeds=seeds,
        not_runs=not_runs,
        readme_text=_read_text(files.root / files.readme, MAX_README_BYTES) if files.readme else "",
        unreadable=tuple(unreadable),
    )


def find_record_files(folder: str | os.PathLike) -> RecordFiles:
    """Walk the folder (no symlinks followed, bounded depth and count) and name its parts."""
    root = _checked_folder(folder)
    sizes, skipped = _walk(root)
    found = sorted(sizes)
    top = [name for name in found if "/" not in name]
    lower = {name.lower(): name for name in top}
    submissions = [lower[k] for k in ("submission.json",) if k in lower]
    submissions += sorted(n for n in top if re.fullmatch(r"submission_.+\.json", n, re.IGNORECASE))
    scripts = sorted(n for n in top if re.fullmatch(r"train.*\.py", n, re.IGNORECASE))
    # train_gpt.py, else the largest train*.py (train_gpt_v5.py, train_mamba3_hybrid.py: RULES §6).
    script = SCRIPT_NAME if SCRIPT_NAME in top else max(scripts, key=lambda name: sizes[name], default=None)
    return RecordFiles(
        root=root,
        files=tuple(found),
        sizes=sizes,
        skipped=tuple(skipped),
        readme=_readme(top, sizes),
        submissions=tuple(submissions),
        script=script,
        other_scripts=tuple(n for n in scripts if n != script),
        requirements=lower.get("requirements.txt"),
        logs=tuple(n for n in found if _is_log(root, n)),
    )


def _readme(top: list[str], sizes: dict[str, int]) -> str | None:
    """README.md (any case), else the largest top-level *readme*.md (a PR with V21_README.md)."""
    exact = [name for name in top if name.lower() in ("readme.md", "readme")]
    named = [name for name in top if re.fullmatch(r".*readme.*\.md", name, re.IGNORECASE)]
    return (exact or sorted(named, key=lambda name: -sizes[name]) or [None])[0]


def _checked_folder(folder: str | os.PathLike) -> Path:
    path = Path(folder)
    try:
        resolved = path.resolve(strict=True)
        mode = resolved.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{folder}: no such folder; pass a record folder such as records/track_10min_16mb/<name>")
    except RuntimeError:
        raise InputError(f"{folder}: symlink loop; pass the real record folder")
    except OSError as error:
        if error.errno == 40:  # ELOOP
            raise InputError(f"{folder}: symlink loop; pass the real record folder")
        raise InputError(f"{folder}: cannot be read ({error.strerror or error})")
    if not stat.S_ISDIR(mode):
        raise InputError(f"{folder}: not a folder; pass the record folder that holds submission.json")
    if not os.access(resolved, os.R_OK | os.X_OK):
        raise InputError(f"{folder}: folder cannot be read (permission denied)")
    return resolved


def _walk(root: Path) -> tuple[dict[str, int], list[str]]:
    found: dict[str, int] = {}
    skipped: list[str] = []
    pending = [(root, "", 0)]
    while pending:
        folder, prefix, depth = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            skipped.append(f"{prefix or '.'} (cannot list: {error.strerror or error})")
            continue
        for entry in entries:
            relative = prefix + entry.name
            if entry.name in (".git", "__pycache__"):
                continue
            if entry.is_symlink():
                skipped.append(f"{relative} (symlink, not followed)")
            elif entry.is_dir(follow_symlinks=False):
                if depth + 1 >= MAX_DEPTH:
                    skipped.append(f"{relative}/ (deeper than {MAX_DEPTH} levels)")
                else:
                    pending.append((Path(entry.path), relative + "/", depth + 1))
            elif entry.is_file(follow_symlinks=False):
                if len(found) >= MAX_FILES:
                    skipped.append(f"{relative} (past {MAX_FILES} files)")
                else:
                    try:
                        found[relative] = entry.stat(follow_symlinks=False).st_size
                    except OSError as error:
                        skipped.append(f"{relative} (cannot stat: {error.strerror or error})")
            else:
                skipped.append(f"{relative} (not a regular file)")
    return found, skipped


def _is_log(root: Path, name: str) -> bool:
    """`*.log` files named like runs, and any `*.log`/`*.txt` whose content looks like a train log."""
    lowered = name.lower()
    if not lowered.endswith((".log", ".txt")) or lowered.rsplit("/", 1)[-1] in ("requirements.txt",):
        return False
    if lowered.endswith(".log") and LOG_NAME.search(name.rsplit("/", 1)[-1]):
        return True
    try:
        return bool(looks_like_train_log(root / name))
    except (OSError, ValueError):
        return False


def load_log(root: Path, name: str, limit: int = MAX_LOG_BYTES) -> LoadedLog:
    """Read at most `limit` bytes of a log (invalid UTF-8 replaced) and parse it; a longer log gives its
    first and last `limit / 2` bytes, cut at line ends, with the lines between counted, not kept."""
    path = root / name
    size = path.stat().st_size
    with open(path, "rb") as handle:
        raw, gap = (handle.read(limit), None) if size <= limit else _head_and_tail(handle, size, limit)
    text = raw.decode("utf-8", errors="replace")
    return LoadedLog(name, size, size > limit, parse_log_text(text, name, gap), text, gap)


def _head_and_tail(handle, size: int, limit: int) -> tuple[bytes, Gap | None]:
    """(head + tail, the gap between them); just the head when the gap is too long to count lines through
    or no line starts in the tail."""
    head = handle.read(limit // 2)
    head = head[:head.rfind(b"\n") + 1] or head
    tail_from = max(size - limit // 2, len(head) + 1)
    if tail_from - len(head) > MAX_COUNTED_BYTES:
        return head, None
    handle.seek(tail_from - 1)
    chunk = handle.read(size - tail_from + 1)
    start = chunk.find(b"\n") + 1  # the tail opens at a line start; 0: no line starts in it
    tail = chunk[start:] if start else b""
    if not tail:
        return head, None
    skipped = _count_newlines(handle, len(head), tail_from - 1 + start)
    unread = size - len(head) - len(tail)
    if not head.endswith(b"\n"):  # one line longer than the head: end it, so the tail starts a line
        head += b"\n"
        skipped -= 1
    return head + tail, Gap(after=head.count(b"\n"), lines=skipped, size=unread)


def _count_newlines(handle, start: int, end: int) -> int:
    """Newlines in bytes [start, end) of the file, read in chunks."""
    handle.seek(start)
    count, remaining = 0, end - start
    while remaining > 0:
        chunk = handle.read(min(COUNT_CHUNK_BYTES, remaining))
        if not chunk:
            break
        count += chunk.count(b"\n")
        remaining -= len(chunk)
    return count


def read_script(root: Path, name: str | None) -> Script:
    """Raw size on disk and the decoded source; decoding never executes the file."""
    if name is None:
        return Script(None, None, None, "no training script")
    path = root / name
    try:
        size = path.stat().st_size
        if size > MAX_SCRIPT_BYTES:
            why = f"{size:,} B, past the {MAX_SCRIPT_BYTES:,} B read limit (and the artifact cap)"
            return Script(name, size, None, why)
        decoded = decode_file(path)
    except SourceError as error:
        return Script(name, _size_or_none(path), None, str(error))
    except (OSError, InputError) as error:
        return Script(name, _size_or_none(path), None, f"cannot be read ({getattr(error, 'strerror', None) or error})")
    return Script(name, size, decoded, None)


def _size_or_none(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _read_text(path: Path, limit: int) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# submission.json


class _Number(float):
    """A float that remembers how it was written, so a check can use the file's own rounding."""

    text: str

    def __new__(cls, text: str):
        number = super().__new__(cls, text)
        number.text = text
        return number


def read_submission(root: Path, name: str) -> Submission:
    """Parse submission.json; any problem becomes `error` (one line), never an exception."""
    path = root / name
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            return Submission(name, None, f"{name} is {size:,} B, over the {MAX_JSON_BYTES:,} B read limit")
        raw = path.read_bytes()
    except OSError as error:
        return Submission(name, None, f"{name} cannot be read ({error.strerror or error})")
    try:
        data = json.loads(raw.decode("utf-8"), parse_float=_Number)
    except UnicodeDecodeError as error:
        return Submission(name, None, f"{name} is not UTF-8 (byte {error.start})")
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        return Submission(name, None, f"{name} is not valid JSON: {error.msg} at {where}")
    except RecursionError:
        return Submission(name, None, f"{name} nests too deeply to read")
    if not isinstance(data, dict):
        return Submission(name, None, f"{name} holds a JSON {type(data).__name__}, not an object")
    claims, listed = _claimed_seeds(data)
    return Submission(name, data, None, claims, listed)


def _claimed_seeds(data: dict) -> tuple[tuple[ClaimedSeed, ...], tuple[str, ...]]:
    """Per-seed claims from `seed_results` (dict), `seeds` (list of ints, or dict) or a list of dicts."""
    claims: dict[str, ClaimedSeed] = {}
    listed: list[str] = []
    for key in ("seed_results", "seeds"):
        value = data.get(key)
        if isinstance(value, dict):
            items = list(value.items())
        elif isinstance(value, list):
            items = [(item.get("seed"), item) if isinstance(item, dict) else (item, None) for item in value]
        else:
            continue
        for seed, entry in items:
            if seed is None or isinstance(seed, (dict, list)):
                continue
            seed_text = _seed_text(seed)
            listed.append(seed_text)
            if isinstance(entry, (int, float)) and not isinstance(entry, bool) and seed_text not in claims:
                claims[seed_text] = ClaimedSeed(seed_text, as_float(entry), None, None)  # {"42": 1.0810}
            elif isinstance(entry, dict) and seed_text not in claims:
                claims[seed_text] = ClaimedSeed(
                    seed_text,
                    as_float(entry.get("val_bpb")),
                    as_float(entry.get("val_loss", entry.get("val_loss_nats"))),
                    as_int(_first(entry, "artifact_bytes", "bytes_total", "total_bytes", "artifact_size_bytes")),
                )
        if listed:
            break
    return tuple(claims.values()), tuple(listed)


def _first(entry: dict, *keys: str):
    for key in keys:
        if entry.get(key) is not None:
            return entry[key]
    return None


def _seed_text(seed) -> str:
    """A seed as the logs spell it: 42 for 42, 42.0, "42", "seed_42", "seed42" or "s42"."""
    if isinstance(seed, float) and seed.is_integer():
        return str(int(seed))
    text = str(seed).strip()
    match = re.fullmatch(r"(?:seed[_\-]?|s)?(\d+)", text, re.IGNORECASE)
    return str(int(match.group(1))) if match else text


def as_float(value) -> float | None:
    """A finite float from a JSON number or numeric string; None otherwise (bools excluded)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_int(value) -> int | None:
    number = as_float(value)
    return int(number) if number is not None and number.is_integer() else None


# ---------------------------------------------------------------------------------------------
# Seeds


def log_seed(log: LoadedLog) -> tuple[str | None, str]:
    """The seed a log ran with: its own seed line first, else the file name (seed_42.log)."""
    seed = log.run.seed
    if seed is None:
        return None, "none"
    return _seed_text(seed.value), "log" if seed.line else "file name"


def seed_table(logs: list[LoadedLog],
               claims: tuple[ClaimedSeed, ...] = ()) -> tuple[tuple[SeedRow, ...], tuple[LoadedLog, ...]]:
    """Group logs by seed: (one row per seed, logs set aside as not being runs).

    A training log trains the seed; an eval-only log with a score re-scores it (RULES §6 item
    4). A log with no seed anywhere is its own row, keyed by its file name, unless it has no
    training steps and other logs do name seeds: then it is a summary or notes file and is set
    aside. Byte-identical copies of a log count once. When a seed has several training logs, the
    one whose score submission.json claims is used (else the first complete one in name order);
    the others are kept as `extra_logs` (repeated seeds, or reruns).
    """
    claimed = {claim.seed: claim.val_bpb for claim in claims if claim.val_bpb is not None}
    unique = list({log.text: log for log in reversed(logs)}.values())[::-1]
    seeded = any(log_seed(log)[0] is not None or log.is_training for log in unique)
    groups: dict[str, list[tuple[LoadedLog, str]]] = {}
    aside = []
    for log in unique:
        seed, source = log_seed(log)
        if seed is None and not log.is_training and seeded and len(unique) > 1:
            aside.append(log)
            continue
        groups.setdefault(seed if seed is not None else log.name, []).append((log, source))
    rows = []
    for seed, members in groups.items():
        training = [log for log, _ in members if log.is_training]
        scoring = [log for log, _ in members if not log.is_training and log.run.final is not None]
        complete_training = [log for log in training if log.run.final is not None]
        matching = [log for log in complete_training if seed in claimed and matches_claim(log.run.final, claimed[seed])]
        train_log = (matching or complete_training or training or [None])[0]
        score_log = scoring[-1] if scoring else (train_log or members[-1][0])
        extra = tuple(log for log in training if log is not train_log)
        rows.append(SeedRow(seed, members[0][1], train_log, score_log, extra))
    return tuple(sorted(rows, key=_seed_order)), tuple(aside)


def _seed_order(row: SeedRow):
    return (0, int(row.seed), "") if row.seed.isdigit() else (1, 0, row.seed)
