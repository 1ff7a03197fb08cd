"""golf.analysis: the program model the compliance rules read, tested without any rule."""
from __future__ import annotations

import ast
import textwrap
from types import SimpleNamespace

import pytest

from golf.analysis import TRAIN, VAL, Analysis, Unanalysable, analyse, analyse_source, exclusive, own_nodes
from golf.findings import INFO, WARN, InputError
from golf.run_settings import shell_configs
from golf.source import decode_source


def analysed(text: str, logs: dict[str, str] | None = None, policy: str = "competition") -> Analysis:
    result = analyse_source(decode_source(textwrap.dedent(text).encode()), logs or {}, policy)
    assert isinstance(result, Analysis)
    return result


def events(analysis: Analysis, kind: str) -> list:
    return [event for event in analysis.events if event.kind == kind]


def test_validation_data_flows_through_a_call_into_the_callee_backward():
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
        import torch.nn.functional as F

        def eval_val(model, tokens):
            loss_sum = 0.0
            for i in range(0, len(tokens), 1024):
                loss_sum += F.cross_entropy(model(tokens[i:i + 1024]), tokens[i + 1:i + 1025])
            return loss_sum

        eval_val(model, load("fineweb_val_000000.bin"))
    """)
    [score] = events(a, "ACC")
    assert score.what == "loss_sum" and len(score.loops) == 1


def test_a_loss_that_reaches_no_return_or_report_is_no_score():
    a = analysed("""
        import torch.nn.functional as F

        def probe(model, tokens):
            running = 0.0
            for i in range(0, len(tokens), 1024):
                running += F.cross_entropy(model(tokens[i:i + 1024]), tokens[i + 1:i + 1025])
            print(f"probe loss {running}")

        probe(model, load("fineweb_val_000000.bin"))
    """)
    assert events(a, "ACC") == []


def test_code_gated_off_by_an_env_knob_is_dead_unless_a_log_shows_it_ran():
    script = """
        import os
        ENABLED = int(os.environ.get("TTT_ENABLED", "0"))

        def adapt(tokens):
            for epoch in range(3):
                model(tokens).backward()
                print(f"ttt_adapt: epoch {epoch + 1}/3")

        if ENABLED:
            adapt(load("fineweb_val_000000.bin"))
    """
    quiet = analysed(script)
    assert quiet.state(events(quiet, "BW")[0]) == "gated"
    settings = analysed(script, {"train.log": "ttt_enabled: 1\n"})
    assert settings.state(events(settings, "BW")[0]) == "live"
    progress = analysed(script, {"train.log": "ttt_adapt: epoch 1/3\n"})
    assert progress.state(events(progress, "BW")[0]) == "ran"


def test_a_knob_the_run_command_sets_makes_gated_code_run():
    script = textwrap.dedent("""
        import os
        ENABLED = int(os.environ.get("TTT_ENABLED", "0"))

        def adapt(tokens):
            model(tokens).backward()

        if ENABLED:
            adapt(load("fineweb_val_000000.bin"))
    """)
    [config] = shell_configs("export TTT_ENABLED=1\ntorchrun --nproc_per_node=8 train_gpt.py\n", "README.md", 10)
    a = analyse_source(decode_source(script.encode()), {}, "strict", configs=[config])
    [backward] = events(a, "BW")
    assert a.state(backward) == "run"
    assert "README.md:10 sets TTT_ENABLED=1" in a.why_live(backward, "run")


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


def test_sizes_and_fresh_tensors_carry_no_validation_data():
    a = analysed("""
        import torch

        def adapter(val_tokens):
            n_docs = len(val_tokens)
            weights = torch.zeros(n_docs, 8)
            return weights
    """)
    [adapter] = [f for f in a.program.functions if f.name == "adapter"]
    assert not adapter.returns & VAL


def test_each_node_is_filed_under_its_own_function():
    a = analysed("""
        def outer(x):
            def inner(y):
                return y * 2
            return inner(x) + 1
    """)
    by_name = {f.name: f for f in a.program.functions}
    outer_constants = {n.value for n in own_nodes(by_name["outer"]) if isinstance(n, ast.Constant)}
    inner_constants = {n.value for n in own_nodes(by_name["inner"]) if isinstance(n, ast.Constant)}
    assert outer_constants == {1} and inner_constants == {2}


def test_site_gives_any_node_its_loops_and_if_guards():
    a = analysed("""
        def f(xs, enabled):
            for x in xs:
                if enabled:
                    y = x * 3
    """)
    [f] = [f for f in a.program.functions if f.name == "f"]
    product = next(n for n in own_nodes(f) if isinstance(n, ast.BinOp))
    site = a.site(f, product, "PRODUCT")
    assert site.line == 5 and len(site.loops) == 1
    assert [(kind, positive) for _, positive, kind in site.guards] == [("loop", True), ("if", True)]


def test_opposite_branches_of_one_switch_are_exclusive():
    a = analysed("""
        import torch.nn.functional as F

        def main(model, tokens, ttt_enabled):
            loss_sum = 0.0
            if ttt_enabled:
                loss_sum += F.cross_entropy(model(tokens[:-1]), tokens[1:])
            if not ttt_enabled:
                loss_sum += F.cross_entropy(model(tokens[:-1]), tokens[1:])
            return loss_sum

        main(model, load("fineweb_val_000000.bin"), True)
    """)
    first, second = sorted((e for e in a.events if e.kind == "ACC"), key=lambda e: e.line)
    assert exclusive(first, second)


def test_minified_constants_and_getattr_settings_gate_code():
    a = analysed("""
        import os
        _B = True
        _C = False

        class Hyperparameters:
            slot_enabled = bool(int(os.environ.get("SLOT_ENABLED", "0")))

        def slot(args, val_tokens):
            delta = torch.zeros(4, requires_grad=_B)
            model(val_tokens + delta).backward()

        def main(args, val_tokens):
            if getattr(args, "slot_enabled", _C):
                slot(args, val_tokens)

        main(Hyperparameters(), load("fineweb_val_000000.bin"))
    """)
    [backward] = events(a, "BW")
    assert backward.func.trainable == {"delta"}
    assert a.state(backward) == "gated"


def test_a_probe_trained_and_dropped_is_not_test_time_training():
    a = analysed("""
        import torch.nn as nn

        def probe(model, val_tokens):
            head = nn.Linear(8, 8)
            opt = torch.optim.Adam(head.parameters())
            for _ in range(10):
                loss = head(val_tokens).sum()
                loss.backward()
                opt.step()
            return head(val_tokens).mean().item()

        probe(model, load("fineweb_val_000000.bin"))
    """)
    [backward] = events(a, "BW")
    assert backward.flags & VAL and a.trains_throwaway(backward) and not a.is_ttt(backward)
