#!/usr/bin/env python3
"""Training-step time of the smoke config with the switches off, each on, and all on; or, with
--stack S, of the baseline against a listed patch stack (patches/stacks.txt) at the same config.

Variants are timed in one process, interleaved round by round (the order rotates), so machine
load hits them alike; the figure is the median step per variant and its ratio to the first
("off", or the baseline). A step is what train_gpt.main runs per step before the warmdown:
train_step plus, in a script that has one, the weight-EMA update (late QAT and SWA start late
and are not timed). Also counts torch._dynamo graph breaks in the training forward of the
first and the last variant.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from golf.findings import InputError  # noqa: E402
from golf.patches import materialise, read_stacks, resolve_patch, with_requirements  # noqa: E402
from golf.smoke import SMOKE_DATA_DIR, SMOKE_ENV, TRAINER, build_smoke_data, data_env, import_trainer  # noqa: E402

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
        takes_bos = "bos_id" in inspect.signature(T.build_model).parameters  # a stack whose lookbacks mask BOS
        extra = (sp.bos_id(),) if takes_bos else ()
        self.model = T.build_model(self.args, cpu, T.build_objective(self.args, luts), *extra).train()
        self.optimizers, self.muon = T.build_optimizers(self.args, self.model)
        self.loader = T.DistributedTokenLoader(self.args.train_files, 0, 1, cpu)
        self.run = T.Run(self.args, 0, 1, cpu, 8, False)
        self.layer_gain = T.build_layer_gain(self.args, self.model, cpu)
        uses_ema = hasattr(T, "WeightEMA") and self.args.ema_decay > 0
        self.ema = T.WeightEMA(self.model, self.args.ema_decay) if uses_ema else None
        self.step = 0

    def timed_step(self) -> float:
        start = time.perf_counter()
        self.T.train_step(self.run, self.model, self.model, self.optimizers, self.muon, self.loader,
                          self.step, 1.0, self.layer_gain)
        if self.ema is not None:
            self.ema.update()
        self.step += 1
        return 1000.0 * (time.perf_counter() - start)

    def graph_breaks(self) -> int:
        x, y = self.loader.next_batch(self.args.train_batch_tokens, self.args.train_seq_len, 8)
        torch._dynamo.reset()
        return torch._dynamo.explain(self.model)(x, y).graph_break_count


def import_stack(name: str):
    """The root trainer with the stack's patches (and their requirements) applied, as a module."""
    stacks = read_stacks()
    if name not in stacks:
        raise InputError(f"--stack {name!r} is not in patches/stacks.txt; listed: {', '.join(stacks)}")
    text = materialise(TRAINER.read_text(encoding="utf-8"), with_requirements([resolve_patch(n) for n in stacks[name]]))
    path = Path(tempfile.mkdtemp(prefix=f"bench_{name}_")) / "train_gpt.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"train_gpt_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def variants(stack: str | None) -> dict[str, tuple[object, dict[str, str]]]:
    """name -> (trainer module, environment overrides); the first is the reference."""
    root = import_trainer()
    if stack is None:
        return {name: (root, overrides) for name, overrides in VARIANTS.items()}
    return {"baseline": (root, {}), stack: (import_stack(stack), {})}


def measure(chosen: dict[str, tuple[object, dict[str, str]]], base_env: dict[str, str], rounds: int, warmup: int) -> dict:
    trainers = {name: Trainer(T, {**base_env, **overrides}) for name, (T, overrides) in chosen.items()}
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
        f"ratio_vs_{names[0]}": {name: round(ms / step_ms[names[0]], 4) for name, ms in step_ms.items()},
        "params": {name: sum(p.numel() for p in trainer.model.parameters()) for name, trainer in trainers.items()},
        "graph_breaks": {name: trainers[name].graph_breaks() for name in (names[0], names[-1])},
    }


def render(result: dict, rounds: int) -> str:
    ratio_key = next(key for key in result if key.startswith("ratio_vs_"))
    width = max(12, *(len(name) + 2 for name in result["step_ms"]))
    lines = [f"{'variant':<{width}}{'params':>10}{'step ms':>10}{'ratio':>8}   "
             f"(median of {rounds} interleaved steps, smoke config, CPU)"]
    for name, ms in result["step_ms"].items():
        lines.append(f"{name:<{width}}{result['params'][name]:>10,}{ms:>10.1f}{result[ratio_key][name]:>8.3f}")
    breaks = ", ".join(f"{name} {count}" for name, count in result["graph_breaks"].items())
    lines.append(f"graph breaks in the training forward: {breaks}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10, help="timed steps per variant (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per variant first (default 2)")
    parser.add_argument("--data", type=Path, default=SMOKE_DATA_DIR, help="smoke data folder (built if missing)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: steadier on a shared machine)")
    parser.add_argument("--stack", metavar="S", help="time the baseline against this stack of patches/stacks.txt "
                                                     "(each at its own defaults for what the smoke config leaves unset)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be >= 1 and --warmup >= 0")

    torch.set_num_threads(args.threads)
    try:
        chosen = variants(args.stack)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    build_smoke_data(args.data)
    result = measure(chosen, {**SMOKE_ENV, **data_env(args.data)}, args.rounds, args.warmup)
    print(json.dumps(result) if args.json else render(result, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
