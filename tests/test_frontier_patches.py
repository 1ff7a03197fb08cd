"""The 2026-03-22 record's techniques (patches/, stack frontier_0322), each proven on CPU by its
defining property on the patched script itself (the patch applied with its requirements), and
the stack checked against the record's own figures (tests/fixtures/frontier_0322_expected.json).
"""
from __future__ import annotations

import importlib.util
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from golf.patches import materialise, read_patch, read_stacks, resolve_patch, with_requirements
from golf.smoke import REPO_ROOT, TRAINER, run_env

EXPECTED = json.loads((REPO_ROOT / "tests" / "fixtures" / "frontier_0322_expected.json").read_text(encoding="utf-8"))
STACK = read_stacks()["frontier_0322"]
RECORD_PATCHES = [name for name in STACK if name != "frontier_0322_settings"]
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def patched(tmp_path_factory):
    """patched(name) -> train_gpt.py with that patch and its requirements, imported as a module."""
    modules = {}

    def load(name: str):
        if name not in modules:
            path = tmp_path_factory.mktemp(name) / "train_gpt.py"
            path.write_text(materialise(TRAINER.read_text(encoding="utf-8"), with_requirements([resolve_patch(name)])),
                            encoding="utf-8")
            spec = importlib.util.spec_from_file_location(f"frontier_{name}", path)
            modules[name] = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = modules[name]
            spec.loader.exec_module(modules[name])
        return modules[name]

    return load


def record_inputs(module: torch.nn.Module, key, seen: dict) -> None:
    """Keep the positional inputs of the module's first call under key (a real forward pre-hook)."""
    def keep(_, args):
        seen.setdefault(key, args)
    module.register_forward_pre_hook(keep)


def small_gpt(module, **options):
    torch.manual_seed(0)
    shape = dict(vocab_size=64, num_layers=3, model_dim=32, num_heads=4, num_kv_heads=2, mlp_mult=2, tie_embeddings=True,
                 tied_embed_init_std=0.5, logit_softcap=30.0, rope_base=10000.0, qk_gain_init=1.5)
    return module.GPT(**{**shape, **options})


# ---------------------------------------------------------------------------------------------
# Headers


@pytest.mark.parametrize("name", STACK)
def test_header_names_the_record_and_its_pull_request(name):
    source = read_patch(resolve_patch(name)).fields["Source"]
    assert EXPECTED["record"] in source and f"PR #{EXPECTED['pull_request']}" in source


# ---------------------------------------------------------------------------------------------
# XSA


def test_xsa_removes_the_component_along_each_tokens_own_value(patched):
    module = patched("xsa")
    torch.manual_seed(0)
    attn = module.CausalSelfAttention(32, num_heads=4, num_kv_heads=2, rope_base=10000.0, qk_gain_init=1.5)
    with torch.no_grad():
        attn.proj.weight.copy_(torch.eye(32))  # the output is the heads' outputs side by side
    x = torch.randn(2, 10, 32)
    with torch.no_grad():
        own_value = F.normalize(attn.c_v(x).reshape(2, 10, 2, 8), dim=-1).repeat_interleave(2, dim=2)  # head h reads KV head h // 2
        plain = attn(x).reshape(2, 10, 4, 8)
        attn.xsa = True
        exclusive = attn(x).reshape(2, 10, 4, 8)
    along = (plain * own_value).sum(-1, keepdim=True)
    assert float(along.abs().min()) > 1e-4  # without XSA every head has such a component
    assert float((exclusive * own_value).sum(-1).abs().max()) < 1e-5
    torch.testing.assert_close(plain - exclusive, along * own_value)  # and only that component goes


@pytest.mark.parametrize("last_n, active", [(0, []), (2, [1, 2]), (4, [0, 1, 2])])
def test_xsa_is_on_in_the_last_layers(patched, last_n, active):
    model = small_gpt(patched("xsa"), xsa_last_n=last_n)
    assert [i for i, block in enumerate(model.blocks) if block.attn.xsa] == active


# ---------------------------------------------------------------------------------------------
# Partial RoPE with NTK scaling


