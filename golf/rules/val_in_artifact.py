"""Validation data serialised into the artifact (the "paid prefix", RULES E12).

Catches validation tokens, or tables and statistics computed from them, written into the
saved object: `register_buffer(..., val_tokens[:n])`, `state_dict["ngram"] = counts(val)`,
`torch.save`/`compress` of such an object. Count tables built from *training* data and paid
for in the 16 MB are legal (issue #677) and pass.
"""
from __future__ import annotations

from golf.analysis import Hit, Unanalysable, verdict
from golf.findings import FAIL, Finding
from golf.rules.severity import both_policies

ID = "val_in_artifact"
SEVERITY = both_policies(fail="validation data or statistics serialised into the artifact", warn="never")
CITES = "RULES.md §4 E12"


def check(context) -> list[Finding]:
    analysis = context.analysis
    if isinstance(analysis, Unanalysable):
        return [analysis.finding(ID)]
    hits = [Hit(FAIL, f"validation-derived data reaches the artifact through {e.what}", (e,))
            for e in analysis.kind("SINK")]
    return [verdict(analysis, ID, hits, "no validation data is serialised into the artifact")]
