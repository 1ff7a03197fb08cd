#!/usr/bin/env python3
"""Training-step time of the smoke config with the switches off, each on, and all on.

Variants are timed in one process, interleaved round by round (the order rotates), so machine
load hits them alike; the figure is the median step per variant and its ratio to "off". Also
counts torch._dynamo graph breaks in the training forward with everything off and on.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from golf.smoke import SMOKE_DATA_DIR, SMOKE_ENV, build_smoke_data, data_env, import_trainer  # noqa: E402

VARIANTS = {
    "off": {},
    "bpb": {"BPB_WEIGHTED_LOSS": "1"},
    "token_gain": {"PRECISION_GAIN": "0.5"},
    "layer_gain": {"LAYER_GAIN": "0.5"},
    "all": {"BPB_WEIGHTED_LOSS": "1", "PRECISION_GAIN": "1.0", "LAYER_GAIN": "0.5"},
}


@contextlib.contextmanager
def environment(overrides: dict[str, str]):
    saved = dict(os.environ)
    os.environ.update(overrides)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class Trainer:
    """One variant's model, optimizers and data stream, stepping exactly as train_gpt.main does."""

    def __init__(self, T, overrides: dict[str, str]):
        with environment(overrides):
            self.args = T.Hyperparameters()
        self.T = T
        cpu = torch.device("cpu")
        sp = T.load_tokenizer(self.args)
        luts = T.build_sentencepiece_luts(sp, self.args.vocab_size, cpu)
        torch.manual_seed(self.args.seed)
        self.model = T.build_model(self.args, cpu, T.build_objective(self.args, luts)).train()
        self.optimizers, self.muon = T.build_optimizers(self.args, self.model)
        self.loader = T.DistributedTokenLoader(self.args.train_files, 0, 1, cpu)
        self.run = T.Run(self.args, 0, 1, cpu, 8, False)
        self.layer_gain = T.build_layer_gain(self.args, self.model, cpu)
        self.step = 0

    def timed_step(self) -> float:
        start = time.perf_counter()
        self.T.train_step(self.run, self.model, self.model, self.optimizers, self.muon, self.loader,
                          self.step, 1.0, self.layer_gain)
        self.step += 1
        return 1000.0 * (time.perf_counter() - start)

    def graph_breaks(self) -> int:
        x, y = self.loader.next_batch(self.args.train_batch_tokens, self.args.train_seq_len, 8)
        torch._dynamo.reset()
        return torch._dynamo.explain(self.model)(x, y).graph_break_count


def measure(T, base_env: dict[str, str], rounds: int, warmup: int) -> dict:
    trainers = {name: Trainer(T, {**base_env, **overrides}) for name, overrides in VARIANTS.items()}
    names = list(trainers)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(warmup + rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            elapsed = trainers[name].timed_step()
            if round_index >= warmup:
                times[name].append(elapsed)
        print(f"round {round_index + 1}/{warmup + rounds}", file=sys.stderr, flush=True)
    step_ms = {name: statistics.median(values) for name, values in times.items()}
    return {
        "step_ms": {name: round(ms, 2) for name, ms in step_ms.items()},
        "ratio_vs_off": {name: round(ms / step_ms["off"], 4) for name, ms in step_ms.items()},
        "graph_breaks": {name: trainers[name].graph_breaks() for name in ("off", "all")},
    }


def render(result: dict, rounds: int) -> str:
    lines = [f"{'variant':<12}{'step ms':>10}{'ratio':>8}   (median of {rounds} interleaved steps, smoke config, CPU)"]
    for name, ms in result["step_ms"].items():
        lines.append(f"{name:<12}{ms:>10.1f}{result['ratio_vs_off'][name]:>8.3f}")
    breaks = result["graph_breaks"]
    lines.append(f"graph breaks in the training forward: off {breaks['off']}, all {breaks['all']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10, help="timed steps per variant (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per variant first (default 2)")
    parser.add_argument("--data", type=Path, default=SMOKE_DATA_DIR, help="smoke data folder (built if missing)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: steadier on a shared machine)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be >= 1 and --warmup >= 0")

    torch.set_num_threads(args.threads)
    build_smoke_data(args.data)
    result = measure(import_trainer(), {**SMOKE_ENV, **data_env(args.data)}, args.rounds, args.warmup)
    print(json.dumps(result) if args.json else render(result, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
