"""A paired ablation of the trainer's switches: every variant on the same seeds and data order.

Public API:
    ABLATION_ENV, TINY_ABLATION_ENV, CONFIGS   the run configs (`--config ablation|tiny`)
    SWITCHES_OFF                               the baseline: every switch off, whatever the caller's env
    Variant, DEFAULT_VARIANTS, parse_variant(spec), with_baseline(variants)
    DataStats, data_stats(data_dir, env)       tokens, epochs and the unigram loss of a data set
    RunResult, result_from_seed_run(variant, seed_run)
    Row, compare(results, variants)            the table: one Row per variant against the baseline
    describe(...), notes(...)                  the lines above and below the table
    render_text(rows), render_markdown(rows), render_report(...), report_json(...)
    check_manifest(out_dir, env, variants)     refuse to resume a folder made with other settings

Pairing: the seed sets the model init; the trainer streams the shards in order, so every variant
and seed sees the same tokens in the same order. A variant is compared with the baseline only on
seeds where both runs completed; failed runs are listed, never averaged.

Tests per variant against the baseline, on per-seed paired differences d = variant - baseline:
    p two-sided   golf.stats.paired_test on val_bpb (does the switch move val_bpb at all?)
    p ≥0.005      golf.stats.one_sample_vs_sota on the val_loss differences with SOTA 0 and margin
                  0.005 nats: one-sided one-sample t-test that mean d < -0.005 nats, the record rule.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from golf.findings import InputError
from golf.logs import parse_log_file
from golf.runner import SeedRun
from golf.shards import read_shard, shard_token_count
from golf.smoke import SMOKE_ENV, TINY_ENV
from golf.stats import RECORD_MARGIN_NATS, mean_std, one_sample_vs_sota, paired_test

# The smoke model (4x128, seq 256, 8192-token batches) for 200 steps: 1.64 M tokens, 1.3 epochs of
# the 1.23 M-token stdlib corpus, so no run sees a training token more than twice. About 2-3 min a
# run on 2 CPU threads; validating only at the end keeps it that short.
ABLATION_ENV = {
    **SMOKE_ENV,
    "ITERATIONS": "200",
    "WARMDOWN_ITERS": "60",
    "VAL_LOSS_EVERY": "0",
    "TRAIN_LOG_EVERY": "10",
}
TINY_ABLATION_ENV = {**TINY_ENV, "VAL_LOSS_EVERY": "0"}
CONFIGS = {"ablation": ABLATION_ENV, "tiny": TINY_ABLATION_ENV}
SWITCHES_OFF = {"BPB_WEIGHTED_LOSS": "0", "PRECISION_GAIN": "0", "LAYER_GAIN": "0"}
BASELINE = "baseline"

_VARIANT_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
_NEXT_ASSIGNMENT = re.compile(r",(?=[A-Z_][A-Z0-9_]*=)")  # commas inside values (clamps) stay


@dataclass(frozen=True)
class Variant:
    name: str
    env: dict[str, str]

    def spec(self) -> str:
        return f"{self.name}=" + ",".join(f"{key}={value}" for key, value in self.env.items())


# Switch strengths are fixed at half strength, not tuned on this data (docs/ablation.md).
DEFAULT_VARIANTS = (
    Variant(BASELINE, {}),
    Variant("bpb", {"BPB_WEIGHTED_LOSS": "1"}),
    Variant("token_gain", {"PRECISION_GAIN": "0.5"}),
    Variant("layer_gain", {"LAYER_GAIN": "0.5"}),
    Variant("all", {"BPB_WEIGHTED_LOSS": "1", "PRECISION_GAIN": "0.5", "LAYER_GAIN": "0.5"}),
)


def parse_variant(spec: str) -> Variant:
    """`NAME=ENV[,ENV...]`, e.g. `gain1=PRECISION_GAIN=1.0,PRECISION_GAIN_CLAMP=0.1,5.0`; `NAME=` is no change."""
    name, sep, rest = spec.partition("=")
    if not sep or not _VARIANT_NAME.match(name):
        raise InputError(f"--variant {spec!r}: needs NAME=ENV[,ENV...] with NAME of letters, digits, _ . -")
    env = {}
    for assignment in filter(None, _NEXT_ASSIGNMENT.split(rest)):
        if not _ENV_ASSIGNMENT.match(assignment):
            raise InputError(f"--variant {spec!r}: {assignment!r} is not KEY=VALUE with an upper-case KEY")
        key, _, value = assignment.partition("=")
        env[key] = value
    return Variant(name, env)


def with_baseline(variants: list[Variant]) -> list[Variant]:
    """The variants with `baseline` (every switch off) first; added when the caller left it out."""
    names = [variant.name for variant in variants]
    if len(set(names)) != len(names):
        raise InputError(f"variant names repeat: {', '.join(names)}; give each --variant its own NAME")
    baseline = [variant for variant in variants if variant.name == BASELINE] or [DEFAULT_VARIANTS[0]]
    return baseline + [variant for variant in variants if variant.name != BASELINE]


@dataclass(frozen=True)
class DataStats:
    """What one run sees: training tokens per run and epochs of the training split."""

    train_tokens: int
    val_tokens: int
    tokens_per_run: int
    epochs: float
    unigram_val_loss: float  # nats/token of the train unigram (add-one) on validation


def data_stats(data_dir: Path, env: dict[str, str]) -> DataStats:
    train_files = sorted(Path(data_dir).glob("fineweb_train_*.bin"))
    val_files = sorted(Path(data_dir).glob("fineweb_val_*.bin"))
    if not train_files or not val_files:
        raise InputError(f"{data_dir}: no fineweb_train_*.bin / fineweb_val_*.bin shards; build them with "
                         "tools/make_smoke_data.py --corpus stdlib --out DIR")
    train_tokens = sum(shard_token_count(path) for path in train_files)
    val_tokens = sum(shard_token_count(path) for path in val_files)
    tokens_per_run = int(env["ITERATIONS"]) * int(env["TRAIN_BATCH_TOKENS"])
    return DataStats(train_tokens, val_tokens, tokens_per_run, tokens_per_run / train_tokens,
                     unigram_loss(train_files, val_files, int(env["VOCAB_SIZE"])))


def unigram_loss(train_files: list[Path], val_files: list[Path], vocab_size: int) -> float:
    """Cross-entropy of validation under the add-one unigram of training: the bar a model must clear."""
    counts = np.ones(vocab_size, dtype=np.float64)
    for path in train_files:
        counts += np.bincount(read_shard(path), minlength=vocab_size)[:vocab_size]
    val = np.concatenate([read_shard(path) for path in val_files])
    return float(-np.log(counts[val[1:]] / counts.sum()).mean())


@dataclass(frozen=True)
class RunResult:
    """One (variant, seed) run; figures are None unless status is done/skipped with a complete log."""

    variant: str
    seed: int
    status: str
    message: str
    val_bpb: float | None = None
    val_loss: float | None = None
    step_ms: float | None = None
    total_bytes: int | None = None

    @property
    def ok(self) -> bool:
        return self.val_bpb is not None


def result_from_seed_run(variant: str, run: SeedRun) -> RunResult:
    if run.status not in ("done", "skipped"):
        return RunResult(variant, run.seed, run.status, run.message)
    log = parse_log_file(run.log_path)
    total = log.total_bytes.value if log.total_bytes is not None else None
    return RunResult(variant, run.seed, run.status, run.message, log.final.val_bpb, log.final.val_loss,
                     log.median_step_ms, total)


@dataclass(frozen=True)
class Row:
    """One table line. Paired figures use the seeds where both this variant and the baseline completed."""

    variant: str
    n: int
    failed: int
    bpb_mean: float | None
    bpb_std: float | None
    delta_bpb: float | None
    p_two_sided: float | None
    p_margin: float | None
    step_ratio: float | None
    bytes_mean: float | None


def compare(results: list[RunResult], variants: list[Variant]) -> list[Row]:
    by_variant = {variant.name: {r.seed: r for r in results if r.variant == variant.name} for variant in variants}
    baseline = {seed: r for seed, r in by_variant[BASELINE].items() if r.ok}
    return [_row(name, runs, baseline) for name, runs in by_variant.items()]


def _row(name: str, runs: dict[int, RunResult], baseline: dict[int, RunResult]) -> Row:
    done = [r for r in runs.values() if r.ok]
    failed = len(runs) - len(done)
    bpb_mean, bpb_std = (_finite(value) for value in mean_std([r.val_bpb for r in done]))
    sizes = [r.total_bytes for r in done if r.total_bytes is not None]
    bytes_mean = float(np.mean(sizes)) if sizes else None
    pairs = [(r, baseline[r.seed]) for r in done if r.seed in baseline]
    if name == BASELINE or not pairs:
        return Row(name, len(done), failed, bpb_mean, bpb_std, None, None, None, None, bytes_mean)
    bpb_test = paired_test([v.val_bpb for v, _ in pairs], [b.val_bpb for _, b in pairs])
    loss_deltas = [v.val_loss - b.val_loss for v, b in pairs]
    margin_test = one_sample_vs_sota(loss_deltas, 0.0, RECORD_MARGIN_NATS)
    return Row(name, len(pairs), failed, bpb_mean, bpb_std, bpb_test.mean, _finite(bpb_test.p),
               _finite(margin_test.p), _step_ratio(pairs), bytes_mean)


def _step_ratio(pairs: list[tuple[RunResult, RunResult]]) -> float | None:
    timed = [(v.step_ms, b.step_ms) for v, b in pairs if v.step_ms and b.step_ms]
    if not timed:
        return None
    return float(np.mean([v for v, _ in timed]) / np.mean([b for _, b in timed]))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


HEADERS = ("variant", "n", "val_bpb mean ± std", "Δ vs baseline", "p (2-sided)",
           "p (Δloss<-0.005)", "step time ×", "artifact bytes")


def _cells(row: Row) -> tuple[str, ...]:
    n = f"{row.n}" + (f" ({row.failed} failed)" if row.failed else "")
    spread = f"{row.bpb_mean:.4f} ± {row.bpb_std:.4f}" if row.bpb_std is not None else _num(row.bpb_mean, 4)
    return (row.variant, n, spread, _num(row.delta_bpb, 4, signed=True), _num(row.p_two_sided, 3),
            _num(row.p_margin, 3), _num(row.step_ratio, 2), _num(row.bytes_mean, 0, thousands=True))


def _num(value: float | None, decimals: int, signed: bool = False, thousands: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:{'+' if signed else ''}{',' if thousands else ''}.{decimals}f}"


def render_text(rows: list[Row]) -> str:
    table = [HEADERS] + [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table)


def render_markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join("---" for _ in HEADERS) + "|"]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def describe(config: str, env: dict[str, str], stats: DataStats, nproc: int, data_dir: Path) -> list[str]:
    """The lines that say what was run: model, steps, tokens seen, epochs, data order."""
    return [
        f"config {config}: {env['NUM_LAYERS']} layers x {env['MODEL_DIM']} dim, vocab {env['VOCAB_SIZE']}, "
        f"seq {env['TRAIN_SEQ_LEN']}, {int(env['ITERATIONS'])} steps x {int(env['TRAIN_BATCH_TOKENS']):,} tokens "
        f"(warmdown {env['WARMDOWN_ITERS']}), nproc {nproc}, OMP_NUM_THREADS={env['OMP_NUM_THREADS']}",
        f"data {data_dir}: train {stats.train_tokens:,} tokens, val {stats.val_tokens:,} tokens "
        "(disjoint documents)",
        f"each run sees {stats.tokens_per_run:,} training tokens = {stats.epochs:.2f} epochs, "
        "in the same order for every variant and seed (the seed changes only the init)",
    ]


def notes(results: list[RunResult], stats: DataStats) -> list[str]:
    """The lines under the table: the unigram bar, what the columns mean, and every failed run."""
    base_losses = [r.val_loss for r in results if r.variant == BASELINE and r.ok]
    lines = []
    if base_losses:
        lines.append(f"baseline val_loss {np.mean(base_losses):.4f} nats/token vs {stats.unigram_val_loss:.4f} for "
                     "the training unigram: the model is well past the unigram stage"
                     if np.mean(base_losses) < stats.unigram_val_loss - 0.5 else
                     f"baseline val_loss {np.mean(base_losses):.4f} is not 0.5 nats below the training "
                     f"unigram's {stats.unigram_val_loss:.4f}: too short to say anything about the switches")
    lines += [
        "Δ vs baseline: mean per-seed val_bpb difference over seeds where both runs completed (n)",
        "p (2-sided): paired t-test on the per-seed val_bpb differences",
        "p (Δloss<-0.005): one-sided one-sample t-test that the mean per-seed val_loss difference is below "
        "-0.005 nats (the challenge's record rule, golf.stats.one_sample_vs_sota)",
        "step time ×: mean median-step time against the baseline's on the same seeds; measured on a shared "
        "CPU, so it is noisy",
        "artifact bytes: int8+zlib model plus the trainer's code, mean over completed runs",
    ]
    lines += [f"FAILED {r.variant} seed {r.seed} ({r.status}, excluded): {r.message}" for r in results if not r.ok]
    return lines


def render_report(header: list[str], rows: list[Row], note_lines: list[str], command: str) -> str:
    parts = ["# Ablation", "", f"`{command}`", ""] + [f"- {line}" for line in header]
    parts += ["", render_markdown(rows), ""] + [f"- {line}" for line in note_lines]
    return "\n".join(parts) + "\n"


def report_json(rows: list[Row], results: list[RunResult], variants: list[Variant],
                env: dict[str, str], stats: DataStats) -> str:
    return json.dumps({
        "config": env,
        "variants": {variant.name: variant.env for variant in variants},
        "data": asdict(stats),
        "tests": {"p_two_sided": "paired t-test on per-seed val_bpb differences, two-sided",
                  "p_margin": "one-sided one-sample t-test that mean per-seed val_loss difference "
                              "(variant - baseline) < -0.005 nats"},
        "rows": [asdict(row) for row in rows],
        "runs": [asdict(result) for result in results],
    }, indent=2, ensure_ascii=False)


MANIFEST_NAME = "ablation_manifest.json"


def check_manifest(out_dir: Path, env: dict[str, str], variants: list[Variant]) -> None:
    """Record the config and variants in out_dir; refuse to mix runs of different settings."""
    path = Path(out_dir) / MANIFEST_NAME
    manifest = {"config": env, "variants": {variant.name: variant.env for variant in variants}}
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        changed = [key for key in sorted(set(env) | set(old["config"])) if env.get(key) != old["config"].get(key)]
        changed += [name for name, venv in manifest["variants"].items() if old["variants"].get(name, venv) != venv]
        if changed:
            raise InputError(f"{out_dir} holds runs made with other settings ({', '.join(changed)} differ): "
                             "pass another --out, or delete the folder to start over")
        manifest["variants"] = {**old["variants"], **manifest["variants"]}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
