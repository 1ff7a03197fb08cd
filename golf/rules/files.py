"""The files a record PR must add: README.md, submission.json, train_gpt.py, and a train log.

A missing or empty one is a FAIL (README "Submission Process": the PR adds a folder with these
files; maintainers asked for the missing ones before merging). Files present under another name
(`train_gpt_v5.py`, `submission_<x>.json`, `V21_README.md`) are used and reported as a WARN,
as are third-party imports without a requirements.txt, a folder name not in `YYYY-MM-DD_Name`
form, logs read only in part and entries that were not followed (symlinks) (RULES.md §0, §6). A
log past the read cap is read at its head and its tail, so its final lines are still judged; the
WARN gives the lines and bytes that were skipped.
Example: `FAIL missing train_gpt.py (found train_gpt_v5.py)`.
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from golf.facts import byte_count, plural
from golf.findings import FAIL, PASS, WARN, Finding
from golf.record import SCRIPT_NAME
from golf.rules.severity import both_policies

ID = "files"
SEVERITY = both_policies(
    fail="README, submission.json, script or train log missing or empty",
    warn="one under another name; imports without requirements.txt; folder name",
)
CITES = "RULES.md §0, §6"
FOLDER_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}_\S+$")
# Packages the challenge image has beside the standard library (its requirements.txt, and torch's own).
BASELINE_PACKAGES = frozenset({
    "torch", "numpy", "sentencepiece", "tqdm", "huggingface_hub", "kernels", "setuptools",
    "typing_extensions", "datasets", "tiktoken", "triton", "pkg_resources",
})


def check(context) -> list[Finding]:
    files, record = context.record.files, context.record
    required = (("README.md", files.readme), ("submission.json", files.submissions), (SCRIPT_NAME, files.script),
                ("a train log (*.log, *.txt)", record.logs))
    missing = [name for name, present in required if not present]
    empty = [name for name in (files.readme, *files.submissions[:1], files.script) if name and not files.sizes.get(name)]
    if missing or empty:
        found = f" (found {', '.join(files.other_scripts)})" if files.other_scripts and not files.script else ""
        problems = [f"missing {', '.join(missing)}{found}"] * bool(missing) + [f"empty {', '.join(empty)}"] * bool(empty)
        findings = [Finding(ID, FAIL, "; ".join(problems), (files.root.name, *empty))]
    else:
        listed = f"{files.readme}, {files.submissions[0]}, {files.script}, {plural(len(record.logs), 'log')}"
        findings = [Finding(ID, PASS, listed)]
    return findings + _naming_warnings(context) + _requirements_warning(context) + _reading_warnings(context)


def _naming_warnings(context) -> list[Finding]:
    files, findings = context.record.files, []
    if files.script and files.script != SCRIPT_NAME:
        others = f" (also here: {', '.join(files.other_scripts)})" if files.other_scripts else ""
        findings.append(Finding(ID, WARN, f"the script is named {files.script}; the rules ask for {SCRIPT_NAME}"
                                          f"{others}", (files.script,)))
    if files.submissions and files.submissions[0] != "submission.json":
        findings.append(Finding(ID, WARN, f"metadata is in {files.submissions[0]}, not submission.json",
                                (files.submissions[0],)))
    if files.readme and files.readme.lower() not in ("readme.md", "readme"):
        findings.append(Finding(ID, WARN, f"the README is named {files.readme}; the rules ask for README.md",
                                (files.readme,)))
    if not FOLDER_NAME.match(files.root.name):
        findings.append(Finding(ID, WARN, f"folder name {files.root.name!r} is not YYYY-MM-DD_ShortName "
                                          "(dashes in the date, no spaces)", (files.root.name,)))
    return findings


def _requirements_warning(context) -> list[Finding]:
    decoded, files = context.record.script.decoded, context.record.files
    if decoded is None or decoded.tree is None or files.requirements:
        return []
    local = {Path(name).parts[0].removesuffix(".py") for name in files.files}
    extra = {name: line for name, line in sorted(_imports(decoded.tree).items())
             if name not in sys.stdlib_module_names and name not in BASELINE_PACKAGES and name not in local}
    if not extra:
        return []
    listed = ", ".join(f"{name} (line {line})" for name, line in extra.items())
    message = f"no requirements.txt, but {files.script} imports {listed} beyond the baseline packages; add one"
    return [Finding(ID, WARN, message, tuple(f"{files.script}:{line}" for line in extra.values()))]


def _imports(tree: ast.Module) -> dict[str, int]:
    """Top-level package name -> first line that imports it."""
    imports: dict[str, int] = {}
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            imports.setdefault(name.split(".")[0], node.lineno)
    return imports


def _statements(body: list[ast.stmt]):
    """Every statement, nested ones included; imports are statements, so expressions need no visit."""
    for node in body:
        yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            nested = getattr(node, name, None)
            if isinstance(nested, list):
                yield from _statements(nested)


def _partly_read(log) -> str:
    """What of a log past the read cap was read: its head and tail with the lines between, or its head."""
    if log.gap is None:
        read = len(log.text.encode("utf-8", "replace"))
        return f"{log.name} is {byte_count(log.size)}; only the first {byte_count(read)} were read"
    gap = log.gap
    first, last = gap.after + 1, gap.after + gap.lines
    skipped = f"lines {first:,}-{last:,}" if gap.lines else f"the rest of line {gap.after:,}"
    return (f"{log.name} is {byte_count(log.size)}; read lines 1-{gap.after:,} and {last + 1:,}-{log.run.line_count:,}"
            f" (head and tail, {byte_count(log.size - gap.size)}); {skipped} ({byte_count(gap.size)}) were skipped")


def _reading_warnings(context) -> list[Finding]:
    record, findings = context.record, []
    for log in record.logs:
        if log.truncated:
            findings.append(Finding(ID, WARN, _partly_read(log), (log.name,)))
    for entry in record.files.skipped + record.unreadable:
        findings.append(Finding(ID, WARN, f"not read: {entry}", (entry.split(" (")[0],)))
    return findings
