"""golf/probe_eval.py and tools/probe_eval.py: evaluation patches proven causal by running them.

The sliding-window evaluation and score-first TTT pass every check. Deliberately broken variants
in tests/fixtures fail the check they break: TTT that trains on a chunk before scoring it fails
causality, a repeat bonus added to the loss without renormalising fails normalisation.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from golf.findings import FAIL, PASS
from golf.patches import read_stacks, resolve_patch, with_requirements
from golf.probe_eval import ProbeError, Scored, check_coverage, probe
from golf.smoke import REPO_ROOT

FIXTURES = Path(__file__).parent / "fixtures"
TTT = with_requirements([resolve_patch("score_first_ttt")])


def statuses(report) -> dict[str, str]:
    return {finding.id: finding.status for finding in report.findings}


def test_sliding_window_eval_passes_every_check():
    report = probe([resolve_patch("sliding_window_eval")])
    assert report.eval_name == "eval_val_sliding"
    assert statuses(report) == {"coverage": PASS, "causality": PASS, "normalisation": PASS}
    assert len(report.losses) == 96 and all(0 < loss < 20 for loss in report.losses)


def test_score_first_ttt_passes_every_check():
    report = probe(TTT, changes=48)
    assert report.eval_name == "eval_val_ttt"
    assert statuses(report) == {"coverage": PASS, "causality": PASS, "normalisation": PASS}
    assert "48 single-token changes" in report.findings[1].message


def test_the_frontier_0323_stack_passes_every_check():
    """TTT on the full stack: SmearGate and BigramHash read the previous token, still causal."""
    report = probe(with_requirements([resolve_patch(name) for name in read_stacks()["frontier_0323"]]), changes=16, normalise=1)
    assert statuses(report) == {"coverage": PASS, "causality": PASS, "normalisation": PASS}


def test_training_before_scoring_fails_causality():
    report = probe([*TTT, FIXTURES / "ttt_train_before_score.patch"], changes=24, normalise=1)
    assert statuses(report)["coverage"] == PASS and statuses(report)["causality"] == FAIL
    assert "moved the loss of token" in report.findings[1].message


def test_an_unnormalised_repeat_bonus_fails_normalisation():
    report = probe([resolve_patch("sliding_window_eval"), FIXTURES / "unnormalised_repeat_bonus.patch"], changes=8)
    assert statuses(report) == {"coverage": PASS, "causality": PASS, "normalisation": FAIL}


def test_coverage_names_tokens_scored_twice_or_never():
    scored = Scored(1.0, torch.ones(4, dtype=torch.float64), torch.tensor([1, 2, 2, 3]))
    finding = check_coverage(scored, torch.tensor([True, True, True, False]), targets=3)
    assert finding.status == FAIL and "token 2 scored 2x" in finding.message and "token 3 scored 0x" in finding.message


def test_a_script_without_an_evaluation_function_is_an_input_error():
    with pytest.raises(ProbeError, match="no evaluation function"):
        probe([])


def tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "probe_eval.py"), *args],
                          capture_output=True, text=True, timeout=300)


def test_cli_json_and_exit_0_when_every_check_passes():
    passed = tool("--patch", "sliding_window_eval", "--changes", "6", "--normalise", "1", "--json")
    assert passed.returncode == 0, passed.stderr
    result = json.loads(passed.stdout)
    assert result["verdict"] == "pass" and result["eval"] == "eval_val_sliding" and len(result["losses"]) == 96
    # One plain run, 7 to find the scored positions (21 windows x 16 / 48), 6 changes, 32 candidates.
    assert result["script"] == "train_gpt.py + sliding_window_eval" and result["runs"] == 1 + 7 + 6 + 32


def test_cli_exit_1_when_a_check_fails(capsys):
    argv = ["--patch", "score_first_ttt", "--patch", str(FIXTURES / "ttt_train_before_score.patch"), "--changes", "6", "--normalise", "1"]
    assert tool_module().main(argv) == 1
    out = capsys.readouterr().out
    assert "FAIL  causality" in out and "0 failed" not in out


def tool_module():
    spec = importlib.util.spec_from_file_location("probe_eval_tool", REPO_ROOT / "tools" / "probe_eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("args, message", [
    (["--patch", "no_such_patch"], "patch 'no_such_patch' not found"),
    (["--patch", "sliding_window_eval", "--env", "EVAL_STRIDE"], "--env 'EVAL_STRIDE' must be KEY=VALUE"),
    (["--patch", "sliding_window_eval", "--env", "EVAL_STRIDE=99"], "EVAL_STRIDE=99 must be at most TRAIN_SEQ_LEN=16"),
    (["--patch", "sliding_window_eval", "--eval", "eval_nothing"], "no evaluation function eval_nothing"),
    (["--stack", "no_such_stack"], "--stack 'no_such_stack' is not in"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args, message, capsys):
    assert tool_module().main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and message in err and err.count("\n") == 1


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as stopped:
        tool_module().main(["--help"])
    assert stopped.value.code == 0 and "causality" in capsys.readouterr().out
