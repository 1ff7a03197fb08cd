"""--sota auto in throwaway git repositories laid out like the challenge's: the best accepted record
of the same track dated before the folder, named in every output format; a clear one-line error
outside such a checkout."""
from __future__ import annotations

import json
import shutil

import pytest

from distribution_support import FIXTURES, PASSING, TRACK, add_record, commit, git, init_repo, run_checker


@pytest.fixture
def challenge(tmp_path):
    """main: accepted records around 2026-04-05; branch pr adds 2026-04-05_MyIdea."""
    repo = init_repo(tmp_path / "parameter-golf")
    add_record(repo, "2026-03-30_Older", val_bpb=1.30)
    add_record(repo, "2026-04-01_Previous")                               # 1.23243: the one to beat
    add_record(repo, "2026-04-02_Retracted", val_bpb=1.0, status="retracted")
    add_record(repo, "2026-04-02_Stray Name", val_bpb=1.0)              # not a record name (RULES §0)
    add_record(repo, "2026-04-09_Later", val_bpb=1.0)                    # after the folder: not yet in force
    commit(repo, "accepted records")
    git(repo, "checkout", "-q", "-b", "pr")
    add_record(repo, "2026-04-05_MyIdea", PASSING)
    commit(repo, "my record")
    return repo


def test_picks_the_best_accepted_record_dated_before_the_folder(challenge):
    result = run_checker(f"{TRACK}/2026-04-05_MyIdea", "--sota", "auto", cwd=challenge)
    assert result.returncode == 0, result.stdout + result.stderr
    picked = result.stdout.splitlines()[1]
    assert picked == (f"--sota auto picked {TRACK}/2026-04-01_Previous (val_bpb 1.23243 from submission.json "
                      f"val_bpb), the best of 2 accepted records in {TRACK} at HEAD dated before 2026-04-05")
    significance = next(line for line in result.stdout.splitlines() if line.startswith("PASS  significance"))
    assert "vs SOTA 1.232429 bpb (2026-04-01_Previous)" in significance  # per-seed scores from its logs


def test_json_and_markdown_name_the_pick(challenge):
    folder = f"{TRACK}/2026-04-05_MyIdea"
    row = json.loads(run_checker(folder, "--sota", "auto", "--json", cwd=challenge).stdout)
    assert row["sota_auto"]["record"] == f"{TRACK}/2026-04-01_Previous"
    assert row["sota_auto"]["candidates"] == 2 and row["sota_auto"]["before"] == "2026-04-05"
    assert row["stats"]["sota"]["source"] == "2026-04-01_Previous"
    markdown = run_checker(folder, "--sota", "auto", "--markdown", cwd=challenge).stdout
    assert f"--sota auto picked {TRACK}/2026-04-01_Previous" in markdown


def test_never_the_folder_itself_and_only_records_dated_before_it(challenge):
    result = run_checker(f"{TRACK}/2026-04-01_Previous", "--sota", "auto", "--json", cwd=challenge)
    assert json.loads(result.stdout)["sota_auto"]["record"] == f"{TRACK}/2026-03-30_Older"


def test_a_json_without_val_bpb_is_scored_from_its_logs(challenge):
    git(challenge, "checkout", "-q", "main")
    add_record(challenge, "2026-04-03_FromLogs", val_bpb=None)   # its logs give 1.232429 < 1.23243
    commit(challenge, "a record whose JSON has no val_bpb")
    row = json.loads(run_checker(f"{TRACK}/2026-04-01_Previous", "--sota", "auto", "--json", cwd=challenge).stdout)
    assert row["sota_auto"]["record"] == f"{TRACK}/2026-03-30_Older"  # dated before: unaffected
    git(challenge, "checkout", "-q", "pr")
    git(challenge, "merge", "-q", "--no-edit", "main")
    row = json.loads(run_checker(f"{TRACK}/2026-04-05_MyIdea", "--sota", "auto", "--json", cwd=challenge).stdout)
    assert row["sota_auto"]["record"] == f"{TRACK}/2026-04-03_FromLogs"
    assert row["sota_auto"]["source"] == "its logs (mean of 3 seeds)"


def test_with_changed_only_the_base_branch_counts(challenge):
    """A folder the same PR adds is not an accepted record, even when it is dated earlier and better."""
    add_record(challenge, "2026-04-04_AlsoInThisPR", val_bpb=1.0)
    commit(challenge, "a second folder")
    rows = [json.loads(line) for line in run_checker("--changed", "main", "--sota", "auto", "--json",
                                                     cwd=challenge).stdout.splitlines()]
    picks = {row["record"]: row["sota_auto"] for row in rows}
    assert picks[f"{TRACK}/2026-04-05_MyIdea"]["record"] == f"{TRACK}/2026-04-01_Previous"
    assert picks[f"{TRACK}/2026-04-05_MyIdea"]["ref"] == "main"
    rows = [json.loads(line) for line in run_checker(f"{TRACK}/2026-04-05_MyIdea", "--sota", "auto", "--json",
                                                     cwd=challenge).stdout.splitlines()]
    assert rows[0]["sota_auto"]["record"] == f"{TRACK}/2026-04-04_AlsoInThisPR"  # at HEAD it is committed


def test_no_accepted_record_before_the_folder_is_said_and_not_an_error(challenge):
    result = run_checker(f"{TRACK}/2026-03-30_Older", "--sota", "auto", cwd=challenge)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == (f"--sota auto: no accepted record in {TRACK} at HEAD dated before "
                                             "2026-03-30; significance not tested")
    assert "WARN  significance        not checked" in result.stdout


def test_outside_a_challenge_checkout_is_one_line_and_exit_2(tmp_path):
    loose = tmp_path / "2026-04-05_Loose"
    shutil.copytree(FIXTURES / PASSING, loose)
    result = run_checker(str(loose), "--sota", "auto", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: --sota auto needs a checkout of the challenge: ")
    assert len(result.stderr.splitlines()) == 1


def test_challenge_layout_without_git_is_one_line_and_exit_2(tmp_path):
    folder = add_record(tmp_path / "no-git", "2026-04-05_MyIdea", PASSING)
    result = run_checker(str(folder), "--sota", "auto", cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "inside a git work tree" in result.stderr


def test_an_undated_folder_name_is_one_line_and_exit_2(challenge):
    add_record(challenge, "MyIdea_without_date", PASSING)
    result = run_checker(f"{TRACK}/MyIdea_without_date", "--sota", "auto", cwd=challenge)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "cannot date 'MyIdea_without_date'" in result.stderr


def test_an_unknown_base_ref_is_one_line_and_exit_2(challenge):
    result = run_checker("--changed", "no-such-branch", "--sota", "auto", cwd=challenge)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "'no-such-branch' is not a commit in this checkout" in result.stderr


def test_sota_records_are_read_as_the_base_has_them(challenge):
    """A PR that edits an accepted record's submission.json does not change what --changed main reads."""
    path = challenge / TRACK / "2026-04-01_Previous" / "submission.json"
    data = json.loads(path.read_text())
    data["val_bpb"] = 1.5
    path.write_text(json.dumps(data))
    commit(challenge, "tamper with an accepted record")
    rows = [json.loads(line) for line in run_checker("--changed", "main", "--sota", "auto", "--json",
                                                     cwd=challenge).stdout.splitlines()]
    mine = next(row for row in rows if row["record"].endswith("2026-04-05_MyIdea"))
    assert mine["sota_auto"]["record"] == f"{TRACK}/2026-04-01_Previous"
    assert mine["sota_auto"]["val_bpb"] == 1.23243
