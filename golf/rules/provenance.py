"""With a PATCHES file, its base plus its patches must rebuild train_gpt.py byte for byte.

A record made by tools/make_record.py says which patches it stacks (golf.patches); a script
edited by hand afterwards no longer matches what the README and PATCHES claim. This is the
harness's own promise, not a challenge rule: the challenge asks only that the script in the
folder is the one that ran (RULES.md §7, "Runs must reproduce").
FAIL on a mismatch or a patch that no longer applies, WARN when an input cannot be found,
INFO without a PATCHES file.
Example: `FAIL train_gpt.py differs from base + 3 patches at line 212`.
"""
from __future__ import annotations

from golf.findings import Finding
from golf.patches import check_provenance
from golf.rules.severity import both_policies

ID = "provenance"
SEVERITY = both_policies(fail="PATCHES does not rebuild train_gpt.py", warn="a PATCHES input cannot be found")
CITES = "RULES.md §7"


def check(context) -> list[Finding]:
    return [check_provenance(context.record.root)]
