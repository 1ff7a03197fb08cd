"""`golf-check` (also `python tools/check_submission.py`): check record folders before the PR is opened.

    golf-check records/track_10min_16mb/2026-04-01_MyRun
    golf-check RECORD_DIR --sota 1.0810 --policy competition --markdown
    golf-check RECORD_DIR --sota auto --sarif golf-check.sarif
    golf-check --changed origin/main --policy competition --sota auto --markdown
    golf-check --staged --sota auto

Each check (see --list-checks, and golf/rules/<id>.py for the rule each enforces) prints one line:
PASS / WARN / FAIL / INFO, the figure it measured, and the file:line it read it from. Then the
per-seed table and a verdict line. Nothing in the folder is imported or executed.

Which folders: the RECORD_DIRs given, or those a change touches under records/<track>/:
--changed BASE_REF (git diff BASE_REF...HEAD, a pull request) or --staged (the next commit, the
pre-commit hook). --sota auto picks the best accepted record of the same track dated before each
folder (golf/sota_auto.py). --sarif FILE also writes the findings as SARIF 2.1.0 for GitHub code
scanning (golf/sarif.py).

Exit codes: 0 every folder passed (warnings do not fail; also when a change touches no record
folder), 1 a check failed in some folder, 2 the tool could not run (bad arguments, a missing or
unreadable folder, a git query that failed, --sota auto outside a challenge checkout).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from golf.checks import POLICIES, TRACKS, RecordResult, check_record, load_sota
from golf.facts import Sota
from golf.findings import InputError
from golf.render import render_json, render_markdown, render_rules, render_text
from golf.rules import REGISTRY

if TYPE_CHECKING:
    from golf.changed import ChangedFolders

AUTO = "auto"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="golf-check", description="Check Parameter Golf record folders before "
                                     "opening the PR.", epilog="Exit codes: 0 passed, 1 a check failed, 2 could not run.")
    parser.add_argument("record_dirs", nargs="*", metavar="RECORD_DIR", help="record folder(s) to check")
    parser.add_argument("--policy", choices=POLICIES, default="strict",
                        help="strict (default): no test-time training of any kind; competition: the challenge's "
                             "rules, where score-first TTT is legal")
    parser.add_argument("--sota", metavar="BPB|RECORD_DIR|auto",
                        help="the record to beat: its val_bpb, its folder (per-seed scores read from its logs), or "
                             "auto: the best accepted record of the same track dated before the folder, in a "
                             "checkout of the challenge")
    parser.add_argument("--track", choices=TRACKS,
                        help="track to check against (default: from the path, else submission.json, else 10min_16mb)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--changed", metavar="BASE_REF",
                       help="check the folders under records/ that `git diff BASE_REF...HEAD` touches (a pull "
                            "request onto BASE_REF); --sota auto then reads the accepted records at BASE_REF")
    which.add_argument("--staged", action="store_true",
                       help="check the folders under records/ with staged changes (the pre-commit hook)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object per folder (JSON Lines)")
    output.add_argument("--markdown", action="store_true", help="print a compliance table for the PR body")
    parser.add_argument("--sarif", metavar="FILE",
                        help="also write the WARN and FAIL findings as SARIF 2.1.0 for GitHub code scanning")
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
    if args.record_dirs and (args.changed or args.staged):
        parser.error("give RECORD_DIRs or --changed/--staged, not both")
    if not args.record_dirs and not (args.changed or args.staged):
        parser.error("give at least one RECORD_DIR, or --changed BASE_REF, or --staged")
    try:
        folders = folders_to_check(args)
        sota = load_sota(args.sota) if args.sota not in (None, AUTO) else None
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    results, errors = check_folders(folders, args, sota)
    if args.sarif and not write_sarif_file(args, results, errors):
        return 2
    return 2 if errors else 1 if any(result.verdict == "fail" for result in results) else 0


def folders_to_check(args) -> list[str]:
    """The RECORD_DIRs, or the record folders --changed / --staged find (paths shown from the current folder)."""
    if args.record_dirs:
        return list(args.record_dirs)
    from golf.changed import changed_record_folders, staged_record_folders  # git only when asked: a plain check starts faster
    found = changed_record_folders(args.changed) if args.changed else staged_record_folders()
    say_what_changed(found, args)
    return [os.path.relpath(folder) for folder in found.existing]


def say_what_changed(found: ChangedFolders, args) -> None:
    change = f"between {args.changed} and HEAD" if args.changed else "in the staged changes"
    for folder in found.deleted:
        print(f"note: {folder} was deleted {change}: skipped", file=sys.stderr)
    if not found.existing:
        message = f"No record folder under records/ was added or changed {change}: nothing to check."
        print(message, file=sys.stderr if args.json else sys.stdout)


def check_folders(folders: list[str], args, sota: Sota | None) -> tuple[list[RecordResult], list[str]]:
    """Check and print each folder; a folder that cannot be checked is one `error:` line, and the rest go on."""
    render = render_json if args.json else render_markdown if args.markdown else render_text
    results, errors = [], []
    for folder in folders:
        try:
            result = check_one(folder, args, sota)
        except InputError as error:
            print(f"error: {error}", file=sys.stderr)
            errors.append(f"{folder}: {error}")
            continue
        results.append(result)
        sys.stdout.write(render(result) + ("\n" if args.json else ""))
        if not args.json and len(folders) > 1:
            sys.stdout.write("\n")
    return results, errors


def check_one(folder: str, args, sota: Sota | None) -> RecordResult:
    if args.sota != AUTO:
        return check_record(folder, policy=args.policy, sota=sota, track=args.track)
    from golf.sota_auto import pick_sota
    pick = pick_sota(folder, args.changed or "HEAD")
    result = check_record(folder, policy=args.policy, sota=pick.sota, track=args.track)
    result.sota_pick = pick.to_json()
    return result


def write_sarif_file(args, results: list[RecordResult], errors: list[str]) -> bool:
    from golf.git import work_tree_root
    from golf.sarif import sarif_log, write_sarif
    picks = {result.record: result.sota_pick for result in results if result.sota_pick}
    root = work_tree_root(".") or Path.cwd()
    try:
        write_sarif(args.sarif, sarif_log(results, root, args.policy, picks, errors))
    except OSError as error:
        print(f"error: cannot write --sarif {args.sarif}: {error.strerror or error}", file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