def test_partial_rope_leaves_the_unrotated_dimensions_untouched(patched):
    module = patched("partial_rope")
    cos, sin = module.Rotary(32, 10000.0, rotated=8)(12, CPU, torch.float32)
    x = torch.randn(2, 3, 12, 32)
    y = module.apply_rotary_emb(x, cos, sin)
    assert torch.equal(y[..., 8:], x[..., 8:])
    assert torch.equal(y[:, :, 0], x[:, :, 0])  # position 0 turns by angle 0
    assert not torch.allclose(y[:, :, 1:, :8], x[:, :, 1:, :8])
    pair_norms = lambda t: t[..., :4].square() + t[..., 4:8].square()  # (i, i + 4) rotate together
    torch.testing.assert_close(pair_norms(y), pair_norms(x))


def test_full_rope_is_the_baselines(patched):
    module, base = patched("partial_rope"), patched("ema_export")  # a series that leaves the rotary alone
    x = torch.randn(2, 3, 12, 16)
    new, old = module.Rotary(16, 10000.0)(12, CPU, torch.float32), base.Rotary(16, 10000.0)(12, CPU, torch.float32)
    assert all(torch.equal(a, b) for a, b in zip(new, old))
    assert torch.equal(module.apply_rotary_emb(x, *new), base.apply_rotary_emb(x, *old))


def test_ntk_scaling_raises_the_base_past_the_reference_length(patched):
    rotary = patched("partial_rope").Rotary(64, 10000.0, rotated=16, ntk_len=1024)
    for seq_len, base in ((1024, 10000.0), (2048, 10000.0 * 2 ** (16 / 14))):
        cos, _ = rotary(seq_len, CPU, torch.float32)
        inv_freq = 1.0 / base ** (torch.arange(0, 16, 2, dtype=torch.float32) / 16)
        torch.testing.assert_close(cos[0, 0], torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq).cos())


# ---------------------------------------------------------------------------------------------
# Norm scale 1/sqrt(layer + 1)


