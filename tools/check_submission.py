"""Check record folders the way a careful maintainer would, before the PR is opened.

    python tools/check_submission.py records/track_10min_16mb/2026-04-01_MyRun
    python tools/check_submission.py RECORD_DIR --sota 1.0810 --policy competition --markdown
    python tools/check_submission.py RECORD_DIR --sota auto --sarif golf-check.sarif
    python tools/check_submission.py --changed origin/main --policy competition --sota auto

The same command as `golf-check` after `pip install .`; it lives in golf/check_cli.py (see its
docstring and --help for the options). Nothing in the folder is imported or executed.

Exit codes: 0 every folder passed (warnings do not fail), 1 a check failed in some folder,
2 the tool could not run (bad arguments, a missing or unreadable folder).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golf.check_cli import build_parser, main  # noqa: E402,F401 - build_parser for callers that read the options

if __name__ == "__main__":
    sys.exit(main())
