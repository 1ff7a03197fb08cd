"""patches/leaky_relu_sq.patch: the MLP computes leaky_relu(x, 0.5)², and LEAKY_RELU_SLOPE=0 is relu² exactly.

The property the technique exists for: units with a negative pre-activation still get a gradient,
which they do not with the switch off.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from golf.patches import materialise, resolve_patch
from golf.probe_eval import environment, load_script
from golf.smoke import TRAINER, import_trainer

ROOT = import_trainer()
SHAPE = {"VOCAB_SIZE": "32", "NUM_LAYERS": "2", "MODEL_DIM": "16", "NUM_HEADS": "2", "NUM_KV_HEADS": "1"}


@pytest.fixture(scope="module")
def leaky(tmp_path_factory):
    text = materialise(TRAINER.read_text(encoding="utf-8"), [resolve_patch("leaky_relu_sq")])
    return load_script(text, tmp_path_factory.mktemp("leaky"))


def mlp_pair(module, slope: float):
    """The patched MLP at this slope and the root script's MLP, with the same random weights."""
    torch.manual_seed(0)
    patched, root = module.MLP(16, 2), ROOT.MLP(16, 2)
    for parameter in patched.parameters():
        torch.nn.init.normal_(parameter, std=0.5)
    root.load_state_dict(patched.state_dict())
    patched.negative_slope = slope
    return patched, root


def test_slope_half_is_leaky_relu_squared(leaky):
    mlp, root = mlp_pair(leaky, 0.5)
    x = torch.randn(3, 5, 16)
    hidden = F.leaky_relu(x @ mlp.fc.weight.T, 0.5)
    torch.testing.assert_close(mlp(x), hidden.square() @ mlp.proj.weight.T)
    assert not torch.allclose(mlp(x), root(x))


def test_slope_zero_is_the_baseline_bit_for_bit(leaky):
    mlp, root = mlp_pair(leaky, 0.0)
    x = torch.randn(3, 5, 16)
    assert torch.equal(mlp(x), root(x))


@pytest.mark.parametrize("slope, reaches", [(0.5, True), (0.0, False)])
def test_units_with_negative_preactivation_get_a_gradient_only_when_leaky(leaky, slope, reaches):
    mlp, _ = mlp_pair(leaky, slope)
    x = torch.randn(1, 16)
    negative = ((x @ mlp.fc.weight.T)[0] < 0).nonzero().flatten()
    mlp(x).sum().backward()
    assert negative.numel() > 0
    assert bool((mlp.fc.weight.grad[negative].abs().sum(dim=1) > 0).all()) == reaches


@pytest.mark.parametrize("env, slope", [({}, 0.5), ({"LEAKY_RELU_SLOPE": "0"}, 0.0), ({"LEAKY_RELU_SLOPE": "0.25"}, 0.25)])
def test_build_model_sets_every_mlp_from_the_knob(leaky, env, slope):
    with environment({**SHAPE, **env}):
        args = leaky.Hyperparameters()
    model = leaky.build_model(args, torch.device("cpu"), leaky.Objective())
    assert [block.mlp.negative_slope for block in model.blocks] == [slope, slope]


def test_a_negative_slope_is_refused(leaky):
    with environment({"LEAKY_RELU_SLOPE": "-0.5"}), pytest.raises(leaky.ConfigError, match="LEAKY_RELU_SLOPE"):
        leaky.Hyperparameters()
