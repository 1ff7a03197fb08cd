"""Techniques as unified diffs against train_gpt.py: parse, apply, stack, and prove provenance.

Public API:
    Patch, Hunk                         a parsed .patch file (header block, target, hunks)
    PatchError                          an InputError that names the patch file and the hunk
    read_patch(path) -> Patch
    apply_patch(text, patch) -> str     pure Python; a hunk may sit at an offset, never fuzzed
    materialise(base_text, patch_paths) -> str        apply a series in order
    with_requirements(patch_paths) -> [Path]          the series with each patch's `Requires:` first
    read_stacks(path) -> dict[name, [patch names]]    patches/stacks.txt
    Provenance, write_provenance(folder, ...), read_provenance(path)
    check_provenance(folder) -> Finding               id "provenance"

A .patch file opens with a comment block (every line before the first `--- ` line), holding
`Key: value` fields (What, Why, Source, Knobs, Effect, Evaluation), then a `diff -u` of
`a/train_gpt.py` against `b/train_gpt.py`. A hunk applies where its context and removed lines
match exactly, searching outward from the line the header names, so stacked patches whose
hunks do not overlap apply in any order; a hunk that matches nowhere is an error.

A patch whose hunks must sit on another patch's code says so in a `Requires: a b` field: it is
a diff against train_gpt.py with those patches (and theirs) applied, in that order. A series
must list a patch's requirements before it; with_requirements() puts them there.

The PATCHES file in a record folder says how its train_gpt.py was made: the base file and
each patch, by path relative to the harness root, sha256 and git blob id (so a base that has
moved on since can still be read from git history).
"""
from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from golf.findings import FAIL, INFO, PASS, WARN, Finding, InputError

REPO_ROOT = Path(__file__).resolve().parent.parent
PATCHES_DIR = REPO_ROOT / "patches"
STACKS_FILE = PATCHES_DIR / "stacks.txt"
PROVENANCE_NAME = "PATCHES"
SCRIPT_NAME = "train_gpt.py"
_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_FIELD = re.compile(r"^#\s?([A-Z][A-Za-z ]{0,30}):\s*(.*)$")
_NO_NEWLINE = "\\ No newline at end of file"


class PatchError(InputError):
    """A patch that cannot be read or does not apply; the message names the file and the hunk."""


@dataclass(frozen=True)
class Hunk:
    number: int            # 1-based position in the patch file
    header: str            # the `@@ ... @@` line
    old_start: int         # 1-based line in the file the diff was made against
    old: tuple[str, ...]   # context and removed lines, each with its line ending
    new: tuple[str, ...]   # context and added lines


