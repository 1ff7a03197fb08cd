"""submission.json is a readable JSON object with the keys maintainers read, and its numbers match the logs.

An unreadable file (not UTF-8, not JSON, not an object) or one marked `"status": "retracted"`
is a FAIL: there is no claim to judge. A missing file is reported by `files`. Everything else
is a WARN with the figures, because merged records show maintainers accepted it (RULES.md §6):
`val_bpb` missing or not a number (then `mean_val_bpb` and similar keys are compared), missing
`name`/`author`/`github_id`/`date`, unexpected types, a `val_bpb` that is not the mean of the
per-seed final scores within 5e-5 or the file's rounding (early records claimed their headline
seed, later ones a rounded mean), per-seed values that are not the seed's final line (the line
they match is named; the best of several eval passes is selection on validation data, C4),
seeds no log has, and artifact bytes that match no byte figure of the log.
Example: `WARN val_bpb 1.20576 in submission.json, logs give 1.206366 (mean of 3 seeds): off by
-0.000601; it is seed 1337's final score`.

A headline better than the logs allow is a FAIL: merged records show rounding and line-choice
gaps, never a claim below every line the logs hold. The candidates are every BPB a log prints
as a score (final, sliding, TTT, pre/post-quant and diagnostic lines, periodic validation, other
`*bpb` figures; golf.logs RunLog.bpb_figures). The lowest honest headline is the mean of each
listed seed's best figure (any logged line per seed, averaged), or the best figure of any log
when submission.json lists no seeds (it may claim one seed, or its best seeds). It FAILs when
no log prints the claimed value and it is below that floor by more than rounding: half a unit in
the claim's last written digit (at least 5e-5) plus half a unit in the figures' own.
Example: `FAIL val_bpb 1.2144 in submission.json is better than the logs allow: the mean of each
listed seed's best logged BPB (seeds 42, 1337, 2025) is 1.217300 and no log prints 1.2144; lower
by 0.002900, beyond rounding (1.0e-04)`.
"""
from __future__ import annotations

from golf.facts import artifact_figures, final_evidence, mean, model_log, plural, seed_list, where
from golf.findings import FAIL, INFO, PASS, WARN, Finding
from golf.logs import matches_claim, printed_decimals
from golf.record import as_float
from golf.rules.severity import both_policies

ID = "submission_json"
SEVERITY = both_policies(
    fail="unreadable or retracted; val_bpb better than every value the logs allow, beyond rounding",
    warn="val_bpb or per-seed claims differ from the logs; missing keys; wrong types",
)
CITES = "RULES.md §6"
BPB_TOLERANCE = 5e-5
HEADLINE_KEYS = ("val_bpb", "mean_val_bpb", "val_bpb_mean", "mean_bpb")
EXPECTED_KEYS = ("name", "author", "github_id", "date")
JSON_TYPES = {"val_loss": (int, float, type(None)), "bytes_total": (int,), "bytes_code": (int, type(None)),
              "track": (str,), "seeds": (list, dict), "seed_results": (dict,), "blurb": (str,), "name": (str,),
              "author": (str,), "github_id": (str,), "date": (str,)}


def check(context) -> list[Finding]:
    submission = context.record.submission
    if submission.data is None:
        if submission.name is None:
            return [Finding(ID, INFO, "not checked: no submission.json (reported by files)")]
        return [Finding(ID, FAIL, submission.error, (submission.name,))]
    if submission.data.get("status") == "retracted":
        return [Finding(ID, FAIL, f"{submission.name} marks the submission retracted", (submission.name,))]
    findings = _shape(submission.name, submission.data) + _mean(context) + _per_seed(context)
    if not findings:
        why = "a seed it lists has no complete log" if context.scored else "no complete log to compare with"
        findings = [Finding(ID, PASS, f"{submission.name}: required keys present; val_bpb not compared ({why})",
                            (submission.name,))]
    return findings


def _headline(data: dict) -> tuple[str, float] | None:
    """The key and value of the claimed mean: `val_bpb`, else a `mean_val_bpb`-style key."""
    for key in HEADLINE_KEYS:
        value = as_float(data.get(key))
        if value is not None:
            return key, value
    return None


