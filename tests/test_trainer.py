"""In-process tests of train_gpt.py's switches: exact neutrality, the math, and compile-friendliness."""
from __future__ import annotations

import io
import math

import pytest
import sentencepiece as spm
import torch

from golf.smoke import TINY_ENV
from golf.smoke import import_trainer

T = import_trainer()
CPU = torch.device("cpu")
UNCLAMPED = (-1e9, 1e9)


@pytest.fixture
def tiny_args(monkeypatch, smoke_data_env):
    def make(**overrides):
        for key, value in {**TINY_ENV, **smoke_data_env, **overrides}.items():
            monkeypatch.setenv(key, str(value))
        return T.Hyperparameters()

    return make


def byte_luts(args):
    sp = spm.SentencePieceProcessor(model_file=args.tokenizer_path)
    return T.build_sentencepiece_luts(sp, args.vocab_size, CPU)


def train_losses(args, objective, steps=4):
    """Loss tensors of `steps` real optimizer steps from a fixed seed, single process."""
    torch.manual_seed(args.seed)
    model = T.build_model(args, CPU, objective)
    optimizers, muon = T.build_optimizers(args, model)
    loader = T.DistributedTokenLoader(args.train_files, 0, 1, CPU)
    run = T.Run(args, 0, 1, CPU, 2, False)
    layer_gain = T.build_layer_gain(args, model, CPU)
    model.train()
    losses = []
    for step in range(steps):
        result = T.train_step(run, model, model, optimizers, muon, loader, step, 1.0, layer_gain)
        losses.append(result.train_loss)
    return torch.stack(losses), model


def test_bpb_weighting_with_a_table_of_ones_is_the_baseline(tiny_args):
    args = tiny_args()
    ones = byte_luts(args)._replace(
        base_bytes=torch.ones(args.vocab_size, dtype=torch.int16),
        has_leading_space=torch.zeros(args.vocab_size, dtype=torch.bool),
    )
    baseline, _ = train_losses(args, T.Objective())
    for table in ("1", "position"):
        weighted, _ = train_losses(args, T.Objective(byte_luts=ones, byte_table=table))
        assert torch.equal(baseline, weighted)
        real, _ = train_losses(args, T.Objective(byte_luts=byte_luts(args), byte_table=table))
        assert not torch.equal(baseline, real)


def test_precision_gain_clamped_to_one_is_the_baseline(tiny_args):
    baseline, _ = train_losses(tiny_args(), T.Objective())
    args = tiny_args(PRECISION_GAIN="2.0", PRECISION_GAIN_CLAMP="1,1")
    neutral, _ = train_losses(args, T.build_objective(args, byte_luts(args)))
    assert torch.equal(baseline, neutral)


def test_layer_gain_clamped_to_one_is_the_baseline(tiny_args):
    baseline, _ = train_losses(tiny_args(), T.Objective())
    args = tiny_args(LAYER_GAIN="2.0", LAYER_GAIN_CLAMP="1,1")
    neutral, _ = train_losses(args, T.build_objective(args, byte_luts(args)))
    assert torch.equal(baseline, neutral)
    active = tiny_args(LAYER_GAIN="2.0", LAYER_GAIN_CLAMP="0.1,3.0", LAYER_GAIN_EXCLUDE="")
    changed, _ = train_losses(active, T.build_objective(active, byte_luts(active)))
    assert not torch.equal(baseline, changed)


def test_byte_counts_add_up_to_the_documents_utf8_bytes(tiny_args):
    args = tiny_args()
    sp = spm.SentencePieceProcessor(model_file=args.tokenizer_path)
    luts = byte_luts(args)
    for text in ("Hello, world!", "  two  spaces\nand a newline", "Ünïcödé → ∑ 数学 emoji 🙂"):
        ids = torch.tensor([sp.bos_id(), *sp.encode(text)])
        counted = T.count_target_bytes(luts, ids[:-1], ids[1:]).sum().item()
        assert counted == len(text.encode("utf-8"))


def hand_counted_weights(sp, ids: list[int], with_space: bool) -> list[float]:
    """Each target's weight from its piece text: UTF-8 bytes without the leading '▁' (PR #1519),
    plus one for that space when the previous token is not BOS ("position"); at least 1."""
    weights = []
    for prev, target in zip(ids, ids[1:]):
        piece = sp.id_to_piece(target)
        count = 1 if sp.is_byte(target) else len(piece.removeprefix("\u2581").encode("utf-8"))
        if with_space and piece.startswith("\u2581") and prev != sp.bos_id():
            count += 1
        weights.append(float(max(count, 1)))
    return weights


