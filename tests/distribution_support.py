"""Helpers for the tests of the checker's distribution (--sota auto, --changed, SARIF, the Action,
the hook, the wheel): throwaway git repositories laid out like the challenge's, built from the
checker's own fixture folders, and the SARIF 2.1.0 schema validator."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema

REPO = Path(__file__).resolve().parent.parent
TOOL = REPO / "tools" / "check_submission.py"
FIXTURES = REPO / "tests" / "fixtures" / "records" / "track_10min_16mb"
SARIF_SCHEMA = REPO / "tests" / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
TRACK = "records/track_10min_16mb"
PASSING = "2026-04-01_BaselinePass"        # passes every check against SotaPrevious
SOTA = "2026-04-01_SotaPrevious"           # val_bpb 1.23243 in submission.json, 1.232429 from its logs
OVER_CAP = "2026-04-06_ArtifactOverCap"    # FAILs artifact_size
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "Golfer", "GIT_AUTHOR_EMAIL": "golfer@example.com",
           "GIT_COMMITTER_NAME": "Golfer", "GIT_COMMITTER_EMAIL": "golfer@example.com",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True,
                          text=True).stdout.strip()


def init_repo(path: Path) -> Path:
    """An empty challenge-shaped repository on branch main: a README and records/."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("# parameter-golf (test copy)\n")
    (path / "records").mkdir(exist_ok=True)
    return path


def add_record(repo: Path, name: str, fixture: str = SOTA, **json_changes) -> Path:
    """Copy a fixture folder to records/track_10min_16mb/NAME; keys given replace (None deletes) JSON keys."""
    folder = repo / TRACK / name
    shutil.copytree(FIXTURES / fixture, folder)
    if json_changes:
        path = folder / "submission.json"
        data = json.loads(path.read_text())
        for key, value in json_changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        path.write_text(json.dumps(data, indent=2) + "\n")
    return folder


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def run_checker(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """tools/check_submission.py as a user runs it, from `cwd`."""
    return subprocess.run([sys.executable, str(TOOL), *args], cwd=cwd, capture_output=True, text=True, env=GIT_ENV)


def sarif_errors(log: dict) -> list[str]:
    """Every way `log` breaks the SARIF 2.1.0 schema (empty when it validates)."""
    schema = json.loads(SARIF_SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in validator(schema).iter_errors(log)]


_INSTALLED: dict[str, Path] = {}
CHECKER_PACKAGES = ("scipy", "numpy", "scipy.libs", "numpy.libs")   # the checker's dependencies, and nothing else


def install_checker(workdir: Path) -> Path:
    """`golf-check` from a wheel of this checkout, in a fresh virtual environment without torch.

    The wheel is built offline from a copy of pyproject.toml, README.md and golf/; the venv gets
    it with `pip install --no-deps`, then only scipy and numpy (the checker's dependencies) linked
    in from the test environment, since CI cannot count on downloading them. Built once per session.
    """
    if "golf-check" in _INSTALLED:
        return _INSTALLED["golf-check"]
    source, wheels, venv, deps = (workdir / name for name in ("source", "wheels", "venv", "deps"))
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "golf"):
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(source)],
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q",
                    *map(str, wheels.glob("*.whl"))], check=True, capture_output=True)
    _link_dependencies(python, deps)
    _INSTALLED["wheel"] = next(wheels.glob("*.whl"))
    _INSTALLED["golf-check"] = venv / "bin" / "golf-check"
    return _INSTALLED["golf-check"]


def built_wheel(workdir: Path) -> Path:
    """The wheel install_checker built (building it first when needed)."""
    install_checker(workdir)
    return _INSTALLED["wheel"]


def _link_dependencies(python: Path, deps: Path) -> None:
    import numpy
    site = Path(numpy.__file__).resolve().parent.parent
    deps.mkdir()
    for name in CHECKER_PACKAGES:
        if (site / name).exists():
            (deps / name).symlink_to(site / name)
    venv_site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                    check=True, capture_output=True, text=True).stdout.strip())
    (venv_site / "checker_dependencies.pth").write_text(f"{deps}\n")
