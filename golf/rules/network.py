"""Network access from the script (RULES E16, README FAQ: the artifact must be self-contained).

Catches calls to requests, urllib.request, http.client, sockets, huggingface_hub
(`snapshot_download`, `hf_hub_download`), `datasets.load_dataset`, `torch.hub`, and
subprocess/os.system running curl, wget or `git clone`. A reachable call fails. A call
guarded by `if not os.path.exists(...)` is the usual fetch-if-missing setup step and warns:
make sure it can never run during evaluation. Code that is never called is INFO.
"""
from __future__ import annotations

import ast

from golf.analysis import Hit, NETWORK_MODULES, Unanalysable, base_name, verdict
from golf.findings import FAIL, WARN, Finding
from golf.rules.severity import both_policies

ID = "network"
SEVERITY = both_policies(fail="a reachable network call", warn="a download guarded by a missing-file test")
CITES = "RULES.md §4 E16"


def check(context) -> list[Finding]:
    analysis = context.analysis
    if isinstance(analysis, Unanalysable):
        return [analysis.finding(ID)]
    hits = []
    for event in analysis.kind("NET"):
        setup = any(_checks_missing_file(test, positive) for test, positive, _ in event.guards)
        if setup:
            hits.append(Hit(WARN, f"{event.what} runs only when a file is missing (a setup download); "
                                  "it must never run during evaluation", (event,)))
        else:
            hits.append(Hit(FAIL, f"network call {event.what} in {event.func.name}()", (event,)))
    clean = "no network calls"
    imported = sorted({m for m in analysis.program.aliases.values() if m.startswith(NETWORK_MODULES)})
    if imported and not hits:
        clean = f"no network calls ({', '.join(imported)} imported but never called)"
    return [verdict(analysis, ID, hits, clean)]


def _checks_missing_file(test: ast.expr, positive: bool) -> bool:
    checks = any(isinstance(n, ast.Call) and base_name(n.func) in {"exists", "isfile", "isdir", "is_file", "is_dir"}
                 for n in ast.walk(test))
    negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    return checks and (negated == positive)
