"""Record folders from a patch series, and their submission.json and README results from logs.

Public API:
    create_record(name, patch_paths, track, base, records_root, day) -> Path   (make_record.py)
    seed_results(record) -> list[SeedResult]    every figure with the log line it came from
    build_submission(record, previous, result, author, github_id) -> dict       (make_submission.py)
    results_markdown(results, submission) -> str
    fill_readme(readme_text, markdown) -> str
    write_json(path, data)                      atomic (temp file + os.replace)

A draft (make_record) holds only what is known before any run: name, date, track, the patches
and the code size on disk; every result is null and `status` is "draft". make_submission fills
the results from the logs' final lines, and the compliance flags and significance figures from
the checker's RecordResult (golf.checks), so the numbers have one source each.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from golf import stats
from golf.checks import TRACKS
from golf.findings import FAIL, INFO, PASS, WARN, InputError
from golf.patches import REPO_ROOT, SCRIPT_NAME, materialise, read_patch, sha256_bytes, write_provenance
from golf.record import Record
from golf.render import json_safe
from golf.rules import COMPLIANCE_IDS

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
RESULTS_START = "<!-- results:start (tools/make_submission.py fills this) -->"
RESULTS_END = "<!-- results:end -->"
# Third-party modules a script may import, and their pip names, for the record's requirements.txt.
OPTIONAL_PACKAGES = {"zstandard": "zstandard", "flash_attn": "flash-attn  # optional: used when FLASH_ATTN=1",
                     "brotli": "brotli"}
# submission.json compliance flags and the checker ids they are read from.
COMPLIANCE_FLAGS = {
    "artifact_under_16mb": "artifact_size",
    "train_under_600s": "train_time",
    "eval_under_600s": "eval_time",
    "three_seeds": "seeds",
    "reproducible_from_patches": "provenance",
}
STATUS_ORDER = {INFO: 0, PASS: 1, WARN: 2, FAIL: 3}


# ---------------------------------------------------------------------------------------------
# make_record


def record_folder(records_root: Path, track: str, name: str, day: str) -> Path:
    return Path(records_root) / f"track_{track}" / f"{day}_{name}"


def create_record(name: str, patch_paths: list[Path], track: str, base: Path, records_root: Path,
                  day: str | None = None) -> Path:
    """Materialise base + patches into a new record folder; never touches an existing one."""
    if not NAME.match(name):
        raise InputError(f"NAME {name!r} must be letters, digits, '_', '-' or '.', no spaces (e.g. EMA_Int6_Sliding)")
    if track not in TRACKS:
        raise InputError(f"--track {track!r} must be one of {', '.join(TRACKS)}")
    day = day or date.today().isoformat()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        raise InputError(f"--date {day!r} must be YYYY-MM-DD")
    folder = record_folder(records_root, track, name, day)
    if folder.exists():
        raise InputError(f"{folder} already exists; pick another NAME or remove the folder first")
    base_text = _read_base(base)
    script = materialise(base_text, patch_paths).encode("utf-8")
    patches = [read_patch(path) for path in patch_paths]
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (staging / SCRIPT_NAME).write_bytes(script)
        write_provenance(staging, base, patch_paths, script)
        _write_requirements(staging, script.decode("utf-8"))
        draft = draft_submission(name, day, track, patches, len(script))
        write_json(staging / "submission.json", draft)
        (staging / "README.md").write_text(readme_skeleton(draft, patches, base, script, folder), encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp makes it private
        os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _read_base(base: Path) -> str:
    try:
        return Path(base).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"--base {base}: no such file; pass the trainer the patches were made against") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"--base {base}: cannot be read as UTF-8 ({error})") from None


def _write_requirements(folder: Path, script: str) -> None:
    used = [pip for module, pip in OPTIONAL_PACKAGES.items() if re.search(rf"^\s*(?:import|from) {module}\b", script, re.M)]
    if used:
        (folder / "requirements.txt").write_text("\n".join(used) + "\n", encoding="utf-8")


def draft_submission(name: str, day: str, track: str, patches: list, code_bytes: int) -> dict:
    """Only what is known before any run; every result is null until make_submission fills it."""
    return {
        "name": name,
        "author": None,
        "github_id": None,
        "date": day,
        "track": track,
        "status": "draft",
        "blurb": "; ".join(patch.title for patch in patches) or "The golf harness trainer, unpatched.",
        "patches": [patch.name for patch in patches],
        "val_bpb": None,
        "val_bpb_std": None,
        "val_loss": None,
        "val_loss_std": None,
        "seeds": [],
        "seed_results": {},
        "bytes_total": None,
        "bytes_code": code_bytes,
        "hardware": None,
        "pytorch_version": None,
        "compliance": None,
        "significance": None,
    }


def readme_skeleton(draft: dict, patches: list, base: Path, script: bytes, folder: Path) -> str:
    track_line = (
        "Track: `10min_16mb` (8xH100 SXM, at most 600 s of training and 600 s of evaluation, "
        "artifact at most 16,000,000 bytes)." if draft["track"] == "10min_16mb" else
        "Track: `non_record_16mb`. Non-record submission: unlimited compute and any hardware; the "
        "16,000,000-byte artifact cap still applies."
    )
    listed = [f"{i}. **{patch.title}** (`{patch.path.name}`). {patch.fields.get('What', '')} "
              f"Evaluation: {patch.fields.get('Evaluation', 'not stated')}" for i, patch in enumerate(patches, 1)]
    base_name = _shown(base)
    return "\n".join([
        f"# {draft['name']}",
        "",
        track_line,
        "",
        "TODO: one paragraph on the idea and why it should help.",
        "",
        "## What changed",
        "",
        f"`train_gpt.py` is `{base_name}` (sha256 `{sha256_bytes(Path(base).read_bytes())[:16]}`) with "
        + ("these patches applied in order (`PATCHES` lists each with its sha256):" if patches else "no patches."),
        "",
        *(listed or ["(none)"]),
        "",
        "## How to run",
        "",
        "```bash",
        f"cd {_shown(folder)}",
        "python ../../../tools/run_seeds.py . --seeds 42 314 999 --nproc 8",
        "python ../../../tools/make_submission.py . --sota <current record BPB or folder>",
        "```",
        "",
        "Each seed is `SEED=<seed> RUN_ID=train_seed<seed> torchrun --standalone --nproc_per_node=8 train_gpt.py`.",
        "",
        "## Results",
        "",
        RESULTS_START,
        "No runs yet: tools/run_seeds.py writes the logs, tools/make_submission.py fills this table.",
        RESULTS_END,
        "",
    ])


def _shown(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------
# make_submission


@dataclass(frozen=True)
class SeedResult:
    """One seed's figures, each read from a labelled log line (`line` is the score line)."""

    seed: str
    log: str
    line: int
    val_loss: float
    val_bpb: float
    artifact_bytes: int | None
    model_bytes: int | None
    code_bytes: int | None
    steps: int | None
    train_time_ms: float | None
    eval_time_ms: float | None
    step_avg_ms: float | None
    hardware: str | None
    pytorch_version: str | None

    def to_json(self) -> dict:
        return {
            "val_bpb": self.val_bpb, "val_loss": self.val_loss, "artifact_bytes": self.artifact_bytes,
            "bytes_model": self.model_bytes, "steps": self.steps, "train_time_ms": self.train_time_ms,
            "eval_time_ms": self.eval_time_ms, "step_avg_ms": self.step_avg_ms, "source": f"{self.log}:{self.line}",
        }


