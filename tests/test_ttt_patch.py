"""patches/score_first_ttt.patch, on the patched script's own functions (tiny random model, CPU).

Each chunk is scored with the sliding windows before the model trains on it, the last chunk is
never trained on, TTT_LR=0 scores exactly what eval_val_sliding scores, two ranks give what one
gives, and the trainer logs `legal_ttt` last (with TTT_ENABLED=0 main() skips that one block). The causality of the whole evaluation is proven
dynamically in tests/test_probe_eval.py.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from golf.logs import parse_log_text
from golf.patches import materialise, resolve_patch, with_requirements
from golf.probe_eval import PROBE_ENV, Evaluation, environment, load_script, one_thread
from golf.smoke import REPO_ROOT, TRAINER, run_env, torchrun_command
from trainer_support import run_trainer

SERIES = with_requirements([resolve_patch("score_first_ttt")])
CPU = torch.device("cpu")
TARGETS = 128  # with PROBE_ENV: chunks of 32 targets, so 4 chunks, the last one [96, 128)


@pytest.fixture(scope="module")
def ttt(tmp_path_factory):
    with environment(PROBE_ENV):
        return load_script(materialise(TRAINER.read_text(encoding="utf-8"), SERIES), tmp_path_factory.mktemp("ttt"))


def evaluate(module, name: str, tokens: torch.Tensor, **env):
    """(val_loss, val_bpb, model after the evaluation) from the probe's tiny config and weights."""
    evaluation = Evaluation(module, name, {**PROBE_ENV, **{k: str(v) for k, v in env.items()}}, seed=0)
    model = evaluation.model()
    with one_thread():
        loss, bpb = getattr(module, name)(evaluation.args, model, 0, 1, CPU, tokens, evaluation.luts)
    return loss, bpb, model


def stream(seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 32, (TARGETS + 1,), generator=torch.Generator().manual_seed(seed))


