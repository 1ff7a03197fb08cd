"""Malformed and hostile record folders: the checker answers with findings or InputError, never a crash.

Each case copies the BaselinePass fixture into tmp_path and breaks it one way: truncated,
binary or non-UTF-8 logs, empty files, junk scripts, odd JSON, a 200 MB log, an overlong
line, symlink loops, deep nesting, thousands of files. A "checker error" finding means a
check raised: that is a bug, so every case asserts there is none.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from golf.checks import check_record
from golf.findings import FAIL, WARN, InputError
from golf.record import MAX_FILES, MAX_LOG_BYTES

REPO = Path(__file__).resolve().parent.parent
BASE = REPO / "tests" / "fixtures" / "records" / "track_10min_16mb" / "2026-04-01_BaselinePass"
LOGS = ("train_seed42.log", "train_seed1337.log", "train_seed2025.log")


def base_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(BASE, tmp_path / "2026-04-01_Fuzzed"))


def checked(folder: Path):
    result = check_record(folder)
    crashes = [f"{f.id}: {f.message}" for f in result.findings if "checker error" in f.message]
    assert not crashes, crashes
    return result


def statuses_of(result, rule: str) -> set[str]:
    return {f.status for f in result.findings if f.id == rule}


def truncate_log(folder: Path) -> None:
    log = folder / "train_seed42.log"
    data = log.read_bytes()
    log.write_bytes(data[: len(data) // 2 + 7])  # cut in the middle of a line


def junk_log(folder: Path) -> None:
    (folder / "train_seed42.log").write_bytes(random.Random(0).randbytes(50_000))


def invalid_utf8(folder: Path) -> None:
    for name in LOGS:
        path = folder / name
        path.write_bytes(path.read_bytes().replace(b"seed:", b"\xff\xfe\xc3seed:", 1).replace(b"=" * 100, b"\x80" * 100, 1))
    (folder / "submission.json").write_bytes(b'{"name": "\xff\xfe", "val_bpb": 1.2}')
    (folder / "README.md").write_bytes(b"\xc3\x28 not utf-8")


def empty_everything(folder: Path) -> None:
    for path in folder.iterdir():
        path.write_bytes(b"")


def junk_script(folder: Path) -> None:
    (folder / "train_gpt.py").write_bytes(b"\x00\x01import os\x00" + random.Random(1).randbytes(4_000))


def null_bytes_script(folder: Path) -> None:
    (folder / "train_gpt.py").write_bytes(b"import os\n\x00\x00\nprint(1)\n")


def overlong_line(folder: Path) -> None:
    with open(folder / "train_seed1337.log", "ab") as handle:
        handle.write(b"x" * 20_000_000)


def symlinks_inside(folder: Path) -> None:
    (folder / "loop_a").symlink_to(folder / "loop_b")
    (folder / "loop_b").symlink_to(folder / "loop_a")
    (folder / "train_seed9.log").symlink_to("/etc/hostname")
    (folder / "logs").symlink_to(folder)


def deep_folders(folder: Path) -> None:
    deep = folder
    for level in range(40):
        deep = deep / f"d{level}"
    deep.mkdir(parents=True)
    (deep / "train_seed5.log").write_text("step:1/10 train_loss:1.0\n")


def many_files(folder: Path) -> None:
    extra = folder / "extra"
    extra.mkdir()
    for index in range(MAX_FILES + 100):
        (extra / f"n{index}.txt").write_text("")


def undecodable_file_name(folder: Path) -> None:
    raw = (folder / "train_seed42.log").read_bytes()
    with open(os.path.join(os.fsencode(folder), b"train_seed7\xff.log"), "wb") as handle:
        handle.write(raw.replace(b"seed:42", b"seed:7"))


def diverged_run(folder: Path) -> None:
    log = folder / "train_seed42.log"
    log.write_text(log.read_text().replace("val_loss:2.06851204 val_bpb:1.22509229", "val_loss:nan val_bpb:nan"))


def huge_script(folder: Path) -> None:
    with open(folder / "train_gpt.py", "wb") as handle:
        handle.truncate(20_000_000)  # sparse: cheap to make, past the read limit


def nonnumeric_seed_names(folder: Path) -> None:
    for name in LOGS:
        (folder / name).rename(folder / name.replace("train_seed", "run_").replace(".log", "_final.log"))


JSON_CASES = {
    "array": "[]",
    "null": "null",
    "string_score": '{"val_bpb": "1.2244", "name": "x"}',
    "nan_score": '{"val_bpb": NaN, "name": "x"}',
    "huge_number": '{"val_bpb": 1e400, "bytes_total": 1e400}',
    "deep_nesting": "[" * 100_000 + "]" * 100_000,
    "odd_seed_shapes": json.dumps({"val_bpb": 1.2244, "seeds": [None, {"seed": [1]}, 3.5, True, "42"],
                                   "seed_results": {"42": 7, "1337": {"val_bpb": "x", "artifact_bytes": -1}}}),
    "retracted": '{"val_bpb": null, "status": "retracted", "val_bpb_retracted": 1.1}',
    "truncated": '{"val_bpb": 1.22',
}

# No claim to judge: FAIL. The others hold a readable claim with odd values: WARN with the figures.
UNUSABLE_JSON = {"array", "null", "deep_nesting", "retracted", "truncated"}


def json_case(text: str):
    def write(folder: Path) -> None:
        (folder / "submission.json").write_text(text)
    return write


CASES = {
    "truncated_log": (truncate_log, {"seeds": FAIL}),
    "binary_junk_log": (junk_log, {"seeds": FAIL}),
    "invalid_utf8": (invalid_utf8, {"submission_json": FAIL}),
    "empty_files": (empty_everything, {"files": FAIL, "seeds": FAIL}),
    "junk_script": (junk_script, {"code": FAIL}),
    "null_bytes_script": (null_bytes_script, {"code": FAIL}),
    "overlong_line": (overlong_line, {"files": WARN}),
    "symlinks_inside": (symlinks_inside, {"files": WARN}),
    "deep_folders": (deep_folders, {"files": WARN}),
    "many_files": (many_files, {"files": WARN}),
    "nonnumeric_seed_names": (nonnumeric_seed_names, {}),
    "undecodable_file_name": (undecodable_file_name, {}),
    "diverged_run": (diverged_run, {"seeds": FAIL}),
    "huge_script": (huge_script, {"code": FAIL, "artifact_size": WARN}),
    **{f"json_{name}": (json_case(text), {"submission_json": FAIL if name in UNUSABLE_JSON else WARN})
       for name, text in JSON_CASES.items()},
}


@pytest.mark.parametrize("name", CASES)
def test_malformed_folder_gives_findings_not_a_crash(tmp_path, name):
    folder = base_copy(tmp_path)
    breaker, expected = CASES[name]
    breaker(folder)
    result = checked(folder)
    for rule, status in expected.items():
        assert status in statuses_of(result, rule), [f"{f.status} {f.message}" for f in result.findings if f.id == rule]


def test_incomplete_seed_is_named(tmp_path):
    folder = base_copy(tmp_path)
    truncate_log(folder)
    messages = [f.message for f in checked(folder).findings if f.id == "seeds" and f.status == FAIL]
    assert any(message.startswith("seed 42: train_seed42.log ends at line") for message in messages), messages


def test_200_mb_log_is_read_up_to_the_cap(tmp_path):
    folder = base_copy(tmp_path)
    block = b"step:5000/20000 train_loss:2.1234 train_time:217700ms step_avg:43.54ms\n" * 10_000
    with open(folder / "train_seed42.log", "ab") as handle:
        for _ in range(200_000_000 // len(block) + 1):
            handle.write(block)
    result = checked(folder)
    [warning] = [f for f in result.findings if f.id == "files" and f.status == WARN]
    assert warning.message.startswith("train_seed42.log is 200,") and "(head and tail, " in warning.message
    read = int(warning.message.split("(head and tail, ")[1].split(" B)")[0].replace(",", ""))
    assert read <= MAX_LOG_BYTES and warning.message.endswith("were skipped")


def test_random_corruption_of_logs_never_crashes(tmp_path):
    rng = random.Random(2026)
    folder = base_copy(tmp_path)
    originals = {name: (folder / name).read_bytes() for name in (*LOGS, "submission.json", "train_gpt.py")}
    for _ in range(12):
        for name, data in originals.items():
            corrupted = bytearray(data)
            for _ in range(rng.randint(1, 40)):
                if not corrupted:
                    break
                position = rng.randrange(len(corrupted))
                corrupted[position:position + rng.randint(1, 200)] = rng.randbytes(rng.randint(0, 50))
            (folder / name).write_bytes(bytes(corrupted))
        checked(folder)


def test_unusable_folders_exit_2_with_one_line(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "plain.txt").write_text("not a folder")
    for target, reason in ((tmp_path / "a", "symlink loop"), (tmp_path / "plain.txt", "not a folder"),
                           (tmp_path / "missing", "no such folder")):
        with pytest.raises(InputError, match=reason):
            check_record(target)
        result = subprocess.run([sys.executable, str(REPO / "tools" / "check_submission.py"), str(target)],
                                capture_output=True, text=True)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and reason in result.stderr and "Traceback" not in result.stderr


def test_cli_on_broken_folder_prints_no_traceback(tmp_path):
    folder = base_copy(tmp_path)
    empty_everything(folder)
    undecodable_file_name(folder)
    result = subprocess.run([sys.executable, str(REPO / "tools" / "check_submission.py"), str(folder), "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 1 and result.stderr == ""
    assert json.loads(result.stdout)["verdict"] == "fail"