def _shape(name: str, data: dict) -> list[Finding]:
    findings = []
    value, headline = data.get("val_bpb"), _headline(data)
    if as_float(value) is None or isinstance(value, str):
        instead = f"; compared {headline[0]} instead" if headline and headline[0] != "val_bpb" else ""
        findings.append(Finding(ID, WARN, f"{name}: val_bpb is {value!r}; it should be a number (the mean of "
                                          f"the per-seed final scores){instead}", (name,)))
    absent = [key for key in EXPECTED_KEYS if key not in data]
    if absent:
        findings.append(Finding(ID, WARN, f"{name} lacks {', '.join(absent)}", (name,)))
    wrong = [f"{key} is {type(data[key]).__name__}" for key, types in JSON_TYPES.items()
             if key in data and (not isinstance(data[key], types) or isinstance(data[key], bool))]
    if wrong:
        findings.append(Finding(ID, WARN, f"{name}: unexpected types: {'; '.join(wrong)}", (name,)))
    return findings


def _claimed_rows(context) -> list:
    """The seeds val_bpb is the mean of: the ones submission.json lists, else every scored seed.

    Empty when a listed seed has no complete log: `seeds` reports that instead.
    """
    listed = set(context.record.submission.listed_seeds)
    if not listed:
        return context.scored
    chosen = [row for row in context.scored if row.seed in listed]
    return chosen if len(chosen) == len(listed) else []


def _mean(context) -> list[Finding]:
    submission, rows = context.record.submission, _claimed_rows(context)
    headline = _headline(submission.data)
    if not rows or headline is None:
        return []
    key, claimed = headline
    measured = mean([row.final.val_bpb for row in rows])
    decimals = submission.decimals(key)
    tolerance = max(BPB_TOLERANCE, 0.5 * 10.0 ** -decimals if decimals is not None else 0.0)
    evidence = (submission.name, *final_evidence(rows))
    figure = f"{key} {claimed:g} in {submission.name}, logs give {measured:.6f} (mean of {plural(len(rows), 'seed')})"
    if abs(claimed - measured) <= tolerance + 1e-12:
        return [Finding(ID, PASS, figure, evidence)]
    beyond = _better_than_logs(context, rows, key, claimed, tolerance)
    if beyond is not None:
        return [beyond]
    figure += f": off by {claimed - measured:+.6f}, tolerance {tolerance:g}"
    single = [row for row in rows if matches_claim(row.final, claimed)]
    if single and len(rows) > 1:
        figure += f"; it is seed {single[0].seed}'s final score, not the mean"
    return [Finding(ID, WARN, figure, evidence)]


def _better_than_logs(context, rows, key: str, claimed: float, rounding: float) -> Finding | None:
    """FAIL when the headline is lower than any value the logs allow and no log prints it."""
    printed = [(log, figure) for log in context.record.logs for figure in log.run.bpb_figures]
    if not printed or any(_near(figure, claimed, rounding) for _, figure in printed):
        return None
    floor, basis, lines = _floor(context, rows, printed)
    slack = rounding + max(0.5 * 10.0 ** -figure.decimals for _, figure in lines) + 1e-9
    if claimed >= floor - slack:
        return None
    name = context.record.submission.name
    written = repr(float(claimed))
    message = (f"{key} {written} in {name} is better than the logs allow: {basis} is {floor:.6f} and no log prints "
               f"{written}; lower by {floor - claimed:.6f}, beyond rounding ({slack:.1e})")
    return Finding(ID, FAIL, message, (name, *(where(log, figure.line) for log, figure in lines)))


def _floor(context, rows, printed) -> tuple[float, str, list]:
    """The lowest headline the logs allow: the mean of each listed seed's best BPB, else the best any log prints."""
    bests = [_best(row) for row in rows] if context.record.submission.listed_seeds else []
    if bests and all(bests):
        basis = f"the mean of each listed seed's best logged BPB (seeds {seed_list(rows)})"
        return mean([figure.value for _, figure in bests]), basis, bests
    best = min(printed, key=lambda item: item[1].value)
    return best[1].value, "the best BPB any log prints", [best]


