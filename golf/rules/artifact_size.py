"""Every seed's artifact fits in 16,000,000 bytes (decimal), as the log states it and as measured on disk.

Two figures per seed: the log's labelled `Total submission size <q>+<c>: N bytes` (what
maintainers read), and the raw script bytes on disk plus the seed's labelled `Serialized model
<q>+<c>:` bytes (never the unlabelled raw checkpoint). FAIL when both are over the cap on any
seed, or the only one there is. When they disagree, the ruling has a date (RULES.md §1): since
the late-April reviews the log's total decides (PRs #1809 and #1835 were ruled ineligible on it,
PR #1835 although its shipped script was a smaller wrapper), so a log total over the cap FAILs
submissions dated from LOG_TOTAL_RULING (or undated) and WARNs earlier ones, whose authors
could repack the code after review (PR #1412). A log total that fits while disk + model does
not is a WARN: records that count compressed code were accepted (PR #1855). Code the script
imports, execs or compiles at run time from other files is listed with its size (WARN: it
costs bytes too, PR #1412), and an eval-only log that loads a different artifact than its
training log is a WARN.
Example: `FAIL seed 42: artifact 16,071,265 B > 16,000,000 B (over by 71,265; log total
16,071,265 B, code on disk + model 15,992,964 B)`.
"""
from __future__ import annotations

import datetime

from golf.facts import SIZE_CAP_BYTES, artifact_figures, byte_count, model_log, where
from golf.findings import FAIL, PASS, WARN, Finding
from golf.rules.severity import both_policies
from golf.source import CODE_SUFFIXES, runtime_code_files

ID = "artifact_size"
SEVERITY = both_policies(
    fail="a seed over 16,000,000 B by both measures; by the log total from 2026-04-24",
    warn="the two measures disagree about the cap; uncounted run-time code",
)
CITES = "RULES.md §1"
LOG_TOTAL_RULING = datetime.date(2026, 4, 24)   # the late-April reviews: PRs #1809, #1835 ineligible on the log total


def check(context) -> list[Finding]:
    findings, measured = [], []
    for row in context.record.seeds:
        computed, stated = artifact_figures(context.record, row)
        if computed is None and stated is None:
            continue
        counted = stated if stated is not None else computed
        run = model_log(row).run
        evidence = tuple(where(model_log(row), located.line) for located in (run.model_bytes, run.total_bytes) if located)
        measured.append((counted, row, evidence))
        finding = _seed_finding(row.seed, computed, stated, evidence, _log_total_decides(context))
        if finding:
            findings.append(finding)
    if not measured:
        findings.append(Finding(ID, WARN, "no compressed model size in any log (a labelled "
                                          "`Serialized model <q>+<c>: N bytes` line); size not verified"))
    elif not findings:
        largest, row, evidence = max(measured, key=lambda item: item[0])
        message = (f"artifact {byte_count(largest)} ≤ {byte_count(SIZE_CAP_BYTES)} (margin "
                   f"{SIZE_CAP_BYTES - largest:,}), largest of {len(measured)}: seed {row.seed}")
        findings.append(Finding(ID, PASS, message, evidence))
    largest = max((item[0] for item in measured), default=None)
    return findings + _runtime_code(context, largest) + _rerun_artifacts(context)


def _log_total_decides(context) -> bool:
    return context.date is None or context.date >= LOG_TOTAL_RULING


def _seed_finding(seed: str, computed: int | None, stated: int | None, evidence: tuple[str, ...],
                  log_total_decides: bool) -> Finding | None:
    both = (f"log total {byte_count(stated) if stated else 'n/a'}, "
            f"code on disk + model {byte_count(computed) if computed else 'n/a'}")
    counted = stated if stated is not None else computed
    over_by_both = all(value > SIZE_CAP_BYTES for value in (computed, stated) if value is not None)
    if counted > SIZE_CAP_BYTES:
        message = (f"seed {seed}: artifact {byte_count(counted)} > {byte_count(SIZE_CAP_BYTES)} "
                   f"(over by {counted - SIZE_CAP_BYTES:,}; {both})")
        if over_by_both or log_total_decides:
            return Finding(ID, FAIL, message, evidence)
        return Finding(ID, WARN, f"{message}: the code on disk fits; dated before {LOG_TOTAL_RULING}, when the "
                                 "log's total became the one that counts (repack and rerun to be safe)", evidence)
    if computed is not None and computed > SIZE_CAP_BYTES:
        message = (f"seed {seed}: the log total fits but code on disk + model does not ({both}): the log counts "
                   "compressed code; say so in the README")
        return Finding(ID, WARN, message, evidence)
    return None


def _runtime_code(context, largest: int | None) -> list[Finding]:
    script, files = context.record.script, context.record.files
    others = [name for name in files.files if name != script.name and name.endswith((*CODE_SUFFIXES, ".pyd"))]
    if script.decoded is None or not others:  # nothing else to run: skip the walk over the script
        return []
    extra = runtime_code_files(script.decoded, context.record.root, script.name)
    if not extra:
        return []
    total = sum(size for _, size, _ in extra)
    message = (f"code outside {script.name} runs too and is not counted: "
               + ", ".join(f"{name} {byte_count(size)} (line {line})" for name, size, line in extra))
    if largest is not None:
        message += f"; counted in, the largest artifact would be {byte_count(largest + total)}"
        message += " — over the cap" if largest + total > SIZE_CAP_BYTES else ""
    evidence = tuple(name for name, _, _ in extra) + tuple(f"{script.name}:{line}" for _, _, line in extra)
    return [Finding(ID, WARN, message, evidence)]


def _rerun_artifacts(context) -> list[Finding]:
    findings = []
    for row in context.record.seeds:
        train, score = row.train_log, row.score_log
        if train is None or score is None or train is score or not (train.run.model_bytes and score.run.model_bytes):
            continue
        loaded, written = score.run.model_bytes, train.run.model_bytes
        if loaded.value != written.value:
            message = (f"seed {row.seed}: the eval-only log {score.name} loads {byte_count(loaded.value)}, "
                       f"the training log wrote {byte_count(written.value)}")
            findings.append(Finding(ID, WARN, message, (where(score, loaded.line), where(train, written.line))))
    return findings
