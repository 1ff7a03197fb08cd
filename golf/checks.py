"""The checks a record folder must pass before its PR is opened, as one registry table.

`check_record(folder, policy, sota, track)` loads the folder once (golf.record), runs every
check in CHECKS and returns a RecordResult: the findings, a verdict ("fail" when any finding
is FAIL), the per-seed table and the significance figures. Nothing is printed here;
golf/render.py turns a result into text, JSON Lines or markdown.

A check is a function `(Context) -> list[Finding]`. Its docstring is its documentation: what
it catches, why, the rule it enforces (RULES.md section), an example. Every finding it returns
carries the check's id, the measured figure in the message, and "file:line" evidence.

Policies: `strict` (this harness's own standard: no test-time training of any kind, and no
validation data anywhere but in scoring) and `competition` (the challenge's rules, where
score-first TTT is legal). Only the compliance rules read the policy.
"""
from __future__ import annotations

import ast
import inspect
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from golf import stats
from golf.compliance import RULES as COMPLIANCE_RULES
from golf.compliance import check_compliance
from golf.findings import FAIL, INFO, PASS, WARN, Finding, InputError
from golf.logs import matches_claim, printed_decimals
from golf.patches import check_provenance
from golf.record import SCRIPT_NAME, LoadedLog, Record, SeedRow, as_float, load_record
from golf.source import runtime_code_files

