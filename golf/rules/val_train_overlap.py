"""Validation/training overlap from data preparation: scored documents were also trained on (RULES E15).

Read from the logs and the README, since the script is usually innocent:
- a training dataset named or linked as validation (`dataset:fineweb10B_sp1024_valonly`,
  `ln -s .../fineweb_val_000000.bin .../fineweb_train_000000.bin`);
- a locally prepared CaseOps dataset: the full 47,851,520-token CaseOps validation set scored
  with more than the 80 training shards of the published export (prepare_caseops_data.py's
  default --val-docs=10000 leaves 80 % of the validation documents in training, issue #2127),
  or the 10,000-document validation split itself (about 9.66 M tokens) scored.
PR #2146 checked `train_shards: 80` and `val_tokens: 47851520`. Example that fails:
`train_shards: 1499` with `val_tokens: 47851520`.
"""
from __future__ import annotations

import re

from golf.findings import FAIL, PASS, Finding
from golf.rules.severity import both_policies

ID = "val_train_overlap"
SEVERITY = both_policies(
    fail="training data named, linked or prepared so that it holds validation documents",
    warn="never",
)
CITES = "RULES.md §4 E15, §5"
CASEOPS_VAL_TOKENS = 47_851_520
CASEOPS_TRAIN_SHARDS = 80
TEN_K_DOC_VAL_TOKENS = 9_661_440
TOLERANCE = 0.005
DATASET = re.compile(r"dataset:([\w.\-]+)")
NAMED_VAL = re.compile(r"(?<![a-z])val(?:only|id|idation)?(?![a-z])", re.IGNORECASE)
VAL_LINKED_AS_TRAIN = re.compile(r"(?m)^.*\b(?:ln|cp|mv|symlink|copy\w*)\b.*fineweb_val_\S*.*fineweb_train_.*$")
SHARDS = re.compile(r"train_shards\s*[:=]\s*(\d+)")
VAL_TOKENS = re.compile(r"val_tokens\s*[:=]\s*(\d+)")


def check(context) -> list[Finding]:
    findings = [finding for log in context.record.logs for finding in _log_findings(log.name, log.text)]
    readme = context.record.readme_text or ""
    link = VAL_LINKED_AS_TRAIN.search(readme)
    if link:
        findings.append(Finding(ID, FAIL, f"the README links a validation shard under a training name: "
                                          f"{link.group(0).strip()[:120]}",
                                (f"{context.record.files.readme}:{_line(readme, link.start())}",)))
    return findings[:1] or [Finding(ID, PASS, "no sign of validation documents in the training data")]


def _log_findings(name: str, text: str) -> list[Finding]:
    found = []
    dataset = next((m for m in DATASET.finditer(text) if NAMED_VAL.search(m.group(1))), None)
    if dataset:
        found.append(Finding(ID, FAIL, f"the training loader reads dataset {dataset.group(1)}, named as validation "
                                       "data", (f"{name}:{_line(text, dataset.start())}",)))
    shards, tokens = SHARDS.search(text), VAL_TOKENS.search(text)
    if shards and tokens:
        count, scored = int(shards.group(1)), int(tokens.group(1))
        evidence = tuple(f"{name}:{_line(text, m.start())}" for m in (shards, tokens))
        if _near(scored, CASEOPS_VAL_TOKENS) and count > CASEOPS_TRAIN_SHARDS:
            found.append(Finding(ID, FAIL, f"train_shards {count} with val_tokens {scored}: more training shards than "
                                           f"the {CASEOPS_TRAIN_SHARDS} of the published CaseOps export, so the data "
                                           "was prepared locally, where the default 10,000-document validation "
                                           "split leaves most scored documents in training (issue #2127)", evidence))
        elif _near(scored, TEN_K_DOC_VAL_TOKENS):
            found.append(Finding(ID, FAIL, f"val_tokens {scored}: the 10,000-document CaseOps validation split, whose "
                                           "other canonical validation documents are in its training shards", evidence))
    return found


def _near(value: int, target: int) -> bool:
    return abs(value - target) <= TOLERANCE * target


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1
