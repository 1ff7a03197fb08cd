"""Turn a checked record (golf.checks.RecordResult) into text, JSON Lines or a markdown table,
and the rule registry (golf.rules.REGISTRY) into the --list-checks severity table.

Renderers only format: every status and figure comes from the findings. Text output is one
line per finding (`PASS  artifact_size  <figure>  (<evidence>)`), the per-seed table, and a
verdict line with the pytest-style summary (`9 passed, 1 warning, 0 failed, 4 info`).
"""
from __future__ import annotations

import json
import math

from golf.findings import FAIL, INFO, PASS, WARN

MAX_EVIDENCE_SHOWN = 3
ID_WIDTH = 19  # the longest id, cross_document_leak (tests check the registry against it)
SEED_COLUMNS = (("val_bpb", "val_bpb"), ("val_loss", "val_loss"), ("artifact_bytes", "artifact B"),
                ("train_time_s", "train s"), ("eval_time_s", "eval s"))


def summary(result) -> str:
    """`9 passed, 1 warning, 0 failed, 4 info` for one result."""
    counts = result.counts()
    warnings = counts[WARN]
    return (f"{counts[PASS]} passed, {warnings} warning{'s' * (warnings != 1)}, {counts[FAIL]} failed, "
            f"{counts[INFO]} info")


def evidence_text(evidence: tuple[str, ...] | list[str]) -> str:
    shown = list(evidence[:MAX_EVIDENCE_SHOWN])
    if len(evidence) > MAX_EVIDENCE_SHOWN:
        shown.append(f"+{len(evidence) - MAX_EVIDENCE_SHOWN} more")
    return ", ".join(shown)


def render_text(result) -> str:
    """One line per finding, the per-seed table, then the verdict line."""
    lines = [result.record] + ([result.sota_pick["text"]] if result.sota_pick else [])
    for finding in result.findings:
        where = f"  ({evidence_text(finding.evidence)})" if finding.evidence else ""
        lines.append(f"{finding.status:<4}  {finding.id:<{ID_WIDTH}} {finding.message}{where}")
    if result.seeds:
        lines.append("")
        lines += _seed_table_text(result.seeds)
    lines.append("")
    lines.append(f"verdict: {result.verdict.upper()} ({summary(result)})")
    return "\n".join(lines) + "\n"


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    if key == "artifact_bytes":
        return f"{value:,}"
    if key in ("train_time_s", "eval_time_s"):
        return f"{value:,.1f}"
    return f"{value:.8f}" if isinstance(value, float) else str(value)


def _seed_table_text(seeds: dict) -> list[str]:
    rows = [["seed", *(title for _, title in SEED_COLUMNS), "log"]]
    for seed, figures in seeds.items():
        rows.append([seed, *(_cell(key, figures.get(key)) for key, _ in SEED_COLUMNS), figures.get("log") or "-"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    aligned = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:-1], widths[1:-1])]
        aligned.append("  ".join(cells + [row[-1]]).rstrip())
    return aligned


def render_json(result) -> str:
    """One compact JSON object (a JSON Lines row); nan and inf become null."""
    return json.dumps(json_safe(result.to_json()), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def json_safe(value):
    """NaN and infinities (undefined statistics) become null: JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def render_markdown(result) -> str:
    """A compliance table and the per-seed table, ready to paste into the PR body."""
    name = result.record.rstrip("/").rsplit("/", 1)[-1]
    lines = [f"### Submission check: `{_escape(name)}`", "",
             f"**Verdict: {result.verdict.upper()}** ({summary(result)}) · track `{result.track}` · "
             f"policy `{result.policy}`", "",
             *([_escape(result.sota_pick["text"]), ""] if result.sota_pick else []),
             "| Check | Status | Measured | Evidence |", "| --- | --- | --- | --- |"]
    for finding in result.findings:
        evidence = ", ".join(f"`{_escape(item)}`" for item in finding.evidence[:MAX_EVIDENCE_SHOWN])
        if len(finding.evidence) > MAX_EVIDENCE_SHOWN:
            evidence += f", +{len(finding.evidence) - MAX_EVIDENCE_SHOWN} more"
        lines.append(f"| {finding.id} | **{finding.status}** | {_escape(finding.message)} | {evidence} |")
    if result.seeds:
        lines += ["", "| Seed | " + " | ".join(title for _, title in SEED_COLUMNS) + " |",
                  "| --- |" + " ---: |" * len(SEED_COLUMNS)]
        for seed, figures in result.seeds.items():
            cells = " | ".join(_cell(key, figures.get(key)) for key, _ in SEED_COLUMNS)
            lines.append(f"| {_escape(seed)} | {cells} |")
    lines += ["", "<sub>Checked with `python tools/check_submission.py`.</sub>"]
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_rules(registry) -> str:
    """--list-checks: each rule's id and summary, then what FAILs and WARNs per policy, and the rule cited."""
    width = max(len(rule.id) for rule in registry) + 2
    indent = " " * width
    lines = []
    for rule in registry:
        lines.append(f"{rule.id:<{width}}{rule.summary}")
        policies = list(rule.severity.items())
        for index, (policy, when) in enumerate(policies):
            if index and when == policies[0][1]:
                lines.append(f"{indent}{policy}: as {policies[0][0]}")
                continue
            lines.append(f"{indent}{policy}: FAIL {when.get('FAIL', 'never')}")
            lines.append(f"{indent}{' ' * len(policy)}  WARN {when.get('WARN', 'never')}")
        lines.append(f"{indent}cites {rule.cites}")
    return "\n".join(lines) + "\n"