@dataclass(frozen=True)
class Patch:
    path: Path
    fields: dict[str, str]
    target: str
    hunks: tuple[Hunk, ...]

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def title(self) -> str:
        return self.fields.get("Title", self.name)

    @property
    def requires(self) -> tuple[str, ...]:
        """Names of the patches this one is written on top of (its `Requires:` field)."""
        return tuple(self.fields.get("Requires", "").replace(",", " ").split())


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def git_blob_id(data: bytes) -> str:
    """The id git gives these bytes as a blob (what `git hash-object` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# ---------------------------------------------------------------------------------------------
# Parsing


def read_patch(path: Path) -> Patch:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PatchError(f"{path}: no such patch; list them with `ls patches/*.patch`") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PatchError(f"{path}: cannot be read as UTF-8 text ({error})") from None
    return parse_patch(text, path)


def parse_patch(text: str, path: Path) -> Patch:
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("--- ")), None)
    if start is None or start + 1 >= len(lines) or not lines[start + 1].startswith("+++ "):
        raise PatchError(f"{path}: no `--- a/{SCRIPT_NAME}` / `+++ b/{SCRIPT_NAME}` header; make it with `diff -u`")
    target = _strip_prefix(lines[start + 1][4:].split("\t")[0].strip())
    hunks = _parse_hunks(lines[start + 2:], path, start + 3)
    if not hunks:
        raise PatchError(f"{path}: has no hunks")
    return Patch(path, _header_fields(lines[:start]), target, tuple(hunks))


def _strip_prefix(name: str) -> str:
    return name[2:] if name.startswith(("a/", "b/")) else name


def _header_fields(lines: list[str]) -> dict[str, str]:
    """`# Key: value` lines, with following `#   more` lines folded into the value."""
    fields: dict[str, str] = {}
    key = None
    for raw in lines:
        line = raw.rstrip("\n")
        match = _FIELD.match(line)
        if match:
            key = match.group(1).strip()
            fields[key] = match.group(2).strip()
        elif key and line.startswith("#") and line[1:].strip():
            fields[key] = f"{fields[key]} {line[1:].strip()}"
        else:
            key = None
    return fields


def _parse_hunks(lines: list[str], path: Path, first_line: int) -> list[Hunk]:
    hunks: list[Hunk] = []
    i = 0
    while i < len(lines):
        match = _HUNK_HEADER.match(lines[i])
        if lines[i].startswith("--- "):
            raise PatchError(f"{path}:{first_line + i}: changes a second file; a technique patch changes {SCRIPT_NAME} only")
        if not match:
            raise PatchError(f"{path}:{first_line + i}: expected a `@@ -l,s +l,s @@` hunk header, found {lines[i].rstrip()!r}")
        old_count = int(match.group(2) or 1)
        new_count = int(match.group(4) or 1)
        hunk, i = _read_hunk(lines, i + 1, old_count, new_count, path, len(hunks) + 1, first_line)
        hunks.append(Hunk(len(hunks) + 1, match.group(0), int(match.group(1)), *hunk))
    return hunks


def _read_hunk(lines, i, old_count, new_count, path, number, first_line):
    old: list[str] = []
    new: list[str] = []
    while len(old) < old_count or len(new) < new_count:
        if i >= len(lines):
            raise PatchError(f"{path}: hunk {number} ends early ({len(old)}/{old_count} old, {len(new)}/{new_count} new lines)")
        line = lines[i]
        kind, body = line[:1], line[1:]
        if line in ("\n", "\r\n"):   # an editor stripped the space of an empty context line
            kind, body = " ", line
        if kind not in (" ", "-", "+"):
            raise PatchError(f"{path}:{first_line + i}: hunk {number}: unexpected line {line.rstrip()!r}")
        if kind in (" ", "-"):
            old.append(body)
        if kind in (" ", "+"):
            new.append(body)
        i += 1
        if i < len(lines) and lines[i].rstrip("\r\n") == _NO_NEWLINE:
            _drop_newline(old if kind in (" ", "-") else None, new if kind in (" ", "+") else None)
            i += 1
    return (tuple(old), tuple(new)), i


def _drop_newline(*sides: list[str] | None) -> None:
    for side in sides:
        if side:
            side[-1] = side[-1].rstrip("\r\n")


# ---------------------------------------------------------------------------------------------
# Applying


def apply_patch(text: str, patch: Patch) -> str:
    """Apply every hunk in order; each must match exactly, at the stated line or an offset."""
    lines = text.splitlines(keepends=True)
    offset = 0
    for hunk in patch.hunks:
        at = _locate(lines, hunk, hunk.old_start - 1 + offset)
        if at is None:
            raise PatchError(_no_match_message(lines, hunk, patch, hunk.old_start - 1 + offset))
        lines[at:at + len(hunk.old)] = hunk.new
        offset = at - (hunk.old_start - 1) + len(hunk.new) - len(hunk.old)
    return "".join(lines)


def _locate(lines: list[str], hunk: Hunk, expected: int) -> int | None:
    """The match nearest the expected line (0-based), or None."""
    old = list(hunk.old)
    size = len(old)
    if size == 0:
        return min(max(expected + 1, 0), len(lines))  # pure insertion at the start of an empty file
    for distance in range(len(lines) + 1):
        for at in (expected - distance, expected + distance) if distance else (expected,):
            if 0 <= at <= len(lines) - size and lines[at:at + size] == old:
                return at
    return None


def _no_match_message(lines: list[str], hunk: Hunk, patch: Patch, expected: int) -> str:
    anchor = next((line for line in hunk.old if line.strip()), hunk.old[0] if hunk.old else "")
    where = f"near line {expected + 1}"
    for number, line in enumerate(lines, 1):
        if line == anchor:
            where = f"first context line found at line {number}, but the lines after it differ"
            break
    return (f"{patch.path.name}: hunk {hunk.number} ({hunk.header}) does not apply to {patch.target}: "
            f"{where}; expected {anchor.strip()!r}. Re-create the patch against the current {patch.target}")


def materialise(base_text: str, patch_paths: list[Path]) -> str:
    """Apply the patches in order to base_text; each one's requirements must come before it."""
    text = base_text
    applied: set[str] = set()
    for path in patch_paths:
        patch = read_patch(path)
        if Path(patch.target).name != SCRIPT_NAME:
            raise PatchError(f"{path}: changes {patch.target}; a technique patch changes {SCRIPT_NAME} only")
        missing = [name for name in patch.requires if name not in applied]
        if missing:
            raise PatchError(f"{patch.path.name} requires {', '.join(missing)}: list it before {patch.name} "
                             "(tools/make_record.py adds requirements for you)")
        text = apply_patch(text, patch)
        applied.add(patch.name)
    return text


