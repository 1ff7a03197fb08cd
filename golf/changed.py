"""The record folders a change touches: `--changed BASE` (a pull request) and `--staged` (a commit).

A record folder is `records/<track_name>/<folder>/` at the root of the work tree, the challenge's
own layout (RULES.md §0). A touched path inside one names it; paths elsewhere (the root README,
`records/README.md`) name none. Folders the change deleted are listed apart, so that callers
can say they were skipped rather than fail to read them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from golf.findings import InputError
from golf.git import changed_paths, staged_paths, verify_ref, work_tree_root

RECORDS = "records"


@dataclass(frozen=True)
class ChangedFolders:
    """Record folders a change touches: those still on disk, and those it deleted."""

    existing: tuple[Path, ...]
    deleted: tuple[str, ...]


def record_folder_of(path: str) -> str | None:
    """`records/<track_x>/<folder>` for a path inside a record folder, else None."""
    parts = path.split("/")
    if len(parts) >= 4 and parts[0] == RECORDS and parts[1].startswith("track_"):
        return "/".join(parts[:3])
    return None


def record_folders(paths: list[str], root: Path) -> ChangedFolders:
    """The distinct record folders among `paths` (from `root`), in sorted order, split by whether they exist."""
    folders = sorted({folder for folder in map(record_folder_of, paths) if folder})
    existing = tuple(root / folder for folder in folders if (root / folder).is_dir())
    deleted = tuple(folder for folder in folders if not (root / folder).is_dir())
    return ChangedFolders(existing, deleted)


def _root(cwd: str | os.PathLike) -> Path:
    root = work_tree_root(cwd)
    if root is None:
        raise InputError(f"{Path(cwd).resolve()} is not inside a git work tree: --changed and --staged read git")
    return root


def changed_record_folders(base_ref: str, cwd: str | os.PathLike = ".") -> ChangedFolders:
    """Record folders touched by `git diff BASE...HEAD`: what a pull request onto BASE adds or changes."""
    root = _root(cwd)
    verify_ref(base_ref, root)
    return record_folders(changed_paths(base_ref, root), root)


def staged_record_folders(cwd: str | os.PathLike = ".") -> ChangedFolders:
    """Record folders with staged changes: what the next commit adds or changes (the pre-commit hook)."""
    root = _root(cwd)
    return record_folders(staged_paths(root), root)
