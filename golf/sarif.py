"""Checked folders as a SARIF 2.1.0 log, the format GitHub code scanning reads (`--sarif FILE`).

One run of the tool `golf-check`:

- `tool.driver.rules`: one reporting descriptor per check id, in registry order, with the rule's
  summary as its short description, its docstring as the full one, and its `--list-checks`
  block (what FAILs and WARNs under each policy, the rule cited) as help. Its default level is
  `error` when the rule can FAIL under some policy, else `warning`.
- `results`: one per WARN or FAIL finding (PASS and INFO are not problems), level `error` for
  FAIL and `warning` for WARN, the finding's message, and one location per evidence entry:
  the file as a path from the repository root (`%SRCROOT%`) and its line. A line past the end
  of the file (a line of a script decoded from a compressed wrapper) keeps the file and says
  the line in the location's message; a finding without evidence points at the folder's
  README.md (else submission.json), so that code scanning can place it.
- `properties`: the policy, the overall verdict, and per folder its track, verdict, summary
  and, with `--sota auto`, the record picked. Folders that could not be read at all are
  `toolExecutionNotifications` of the one invocation.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from golf import __version__
from golf.findings import FAIL, WARN, Finding
from golf.render import json_safe, render_rules, summary
from golf.rules import REGISTRY, Rule

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL_NAME = "golf-check"
ROOT_ID = "%SRCROOT%"
LEVELS = {FAIL: "error", WARN: "warning"}
_EVIDENCE = re.compile(r"(?P<name>.+?):(?P<line>\d+)")
_FALLBACK_FILES = ("README.md", "submission.json")


def sarif_log(results: list, root: Path, policy: str, picks: dict[str, dict] | None = None,
              errors: list[str] | None = None) -> dict:
    """The SARIF log of checked folders (golf.checks.RecordResult), paths relative to `root`."""
    root = root.resolve()
    picks = picks or {}
    run = {
        "tool": {"driver": {"name": TOOL_NAME, "version": __version__, "rules": [rule_descriptor(r) for r in REGISTRY]}},
        "originalUriBaseIds": {ROOT_ID: {"uri": root.as_uri() + "/"}},
        "invocations": [invocation(errors or [])],
        "results": [entry for result in results for entry in result_entries(result, root)],
        "properties": run_properties(results, policy, picks),
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def write_sarif(path: str | Path, log: dict) -> None:
    Path(path).write_text(json.dumps(json_safe(log), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def rule_descriptor(rule: Rule) -> dict:
    can_fail = any(when.get("FAIL", "never") != "never" for when in rule.severity.values())
    return {
        "id": rule.id,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.documentation or rule.summary},
        "help": {"text": render_rules([rule])},
        "defaultConfiguration": {"level": "error" if can_fail else "warning"},
        "properties": {"cites": rule.cites, "tags": ["parameter-golf"]},
    }


def invocation(errors: list[str]) -> dict:
    notes = [{"level": "error", "message": {"text": error}} for error in errors]
    return {"executionSuccessful": not errors, "toolExecutionNotifications": notes}


def run_properties(results: list, policy: str, picks: dict[str, dict]) -> dict:
    records = []
    for result in results:
        entry = {"record": result.record, "track": result.track, "verdict": result.verdict, "summary": summary(result)}
        if result.record in picks:
            entry["sota_auto"] = picks[result.record]
        records.append(entry)
    verdict = "fail" if any(result.verdict == "fail" for result in results) else "pass"
    return {"policy": policy, "verdict": verdict, "records": records}


def result_entries(result, root: Path) -> list[dict]:
    folder = Path(result.record).resolve()
    index = {rule.id: position for position, rule in enumerate(REGISTRY)}
    entries = []
    for finding in result.findings:
        if finding.status not in LEVELS:
            continue
        entry = {"ruleId": finding.id, "level": LEVELS[finding.status], "message": {"text": finding.message},
                 "locations": locations(finding, folder, root), "properties": {"record": result.record}}
        if finding.id in index:
            entry["ruleIndex"] = index[finding.id]
        entries.append(entry)
    return entries


def locations(finding: Finding, folder: Path, root: Path) -> list[dict]:
    """Every distinct evidence entry as a physical location; the folder's README when there is none."""
    seen, found = set(), []
    for item in finding.evidence:
        if item not in seen:
            seen.add(item)
            found.append(evidence_location(item, folder, root))
    if not found:
        fallback = next((name for name in _FALLBACK_FILES if (folder / name).is_file()), None)
        found.append(file_location(folder / fallback if fallback else folder, root, None))
    return found


def evidence_location(item: str, folder: Path, root: Path) -> dict:
    """`file:line` or `file` (relative to the record folder) as a location from the repository root."""
    match = _EVIDENCE.fullmatch(item)
    name, line = (match["name"], int(match["line"])) if match else (item, None)
    return file_location(folder / name, root, line)


def file_location(path: Path, root: Path, line: int | None) -> dict:
    artifact = artifact_location(path, root)
    location: dict = {"physicalLocation": {"artifactLocation": artifact}}
    if line and line <= line_count(path):
        location["physicalLocation"]["region"] = {"startLine": line}
    elif line:
        location["message"] = {"text": f"line {line}, past the end of the file on disk: a line of the decoded script"}
    return location


def artifact_location(path: Path, root: Path) -> dict:
    """A URI relative to %SRCROOT% when `path` is under `root`, else an absolute file URI."""
    try:
        relative = path.resolve().relative_to(root)
    except ValueError:
        return {"uri": path.resolve().as_uri()}
    return {"uri": quote(relative.as_posix() + ("/" if path.is_dir() else "")), "uriBaseId": ROOT_ID}


@lru_cache(maxsize=64)
def line_count(path: Path) -> int:
    """Lines in a file (0 when it cannot be read), counted in chunks: logs can be megabytes."""
    try:
        with path.open("rb") as stream:
            count, last = 0, b"\n"
            while chunk := stream.read(1 << 20):
                count += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return 0
    return count + (last != b"\n")
