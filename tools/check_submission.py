"""Check record folders the way a careful maintainer would, before the PR is opened.

    python tools/check_submission.py records/track_10min_16mb/2026-04-01_MyRun
    python tools/check_submission.py RECORD_DIR --sota 1.0810 --policy competition --markdown
    python tools/check_submission.py RECORD_DIR --sota records/track_10min_16mb/<previous> --json

Each check (see --list-checks, and golf/rules/<id>.py for the rule each enforces) prints one line:
PASS / WARN / FAIL / INFO, the figure it measured, and the file:line it read it from. Then
the per-seed table and a verdict line. Nothing in the folder is imported or executed.

Exit codes: 0 every folder passed (warnings do not fail), 1 a check failed in some folder,
2 the tool could not run (bad arguments, a missing or unreadable folder).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golf.checks import POLICIES, TRACKS, check_record, load_sota  # noqa: E402
from golf.findings import InputError  # noqa: E402
from golf.render import render_json, render_markdown, render_rules, render_text  # noqa: E402
from golf.rules import REGISTRY  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Check Parameter Golf record folders before opening the PR.",
                                     epilog="Exit codes: 0 passed, 1 a check failed, 2 could not run.")
    parser.add_argument("record_dirs", nargs="*", metavar="RECORD_DIR", help="record folder(s) to check")
    parser.add_argument("--policy", choices=POLICIES, default="strict",
                        help="strict (default): no test-time training of any kind; competition: the challenge's "
                             "rules, where score-first TTT is legal")
    parser.add_argument("--sota", metavar="BPB|RECORD_DIR",
                        help="the record to beat: its val_bpb, or its folder (per-seed scores read from its logs)")
    parser.add_argument("--track", choices=TRACKS,
                        help="track to check against (default: from the path, else submission.json, else 10min_16mb)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object per folder (JSON Lines)")
    output.add_argument("--markdown", action="store_true", help="print a compliance table for the PR body")
    parser.add_argument("--list-checks", action="store_true",
                        help="list the checks, what FAILs and what WARNs under each policy, and the rule cited, then exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # file names from the folder may not be valid UTF-8
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    if args.list_checks:
        sys.stdout.write(render_rules(REGISTRY))
        return 0
    if not args.record_dirs:
        parser.error("give at least one RECORD_DIR")
    render = render_json if args.json else render_markdown if args.markdown else render_text
    try:
        sota = load_sota(args.sota) if args.sota is not None else None
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    exit_code = 0
    for folder in args.record_dirs:
        try:
            result = check_record(folder, policy=args.policy, sota=sota, track=args.track)
        except InputError as error:
            print(f"error: {error}", file=sys.stderr)
            exit_code = 2
            continue
        sys.stdout.write(render(result) + ("\n" if args.json else ""))
        if not args.json and len(args.record_dirs) > 1:
            sys.stdout.write("\n")
        if result.verdict == "fail" and exit_code == 0:
            exit_code = 1
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
