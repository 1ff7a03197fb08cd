"""The few read-only git queries the checker's pull-request front ends need.

`--changed BASE` and `--staged` (golf.changed) ask which paths a change touches; `--sota auto`
(golf.sota_auto) asks which record folders a commit holds and what their submission.json says
there. Every query is a plain `git` read (rev-parse, diff --name-only, ls-tree, show): nothing
from a record folder is run. A failed query is an InputError (exit code 2) naming the command
and git's own first line of complaint.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from golf.findings import InputError


def git(args: list[str], cwd: str | os.PathLike) -> bytes:
    """stdout of `git ARGS` run in `cwd`; InputError with git's first line of stderr when it fails."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except FileNotFoundError:
        raise InputError("git is not installed or not on PATH; it is needed for --changed, --staged "
                         "and --sota auto") from None
    except NotADirectoryError:
        raise InputError(f"{cwd} is not a folder") from None
    if done.returncode != 0:
        complaint = done.stderr.decode(errors="replace").strip().splitlines() or [f"exit code {done.returncode}"]
        raise InputError(f"`git {' '.join(args)}` failed in {cwd}: {complaint[0]}")
    return done.stdout


def work_tree_root(path: str | os.PathLike) -> Path | None:
    """The top folder of the git work tree holding `path` (a folder), or None outside one."""
    try:
        return Path(os.fsdecode(git(["rev-parse", "--show-toplevel"], path).strip()))
    except InputError:
        return None


def _names(output: bytes) -> list[str]:
    return [os.fsdecode(name) for name in output.split(b"\0") if name]


def changed_paths(base_ref: str, cwd: str | os.PathLike) -> list[str]:
    """Paths (from the work tree's root) `git diff BASE...HEAD` touches, both sides of a rename."""
    return _names(git(["diff", "--name-only", "--no-renames", "-z", f"{base_ref}...HEAD", "--"], cwd))


def staged_paths(cwd: str | os.PathLike) -> list[str]:
    """Paths (from the work tree's root) staged for the next commit."""
    return _names(git(["diff", "--cached", "--name-only", "--no-renames", "-z", "--"], cwd))


def folders_at(ref: str, folder: str, cwd: str | os.PathLike) -> list[str]:
    """Names of the sub-folders of `folder` (a path from the root) as commit `ref` has them."""
    listed = _names(git(["ls-tree", "-d", "--name-only", "-z", ref, "--", folder.rstrip("/") + "/"], cwd))
    return [name.rsplit("/", 1)[-1] for name in listed]


def file_at(ref: str, path: str, cwd: str | os.PathLike) -> bytes | None:
    """The bytes of file `path` (from the root) in commit `ref`, or None when the commit has no such file."""
    try:
        return git(["show", f"{ref}:{path}"], cwd)
    except InputError:
        return None


def verify_ref(ref: str, cwd: str | os.PathLike) -> str:
    """The commit `ref` names; InputError saying how to fetch it when the checkout does not have it."""
    try:
        return git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd).decode().strip()
    except InputError:
        raise InputError(f"{ref!r} is not a commit in this checkout: fetch it first (in a GitHub workflow, "
                         "actions/checkout with fetch-depth: 0)") from None