POLICIES = ("strict", "competition")
TRACKS = ("10min_16mb", "non_record_16mb")
RECORD_TRACK = "10min_16mb"
SIZE_CAP_BYTES = 16_000_000
TRAIN_LIMIT_MS = 600_000
EVAL_LIMIT_MS = 600_000
CALIBRATION_FAIL_OVERRUN_MS = 10_000   # RULES §2: PR #1855 ran ~4 s over and was accepted
MIN_RECORD_SEEDS = 3
BPB_TOLERANCE = 5e-5
LAUNCH_DAY_VAL_TOKENS = 63_779_840      # older validation export, about 155.8 M bytes (RULES §5)
OTHER_SCRIPT_MAX_BYTES = 2_000_000
# Packages the challenge image has beside the standard library (its requirements.txt, and torch's own).
BASELINE_PACKAGES = frozenset({
    "torch", "numpy", "sentencepiece", "tqdm", "huggingface_hub", "kernels", "setuptools",
    "typing_extensions", "datasets", "tiktoken", "triton", "pkg_resources",
})
FOLDER_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}_\S+$")
# Calibration on tokens the model generates itself touches no training data (PR #1019, RULES §2).
SELF_GENERATED = re.compile(r"autoregressive|self[-_ ]?gen|ar[-_ ]selfgen|generated \d+ (?:seq|sample)", re.IGNORECASE)
NON_RECORD_README = re.compile(r"non[-_ ]?record|unlimited", re.IGNORECASE)
RECORD_HARDWARE = re.compile(r"8\s*[x×]\s*(?:NVIDIA\s*)?H100(?!\s*PCIe)", re.IGNORECASE)
NOT_SXM = re.compile(r"PCIe|NVL", re.IGNORECASE)
RUN_COUNT_IN_TEXT = re.compile(r"\b(\d{1,2})\s+(?:seeds|runs|training runs)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Sota:
    """The record to beat: its mean BPB and, when read from its folder, its per-seed scores."""

    label: str
    val_bpb: float
    val_losses: tuple[float, ...] = ()
    val_bpbs: tuple[float, ...] = ()


@dataclass(frozen=True)
class Context:
    """What every check reads: the loaded record and the options it was checked under."""

    record: Record
    policy: str
    track: str
    track_source: str
    sota: Sota | None

    @property
    def record_track(self) -> bool:
        return self.track == RECORD_TRACK

    @property
    def scored(self) -> list[SeedRow]:
        return [row for row in self.record.seeds if row.complete]


@dataclass(frozen=True)
class Check:
    """One registry row: a stable id and the function that implements it (its docstring documents it)."""

    id: str
    run: Callable[[Context], list[Finding]]

    @property
    def summary(self) -> str:
        return self.documentation.split("\n", 1)[0]

    @property
    def documentation(self) -> str:
        return inspect.getdoc(self.run) or ""


@dataclass
class RecordResult:
    """A checked folder: verdict, findings, per-seed figures and significance statistics."""

    record: str
    track: str
    policy: str
    findings: list[Finding]
    seeds: dict[str, dict]
    stats: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "fail" if any(finding.status == FAIL for finding in self.findings) else "pass"

    def counts(self) -> dict[str, int]:
        return {status: sum(f.status == status for f in self.findings) for status in (PASS, WARN, FAIL, INFO)}

    def statuses(self) -> dict[str, str]:
        """Worst status per id (FAIL > WARN > PASS > INFO), e.g. for make_submission.py's compliance flags."""
        order = {INFO: 0, PASS: 1, WARN: 2, FAIL: 3}
        worst: dict[str, str] = {}
        for finding in self.findings:
            if order[finding.status] >= order[worst.get(finding.id, INFO)]:
                worst[finding.id] = finding.status
        return worst

    def to_json(self) -> dict:
        return {"record": self.record, "verdict": self.verdict, "track": self.track, "policy": self.policy,
                "checks": [finding.to_json() for finding in self.findings], "seeds": self.seeds, "stats": self.stats}


# ---------------------------------------------------------------------------------------------
# Helpers shared by the checks


def where(log: LoadedLog | None, line: int | None = None) -> str:
    """Evidence string `file:line` (just `file` when the line is unknown or 0)."""
    if log is None:
        return ""
    return f"{log.name}:{line}" if line else log.name


def final_evidence(rows: list[SeedRow]) -> tuple[str, ...]:
    return tuple(where(row.score_log, row.final.line) for row in rows)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def seed_list(rows) -> str:
    return ", ".join(row.seed for row in rows)


def model_log(row: SeedRow) -> LoadedLog | None:
    """The log that states this seed's artifact: the training log, else the one that scored it."""
    for log in (row.train_log, row.score_log):
        if log is not None and (log.run.model_bytes or log.run.total_bytes):
            return log
    return row.train_log or row.score_log


def artifact_figures(record: Record, row: SeedRow) -> tuple[int | None, int | None]:
    """(raw script bytes on disk + compressed model bytes, total the log states) for one seed."""
    log = model_log(row)
    if log is None:
        return None, None
    model, stated = log.run.model_bytes, log.run.total_bytes
    computed = record.script.size + model.value if model is not None and record.script.size is not None else None
    return computed, stated.value if stated is not None else None


def seed_table_json(context: Context) -> dict[str, dict]:
    """The JSON `seeds` object: final score, artifact bytes and times per seed."""
    table = {}
    for row in context.record.seeds:
        final, train = row.final, row.train_log
        computed, stated = artifact_figures(context.record, row)
        eval_ms = row.score_log.run.eval_time_ms if row.score_log else None
        train_ms = train.run.train_time_ms.value if train and train.run.train_time_ms else None
        table[row.seed] = {
            "val_bpb": final.val_bpb if final else None,
            "val_loss": final.val_loss if final else None,
            "artifact_bytes": computed if computed is not None else stated,
            "train_time_s": round(train_ms / 1000, 3) if train_ms is not None else None,
            "eval_time_s": round(eval_ms / 1000, 3) if eval_ms is not None else None,
            "log": row.score_log.name if row.score_log else None,
        }
    return table


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _bytes(value: float) -> str:
    return f"{value:,.0f} B"


# ---------------------------------------------------------------------------------------------
# The checks, in registry order


def check_track(context: Context) -> list[Finding]:
    """Which track the folder is checked against, and how that was decided.

    The track decides the limits: `10min_16mb` (the leaderboard) enforces 600 s of training,
    600 s of evaluation, 8xH100 and 3 seeds; `non_record_16mb` keeps only the 16,000,000-byte
    cap (RULES.md §0). Taken from --track, else a `track_*` path component, else the
    submission.json `track` field, else the record track by default. On the non-record track the
    README must say the run is non-record or unlimited-compute (WARN otherwise).
    Example: `INFO track 10min_16mb (from the path); policy strict`.
    """
    findings = [Finding("track", INFO, f"track {context.track} ({context.track_source}); policy {context.policy}")]
    readme = context.record.files.readme
    if not context.record_track and readme and not NON_RECORD_README.search(context.record.readme_text):
        findings.append(Finding("track", WARN, f"{readme} does not say the run is non-record or unlimited-compute "
                                               "(README \"Non-record Submissions\")", (readme,)))
    return findings


def check_files(context: Context) -> list[Finding]:
    """The files a record PR must add: README.md, submission.json, train_gpt.py, and a train log.

    A missing or empty one is a FAIL (README "Submission Process"). A script under another
    name (`train_gpt_v5.py`), a `submission_<x>.json`, third-party imports without a
    requirements.txt, a folder name not in `YYYY-MM-DD_Name` form, logs cut at the read limit
    and entries that were not followed (symlinks) are warnings (RULES.md §0, §6).
    Example: `FAIL missing train_gpt.py (found train_gpt_v5.py)`.
    """
    files, record = context.record.files, context.record
    required = (("README.md", files.readme), ("submission.json", files.submissions), (SCRIPT_NAME, files.script),
                ("a train log (*.log, *.txt)", record.logs))
    missing = [name for name, present in required if not present]
    empty = [name for name in (files.readme, *files.submissions[:1], files.script) if name and not files.sizes.get(name)]
    if missing or empty:
        found = f" (found {', '.join(files.other_scripts)})" if files.other_scripts and not files.script else ""
        problems = [f"missing {', '.join(missing)}{found}"] * bool(missing) + [f"empty {', '.join(empty)}"] * bool(empty)
        findings = [Finding("files", FAIL, "; ".join(problems), (files.root.name, *empty))]
    else:
        listed = f"{files.readme}, {files.submissions[0]}, {files.script}, {plural(len(record.logs), 'log')}"
        findings = [Finding("files", PASS, listed)]
    return findings + _naming_warnings(context) + _requirements_warning(context) + _reading_warnings(context)


def _naming_warnings(context: Context) -> list[Finding]:
    files, findings = context.record.files, []
    if files.script and files.script != SCRIPT_NAME:
        others = f" (also here: {', '.join(files.other_scripts)})" if files.other_scripts else ""
        findings.append(Finding("files", WARN, f"the script is named {files.script}; the rules ask for {SCRIPT_NAME}"
                                               f"{others}", (files.script,)))
    if files.submissions and files.submissions[0] != "submission.json":
        findings.append(Finding("files", WARN, f"metadata is in {files.submissions[0]}, not submission.json",
                                (files.submissions[0],)))
    if not FOLDER_NAME.match(files.root.name):
        findings.append(Finding("files", WARN, f"folder name {files.root.name!r} is not YYYY-MM-DD_ShortName "
                                               "(dashes in the date, no spaces)", (files.root.name,)))
    return findings


def _requirements_warning(context: Context) -> list[Finding]:
    decoded, files = context.record.script.decoded, context.record.files
    if decoded is None or decoded.tree is None or files.requirements:
        return []
    local = {Path(name).parts[0].removesuffix(".py") for name in files.files}
    imports: dict[str, int] = {}
    for node in ast.walk(decoded.tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            imports.setdefault(name.split(".")[0], node.lineno)
    extra = {name: line for name, line in sorted(imports.items())
             if name not in sys.stdlib_module_names and name not in BASELINE_PACKAGES and name not in local}
    if not extra:
        return []
    listed = ", ".join(f"{name} (line {line})" for name, line in extra.items())
    message = f"no requirements.txt, but {files.script} imports {listed} beyond the baseline packages; add one"
    return [Finding("files", WARN, message, tuple(f"{files.script}:{line}" for line in extra.values()))]


def _reading_warnings(context: Context) -> list[Finding]:
    record, findings = context.record, []
    for log in record.logs:
        if log.truncated:
            read = len(log.text.encode("utf-8", "replace"))
            findings.append(Finding("files", WARN, f"{log.name} is {_bytes(log.size)}; only the first {_bytes(read)} "
                                                   "were read", (log.name,)))
    for entry in record.files.skipped + record.unreadable:
        findings.append(Finding("files", WARN, f"not read: {entry}", (entry.split(" (")[0],)))
    return findings


def check_submission_json(context: Context) -> list[Finding]:
    """submission.json is a JSON object with the keys maintainers read, and its numbers match the logs.

    `val_bpb` (a number) is required; `name`, `author`, `github_id` and `date` are expected.
    Known keys must have the types real records use (RULES.md §6). `val_bpb` must equal the
    mean of the per-seed final scores parsed from the logs, within 5e-5 or the rounding the
    file uses. Per-seed `val_bpb`/`val_loss` (in `seed_results` or a `seeds` dict) must match
    the seed's final line; a claim that matches an earlier line instead is named (picking the
    best of several eval passes is selection on validation data, C4). Per-seed artifact bytes
    must match a byte figure in the log (WARN).
    Example: `FAIL val_bpb 1.221 in submission.json, logs give 1.224382 (mean of 3 seeds): off by -0.003382`.
    """
    submission = context.record.submission
    if submission.data is None:
        evidence = (submission.name,) if submission.name else ()
        return [Finding("submission_json", FAIL, submission.error or "no submission.json", evidence)]
    findings = _json_shape(submission.name, submission.data)
    if any(finding.status == FAIL for finding in findings):
        return findings
    mean, per_seed = _json_mean(context), _json_per_seed(context)
    if not (findings or mean or per_seed):
        why = "a seed it lists has no complete log" if context.scored else "no complete log to compare with"
        mean = [Finding("submission_json", PASS, f"{submission.name}: required keys present; val_bpb not compared "
                                                 f"({why})", (submission.name,))]
    return findings + mean + per_seed


JSON_TYPES = {"val_loss": (int, float, type(None)), "bytes_total": (int,), "bytes_code": (int, type(None)),
              "track": (str,), "seeds": (list, dict), "seed_results": (dict,), "blurb": (str,), "name": (str,),
              "author": (str,), "github_id": (str,), "date": (str,)}


def _json_shape(name: str, data: dict) -> list[Finding]:
    findings = []
    value = data.get("val_bpb")
    if data.get("status") == "retracted":
        findings.append(Finding("submission_json", FAIL, f"{name} marks the submission retracted", (name,)))
    elif as_float(value) is None or isinstance(value, str):
        findings.append(Finding("submission_json", FAIL, f"{name}: val_bpb is {value!r}; it must be a number "
                                                         "(the mean of the per-seed final scores)", (name,)))
    absent = [key for key in ("name", "author", "github_id", "date") if key not in data]
    if absent:
        findings.append(Finding("submission_json", WARN, f"{name} lacks {', '.join(absent)}", (name,)))
    wrong = [f"{key} is {type(data[key]).__name__}" for key, types in JSON_TYPES.items()
             if key in data and (not isinstance(data[key], types) or isinstance(data[key], bool))]
    if wrong:
        findings.append(Finding("submission_json", WARN, f"{name}: unexpected types: {'; '.join(wrong)}", (name,)))
    return findings


def _claimed_rows(context: Context) -> list[SeedRow]:
    """The seeds val_bpb is the mean of: the ones submission.json lists, else every scored seed.

    Empty when a listed seed has no complete log: the seeds check reports that instead.
    """
    listed = set(context.record.submission.listed_seeds)
    if not listed:
        return context.scored
    chosen = [row for row in context.scored if row.seed in listed]
    return chosen if len(chosen) == len(listed) else []


def _json_mean(context: Context) -> list[Finding]:
    submission = context.record.submission
    rows = _claimed_rows(context)
    if not rows:
        return []
    claimed = float(submission.data["val_bpb"])
    measured = _mean([row.final.val_bpb for row in rows])
    decimals = submission.decimals("val_bpb")
    tolerance = max(BPB_TOLERANCE, 0.5 * 10.0 ** -decimals if decimals is not None else 0.0)
    evidence = (submission.name, *final_evidence(rows))
    figure = f"val_bpb {claimed:g} in {submission.name}, logs give {measured:.6f} (mean of {plural(len(rows), 'seed')})"
    if abs(claimed - measured) > tolerance + 1e-12:
        figure += f": off by {claimed - measured:+.6f}, tolerance {tolerance:g}"
        return [Finding("submission_json", FAIL, figure, evidence)]
    return [Finding("submission_json", PASS, figure, evidence)]


def _json_per_seed(context: Context) -> list[Finding]:
    findings, rows = [], {row.seed: row for row in context.record.seeds}
    name = context.record.submission.name
    unlogged = [seed for seed in dict.fromkeys(context.record.submission.listed_seeds) if seed not in rows]
    if unlogged:
        findings.append(Finding("submission_json", FAIL, f"{name} reports seed{'s' * (len(unlogged) > 1)} "
                                                         f"{', '.join(unlogged)} that no log has", (name,)))
    for claim in context.record.submission.claims:
        row = rows.get(claim.seed)
        if row is None or not row.complete:
            continue  # reported above, or by the seeds check
        if claim.val_bpb is not None and not matches_claim(row.final, claim.val_bpb):
            findings.append(_claim_mismatch(row, claim.val_bpb, name))
        elif claim.val_loss is not None and abs(claim.val_loss - row.final.val_loss) > _tolerance(claim.val_loss):
            message = f"seed {claim.seed}: val_loss {claim.val_loss:g} in {name}, final line has {row.final.val_loss:.8f}"
            findings.append(Finding("submission_json", FAIL, message, (name, where(row.score_log, row.final.line))))
        findings += _claimed_bytes(context, row, claim.artifact_bytes)
    return findings


def _tolerance(claimed: float) -> float:
    """5e-5, or half a unit in the last place the claim was written with (2.069 -> 5e-4)."""
    return max(BPB_TOLERANCE, 0.5 * 10.0 ** -printed_decimals(claimed)) + 1e-12


def _claim_mismatch(row: SeedRow, claimed: float, name: str) -> Finding:
    """A per-seed val_bpb that is not the final line: say which line it is, if any."""
    final = row.final
    logs = {id(log): log for log in (row.score_log, row.train_log, *row.extra_logs) if log is not None}
    matching = [(log, line) for log in logs.values() for line in log.run.metric_lines
                if line is not final and matches_claim(line, claimed)]
    message = f"seed {row.seed}: val_bpb {claimed:g} in {name}, final line has {final.val_bpb:.8f}"
    evidence = [name, where(row.score_log, final.line)]
    if matching:
        log, line = matching[-1]
        message += f"; the claim is the {'diagnostic ' if line.diagnostic else ''}{line.label} line instead"
        if line.val_bpb < final.val_bpb:
            message += " (the best of several eval passes: selection on validation data, C4)"
        evidence.append(where(log, line.line))
    return Finding("submission_json", FAIL, message, tuple(evidence))


def _claimed_bytes(context: Context, row: SeedRow, claimed: int | None) -> list[Finding]:
    log = model_log(row)
    if claimed is None or log is None:
        return []
    computed, stated = artifact_figures(context.record, row)
    run = log.run
    logged_code = [located.value for located in (run.code_bytes, run.code_bytes_compressed) if located is not None]
    candidates = {computed, stated, *(run.model_bytes.value + code for code in logged_code if run.model_bytes)}
    if claimed in candidates or not candidates - {None}:
        return []
    line = (run.total_bytes or run.model_bytes).line if (run.total_bytes or run.model_bytes) else None
    name = context.record.submission.name
    message = (f"seed {row.seed}: artifact bytes {claimed:,} in {name} match no byte figure of the log "
               f"(stated total {stated or 'none'}, code on disk + model {computed or 'none'})")
    return [Finding("submission_json", WARN, message, (name, where(log, line)))]


def check_code(context: Context) -> list[Finding]:
    """The script parses, its wrappers decode safely, and the logs ran this very script.

    Compressed `exec` wrappers (lzma/zlib/gzip/bz2 of base85/base64 literals, nested,
    minified) are decoded by golf.source without executing anything, under a size cap: a
    decompression bomb is a FAIL. Where a log embeds the script's source (baseline logs print
    it first), it must equal the folder's script, raw or decoded, else FAIL: the log came from
    another script. A log that embeds another file of the folder (an eval script) is INFO; one
    whose source differs only in comments or layout, or whose `Code size:` differs from the
    bytes on disk, is a WARN.
    Example: `FAIL train_seed42.log embeds a different script than train_gpt.py (first difference at line 31; ...)`.
    """
    script = context.record.script
    if script.name is None:
        return [Finding("code", INFO, "not checked: no training script in the folder")]
    if script.error or script.decoded is None:
        return [Finding("code", FAIL, f"{script.name}: {script.error}", (script.name,))]
    decoded = script.decoded
    if not script.size:
        return [Finding("code", FAIL, f"{script.name} is empty", (script.name,))]
    if decoded.syntax_error:
        after = f" after decoding {'+'.join(decoded.layers)}" if decoded.layers else ""
        message = f"{script.name} does not parse{after}: {decoded.syntax_error}"
        if "f-string" in decoded.syntax_error and sys.version_info < (3, 12):  # PEP 701 f-strings need 3.12
            return [Finding("code", WARN, f"{message} (under Python {sys.version.split()[0]}; records run on 3.12, "
                                          "whose f-strings allow this: check with Python 3.12)", (script.name,))]
        return [Finding("code", FAIL, message, (script.name,))]
    figure = f"{script.name} parses: {_bytes(script.size)} on disk, {decoded.text.count(chr(10)) + 1:,} lines"
    if decoded.layers:
        figure += f"; decoded {' then '.join(decoded.layers)} wrapper to {_bytes(len(decoded.text.encode('utf-8')))}"
    return [Finding("code", PASS, figure, (script.name,))] + _embedded_source(context) + _logged_code_size(context)


def _normalised(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").lstrip("\ufeff").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _embedded_source(context: Context) -> list[Finding]:
    """Compare the source each log embeds with the shipped script; one finding per kind of difference."""
    decoded, name = context.record.script.decoded, context.record.script.name
    shipped = [_normalised(decoded.raw_text), _normalised(decoded.text)]
    others = _other_scripts(context)
    groups: dict[tuple, list[LoadedLog]] = {}
    for log in context.record.logs:
        embedded = _normalised(log.run.embedded_source or "")
        if not embedded or embedded in shipped:
            continue
        other = next((other for other, lines in others.items() if lines == embedded), None)
        if other:
            key = ("other", other)
        elif _same_syntax("\n".join(embedded), decoded.tree):
            key = ("layout",)
        else:
            first = next((i for i, (a, b) in enumerate(zip(embedded, shipped[0]), start=1) if a != b),
                         min(len(embedded), len(shipped[0])) + 1)
            key = ("different", first, len(embedded))
        groups.setdefault(key, []).append(log)
    findings = []
    for key, logs in groups.items():
        names, verb = ", ".join(log.name for log in logs), "embeds" if len(logs) == 1 else "embed"
        if key[0] == "other":
            findings.append(Finding("code", INFO, f"{names} {verb} {key[1]}, not {name}", (*(log.name for log in logs), key[1])))
        elif key[0] == "layout":
            findings.append(Finding("code", WARN, f"{names} {verb} a version of {name} that differs only in comments "
                                                  "or layout", (*(log.name for log in logs), name)))
        else:
            _, first, lines = key
            message = (f"{names} {verb} a different script than {name} (first difference at line {first}; "
                       f"{lines:,} vs {len(shipped[0]):,} lines): the logs came from another version")
            findings.append(Finding("code", FAIL, message, (*(where(log, first) for log in logs), f"{name}:{first}")))
    return findings


def _other_scripts(context: Context) -> dict[str, list[str]]:
    """Other top-level .py files (eval scripts, helpers), normalised, for logs that embed one of them."""
    files = context.record.files
    names = [name for name in files.files if name.endswith(".py") and "/" not in name and name != files.script
             and files.sizes[name] < OTHER_SCRIPT_MAX_BYTES]
    return {name: _normalised((files.root / name).read_bytes().decode("utf-8", "replace")) for name in names}


def _same_syntax(text: str, tree: ast.Module | None) -> bool:
    try:
        return tree is not None and ast.dump(ast.parse(text)) == ast.dump(tree)
    except (SyntaxError, ValueError, RecursionError):
        return False


def _logged_code_size(context: Context) -> list[Finding]:
    script = context.record.script
    sizes = {script.size, len(script.decoded.text.encode("utf-8"))}
    off = [log for log in context.record.logs if log.run.code_bytes and log.run.code_bytes.value not in sizes]
    if not off:
        return []
    figures = ", ".join(f"{value:,}" for value in sorted({log.run.code_bytes.value for log in off}))
    return [Finding("code", WARN, f"logs state Code size {figures} B; {script.name} is {script.size:,} B on disk "
                                  "(the runs used another version of the script?)",
                    tuple(where(log, log.run.code_bytes.line) for log in off))]


def check_artifact_size(context: Context) -> list[Finding]:
    """Every seed's artifact fits in 16,000,000 bytes (decimal), measured two ways.

    Computed: raw script bytes on disk + that seed's compressed model bytes (a labelled
    `Serialized model <q>+<c>:` line, never the unlabelled raw checkpoint). Stated: the log's
    labelled `Total submission size <q>+<c>:`. FAIL when both are over the cap (the FAIL names
    the seed), WARN when they disagree about it (compressed-code accounting, RULES.md §1).
    Code the script imports, execs or compiles at run time from other files is listed with its
    size; it costs bytes too (PR #1412). An eval-only log that loads a different artifact than
    its training log is a warning.
    Example: `PASS artifact 15,863,489 B ≤ 16,000,000 B (margin 136,511), largest of 3: seed 1337`.
    """
    findings, measured = [], []
    for row in context.record.seeds:
        computed, stated = artifact_figures(context.record, row)
        figures = [value for value in (computed, stated) if value is not None]
        if not figures:
            continue
        run = model_log(row).run
        evidence = tuple(where(model_log(row), located.line) for located in (run.model_bytes, run.total_bytes) if located)
        measured.append((max(figures), row, evidence))
        both = (f"code on disk + model = {_bytes(computed) if computed else 'n/a'}, "
                f"log total {_bytes(stated) if stated else 'n/a'}")
        if min(figures) > SIZE_CAP_BYTES:
            over = min(figures) - SIZE_CAP_BYTES
            message = (f"seed {row.seed}: artifact {_bytes(min(figures))} > {_bytes(SIZE_CAP_BYTES)} "
                       f"(over by {over:,}; {both})")
            findings.append(Finding("artifact_size", FAIL, message, evidence))
        elif max(figures) > SIZE_CAP_BYTES:
            message = (f"seed {row.seed}: the two measures disagree about the cap ({both}); raw code on disk is over, "
                       "the log's (compressed-code) total is under")
            findings.append(Finding("artifact_size", WARN, message, evidence))
    if not measured:
        findings.append(Finding("artifact_size", WARN, "no compressed model size in any log (a labelled "
                                                       "`Serialized model <q>+<c>: N bytes` line); size not verified"))
    elif not findings:
        largest, row, evidence = max(measured, key=lambda item: item[0])
        message = (f"artifact {_bytes(largest)} ≤ {_bytes(SIZE_CAP_BYTES)} (margin {SIZE_CAP_BYTES - largest:,}), "
                   f"largest of {len(measured)}: seed {row.seed}")
        findings.append(Finding("artifact_size", PASS, message, evidence))
    largest = max((item[0] for item in measured), default=None)
    return findings + _runtime_code(context, largest) + _rerun_artifacts(context)


def _runtime_code(context: Context, largest: int | None) -> list[Finding]:
    script = context.record.script
    if script.decoded is None:
        return []
    extra = runtime_code_files(script.decoded, context.record.root, script.name)
    if not extra:
        return []
    total = sum(size for _, size, _ in extra)
    message = (f"code outside {script.name} runs too and is not counted: "
               + ", ".join(f"{name} {_bytes(size)} (line {line})" for name, size, line in extra))
    if largest is not None:
        message += f"; counted in, the largest artifact would be {_bytes(largest + total)}"
        message += " — over the cap" if largest + total > SIZE_CAP_BYTES else ""
    evidence = tuple(name for name, _, _ in extra) + tuple(f"{script.name}:{line}" for _, _, line in extra)
    return [Finding("artifact_size", WARN, message, evidence)]


def _rerun_artifacts(context: Context) -> list[Finding]:
    findings = []
    for row in context.record.seeds:
        train, score = row.train_log, row.score_log
        if train is None or score is None or train is score or not (train.run.model_bytes and score.run.model_bytes):
            continue
        loaded, written = score.run.model_bytes, train.run.model_bytes
        if loaded.value != written.value:
            message = (f"seed {row.seed}: the eval-only log {score.name} loads {_bytes(loaded.value)}, "
                       f"the training log wrote {_bytes(written.value)}")
            evidence = (where(score, loaded.line), where(train, written.line))
            findings.append(Finding("artifact_size", WARN, message, evidence))
    return findings


def check_train_time(context: Context) -> list[Finding]:
    """Every seed trains within 600 s on the record track, calibration on training data included.

    From `stopping_early: ... train_time:<ms>ms` or the last `step:` line's train_time, in any
    dialect. Above 600,000 ms plus one median step is a FAIL naming the seed; above 600,000 ms
    is a WARN (the stop check runs after a step; PRs #549 and #1019 were accepted at 600,128
    and 600,058 ms). GPTQ Hessians collected from training data after the loop count as
    training (RULES.md §2): train time + Hessian time over 600 s is a WARN, and a FAIL when the
    overrun passes 10 s; calibration on self-generated tokens (PR #1019) does not count. The
    non-record track has no time limit: figures are INFO.
    Example: `FAIL seed 2025: train_time 601,500 ms > 600,000 ms + one step (43.5 ms)`.
    """
    findings, times = [], []
    for row in context.record.seeds:
        log = row.train_log
        if log is None or log.run.train_time_ms is None:
            continue
        run, elapsed = log.run, float(log.run.train_time_ms.value)
        step = run.median_step_ms or 0.0
        # Hessians logged before the clock stopped were timed already; self-generated tokens are no data.
        counted = (run.calibration_s is not None and run.calibration_s.line > run.train_time_ms.line
                   and not SELF_GENERATED.search(log.text))
        calibration = run.calibration_s.value * 1000 if counted else 0.0
        evidence = tuple(where(log, located.line) for located in (run.train_time_ms, run.calibration_s) if located)
        times.append((elapsed + calibration, row, evidence, calibration))
        if not context.record_track:
            continue
        if elapsed > TRAIN_LIMIT_MS + step:
            message = f"seed {row.seed}: train_time {elapsed:,.0f} ms > {TRAIN_LIMIT_MS:,} ms + one step ({step:.1f} ms)"
            findings.append(Finding("train_time", FAIL, message, evidence))
        elif elapsed > TRAIN_LIMIT_MS:
            message = (f"seed {row.seed}: train_time {elapsed:,.0f} ms is over {TRAIN_LIMIT_MS:,} ms by less than one "
                       f"step ({step:.1f} ms)")
            findings.append(Finding("train_time", WARN, message, evidence))
        elif elapsed + calibration > TRAIN_LIMIT_MS:
            status = FAIL if elapsed + calibration > TRAIN_LIMIT_MS + CALIBRATION_FAIL_OVERRUN_MS else WARN
            message = (f"seed {row.seed}: train_time {elapsed / 1000:.1f} s + GPTQ Hessians on training data "
                       f"{calibration / 1000:.1f} s = {(elapsed + calibration) / 1000:.1f} s > 600 s")
            findings.append(Finding("train_time", status, message, evidence))
    return findings or _train_time_summary(context, times)


def _train_time_summary(context: Context, times: list) -> list[Finding]:
    training_rows = [row for row in context.record.seeds if row.train_log is not None]
    if not times:
        status = WARN if context.record_track and training_rows else INFO
        return [Finding("train_time", status, "no training time in any log (stopping_early or step train_time lines)")]
    longest, row, evidence, calibration = max(times, key=lambda item: item[0])
    hessians = f" including {calibration / 1000:.1f} s of GPTQ Hessians" if calibration else ""
    if not context.record_track:
        return [Finding("train_time", INFO, f"longest training {longest / 1000:,.1f} s{hessians}, seed {row.seed} "
                                            "(non-record track: no time limit)", evidence)]
    findings = [Finding("train_time", PASS, f"train time {longest:,.0f} ms ≤ {TRAIN_LIMIT_MS:,} ms{hessians}, "
                                            f"longest of {len(times)}: seed {row.seed}", evidence)]
    missing = [other.seed for other in training_rows if other.train_log.run.train_time_ms is None]
    if missing:
        findings.append(Finding("train_time", WARN, f"no training time in the log of seed {', '.join(missing)}"))
    return findings


def check_eval_time(context: Context) -> list[Finding]:
    """Every seed's scoring passes take at most 600 s, on top of training (record track).

    The evaluation time is `total_eval_time`, else the sum of the `eval_time:` of the
    non-diagnostic passes (quantized round trip, sliding window, TTT), which the budget covers
    when the score chains them (RULES.md §2). Over 600 s is a FAIL naming the seed; a sum over
    600 s whose scoring pass alone fits is a WARN (passes that do not feed the score may not
    count). A TTT compile warmup logged outside the total that would push it over is a WARN (PR
    #1855 was accepted with one). No eval time in a log is a WARN; the non-record track is INFO.
    Example: `FAIL seed 314: eval 612.4 s > 600 s`.
    """
    findings, times, missing, warmups = [], [], [], []
    for row in context.scored:
        run = row.score_log.run
        if run.eval_time_ms is None:
            missing.append(row.seed)
            continue
        evidence = tuple(where(row.score_log, line) for line in run.eval_time_lines[:4])
        times.append((run.eval_time_ms, row, evidence))
        warmup = run.ttt_warmup_s.value * 1000 if run.ttt_warmup_s else 0.0
        if context.record_track and run.eval_time_ms > EVAL_LIMIT_MS:
            findings.append(_eval_overrun(row, evidence))
        elif context.record_track and run.eval_time_ms + warmup > EVAL_LIMIT_MS:
            warmups.append((row, run.eval_time_ms, warmup))
    if warmups:
        figures = "; ".join(f"seed {row.seed} {eval_ms / 1000:.1f} s + {warmup / 1000:.1f} s = "
                            f"{(eval_ms + warmup) / 1000:.1f} s" for row, eval_ms, warmup in warmups)
        message = (f"a TTT compile warmup logged outside the eval total would take it past 600 s: {figures} "
                   "(flagged in PR #1530, accepted in PR #1855)")
        evidence = tuple(where(row.score_log, row.score_log.run.ttt_warmup_s.line) for row, _, _ in warmups)
        findings.append(Finding("eval_time", WARN, message, evidence))
    if missing:
        findings.append(Finding("eval_time", WARN if context.record_track else INFO, f"no eval time in the log of seed "
                                f"{', '.join(missing)} (eval_time or total_eval_time lines)"))
    longest, row, evidence = max(times, key=lambda item: item[0], default=(0.0, None, ()))
    if times and (longest <= EVAL_LIMIT_MS or not context.record_track):
        message = f"eval {longest / 1000:,.1f} s{' ≤ 600 s' * context.record_track}, longest of {len(times)}: seed {row.seed}"
        findings.insert(0, Finding("eval_time", PASS if context.record_track else INFO, message, evidence))
    return findings


def _eval_overrun(row: SeedRow, evidence: tuple[str, ...]) -> Finding:
    """Over 600 s: a FAIL, unless the time is a sum of passes and the scoring pass alone fits (WARN)."""
    run, final = row.score_log.run, row.final
    summed = any(metric.line in run.eval_time_lines for metric in run.metric_lines)
    message = f"seed {row.seed}: eval {run.eval_time_ms / 1000:,.1f} s > 600 s"
    # The pass that printed the score: the final line's label, or the line it aliases (PR #549 lineage).
    scoring = next((metric for metric in reversed(run.metric_lines)
                    if metric.eval_time_ms is not None and not metric.diagnostic
                    and (metric.label == final.label or matches_claim(metric, final.val_bpb))), None)
    if not summed or scoring is None or scoring.eval_time_ms > EVAL_LIMIT_MS:
        return Finding("eval_time", FAIL, message, evidence)
    return Finding("eval_time", WARN, f"{message} summed over {len(run.eval_time_lines)} passes; the scoring pass "
                                      f"({scoring.label}) alone takes {scoring.eval_time_ms / 1000:,.1f} s", evidence)


def check_seeds(context: Context) -> list[Finding]:
    """At least 3 distinct seeds with complete logs on the record track, and honest run counts.

    A log that ends without a final metric line (crashed or cut) is a FAIL naming the seed,
    when submission.json reports that seed or lists none; an unreported extra run that is
    incomplete is a WARN. Fewer than 3 complete seeds on the record track is a FAIL (README
    "Submission Process" item 3). Repeated seeds, more training runs than reported, and a
    README that mentions more runs than reported are warnings (RULES.md §3, §7: best-of-N
    selection must be disclosed). Log-like files with no seed and no training steps (notes,
    summaries) are not counted as runs (INFO).
    Example: `FAIL seed 2025: train_seed2025.log ends at line 180 without a final metric line (...)`.
    """
    record, scored, findings = context.record, context.scored, []
    listed = set(record.submission.listed_seeds)
    for row in record.seeds:
        if row.complete:
            continue
        log, final = row.score_log, row.final
        reported = not listed or row.seed in listed or len(scored) < MIN_RECORD_SEEDS
        if final is None:
            message = (f"seed {row.seed}: {log.name} ends at line {log.run.line_count} without a final metric line "
                       "(crashed, cut, or still running)")
            evidence = (where(log, log.run.line_count),)
        else:
            message = f"seed {row.seed}: the final line scores val_loss {final.val_loss} val_bpb {final.val_bpb}"
            evidence = (where(log, final.line),)
        findings.append(Finding("seeds", FAIL if reported else WARN, message, evidence))
    if context.record_track and len(scored) < MIN_RECORD_SEEDS:
        findings.append(Finding("seeds", FAIL, f"{plural(len(scored), 'complete seed')} ({seed_list(scored) or 'none'}); "
                                               f"the record track needs {MIN_RECORD_SEEDS}"))
    findings += _run_count_warnings(context)
    if not findings:
        message = f"{plural(len(scored), 'seed')} with complete logs: {seed_list(scored)}"
        findings.append(Finding("seeds", PASS if context.record_track else INFO, message, final_evidence(scored)))
    if record.not_runs:
        findings.append(Finding("seeds", INFO, "not counted as runs (no seed, no training steps): "
                                               f"{', '.join(log.name for log in record.not_runs)}"))
    return findings


def _run_count_warnings(context: Context) -> list[Finding]:
    record, findings = context.record, []
    for row in record.seeds:
        if row.extra_logs:
            names = [log.name for log in (row.train_log, *row.extra_logs)]
            message = f"seed {row.seed} was trained {len(names)} times: {', '.join(names)}"
            findings.append(Finding("seeds", WARN, message, tuple(names)))
    listed, name = record.submission.listed_seeds, record.submission.name
    if len(set(listed)) < len(listed):
        findings.append(Finding("seeds", WARN, f"{name} lists a seed twice: {', '.join(listed)}", (name,)))
    runs = sum(1 + len(row.extra_logs) for row in record.seeds if row.train_log is not None)
    reported = len(set(listed)) or len(context.scored)
    if listed and runs > reported:
        findings.append(Finding("seeds", WARN, f"{runs} training runs in the logs, {reported} reported in {name}: "
                                               "disclose how the reported runs were chosen"))
    mentioned = [int(match.group(1)) for match in RUN_COUNT_IN_TEXT.finditer(record.readme_text)]
    if mentioned and max(mentioned) > max(reported, runs):
        findings.append(Finding("seeds", WARN, f"{record.files.readme} mentions {max(mentioned)} seeds/runs, "
                                               f"{reported} are reported", (record.files.readme,)))
    return findings


def check_final_line(context: Context) -> list[Finding]:
    """Which metric line is each seed's score, and why (INFO, one line per seed).

    RULES.md §6: drop diagnostic and `step:` lines, take the last remaining metric line and
    prefer its `_exact` twin; scores from an eval-only rerun log are named as such.
    Example: `INFO seed 42: val_bpb 1.22509229 val_loss 2.06851204 from train_seed42.log; last ...`.
    """
    findings = []
    for row in context.scored:
        final, log = row.final, row.score_log
        rerun = " (eval-only rerun)" if row.train_log is not None and log is not row.train_log else ""
        message = (f"seed {row.seed}: val_bpb {final.val_bpb} val_loss {final.val_loss} from {log.name}{rerun}; "
                   f"{log.run.final_reason}")
        findings.append(Finding("final_line", INFO, message, (where(log, final.line),)))
    return findings


def significance_figures(context: Context) -> dict:
    """Mean, spread and, with a SOTA, both significance tests and the gap in bpb and nats."""
    rows = context.scored
    if not rows:
        return {}
    losses, bpbs = [row.final.val_loss for row in rows], [row.final.val_bpb for row in rows]
    mean_loss, std_loss = stats.mean_std(losses)
    mean_bpb, std_bpb = stats.mean_std(bpbs)
    ratio = stats.nats_per_bpb(mean_loss, mean_bpb)
    figures = {"n": len(rows), "seeds": [row.seed for row in rows], "mean_val_bpb": mean_bpb,
               "std_val_bpb": std_bpb, "mean_val_loss": mean_loss, "std_val_loss": std_loss, "nats_per_bpb": ratio}
    sota = context.sota
    if sota is None:
        return figures
    # Per-token nats are not comparable across tokenizers: bring the SOTA through this run's ratio.
    sota_nats = [bpb * ratio for bpb in sota.val_bpbs] or [sota.val_bpb * ratio]
    gap = mean_bpb - sota.val_bpb
    written = stats.one_sample_vs_sota(losses, _mean(sota_nats))
    welch = stats.welch_vs_previous(losses, sota_nats, stats.WRITTEN_RULE_ALPHA) if len(sota_nats) > 1 else None
    if len(sota_nats) > 1:
        frontier = stats.welch_vs_previous(losses, sota_nats, stats.FRONTIER_ALPHA)
    else:
        frontier = stats.one_sample_vs_sota(losses, sota_nats[0], margin_nats=0.0, alpha=stats.FRONTIER_ALPHA)
    figures.update(
        sota={"source": sota.label, "val_bpb": sota.val_bpb, "val_loss_nats": _mean(sota_nats), "n": len(sota.val_bpbs)},
        gap_bpb=gap, gap_nats_per_token=stats.bpb_gap_to_nats(gap, ratio),
        gap_nats_per_byte=stats.bpb_gap_to_nats_per_byte(gap), written_rule=_test_json(written),
        welch_written=_test_json(welch) if welch else None, frontier_rule=_test_json(frontier))
    return figures


def _test_json(result: stats.TestResult) -> dict:
    def clean(value):
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else value

    return {"test": result.name, "t": clean(result.t), "df": clean(result.df), "p": clean(result.p), "n": result.n,
            "threshold": clean(result.threshold), "passed": result.passed, "detail": result.detail}


def _test_text(result: dict) -> str:
    if result["p"] is None:
        return f"not computable ({result['detail']})"
    t = "n/a" if result["t"] is None else f"{result['t']:.2f}"
    df = "n/a" if result["df"] is None else f"{result['df']:.2f}"
    return f"t={t} df={df} p={result['p']:.4g}"


def check_significance(context: Context) -> list[Finding]:
    """With --sota, the record beats the SOTA by 0.005 nats at p < 0.01, and the frontier p-value.

    Written rule (README item 1): one-sided one-sample t-test of the per-seed val_loss (nats)
    against SOTA_nats − 0.005, p < 0.01; plus a one-sided Welch t-test at p < 0.01 when the
    SOTA's per-seed values are known (--sota RECORD_DIR). Maintainers' final rule (RULES.md
    §3): one-sided Welch p < 0.25 against the previous record; with only a SOTA BPB it is
    approximated by a one-sample test against the SOTA mean. PASS when the written rule holds,
    WARN when only the frontier rule does, FAIL when neither. The gap is reported in bpb, in
    per-token nats through this run's val_loss/val_bpb ratio, and in nats per byte. Without
    --sota: WARN, not checked. Fewer than 3 seeds: WARN (repeated seeds and undisclosed runs
    are reported by `seeds`).
    Example: `PASS mean 1.224382 vs SOTA 1.232429 bpb (...): gap -0.00805 bpb = -0.01359 nats/token ...`.
    """
    if not context.record_track:
        return [Finding("significance", INFO, "non-record track: no significance test")]
    figures = significance_figures(context)
    if not figures:
        return [Finding("significance", WARN, "not checked: no seed has a final score")]
    few = []
    if figures["n"] < MIN_RECORD_SEEDS:
        few = [Finding("significance", WARN, f"only {plural(figures['n'], 'seed')}; p-values from fewer than 3 runs "
                                             "are weak")]
    if "sota" not in figures:
        return [Finding("significance", WARN, f"not checked: pass --sota BPB or --sota RECORD_DIR (mean "
                                              f"{figures['mean_val_bpb']:.6f} bpb over {figures['n']} seeds)")] + few
    written, welch, frontier = figures["written_rule"], figures["welch_written"], figures["frontier_rule"]
    passed = bool(written["passed"]) and (welch is None or bool(welch["passed"]))
    status = PASS if passed else WARN if frontier["passed"] else FAIL
    sota = figures["sota"]
    message = (f"mean {figures['mean_val_bpb']:.6f} vs SOTA {sota['val_bpb']:.6f} bpb ({sota['source']}): "
               f"gap {figures['gap_bpb']:+.5f} bpb = {figures['gap_nats_per_token']:+.5f} nats/token "
               f"(ratio {figures['nats_per_bpb']:.4f}) = {figures['gap_nats_per_byte']:+.5f} nats/byte; "
               f"written rule (0.005 nats, p < 0.01): {_test_text(written)}")
    if welch:
        message += f"; Welch p < 0.01: {_test_text(welch)}"
    approximated = "" if welch else ", approximated from the SOTA mean"
    frontier_message = (f"frontier rule (one-sided Welch p < 0.25 vs previous record{approximated}): "
                        f"{_test_text(frontier)} -> {'passes' if frontier['passed'] else 'fails'}")
    return [Finding("significance", status, message, final_evidence(context.scored)),
            Finding("significance", INFO, frontier_message)] + few


def check_bpb_bytes(context: Context) -> list[Finding]:
    """The validation bytes each final line implies are the canonical 151.08 M (a broken byte table is not).

    implied = val_tokens / (ln 2 · val_bpb / val_loss) must be within 0.1 % of the canonical
    FineWeb validation byte count, which every honest tokenisation lands on (RULES.md §5).
    Far off (157 M, 176 M) points to a byte-table bug: `+1` built into base_bytes, byte tokens
    sized 3 or 6, a vocabulary without `▁`. FAIL on the record track, WARN on the non-record
    track; the launch-day validation export (63,779,840 tokens) is a WARN; INFO when the log
    does not show the token count.
    Example: `FAIL seed 42: 62,021,632 tokens imply 176.30 M validation bytes (+16.69% from 151.08 M): ...`.
    """
    findings, implied_all, missing = [], [], []
    canonical = stats.CANONICAL_VAL_BYTES
    for row in context.scored:
        log = next((log for log in (row.score_log, row.train_log) if log and log.run.val_tokens), None)
        if log is None:
            missing.append(row.seed)
            continue
        tokens = int(log.run.val_tokens.value)
        implied = stats.implied_val_bytes(tokens, row.final.val_loss, row.final.val_bpb)
        implied_all.append(implied)
        if stats.val_bytes_plausible(implied):
            continue
        evidence = (where(log, log.run.val_tokens.line), where(row.score_log, row.final.line))
        figure = (f"seed {row.seed}: {tokens:,} tokens imply {implied / 1e6:.2f} M validation bytes "
                  f"({implied / canonical - 1:+.2%} from {canonical / 1e6:.2f} M)")
        if tokens == LAUNCH_DAY_VAL_TOKENS:
            findings.append(Finding("bpb_bytes", WARN, f"{figure}: the launch-day validation export", evidence))
        else:
            findings.append(Finding("bpb_bytes", FAIL if context.record_track else WARN,
                                    f"{figure}: the BPB byte table is probably wrong (RULES.md §5)", evidence))
    if missing:
        findings.append(Finding("bpb_bytes", INFO, f"not checked for seed {', '.join(missing)}: the log does not "
                                                   "show val_tokens"))
    if implied_all and not any(finding.status in (FAIL, WARN) for finding in findings):
        low, high = f"{min(implied_all) / 1e6:.2f}", f"{max(implied_all) / 1e6:.2f}"
        span = low if low == high else f"{low}–{high}"
        message = (f"implied validation bytes {span} M for {plural(len(implied_all), 'seed')}, within 0.1 % of "
                   f"{canonical / 1e6:.2f} M")
        findings.insert(0, Finding("bpb_bytes", PASS, message))
    return findings


def check_hardware(context: Context) -> list[Finding]:
    """The logs' GPU listing (nvidia-smi) shows 8×H100 SXM on the record track.

    README: records are timed on 8xH100 SXM, not PCIe (nvidia-smi names SXM parts "H100 80GB
    HBM3"). Any other listing is a WARN naming the logs. Without a listing, a submission.json
    `hardware` field that does not say 8xH100 is a WARN, else INFO. The non-record track allows
    any GPU (INFO).
    Example: `WARN 8× NVIDIA H100 PCIe in 3 logs; the record track runs on 8×H100 SXM`.
    """
    groups: dict[str, list[LoadedLog]] = {}
    for log in context.record.logs:
        gpus = [str(gpu.value) for gpu in log.run.gpu_lines]
        if gpus:
            groups.setdefault(f"{len(gpus)}× {' + '.join(sorted(set(gpus)))}", []).append(log)
    declared = (context.record.submission.data or {}).get("hardware")
    if not groups:
        if context.record_track and isinstance(declared, str) and not RECORD_HARDWARE.search(declared):
            return [Finding("hardware", WARN, f"no GPU listing in the logs, and submission.json says hardware "
                                              f"{declared!r}, not 8xH100 SXM", (context.record.submission.name,))]
        return [Finding("hardware", INFO, "no GPU listing in the logs"
                                          + (f"; submission.json says {declared!r}" if declared else ""))]
    findings = []
    for described, logs in groups.items():
        evidence = tuple(where(log, log.run.gpu_lines[0].line) for log in logs)
        gpus = [str(gpu.value) for gpu in logs[0].run.gpu_lines]
        figure = f"{described} in {plural(len(logs), 'log')}"
        if not context.record_track:
            findings.append(Finding("hardware", INFO, f"{figure} (non-record track: any hardware)", evidence))
        elif len(gpus) == 8 and all("H100" in gpu and not NOT_SXM.search(gpu) for gpu in gpus):
            findings.append(Finding("hardware", PASS, figure, evidence))
        else:
            findings.append(Finding("hardware", WARN, f"{figure}; the record track runs on 8×H100 SXM", evidence))
    return findings


def check_compliance_rules(context: Context) -> list[Finding]:
    """Evaluation legality from the decoded source's syntax tree (golf.compliance).

    Ids: ttt, pre_eval_ttt, rescoring, ngram_target_leak, slot, val_in_training,
    val_in_artifact, network, train_data_in_eval (RULES.md §4). Under `strict` any test-time
    training fails; under `competition` score-first TTT is legal.
    """
    script = context.record.script
    if script.decoded is None or script.decoded.tree is None:
        return [Finding("compliance", INFO, "not checked: no script that parses")]
    logs = {log.name: log.text for log in context.record.logs}
    return list(check_compliance(script.decoded, logs, context.policy, script.name))


def check_provenance_rule(context: Context) -> list[Finding]:
    """`provenance`: with a PATCHES file, its base plus its patches must rebuild train_gpt.py byte for byte.

    A record made by tools/make_record.py says which patches it stacks; a script edited by hand
    afterwards no longer matches what the README and PATCHES claim. FAIL on a mismatch or a patch
    that no longer applies, WARN when an input cannot be found, INFO without a PATCHES file.
    """
    return [check_provenance(context.record.root)]


CHECKS: tuple[Check, ...] = (
    Check("track", check_track),
    Check("files", check_files),
    Check("submission_json", check_submission_json),
    Check("code", check_code),
    Check("provenance", check_provenance_rule),
    Check("artifact_size", check_artifact_size),
    Check("train_time", check_train_time),
    Check("eval_time", check_eval_time),
    Check("seeds", check_seeds),
    Check("final_line", check_final_line),
    Check("significance", check_significance),
    Check("bpb_bytes", check_bpb_bytes),
    Check("hardware", check_hardware),
    Check("compliance", check_compliance_rules),
)


# ---------------------------------------------------------------------------------------------
# Entry points


def check_record(folder, policy: str = "strict", sota: Sota | float | str | None = None,
                 track: str | None = None) -> RecordResult:
    """Check one record folder. Raises InputError (exit code 2) when it cannot be read at all."""
    if policy not in POLICIES:
        raise InputError(f"policy {policy!r} is not one of {', '.join(POLICIES)}")
    if track is not None and normalise_track(track) is None:
        raise InputError(f"track {track!r} is not one of {', '.join(TRACKS)}")
    record = load_record(folder)
    chosen, source = infer_track(record, track)
    if sota is not None and not isinstance(sota, Sota):
        sota = load_sota(sota)
    context = Context(record, policy, chosen, source, sota)
    findings = [finding for check in CHECKS for finding in run_check(check, context)]
    return RecordResult(str(folder), chosen, policy, findings, seed_table_json(context), significance_figures(context))


def run_check(check: Check, context: Context) -> list[Finding]:
    """Run one check; a crash is a bug in the checker, reported as a FAIL rather than a traceback."""
    try:
        return check.run(context)
    except Exception as error:  # noqa: BLE001 - the gatekeeper must finish and say what broke
        return [Finding(check.id, FAIL, f"checker error in {check.id} ({type(error).__name__}: {error}); "
                                        "this is a bug in the checker, please report it")]


def normalise_track(text: str) -> str | None:
    """A track as TRACKS spells it, from the spellings records use (`non-record-unlimited-compute-16mb`)."""
    lowered = text.strip().lower().removeprefix("track_")
    if "non" in lowered or "unlimited" in lowered:
        return "non_record_16mb"
    return RECORD_TRACK if "10min" in lowered or "10_min" in lowered else None


def infer_track(record: Record, given: str | None) -> tuple[str, str]:
    """--track, else a `track_<name>` path component, else submission.json `track`, else the record track."""
    if given:
        return normalise_track(given) or RECORD_TRACK, "from --track"
    for part in reversed(record.root.parts):
        if part.startswith("track_") and part.removeprefix("track_") in TRACKS:
            return part.removeprefix("track_"), "from the path"
    declared = (record.submission.data or {}).get("track")
    if isinstance(declared, str) and normalise_track(declared):
        return normalise_track(declared), f"from submission.json track {declared!r}"
    return RECORD_TRACK, "by default: no track in the path or submission.json"


def load_sota(value: float | str | Path) -> Sota:
    """--sota: a BPB number, or a record folder whose logs give the SOTA's per-seed scores."""
    if isinstance(value, (int, float)):
        return Sota(f"{float(value):g} bpb", float(value))
    number = as_float(value) if isinstance(value, str) and not Path(value).exists() else None
    if number is not None:
        return Sota(f"{number:g} bpb", number)
    if not Path(value).exists():
        raise InputError(f"--sota {value!r} is neither a BPB number nor an existing record folder")
    rows = [row for row in load_record(value).seeds if row.complete]
    if not rows:
        raise InputError(f"--sota {value}: no log in that folder has a final val_loss/val_bpb line; "
                         "pass the SOTA's BPB instead")
    bpbs = tuple(row.final.val_bpb for row in rows)
    return Sota(Path(value).resolve().name, _mean(list(bpbs)), tuple(row.final.val_loss for row in rows), bpbs)


def describe_checks() -> list[tuple[str, str]]:
    """(id, one-line summary) for every registered check in order, the compliance rules after `compliance`."""
    rows = []
    for check in CHECKS:
        rows.append((check.id, check.summary))
        if check.id == "compliance":
            rows += [(rule.id, (rule.doc or "").split("\n", 1)[0]) for rule in COMPLIANCE_RULES]
    return rows
