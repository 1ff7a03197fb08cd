"""The checker's rules, one module per check id, and the registry that lists them in order.

Every module `golf/rules/<id>.py` has a docstring that is its documentation (first line a
one-line summary), `ID`, `SEVERITY = {policy: {"FAIL": when, "WARN": when}}` (written with
golf.rules.severity.both_policies where the policies agree), `CITES` (the
RULES.md section it follows) and `check(context) -> list[Finding]`, where `context` is a
golf.facts.Context. RULES is the one list: golf.checks runs it in this order, and
`tools/check_submission.py --list-checks` renders it (summaries and the severity table).
COMPLIANCE names the evaluation-legality rules among them (make_submission.py's flags, the
corpus scorer).

Adding a rule: write the module, add it to RULES, add a failing and a passing fixture row to
its tests.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from types import ModuleType

from golf.rules import (artifact_size, bpb_bytes, code, cross_document_leak, eval_time, files, final_line, hardware,
                        network, ngram_target_leak, normalization, pre_eval_ttt, provenance, rescoring, seeds,
                        significance, slot, submission_json, track, train_data_in_eval, train_time, ttt,
                        val_in_artifact, val_in_training, val_train_overlap)

# Evaluation legality (RULES.md §4), judged on golf.analysis's model of the script.
COMPLIANCE: tuple[ModuleType, ...] = (
    ttt, pre_eval_ttt, rescoring, ngram_target_leak, normalization, slot, cross_document_leak,
    val_in_training, val_train_overlap, val_in_artifact, train_data_in_eval, network,
)
RULES: tuple[ModuleType, ...] = (
    track, files, submission_json, code, provenance, artifact_size, train_time, eval_time, seeds, final_line,
    significance, bpb_bytes, hardware, *COMPLIANCE,
)


@dataclass(frozen=True)
class Rule:
    """One registry row, read from its module."""

    id: str
    module: ModuleType
    summary: str
    severity: dict[str, dict[str, str]]
    cites: str

    @property
    def documentation(self) -> str:
        return inspect.getdoc(self.module) or ""


def _row(module: ModuleType) -> Rule:
    summary = (module.__doc__ or "").strip().split("\n", 1)[0]
    return Rule(module.ID, module, summary, module.SEVERITY, module.CITES)


REGISTRY: tuple[Rule, ...] = tuple(_row(module) for module in RULES)
IDS: tuple[str, ...] = tuple(rule.id for rule in REGISTRY)
COMPLIANCE_IDS: frozenset[str] = frozenset(module.ID for module in COMPLIANCE)