def with_requirements(patch_paths: list[Path], patches_dir: Path = PATCHES_DIR) -> list[Path]:
    """The series with every patch's requirements (found in patches_dir) placed before it, each
    patch once, in the order first needed."""
    series: list[Path] = []
    for path in patch_paths:
        _add_with_requirements(Path(path).resolve(), series, (), patches_dir)
    return series


def _add_with_requirements(path: Path, series: list[Path], chain: tuple[str, ...], patches_dir: Path) -> None:
    if path in series:
        return
    patch = read_patch(path)
    if patch.name in chain:
        raise PatchError(f"{patch.path.name}: requirements loop {' -> '.join(chain + (patch.name,))}")
    for name in patch.requires:
        _add_with_requirements(resolve_patch(name, patches_dir), series, chain + (patch.name,), patches_dir)
    series.append(path)


def resolve_patch(name: str, patches_dir: Path = PATCHES_DIR) -> Path:
    """A patch given as a path, a file name in patches/, or a bare name (`ema`)."""
    for candidate in (Path(name), patches_dir / name, patches_dir / f"{name}.patch"):
        if candidate.is_file():
            return candidate.resolve()
    known = ", ".join(sorted(p.stem for p in patches_dir.glob("*.patch"))) or "none"
    raise PatchError(f"patch {name!r} not found (as a path or in {patches_dir}); known patches: {known}")


def list_patches(patches_dir: Path = PATCHES_DIR) -> list[Path]:
    return sorted(patches_dir.glob("*.patch"))


def read_stacks(path: Path = STACKS_FILE) -> dict[str, list[str]]:
    """`name: patch patch ...` lines; `#` starts a comment. Order within a stack is the apply order."""
    stacks: dict[str, list[str]] = {}
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, members = line.partition(":")
        if not sep or not members.split():
            raise InputError(f"{path}:{number}: expected `name: patch patch ...`, found {raw!r}")
        stacks[name.strip()] = members.split()
    return stacks


# ---------------------------------------------------------------------------------------------
# Provenance


@dataclass(frozen=True)
class Source:
    """One input to the series: a path relative to the harness root, with both digests."""

    path: str
    sha256: str
    git_blob: str

    @classmethod
    def of(cls, path: Path, root: Path = REPO_ROOT) -> "Source":
        data = Path(path).read_bytes()
        try:
            shown = Path(path).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            shown = str(Path(path).resolve())
        return cls(shown, sha256_bytes(data), git_blob_id(data))

    def line(self, kind: str) -> str:
        return f"{kind} {self.path} sha256:{self.sha256} git:{self.git_blob}"


@dataclass(frozen=True)
class Provenance:
    base: Source
    patches: tuple[Source, ...]
    result_sha256: str


def provenance_text(provenance: Provenance) -> str:
    lines = [
        "# How train_gpt.py in this folder was made (tools/make_record.py). Re-applying the",
        "# patches in order to the base reproduces it byte for byte; paths are relative to the",
        "# golf harness root, `git` is the blob id (`git cat-file blob <id>` recovers a file).",
        provenance.base.line("base"),
        *(source.line("patch") for source in provenance.patches),
        f"result {SCRIPT_NAME} sha256:{provenance.result_sha256}",
    ]
    return "\n".join(lines) + "\n"


def write_provenance(folder: Path, base: Path, patch_paths: list[Path], result: bytes) -> Path:
    provenance = Provenance(Source.of(base), tuple(Source.of(p) for p in patch_paths), sha256_bytes(result))
    path = Path(folder) / PROVENANCE_NAME
    path.write_text(provenance_text(provenance), encoding="utf-8")
    return path


_SOURCE_LINE = re.compile(r"^(base|patch) (\S+) sha256:([0-9a-f]{64}) git:([0-9a-f]{40})$")
_RESULT_LINE = re.compile(r"^result \S+ sha256:([0-9a-f]{64})$")


