"""Evaluation patches proven causal by running them: a dynamic probe of the scored per-token losses.

Public API:
    probe(patch_paths, ...) -> ProbeReport    run the checks below on root train_gpt.py + patches
    ProbeReport                               per-token losses, findings, runs; .passed, .to_json()
    ProbeError                                the evaluation could not be run or read (exit 2)
    PROBE_ENV, EVAL_FUNCTIONS

The probe imports the materialised script from a temporary file, builds a tiny random model with
the script's own build_model, and calls the script's own evaluation function (`eval_val_ttt`,
else `eval_val_sliding`, or the one named) on a short random token stream on CPU. From the loss
each token got in the reported sum it checks (RULES.md section 4):

    coverage        every token of the stream is scored exactly once (C4)
    causality       changing the token at position p moves no loss at a position before p (C1);
                    for score-first TTT this is "score before update" (C3)
    normalisation   at sampled positions, exp(-loss) summed over every vocabulary entry put in
                    the target's place is 1: the scored probabilities are one distribution (C2)

Reading the per-token losses needs no change to the script. Evaluations score through
`model.token_losses(x, y)` with gradients off; the probe wraps that method on the model and
records each scored window, placing it in the stream by its tokens. Which recorded positions
reach the reported sum is learnt in a few extra runs in which the wrapper returns 2**k at 48
positions and 0 elsewhere: the reported val_loss times the token count is then an integer whose
bits name the scored positions. Every later run must reproduce its val_loss from those positions.

Only our own code runs here: the root train_gpt.py with patches (from patches/, or patch files the
tests give by path). Never point it at a submission's code.
"""
from __future__ import annotations

import importlib.util
import math
import os
import random
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from golf.findings import FAIL, PASS, Finding, InputError
from golf.patches import materialise
from golf.smoke import TRAINER

# Small enough that a run takes milliseconds, with several windows per batch and per TTT chunk.
PROBE_ENV = {
    "VOCAB_SIZE": "32", "NUM_LAYERS": "2", "MODEL_DIM": "32", "NUM_HEADS": "2", "NUM_KV_HEADS": "1",
    "MLP_MULT": "2", "TRAIN_SEQ_LEN": "16", "EVAL_STRIDE": "4", "VAL_BATCH_SIZE": "128",
    "TTT_CHUNK_TOKENS": "32", "TTT_LR": "0.05", "COMPILE": "0", "FLASH_ATTN": "0",
}
EVAL_FUNCTIONS = ("eval_val_ttt", "eval_val_sliding")
GROUP_BITS = 48           # positions decoded per run: distinct powers of two stay exact in float64
INIT_STD = 0.3            # random weights: the scripts zero-init projections, which hides any leak
NORMALISATION_TOL = 1e-4  # float32 softmax sums to 1 within ~1e-6
CPU = torch.device("cpu")


class ProbeError(InputError):
    """The evaluation could not be run or its per-token losses could not be read."""


@dataclass
class ProbeReport:
    script: str
    eval_name: str
    losses: list[float]                 # the scored loss of tokens 1..N (token 0 is context only)
    findings: list[Finding] = field(default_factory=list)
    runs: int = 0

    @property
    def passed(self) -> bool:
        return all(finding.status != FAIL for finding in self.findings)

    def to_json(self) -> dict:
        return {"script": self.script, "eval": self.eval_name, "tokens": len(self.losses), "runs": self.runs,
                "verdict": "pass" if self.passed else "fail", "checks": [f.to_json() for f in self.findings],
                "losses": self.losses}


# ---------------------------------------------------------------------------------------------
# Running the script's evaluation


@contextmanager
def environment(values: dict[str, str]):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_script(text: str, directory: Path):
    """Import the materialised script as a fresh module (it is our own code)."""
    path = Path(directory) / "train_gpt.py"
    path.write_text(text, encoding="utf-8")
    name = f"golf_probed_train_gpt_{abs(hash(text)):x}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


class Recorder:
    """Stands in for model.token_losses: passes training calls through, records every score."""

    def __init__(self, token_losses, encode=None):
        self.token_losses, self.encode = token_losses, encode
        self.inputs: list[torch.Tensor] = []
        self.losses: list[torch.Tensor] = []
        self.count = 0

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        losses = self.token_losses(x, y)
        if torch.is_grad_enabled():
            return losses  # a training step, not a score
        self.inputs.append(x.detach().clone())
        self.losses.append(losses.detach().double().reshape(-1).clone())
        flat = torch.arange(self.count, self.count + losses.numel()).view_as(losses)
        self.count += losses.numel()
        return losses if self.encode is None else self.encode(flat).to(losses.dtype)


@dataclass
class Scored:
    val_loss: float
    losses: torch.Tensor      # (P,) float64: every position of every scored window, in call order
    positions: torch.Tensor   # (P,) the stream position of the token each entry predicts


