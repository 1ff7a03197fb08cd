"""Score tools/check_submission.py against real submissions labelled with what the maintainers decided.

    python tools/score_checker.py ../shared/corpus                    # policy competition, one folder at a time
    python tools/score_checker.py ../shared/corpus --policy strict -v  # every FAIL finding under its row
    python tools/score_checker.py CORPUS --json                        # one JSON object: rows and totals

CORPUS holds labels.json (`{"source": ..., "cases": [...]}`, see golf/scoring.py for the fields and
what agreement means per label). The checker runs once per folder in its own process, as a user
runs it, so the seconds are wall time including interpreter start; keep --jobs 1 for timings
that are not inflated by contention. Progress goes to stderr.

Exit codes: 0 every case agrees, 1 some case disagrees, 2 bad input (missing corpus, unreadable labels).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golf.findings import InputError  # noqa: E402
from golf.scoring import CHECKER, DEFAULT_TIMEOUT_S, POLICIES, Row, score_corpus, totals  # noqa: E402

TOTAL_LINES = (("accepted", "accepted judged as the maintainers did"),
               ("illegal", "illegal flagged with a right rule"),
               ("legal", "legal clean (no compliance FAIL)"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Score the submission checker against a labelled corpus.",
                                     epilog="Exit codes: 0 every case agrees, 1 some case disagrees, 2 bad input.")
    parser.add_argument("corpus", type=Path, metavar="CORPUS_DIR", help="folder holding labels.json and the cases")
    parser.add_argument("--policy", choices=POLICIES, default="competition",
                        help="checker policy (default competition)")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the rows and totals")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every FAIL finding under its row")
    parser.add_argument("--jobs", type=int, default=1, help="checker processes at once (default 1: honest timings)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help=f"seconds before one folder's check is a disagreement (default {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("--checker", type=Path, default=CHECKER,
                        help="checker script to score, e.g. an older checkout's (default tools/check_submission.py)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.timeout <= 0:
        parser.error("--jobs and --timeout must be positive")
    try:
        rows = score_corpus(args.corpus, args.policy, args.jobs, args.timeout, args.checker, on_row=report_progress)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    figures = totals(rows)
    if args.json:
        print(json.dumps({"corpus": str(args.corpus), "policy": args.policy, "jobs": args.jobs,
                          "rows": [row.to_json() for row in rows], "totals": figures}, ensure_ascii=False))
    else:
        sys.stdout.write(render_table(rows, args.verbose) + render_totals(figures, args.policy, args.jobs))
    return 0 if figures["all"]["agree"] == figures["all"]["cases"] else 1


def report_progress(done: int, total: int, row: Row) -> None:
    agreement = "agree" if row.agrees else "DISAGREE"
    print(f"[{done:>{len(str(total))}}/{total}] {row.run.seconds:6.2f} s  {agreement:<8}  {row.case.name}",
          file=sys.stderr, flush=True)


def render_table(rows: list[Row], verbose: bool) -> str:
    """One line per case (verdict, agreement, wall seconds, FAIL ids), the reasons and findings below it."""
    width = max(len("case"), *(len(row.case.name) for row in rows))
    lines = [f"{'case':<{width}}  {'label':<8}  {'verdict':<7}  agree  {'wall s':>6}  failing ids"]
    for row in rows:
        lines.append(f"{row.case.name:<{width}}  {row.case.label:<8}  {row.run.verdict:<7}  "
                     f"{'yes' if row.agrees else 'no':<5}  {row.run.seconds:6.2f}  {', '.join(row.run.failing) or '-'}")
        lines += [f"    {reason}" for reason in row.reasons]
        if row.evidence_cited is False:
            lines.append("    note: the right rule's evidence is on no line or function that `why` cites")
        if verbose:
            lines += [f"    FAIL {failure['id']}: {failure['message']}  ({', '.join(failure['evidence'][:3])})"
                      for failure in row.run.failures]
    return "\n".join(lines) + "\n\n"


def render_totals(figures: dict, policy: str, jobs: int) -> str:
    width = max(len(title) for _, title in TOTAL_LINES)
    lines = [f"{title:<{width}}  {figures[label]['agree']}/{figures[label]['cases']}" for label, title in TOTAL_LINES]
    unexpected = ", ".join(f"{check_id} {count}" for check_id, count in figures["unexpected_fail_ids"].items())
    lines.append(f"{'unexpected FAILs by id':<{width}}  {unexpected or 'none'}")
    cited = figures["illegal_evidence_cited"]
    lines.append(f"{'illegal evidence where why points':<{width}}  {cited['cited']}/{cited['flagged']} flagged "
                 "(a figure, not agreement)")
    overall = figures["all"]
    lines.append(f"{'agreement (policy ' + policy + ')':<{width}}  {overall['agree']}/{overall['cases']} "
                 f"({100 * overall['agree'] / overall['cases']:.1f} %)")
    lines.append(f"{'wall per folder':<{width}}  median {figures['median_s']:.2f} s, max {figures['max_s']:.2f} s "
                 f"({jobs} job{'s' * (jobs != 1)}, process start included)")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
