#!/usr/bin/env python3
"""Prove an evaluation patch causal by running it: per-token losses of the patched train_gpt.py.

Materialises the root train_gpt.py with the patches, runs its own evaluation function
(eval_val_ttt, else eval_val_sliding, or --eval) on a tiny random model and a random token stream
on CPU, reads the loss each token got in the reported sum, and checks:
  coverage       every token scored exactly once
  causality      changing token p moves no loss at a position before p (TTT: score before update)
  normalisation  exp(-loss) over every token in the target's place sums to 1 at sampled positions
It runs only our own scripts and patches; never point it at a submission's code.

Exit codes: 0 every check passed, 1 a check failed, 2 the probe could not run (unknown patch, a
hunk that does not apply, an evaluation that fails or cannot be read).
Example: python tools/probe_eval.py --patch sliding_window_eval --patch score_first_ttt
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golf.findings import InputError  # noqa: E402
from golf.patches import PATCHES_DIR, read_stacks, resolve_patch, with_requirements  # noqa: E402
from golf.probe_eval import PROBE_ENV, probe  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patch", action="append", default=[], metavar="P",
                        help="a patch to apply, in order: a path, a file in patches/ or its bare name (repeatable); "
                             "the patches it requires are applied before it")
    parser.add_argument("--stack", metavar="S", help="apply a listed stack from patches/stacks.txt (before any --patch)")
    parser.add_argument("--eval", dest="eval_name", metavar="NAME",
                        help="the evaluation function to probe (default: eval_val_ttt, else eval_val_sliding)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help=f"a setting on top of the probe's tiny config (repeatable); defaults: "
                             f"{' '.join(f'{k}={v}' for k, v in PROBE_ENV.items())}")
    parser.add_argument("--tokens", type=int, default=96, help="length of the random validation stream (default 96)")
    parser.add_argument("--changes", type=int, help="positions to change for the causality check (default: all)")
    parser.add_argument("--normalise", type=int, default=2, help="positions whose distribution is summed (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the stream, the weights and the samples (default 0)")
    parser.add_argument("--atol", type=float, default=0.0, help="loss change tolerated as unmoved (default 0: exact)")
    parser.add_argument("--json", action="store_true", help="print one JSON object, with the per-token losses")
    args = parser.parse_args(argv)
    try:
        patches = with_requirements([resolve_patch(name) for name in _stack(args.stack) + args.patch])
        report = probe(patches, args.eval_name, _env(args.env), args.tokens, args.changes, args.normalise,
                       args.seed, args.atol)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_json()) if args.json else render(report))
    return 0 if report.passed else 1


def render(report) -> str:
    lines = [f"probe {report.script}: {report.eval_name} on {len(report.losses)} tokens, {report.runs} runs"]
    lines += [f"{finding.status:<4}  {finding.id:<13}  {finding.message}" for finding in report.findings]
    failed = sum(finding.status == "FAIL" for finding in report.findings)
    lines.append(f"{len(report.findings) - failed} passed, {failed} failed")
    return "\n".join(lines)


def _env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--env {pair!r} must be KEY=VALUE, e.g. --env TTT_EPOCHS=1")
        env[key] = value
    return env


def _stack(name: str | None) -> list[str]:
    if name is None:
        return []
    stacks = read_stacks()
    if name not in stacks:
        raise InputError(f"--stack {name!r} is not in {PATCHES_DIR / 'stacks.txt'}; listed: {', '.join(stacks)}")
    return stacks[name]


if __name__ == "__main__":
    sys.exit(main())
