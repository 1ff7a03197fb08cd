"""golf.analysis: the program model the compliance rules read, tested without any rule."""
from __future__ import annotations

import textwrap
from types import SimpleNamespace

import pytest

from golf.analysis import TRAIN, VAL, Analysis, Unanalysable, analyse, analyse_source
from golf.findings import INFO, WARN, InputError
from golf.source import decode_source


def analysed(text: str, logs: dict[str, str] | None = None, policy: str = "competition") -> Analysis:
    result = analyse_source(decode_source(textwrap.dedent(text).encode()), logs or {}, policy)
    assert isinstance(result, Analysis)
    return result


def events(analysis: Analysis, kind: str) -> list:
    return [event for event in analysis.events if event.kind == kind]


def test_validation_taint_flows_through_a_call_into_the_callee_backward():
    a = analysed("""
        def adapt(model, tokens):
            loss = model(tokens)
            loss.backward()

        val_tokens = load("fineweb_val_000000.bin")
        adapt(model, val_tokens[:1024])
    """)
    [backward] = events(a, "BW")
    assert backward.flags & VAL and backward.func.name == "adapt"


def test_training_shards_are_tainted_train_not_val():
    a = analysed("""
        train_files = "data/fineweb_train_*.bin"
        for x in load(train_files):
            loss = model(x)
            loss.backward()
    """)
    [backward] = events(a, "BW")
    assert not backward.flags & VAL
    assert any(event.flags & TRAIN for event in events(a, "TREAD"))


def test_score_accumulation_is_an_event_inside_its_loop():
    a = analysed("""
        def eval_val(model, val_tokens):
            loss_sum = 0.0
            for i in range(0, len(val_tokens), 1024):
                loss_sum += model(val_tokens[i:i + 1024])
            return loss_sum
    """)
    [score] = events(a, "ACC")
    assert score.what == "loss_sum" and len(score.loops) == 1


def test_code_gated_off_by_an_env_knob_is_dead_unless_a_log_shows_it_ran():
    script = """
        import os
        ENABLED = int(os.environ.get("TTT_ENABLED", "0"))

        def adapt(val_tokens):
            model(val_tokens).backward()

        if ENABLED:
            adapt(val_tokens)
    """
    quiet = analysed(script)
    assert quiet.state(events(quiet, "BW")[0], r"ttt:") == "gated"
    ran = analysed(script, {"train.log": "ttt_enabled: 1\nttt: epoch 1/3\n"})
    assert ran.state(events(ran, "BW")[0], r"ttt:") == "live"


def test_unparsable_script_is_unanalysable_with_a_warning():
    result = analyse_source(decode_source(b"def broken(:\n"), {}, "strict")
    assert isinstance(result, Unanalysable)
    assert result.finding("ttt").status == WARN and "does not parse" in result.message


def test_folder_without_a_script_is_not_checked():
    context = SimpleNamespace(record=SimpleNamespace(script=SimpleNamespace(decoded=None, name="train_gpt.py"), logs=[]),
                              policy="strict")
    result = analyse(context)
    assert isinstance(result, Unanalysable) and result.finding("slot").status == INFO


def test_unknown_policy_is_an_input_error():
    with pytest.raises(InputError, match="strict, competition"):
        analyse_source(decode_source(b"x = 1\n"), {}, "lenient")
