"""The logs' GPU listing (nvidia-smi) shows 8×H100 SXM on the record track.

README: records are timed on 8xH100 SXM, not PCIe (nvidia-smi names SXM parts "H100 80GB
HBM3"), RULES.md §7. Any other listing is a WARN naming the logs: a reviewer asks, but no
record was rejected on the listing alone. Without a listing, a submission.json `hardware` field
that does not say 8xH100 is a WARN, else INFO. The non-record track allows any GPU (INFO).
Example: `WARN 8× NVIDIA H100 PCIe in 3 logs; the record track runs on 8×H100 SXM`.
"""
from __future__ import annotations

import re

from golf.facts import plural, where
from golf.findings import INFO, PASS, WARN, Finding
from golf.rules.severity import both_policies

ID = "hardware"
SEVERITY = both_policies(fail="never", warn="record track: GPUs other than 8×H100 SXM listed or declared")
CITES = "RULES.md §7"
RECORD_HARDWARE = re.compile(r"8\s*[x×]\s*(?:NVIDIA\s*)?H100(?!\s*PCIe)", re.IGNORECASE)
NOT_SXM = re.compile(r"PCIe|NVL", re.IGNORECASE)


def check(context) -> list[Finding]:
    groups: dict[str, list] = {}
    for log in context.record.logs:
        gpus = [str(gpu.value) for gpu in log.run.gpu_lines]
        if gpus:
            groups.setdefault(f"{len(gpus)}× {' + '.join(sorted(set(gpus)))}", []).append(log)
    if not groups:
        return [_declared_only(context)]
    findings = []
    for described, logs in groups.items():
        evidence = tuple(where(log, log.run.gpu_lines[0].line) for log in logs)
        gpus = [str(gpu.value) for gpu in logs[0].run.gpu_lines]
        figure = f"{described} in {plural(len(logs), 'log')}"
        if not context.record_track:
            findings.append(Finding(ID, INFO, f"{figure} (non-record track: any hardware)", evidence))
        elif len(gpus) == 8 and all("H100" in gpu and not NOT_SXM.search(gpu) for gpu in gpus):
            findings.append(Finding(ID, PASS, figure, evidence))
        else:
            findings.append(Finding(ID, WARN, f"{figure}; the record track runs on 8×H100 SXM", evidence))
    return findings


def _declared_only(context) -> Finding:
    declared = (context.record.submission.data or {}).get("hardware")
    if context.record_track and isinstance(declared, str) and not RECORD_HARDWARE.search(declared):
        return Finding(ID, WARN, f"no GPU listing in the logs, and submission.json says hardware {declared!r}, "
                                 "not 8xH100 SXM", (context.record.submission.name,))
    return Finding(ID, INFO, "no GPU listing in the logs" + (f"; submission.json says {declared!r}" if declared else ""))
