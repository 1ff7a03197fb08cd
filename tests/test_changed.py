"""--changed BASE_REF and --staged: the record folders a pull request or the next commit touches,
found with git in throwaway repositories laid out like the challenge's."""
from __future__ import annotations

import json
import shutil

import pytest

from distribution_support import OVER_CAP, PASSING, TRACK, add_record, commit, git, init_repo, run_checker

from golf.changed import record_folder_of


@pytest.fixture
def pull_request(tmp_path):
    """main holds three records; branch pr adds one, edits one, deletes one and touches files outside records."""
    repo = init_repo(tmp_path / "parameter-golf")
    for name in ("2026-04-01_Kept", "2026-04-02_Edited", "2026-04-03_Deleted"):
        add_record(repo, name)
    (repo / "records" / "README.md").write_text("records\n")
    commit(repo, "accepted records")
    git(repo, "checkout", "-q", "-b", "pr")
    add_record(repo, "2026-04-05_MyIdea", PASSING)
    (repo / TRACK / "2026-04-02_Edited" / "README.md").write_text("edited\n")
    shutil.rmtree(repo / TRACK / "2026-04-03_Deleted")
    (repo / "README.md").write_text("touched\n")
    (repo / "records" / "README.md").write_text("touched\n")
    commit(repo, "the pull request")
    return repo


def test_changed_checks_the_folders_the_pull_request_adds_or_edits(pull_request):
    result = run_checker("--changed", "main", "--json", cwd=pull_request)
    checked = [json.loads(line)["record"] for line in result.stdout.splitlines()]
    assert checked == [f"{TRACK}/2026-04-02_Edited", f"{TRACK}/2026-04-05_MyIdea"]
    assert result.stderr == f"note: {TRACK}/2026-04-03_Deleted was deleted between main and HEAD: skipped\n"
    assert result.returncode == 0


def test_changed_from_a_subfolder_names_the_same_folders(pull_request):
    result = run_checker("--changed", "main", "--json", cwd=pull_request / "records")
    checked = [json.loads(line)["record"] for line in result.stdout.splitlines()]
    assert checked == ["track_10min_16mb/2026-04-02_Edited", "track_10min_16mb/2026-04-05_MyIdea"]


def test_a_failing_folder_fails_the_run(pull_request):
    add_record(pull_request, "2026-04-06_TooBig", OVER_CAP)
    commit(pull_request, "an over-cap folder")
    assert run_checker("--changed", "main", cwd=pull_request).returncode == 1


def test_a_change_outside_records_checks_nothing_and_passes(pull_request):
    git(pull_request, "checkout", "-q", "-b", "docs", "main")
    (pull_request / "README.md").write_text("only docs\n")
    commit(pull_request, "docs only")
    result = run_checker("--changed", "main", "--markdown", cwd=pull_request)
    assert result.returncode == 0
    assert result.stdout == "No record folder under records/ was added or changed between main and HEAD: nothing to check.\n"
    quiet = run_checker("--changed", "main", "--json", cwd=pull_request)
    assert quiet.returncode == 0 and quiet.stdout == "" and "nothing to check" in quiet.stderr


def test_staged_checks_only_what_the_next_commit_holds(pull_request):
    add_record(pull_request, "2026-04-07_Staged", PASSING)
    add_record(pull_request, "2026-04-08_Untracked", PASSING)
    git(pull_request, "add", f"{TRACK}/2026-04-07_Staged")
    result = run_checker("--staged", "--json", cwd=pull_request)
    assert [json.loads(line)["record"] for line in result.stdout.splitlines()] == [f"{TRACK}/2026-04-07_Staged"]


def test_outside_a_git_work_tree_is_one_line_and_exit_2(tmp_path):
    for option in (["--changed", "main"], ["--staged"]):
        result = run_checker(*option, cwd=tmp_path)
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
        assert "is not inside a git work tree" in result.stderr


def test_folders_and_a_change_together_are_a_usage_error(pull_request):
    for options in (["--changed", "main", f"{TRACK}/2026-04-01_Kept"], ["--changed", "main", "--staged"], []):
        result = run_checker(*options, cwd=pull_request)
        assert result.returncode == 2 and result.stderr.startswith("usage: golf-check")


def test_record_folder_of_reads_the_challenge_layout():
    assert record_folder_of("records/track_10min_16mb/2026-04-05_X/logs/a.log") == "records/track_10min_16mb/2026-04-05_X"
    assert record_folder_of("records/track_10min_16mb/README.md") is None
    assert record_folder_of("records/README.md") is None
    assert record_folder_of("docs/records/track_x/y/z") is None
