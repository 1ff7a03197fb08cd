"""golf.logs against hand-written logs in every dialect of RULES.md §1, §2 and §6."""
from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from golf.findings import InputError
from golf.logs import (
    HEADER_BUFFER_CHARS,
    MAX_LINE_CHARS,
    choose_final,
    display_label,
    looks_like_train_log,
    matches_claim,
    parse_log_file,
    parse_log_text,
    printed_decimals,
)

FIXTURES = Path(__file__).parent / "fixtures" / "logs"


def line_of(name: str, needle: str) -> int:
    """1-based number of the first physical line of a fixture that starts with `needle`, after any prefix."""
    lines = (FIXTURES / name).read_bytes().decode("utf-8", errors="replace").split("\n")
    return next(number for number, line in enumerate(lines, start=1)
                if line.startswith(needle) or f" {needle}" in line)


# (fixture, final line text start, final val_bpb, exact, model bytes, total bytes, code bytes, seed)
SCORES = [
    ("baseline_train.log", "final_int8_zlib_roundtrip_exact", 1.22436570, True, 15815847, 15863489, 47642, 1337),
    ("train_seed42.log", "final_int6_sliding_window_exact", 1.08201234, True, 15812345, 15911110, 98765, 42),
    ("legal_ttt_seed1337.log", "final_int8_zlib_roundtrip_exact", 1.12008345, True, 15640000, 15711234, 71234, 1337),
    ("quantized_ttt_phased.log", "quantized_ttt_phased", 1.0560, False, 15843552, 15875551, 157868, 42),
    ("failed_ttt_seed42.log", "final_int6_ttt", 1.3360, False, 15901234, 15966666, 65432, 42),
    ("sliding_alias.log", "final_int8_zlib_roundtrip_exact sliding", 1.18512345, True, 15790000, 15839000, None, 2025),
]


@pytest.mark.parametrize("fixture,final_text,bpb,exact,model,total,code,seed", SCORES)
def test_score_sizes_and_seed_per_dialect(fixture, final_text, bpb, exact, model, total, code, seed):
    run = parse_log_file(FIXTURES / fixture)
    assert run.complete
    assert run.final.text.startswith(final_text)
    assert run.final.line == line_of(fixture, final_text + " val_loss")
    assert run.final.val_bpb == pytest.approx(bpb, abs=1e-9)
    assert run.final.exact is exact
    assert run.model_bytes.value == model
    assert run.total_bytes.value == total
    assert (run.code_bytes.value if run.code_bytes else None) == code
    assert run.seed.value == seed


@pytest.mark.parametrize("fixture", sorted(path.name for path in FIXTURES.iterdir()))
def test_text_and_file_parsing_agree(fixture):
    path = FIXTURES / fixture
    from_file = parse_log_file(path)
    from_text = parse_log_text(path.read_bytes().decode("utf-8", errors="replace"), fixture)
    assert from_text == from_file


def test_baseline_header_source_and_hardware():
    run = parse_log_file(FIXTURES / "baseline_train.log")
    assert "import torch" in run.embedded_source
    assert run.embedded_source.splitlines()[0].startswith('"""Tiny stand-in')
    assert all(metric.val_bpb != 9.9999 for metric in run.metric_lines)  # example line inside the docstring
    assert run.seed.line == line_of("baseline_train.log", "seed:1337")  # not SEED=7 from the docstring
    assert [gpu.value for gpu in run.gpu_lines] == ["NVIDIA H100 80GB HBM3"] * 8
    assert run.gpu_lines[0].line == line_of("baseline_train.log", "|   0  NVIDIA H100")
    assert run.python_version == "3.11.7"
    assert run.pytorch_version == "2.13.0+cu128"
    assert run.val_tokens.value == 62021632
    assert run.settings["model_params"] == "17059912"
    assert run.settings["ema"] == "1"  # from the trainer's `switches` line
    assert run.settings["train_loader"] == "dataset:fineweb10B_sp1024"
    assert "token_gain_mean" not in run.settings  # `gain step:` lines come after the header
    assert run.line_count == len((FIXTURES / "baseline_train.log").read_text().splitlines())


def test_baseline_raw_checkpoint_lines_never_count_for_the_cap():
    run = parse_log_file(FIXTURES / "baseline_train.log")
    assert run.raw_model_bytes.value == 67224983
    assert run.raw_total_bytes.value == 67272625
    assert run.model_bytes.line == line_of("baseline_train.log", "Serialized model int8+zlib")
    assert run.size_label == "int8+zlib"


