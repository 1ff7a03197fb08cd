"""The value every check returns, and the error a tool turns into exit code 2."""
from __future__ import annotations

from dataclasses import dataclass, field

PASS = "PASS"
WARN = "WARN"
FAIL = "FAIL"
INFO = "INFO"
STATUSES = (PASS, WARN, FAIL, INFO)


@dataclass(frozen=True)
class Finding:
    """One check's verdict: a stable id, a status word, the measured figure, and where it was seen.

    Evidence entries are "file:line" strings (or just "file") relative to the record folder.
    """

    id: str
    status: str
    message: str
    evidence: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return {"id": self.id, "status": self.status, "message": self.message, "evidence": list(self.evidence)}


class InputError(Exception):
    """Expected failure on bad input (missing folder, unreadable file): one line, exit code 2."""
