"""--sarif FILE: the checker's findings as SARIF 2.1.0, validated against the OASIS schema with
jsonschema, and read back the way code scanning reads it (rules, levels, files, lines)."""
from __future__ import annotations

import json

from distribution_support import FIXTURES, OVER_CAP, PASSING, REPO, SOTA, run_checker, sarif_errors

from golf.rules import REGISTRY

FIXTURE_PATH = FIXTURES.relative_to(REPO).as_posix()


def checked_sarif(tmp_path, *args: str) -> tuple[dict, object]:
    out = tmp_path / "out.sarif"
    result = run_checker(*args, "--sarif", str(out), cwd=REPO)
    log = json.loads(out.read_text())
    assert sarif_errors(log) == []
    return log, result


def test_every_check_is_a_rule_with_its_summary_and_list_checks_text(tmp_path):
    log, _ = checked_sarif(tmp_path, str(FIXTURES / PASSING), "--sota", str(FIXTURES / SOTA))
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == [rule.id for rule in REGISTRY]
    for descriptor, rule in zip(rules, REGISTRY):
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert descriptor["help"]["text"].startswith(rule.id) and f"cites {rule.cites}" in descriptor["help"]["text"]
    levels = {rule["id"]: rule["defaultConfiguration"]["level"] for rule in rules}
    assert levels["artifact_size"] == "error" and levels["track"] == "warning"  # track never FAILs


def test_each_warn_and_fail_is_a_result_on_its_file_and_line(tmp_path):
    folder = f"{FIXTURE_PATH}/{OVER_CAP}"
    log, result = checked_sarif(tmp_path, folder, "--sota", str(FIXTURES / SOTA), "--policy", "competition")
    assert result.returncode == 1 and "verdict: FAIL" in result.stdout  # the text output is unchanged
    findings = json.loads(run_checker(folder, "--sota", str(FIXTURES / SOTA), "--policy", "competition",
                                      "--json", cwd=REPO).stdout)["checks"]
    problems = [f for f in findings if f["status"] in ("WARN", "FAIL")]
    results = log["runs"][0]["results"]
    assert [(r["ruleId"], r["message"]["text"]) for r in results] == [(f["id"], f["message"]) for f in problems]
    over_cap = next(r for r in results if r["ruleId"] == "artifact_size" and r["level"] == "error")
    location = over_cap["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": f"{folder}/train_seed42.log", "uriBaseId": "%SRCROOT%"}
    line = location["region"]["startLine"]
    cited = (REPO / folder / "train_seed42.log").read_text().splitlines()[line - 1]
    assert "Total submission size" in cited or "Serialized model" in cited
    assert all(r["level"] == {"FAIL": "error", "WARN": "warning"}[f["status"]] for r, f in zip(results, problems))
    properties = log["runs"][0]["properties"]
    assert properties["policy"] == "competition" and properties["verdict"] == "fail"
    assert properties["records"][0]["verdict"] == "fail"


def test_a_line_of_a_decoded_wrapper_keeps_the_file_and_says_the_line(tmp_path):
    log, _ = checked_sarif(tmp_path, f"{FIXTURE_PATH}/2026-04-12_BoobyTrapWrapped")
    network = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "network")
    location = network["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"].endswith("2026-04-12_BoobyTrapWrapped/train_gpt.py")
    assert "region" not in location["physicalLocation"]
    assert location["message"]["text"].startswith("line 9, past the end of the file on disk")


def test_a_finding_without_evidence_points_at_the_folders_readme(tmp_path):
    log, _ = checked_sarif(tmp_path, f"{FIXTURE_PATH}/{PASSING}")  # no --sota: significance WARNs, no evidence
    significance = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "significance")
    uri = significance["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == f"{FIXTURE_PATH}/{PASSING}/README.md"


def test_folders_that_cannot_be_read_are_notifications_and_the_rest_is_written(tmp_path):
    log, result = checked_sarif(tmp_path, f"{FIXTURE_PATH}/{PASSING}", str(tmp_path / "missing"))
    assert result.returncode == 2
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "missing" in invocation["toolExecutionNotifications"][0]["message"]["text"]
    assert [entry["record"] for entry in log["runs"][0]["properties"]["records"]] == [f"{FIXTURE_PATH}/{PASSING}"]


def test_an_unwritable_sarif_path_is_one_line_and_exit_2(tmp_path):
    result = run_checker(f"{FIXTURE_PATH}/{PASSING}", "--sarif", str(tmp_path / "no" / "such" / "dir.sarif"),
                         cwd=REPO)
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot write --sarif ") and len(result.stderr.splitlines()) == 1


def test_the_schema_rejects_what_code_scanning_would(tmp_path):
    """The validation is real: a level SARIF does not define and a result without a message both fail."""
    log, _ = checked_sarif(tmp_path, f"{FIXTURE_PATH}/{OVER_CAP}")
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["results"][0]["level"] = "fatal"
    del broken["runs"][0]["results"][1]["message"]
    errors = sarif_errors(broken)
    assert any("'fatal' is not one of" in error for error in errors)
    assert any("'message' is a required property" in error for error in errors)