@pytest.mark.parametrize("table, with_space", [("1", False), ("position", True)])
def test_bpb_weights_match_hand_counted_bytes_of_a_real_tokenizer(tiny_args, table, with_space):
    args = tiny_args(BPB_WEIGHTED_LOSS=table)
    sp = spm.SentencePieceProcessor(model_file=args.tokenizer_path)
    model = T.build_model(args, CPU, T.build_objective(args, byte_luts(args)))
    ids = [sp.bos_id(), *sp.encode("The spaces  here, a newline\nand ünïcödé bytes 🙂 count.")]
    x, y = torch.tensor([ids[:-1]]), torch.tensor([ids[1:]])
    expected = torch.tensor(hand_counted_weights(sp, ids, with_space))
    assert torch.equal(model.byte_weights(x, y), expected)
    assert expected.max() > 1


def test_the_two_byte_tables_differ_only_by_the_space_byte(tiny_args):
    luts = byte_luts(tiny_args())
    x = torch.randint(4, 1024, (512,))
    y = torch.randint(4, 1024, (512,))
    pr_table, position = (T.byte_weights(luts, x, y, table) for table in ("1", "position"))
    assert torch.isin(position - pr_table, torch.tensor([0.0, 1.0])).all()
    assert (position > pr_table).any()


def test_bpb_switch_leaves_evaluation_and_artifact_untouched(tiny_args):
    args = tiny_args(BPB_WEIGHTED_LOSS="1")
    luts = byte_luts(args)
    torch.manual_seed(0)
    plain = T.build_model(args, CPU, T.Objective())
    weighted = T.build_model(args, CPU, T.build_objective(args, luts))
    weighted.load_state_dict(plain.state_dict(), strict=True)
    assert not any("bytes" in name or "boundary" in name for name in weighted.state_dict())

    val_tokens = T.load_validation_tokens(args.val_files, args.train_seq_len)
    scores = [T.eval_val(args, m, 0, 1, CPU, 8, val_tokens, luts) for m in (plain, weighted)]
    assert scores[0] == scores[1]

    quantized, _ = T.quantize_state_dict_int8(weighted.state_dict())
    buffer = io.BytesIO()
    torch.save(quantized, buffer)
    restored = torch.load(io.BytesIO(buffer.getvalue()), map_location="cpu")
    fresh = T.build_model(args, CPU, T.build_objective(args, luts))
    fresh.load_state_dict(T.dequantize_state_dict_int8(restored), strict=True)


def test_precision_gain_keeps_the_total_weight_before_clamping():
    losses = torch.rand(512) * 8
    gain = T.precision_gain(losses, None, 0.7, UNCLAMPED)
    assert gain.sum().item() == pytest.approx(512, rel=1e-5)
    weights = torch.randint(1, 6, (512,)).float()
    gain = T.precision_gain(losses, weights, 0.7, UNCLAMPED)
    assert (weights * gain).sum().item() == pytest.approx(weights.sum().item(), rel=1e-5)
    clamped = T.precision_gain(losses, weights, 0.7, (0.1, 5.0))
    assert clamped.min() >= 0.1 and clamped.max() <= 5.0


def test_precision_gain_up_weights_high_loss_tokens():
    losses = torch.tensor([1.0, 2.0, 3.0])
    gain = T.precision_gain(losses, None, 0.5, UNCLAMPED)
    assert gain[0] < 1 < gain[2] and gain[1] == pytest.approx(1.0)
    # var = 2/3, so g = 1 + 0.5 * (l - 2) / (2/3 + eps)
    assert gain[2].item() == pytest.approx(1 + 0.5 * 1 / (2 / 3), rel=1e-5)


def test_precision_gain_is_finite_when_the_variance_is_zero():
    gain = T.precision_gain(torch.full((64,), 2.5), None, 1.0, UNCLAMPED)
    assert torch.isfinite(gain).all()
    assert torch.allclose(gain, torch.ones(64), atol=1e-3)


def test_no_gradient_flows_through_the_gain():
    losses = (torch.rand(16) * 4).requires_grad_()
    gain = T.precision_gain(losses.detach(), None, 1.0, (0.1, 5.0))
    T.weighted_mean_loss(losses, None, gain).backward()
    assert torch.allclose(losses.grad, gain / 16)


def test_layer_scales_follow_the_formula_and_skip_excluded_layers():
    divergence = torch.tensor([9.0, 1.0, 2.0, 3.0])
    included = torch.tensor([False, True, True, True])
    scales = T.layer_gain_scales(divergence, included, 0.5, UNCLAMPED)
    # mean over included layers = 2: 1 + 0.5 * (d / 2 - 1)
    assert torch.allclose(scales, torch.tensor([1.0, 0.75, 1.0, 1.25]))
    clamped = T.layer_gain_scales(divergence, included, 4.0, (0.1, 3.0))
    assert torch.allclose(clamped, torch.tensor([1.0, 0.1, 1.0, 3.0]))


def test_layer_gain_multiplies_each_blocks_gradients(tiny_args):
    args = tiny_args()
    model = T.build_model(args, CPU, T.Objective())
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    T.scale_block_grads(T.build_layer_gain(args, model, CPU).block_params, torch.tensor([0.5, 2.0]))
    assert all(torch.all(p.grad == 0.5) for p in model.blocks[0].parameters())
    assert all(torch.all(p.grad == 2.0) for p in model.blocks[1].parameters())
    assert torch.all(model.tok_emb.weight.grad == 1.0)