def weights(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.parametrize("total, seq_len, stride, chunk", [(128, 16, 4, 32), (250, 64, 24, 100), (99, 16, 16, 16), (64, 16, 4, 1000)])
def test_chunks_hold_the_sliding_windows_in_order_by_first_scored_target(ttt, total, seq_len, stride, chunk):
    windows = ttt.sliding_windows(total, seq_len, stride)
    chunks = ttt.ttt_chunks(windows, chunk, total)
    assert len(chunks) == -(-total // chunk)
    assert [w for group in chunks for w in group] == windows
    for index, group in enumerate(chunks):
        assert all(index * chunk <= start + first < (index + 1) * chunk for start, first in group)


def test_zero_learning_rate_scores_exactly_what_sliding_scores(ttt):
    tokens = stream()
    sliding_loss, sliding_bpb, _ = evaluate(ttt, "eval_val_sliding", tokens)
    loss, bpb, _ = evaluate(ttt, "eval_val_ttt", tokens, TTT_LR=0)
    assert loss == pytest.approx(sliding_loss, rel=1e-12) and bpb == pytest.approx(sliding_bpb, rel=1e-12)
    trained_loss, _, _ = evaluate(ttt, "eval_val_ttt", tokens)
    assert abs(trained_loss - sliding_loss) > 1e-4


def test_the_last_chunk_is_never_trained_on_and_the_others_are(ttt):
    tokens = stream()
    _, _, base = evaluate(ttt, "eval_val_ttt", tokens)
    in_last_chunk = tokens.clone()
    in_last_chunk[97:] = (in_last_chunk[97:] + 1) % 32  # tokens only the last chunk's targets predict
    _, _, after_last = evaluate(ttt, "eval_val_ttt", in_last_chunk)
    assert torch.equal(weights(after_last), weights(base))
    in_first_chunk = tokens.clone()
    in_first_chunk[10] = (in_first_chunk[10] + 1) % 32
    _, _, after_first = evaluate(ttt, "eval_val_ttt", in_first_chunk)
    assert not torch.equal(weights(after_first), weights(base))


def test_frozen_blocks_do_not_move(ttt):
    _, _, untouched = evaluate(ttt, "eval_val_sliding", stream())
    _, _, model = evaluate(ttt, "eval_val_ttt", stream(), TTT_FREEZE_BLOCKS=1)
    for name, parameter in model.named_parameters():
        same = torch.equal(parameter, dict(untouched.named_parameters())[name])
        assert same == name.startswith("blocks.0."), name
        assert parameter.requires_grad  # restored after the evaluation


def test_ttt_adapts_to_text_it_has_seen(ttt):
    tokens = stream()[:33].repeat(4)[:TARGETS + 1]  # one chunk of text, read four times
    sliding_loss, _, _ = evaluate(ttt, "eval_val_sliding", tokens)
    loss, _, _ = evaluate(ttt, "eval_val_ttt", tokens)
    assert loss < sliding_loss - 0.1


@pytest.mark.parametrize("env, message", [({"TTT_CHUNK_TOKENS": "8"}, "TTT_CHUNK_TOKENS=8 must be at least TRAIN_SEQ_LEN=16"),
                                          ({"TTT_FREEZE_BLOCKS": "3"}, "TTT_FREEZE_BLOCKS=3 must be at most NUM_LAYERS=2")])
def test_bad_settings_are_refused_in_one_line(ttt, env, message):
    with environment({**PROBE_ENV, **env}), pytest.raises(ttt.ConfigError, match=message):
        ttt.Hyperparameters()


TWO_RANKS = """
import json, os, sys, torch, torch.distributed as dist
sys.path.insert(0, {root!r})
from golf.probe_eval import PROBE_ENV, Evaluation, environment, load_script
from pathlib import Path
dist.init_process_group("gloo")
with environment(PROBE_ENV):
    module = load_script(Path({script!r}).read_text(), Path(os.environ["OUT"]) / str(dist.get_rank()))
evaluation = Evaluation(module, "eval_val_ttt", PROBE_ENV, seed=0)
tokens = torch.randint(0, 32, ({targets} + 1,), generator=torch.Generator().manual_seed(0))
model = evaluation.model()
loss, bpb = module.eval_val_ttt(evaluation.args, model, dist.get_rank(), 2, torch.device("cpu"), tokens, evaluation.luts)
if dist.get_rank() == 0:
    Path(os.environ["OUT"], "result.json").write_text(json.dumps([loss, bpb, torch.cat([p.detach().flatten() for p in model.parameters()]).tolist()]))
dist.destroy_process_group()
"""


def test_two_ranks_score_and_train_as_one(ttt, tmp_path):
    script = tmp_path / "train_gpt.py"
    script.write_text(materialise(TRAINER.read_text(encoding="utf-8"), SERIES), encoding="utf-8")
    helper = tmp_path / "two_ranks.py"
    helper.write_text(TWO_RANKS.format(root=str(REPO_ROOT), script=str(script), targets=TARGETS), encoding="utf-8")
    for rank in "01":
        (tmp_path / rank).mkdir()
    done = subprocess.run(torchrun_command(2, helper), env=run_env({"OUT": str(tmp_path)}), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    loss, bpb, two_rank_weights = json.loads((tmp_path / "result.json").read_text())
    one_loss, one_bpb, model = evaluate(ttt, "eval_val_ttt", stream())
    assert loss == pytest.approx(one_loss, rel=1e-5) and bpb == pytest.approx(one_bpb, rel=1e-5)
    torch.testing.assert_close(torch.tensor(two_rank_weights), weights(model), rtol=1e-4, atol=1e-5)


def test_the_trainer_trains_on_chunks_and_logs_legal_ttt_last(tmp_path, smoke_data_env):
    script = tmp_path / "train_gpt.py"
    script.write_text(materialise(TRAINER.read_text(encoding="utf-8"), SERIES), encoding="utf-8")
    overrides = {"TTT_CHUNK_TOKENS": "8192", "TTT_EPOCHS": "1"}
    completed, log = run_trainer(tmp_path, smoke_data_env, overrides, script=script)
    assert completed.returncode == 0, completed.stderr[-2000:]
    run = parse_log_text(log, "test.txt")
    sliding = next(line for line in run.metric_lines if line.label == "final_sliding_window" and line.exact)
    assert run.final.label == "legal_ttt" and run.final.exact
    assert run.final.val_bpb != sliding.val_bpb  # 18,304 targets: three chunks, two trained on
