#!/usr/bin/env python3
"""Fill a record folder's submission.json and README results table from its logs.

Every number comes from a log line: per-seed val_loss/val_bpb (the final score line), artifact
and code bytes, steps, train and eval times, hardware and PyTorch version; the mean and std are
computed from those. The compliance flags and significance figures come from the submission
checker's result (tools/check_submission.py), which is run on the written folder. The root
submission.json (the repo's current candidate) gets the same content plus the record's path.

Exit codes: 0 written and the checker passes, 1 written but a check failed, 2 bad input.
Example: python tools/make_submission.py records/track_10min_16mb/2026-04-30_EMA --sota 1.0810
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golf.checks import POLICIES, check_record, load_sota  # noqa: E402
from golf.findings import FAIL, InputError  # noqa: E402
from golf.record import load_record  # noqa: E402
from golf.smoke import REPO_ROOT  # noqa: E402
from golf.submission import (  # noqa: E402
    build_submission, fill_readme, read_json, record_path, results_markdown, seed_results, write_json,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("record_dir", type=Path, metavar="RECORD_DIR", help="record folder with train_seed<N>.log files")
    parser.add_argument("--sota", metavar="BPB|RECORD_DIR", help="record to beat: its val_bpb, or its folder (per-seed values)")
    parser.add_argument("--author", help="author name for submission.json (kept from the draft when omitted)")
    parser.add_argument("--github-id", help="GitHub id for submission.json (kept from the draft when omitted)")
    parser.add_argument("--policy", choices=POLICIES, default="strict", help="checker policy for the compliance flags (default strict)")
    parser.add_argument("--root-json", type=Path, default=REPO_ROOT / "submission.json",
                        help="the repo's candidate file to update as well (default: the root submission.json)")
    args = parser.parse_args(argv)
    try:
        result = make_submission(args.record_dir, args.sota, args.author, args.github_id, args.policy, args.root_json)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    counts = result.counts()
    print(f"wrote {args.record_dir / 'submission.json'}, {args.record_dir / 'README.md'} and {args.root_json}")
    print(f"checker ({args.policy}): {result.verdict} ({counts['PASS']} passed, {counts['WARN']} warnings, {counts['FAIL']} failed)")
    for finding in result.findings:
        if finding.status == FAIL:
            print(f"FAIL {finding.id}: {finding.message}")
    return 0 if result.verdict == "pass" else 1


def make_submission(folder: Path, sota, author, github_id, policy: str, root_json: Path):
    """Write the results, check the folder, then write the checker's flags; return its result."""
    json_path, readme_path = folder / "submission.json", folder / "README.md"
    if not folder.is_dir():
        raise InputError(f"{folder}: no such record folder; create it with tools/make_record.py")
    sota = load_sota(sota) if sota is not None else None  # a bad --sota stops before anything is written
    previous = read_json(json_path)
    data = build_submission(load_record(folder), previous, None, author, github_id)
    write_json(json_path, data)
    result = check_record(folder, policy=policy, sota=sota, track=data.get("track"))
    data = build_submission(load_record(folder), previous, result, author, github_id)
    write_json(json_path, data)
    readme = readme_path.read_text(encoding="utf-8") if readme_path.is_file() else f"# {data.get('name')}\n"
    readme_path.write_text(fill_readme(readme, results_markdown(seed_results(load_record(folder)), data)), encoding="utf-8")
    write_json(root_json, {"record": record_path(folder), **data})
    return result


if __name__ == "__main__":
    sys.exit(main())
