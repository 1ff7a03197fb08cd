"""N-gram or cache lookup keyed with the token being predicted (RULES E6).

Catches reads such as `counts[ctx_hash ^ (tgt * PRIME)]` or `pair_c.gather(1, gold)` from an
unnormalised count table: p(target) without a distribution over the vocabulary (C1, C2;
valerio-oai on PR #982). Writes keyed with the target after scoring (building counts), causal
prefix-only tilts (E7) and learned BigramHash/SmearGate embeddings over input tokens (E8) pass,
and so does a training-loss weight read from bigram counts of the training batch: a lookup
keyed with training tokens only is not judged.

C-family helper sources the folder's Python code loads (an n-gram kernel built with ctypes or
cpp_extension) are read as text too (golf.helper_sources): a kernel whose hint for position p is
gated by the token at p itself (`within_hint(is_boundary[tokens[p]], ...)`, the non-causal tilt
kernel its author withdrew on PR #1437) fails; reading that token for the table update after the
hint (`within_update(tokens[p], ...)`) passes. Whether the helper's code path is switched on is
not judged there.
"""
from __future__ import annotations

from golf.analysis import TRAIN, VAL, Hit, Unanalysable, verdict
from golf.findings import FAIL, Finding
from golf.helper_sources import leaks_in_helpers
from golf.rules.severity import both_policies

ID = "ngram_target_leak"
SEVERITY = both_policies(
    fail="a live table lookup keyed with the predicted token, or a loaded helper kernel whose hint reads it",
    warn="never",
)
CITES = "RULES.md §4 E6"


def check(context) -> list[Finding]:
    helper_leaks = leaks_in_helpers(context.record)
    if helper_leaks:
        name, line, function, message = helper_leaks[0]
        more = f"; {len(helper_leaks) - 1} more place(s)" if len(helper_leaks) > 1 else ""
        return [Finding(ID, FAIL, f"{name}: in {function}(), {message} (C1){more}",
                        tuple(f"{name}:{line}" for name, line, _, _ in helper_leaks[:12]))]
    analysis = context.analysis
    if isinstance(analysis, Unanalysable):
        return [analysis.finding(ID)]
    hits = [Hit(FAIL, f"lookup in {e.what} is keyed with the target token (E6)", (e,)) for e in analysis.kind("LEAK")
            if e.flags & VAL or not e.flags & TRAIN]
    return [verdict(analysis, ID, hits, "no table lookup keyed with the predicted token")]