def _best(row) -> tuple | None:
    """(log, figure) of the lowest BPB this seed's own logs print."""
    logs = {id(log): log for log in (row.score_log, row.train_log, *row.extra_logs) if log is not None}
    printed = [(log, figure) for log in logs.values() for figure in log.run.bpb_figures]
    return min(printed, key=lambda item: item[1].value, default=None)


def _near(figure, claimed: float, rounding: float) -> bool:
    return abs(figure.value - claimed) <= rounding + 0.5 * 10.0 ** -figure.decimals + 1e-9


def _per_seed(context) -> list[Finding]:
    findings, rows = [], {row.seed: row for row in context.record.seeds}
    name = context.record.submission.name
    unlogged = [seed for seed in dict.fromkeys(context.record.submission.listed_seeds) if seed not in rows]
    if unlogged:
        findings.append(Finding(ID, WARN, f"{name} reports seed{'s' * (len(unlogged) > 1)} {', '.join(unlogged)} "
                                          "that no log has", (name,)))
    for claim in context.record.submission.claims:
        row = rows.get(claim.seed)
        if row is None or not row.complete:
            continue  # reported above, or by `seeds`
        if claim.val_bpb is not None and not matches_claim(row.final, claim.val_bpb):
            findings.append(_claim_mismatch(row, claim.val_bpb, name))
        elif claim.val_loss is not None and abs(claim.val_loss - row.final.val_loss) > _tolerance(claim.val_loss):
            message = f"seed {claim.seed}: val_loss {claim.val_loss:g} in {name}, final line has {row.final.val_loss:.8f}"
            findings.append(Finding(ID, WARN, message, (name, where(row.score_log, row.final.line))))
        findings += _claimed_bytes(context, row, claim.artifact_bytes)
    return findings


def _tolerance(claimed: float) -> float:
    """5e-5, or half a unit in the last place the claim was written with (2.069 -> 5e-4)."""
    return max(BPB_TOLERANCE, 0.5 * 10.0 ** -printed_decimals(claimed)) + 1e-12


def _claim_mismatch(row, claimed: float, name: str) -> Finding:
    """A per-seed val_bpb that is not the final line: say which line it is, if any."""
    final = row.final
    logs = {id(log): log for log in (row.score_log, row.train_log, *row.extra_logs) if log is not None}
    matching = [(log, line) for log in logs.values() for line in log.run.metric_lines
                if line is not final and matches_claim(line, claimed)]
    message = f"seed {row.seed}: val_bpb {claimed:g} in {name}, final line has {final.val_bpb:.8f}"
    evidence = [name, where(row.score_log, final.line)]
    if matching:
        log, line = matching[-1]
        message += f"; the claim is the {'diagnostic ' * (line.diagnostic and 'diagnostic' not in line.label)}"
        message += f"{line.label} line instead"
        if line.val_bpb < final.val_bpb:
            message += " (the best of several eval passes: selection on validation data, C4)"
        evidence.append(where(log, line.line))
    return Finding(ID, WARN, message, tuple(evidence))


def _claimed_bytes(context, row, claimed: int | None) -> list[Finding]:
    log = model_log(row)
    if claimed is None or log is None:
        return []
    computed, stated = artifact_figures(context.record, row)
    run = log.run
    logged_code = [located.value for located in (run.code_bytes, run.code_bytes_compressed) if located is not None]
    candidates = {computed, stated, *(run.model_bytes.value + code for code in logged_code if run.model_bytes)}
    if claimed in candidates or not candidates - {None}:
        return []
    located = run.total_bytes or run.model_bytes
    name = context.record.submission.name
    message = (f"seed {row.seed}: artifact bytes {claimed:,} in {name} match no byte figure of the log "
               f"(stated total {stated or 'none'}, code on disk + model {computed or 'none'})")
    return [Finding(ID, WARN, message, (name, where(log, located.line if located else None)))]