def test_baseline_training_time_steps_and_eval_time():
    run = parse_log_file(FIXTURES / "baseline_train.log")
    assert run.stopped_early.value == "wallclock_cap"
    assert run.train_time_ms.value == 600038
    assert run.train_time_ms.line == line_of("baseline_train.log", "stopping_early")
    assert run.final_step.value == 13780
    assert len(run.steps) == 8
    first_val, last_val = run.steps[0], run.steps[-1]
    assert (first_val.step, first_val.total, first_val.val_bpb) == (0, 20000, 4.1077)
    assert (last_val.val_loss, last_val.train_time_ms, last_val.step_avg_ms) == (2.0606, 600038, 43.54)
    assert run.steps[1].train_loss == 6.9370
    assert run.median_step_ms == pytest.approx(43.5, abs=0.1)
    assert run.eval_time_ms == 1393
    assert run.eval_time_lines == [line_of("baseline_train.log", "final_int8_zlib_roundtrip val_loss:2.0727")]
    assert "_exact twin of line" in run.final_reason


def test_timestamped_spaces_after_colon_and_gptq_lines():
    run = parse_log_file(FIXTURES / "train_seed42.log")
    assert run.seed.line == 0  # from the file name
    assert run.train_time_ms.value == 599592
    assert run.final_step.value == 4945
    assert run.calibration_s.value == 4.7
    assert run.gptq_reserve_s.value == 0.5
    assert run.size_label == "int6+zstd-22"
    assert run.raw_model_bytes.value == 135431233
    assert run.val_tokens.value == 40540160
    assert run.settings["adam_betas"] == "(0.9, 0.95)"
    assert run.settings["num_layers"] == "11"
    assert run.steps[-1].val_bpb == 1.0841
    assert run.eval_time_ms == 9876 + 84512
    assert len(run.eval_time_lines) == 2


def test_legal_ttt_equals_form_and_chained_eval_time():
    run = parse_log_file(FIXTURES / "legal_ttt_seed1337.log")
    done = next(metric for metric in run.metric_lines if metric.label == "ttt_sliding:done")
    assert (done.val_loss, done.val_bpb, done.diagnostic) == (1.891212, 1.120083, False)
    assert [metric.label for metric in run.metric_lines if metric.exact] == [
        "final_int6_roundtrip", "final_int6_sliding_window", "legal_ttt", "final_int8_zlib_roundtrip"]
    assert run.eval_time_ms == 6012 + 74321 + 401456  # roundtrip + sliding + TTT, _exact twins not twice
    assert run.train_time_ms.value == 600128


def test_quantized_ttt_phased_diagnostics_compressed_code_and_total_eval_time():
    run = parse_log_file(FIXTURES / "quantized_ttt_phased.log")
    diagnostic = [metric.label for metric in run.metric_lines if metric.diagnostic]
    assert diagnostic == ["diagnostic pre-quantization post-ema", "diagnostic quantized"]
    assert run.code_bytes.value == 157868
    assert run.code_bytes_compressed.value == 31999
    assert run.size_label == "quantized+pergroup"
    assert run.eval_time_ms == pytest.approx(508800)
    assert run.eval_time_lines == [line_of("quantized_ttt_phased.log", "total_eval_time")]
    assert run.ttt_warmup_s.value == 137.6
    assert run.calibration_s.value == 4.7
    assert run.val_tokens.value == 47851520
    assert [step.step for step in run.steps] == [0, 500, 1000, 4000]
    assert run.steps[1].train_time_ms == pytest.approx(48000)  # `train_time: 0.8m`
    assert run.median_step_ms == pytest.approx(96)


def test_failed_ttt_last_line_wins_and_claim_is_traced_to_the_sliding_line():
    run = parse_log_file(FIXTURES / "failed_ttt_seed42.log")
    assert run.final.label == "final_int6_ttt"
    matching = [metric for metric in run.metric_lines if matches_claim(metric, 1.0894)]
    assert [metric.line for metric in matching] == [
        line_of("failed_ttt_seed42.log", "final_int6_sliding_window val_loss"),
        line_of("failed_ttt_seed42.log", "final_int6_sliding_window_exact"),
    ]
    assert not matches_claim(run.final, 1.0894)
    assert matches_claim(run.final, 1.336)


def test_sliding_form_bracket_timestamps_and_env_seed():
    run = parse_log_file(FIXTURES / "sliding_alias.log")
    assert run.final.label == "final_int8_zlib_roundtrip sliding"
    assert display_label(run.final) == "final_int8_zlib_roundtrip_exact sliding"
    assert display_label(run.final) in run.final_reason
    stride_line = run.metric_lines[2]
    assert (stride_line.label, stride_line.eval_time_ms) == ("final_sliding_window_eval", 60000)
    assert run.seed.value == 2025


def test_crash_after_diagnostics_has_no_score():
    run = parse_log_file(FIXTURES / "crashed_after_ema.log")
    assert not run.complete
    assert run.final is None
    assert "2 diagnostic" in run.final_reason
    assert run.model_bytes is None and run.total_bytes is None
    assert run.raw_model_bytes.value == 67224983
    assert run.eval_time_ms is None


