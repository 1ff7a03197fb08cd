#!/usr/bin/env python3
"""Quick start: build the smoke data set, train the smoke config on CPU with torchrun, report."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golf.logs import parse_log_file  # noqa: E402
from golf.smoke import REPO_ROOT, SMOKE_DATA_DIR, SMOKE_ENV, build_smoke_data, data_env, run_env, torchrun_command  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nproc", type=int, default=1, help="processes for torchrun (default 1)")
    parser.add_argument("--data", type=Path, default=SMOKE_DATA_DIR, help="smoke data folder (default smoke_data/)")
    parser.add_argument("--run-id", default="smoke", help="RUN_ID: the log goes to logs/<RUN_ID>.txt (default smoke)")
    args = parser.parse_args(argv)

    print(f"[1/2] smoke data in {args.data}", flush=True)
    build_smoke_data(args.data)
    print(f"[2/2] training the smoke config on CPU ({args.nproc} process(es))", flush=True)
    log_path = REPO_ROOT / "logs" / f"{args.run_id}.txt"
    log_path.unlink(missing_ok=True)
    env = run_env({**SMOKE_ENV, **data_env(args.data), "RUN_ID": args.run_id, "OMP_NUM_THREADS": "2"})
    completed = subprocess.run(torchrun_command(args.nproc), cwd=REPO_ROOT, env=env)
    if completed.returncode != 0:
        print(f"error: training exited with code {completed.returncode}; see {log_path}", file=sys.stderr)
        return 1
    log = parse_log_file(log_path)
    if log.final is None or log.total_bytes is None:
        print(f"error: {log_path} has no final score line", file=sys.stderr)
        return 1
    print(f"\nval_bpb {log.final.val_bpb:.4f}  val_loss {log.final.val_loss:.4f}  "
          f"artifact {log.total_bytes.value:,} bytes  log {log_path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
