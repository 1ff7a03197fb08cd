"""Severity tables for the rule modules: what FAILs and what WARNs under each policy."""
from __future__ import annotations


def both_policies(fail: str, warn: str) -> dict[str, dict[str, str]]:
    """The same severity under `competition` and `strict` (every rule but `ttt`)."""
    return {"competition": {"FAIL": fail, "WARN": warn}, "strict": {"FAIL": fail, "WARN": warn}}
