"""tools/check_submission.py run as a real subprocess: exit codes, the three output formats, and
the text output of one folder pinned exactly (change it deliberately, together with the renderer)."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOOL = REPO / "tools" / "check_submission.py"
RECORDS = "tests/fixtures/records/track_10min_16mb"
PASSING = f"{RECORDS}/2026-04-01_BaselinePass"
FAILING = f"{RECORDS}/2026-04-06_ArtifactOverCap"
SOTA = f"{RECORDS}/2026-04-01_SotaPrevious"


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, cwd=REPO)


def tool_module():
    spec = importlib.util.spec_from_file_location("check_submission", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PINNED = """\
tests/fixtures/records/track_10min_16mb/2026-04-05_CodeSyntaxError
INFO  track               track 10min_16mb (from the path); policy strict
PASS  files               README.md, submission.json, train_gpt.py, 3 logs
PASS  submission_json     val_bpb 1.22438 in submission.json, logs give 1.224382 (mean of 3 seeds)  (submission.json, train_seed42.log:206, train_seed1337.log:206, +1 more)
FAIL  code                train_gpt.py does not parse: line 82: expected ':'  (train_gpt.py)
INFO  provenance          no PATCHES file: train_gpt.py is not declared as base + patches
PASS  artifact_size       artifact 15,815,705 B ≤ 16,000,000 B (margin 184,295), largest of 3: seed 42  (train_seed42.log:203, train_seed42.log:204)
PASS  train_time          train time 599,532 ms ≤ 600,000 ms, longest of 3: seed 42  (train_seed42.log:198)
PASS  eval_time           eval 1.4 s ≤ 600 s, longest of 3: seed 42  (train_seed42.log:205)
PASS  seeds               3 seeds with complete logs: 42, 1337, 2025  (train_seed42.log:206, train_seed1337.log:206, train_seed2025.log:206)
INFO  final_line          seed 42: val_bpb 1.22509229 val_loss 2.06851204 from train_seed42.log; last non-diagnostic metric line: final_int8_zlib_roundtrip_exact at line 206, the _exact twin of line 205  (train_seed42.log:206)
INFO  final_line          seed 1337: val_bpb 1.22437404 val_loss 2.06729931 from train_seed1337.log; last non-diagnostic metric line: final_int8_zlib_roundtrip_exact at line 206, the _exact twin of line 205  (train_seed1337.log:206)
INFO  final_line          seed 2025: val_bpb 1.22368078 val_loss 2.06612877 from train_seed2025.log; last non-diagnostic metric line: final_int8_zlib_roundtrip_exact at line 206, the _exact twin of line 205  (train_seed2025.log:206)
PASS  significance        mean 1.224382 vs SOTA 1.232429 bpb (2026-04-01_SotaPrevious): gap -0.00805 bpb = -0.01359 nats/token (ratio 1.6885) = -0.00558 nats/byte; written rule (0.005 nats, p < 0.01): t=-12.48 df=2.00 p=0.00318; Welch p < 0.01: t=-13.05 df=3.94 p=0.0001093  (train_seed42.log:206, train_seed1337.log:206, train_seed2025.log:206)
INFO  significance        frontier rule (one-sided Welch p < 0.25 vs previous record): t=-13.05 df=3.94 p=0.0001093 -> passes
PASS  bpb_bytes           implied validation bytes 151.08 M for 3 seeds, within 0.1 % of 151.08 M
PASS  hardware            8× NVIDIA H100 80GB HBM3 in 3 logs  (train_seed1337.log:137, train_seed2025.log:137, train_seed42.log:137)
INFO  ttt                 not checked: no script that parses
INFO  pre_eval_ttt        not checked: no script that parses
INFO  rescoring           not checked: no script that parses
INFO  ngram_target_leak   not checked: no script that parses
INFO  normalization       not checked: no script that parses
INFO  slot                not checked: no script that parses
INFO  cross_document_leak not checked: no script that parses
INFO  val_in_training     not checked: no script that parses
PASS  val_train_overlap   no sign of validation documents in the training data
INFO  val_in_artifact     not checked: no script that parses
INFO  train_data_in_eval  not checked: no script that parses
INFO  network             not checked: no script that parses

seed     val_bpb    val_loss  artifact B  train s  eval s  log
42    1.22509229  2.06851204  15,815,705    599.5     1.4  train_seed42.log
1337  1.22437404  2.06729931  15,803,705    599.5     1.4  train_seed1337.log
2025  1.22368078  2.06612877  15,794,705    599.5     1.4  train_seed2025.log

