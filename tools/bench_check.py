"""Time the submission check on a large, realistic record folder, or on a corpus of real ones: figures, not tests.

    python tools/bench_check.py                     # ~150 KB script shipped lzma+base85, 3 x ~100 KB logs
    python tools/bench_check.py --source-kb 600     # a decoded script big enough that the stub itself is ~150 KB
    python tools/bench_check.py --corpus ../shared/corpus   # every folder of a labelled corpus, one process each

Builds, in a temporary folder that is removed afterwards: `train_gpt.py` as a self-extracting
`exec(lzma.decompress(b85decode(...)))` stub whose decoded source is about --source-kb KB of
varied Python (the largest merged record script is 158 KB), three logs of about --log-kb KB in
the baseline dialect (the stub printed first, nvidia-smi, step lines, export and final lines),
README.md and submission.json. Then runs golf.checks.check_record on it --runs times in-process,
after one warm-up run, and prints the median wall and CPU time and the fastest wall time (CPU
time is the figure to compare on a busy machine).

With --corpus DIR (a folder with labels.json, see golf/scoring.py) it instead runs
tools/check_submission.py once per listed folder in its own process, as a user runs it, and prints
the median and max wall time per folder (interpreter start and imports included) with the slowest
folders, then times `check_submission.py --list-checks` --runs times.

Exit codes: 0 measured, 2 bad arguments or an unreadable corpus.
"""
from __future__ import annotations

import argparse
import base64
import json
import lzma
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from golf.checks import check_record  # noqa: E402
from golf.findings import InputError  # noqa: E402
from golf.scoring import CHECKER, load_cases, run_checker  # noqa: E402

SEEDS = (42, 314, 999)
VAL_TOKENS = 62_021_632
VAL_BYTES = 151_080_000

FUNCTION_TEMPLATE = '''

def {name}(model: nn.Module, tokens: torch.Tensor, scale: float = {scale}) -> torch.Tensor:
    """{doc}"""
    hidden = model.{attribute}(tokens[:, :-1]) * scale  # (B, T, D)
    for step in range({steps}):
        hidden = F.rms_norm(hidden, (hidden.size(-1),)) + {bias} * torch.tanh(hidden / {temperature})
        if step % {every} == 0:
            hidden = hidden.clamp(-{clip}, {clip})
    weights = torch.softmax(hidden @ model.{attribute}.weight.T / math.sqrt(hidden.size(-1)), dim=-1)
    return weights.mean(dim={dim})
'''

HEADER = '''"""Benchmark script: generated functions in the shape of a large record script."""
import math
import os

import torch
import torch.nn.functional as F
from torch import nn

seed = int(os.environ.get("SEED", 1337))
'''

SLOWEST_SHOWN = 5
WORDS = ("mix", "gate", "proj", "norm", "scale", "route", "blend", "shift", "mask", "pool", "tilt", "fuse")


def build_source(kilobytes: int, rng: random.Random) -> str:
    """Varied Python of about `kilobytes` KB, so lzma compresses it about as well as a real script."""
    parts, size, index = [HEADER], len(HEADER), 0
    while size < kilobytes * 1000:
        name = "_".join(rng.choice(WORDS) for _ in range(3)) + f"_{index}"
        part = FUNCTION_TEMPLATE.format(
            name=name, scale=round(rng.uniform(0.1, 3), 4), doc=f"{name.replace('_', ' ')} over {rng.randint(2, 64)} heads.",
            attribute=rng.choice(("embed", "head", "proj", "lm_head")), steps=rng.randint(1, 12),
            bias=round(rng.uniform(-1, 1), 5), temperature=round(rng.uniform(0.5, 9), 3), every=rng.randint(1, 5),
            clip=round(rng.uniform(1, 50), 2), dim=rng.choice((0, 1, -1)))
        parts.append(part)
        size += len(part)
        index += 1
    return "".join(parts)


def wrap(source: str) -> str:
    payload = base64.b85encode(lzma.compress(source.encode("utf-8"), preset=9)).decode()
    return f'import lzma as L,base64 as B\nexec(L.decompress(B.b85decode("{payload}")))\n'


def build_log(stub: str, seed: int, kilobytes: int, rng: random.Random) -> str:
    val_loss = 2.06 + rng.uniform(-0.01, 0.01)
    val_bpb = val_loss * VAL_TOKENS / (math.log(2) * VAL_BYTES)
    code_bytes = len(stub.encode("utf-8"))
    lines = [stub.rstrip("\n"), "=" * 100, "Running Python 3.12.3", "Running PyTorch 2.8.0+cu128"]
    lines += [f"|   {gpu}  NVIDIA H100 80GB HBM3          On  |   00000000:{gpu:02X}:00.0 Off |                    0 |" for gpu in range(8)]
    lines += ["=" * 100, f"val_loader:shards pattern=./data/datasets/fineweb10B_sp1024/fineweb_val_*.bin tokens:{VAL_TOKENS}",
              f"seed:{seed}", "warmup_step:1/20", "warmup_step:20/20"]
    step, size = 0, sum(len(line) for line in lines)
    while size < kilobytes * 1000:
        step += 10
        line = f"step:{step}/20000 train_loss:{3 / math.log(step + 2):.4f} train_time:{step * 43.5:.0f}ms step_avg:43.50ms"
        lines.append(line)
        size += len(line) + 1
    model = 15_700_000 + rng.randint(0, 100_000)
    lines += [f"stopping_early: wallclock_cap train_time:599532ms step:{step}/20000",
              "Serialized model: 67224983 bytes", f"Code size: {code_bytes} bytes",
              f"Serialized model int8+zlib: {model} bytes", f"Total submission size int8+zlib: {model + code_bytes} bytes",
              f"final_int8_zlib_roundtrip val_loss:{val_loss:.4f} val_bpb:{val_bpb:.4f} eval_time:1362ms",
              f"final_int8_zlib_roundtrip_exact val_loss:{val_loss:.8f} val_bpb:{val_bpb:.8f}"]
    return "\n".join(lines) + "\n"


