"""tools/make_record.py: a record folder from the trainer and a patch series, never overwriting one."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from golf.findings import FAIL, PASS
from golf.patches import check_provenance, materialise, read_provenance, resolve_patch, sha256_bytes
from golf.smoke import REPO_ROOT, TRAINER

TOOL = REPO_ROOT / "tools" / "make_record.py"
DAY = "2026-04-30"


def make_record(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=120)


def test_help():
    done = make_record("--help")
    assert done.returncode == 0 and "--patch" in done.stdout and "--track" in done.stdout


def test_creates_the_folder_with_script_provenance_readme_and_draft(tmp_path):
    done = make_record("EMA_Int6", "--patch", "ema_export", "--patch", "patches/int6_zstd_export.patch",
                       "--records-root", str(tmp_path), "--date", DAY)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "track_10min_16mb" / f"{DAY}_EMA_Int6"
    assert sorted(p.name for p in folder.iterdir()) == ["PATCHES", "README.md", "requirements.txt", "submission.json", "train_gpt.py"]

    script = (folder / "train_gpt.py").read_bytes()
    expected = materialise(TRAINER.read_text(encoding="utf-8"), [resolve_patch("ema_export"), resolve_patch("int6_zstd_export")])
    assert script == expected.encode("utf-8")

    provenance = read_provenance(folder / "PATCHES")
    assert provenance.base.path == "train_gpt.py" and provenance.base.sha256 == sha256_bytes(TRAINER.read_bytes())
    assert [Path(p.path).name for p in provenance.patches] == ["ema_export.patch", "int6_zstd_export.patch"]
    assert [p.sha256 for p in provenance.patches] == [sha256_bytes(resolve_patch(n).read_bytes()) for n in ("ema_export", "int6_zstd_export")]
    assert check_provenance(folder).status == PASS

    draft = json.loads((folder / "submission.json").read_text())
    assert draft["status"] == "draft" and draft["track"] == "10min_16mb" and draft["date"] == DAY
    assert draft["patches"] == ["ema_export", "int6_zstd_export"] and draft["bytes_code"] == len(script)
    assert all(draft[key] is None for key in ("val_bpb", "val_loss", "bytes_total", "author", "github_id", "hardware"))
    assert draft["seeds"] == [] and draft["seed_results"] == {}

    readme = (folder / "README.md").read_text()
    assert "Exponential moving average" in readme and "int6 per-row export" in readme
    assert "<!-- results:start" in readme and "<!-- results:end -->" in readme
    assert "zstandard" in (folder / "requirements.txt").read_text()


def test_stack_and_non_record_track(tmp_path):
    done = make_record("Everything", "--stack", "all", "--track", "non_record_16mb", "--records-root", str(tmp_path), "--date", DAY)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "track_non_record_16mb" / f"{DAY}_Everything"
    assert "Non-record submission" in (folder / "README.md").read_text()
    assert len(read_provenance(folder / "PATCHES").patches) == 3


def test_a_patch_brings_the_patches_it_requires(tmp_path):
    done = make_record("LateQAT", "--patch", "late_qat", "--records-root", str(tmp_path), "--date", DAY)
    assert done.returncode == 0, done.stderr
    assert "2 patch(es): int6_zstd_export, late_qat" in done.stdout
    folder = tmp_path / "track_10min_16mb" / f"{DAY}_LateQAT"
    assert [Path(p.path).stem for p in read_provenance(folder / "PATCHES").patches] == ["int6_zstd_export", "late_qat"]
    assert check_provenance(folder).status == PASS


def test_refuses_an_existing_folder_and_leaves_it_alone(tmp_path):
    assert make_record("Twice", "--records-root", str(tmp_path), "--date", DAY).returncode == 0
    folder = tmp_path / "track_10min_16mb" / f"{DAY}_Twice"
    (folder / "train_seed1.log").write_text("precious\n")
    done = make_record("Twice", "--patch", "ema_export", "--records-root", str(tmp_path), "--date", DAY)
    assert done.returncode == 2 and "already exists" in done.stderr and "Traceback" not in done.stderr
    assert (folder / "train_seed1.log").read_text() == "precious\n"
    assert check_provenance(folder).status == PASS  # still the unpatched script


def test_a_patch_that_does_not_apply_names_file_and_hunk_and_leaves_nothing(tmp_path):
    base = tmp_path / "old_train_gpt.py"
    base.write_text(TRAINER.read_text().replace("        self.grad_clip_norm = env_float(", "        self.clip = env_float("))
    done = make_record("Broken", "--patch", "ema_export", "--base", str(base), "--records-root", str(tmp_path / "r"), "--date", DAY)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "ema_export.patch: hunk 1 (@@ -" in done.stderr and "does not apply" in done.stderr
    assert not (tmp_path / "r").exists()  # the series is applied before anything is written


@pytest.mark.parametrize("args, message", [
    (["has space"], "no spaces"),
    (["Name", "--patch", "nope"], "known patches:"),
    (["Name", "--stack", "nope"], "listed:"),
    (["Name", "--date", "30-04-2026"], "YYYY-MM-DD"),
    (["Name", "--base", "/no/such/file.py"], "no such file"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    done = make_record(*args, "--records-root", str(tmp_path))
    assert done.returncode == 2 and message in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_provenance_fails_after_editing_the_script(tmp_path):
    assert make_record("Edited", "--patch", "sliding_window_eval", "--records-root", str(tmp_path), "--date", DAY).returncode == 0
    script = tmp_path / "track_10min_16mb" / f"{DAY}_Edited" / "train_gpt.py"
    script.write_text(script.read_text().replace("EVAL_STRIDE\", 64", "EVAL_STRIDE\", 32"))
    finding = check_provenance(script.parent)
    assert finding.status == FAIL and "EVAL_STRIDE" in finding.message