class Evaluation:
    """One script's evaluation function on the tiny model, run from the same weights each time."""

    def __init__(self, module, eval_name: str, env: dict[str, str], seed: int):
        self.module, self.seed, self.runs = module, seed, 0
        self.function = getattr(module, eval_name)
        with environment(env):
            self.args = module.Hyperparameters()
        generator = torch.Generator().manual_seed(seed)
        vocab = self.args.vocab_size
        self.luts = module.ByteLuts(torch.randint(1, 4, (vocab,), dtype=torch.int16, generator=generator),
                                    torch.rand(vocab, generator=generator) < 0.5,
                                    torch.rand(vocab, generator=generator) < 0.1)

    def model(self):
        torch.manual_seed(self.seed)
        model = self.module.build_model(self.args, CPU, self.module.build_objective(self.args, self.luts))
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.normal_(0.0, INIT_STD)
        return model

    def run(self, tokens: torch.Tensor, encode=None) -> Scored:
        try:
            model = self.model()
            recorder = Recorder(model.token_losses, encode)
            model.token_losses = recorder
            val_loss, _ = self.function(self.args, model, 0, 1, CPU, tokens, self.luts)
        except Exception as error:  # the script is ours, but its failure is the probe's input error
            raise ProbeError(f"{self.function.__name__} raised {type(error).__name__}: {error}") from error
        self.runs += 1
        if not recorder.losses:
            raise ProbeError(f"{self.function.__name__} scored nothing through model.token_losses with gradients off")
        positions = torch.cat([window_positions(x, tokens) for x in recorder.inputs])
        return Scored(float(val_loss), torch.cat(recorder.losses), positions)


