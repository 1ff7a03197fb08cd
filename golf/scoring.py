"""Score the submission checker against labelled real submissions: does it judge them as the maintainers did?

A corpus is a folder holding labels.json, `{"source": ..., "cases": [...]}`. Each case names a record
folder (relative to the corpus), its label, and the check ids the checker should FAIL on it:

- accepted (merged): FAIL every `must_fail` id, perhaps `may_fail` ids, nothing else;
- illegal (rejected for a rule breach): FAIL every `must_fail` id and at least one `must_fail_any`
  id; other FAILs are listed but not held against it, since a rejected folder may break more rules;
- legal (ruled legal without being merged): FAIL every `must_fail` id and no compliance id
  (golf.rules.COMPLIANCE_IDS, the checker's registry) outside `may_fail`.

Under the strict policy, where test-time training of any kind fails `ttt`, the expectation is read
from the labels: an accepted or legal case whose `why` or `category` mentions TTT (the word, a `ttt`
name part such as `eval_val_ttt_phased`, or "test-time training") used TTT the maintainers found
legal, so `ttt` joins its `must_fail` ids. Every other accepted or legal case may FAIL `ttt`, since a
label such as "merged into main" does not say whether the record used TTT.

For an illegal case flagged with a right rule, the scorer also reports whether that rule's evidence
lands where the label's `why` points: on a line or range it cites ("line 1054", "lines 1227-1235"),
or inside a function whose def line it cites ("ttt_adapt (line 1038)") in the folder's train_gpt.py,
wrappers decoded. It is a figure beside the agreement, not part of it: a checker may rightly cite a
line of the offending function that the label does not.

The checker runs as a user runs it, one process per folder (`python tools/check_submission.py
FOLDER --policy P --json`), so each figure is wall time including interpreter start and imports. A
crash, unreadable output or a timeout is that case's disagreement, never the scorer's.
"""
from __future__ import annotations

import ast
import json
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from golf.findings import FAIL, InputError
from golf.rules import COMPLIANCE_IDS
from golf.source import SourceError, decode_file

REPO_ROOT = Path(__file__).resolve().parent.parent
CHECKER = REPO_ROOT / "tools" / "check_submission.py"
LABELS = ("accepted", "illegal", "legal")
POLICIES = ("competition", "strict")
DEFAULT_TIMEOUT_S = 60.0

STRICT_TTT_ID = "ttt"
MENTIONS_TTT = re.compile(r"(?<!no )(?<!without )(?<![a-z])ttt(?![a-z])|(?<!no )test[- ]time training", re.IGNORECASE)
ID_LISTS = ("must_fail", "may_fail", "must_fail_any")
CITED_LINES = re.compile(r"\blines? (\d+(?:\s*-\s*\d+)?(?:(?:,\s*|\s+and\s+)\d+(?:\s*-\s*\d+)?)*)")
LINE_OR_RANGE = re.compile(r"(\d+)(?:\s*-\s*(\d+))?")
EVIDENCE_LINE = re.compile(r":(\d+)$")


@dataclass(frozen=True)
class Case:
    """One labelled record folder and what the maintainers decided about it."""

    name: str
    folder: Path
    label: str
    must_fail: frozenset[str]
    may_fail: frozenset[str]
    must_fail_any: frozenset[str]
    category: str
    why: str
    strength: str

    def expected(self, policy: str) -> tuple[frozenset[str], frozenset[str]]:
        """(ids that must FAIL, ids that may FAIL) under `policy`; see the module docstring for strict."""
        if policy != "strict" or self.label == "illegal":
            return self.must_fail, self.may_fail
        if MENTIONS_TTT.search(f"{self.why} {self.category}"):
            return self.must_fail | {STRICT_TTT_ID}, self.may_fail
        return self.must_fail, self.may_fail | {STRICT_TTT_ID}


@dataclass(frozen=True)
class CheckerRun:
    """One checker process on one folder: the ids it FAILed, its FAIL findings, and its wall time."""

    seconds: float
    failing: tuple[str, ...] = ()
    failures: tuple[dict, ...] = ()
    error: str | None = None

    @property
    def verdict(self) -> str:
        return "error" if self.error else "fail" if self.failing else "pass"


