"""golf.record: a log past the read cap is read at its head and its tail, with its physical line numbers."""
from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

from golf.checks import check_record
from golf.record import MAX_LOG_BYTES, load_log, load_record

BASE = Path(__file__).resolve().parent / "fixtures" / "records" / "track_10min_16mb" / "2026-04-01_BaselinePass"
FILLER = "shard_loader: rank 0 prefetched shard 00042 at position 123456789\n"


def long_log_folder(tmp_path: Path) -> tuple[Path, int]:
    """BaselinePass with train_seed42.log grown past the cap mid-training; (folder, the final line's number)."""
    folder = Path(shutil.copytree(BASE, tmp_path / "2026-04-01_LongLog"))
    log = folder / "train_seed42.log"
    lines = log.read_text().split("\n")
    middle = next(index for index, line in enumerate(lines) if line.startswith("step:6884/"))
    count = MAX_LOG_BYTES // len(FILLER) + 1000
    with open(log, "w") as handle:
        handle.write("\n".join(lines[:middle + 1]) + "\n")
        handle.write(FILLER * count)
        handle.write("\n".join(lines[middle + 1:]))
    final = next(number for number, line in enumerate(log.read_text().split("\n"), start=1)
                 if line.startswith("final_int8_zlib_roundtrip_exact"))
    return folder, final


def test_final_line_of_a_log_past_the_cap_is_read_with_its_line_number(tmp_path):
    folder, final = long_log_folder(tmp_path)
    size = (folder / "train_seed42.log").stat().st_size
    assert size > MAX_LOG_BYTES and final > 100_000
    [row] = [row for row in load_record(folder).seeds if row.seed == "42"]
    assert row.final.line == final and row.final.val_bpb == 1.22509229
    result = check_record(folder)
    [info] = [f for f in result.findings if f.id == "final_line" and "seed 42" in f.message]
    assert info.evidence == (f"train_seed42.log:{final}",)
    assert result.statuses()["submission_json"] == "PASS" and result.statuses()["artifact_size"] == "PASS"


def test_a_log_past_the_cap_warns_with_the_lines_it_skipped(tmp_path):
    folder, final = long_log_folder(tmp_path)
    size = (folder / "train_seed42.log").stat().st_size
    [warning] = [f for f in check_record(folder).findings if f.id == "files" and f.status == "WARN"]
    figures = re.fullmatch(r"train_seed42\.log is ([\d,]+) B; read lines 1-([\d,]+) and ([\d,]+)-([\d,]+) "
                           r"\(head and tail, ([\d,]+) B\); lines ([\d,]+)-([\d,]+) \(([\d,]+) B\) were skipped",
                           warning.message)
    assert figures, warning.message
    total, head, tail_first, last, read, first_skipped, last_skipped, skipped = (
        int(text.replace(",", "")) for text in figures.groups())
    assert total == size and read + skipped == size and read <= MAX_LOG_BYTES
    assert first_skipped == head + 1 and tail_first == last_skipped + 1 and tail_first <= final <= last
    assert last == (folder / "train_seed42.log").read_bytes().count(b"\n") == final  # the log ends with its final line


def test_head_and_tail_lines_keep_their_physical_numbers(tmp_path):
    rng = random.Random(13)
    for trial in range(200):
        lines = [f"{number}:" + "x" * rng.choice((0, 3, 40, 200)) for number in range(1, rng.randint(2, 80))]
        text = ("y" * rng.randint(0, 300) if trial % 5 == 0 else "") + "\n".join(lines) + "\n" * (trial % 2)
        (tmp_path / "t.log").write_text(text)
        log = load_log(tmp_path, "t.log", rng.randint(8, 600))
        physical = text.split("\n")
        for number, line in enumerate(log.text.split("\n")[:log.text.count("\n") + (not log.text.endswith("\n"))], 1):
            original = physical[log.physical_line(number) - 1]
            cut = log.gap is not None and number == log.gap.after or number == log.text.count("\n") + 1
            assert line == original or (cut and original.startswith(line)), (trial, number, line, original)


def test_a_tail_inside_one_long_line_is_not_read(tmp_path):
    (tmp_path / "t.log").write_text("step:1/2 train_loss:1.0\n" + "z" * 5000)
    log = load_log(tmp_path, "t.log", 1000)
    assert log.truncated and log.gap is None and log.text == "step:1/2 train_loss:1.0\n"
