"""What a record folder says was run: the environment its run commands set (RULES §1, E8).

A knob that is off in the code may be switched on where the author ran the script: an
`export SLOT_ENABLED=1` in the README's run block, `TTT_ENABLED=1 torchrun ...` in a shell
script, an env file, or settings listed in submission.json. Each of these is one `RunConfig`:
the variables set for one command, with the file and line that set them. Nothing is run.

Public API:
    RunConfig                        env (KEY -> value text) and where each was set
    run_configs(root, files)         the configs of a folder, from its text files
    shell_configs(text, name)        the configs of one shell text (a script, a code block)
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

MAX_TEXT_BYTES = 1_000_000
_FENCE = re.compile(r"^(\s*)(```|~~~)[^\n]*\n(.*?)^\1\2", re.M | re.S)
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_DEFAULTED = re.compile(r"\$\{[A-Za-z_]\w*:?-([^}]*)\}")
_ENV_KEY = re.compile(r"^[A-Z][A-Z0-9_]{2,}$")
_RUNS = re.compile(r"\b(torchrun|python3?|accelerate|deepspeed)\b|\.py\b")
_SHELL_SUFFIXES = (".sh", ".bash")
_ENV_SUFFIXES = (".env",)
_NOTE_SUFFIXES = (".md", ".txt", ".rst")


@dataclass
class RunConfig:
    """The environment of one documented run: variable -> value, and variable -> `file:line`."""

    env: dict[str, str] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)

    def set(self, key: str, value: str, where: str) -> None:
        self.env[key] = value
        self.where[key] = where


def run_configs(root: Path, files: list[str] | tuple[str, ...]) -> list[RunConfig]:
    """The run configs in a folder's shell scripts, env files, notes' code blocks and submission.json."""
    configs: list[RunConfig] = []
    for name in files:
        lowered = name.lower()
        if lowered.endswith(_SHELL_SUFFIXES):
            configs += shell_configs(_read(root / name), name)
        elif lowered.endswith(_ENV_SUFFIXES):
            configs += [_env_file(_read(root / name), name)]
        elif lowered.endswith(_NOTE_SUFFIXES):
            configs += _note_configs(_read(root / name), name)
        elif lowered.endswith("submission.json"):
            configs += [_submission_config(_read(root / name), name)]
    return [config for config in configs if config.env]


def shell_configs(text: str, name: str, first_line: int = 1) -> list[RunConfig]:
    """One config per command that runs Python, with the exports before it; or one for the exports alone."""
    exported = RunConfig()
    configs = []
    for line, command in _commands(text):
        where = f"{name}:{first_line + line - 1}"
        words = _words(command)
        if not words:
            continue
        if words[0] in ("export", "declare", "set") or all(_ASSIGNMENT.match(w) for w in words):
            for word in words:
                match = _ASSIGNMENT.match(word)
                if match:
                    exported.set(match.group(1), _unquote(match.group(2)), where)
            continue
        prefix = RunConfig(dict(exported.env), dict(exported.where))
        for word in words[1:] if words[0] == "env" else words:
            match = _ASSIGNMENT.match(word)
            if not match:
                break
            prefix.set(match.group(1), _unquote(match.group(2)), where)
        if _RUNS.search(command):
            configs.append(prefix)
    return configs or [exported]


def _commands(text: str) -> list[tuple[int, str]]:
    """(first line, command) for each command: continuation lines joined, `;` and `&&` split."""
    commands, pending, start = [], "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0] if not raw.lstrip().startswith("#") else ""
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        pending += line
        for part in re.split(r"\s*(?:;|&&|\|\|)\s*", pending):
            if part.strip():
                commands.append((start, part.strip()))
        pending = ""
    if pending.strip():
        commands.append((start, pending.strip()))
    return commands


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command, comments=True)
    except ValueError:
        return command.split()


def _unquote(value: str) -> str:
    """The value text; `${NAME:-default}` gives its default, and a bare `$NAME` gives `$NAME` (unknown)."""
    value = value.strip().strip("'\"")
    fallback = _DEFAULTED.fullmatch(value)
    return fallback.group(1) if fallback else value


def _note_configs(text: str, name: str) -> list[RunConfig]:
    configs = []
    for block in _FENCE.finditer(text):
        first_line = text.count("\n", 0, block.start(3)) + 1
        configs += shell_configs(block.group(3), name, first_line)
    return configs


def _env_file(text: str, name: str) -> RunConfig:
    config = RunConfig()
    for number, line in enumerate(text.splitlines(), start=1):
        match = _ASSIGNMENT.match(line.strip().removeprefix("export ").strip())
        if match:
            config.set(match.group(1), _unquote(match.group(2)), f"{name}:{number}")
    return config


def _submission_config(text: str, name: str) -> RunConfig:
    """Upper-case keys with short scalar values anywhere in submission.json: `"TTT_ENABLED": 1`."""
    config = RunConfig()
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return config
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, (dict, list)):
                    pending.append(value)
                elif _ENV_KEY.match(str(key)) and _scalar(value):
                    config.set(str(key), _text(value), name)
        elif isinstance(item, list):
            pending.extend(item)
    return config


def _scalar(value) -> bool:
    return isinstance(value, (bool, int, float)) or (isinstance(value, str) and value and " " not in value)


def _text(value) -> str:
    return ("1" if value else "0") if isinstance(value, bool) else str(value)


def _read(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_TEXT_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""
