"""The GitHub Action (action.yml) and the pre-commit hook (.pre-commit-hooks.yaml), end to end.

The Action's own check step and its last step are read from action.yml and run with bash as a
runner runs them (`bash --noprofile --norc -eo pipefail`), with `${{ ... }}` expanded from the
inputs' defaults, in a throwaway git repository shaped like a pull request on the challenge's
repository: a base commit with accepted records, a PR commit adding a folder. `golf-check` is
the one install_checker built from a wheel in a fresh venv. What is checked is what a reviewer
sees: the job summary, the SARIF file and the job's exit code. The install step (pip from PyPI)
and the upload step (GitHub's own action) cannot run here.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pre_commit.clientlib import load_manifest

from distribution_support import (GIT_ENV, OVER_CAP, PASSING, REPO, TRACK, add_record, commit, git, init_repo,
                                  install_checker, sarif_errors)

ACTION = yaml.safe_load((REPO / "action.yml").read_text())
STEPS = ACTION["runs"]["steps"]
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


@pytest.fixture(scope="module")
def golf_check(tmp_path_factory):
    return install_checker(tmp_path_factory.mktemp("installed"))


@pytest.fixture
def pull_request(tmp_path):
    """(repo, base sha): main holds an accepted record; branch pr is checked out on top of it."""
    repo = init_repo(tmp_path / "parameter-golf")
    add_record(repo, "2026-04-01_Previous")
    base = commit(repo, "accepted records")
    git(repo, "checkout", "-q", "-b", "pr")
    return repo, base


def expand(text: str, context: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        assert match[1] in context, f"action.yml uses an expression this test does not know: {match[1]}"
        return context[match[1]]
    return EXPRESSION.sub(value, text)


def run_action(repo, base: str, golf_check, tmp_path) -> dict:
    """Run the check step and the last step as a runner would; return what the job leaves behind."""
    runner_temp = tmp_path / "runner_temp"
    runner_temp.mkdir()
    (runner_temp / "golf-check-venv").symlink_to(golf_check.parent.parent)   # what the install step made
    summary, output = tmp_path / "step_summary.md", tmp_path / "github_output"
    context = {"github.event.pull_request.base.sha": base, "runner.temp": str(runner_temp)}
    context |= {f"inputs.{name}": expand(str(spec.get("default", "")), context)
                for name, spec in ACTION["inputs"].items()}
    check = next(step for step in STEPS if step.get("id") == "check")
    env = {**GIT_ENV, "RUNNER_TEMP": str(runner_temp), "GITHUB_STEP_SUMMARY": str(summary),
           "GITHUB_OUTPUT": str(output), **{k: expand(str(v), context) for k, v in check["env"].items()}}
    ran = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", check["run"]], cwd=repo,
                         env=env, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr   # the step itself never fails: the last step decides
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    context["steps.check.outputs.exit-code"] = outputs["exit-code"]
    last = STEPS[-1]
    verdict = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", last["run"]], cwd=repo,
                             env={**env, **{k: expand(str(v), context) for k, v in last["env"].items()}},
                             capture_output=True, text=True)
    sarif = repo / context["inputs.sarif-file"]
    return {"summary": summary.read_text(), "exit_code": int(outputs["exit-code"]), "job_fails": verdict.returncode != 0,
            "sarif": json.loads(sarif.read_text()) if sarif.exists() else None, "log": ran.stdout + ran.stderr}


def test_a_passing_record_gives_a_summary_a_sarif_and_a_green_job(pull_request, golf_check, tmp_path):
    repo, base = pull_request
    add_record(repo, "2026-04-05_MyIdea", PASSING)
    commit(repo, "my record")
    job = run_action(repo, base, golf_check, tmp_path)
    assert job["exit_code"] == 0 and not job["job_fails"], job["log"]
    assert "### Submission check: `2026-04-05_MyIdea`" in job["summary"]
    assert "**Verdict: PASS**" in job["summary"] and "policy `competition`" in job["summary"]
    assert f"--sota auto picked {TRACK}/2026-04-01_Previous" in job["summary"]
    assert sarif_errors(job["sarif"]) == []
    assert job["sarif"]["runs"][0]["properties"]["verdict"] == "pass"


def test_a_failing_record_fails_the_job_and_annotates_the_line(pull_request, golf_check, tmp_path):
    repo, base = pull_request
    add_record(repo, "2026-04-05_TooBig", OVER_CAP)
    commit(repo, "an over-cap record")
    job = run_action(repo, base, golf_check, tmp_path)
    assert job["exit_code"] == 1 and job["job_fails"]
    assert "**Verdict: FAIL**" in job["summary"] and "| artifact_size | **FAIL** |" in job["summary"]
    assert sarif_errors(job["sarif"]) == []
    errors = [r for r in job["sarif"]["runs"][0]["results"] if r["level"] == "error"]
    assert errors and errors[0]["ruleId"] == "artifact_size"
    location = errors[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == f"{TRACK}/2026-04-05_TooBig/train_seed42.log"
    assert location["region"]["startLine"] > 0


def test_a_pull_request_without_record_folders_passes_with_an_empty_sarif(pull_request, golf_check, tmp_path):
    repo, base = pull_request
    (repo / "README.md").write_text("a typo fixed\n")
    commit(repo, "docs")
    job = run_action(repo, base, golf_check, tmp_path)
    assert job["exit_code"] == 0 and not job["job_fails"]
    assert "nothing to check" in job["summary"]
    assert sarif_errors(job["sarif"]) == [] and job["sarif"]["runs"][0]["results"] == []


def test_a_base_the_checkout_lacks_says_so_in_the_summary_and_fails(pull_request, golf_check, tmp_path):
    repo, _ = pull_request
    add_record(repo, "2026-04-05_MyIdea", PASSING)
    commit(repo, "my record")
    job = run_action(repo, "0" * 40, golf_check, tmp_path)
    assert job["exit_code"] == 2 and job["job_fails"]
    assert "is not a commit in this checkout: fetch it first" in job["summary"]


def test_the_upload_step_sends_the_sarif_even_when_the_check_failed():
    upload = next(step for step in STEPS if "upload-sarif" in step.get("uses", ""))
    assert upload["if"].startswith("${{ always()")
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"
    assert STEPS[-1]["name"].startswith("Fail the job"), "the verdict must come after the upload"


def test_action_yml_is_valid_action_metadata():
    result = subprocess.run(["check-jsonschema", "--builtin-schema", "vendor.github-actions", "action.yml"],
                            cwd=REPO, capture_output=True, text=True, env={**GIT_ENV, "PATH": _venv_path()})
    assert result.returncode == 0, result.stdout + result.stderr


def _venv_path() -> str:
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


# --- the pre-commit hook ------------------------------------------------------------------------

HOOK = load_manifest(str(REPO / ".pre-commit-hooks.yaml"))[0]


def run_hook(repo, golf_check) -> subprocess.CompletedProcess:
    """The hook's entry and args as pre-commit runs them (pass_filenames is false), golf-check from the wheel."""
    entry = shlex.split(HOOK["entry"])
    assert entry[0] == "golf-check"
    return subprocess.run([str(golf_check), *entry[1:], *HOOK["args"]], cwd=repo, capture_output=True, text=True,
                          env=GIT_ENV)


def test_the_hook_blocks_a_commit_that_stages_a_failing_folder(pull_request, golf_check):
    repo, _ = pull_request
    assert re.search(HOOK["files"], f"{TRACK}/2026-04-05_TooBig/train_seed42.log")
    assert HOOK["language"] == "python" and HOOK["pass_filenames"] is False
    add_record(repo, "2026-04-05_TooBig", OVER_CAP)
    git(repo, "add", TRACK)
    result = run_hook(repo, golf_check)
    assert result.returncode == 1 and "verdict: FAIL" in result.stdout


def test_the_hook_passes_a_staged_passing_folder_and_ignores_unstaged_ones(pull_request, golf_check):
    repo, _ = pull_request
    add_record(repo, "2026-04-05_MyIdea", PASSING)
    git(repo, "add", TRACK)
    add_record(repo, "2026-04-06_TooBig", OVER_CAP)   # not staged: not this commit's business
    result = run_hook(repo, golf_check)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2026-04-05_MyIdea" in result.stdout and "2026-04-06_TooBig" not in result.stdout
    assert f"--sota auto picked {TRACK}/2026-04-01_Previous" in result.stdout