def test_truncated_log_with_invalid_utf8():
    run = parse_log_file(FIXTURES / "truncated_mid_training.log")
    assert not run.complete
    assert run.final_reason == "no metric line"
    assert run.line_count == 6
    assert [step.step for step in run.steps] == [0, 100, 200]  # the cut `step:30` carries no figures
    assert run.train_time_ms.value == 13200
    assert run.stopped_early is None


def test_exact_twin_printed_before_the_plain_line_is_preferred():
    run = parse_log_text("final_x_exact val_loss:2.07269931 val_bpb:1.22436570\n"
                         "final_x val_loss:2.0727 val_bpb:1.2244\n", "twins.log")
    assert run.final.line == 1
    assert "using its _exact twin at line 1" in run.final_reason


def test_progress_and_pre_quant_lines_are_diagnostic():
    text = ("ttt:chunk 10/100 val_loss:1.9 val_bpb:1.1\n"
            "pre_quant val_loss:1.8 val_bpb:1.0\n"
            "final_int6_roundtrip val_loss:1.95 val_bpb:1.15\n"
            "DIAGNOSTIC post_ema val_loss:1.7 val_bpb:1.0\n")
    run = parse_log_text(text, "mixed.log")
    assert [metric.diagnostic for metric in run.metric_lines] == [True, True, False, True]
    assert run.final.line == 3


def test_bpb_figures_are_every_score_the_log_prints():
    separator = "=" * 100
    text = "\n".join([
        separator, "import os", "def evaluate():", "    b_loss = b_bpb = 0.0", separator,
        "step:500/20000 val_loss:2.0 val_bpb:1.2345 train_time:1000ms",
        "ttt_chunk [51/1893] bpb=1.110423 time=11.3s",
        "sliding_eval [  4.0%] 4832/121136 windows running_bpb=1.134566",
        "ttt_progress: batch 782/782 batch_bpb:1.0000 running_bpb:1.1767",
        "ttt_chunk [1893/1893] bpb=1.119400 time=600.1s",
        "ppm_mix val_bpb:0.81999601",
        '"post_ttt_val_bpb": 1.06296654, "ttt_gain_bpb": 0.0123,',
        "final_x val_loss:2.0 val_bpb:1.20000000",
    ]) + "\n"
    figures = parse_log_text(text, "figures.log").bpb_figures
    assert [(figure.value, figure.line, figure.decimals) for figure in figures] == [
        (1.2345, 6, 4), (1.1767, 9, 4), (1.1194, 10, 6), (0.81999601, 11, 8), (1.06296654, 12, 8), (1.2, 13, 8)]


@pytest.mark.parametrize("prefix", [
    "2026-04-20 14:02:11,482 - INFO - ",
    "2026-04-20T14:02:11.482Z ",
    "[2026-04-20 14:02:11] ",
    "14:02:11 | ",
    "[rank0]: ",
    "INFO:__main__:",
])
def test_line_prefixes_are_skipped(prefix):
    run = parse_log_text(f"{prefix}Serialized model int6+zstd: 15000000 bytes\n"
                         f"{prefix}final_int6_roundtrip val_loss:1.95 val_bpb:1.15 eval_time:100ms\n", "p.log")
    assert run.model_bytes.value == 15000000
    assert run.final.val_bpb == 1.15


def test_source_between_separators_after_a_hyperparameter_block():
    separator = "=" * 100
    text = "\n".join([
        "Hyperparameters:", "  seed: 7", "  num_layers: 11", separator, "Source code:", separator,
        "import os", "def main():", '    print(f"seed:{seed}")', "    x: int = 3", separator,
        "Running PyTorch 2.9.1", "step:1/10 train_loss:3.0 train_time:100ms step_avg:100.00ms",
    ])
    run = parse_log_text(text, "newer.log")
    assert run.embedded_source == 'import os\ndef main():\n    print(f"seed:{seed}")\n    x: int = 3'
    assert run.seed.value == 7
    assert "x" not in run.settings
    assert run.pytorch_version == "2.9.1"
    assert run.steps[0].line == 13


@pytest.mark.parametrize("content", [
    b"",
    b"\n\n\n",
    bytes(range(256)) * 64,
    b"\x00\xff" * 1000 + b"\nstep:5\n",
    "val_loss:1 val_bpb:2\n".encode(),
    b"=" * 40,
])
def test_junk_never_raises(tmp_path, content):
    path = tmp_path / "junk.log"
    path.write_bytes(content)
    run = parse_log_file(path)
    assert not run.complete
    assert parse_log_text(content.decode("utf-8", errors="replace"), "junk.log").complete is False


