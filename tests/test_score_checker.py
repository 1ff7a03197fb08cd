"""tools/score_checker.py and golf.scoring on a tiny corpus of their own (tests/fixtures/score_corpus).

Most tests score tests/fixtures/fake_checker.py, which FAILs the ids a folder's fake_findings.json
lists, so agreement, disagreement, crashes and timeouts are exact; one test runs the real checker.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from golf.findings import InputError
from golf.scoring import COMPLIANCE_IDS, Case, load_cases, score_corpus, totals

REPO = Path(__file__).resolve().parent.parent
TOOL = REPO / "tools" / "score_checker.py"
CORPUS = REPO / "tests" / "fixtures" / "score_corpus"
FAKE_CHECKER = REPO / "tests" / "fixtures" / "fake_checker.py"
LABELS = json.loads((CORPUS / "labels.json").read_text())


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, cwd=REPO)


def write_corpus(root: Path, cases: list[dict]) -> Path:
    """A corpus in `root` whose cases point (by absolute path) at the fixture folders or new ones."""
    for case in cases:
        case["folder"] = str(CORPUS / case["folder"]) if not Path(case["folder"]).is_absolute() else case["folder"]
    (root / "labels.json").write_text(json.dumps({"source": "test", "cases": cases}))
    return root


def relabelled(name: str, **changes) -> dict:
    case = dict(next(case for case in LABELS["cases"] if case["case"] == name))
    return {**case, **changes}


def fake_folder(root: Path, findings: dict) -> str:
    folder = root / "records" / "track_10min_16mb" / "2026-04-09_Fake"
    folder.mkdir(parents=True)
    (folder / "fake_findings.json").write_text(json.dumps(findings))
    return str(folder)


def score(corpus: Path, policy: str = "competition", **options):
    return score_corpus(corpus, policy, checker=FAKE_CHECKER, **options)


@pytest.mark.parametrize("policy", ["competition", "strict"])
def test_fixture_corpus_agrees_under_both_policies(policy):
    rows = score(CORPUS, policy)
    assert [(row.case.name, row.reasons) for row in rows] == [(case["case"], ()) for case in LABELS["cases"]]
    figures = totals(rows)
    assert figures["accepted"] == {"agree": 2, "cases": 2}
    assert figures["illegal"] == {"agree": 1, "cases": 1}
    assert figures["all"] == {"agree": 3, "cases": 3}


@pytest.mark.parametrize("label, changes, reason", [
    ("accepted_no_log", {"may_fail": []}, "unexpected FAIL seeds"),
    ("accepted_no_log", {"must_fail": ["files", "code"]}, "missing must_fail code"),
    ("illegal_slot", {"must_fail_any": ["rescoring", "ngram_target_leak"]},
     "no must_fail_any id (ngram_target_leak, rescoring)"),
    ("illegal_slot", {"label": "legal"}, "compliance FAIL on a legal case: slot"),
])
def test_disagreement_reasons(tmp_path, label, changes, reason):
    [row] = score(write_corpus(tmp_path, [relabelled(label, **changes)]))
    assert row.reasons == (reason,)
    assert not row.agrees


def test_totals_count_unexpected_fails_per_id(tmp_path):
    cases = [relabelled("accepted_no_log", may_fail=[]), relabelled("illegal_slot", label="legal"),
             relabelled("illegal_slot", case="extra FAILs are not held against an illegal case")]
    figures = totals(score(write_corpus(tmp_path, cases)))
    assert figures["unexpected_fail_ids"] == {"seeds": 1, "slot": 1}
    assert figures["all"] == {"agree": 1, "cases": 3}


def test_legal_case_may_fail_a_rule_that_is_not_compliance(tmp_path):
    folder = fake_folder(tmp_path, {"competition": ["train_time"]})
    [row] = score(write_corpus(tmp_path, [relabelled("illegal_slot", label="legal", folder=folder)]))
    assert row.agrees and row.run.failing == ("train_time",)


def test_strict_requires_ttt_only_where_the_labels_mention_it(tmp_path):
    mentioned = relabelled("accepted_no_log", why="merged; phased TTT (eval_val_ttt_phased)")
    silent = relabelled("accepted_no_log", case="silent")
    rows = score(write_corpus(tmp_path, [mentioned, silent]), "strict")
    assert rows[0].reasons == ("missing must_fail ttt",)
    assert rows[1].agrees
    merged = Case("c", Path("."), "accepted", frozenset(), frozenset(), frozenset(), "accepted", "merged", "")
    assert merged.expected("strict") == (frozenset(), frozenset({"ttt"}))
    assert "ttt" in COMPLIANCE_IDS


def test_a_crash_or_timeout_is_a_disagreement_row(tmp_path):
    crash = relabelled("accepted_ttt", case="crash", folder=fake_folder(tmp_path / "a", {"crash": True}))
    slow = relabelled("accepted_ttt", case="slow", folder=fake_folder(tmp_path / "b", {"sleep_s": 30}))
    missing = relabelled("accepted_ttt", case="missing", folder=str(tmp_path / "nowhere"))
    rows = score(write_corpus(tmp_path, [crash, slow, missing]), timeout_s=2)
    assert [row.run.verdict for row in rows] == ["error", "error", "error"]
    assert rows[0].reasons == ("checker exited 1 without a JSON result: RuntimeError: fake checker crashed",)
    assert rows[1].reasons == ("checker timed out after 2 s",)
    assert rows[2].reasons[0].startswith("checker exited 1 without a JSON result: FileNotFoundError")


@pytest.mark.parametrize("why, cited", [
    ("SLOT: slot_eval (line 4) optimises a delta", True),   # line 5 lies in the function defined at line 4
    ("SLOT: the delta step at lines 2-5", True),
    ("SLOT: the delta step at line 4", True),
    ("SLOT: the delta step at lines 1, 2 and 3", False),
    ("SLOT optimises a delta on every scored position", False),
])
def test_illegal_evidence_where_why_points(tmp_path, why, cited):
    [row] = score(write_corpus(tmp_path, [relabelled("illegal_slot", why=why)]))
    assert row.agrees and row.evidence_cited is cited


def test_evidence_is_only_judged_for_illegal_cases_flagged_with_a_right_rule(tmp_path):
    rows = score(write_corpus(tmp_path, [relabelled("illegal_slot", must_fail_any=["rescoring", "slot"]),
                                         relabelled("illegal_slot", case="wrong rule", must_fail_any=["rescoring"]),
                                         relabelled("accepted_no_log")]))
    assert [row.evidence_cited for row in rows] == [True, None, None]
    assert totals(rows)["illegal_evidence_cited"] == {"cited": 1, "flagged": 1}


@pytest.mark.parametrize("labels, message", [
    (None, "no such corpus folder"),
    ("{", "not a JSON object with a \"cases\" list"),
    ('{"cases": []}', "\"cases\" must be a non-empty list"),
    ('{"cases": [{"case": "x", "folder": "x", "label": "merged"}]}',
     "label 'merged' is not one of accepted, illegal, legal"),
    ('{"cases": [{"case": "x", "folder": "x", "label": "legal", "may_fail": "ttt"}]}', "\"may_fail\" must be a list"),
])
def test_bad_labels_are_input_errors(tmp_path, labels, message):
    corpus = tmp_path / "corpus"
    if labels is not None:
        corpus.mkdir()
        (corpus / "labels.json").write_text(labels)
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        load_cases(corpus)


def test_exit_codes_table_and_progress(tmp_path):
    agreeing = run_tool(str(CORPUS), "--checker", str(FAKE_CHECKER))
    assert agreeing.returncode == 0, agreeing.stderr
    assert "illegal_slot" in agreeing.stdout and "artifact_size, slot" in agreeing.stdout
    assert "agreement (policy competition)" in agreeing.stdout and "3/3 (100.0 %)" in agreeing.stdout
    assert "[3/3]" in agreeing.stderr
    disagreeing = run_tool(str(write_corpus(tmp_path, [relabelled("accepted_no_log", may_fail=[])])),
                           "--checker", str(FAKE_CHECKER), "-v")
    assert disagreeing.returncode == 1
    assert "    unexpected FAIL seeds" in disagreeing.stdout
    assert "    FAIL seeds: fake seeds failure  (train_gpt.py:1)" in disagreeing.stdout
    assert "1/1 flagged (a figure, not agreement)" in agreeing.stdout
    assert "unexpected FAILs by id                  none" in agreeing.stdout
    assert "unexpected FAILs by id                  seeds 1" in disagreeing.stdout
    bad = run_tool(str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("error: ")


def test_json_has_rows_and_totals():
    completed = run_tool(str(CORPUS), "--checker", str(FAKE_CHECKER), "--json", "--policy", "strict")
    assert completed.returncode == 0
    result = json.loads(completed.stdout)
    assert result["policy"] == "strict"
    assert result["totals"]["all"] == {"agree": 3, "cases": 3}
    first = result["rows"][0]
    assert (first["case"], first["verdict"], first["failing"], first["must_fail"], first["agrees"]) \
        == ("accepted_ttt", "fail", ["ttt"], ["ttt"], True)
    assert first["failures"][0]["evidence"] == ["train_gpt.py:1"]
    assert result["rows"][2]["evidence_cited"] is True


def test_the_real_checker_fails_a_folder_without_logs(tmp_path):
    case = relabelled("accepted_no_log", label="illegal", must_fail=[], may_fail=[], must_fail_any=["files"])
    [row] = score_corpus(write_corpus(tmp_path, [case]), "competition")
    assert row.agrees, row.reasons
    assert "files" in row.run.failing


def test_bench_check_times_each_corpus_folder_and_list_checks(tmp_path):
    bench = [sys.executable, str(REPO / "tools" / "bench_check.py")]
    timed = subprocess.run([*bench, "--corpus", str(CORPUS), "--runs", "1"], capture_output=True, text=True, cwd=REPO)
    assert timed.returncode == 0, timed.stderr
    assert "one process per folder" in timed.stdout and "(3 folders): median" in timed.stdout
    assert "--list-checks: median" in timed.stdout and timed.stdout.rstrip().endswith("over 1 run")
    missing = subprocess.run([*bench, "--corpus", str(tmp_path / "nowhere")], capture_output=True, text=True, cwd=REPO)
    assert missing.returncode == 2 and missing.stderr.startswith("error: ") and missing.stderr.count("\n") == 1