def build_record(folder: Path, source_kb: int, log_kb: int) -> dict:
    """Write the benchmark record; return the sizes it has."""
    rng = random.Random(0)
    source = build_source(source_kb, rng)
    stub = wrap(source)
    (folder / "train_gpt.py").write_text(stub)
    (folder / "README.md").write_text("# Benchmark record\n\nThree seeds on 8xH100 SXM.\n")
    claims = {}
    for seed in SEEDS:
        log = build_log(stub, seed, log_kb, rng)
        (folder / f"train_seed{seed}.log").write_text(log)
        final = log.rstrip("\n").rsplit("\n", 1)[1]
        claims[str(seed)] = {"val_loss": float(final.split("val_loss:")[1].split()[0]),
                             "val_bpb": float(final.split("val_bpb:")[1])}
    mean = sum(claim["val_bpb"] for claim in claims.values()) / len(claims)
    (folder / "submission.json").write_text(json.dumps({
        "name": "Benchmark", "author": "bench", "github_id": "bench", "date": "2026-04-01",
        "val_bpb": round(mean, 8), "seed_results": claims}))
    return {"stub_bytes": len(stub.encode("utf-8")), "source_bytes": len(source.encode("utf-8")),
            "log_bytes": [(folder / f"train_seed{seed}.log").stat().st_size for seed in SEEDS]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the submission check on a synthetic record or a corpus.")
    parser.add_argument("--runs", type=int, default=20,
                        help="timed runs after one warm-up run (default 20); with --corpus, runs of --list-checks")
    parser.add_argument("--source-kb", type=int, default=150, help="decoded script size in KB (default 150)")
    parser.add_argument("--log-kb", type=int, default=100, help="size of each of the three logs in KB (default 100)")
    parser.add_argument("--policy", default="strict", choices=("strict", "competition"), help="policy to check under")
    parser.add_argument("--corpus", type=Path, metavar="DIR",
                        help="time tools/check_submission.py once per folder of this labelled corpus instead")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.source_kb < 1 or args.log_kb < 1:
        parser.error("--runs, --source-kb and --log-kb must be positive")
    if args.corpus is None:
        return bench_synthetic(args)
    try:
        return bench_corpus(args.corpus, args.policy, args.runs)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def bench_synthetic(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "2026-04-01_Benchmark"
        folder.mkdir()
        sizes = build_record(folder, args.source_kb, args.log_kb)
        result = check_record(folder, policy=args.policy)  # warm-up: imports, regex compilation
        times, cpu_times = [], []
        for _ in range(args.runs):
            start, cpu_start = time.perf_counter(), time.process_time()
            check_record(folder, policy=args.policy)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    logs = ", ".join(f"{size / 1000:.0f}" for size in sizes["log_bytes"])
    print(f"record: train_gpt.py {sizes['stub_bytes'] / 1000:.0f} KB lzma+b85 stub "
          f"({sizes['source_bytes'] / 1000:.0f} KB decoded), logs {logs} KB; verdict {result.verdict} "
          f"({len(result.findings)} findings)")
    print(f"check_record: median {statistics.median(times) * 1000:.0f} ms wall ({statistics.median(cpu_times) * 1000:.0f} ms CPU), "
          f"fastest {min(times) * 1000:.0f} ms wall, over {args.runs} runs")
    return 0


def bench_corpus(corpus: Path, policy: str, runs: int) -> int:
    """Wall time of one checker process per corpus folder, then of `--list-checks`."""
    cases = load_cases(corpus)
    timed = []
    for number, case in enumerate(cases, start=1):
        run = run_checker(case.folder, policy)
        timed.append((run.seconds, case.name, run.error))
        print(f"[{number}/{len(cases)}] {run.seconds:6.2f} s  {case.name}", file=sys.stderr, flush=True)
    seconds = [entry[0] for entry in timed]
    errors = sum(error is not None for _, _, error in timed)
    print(f"check_submission.py --policy {policy} --json, one process per folder of {corpus} ({len(cases)} folders): "
          f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s wall; {errors} crashed or timed out")
    for spent, name, error in sorted(timed, reverse=True)[:SLOWEST_SHOWN]:
        print(f"  {spent:6.2f} s  {name}{'  (' + error + ')' if error else ''}")
    listing = [time_list_checks() for _ in range(runs)]
    print(f"check_submission.py --list-checks: median {statistics.median(listing):.2f} s, "
          f"max {max(listing):.2f} s wall over {runs} run{'s' * (runs != 1)}")
    return 0


def time_list_checks() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, str(CHECKER), "--list-checks"], capture_output=True, check=False)
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