def seed_results(record: Record) -> list[SeedResult]:
    """Complete seeds of a loaded record, in seed order."""
    results = []
    for row in record.seeds:
        if not row.complete:
            continue
        score, train = row.score_log.run, (row.train_log or row.score_log).run
        results.append(SeedResult(
            seed=row.seed, log=row.score_log.name, line=row.final.line,
            val_loss=row.final.val_loss, val_bpb=row.final.val_bpb,
            artifact_bytes=_value(train.total_bytes), model_bytes=_value(train.model_bytes), code_bytes=_value(train.code_bytes),
            steps=_value(train.final_step) if train.final_step else (train.steps[-1].step if train.steps else None),
            train_time_ms=_value(train.train_time_ms), eval_time_ms=score.eval_time_ms,
            step_avg_ms=train.median_step_ms, hardware=_hardware(train), pytorch_version=train.pytorch_version,
        ))
    return results


def _value(located):
    return located.value if located is not None else None


def _hardware(run) -> str | None:
    """`8x NVIDIA H100 80GB HBM3` from the GPU listing, else `1x cpu` from the world_size/device lines."""
    gpus = [str(gpu.value) for gpu in run.gpu_lines]
    if gpus:
        return " + ".join(f"{gpus.count(name)}x {name}" for name in dict.fromkeys(gpus))
    device, world = run.settings.get("device"), run.settings.get("world_size")
    return f"{world}x {device}" if device and world else None