def read_provenance(path: Path) -> Provenance:
    base, patches, result = None, [], None
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        source, outcome = _SOURCE_LINE.match(raw), _RESULT_LINE.match(raw)
        if source and source.group(1) == "base" and base is None:
            base = Source(*source.groups()[1:])
        elif source and source.group(1) == "patch":
            patches.append(Source(*source.groups()[1:]))
        elif outcome:
            result = outcome.group(1)
        else:
            raise InputError(f"{path}:{number}: unreadable line {raw!r}; expected `base|patch PATH sha256:.. git:..` or `result ...`")
    if base is None or result is None:
        raise InputError(f"{path}: needs one `base` line and one `result` line")
    return Provenance(base, tuple(patches), result)


def check_provenance(folder: Path) -> Finding:
    """PATCHES present: re-applying its patches to its base must give train_gpt.py byte for byte.

    FAIL when the script differs or a patch no longer applies; WARN when an input is neither on
    disk with the recorded sha256 nor in git history; INFO when there is no PATCHES file.
    """
    folder = Path(folder)
    manifest = folder / PROVENANCE_NAME
    if not manifest.is_file():
        return Finding("provenance", INFO, f"no {PROVENANCE_NAME} file: train_gpt.py is not declared as base + patches")
    try:
        provenance = read_provenance(manifest)
    except (InputError, OSError, UnicodeDecodeError) as error:
        return Finding("provenance", FAIL, f"{PROVENANCE_NAME} cannot be read: {error}", (PROVENANCE_NAME,))
    return _verify(folder, provenance)


def _verify(folder: Path, provenance: Provenance) -> Finding:
    evidence = (PROVENANCE_NAME, SCRIPT_NAME)
    inputs = [provenance.base, *provenance.patches]
    found = {source: _recover(source, folder) for source in inputs}
    missing = [source.path for source, data in found.items() if data is None]
    if missing:
        return Finding("provenance", WARN, f"cannot verify: {', '.join(missing)} not found with the recorded sha256 "
                                           "on disk or in git history", evidence)
    try:
        text = found[provenance.base].decode("utf-8")
        for source in provenance.patches:
            text = apply_patch(text, parse_patch(found[source].decode("utf-8"), Path(source.path)))
    except (PatchError, UnicodeDecodeError) as error:
        return Finding("provenance", FAIL, f"re-applying the patches fails: {error}", evidence)
    return _compare(folder, text.encode("utf-8"), provenance, evidence)


def _compare(folder: Path, rebuilt: bytes, provenance: Provenance, evidence: tuple[str, ...]) -> Finding:
    try:
        actual = (folder / SCRIPT_NAME).read_bytes()
    except OSError as error:
        return Finding("provenance", FAIL, f"{SCRIPT_NAME} cannot be read ({error.strerror or error})", evidence)
    series = " + ".join([provenance.base.path] + [Path(p.path).name for p in provenance.patches])
    if actual == rebuilt:
        return Finding("provenance", PASS, f"{SCRIPT_NAME} is {series}, byte for byte (sha256 {sha256_bytes(actual)[:12]})", evidence)
    return Finding("provenance", FAIL, f"{SCRIPT_NAME} differs from {series} {_first_difference(actual, rebuilt)}; "
                                       "re-run tools/make_record.py or drop the edit", evidence)


def _first_difference(actual: bytes, rebuilt: bytes) -> str:
    offset = next((i for i, (x, y) in enumerate(zip(actual, rebuilt)) if x != y), min(len(actual), len(rebuilt)))
    number = actual.count(b"\n", 0, offset) + 1
    # Both agree before `offset`, so both have that line.
    left, right = (data.split(b"\n")[number - 1].decode("utf-8", "replace").strip()[:60] for data in (actual, rebuilt))
    return f"at line {number}, byte {offset} ({left!r} instead of {right!r})"


def _recover(source: Source, folder: Path) -> bytes | None:
    """The input's bytes: from the file when its sha256 still matches, else from git history."""
    for root in [*Path(folder).resolve().parents, REPO_ROOT]:
        candidate = root / source.path
        if candidate.is_file():
            data = candidate.read_bytes()
            if sha256_bytes(data) == source.sha256:
                return data
    for root in (Path(folder).resolve(), REPO_ROOT):
        data = _git_blob(root, source.git_blob)
        if data is not None and sha256_bytes(data) == source.sha256:
            return data
    return None


def _git_blob(cwd: Path, blob_id: str) -> bytes | None:
    try:
        done = subprocess.run(["git", "cat-file", "blob", blob_id], cwd=cwd, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None
