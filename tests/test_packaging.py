"""`pip install .`: a wheel of the checker with console script golf-check and no torch, installed in a
fresh virtual environment and run there on a challenge-shaped checkout; and the checker's modules
import no heavy package at module level."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from distribution_support import (PASSING, REPO, TRACK, add_record, built_wheel, commit, init_repo, install_checker,
                                  sarif_errors)


@pytest.fixture(scope="module")
def golf_check(tmp_path_factory):
    return install_checker(tmp_path_factory.mktemp("installed"))


def test_the_wheel_needs_scipy_only_and_ships_golf_check(golf_check, tmp_path_factory):
    wheel = zipfile.ZipFile(built_wheel(tmp_path_factory.mktemp("unused")))
    metadata = next(wheel.read(name).decode() for name in wheel.namelist() if name.endswith(".dist-info/METADATA"))
    required = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert [item for item in required if "extra ==" not in item] == ["scipy"]
    assert 'torch; extra == "train"' in required
    entry_points = next(wheel.read(n).decode() for n in wheel.namelist() if n.endswith("entry_points.txt"))
    assert "golf-check = golf.check_cli:main" in entry_points
    shipped = {name for name in wheel.namelist() if name.startswith("golf/")}
    for module in ("golf/check_cli.py", "golf/sarif.py", "golf/sota_auto.py", "golf/changed.py", "golf/git.py",
                   "golf/rules/__init__.py", "golf/rules/significance.py"):
        assert module in shipped


def test_the_installed_checker_has_no_torch_and_answers_help(golf_check):
    python = golf_check.parent / "python"
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('torch'), "
                            "u.find_spec('golf').origin)"], capture_output=True, text=True, check=True,
                           cwd=golf_check.parent)
    none, origin = probe.stdout.split()
    assert none == "None" and "site-packages" in origin and not origin.startswith(str(REPO))
    for args in (["--help"], ["--list-checks"]):
        result = subprocess.run([str(golf_check), *args], capture_output=True, text=True, cwd=golf_check.parent)
        assert result.returncode == 0 and result.stderr == ""
    assert "usage: golf-check" in subprocess.run([str(golf_check), "--help"], capture_output=True, text=True,
                                                 cwd=golf_check.parent).stdout


def test_the_installed_checker_checks_a_challenge_checkout(golf_check, tmp_path):
    """The issue's acceptance line: golf-check FOLDER --sarif out.sarif --sota auto, in a fresh venv without torch."""
    repo = init_repo(tmp_path / "parameter-golf")
    add_record(repo, "2026-04-01_Previous")
    commit(repo, "accepted")
    add_record(repo, "2026-04-05_MyIdea", PASSING)
    result = subprocess.run([str(golf_check), f"{TRACK}/2026-04-05_MyIdea", "--sarif", "out.sarif", "--sota", "auto"],
                            cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"--sota auto picked {TRACK}/2026-04-01_Previous" in result.stdout
    log = json.loads((repo / "out.sarif").read_text())
    assert sarif_errors(log) == []
    assert log["runs"][0]["properties"]["records"][0]["sota_auto"]["record"] == f"{TRACK}/2026-04-01_Previous"


BLOCKER = """
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("blocked for the test: " + name)
sys.meta_path.insert(0, Refuse())
from golf.check_cli import main
code = main({argv!r})
print("loaded:", sorted({{m.split(".")[0] for m in sys.modules}} & {heavy!r}))
sys.exit(code)
"""
HEAVY = {"torch", "numpy", "scipy", "sentencepiece", "zstandard", "matplotlib"}


def run_blocked(argv: list[str], blocked: set[str]) -> subprocess.CompletedProcess:
    code = BLOCKER.format(blocked=blocked, argv=argv, heavy=HEAVY)
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)


def test_checking_a_folder_imports_no_heavy_package(tmp_path):
    folder = f"tests/fixtures/records/track_10min_16mb/{PASSING}"
    result = run_blocked([folder, "--sarif", str(tmp_path / "out.sarif"), "--json"], HEAVY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "loaded: []"
    with_sota = run_blocked([folder, "--sota", "tests/fixtures/records/track_10min_16mb/2026-04-01_SotaPrevious"],
                            HEAVY - {"scipy", "numpy"})
    assert with_sota.returncode == 0, with_sota.stdout[-2000:] + with_sota.stderr
    assert with_sota.stdout.splitlines()[-1] == "loaded: ['numpy', 'scipy']"  # the t-tests, and nothing else
