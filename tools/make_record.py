#!/usr/bin/env python3
"""Create records/track_<track>/<YYYY-MM-DD>_<NAME>/ from the trainer and a patch series.

The folder gets the materialised train_gpt.py, a PATCHES file (base and patch sha256, so
tools/check_submission.py can re-apply them), a README.md skeleton, a requirements.txt when the
script imports optional packages, and a submission.json draft with null results. An existing
folder is never touched.

Exit codes: 0 created, 2 bad input (unknown patch, a hunk that does not apply, folder exists).
Example: python tools/make_record.py EMA_Int6 --patch ema_export --patch int6_zstd_export
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golf.findings import InputError  # noqa: E402
from golf.patches import PATCHES_DIR, read_stacks, resolve_patch, with_requirements  # noqa: E402
from golf.smoke import REPO_ROOT, TRAINER  # noqa: E402
from golf.submission import TRACKS, create_record  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", metavar="NAME", help="short description for the folder name, no spaces (e.g. EMA_Int6)")
    parser.add_argument("--patch", action="append", default=[], metavar="P",
                        help="a patch to apply, in order: a path, a file in patches/ or its bare name (repeatable); "
                             "the patches it requires are applied before it")
    parser.add_argument("--stack", metavar="S", help="apply a listed stack from patches/stacks.txt (before any --patch)")
    parser.add_argument("--track", choices=TRACKS, default="10min_16mb", help="record track (default 10min_16mb)")
    parser.add_argument("--base", type=Path, default=TRAINER, help="the trainer the patches apply to (default: the root train_gpt.py)")
    parser.add_argument("--records-root", type=Path, default=REPO_ROOT / "records", help="where track_* folders live (default records/)")
    parser.add_argument("--date", help="folder date YYYY-MM-DD (default today)")
    args = parser.parse_args(argv)
    try:
        series = with_requirements([resolve_patch(name) for name in _stack(args.stack) + args.patch])
        folder = create_record(args.name, series, args.track, args.base, args.records_root, args.date)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    names = [path.stem for path in series]
    print(f"created {folder} ({len(names)} patch(es): {', '.join(names) or 'none'})")
    print(f"next: python tools/run_seeds.py {folder} --seeds 42 314 999 --nproc 8")
    return 0


def _stack(name: str | None) -> list[str]:
    if name is None:
        return []
    stacks = read_stacks()
    if name not in stacks:
        raise InputError(f"--stack {name!r} is not in {PATCHES_DIR / 'stacks.txt'}; listed: {', '.join(stacks)}")
    return stacks[name]


if __name__ == "__main__":
    sys.exit(main())