def build_submission(record: Record, previous: dict, result, author: str | None, github_id: str | None) -> dict:
    """submission.json from the logs (results) and the checker's result (compliance, significance)."""
    results = seed_results(record)
    if not results:
        raise InputError(f"{record.path}: no log with a final val_loss/val_bpb line; run tools/run_seeds.py first")
    losses, bpbs = [r.val_loss for r in results], [r.val_bpb for r in results]
    mean_loss, std_loss = stats.mean_std(losses)
    mean_bpb, std_bpb = stats.mean_std(bpbs)
    artifacts = [r.artifact_bytes for r in results if r.artifact_bytes is not None]
    data = dict(previous)
    data.update({
        "author": author if author is not None else previous.get("author"),
        "github_id": github_id if github_id is not None else previous.get("github_id"),
        "status": "draft",
        "val_bpb": round(mean_bpb, 8),
        "val_bpb_std": _finite(std_bpb),
        "val_loss": round(mean_loss, 8),
        "val_loss_std": _finite(std_loss),
        "seeds": [int(r.seed) if r.seed.isdigit() else r.seed for r in results],
        "seed_results": {r.seed: r.to_json() for r in results},
        "bytes_total": max(artifacts) if artifacts else None,
        "bytes_code": _same(r.code_bytes for r in results),
        "train_time_s_mean": _mean_seconds(r.train_time_ms for r in results),
        "eval_time_s_mean": _mean_seconds(r.eval_time_ms for r in results),
        "hardware": _same(r.hardware for r in results),
        "pytorch_version": _same(r.pytorch_version for r in results),
    })
    if result is not None:
        data.update(checked(result))
    return data


def checked(result) -> dict:
    """Status, compliance flags and significance, all from golf.checks.RecordResult."""
    statuses = result.statuses()
    flags = {flag: _flag(statuses.get(check_id)) for flag, check_id in COMPLIANCE_FLAGS.items()}
    # One flag for the evaluation rules (ttt, slot, ...): the worst of their statuses.
    rules = [status for check_id, status in statuses.items() if check_id in COMPLIANCE_IDS]
    flags["evaluation_rules"] = _flag(max(rules, key=STATUS_ORDER.__getitem__)) if rules else None
    flags.update(policy=result.policy, checker_verdict=result.verdict, checks=statuses)
    significance = json_safe({key: value for key, value in result.stats.items() if key != "seeds"}) or None
    return {"status": "ready" if result.verdict == "pass" else "check_failed", "compliance": flags,
            "significance": significance}


def _flag(status: str | None) -> bool | None:
    """PASS is true, FAIL is false; WARN, INFO or not run leave the flag open (null)."""
    return True if status == PASS else False if status == FAIL else None


def _finite(value: float) -> float | None:
    return round(value, 8) if math.isfinite(value) else None


def _same(values):
    distinct = list(dict.fromkeys(v for v in values if v is not None))
    return distinct[0] if len(distinct) == 1 else (distinct or None)


def _mean_seconds(values) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present) / 1000.0, 3) if present else None


# ---------------------------------------------------------------------------------------------
# README results


