"""The validation bytes each final line implies are the canonical 151.08 M (a broken byte table is not).

implied = val_tokens / (ln 2 · val_bpb / val_loss) must be within 0.1 % of the canonical
FineWeb validation byte count, which every honest tokenisation lands on (RULES.md §5). Far off
(157 M, 176 M) points to a byte-table bug: `+1` built into base_bytes, byte tokens sized 3 or
6, a vocabulary without `▁`; PR #1184 was removed from the leaderboard for one. Far below, only
part of the validation set was scored. FAIL on the
record track, WARN on the non-record track; the launch-day validation export (63,779,840
tokens) is a WARN; INFO when the log does not show the token count.
Example: `FAIL seed 42: 62,021,632 tokens imply 176.30 M validation bytes (+16.69% from 151.08 M): ...`.
"""
from __future__ import annotations

from golf import stats
from golf.facts import plural, where
from golf.findings import FAIL, INFO, PASS, WARN, Finding
from golf.rules.severity import both_policies

ID = "bpb_bytes"
SEVERITY = both_policies(
    fail="implied validation bytes off 151.08 M by > 0.1 % (record track)",
    warn="the same on the non-record track; the launch-day validation export",
)
CITES = "RULES.md §5"
LAUNCH_DAY_VAL_TOKENS = 63_779_840      # older validation export, about 155.8 M bytes


def check(context) -> list[Finding]:
    findings, implied_all, missing = [], [], []
    for row in context.scored:
        log = next((log for log in (row.score_log, row.train_log) if log and log.run.val_tokens), None)
        if log is None:
            missing.append(row.seed)
            continue
        tokens = int(log.run.val_tokens.value)
        implied = stats.implied_val_bytes(tokens, row.final.val_loss, row.final.val_bpb)
        implied_all.append(implied)
        if not stats.val_bytes_plausible(implied):
            findings.append(_implausible(context, row, log, tokens, implied))
    if missing:
        findings.append(Finding(ID, INFO, f"not checked for seed {', '.join(missing)}: the log does not show "
                                          "val_tokens"))
    if implied_all and not any(finding.status in (FAIL, WARN) for finding in findings):
        low, high = f"{min(implied_all) / 1e6:.2f}", f"{max(implied_all) / 1e6:.2f}"
        span = low if low == high else f"{low}–{high}"
        message = (f"implied validation bytes {span} M for {plural(len(implied_all), 'seed')}, within 0.1 % of "
                   f"{stats.CANONICAL_VAL_BYTES / 1e6:.2f} M")
        findings.insert(0, Finding(ID, PASS, message))
    return findings


def _implausible(context, row, log, tokens: int, implied: float) -> Finding:
    canonical = stats.CANONICAL_VAL_BYTES
    evidence = (where(log, log.run.val_tokens.line), where(row.score_log, row.final.line))
    figure = (f"seed {row.seed}: {tokens:,} tokens imply {implied / 1e6:.2f} M validation bytes "
              f"({implied / canonical - 1:+.2%} from {canonical / 1e6:.2f} M)")
    if tokens == LAUNCH_DAY_VAL_TOKENS:
        return Finding(ID, WARN, f"{figure}: the launch-day validation export", evidence)
    why = "the BPB byte table overcounts" if implied > canonical else "a subset was scored, or the byte table undercounts"
    return Finding(ID, FAIL if context.record_track else WARN, f"{figure}: {why} (RULES.md §5)", evidence)