verdict: FAIL (10 passed, 0 warnings, 1 failed, 17 info)
"""


def test_text_output_is_pinned():
    result = run_tool(f"{RECORDS}/2026-04-05_CodeSyntaxError", "--sota", SOTA)
    assert result.stdout == PINNED
    assert result.returncode == 1 and result.stderr == ""


def test_exit_code_0_when_every_folder_passes():
    result = run_tool(PASSING, "--sota", SOTA)
    assert result.returncode == 0, result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("verdict: PASS (")


def test_exit_code_1_when_a_check_fails():
    result = run_tool(PASSING, FAILING)
    assert result.returncode == 1
    assert "FAIL  artifact_size       seed 42: artifact 16,001,206 B > 16,000,000 B (over by 1,206" in result.stdout


def test_exit_code_2_on_unusable_input():
    missing = run_tool("records/no_such_record")
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr == ("error: records/no_such_record: no such folder; pass a record folder such as "
                              "records/track_10min_16mb/<name>\n")
    assert run_tool(PASSING, "records/no_such_record").returncode == 2


@pytest.mark.parametrize("argv", [[], [PASSING, "--policy", "lenient"], [PASSING, "--json", "--markdown"],
                                  [PASSING, "--track", "1h"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        tool_module().main(argv)
    assert stopped.value.code == 2 and "usage:" in capsys.readouterr().err


def test_bad_sota_exits_2(capsys):
    assert tool_module().main([str(REPO / PASSING), "--sota", "yesterday"]) == 2
    assert "neither a BPB number nor an existing record folder" in capsys.readouterr().err


def test_json_lines_one_object_per_folder():
    result = run_tool(PASSING, FAILING, "--json", "--sota", "1.2400")
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and result.returncode == 1
    first, second = map(json.loads, lines)
    assert (first["verdict"], second["verdict"]) == ("pass", "fail")
    assert first["record"] == PASSING
    assert set(first["checks"][0]) == {"id", "status", "message", "evidence"}
    assert first["seeds"]["42"] == {"val_bpb": 1.22509229, "val_loss": 2.06851204, "artifact_bytes": 15815706,
                                    "train_time_s": 599.532, "eval_time_s": 1.362, "log": "train_seed42.log"}
    assert first["stats"]["written_rule"]["passed"] is True and first["stats"]["sota"]["val_bpb"] == 1.24
    failed = [check for check in second["checks"] if check["status"] == "FAIL"]
    assert failed[0]["id"] == "artifact_size" and failed[0]["evidence"] == ["train_seed42.log:203", "train_seed42.log:204"]


def test_markdown_table_for_the_pr_body():
    result = run_tool(PASSING, "--markdown")
    lines = result.stdout.splitlines()
    assert lines[0] == "### Submission check: `2026-04-01_BaselinePass`"
    assert lines[2].startswith("**Verdict: PASS** (")
    assert "| Check | Status | Measured | Evidence |" in lines
    assert "| artifact_size | **PASS** | artifact 15,815,706 B ≤ 16,000,000 B (margin 184,294), largest of 3: seed 42 | " \
           "`train_seed42.log:203`, `train_seed42.log:204` |" in lines
    assert "| 42 | 1.22509229 | 2.06851204 | 15,815,706 | 599.5 | 1.4 |" in lines


def test_track_and_policy_options():
    result = run_tool(PASSING, "--track", "non_record_16mb", "--policy", "competition", "--json")
    data = json.loads(result.stdout)
    assert (data["track"], data["policy"]) == ("non_record_16mb", "competition")
    assert {check["status"] for check in data["checks"] if check["id"] == "train_time"} == {"INFO"}


def test_list_checks_reads_the_registry():
    from golf.rules import IDS

    result = run_tool("--list-checks")
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines if not line.startswith(" ")] == list(IDS)
    artifact = lines.index(next(line for line in lines if line.startswith("artifact_size ")))
    assert lines[artifact + 1].split() == ["competition:", "FAIL", "a", "seed", "over", "16,000,000", "B", "by", "both",
                                           "measures;", "by", "the", "log", "total", "from", "2026-04-24"]
    assert lines[artifact + 2].split()[0] == "WARN" and lines[artifact + 3].split() == ["strict:", "as", "competition"]
    assert lines[artifact + 4].split() == ["cites", "RULES.md", "§1"]


def test_scipy_is_imported_only_when_a_significance_test_runs():
    probe = ("import sys; from golf.checks import check_record; from golf.rules import REGISTRY; "
             f"check_record({PASSING!r}); print('scipy' in sys.modules); "
             f"check_record({PASSING!r}, sota=1.24); print('scipy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert done.stdout.split() == ["False", "True"], done.stderr


def test_every_id_fits_the_text_column():
    from golf.render import ID_WIDTH
    from golf.rules import IDS

    assert max(map(len, IDS)) <= ID_WIDTH