def test_training_forward_with_every_switch_has_no_graph_breaks(tiny_args):
    args = tiny_args(BPB_WEIGHTED_LOSS="1", PRECISION_GAIN="0.5", LAYER_GAIN="0.5")
    model = T.build_model(args, CPU, T.build_objective(args, byte_luts(args))).train()
    x = torch.randint(0, args.vocab_size, (2, 64))
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(model)(x, x)
    assert explanation.graph_break_count == 0
    assert explanation.graph_count == 1


def test_forward_runs_under_cpu_bf16_autocast(tiny_args):
    args = tiny_args(BPB_WEIGHTED_LOSS="1", PRECISION_GAIN="0.5", LAYER_GAIN="0.5")
    model = T.build_model(args, CPU, T.build_objective(args, byte_luts(args))).train()
    x = torch.randint(0, args.vocab_size, (2, 64))
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        loss, plain, summary, divergence = model(x, x)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(plain) and summary.shape == (4,) and divergence.shape == (args.num_layers,)


@pytest.mark.parametrize(
    "variable, value, expected",
    [
        ("PRECISION_GAIN", "-1", "PRECISION_GAIN=-1 must be >= 0"),
        ("BPB_WEIGHTED_LOSS", "yes", "BPB_WEIGHTED_LOSS='yes' must be one of 0, 1, position"),
        ("LAYER_GAIN_CLAMP", "3", "LAYER_GAIN_CLAMP='3' must be two numbers"),
        ("LAYER_GAIN_EXCLUDE", "7", "LAYER_GAIN_EXCLUDE=[7] must name layers 0..1"),
        ("COMPRESSOR", "brotli", "COMPRESSOR='brotli' must be one of zlib, zstd"),
        ("NUM_LAYERS", "two", "NUM_LAYERS='two' is not a valid int"),
    ],
)
def test_bad_settings_name_the_variable(tiny_args, variable, value, expected):
    with pytest.raises(T.ConfigError, match="^" + expected.replace("[", r"\[").replace("]", r"\]")):
        tiny_args(**{variable: value})


@pytest.mark.skipif(torch.cuda.is_available(), reason="the error is for machines without CUDA")
def test_flash_attn_is_opt_in_and_needs_cuda(tiny_args):
    assert tiny_args().flash_attn is False
    with pytest.raises(T.ConfigError, match="^FLASH_ATTN=1 needs a CUDA device"):
        tiny_args(FLASH_ATTN="1")


def test_layer_gain_averages_over_every_layer_by_default(tiny_args):
    args = tiny_args(LAYER_GAIN="0.5")
    model = T.build_model(args, CPU, T.build_objective(args, byte_luts(args)))
    assert args.layer_gain_exclude == ()
    assert T.build_layer_gain(args, model, CPU).included.all()


def test_entropy_of_uniform_logits_is_log_vocab_and_training_lowers_it(tiny_args):
    args = tiny_args()
    run = T.Run(args, 0, 1, CPU, 8, False)
    val_tokens = T.load_validation_tokens(args.val_files, args.train_seq_len)
    model = T.build_model(args, CPU, T.Objective())
    with torch.no_grad():
        model.tok_emb.weight.zero_()
    assert T.eval_entropy(run, model, val_tokens) == pytest.approx(math.log(args.vocab_size), abs=1e-6)
    _, trained = train_losses(args, T.Objective(), steps=4)
    assert T.eval_entropy(run, trained, val_tokens) < math.log(args.vocab_size) - 0.01


def test_layer_scales_are_one_when_no_block_has_moved_yet():
    scales = T.layer_gain_scales(torch.zeros(3), torch.ones(3, dtype=torch.bool), 2.0, (0.1, 3.0))
    assert torch.equal(scales, torch.ones(3))


def test_muon_momentum_ramps_linearly_and_can_be_disabled(tiny_args):
    args = tiny_args(MUON_MOMENTUM_WARMUP_START="0.85", MUON_MOMENTUM_WARMUP_STEPS="500", MUON_MOMENTUM="0.95")
    assert [round(T.muon_momentum_at(s, args), 6) for s in (0, 250, 500, 900)] == [0.85, 0.9, 0.95, 0.95]
    off = tiny_args(MUON_MOMENTUM_WARMUP_STEPS="0")
    assert T.muon_momentum_at(0, off) == 0.95


def test_logged_train_loss_is_the_plain_cross_entropy(tiny_args):
    args = tiny_args(BPB_WEIGHTED_LOSS="1", PRECISION_GAIN="0.5")
    model = T.build_model(args, CPU, T.build_objective(args, byte_luts(args)))
    x = torch.randint(0, args.vocab_size, (2, 64))
    y = torch.randint(0, args.vocab_size, (2, 64))
    loss, plain, _, _ = model.train()(x, y)
    expected = model.eval()(x, y)
    assert plain.item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss.item() != pytest.approx(plain.item(), rel=1e-3)