def results_markdown(results: list[SeedResult], submission: dict) -> str:
    rows = [
        "| Seed | val_loss (nats) | val_bpb | Artifact bytes | Steps | Train time | Eval time | Score line |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        rows.append(f"| {r.seed} | {r.val_loss:.8f} | {r.val_bpb:.8f} | {_int(r.artifact_bytes)} | {_int(r.steps)} "
                    f"| {_seconds(r.train_time_ms)} | {_seconds(r.eval_time_ms)} | `{r.log}:{r.line}` |")
    n = len(results)
    rows.append(f"| **Mean of {n}** | {submission['val_loss']:.8f} ± {_std(submission['val_loss_std'])} "
                f"| **{submission['val_bpb']:.8f}** ± {_std(submission['val_bpb_std'])} | max {_int(submission['bytes_total'])} | | | | |")
    lines = ["", *rows, "", f"Hardware: {submission.get('hardware') or 'not in the logs'}; "
             f"PyTorch {submission.get('pytorch_version') or 'not in the logs'}. Every figure above is read from the "
             "logs by tools/make_submission.py (± is the sample standard deviation)."]
    lines += significance_lines(submission.get("significance"))
    compliance = submission.get("compliance")
    if compliance:
        lines += ["", f"tools/check_submission.py ({compliance['policy']} policy): **{compliance['checker_verdict']}**."]
    return "\n".join(lines) + "\n"


def significance_lines(figures: dict | None) -> list[str]:
    if not figures or "sota" not in figures:
        return ["", "Significance: not computed (run tools/make_submission.py with --sota)."]
    sota, written = figures["sota"], figures["written_rule"]
    lines = ["", f"Against {sota['source']} ({sota['val_bpb']:.6f} bpb): gap {figures['gap_bpb']:+.5f} bpb = "
                 f"{figures['gap_nats_per_token']:+.5f} nats/token (ratio {figures['nats_per_bpb']:.4f}) = "
                 f"{figures['gap_nats_per_byte']:+.5f} nats/byte.",
             f"One-sided one-sample t-test of val_loss against SOTA − 0.005 nats: {_test(written)}."]
    if figures.get("welch_written"):
        lines.append(f"Welch t-test against the SOTA's per-seed val_loss: {_test(figures['welch_written'])}.")
    return lines


def _test(test: dict) -> str:
    if test.get("p") is None:
        return f"not computable ({test.get('detail')})"
    verdict = "passes" if test.get("passed") else "fails"
    return f"t = {test['t']:.3f}, df = {test['df']:.2f}, p = {test['p']:.4g} ({verdict} p < 0.01)"


def _int(value) -> str:
    return f"{value:,}" if isinstance(value, int) else "n/a"


def _seconds(ms: float | None) -> str:
    return f"{ms / 1000:.1f} s" if ms is not None else "n/a"


def _std(value: float | None) -> str:
    return f"{value:.8f}" if value is not None else "n/a"


def fill_readme(text: str, markdown: str) -> str:
    """Replace what sits between the results markers; append a Results section when they are missing."""
    start, end = text.find(RESULTS_START), text.find(RESULTS_END)
    if start == -1 or end < start:
        return text.rstrip("\n") + f"\n\n## Results\n\n{RESULTS_START}\n{markdown}{RESULTS_END}\n"
    return text[:start + len(RESULTS_START)] + "\n" + markdown + text[end:]


def write_json(path: Path, data: dict) -> None:
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def read_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: not readable JSON ({error}); fix or delete it") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: holds a JSON {type(data).__name__}, not an object")
    return data


def record_path(folder: Path) -> str:
    """The record folder as the root submission.json names it: relative to the harness root when inside."""
    return _shown(folder)


# ---------------------------------------------------------------------------------------------
# Curves (tools/plot_logs.py)


@dataclass(frozen=True)
class Curve:
    """One seed's `step:` lines as (step, train_time_ms, value) points."""

    seed: str
    train_loss: tuple[tuple[int, float | None, float], ...]
    val_bpb: tuple[tuple[int, float | None, float], ...]


def seed_curves(record: Record) -> list[Curve]:
    """Training-loss and validation-BPB points of every seed's training log, in seed order."""
    curves = []
    for row in record.seeds:
        log = row.train_log or row.score_log
        steps = log.run.steps if log is not None else []
        train = tuple((s.step, s.train_time_ms, s.train_loss) for s in steps if s.train_loss is not None)
        val = tuple((s.step, s.train_time_ms, s.val_bpb) for s in steps if s.val_bpb is not None)
        if train or val:
            curves.append(Curve(row.seed, train, val))
    return curves