def test_overlong_line_is_cut_and_line_numbers_stay_physical(tmp_path):
    path = tmp_path / "long.log"
    path.write_bytes(b"x" * (3 * MAX_LINE_CHARS + 5) + b"\nfinal_int6_roundtrip val_loss:1.95 val_bpb:1.15\n")
    run = parse_log_file(path)
    assert run.final.line == 2
    assert run.line_count == 2


def test_max_bytes_stops_reading(tmp_path):
    path = tmp_path / "big.log"
    path.write_text("step:1/10 train_loss:3.0 train_time:100ms\n" * 100
                    + "final_int6_roundtrip val_loss:1.95 val_bpb:1.15\n")
    run = parse_log_file(path, max_bytes=1000)
    assert run.read_truncated
    assert not run.complete
    assert parse_log_file(path).read_truncated is False


def test_large_log_is_streamed_without_holding_its_lines(tmp_path):
    path = tmp_path / "large.log"
    noise = "gain step:200 token_gain_mean:1.0000 token_gain_std:0.0000 " + "pad " * 20 + "\n"
    with path.open("w") as handle:
        handle.write("seed:3\nstep:1/100 train_loss:3.0 train_time:100ms step_avg:100.00ms\n")
        for _ in range(20_000):
            handle.write(noise)
        handle.write("final_int6_roundtrip val_loss:1.95 val_bpb:1.15\n")
    tracemalloc.start()
    run = parse_log_file(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert run.line_count == 20_003
    assert run.final.line == 20_003
    assert peak < path.stat().st_size / 4


def test_unopenable_file_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot open log"):
        parse_log_file(tmp_path / "missing.log")
    with pytest.raises(InputError):
        parse_log_file(tmp_path)


def test_looks_like_train_log(tmp_path):
    assert all(looks_like_train_log(path) for path in FIXTURES.iterdir())
    notes = tmp_path / "notes.txt"
    notes.write_text("We tried a few things; see README.\n")
    source = tmp_path / "source.txt"
    source.write_text('log0(f"step:{step}/{iterations} val_bpb:{val_bpb:.4f}")\n')
    script = tmp_path / "train_gpt.py"
    script.write_text("step:1/10 val_bpb:1.2\n")
    (tmp_path / "logs").mkdir()
    no_suffix = tmp_path / "logs" / "seed_42"
    no_suffix.write_text("x\n" * 10 + "step:1/10 train_loss:3.0\n")
    assert not looks_like_train_log(notes)
    assert not looks_like_train_log(source)
    assert not looks_like_train_log(script)
    assert looks_like_train_log(no_suffix)
    assert not looks_like_train_log(tmp_path / "missing.log")


def test_choose_final_without_lines():
    assert choose_final([]) == (None, "no metric line")


@pytest.mark.parametrize("value,decimals", [(1.0894, 4), (1.2243657, 7), (1.1, 1), (2.0, 0)])
def test_printed_decimals(value, decimals):
    assert printed_decimals(value) == decimals


@pytest.mark.parametrize("line", [
    "a" + " " * 60_000 + "x val_loss:1 val_bpb:2",
    "step:1/2 " + "a" * 60_000,
    "Serialized model" + " " * 60_000 + "x",
    "|   0  N" + " " * 60_000 + "x",
    "GPU 0: x" + " " * 60_000 + "y",
    "a " + "1" * 60_000 + " val_loss:1 val_bpb:2",
])
def test_long_junk_lines_parse_in_linear_time(line):
    # These shapes made lazy `.*?\s+` patterns backtrack quadratically (minutes per line).
    run = parse_log_text("step:1/2 train_loss:1.0\n" + line + "\n", "junk.log")
    assert run.line_count == 2


def test_header_buffer_is_bounded_for_logs_without_steps_or_separators(tmp_path):
    path = tmp_path / "eval_only.log"
    line = "ttt_chunk [1/1893] bpb=1.162345 " + "pad " * 240 + "\n"
    repeats = HEADER_BUFFER_CHARS // len(line) + 10
    path.write_text("seed: 1337\n" + line * repeats + "quantized_ttt_phased val_loss:2.3110 val_bpb:1.0560\n")
    run = parse_log_file(path)
    assert run.seed.value == 1337
    assert run.final.line == repeats + 2
    assert run.embedded_source is None


def test_step_time_from_minute_resolution_lines():
    """`train_time: 10.0m` on every late step: consecutive steps look 0 ms apart, so the average is used."""
    steps = "\n".join(f"{step}/20000 train_loss: 2.3 train_time: {min(step, 4900) * 0.1224 / 60:.1f}m tok/s: 6430650"
                      for step in range(4890, 4921))
    run = parse_log_text(f"{steps}\nstopping_early: wallclock_cap train_time: 602048ms step: 4920/20000\n", "seed42.log")
    assert run.train_time_ms.value == 602_048
    assert run.median_step_ms == pytest.approx(600_000 / 4920, rel=0.01)