@pytest.mark.parametrize("ln_scale", [True, False])
def test_block_inputs_are_normed_then_scaled_by_inverse_sqrt_depth(patched, ln_scale):
    model = small_gpt(patched("ln_scale"), ln_scale=ln_scale)
    seen = {}
    for i, block in enumerate(model.blocks):
        for part in ("attn", "mlp"):
            record_inputs(getattr(block, part), (i, part), seen)
    model.logits(torch.randint(0, 64, (2, 8)))
    assert len(seen) == 6
    for (i, _), (inputs, *_) in seen.items():
        rms = inputs.detach().square().mean(-1).sqrt()
        torch.testing.assert_close(rms, torch.full_like(rms, 1 / math.sqrt(i + 1) if ln_scale else 1.0), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Shared value embedding


def test_value_embedding_is_one_table_added_to_the_last_layers_values(patched):
    model = small_gpt(patched("value_embedding"), ve_dim=16, ve_layers=(-2, -1))
    table = model.value_embedding
    with torch.no_grad():
        table.proj.weight.normal_()
        table.layer_scales.copy_(torch.tensor([2.0, 3.0]))
    assert table.layers == (1, 2) and sum(p.numel() for p in table.parameters()) == 64 * 16 + 16 * 16 + 1 + 2
    received = {}
    for i, block in enumerate(model.blocks):
        record_inputs(block, i, received)
    ids = torch.randint(0, 64, (2, 8))
    with torch.no_grad():
        model.logits(ids)
        shared = table.proj(table.embed(ids)) * table.scale
        assert received[0][2] is None
        torch.testing.assert_close(received[1][2], 2.0 * shared)
        torch.testing.assert_close(received[2][2], 3.0 * shared)
        attn, x, extra = model.blocks[2].attn, torch.randn(2, 8, 32), received[2][2]
        attn.proj.weight.copy_(torch.eye(32))
        with_extra, without = attn(x, extra), attn(x)
        assert not torch.allclose(with_extra, without)
        attn.c_v.register_forward_hook(lambda _, args, out: out + extra)  # the same sum, made at c_v's output
        torch.testing.assert_close(with_extra, attn(x))


# ---------------------------------------------------------------------------------------------
# SmearGate and BigramHash: causal, BOS masked


def perturbed_after(t: int, x: torch.Tensor, ids: torch.Tensor):
    x, ids = x.clone(), ids.clone()
    x[:, t + 1:] = torch.randn_like(x[:, t + 1:])
    ids[:, t + 1:] = torch.randint(2, 50, ids[:, t + 1:].shape)
    return x, ids


def test_smear_gate_reads_only_positions_up_to_t_and_masks_bos(patched):
    torch.manual_seed(0)
    gate = patched("smear_gate").SmearGate(8, bos_id=1)
    torch.nn.init.normal_(gate.gate)
    x, ids = torch.randn(2, 12, 8), torch.randint(2, 50, (2, 12))
    ids[:, 5] = 1
    out = gate(x, ids)
    for t in range(11):
        assert torch.equal(gate(*perturbed_after(t, x, ids))[:, : t + 1], out[:, : t + 1])
    moved = x.clone()
    moved[:, 4] += 10.0  # the previous document's last token
    assert torch.equal(gate(moved, ids)[:, 5], x[:, 5])  # the BOS position takes nothing from it
    assert not torch.allclose(gate(moved, ids)[:, 4], out[:, 4])
    ids[:, 5] = 7  # the same position without a BOS does read its predecessor
    assert not torch.allclose(gate(moved, ids)[:, 5], gate(x, ids)[:, 5])


def test_bigram_hash_reads_only_tokens_up_to_t_and_masks_bos(patched):
    bigram = patched("bigram_hash").BigramHash(2048, 16, 32, bos_id=1)
    ids = torch.randint(2, 1024, (2, 12))
    ids[:, 5] = 1
    buckets = bigram.bucket(ids)
    for t in range(11):
        assert torch.equal(bigram.bucket(perturbed_after(t, torch.zeros(2, 12, 1), ids)[1])[:, : t + 1], buckets[:, : t + 1])
    assert bool((buckets[:, [0, 5]] == 2047).all()) and bool((buckets[:, [1, 2, 3, 4, 6]] < 2047).all())
    other = ids.clone()
    other[:, 4] = 3  # the previous document's last token
    assert torch.equal(bigram.bucket(other)[:, 5], buckets[:, 5])
    previous, current = ids[:, 5].long(), ids[:, 6].long()  # the pair (BOS, first token) is inside the document
    assert torch.equal(buckets[:, 6], torch.bitwise_xor(36313 * current, 27191 * previous) % 2047)


def test_masking_bos_adds_no_parameters(patched):
    model = small_gpt(patched("bigram_hash"), smear_gate=True, bigram_buckets=128, bigram_dim=16, bos_id=1)
    plain = small_gpt(patched("bigram_hash"))
    extra = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == 32 + (128 * 16 + 16 * 32 + 1)  # the gate, and the table, projection and scale


# ---------------------------------------------------------------------------------------------
# Orthogonal init, weight decay


def test_orthogonal_init_with_scaled_output_projections(patched):
    module = patched("ortho_init")
    shape = dict(model_dim=64, num_heads=4, num_kv_heads=4, ve_dim=64, bigram_buckets=128, bigram_dim=64, smear_gate=True)
    model = small_gpt(module, ortho_init=True, **shape)
    gram = lambda w: w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    for name, weight in (("blocks.0.attn.c_q", model.blocks[0].attn.c_q.weight), ("blocks.2.mlp.fc", model.blocks[2].mlp.fc.weight)):
        torch.testing.assert_close(gram(weight.detach()), torch.eye(min(weight.shape)), atol=1e-5, rtol=0, msg=name)
    for weight in (model.bigram.proj.weight, model.value_embedding.proj.weight):
        torch.testing.assert_close(gram(weight.detach()), torch.eye(min(weight.shape)) / (2 * 3), atol=1e-5, rtol=0)
    assert not model.blocks[0].attn.proj.weight.any() and not model.blocks[0].mlp.proj.weight.any()
    plain = small_gpt(module, ortho_init=False, **shape)
    assert not torch.allclose(gram(plain.blocks[0].attn.c_q.weight.detach()), torch.eye(64), atol=1e-2)
    assert not plain.bigram.proj.weight.any()


@pytest.mark.parametrize("muon_wd, adam_wd", [(0.04, 0.04), (0.0, 0.0)])
def test_weight_decay_shrinks_every_parameter_by_one_minus_lr_times_wd(patched, monkeypatch, muon_wd, adam_wd):
    module = patched("weight_decay")
    monkeypatch.setenv("MUON_WD", str(muon_wd))
    monkeypatch.setenv("ADAM_WD", str(adam_wd))
    args = module.Hyperparameters()
    model = small_gpt(module, ve_dim=8, ve_layers=(-1,), smear_gate=True, bigram_buckets=64, bigram_dim=8)
    optimizers, _ = module.build_optimizers(args, model)
    before = {id(p): p.detach().clone() for p in model.parameters()}
    for parameter in model.parameters():
        parameter.grad = torch.zeros_like(parameter)  # no gradient: only the decay moves a weight
    for optimizer in optimizers:
        optimizer.step()
    muon = (args.matrix_lr, muon_wd)
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            lr, wd = muon if isinstance(optimizer, module.Muon) else (group["lr"], adam_wd)
            for parameter in group["params"]:
                torch.testing.assert_close(parameter.detach(), before[id(parameter)] * (1 - lr * wd), rtol=0, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# Late QAT and GPTQ-lite


@pytest.mark.parametrize("min_clip", [0.0, 1.0])
def test_qat_forward_is_the_exports_int6_round_trip_with_a_straight_through_gradient(patched, min_clip):
    module = patched("late_qat")
    torch.manual_seed(0)
    layers = torch.nn.ModuleDict({"fc": module.CastedLinear(256, 512, bias=False), "small": module.CastedLinear(64, 64, bias=False)})
    assert module.start_late_qat(layers, min_clip) == 1  # only the matrix the export stores as int6
    buffer = io.BytesIO()
    torch.save(module.quantize_state_dict_int8({"fc.weight": layers.fc.weight.detach()}, min_clip)[0], buffer)
    blob = module.compress(buffer.getvalue(), "zstd")  # the artifact's bytes, read back as the export does
    round_trip = module.dequantize_state_dict_int8(torch.load(io.BytesIO(module.decompress(blob, "zstd"))))["fc.weight"]
    x = torch.randn(3, 256)
    out = layers.fc(x)
    assert torch.equal(out, F.linear(x, round_trip)) and not torch.equal(round_trip, layers.fc.weight)
    out.sum().backward()
    torch.testing.assert_close(layers.fc.weight.grad, torch.ones(512, 3) @ x)  # d(sum W x)/dW, as if unquantized
    layers.eval()
    assert torch.equal(layers.fc(x), F.linear(x, layers.fc.weight))  # scoring sees the plain weights


def test_qat_picks_exactly_the_matrices_exported_as_int6(patched):
    module = patched("late_qat")
    model = small_gpt(module, model_dim=256, num_heads=4, num_kv_heads=2, mlp_mult=3)
    count = module.start_late_qat(model, 0.0)
    chosen = {name + ".weight" for name, m in model.named_modules() if getattr(m, "fake_quant_min_clip", None) is not None}
    obj, _ = module.quantize_state_dict_int8(model.state_dict())
    int6 = {name for name, q in obj["quantized"].items() if not module.keeps_int8(name, q)}
    assert count == len(chosen) == 6 and chosen == int6  # fc and mlp.proj of 3 blocks; c_q (65,536) stays fp16


@pytest.mark.parametrize("min_clip", [0.0, 1.0])
def test_gptq_lite_error_is_at_most_row_max_clippings_on_every_row(patched, min_clip):
    module = patched("int6_zstd_export")
    torch.manual_seed(0)
    weights = torch.randn(64, 256) * torch.logspace(-2, 0.5, 64)[:, None]  # rows above and below the floor
    weights[48, 0] = 40.0  # an outlier in a row of std 0.8, which the clip search should clip
    q, scale = module.quantize_rows_int6(weights, min_clip)
    assert int(q.abs().max()) <= 31
    error = (q.float() * scale.float()[:, None] - weights).square().sum(dim=1)
    row_max = weights.abs().amax(dim=1).clamp_min(min_clip)
    plain_scale = (row_max / 31).clamp_min(module.INT6_MIN_SCALE).half().float()
    plain = (torch.clamp(torch.round(weights / plain_scale[:, None]), -31, 31) * plain_scale[:, None] - weights).square().sum(dim=1)
    assert bool((error <= plain).all()) and float(error[48]) < float(plain[48])


def test_embedding_tables_keep_int8(patched):
    module = patched("int6_zstd_export")
    state = {name: torch.randn(1024, 128) for name in ("tok_emb.weight", "bigram.embed.weight", "value_embedding.embed.weight")}
    state["blocks.0.mlp.fc.weight"] = torch.randn(1536, 512)
    obj, _ = module.quantize_state_dict_int8(state, 1.0)
    assert {name: int(q.abs().max()) > 31 for name, q in obj["quantized"].items()} == {
        "tok_emb.weight": True, "bigram.embed.weight": True, "value_embedding.embed.weight": True, "blocks.0.mlp.fc.weight": False}


# ---------------------------------------------------------------------------------------------
# Tight SWA


def test_swa_is_the_plain_mean_of_the_snapshots_it_takes(patched):
    module = patched("tight_swa")
    model = torch.nn.Linear(4, 3)
    swa = module.WeightSWA(model, every=50, start_lr_scale=0.2)
    assert [swa.due(step, scale) for step, scale in ((100, 0.1), (100, 0.2), (120, 0.1))] == [True, False, False]
    snapshots = []
    for offset in (0.0, 1.0, 5.0):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(offset)
        snapshots.append([p.detach().clone() for p in model.parameters()])
        swa.add()
    swa.copy_to_model()
    for parameter, *taken in zip(model.parameters(), *snapshots):
        torch.testing.assert_close(parameter.detach(), torch.stack(taken).mean(dim=0))


# ---------------------------------------------------------------------------------------------
# The whole stack


def test_whole_stack_compiles_without_graph_breaks(patched):
    module = patched("frontier_0322_settings")
    model = small_gpt(module, model_dim=256, num_heads=4, num_kv_heads=2, mlp_mult=3, xsa_last_n=2, rope_dims=16,
                      rope_ntk_len=32, ln_scale=True, ve_dim=32, ve_layers=(-2, -1), smear_gate=True, bigram_buckets=128,
                      bigram_dim=32, ortho_init=True, bos_id=1)
    assert module.start_late_qat(model, 1.0) == 6
    x, y = torch.randint(0, 64, (2, 64)), torch.randint(0, 64, (2, 64))
    x[:, 10] = 1
    torch._dynamo.reset()
    training = torch._dynamo.explain(model.train())(x, y)
    scoring = torch._dynamo.explain(model.eval().token_losses)(x, y)
    assert (training.graph_break_count, scoring.graph_break_count) == (0, 0), training.break_reasons + scoring.break_reasons


# ---------------------------------------------------------------------------------------------
# The stack against the record's own figures


@pytest.fixture(scope="module")
def frontier_script(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("frontier_0322") / "train_gpt.py"
    path.write_text(materialise(TRAINER.read_text(encoding="utf-8"), [resolve_patch(name) for name in STACK]), encoding="utf-8")
    return path


def run_script(script: Path, workdir: Path, data: Path, run_id: str, overrides: dict[str, str]) -> tuple[subprocess.CompletedProcess, list[str]]:
    env = run_env({"DATA_PATH": str(data), "TOKENIZER_PATH": str(data / "tokenizer.model"), "RUN_ID": run_id, **overrides})
    done = subprocess.run([sys.executable, str(script)], cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    log = workdir / "logs" / f"{run_id}.txt"
    return done, log.read_text(encoding="utf-8").split("=" * 100)[-1].splitlines() if log.exists() else []


def logged_settings(lines: list[str]) -> dict[str, str]:
    line = next(line for line in lines if line.startswith("hyperparameters "))
    return dict(token.split(":", 1) for token in line.split()[1:])


def test_defaults_are_the_records_configuration(frontier_script, smoke_data, tmp_path):
    """No environment but the data paths: the script logs the record's config lines, then stops with
    one line at the training shards, which this data folder leaves out so that nothing trains."""
    data = tmp_path / "validation_only"
    data.mkdir()
    for name in ("tokenizer.model", "fineweb_val_000000.bin"):
        (data / name).write_bytes((smoke_data / name).read_bytes())
    done, lines = run_script(frontier_script, tmp_path, data, "defaults", {})
    assert done.returncode == 2 and done.stderr.startswith("error: no training shards match"), done.stderr[-2000:]
    assert [line for line in EXPECTED["config_lines"] if line not in lines] == []
    settings = logged_settings(lines)
    assert {key: float(settings[key]) for key in EXPECTED["settings"]} == EXPECTED["settings"]
    assert [line for line in EXPECTED["not_matched"] if line in lines] == []


def test_value_embedding_sits_on_the_records_layers(patched, monkeypatch):
    for name in ("NUM_LAYERS", "VE_DIM", "VE_LAYERS"):
        monkeypatch.delenv(name, raising=False)
    module = patched("frontier_0322_settings")
    args = module.Hyperparameters()
    model = small_gpt(module, num_layers=args.num_layers, ve_dim=args.ve_dim, ve_layers=args.ve_layers)  # narrow: layers only
    assert list(model.value_embedding.layers) == EXPECTED["value_embedding_layers"]


def test_bench_step_times_the_stack_against_the_baseline(smoke_data, capsys):
    spec = importlib.util.spec_from_file_location("bench_step", REPO_ROOT / "tools" / "bench_step.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--stack", "frontier_0322", "--rounds", "1", "--warmup", "0", "--data", str(smoke_data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ratio_vs_baseline"]["baseline"] == 1.0 and result["ratio_vs_baseline"]["frontier_0322"] > 0
    assert result["graph_breaks"] == {"baseline": 0, "frontier_0322": 0}
    assert bench.main(["--stack", "no_such_stack"]) == 2


@pytest.mark.parametrize("name, value, message", [
    ("XSA_LAST_N", "-1", "XSA_LAST_N=-1 must be >= 0"),
    ("ROPE_DIMS", "3", "ROPE_DIMS=3 must be even and at most the head size 64"),
    ("ROPE_DIMS", "128", "ROPE_DIMS=128 must be even and at most the head size 64"),
    ("ROPE_DIMS", "2", "ROPE_DIMS=2 leaves the NTK exponent"),
    ("LN_SCALE", "2", "LN_SCALE='2' must be 0 or 1"),
    ("VE_LAYERS", "9,11", "VE_LAYERS=9,11 must name layers -11..10"),
    ("VE_LAYERS", "last", "VE_LAYERS='last' must be a comma list of layer indices"),
    ("BIGRAM_VOCAB_SIZE", "1", "BIGRAM_VOCAB_SIZE=1 leaves no bucket"),
    ("MUON_WD", "-0.1", "MUON_WD=-0.1 must be >= 0.0"),
    ("LATE_QAT_THRESHOLD", "soon", "LATE_QAT_THRESHOLD='soon' is not a valid float"),
    ("SWA_EVERY", "-5", "SWA_EVERY=-5 must be >= 0"),
    ("INT6_MIN_CLIP", "-1", "INT6_MIN_CLIP=-1 must be >= 0.0"),
])
def test_a_bad_knob_is_one_line_naming_it(patched, monkeypatch, name, value, message):
    module = patched("frontier_0322_settings")
    monkeypatch.setenv(name, value)
    with pytest.raises(module.ConfigError) as error:
        module.Hyperparameters()
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