@dataclass(frozen=True)
class Row:
    """A case, the checker's run on it, and why they disagree (nothing when they agree)."""

    case: Case
    policy: str
    run: CheckerRun
    reasons: tuple[str, ...]
    evidence_cited: bool | None = None

    @property
    def agrees(self) -> bool:
        return not self.reasons

    def to_json(self) -> dict:
        must, may = self.case.expected(self.policy)
        return {"case": self.case.name, "folder": str(self.case.folder), "label": self.case.label,
                "category": self.case.category, "strength": self.case.strength, "verdict": self.run.verdict,
                "failing": list(self.run.failing), "must_fail": sorted(must), "may_fail": sorted(may),
                "must_fail_any": sorted(self.case.must_fail_any), "agrees": self.agrees, "reasons": list(self.reasons),
                "evidence_cited": self.evidence_cited, "seconds": round(self.run.seconds, 3), "error": self.run.error,
                "failures": list(self.run.failures)}


def load_cases(corpus: Path) -> list[Case]:
    """The cases of CORPUS/labels.json, folders resolved against the corpus; InputError on bad input."""
    if not corpus.is_dir():
        raise InputError(f"{corpus}: no such corpus folder; pass a folder that holds labels.json")
    path = corpus / "labels.json"
    try:
        cases = json.loads(path.read_text(encoding="utf-8"))["cases"]
    except OSError as error:
        raise InputError(f"{path}: cannot read it ({error.strerror or error})") from None
    except (ValueError, TypeError, KeyError):
        raise InputError(f"{path}: not a JSON object with a \"cases\" list") from None
    if not isinstance(cases, list) or not cases:
        raise InputError(f"{path}: \"cases\" must be a non-empty list")
    return [parse_case(corpus, number, entry) for number, entry in enumerate(cases, start=1)]


def parse_case(corpus: Path, number: int, entry) -> Case:
    where = f"{corpus / 'labels.json'} case {number}"
    if not isinstance(entry, dict) or not all(isinstance(entry.get(key), str) for key in ("case", "folder")):
        raise InputError(f"{where}: needs string \"case\" and \"folder\" fields")
    if entry.get("label") not in LABELS:
        raise InputError(f"{where} ({entry['case']}): label {entry.get('label')!r} is not one of {', '.join(LABELS)}")
    ids = {}
    for key in ID_LISTS:
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise InputError(f"{where} ({entry['case']}): \"{key}\" must be a list of check ids")
        ids[key] = frozenset(value)
    return Case(entry["case"], corpus / entry["folder"], entry["label"], ids["must_fail"], ids["may_fail"],
                ids["must_fail_any"], str(entry.get("category", "")), str(entry.get("why", "")),
                str(entry.get("strength", "")))


