"""N-gram or cache lookup keyed with the token being predicted (RULES E6).

Catches reads such as `counts[ctx_hash ^ (tgt * PRIME)]` or `pair_c.gather(1, gold)` from an
unnormalised count table: p(target) without a distribution over the vocabulary (C1, C2;
valerio-oai on PR #982). Writes keyed with the target after scoring (building counts), causal
prefix-only tilts (E7) and learned BigramHash/SmearGate embeddings over input tokens (E8) pass,
and so does a training-loss weight read from bigram counts of the training batch: a lookup
keyed with training tokens only is not judged.
"""
from __future__ import annotations

from golf.analysis import NGRAM_MARKERS, TRAIN, VAL, Hit, Unanalysable, verdict
from golf.findings import FAIL, Finding

ID = "ngram_target_leak"
SEVERITY = {
    "competition": {"FAIL": "a live table lookup keyed with the predicted token", "WARN": "never"},
    "strict": {"FAIL": "a live table lookup keyed with the predicted token", "WARN": "never"},
}
CITES = "RULES.md §4 E6"


def check(context) -> list[Finding]:
    analysis = context.analysis
    if isinstance(analysis, Unanalysable):
        return [analysis.finding(ID)]
    hits = [Hit(FAIL, f"lookup in {e.what} is keyed with the target token (E6)", (e,)) for e in analysis.kind("LEAK")
            if e.flags & VAL or not e.flags & TRAIN]
    return [verdict(analysis, ID, hits, "no table lookup keyed with the predicted token", NGRAM_MARKERS)]
