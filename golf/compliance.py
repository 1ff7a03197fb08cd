"""Bridge from golf.checks to the compliance rule modules, until the registry in golf.rules lists them.

`check_compliance(source, logs, policy)` analyses one decoded script (golf.analysis) and runs
every compliance rule module on it; RULES names them with their documentation.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace

from golf.analysis import POLICIES, analyse_source
from golf.findings import Finding
from golf.rules import (network, ngram_target_leak, pre_eval_ttt, rescoring, slot, train_data_in_eval, ttt,
                        val_in_artifact, val_in_training)
from golf.source import DecodedSource

__all__ = ["POLICIES", "RULES", "check_compliance"]


@dataclass(frozen=True)
class Rule:
    id: str
    module: ModuleType
    doc: str


RULES: tuple[Rule, ...] = tuple(
    Rule(module.ID, module, inspect.getdoc(module) or "")
    for module in (ttt, pre_eval_ttt, rescoring, ngram_target_leak, slot, val_in_training, val_in_artifact,
                   network, train_data_in_eval)
)


def check_compliance(source: DecodedSource, logs: dict[str, str] | None = None, policy: str = "strict",
                     source_name: str = "train_gpt.py") -> list[Finding]:
    """One Finding per rule in RULES, judged on the decoded source and on what the logs show ran."""
    context = SimpleNamespace(analysis=analyse_source(source, logs, policy, source_name), policy=policy)
    return [finding for rule in RULES for finding in rule.module.check(context)]
