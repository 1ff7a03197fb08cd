"""A paired ablation of the trainer's switches: every variant on the same seeds and data order.

Public API:
    ABLATION_ENV, TINY_ABLATION_ENV, CONFIGS   the short arm's run configs (`--config ablation|tiny`)
    with_steps(env, steps), LONG_FACTOR        a config at other steps; the long arm runs LONG_FACTOR x
    SWITCHES_OFF                               the baseline: every switch off, whatever the caller's env
    Variant, DEFAULT_VARIANTS, LONG_VARIANTS, parse_variant(spec), with_baseline(variants)
    Arm, arms(...)                             the short arm (every variant) and the long arm (trajectory)
    DataStats, data_stats(data_dir, env)       tokens, epochs and the unigram loss of a data set
    RunResult, result_from_seed_run(arm, variant, seed_run)
    Row, compare(results, variants)            the table: one Row per variant against its reference
    trajectory(results, variants)              mean paired Δval_bpb at every validated step
    render_text(rows), render_markdown(rows), render_trajectory(...), render_report(...), report_json(...)
    check_manifest(out_dir, arms)              refuse to resume a folder made with other settings

Pairing: the seed sets the model init; the trainer streams the shards in order, so every variant
and seed sees the same tokens in the same order. A variant is compared with its reference (the
baseline, or the clipped baseline for a clipped variant) only on seeds where both runs
completed; failed runs are listed, never averaged.

Tests per variant against its reference, on per-seed paired differences d = variant - reference:
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

# The smoke model (4x128, seq 256) on 4,096-token batches for 200 steps, validated every 25 steps
# (8 points of a trajectory) with the final model's predictive entropy: about 2 min a run on one
# CPU core. The long arm runs LONG_FACTOR x the steps for the trajectory question.
ABLATION_ENV = {
    **SMOKE_ENV,
    "TRAIN_BATCH_TOKENS": "4096",
    "ITERATIONS": "200",
    "WARMDOWN_ITERS": "60",
    "VAL_LOSS_EVERY": "25",
    "TRAIN_LOG_EVERY": "25",
    "VAL_ENTROPY": "1",
}
TINY_ABLATION_ENV = {**TINY_ENV, "VAL_LOSS_EVERY": "3", "VAL_ENTROPY": "1"}
CONFIGS = {"ablation": ABLATION_ENV, "tiny": TINY_ABLATION_ENV}
LONG_FACTOR = 4
SWITCHES_OFF = {"BPB_WEIGHTED_LOSS": "0", "PRECISION_GAIN": "0", "LAYER_GAIN": "0", "GRAD_CLIP_NORM": "0"}
BASELINE = "baseline"

_VARIANT_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
_NEXT_ASSIGNMENT = re.compile(r",(?=[A-Z_][A-Z0-9_]*=)")  # commas inside values (clamps) stay
_ENTROPY = re.compile(r"_entropy val_entropy:([0-9.]+)")


@dataclass(frozen=True)
class Variant:
    name: str
    env: dict[str, str]
    against: str = BASELINE  # the variant it is paired with

    def spec(self) -> str:
        return f"{self.name}=" + ",".join(f"{key}={value}" for key, value in self.env.items())


# The sources' strengths, fixed before any run: token gain s = 1.0 and layer gain t = 0.5 over every
# layer (the precision-weighted-training paper's Phase-3 config), PR #1519's byte table.
# GRAD_CLIP_NORM=0.3 is a value merged records use; clipping after layer gain is the paper's order.
TOKEN_GAIN = {"PRECISION_GAIN": "1.0"}
LAYER_GAIN = {"LAYER_GAIN": "0.5"}
CLIP = {"GRAD_CLIP_NORM": "0.3"}
DEFAULT_VARIANTS = (
    Variant(BASELINE, {}),
    Variant("bpb", {"BPB_WEIGHTED_LOSS": "1"}),
    Variant("bpb_position", {"BPB_WEIGHTED_LOSS": "position"}),
    Variant("token_gain", TOKEN_GAIN),
    Variant("layer_gain", LAYER_GAIN),
    Variant("layer_gain_excl0", {**LAYER_GAIN, "LAYER_GAIN_EXCLUDE": "0"}),
    Variant("gain", {**TOKEN_GAIN, **LAYER_GAIN}),
    Variant("layer_const", {**LAYER_GAIN, "LAYER_GAIN_CLAMP": "2.0,2.0"}),
    Variant("baseline_clip", CLIP),
    Variant("gain_clip", {**TOKEN_GAIN, **LAYER_GAIN, **CLIP}, against="baseline_clip"),
)
LONG_VARIANTS = (DEFAULT_VARIANTS[0], DEFAULT_VARIANTS[1])


def with_steps(env: dict[str, str], steps: int) -> dict[str, str]:
    """env at ITERATIONS=steps: warmdown over the last 30%, validation at 8 evenly spaced steps."""
    every = str(max(steps // 8, 1))
    return {**env, "ITERATIONS": str(steps), "WARMDOWN_ITERS": str(int(0.3 * steps)),
            "VAL_LOSS_EVERY": every, "TRAIN_LOG_EVERY": every}


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
    missing = sorted({variant.against for variant in variants} - set(names) - {BASELINE})
    if missing:
        raise InputError(f"variants are paired with {', '.join(missing)}, which is not run; add it with --variant")
    baseline = [variant for variant in variants if variant.name == BASELINE] or [DEFAULT_VARIANTS[0]]
    return baseline + [variant for variant in variants if variant.name != BASELINE]


@dataclass(frozen=True)
class Arm:
    """One set of runs: its name (also its subfolder, "" for the short arm), config, variants, seeds."""

    name: str
    folder: str
    env: dict[str, str]
    variants: tuple[Variant, ...]
    seeds: int


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
                         "tools/make_smoke_data.py --corpus docs --out DIR")
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
    """One (arm, variant, seed) run; figures are None unless status is done/skipped with a complete log."""

    variant: str
    seed: int
    status: str
    message: str
    val_bpb: float | None = None
    val_loss: float | None = None
    step_ms: float | None = None
    total_bytes: int | None = None
    entropy: float | None = None
    trajectory: tuple[tuple[int, float], ...] = ()  # (step, val_bpb) of the periodic validations
    arm: str = "short"

    @property
    def ok(self) -> bool:
        return self.val_bpb is not None


def result_from_seed_run(arm: str, variant: str, run: SeedRun) -> RunResult:
    if run.status not in ("done", "skipped"):
        return RunResult(variant, run.seed, run.status, run.message, arm=arm)
    log = parse_log_file(run.log_path)
    total = log.total_bytes.value if log.total_bytes is not None else None
    entropy = _ENTROPY.search(Path(run.log_path).read_text(encoding="utf-8", errors="replace"))
    trajectory = tuple((s.step, s.val_bpb) for s in log.steps if s.val_bpb is not None and s.step > 0)
    return RunResult(variant, run.seed, run.status, run.message, log.final.val_bpb, log.final.val_loss,
                     log.median_step_ms, total, float(entropy.group(1)) if entropy else None, trajectory, arm)


@dataclass(frozen=True)
class Row:
    """One table line. Paired figures use the seeds where both this variant and its reference completed."""

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
    entropy_mean: float | None = None
    delta_entropy: float | None = None
    against: str = BASELINE


def _by_seed(results: list[RunResult], name: str) -> dict[int, RunResult]:
    return {r.seed: r for r in results if r.variant == name}


def compare(results: list[RunResult], variants: list[Variant]) -> list[Row]:
    return [_row(variant, _by_seed(results, variant.name),
                 {seed: r for seed, r in _by_seed(results, variant.against).items() if r.ok})
            for variant in variants]


def _row(variant: Variant, runs: dict[int, RunResult], reference: dict[int, RunResult]) -> Row:
    done = [r for r in runs.values() if r.ok]
    failed = len(runs) - len(done)
    bpb_mean, bpb_std = (_finite(value) for value in mean_std([r.val_bpb for r in done]))
    sizes = [r.total_bytes for r in done if r.total_bytes is not None]
    bytes_mean = float(np.mean(sizes)) if sizes else None
    entropy_mean = _mean_or_none([r.entropy for r in done])
    pairs = [(r, reference[r.seed]) for r in done if r.seed in reference]
    if variant.name == BASELINE or not pairs:
        return Row(variant.name, len(done), failed, bpb_mean, bpb_std, None, None, None, None, bytes_mean,
                   entropy_mean, None, variant.against)
    bpb_test = paired_test([v.val_bpb for v, _ in pairs], [b.val_bpb for _, b in pairs])
    loss_deltas = [v.val_loss - b.val_loss for v, b in pairs]
    margin_test = one_sample_vs_sota(loss_deltas, 0.0, RECORD_MARGIN_NATS)
    delta_entropy = _mean_or_none([v.entropy - b.entropy for v, b in pairs
                                   if v.entropy is not None and b.entropy is not None])
    return Row(variant.name, len(pairs), failed, bpb_mean, bpb_std, bpb_test.mean, _finite(bpb_test.p),
               _finite(margin_test.p), _step_ratio(pairs), bytes_mean, entropy_mean, delta_entropy, variant.against)


def _mean_or_none(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return float(np.mean(present)) if present else None


def _step_ratio(pairs: list[tuple[RunResult, RunResult]]) -> float | None:
    timed = [(v.step_ms, b.step_ms) for v, b in pairs if v.step_ms and b.step_ms]
    if not timed:
        return None
    return float(np.mean([v for v, _ in timed]) / np.mean([b for _, b in timed]))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def trajectory(results: list[RunResult], variants: list[Variant]) -> dict[str, dict[int, tuple[float, float | None]]]:
    """Per non-baseline variant, per validated step: (mean paired Δval_bpb vs its reference, paired p)."""
    table = {}
    for variant in variants:
        if variant.name == BASELINE:
            continue
        reference = {seed: dict(r.trajectory) for seed, r in _by_seed(results, variant.against).items() if r.ok}
        runs = {seed: dict(r.trajectory) for seed, r in _by_seed(results, variant.name).items() if r.ok}
        steps = sorted({step for points in runs.values() for step in points})
        table[variant.name] = {step: _step_delta(runs, reference, step) for step in steps}
    return {name: points for name, points in table.items() if points}


def _step_delta(runs: dict, reference: dict, step: int) -> tuple[float, float | None]:
    pairs = [(points[step], reference[seed][step]) for seed, points in runs.items()
             if step in points and step in reference.get(seed, {})]
    test = paired_test([v for v, _ in pairs], [b for _, b in pairs])
    return test.mean, _finite(test.p)


HEADERS = ("variant", "n", "val_bpb mean ± std", "Δ vs", "Δval_bpb", "p (2-sided)", "p (Δloss<-0.005)",
           "entropy", "Δentropy", "step time ×", "artifact bytes")


def _cells(row: Row) -> tuple[str, ...]:
    n = f"{row.n}" + (f" ({row.failed} failed)" if row.failed else "")
    spread = f"{row.bpb_mean:.4f} ± {row.bpb_std:.4f}" if row.bpb_std is not None else _num(row.bpb_mean, 4)
    against = "—" if row.variant == BASELINE else row.against
    return (row.variant, n, spread, against, _num(row.delta_bpb, 4, signed=True), _num(row.p_two_sided, 3),
            _num(row.p_margin, 3), _num(row.entropy_mean, 3), _num(row.delta_entropy, 3, signed=True),
            _num(row.step_ratio, 2), _num(row.bytes_mean, 0, thousands=True))


def _num(value: float | None, decimals: int, signed: bool = False, thousands: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:{'+' if signed else ''}{',' if thousands else ''}.{decimals}f}"


def render_text(rows: list[Row]) -> str:
    table = [HEADERS] + [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table)


def _markdown(headers, lines) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(out + ["| " + " | ".join(line) + " |" for line in lines])


def render_markdown(rows: list[Row]) -> str:
    return _markdown(HEADERS, [_cells(row) for row in rows])


def render_trajectory(points: dict[str, dict[int, tuple[float, float | None]]]) -> str:
    """Rows are steps, columns are variants; each cell the mean paired Δval_bpb (p below 0.05 starred)."""
    if not points:
        return "(no periodic validation in these runs)"
    steps = sorted({step for by_step in points.values() for step in by_step})
    lines = [[str(step)] + [_delta_cell(points[name].get(step)) for name in points] for step in steps]
    return _markdown(["step"] + [f"Δ {name}" for name in points], lines)


def _delta_cell(point: tuple[float, float | None] | None) -> str:
    if point is None:
        return "—"
    delta, p = point
    return _num(delta, 4, signed=True) + ("*" if p is not None and p < 0.05 else "")


def describe(arm: Arm, stats: DataStats, data_dir: Path, nproc: int, jobs: int) -> list[str]:
    """The lines that say what an arm ran: model, steps, tokens seen, epochs, data order."""
    env = arm.env
    return [
        f"{arm.name} arm: {', '.join(v.name for v in arm.variants)} x seeds 1-{arm.seeds}; "
        f"{env['NUM_LAYERS']} layers x {env['MODEL_DIM']} dim, vocab {env['VOCAB_SIZE']}, "
        f"seq {env['TRAIN_SEQ_LEN']}, {int(env['ITERATIONS'])} steps x {int(env['TRAIN_BATCH_TOKENS']):,} tokens "
        f"(warmdown {env['WARMDOWN_ITERS']}, validation every {env['VAL_LOSS_EVERY']} steps), nproc {nproc}, "
        f"OMP_NUM_THREADS={env['OMP_NUM_THREADS']}, {jobs} run(s) at a time",
        f"data {data_dir}: train {stats.train_tokens:,} tokens, val {stats.val_tokens:,} tokens "
        "(disjoint documents)",
        f"each {arm.name}-arm run sees {stats.tokens_per_run:,} training tokens = {stats.epochs:.2f} epochs, "
        "in the same order for every variant and seed (the seed changes only the init)",
    ]


def notes(results: list[RunResult], stats: DataStats) -> list[str]:
    """The lines under the table: the unigram bar, what the columns mean, and every failed run."""
    base_losses = [r.val_loss for r in results if r.variant == BASELINE and r.ok and r.arm == "short"]
    lines = []
    if base_losses:
        lines.append(f"baseline val_loss {np.mean(base_losses):.4f} nats/token vs {stats.unigram_val_loss:.4f} for "
                     "the training unigram: the model is well past the unigram stage"
                     if np.mean(base_losses) < stats.unigram_val_loss - 0.5 else
                     f"baseline val_loss {np.mean(base_losses):.4f} is not 0.5 nats below the training "
                     f"unigram's {stats.unigram_val_loss:.4f}: too short to say anything about the switches")
    lines += [
        "Δ vs: the variant each row is paired with (gain_clip against baseline_clip: both clip gradients)",
        "Δval_bpb: mean per-seed round-trip val_bpb difference over seeds where both runs completed (n)",
        "p (2-sided): paired t-test on the per-seed val_bpb differences",
        "p (Δloss<-0.005): one-sided one-sample t-test that the mean per-seed val_loss difference is below "
        "-0.005 nats (the challenge's record rule, golf.stats.one_sample_vs_sota)",
        "entropy: mean entropy of the round-tripped model's next-token distribution on validation, nats/token "
        "(VAL_ENTROPY=1); Δentropy paired like Δval_bpb",
        "step time ×: mean median-step time against the reference's on the same seeds; measured on a shared "
        "CPU, so it is noisy",
        "artifact bytes: int8+zlib model plus the trainer's code, mean over completed runs",
        "trajectory tables: mean paired Δval_bpb of the periodic validations (pre-export weights) per step; "
        "* marks paired p < 0.05",
    ]
    lines += [f"FAILED {r.arm} {r.variant} seed {r.seed} ({r.status}, excluded): {r.message}"
              for r in results if not r.ok]
    return lines


def render_report(sections: list[tuple[str, list[str], str]], note_lines: list[str], command: str,
                  elapsed: str) -> str:
    """sections: (title, header lines, markdown body) per table."""
    parts = ["# Ablation", "", f"`{command}` ({elapsed})", ""]
    for title, header, body in sections:
        parts += [f"## {title}", ""] + [f"- {line}" for line in header] + ([""] if header else []) + [body, ""]
    return "\n".join(parts + [f"- {line}" for line in note_lines]) + "\n"


def report_json(arms: list[Arm], rows: dict[str, list[Row]], results: list[RunResult],
                stats: dict[str, DataStats]) -> str:
    return json.dumps({
        "arms": {arm.name: {"config": arm.env, "seeds": arm.seeds,
                            "variants": {v.name: {"env": v.env, "against": v.against} for v in arm.variants},
                            "data": asdict(stats[arm.name]), "rows": [asdict(row) for row in rows[arm.name]]}
                 for arm in arms},
        "tests": {"p_two_sided": "paired t-test on per-seed val_bpb differences, two-sided",
                  "p_margin": "one-sided one-sample t-test that mean per-seed val_loss difference "
                              "(variant - reference) < -0.005 nats"},
        "runs": [asdict(result) for result in results],
    }, indent=2, ensure_ascii=False)


MANIFEST_NAME = "ablation_manifest.json"


def check_manifest(out_dir: Path, arms: list[Arm]) -> None:
    """Record each arm's config and variants in out_dir; refuse to mix runs of different settings."""
    path = Path(out_dir) / MANIFEST_NAME
    manifest = {arm.name: {"config": arm.env, "variants": {v.name: v.env for v in arm.variants}} for arm in arms}
    old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    for name, entry in manifest.items():
        before = old.get(name)
        if before is None:
            continue
        config = entry["config"]
        changed = [key for key in sorted(set(config) | set(before["config"]))
                   if config.get(key) != before["config"].get(key)]
        changed += [v for v, venv in entry["variants"].items() if before["variants"].get(v, venv) != venv]
        if changed:
            raise InputError(f"{out_dir} holds {name}-arm runs made with other settings ({', '.join(changed)} "
                             "differ): pass another --out, or delete the folder to start over")
        entry["variants"] = {**before["variants"], **entry["variants"]}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**old, **manifest}, indent=2) + "\n", encoding="utf-8")