def run_checker(folder: Path, policy: str, timeout_s: float = DEFAULT_TIMEOUT_S, checker: Path = CHECKER) -> CheckerRun:
    """Run the checker on one folder in its own process, as a user would, and time it."""
    command = [sys.executable, str(checker), str(folder.resolve()), "--policy", policy, "--json"]
    start = time.perf_counter()
    try:
        completed = subprocess.run(command, capture_output=True, text=True, errors="replace",
                                   timeout=timeout_s, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        return CheckerRun(time.perf_counter() - start, error=f"timed out after {timeout_s:g} s")
    return parse_checker_output(completed, time.perf_counter() - start)


def parse_checker_output(completed: subprocess.CompletedProcess, seconds: float) -> CheckerRun:
    """The FAIL ids and findings of the checker's JSON line, or the error that stopped it."""
    last_line = (completed.stderr.strip().splitlines() or ["no message"])[-1][:200]
    if completed.returncode not in (0, 1):
        return CheckerRun(seconds, error=f"exited {completed.returncode}: {last_line}")
    try:
        checks = json.loads(completed.stdout)["checks"]
        failures = tuple({"id": check["id"], "message": check["message"], "evidence": check.get("evidence", [])}
                         for check in checks if check["status"] == FAIL)
    except (ValueError, TypeError, KeyError):
        return CheckerRun(seconds, error=f"exited {completed.returncode} without a JSON result: {last_line}")
    return CheckerRun(seconds, tuple(sorted({failure["id"] for failure in failures})), failures)


def disagreements(case: Case, run: CheckerRun, policy: str) -> tuple[str, ...]:
    """Why the checker's run does not match the case's label; empty when it does."""
    if run.error:
        return (f"checker {run.error}",)
    must, _ = case.expected(policy)
    failing = set(run.failing)
    reasons = []
    if missing := sorted(must - failing):
        reasons.append(f"missing must_fail {', '.join(missing)}")
    if case.label == "illegal" and case.must_fail_any and not failing & case.must_fail_any:
        reasons.append(f"no must_fail_any id ({', '.join(sorted(case.must_fail_any))})")
    if unexpected := unexpected_fails(case, run, policy):
        kind = "compliance FAIL on a legal case:" if case.label == "legal" else "unexpected FAIL"
        reasons.append(f"{kind} {', '.join(unexpected)}")
    return tuple(reasons)


def unexpected_fails(case: Case, run: CheckerRun, policy: str) -> list[str]:
    """FAIL ids the label does not allow: any outside must/may on accepted, compliance ones on legal."""
    if case.label == "illegal":
        return []
    must, may = case.expected(policy)
    judged = set(run.failing) if case.label == "accepted" else set(run.failing) & COMPLIANCE_IDS
    return sorted(judged - must - may)


def evidence_at_cited_place(case: Case, run: CheckerRun) -> bool | None:
    """Illegal case with a right rule FAILed: does that rule's evidence fall where `why` points? Else None."""
    lines = [int(match.group(1)) for failure in run.failures if failure["id"] in case.must_fail_any
             for item in failure["evidence"] if (match := EVIDENCE_LINE.search(item))]
    if case.label != "illegal" or not lines:
        return None
    places = cited_places(case)
    return any(first <= line <= last for line in lines for first, last in places)


def cited_places(case: Case) -> list[tuple[int, int]]:
    """(first, last) line of each line or range `why` cites; a cited def line stands for its whole function."""
    functions = {start: (start, end) for start, end in function_spans(case.folder / "train_gpt.py")}
    places = []
    for group in CITED_LINES.findall(case.why):
        for first, last in LINE_OR_RANGE.findall(group):
            places.append(functions.get(int(first), (int(first), int(last or first))))
    return places


def function_spans(script: Path) -> list[tuple[int, int]]:
    try:
        tree = decode_file(script).tree
    except (InputError, SourceError):
        return []
    if tree is None:
        return []
    return [(node.lineno, node.end_lineno) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def score_corpus(corpus: Path, policy: str, jobs: int = 1, timeout_s: float = DEFAULT_TIMEOUT_S,
                 checker: Path = CHECKER, on_row: Callable[[int, int, Row], None] | None = None) -> list[Row]:
    """Run the checker on every case (in `jobs` parallel processes) and judge each run; rows in label order."""
    cases = load_cases(corpus)
    rows: dict[int, Row] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_checker, case.folder, policy, timeout_s, checker): index
                   for index, case in enumerate(cases)}
        for future in as_completed(futures):
            index = futures[future]
            case, run = cases[index], future.result()
            rows[index] = Row(case, policy, run, disagreements(case, run, policy), evidence_at_cited_place(case, run))
            if on_row:
                on_row(len(rows), len(cases), rows[index])
    return [rows[index] for index in range(len(cases))]


def totals(rows: list[Row]) -> dict:
    """Agreement per label and overall, unexpected FAILs per id, illegal evidence at a cited place, wall seconds."""
    figures: dict = {}
    for label in LABELS:
        labelled = [row for row in rows if row.case.label == label]
        figures[label] = {"agree": sum(row.agrees for row in labelled), "cases": len(labelled)}
    figures["illegal_evidence_cited"] = {"cited": sum(row.evidence_cited is True for row in rows),
                                         "flagged": sum(row.evidence_cited is not None for row in rows)}
    unexpected = Counter(check_id for row in rows for check_id in unexpected_fails(row.case, row.run, row.policy))
    figures["unexpected_fail_ids"] = dict(unexpected.most_common())
    seconds = [row.run.seconds for row in rows]
    figures["all"] = {"agree": sum(row.agrees for row in rows), "cases": len(rows)}
    figures["median_s"] = round(statistics.median(seconds), 3)
    figures["max_s"] = round(max(seconds), 3)
    return figures