def window_positions(x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """For each input row, the stream positions its targets predict: start + 1 .. start + T."""
    width = x.size(1)
    starts = {}
    for start in range(tokens.numel() - width + 1):
        starts.setdefault(tuple(tokens[start:start + width].tolist()), []).append(start)
    found = []
    for row in x.tolist():
        matches = starts.get(tuple(row), [])
        if len(matches) != 1:
            problem = "is not a slice of" if not matches else "appears more than once in"
            raise ProbeError(f"a scored window {problem} the validation stream; try another --seed")
        found.append(torch.arange(matches[0] + 1, matches[0] + 1 + width))
    return torch.cat(found)


# ---------------------------------------------------------------------------------------------
# Which recorded positions are scored, and the loss of each token


def scored_mask(evaluation: Evaluation, tokens: torch.Tensor, size: int) -> torch.Tensor:
    targets = tokens.numel() - 1
    mask = torch.zeros(size, dtype=torch.bool)
    for first in range(0, size, GROUP_BITS):
        def encode(flat, first=first):
            inside = (flat >= first) & (flat < first + GROUP_BITS)
            return torch.where(inside, torch.exp2((flat - first).clamp(0, GROUP_BITS - 1).double()), 0.0)
        total = evaluation.run(tokens, encode).val_loss * targets  # the reported sum, if it counts every token
        bits = round(total)
        if abs(total - bits) > 0.25 or not 0 <= bits < 2 ** GROUP_BITS:
            raise ProbeError("the reported val_loss is not the sum of scored token_losses over one count per token")
        mask[first:first + GROUP_BITS] = torch.tensor([bool(bits >> k & 1) for k in range(min(GROUP_BITS, size - first))])
    return mask


def token_losses(scored: Scored, mask: torch.Tensor, targets: int) -> torch.Tensor:
    """(targets + 1,) float64: the loss in the reported sum for each token, NaN for token 0."""
    if scored.losses.numel() != mask.numel():
        raise ProbeError("the evaluation scored a different number of windows on a stream of the same length")
    losses = torch.full((targets + 1,), math.nan, dtype=torch.float64)
    losses[scored.positions[mask]] = scored.losses[mask]
    mean = float(scored.losses[mask].sum()) / targets
    if not math.isclose(mean, scored.val_loss, rel_tol=1e-9, abs_tol=1e-12):
        raise ProbeError(f"the scored per-token losses average {mean:.10f}, the evaluation reported {scored.val_loss:.10f}")
    return losses


# ---------------------------------------------------------------------------------------------
# The checks


def check_coverage(scored: Scored, mask: torch.Tensor, targets: int) -> Finding:
    counts = torch.bincount(scored.positions[mask], minlength=targets + 1)[1:]
    wrong = [(position + 1, int(count)) for position, count in enumerate(counts.tolist()) if count != 1]
    if not wrong:
        return Finding("coverage", PASS, f"each of the {targets} tokens is scored exactly once")
    shown = ", ".join(f"token {position} scored {count}x" for position, count in wrong[:5])
    return Finding("coverage", FAIL, f"{len(wrong)} of {targets} tokens not scored exactly once: {shown}")


def check_causality(evaluation: Evaluation, tokens: torch.Tensor, mask: torch.Tensor, base: torch.Tensor,
                    changes: list[int], rng: random.Random, atol: float) -> Finding:
    vocab, targets = evaluation.args.vocab_size, tokens.numel() - 1
    moved: list[tuple[int, int, float]] = []  # (changed token, first earlier token whose loss moved, largest move)
    for position in changes:
        changed = tokens.clone()
        changed[position] = (int(tokens[position]) + rng.randrange(1, vocab)) % vocab
        losses = token_losses(evaluation.run(changed, None), mask, targets)
        shift = (losses[1:position] - base[1:position]).abs()
        if bool((shift > atol).any()):
            moved.append((position, int(torch.nonzero(shift > atol)[0]) + 1, float(shift.max())))
    span = f"{len(changes)} single-token changes at positions {min(changes)}..{max(changes)}"
    if not moved:
        return Finding("causality", PASS, f"{span}: no loss at an earlier position moved (tolerance {atol:g})")
    position, earliest, largest = moved[0]
    return Finding("causality", FAIL, f"{span}: {len(moved)} moved earlier losses; changing token {position} moved "
                                      f"the loss of token {earliest} (largest move {largest:.3g})")


def check_normalisation(evaluation: Evaluation, tokens: torch.Tensor, mask: torch.Tensor, positions: list[int]) -> Finding:
    vocab, targets = evaluation.args.vocab_size, tokens.numel() - 1
    sums = []
    for position in positions:
        total = 0.0
        for candidate in range(vocab):
            changed = tokens.clone()
            changed[position] = candidate
            total += math.exp(-float(token_losses(evaluation.run(changed, None), mask, targets)[position]))
        sums.append((position, total))
    worst = max(sums, key=lambda item: abs(item[1] - 1.0))
    shown = ", ".join(f"token {position}: {total:.6f}" for position, total in sums)
    status = PASS if abs(worst[1] - 1.0) <= NORMALISATION_TOL else FAIL
    return Finding("normalisation", status, f"probabilities summed over all {vocab} tokens: {shown} (need 1 +- {NORMALISATION_TOL:g})")


# ---------------------------------------------------------------------------------------------
# Entry point


def probe(patch_paths: list[Path], eval_name: str | None = None, env: dict[str, str] | None = None,
          tokens: int = 96, changes: int | None = None, normalise: int = 2, seed: int = 0,
          atol: float = 0.0) -> ProbeReport:
    """Probe the evaluation of the root train_gpt.py with the patches applied in order.

    changes: how many positions to change for the causality check (None: every position 2..tokens).
    """
    env = {**PROBE_ENV, **(env or {})}
    text = materialise(TRAINER.read_text(encoding="utf-8"), [Path(p) for p in patch_paths])
    with tempfile.TemporaryDirectory() as directory, environment(env):
        module = load_script(text, Path(directory))
    eval_name = eval_name or next((name for name in EVAL_FUNCTIONS if hasattr(module, name)), None)
    if eval_name is None or not callable(getattr(module, eval_name, None)):
        raise ProbeError(f"the script defines no evaluation function {eval_name or ' or '.join(EVAL_FUNCTIONS)}; "
                         "name one with --eval")
    evaluation = _evaluation(module, eval_name, env, seed)
    report = ProbeReport(" + ".join(["train_gpt.py", *(Path(p).stem for p in patch_paths)]), eval_name, [])
    with one_thread():
        report.findings, report.losses = _run_checks(evaluation, tokens, changes, normalise, seed, atol)
    report.runs = evaluation.runs
    return report


@contextmanager
def one_thread():
    # The tensors are tiny: more threads only contend (a run took 190 ms on 2 busy cores, 10 ms on one).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _evaluation(module, eval_name: str, env: dict[str, str], seed: int) -> Evaluation:
    try:
        return Evaluation(module, eval_name, env, seed)
    except ValueError as error:  # the script's ConfigError: a bad --env value
        raise ProbeError(f"the script rejects the probe's settings: {error}") from None


def _run_checks(evaluation: Evaluation, count: int, changes: int | None, normalise: int, seed: int,
                atol: float) -> tuple[list[Finding], list[float]]:
    if count < evaluation.args.train_seq_len + 1:
        raise ProbeError(f"--tokens {count} must exceed TRAIN_SEQ_LEN={evaluation.args.train_seq_len}")
    rng = random.Random(seed)
    stream = torch.randint(0, evaluation.args.vocab_size, (count + 1,), generator=torch.Generator().manual_seed(seed))
    base_run = evaluation.run(stream)
    mask = scored_mask(evaluation, stream, base_run.losses.numel())
    findings = [check_coverage(base_run, mask, count)]
    base = token_losses(base_run, mask, count)
    positions = list(range(2, count + 1))
    chosen = positions if changes is None or changes >= len(positions) else sorted(rng.sample(positions, changes))
    findings.append(check_causality(evaluation, stream, mask, base, chosen, rng, atol))
    findings.append(check_normalisation(evaluation, stream, mask, sorted(rng.sample(range(1, count + 1), normalise))))
    return findings, base[1:].tolist()
