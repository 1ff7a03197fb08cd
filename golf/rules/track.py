"""Which track the folder is checked against, and how that was decided.

The track decides the limits: `10min_16mb` (the leaderboard) enforces 600 s of training, 600 s
of evaluation, 8xH100 and 3 seeds; `non_record_16mb` keeps only the 16,000,000-byte cap
(RULES.md §0). Taken from --track, else a `track_*` path component, else the submission.json
`track` field, else the record track by default. On the non-record track the README must say
the run is non-record or unlimited-compute (README "Non-record Submissions"): WARN otherwise.
Example: `INFO track 10min_16mb (from the path); policy competition`.
"""
from __future__ import annotations

import re

from golf.findings import INFO, WARN, Finding
from golf.rules.severity import both_policies

ID = "track"
SEVERITY = both_policies(fail="never", warn="non-record README does not say non-record or unlimited compute")
CITES = "RULES.md §0"
NON_RECORD_README = re.compile(r"non[-_ ]?record|unlimited", re.IGNORECASE)


def check(context) -> list[Finding]:
    findings = [Finding(ID, INFO, f"track {context.track} ({context.track_source}); policy {context.policy}")]
    readme = context.record.files.readme
    if not context.record_track and readme and not NON_RECORD_README.search(context.record.readme_text):
        findings.append(Finding(ID, WARN, f"{readme} does not say the run is non-record or unlimited-compute "
                                          "(README \"Non-record Submissions\")", (readme,)))
    return findings
