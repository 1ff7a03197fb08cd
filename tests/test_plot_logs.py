"""tools/plot_logs.py: curves read from real logs; matplotlib stays optional."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys

import pytest

from golf.record import load_record
from golf.smoke import REPO_ROOT
from golf.submission import seed_curves

TOOL = REPO_ROOT / "tools" / "plot_logs.py"
FIXTURE_LOG = REPO_ROOT / "tests" / "fixtures" / "logs" / "baseline_train.log"
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


@pytest.fixture
def record(tmp_path):
    shutil.copy(FIXTURE_LOG, tmp_path / "train_seed1337.log")
    return tmp_path


def plot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=120)


def test_curves_are_the_step_lines(record):
    (curve,) = seed_curves(load_record(record))
    assert curve.seed == "1337"
    assert curve.val_bpb == ((0, 0.0, 4.1077), (13780, 600038.0, 1.2204))
    assert curve.train_loss[:3] == ((1, 23.0, 6.937), (2, 66.0, 6.8123), (200, 8700.0, 3.1234))


def test_help():
    done = plot("--help")
    assert done.returncode == 0 and "--output" in done.stdout


@pytest.mark.skipif(HAS_MATPLOTLIB, reason="matplotlib is installed here")
def test_missing_matplotlib_is_a_clear_one_line_error(record, tmp_path):
    done = plot(str(record), "-o", str(tmp_path / "curves.png"))
    assert done.returncode == 2 and "matplotlib is not installed (it is optional): pip install matplotlib" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "curves.png").exists()


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib is optional and not installed")
def test_writes_a_png(record, tmp_path):
    done = plot(str(record), "-o", str(tmp_path / "curves.png"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_folder_without_step_lines_exits_2(tmp_path):
    (tmp_path / "train_seed1.log").write_text("final_int8_zlib_roundtrip_exact val_loss:2.0 val_bpb:1.2\n")
    done = plot(str(tmp_path))
    assert done.returncode == 2 and "no log has step:i/n lines" in done.stderr


def test_missing_folder_exits_2(tmp_path):
    done = plot(str(tmp_path / "nope"))
    assert done.returncode == 2 and "no such folder" in done.stderr
