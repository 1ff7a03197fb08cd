"""
The golf harness trainer: the OpenAI Parameter Golf baseline (9x512, vocab 1024, Muon, int8+zlib
export) in one self-contained file, with three training-side techniques behind switches.

Run:   torchrun --standalone --nproc_per_node=8 train_gpt.py      (8xH100: NCCL, bf16, torch.compile)
       torchrun --standalone --nproc_per_node=1 train_gpt.py      (CPU: gloo, fp32, eager)
Knobs: environment variables with the challenge baseline's names and defaults; the switches are
       BPB_WEIGHTED_LOSS, MUON_MOMENTUM_WARMUP_*, PRECISION_GAIN*, LAYER_GAIN* (all off = baseline).
       Their defaults are their sources': BPB_WEIGHTED_LOSS=1 weights by challenge PR #1519's table
       (base bytes, clamp 1), PRECISION_GAIN_CLAMP=0.1,5.0, LAYER_GAIN_CLAMP=0.1,3.0 and an empty
       LAYER_GAIN_EXCLUDE (every layer in the mean) are the precision-weighted-training paper's
       (T. Corbin, 2026, Phase-3 config), which ran token gain at 1.0 and layer gain at 0.5.
Score: the int8+zlib round-tripped model's val_bpb on the fixed FineWeb validation split; the
       artifact is this file's UTF-8 bytes plus the compressed model, at most 16,000,000 bytes.
Budget: at most 1500 lines; imports only torch, numpy, sentencepiece, the standard library and,
       when asked for, zstandard (COMPRESSOR=zstd) and flash-attn (FLASH_ATTN=1).
"""

from __future__ import annotations

import copy
import glob
import hashlib
import io
import math
import os
import random
import subprocess
import sys
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np
import sentencepiece as spm
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel as DDP

flash_attn_func = None  # set by load_flash_attn() when FLASH_ATTN=1

# -----------------------------------------------------------------------------
# HYPERPARAMETERS
# Every knob is an environment variable with the baseline's name and default, so a record is
# reproduced by its env line alone. Bad values stop the run with one line that names the
# variable and what it accepts, before any data or model is touched.


class ConfigError(ValueError):
    """A bad environment value, a missing file or a mismatch the user can fix."""


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_number(name: str, default, kind, low=None):
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
    if low is not None and value < low:
        raise ConfigError(f"{name}={raw} must be >= {low}")
    return value


def env_int(name: str, default: int, low: int | None = None) -> int:
    return env_number(name, default, int, low)


def env_float(name: str, default: float, low: float | None = None) -> float:
    return env_number(name, default, float, low)


def env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw not in ("0", "1"):
        raise ConfigError(f"{name}={raw!r} must be 0 or 1")
    return raw == "1"


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name, default)
    if raw not in choices:
        raise ConfigError(f"{name}={raw!r} must be one of {', '.join(choices)}")
    return raw


def env_range(name: str, default: str) -> tuple[float, float]:
    raw = os.environ.get(name, default)
    try:
        low, high = (float(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{name}={raw!r} must be two numbers 'lo,hi', e.g. {default}") from None
    if not 0 <= low <= high:
        raise ConfigError(f"{name}={raw!r} needs 0 <= lo <= hi")
    return low, high


def env_int_list(name: str, default: str) -> tuple[int, ...]:
    raw = os.environ.get(name, default)
    try:
        return tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} must be a comma list of layer indices, e.g. 0,8") from None


class Hyperparameters:
    def __init__(self):
        # Data.
        self.data_path = env_str("DATA_PATH", "./data/datasets/fineweb10B_sp1024")
        self.train_files = os.path.join(self.data_path, "fineweb_train_*.bin")
        self.val_files = os.path.join(self.data_path, "fineweb_val_*.bin")
        self.tokenizer_path = env_str("TOKENIZER_PATH", "./data/tokenizers/fineweb_1024_bpe.model")
        self.run_id = env_str("RUN_ID", str(uuid.uuid4()))
        self.seed = env_int("SEED", 1337)

        # Validation and logging cadence.
        self.val_batch_size = env_int("VAL_BATCH_SIZE", 524_288, low=1)
        self.val_loss_every = env_int("VAL_LOSS_EVERY", 1000, low=0)
        self.train_log_every = env_int("TRAIN_LOG_EVERY", 200, low=0)

        # Training length and batch.
        self.iterations = env_int("ITERATIONS", 20000, low=0)
        self.warmdown_iters = env_int("WARMDOWN_ITERS", 1200, low=0)
        self.warmup_steps = env_int("WARMUP_STEPS", 20, low=0)
        self.train_batch_tokens = env_int("TRAIN_BATCH_TOKENS", 524_288, low=1)
        self.train_seq_len = env_int("TRAIN_SEQ_LEN", 1024, low=1)
        self.max_wallclock_seconds = env_float("MAX_WALLCLOCK_SECONDS", 600.0, low=0.0)
        self.eval_budget_seconds = env_float("EVAL_BUDGET_SECONDS", 600.0, low=0.0)

        # Model shape.
        self.vocab_size = env_int("VOCAB_SIZE", 1024, low=1)
        self.num_layers = env_int("NUM_LAYERS", 9, low=1)
        self.num_kv_heads = env_int("NUM_KV_HEADS", 4, low=1)
        self.model_dim = env_int("MODEL_DIM", 512, low=1)
        self.num_heads = env_int("NUM_HEADS", 8, low=1)
        self.mlp_mult = env_int("MLP_MULT", 2, low=1)
        self.tie_embeddings = env_flag("TIE_EMBEDDINGS", True)
        self.rope_base = env_float("ROPE_BASE", 10000.0, low=1.0)
        self.logit_softcap = env_float("LOGIT_SOFTCAP", 30.0, low=0.0)
        self.qk_gain_init = env_float("QK_GAIN_INIT", 1.5)

        # Optimizer.
        self.embed_lr = env_float("EMBED_LR", 0.6, low=0.0)
        self.head_lr = env_float("HEAD_LR", 0.008, low=0.0)
        self.tied_embed_lr = env_float("TIED_EMBED_LR", 0.05, low=0.0)
        self.tied_embed_init_std = env_float("TIED_EMBED_INIT_STD", 0.005, low=0.0)
        self.matrix_lr = env_float("MATRIX_LR", 0.04, low=0.0)
        self.scalar_lr = env_float("SCALAR_LR", 0.04, low=0.0)
        self.muon_momentum = env_float("MUON_MOMENTUM", 0.95, low=0.0)
        self.muon_backend_steps = env_int("MUON_BACKEND_STEPS", 5, low=1)
        self.muon_momentum_warmup_start = env_float("MUON_MOMENTUM_WARMUP_START", 0.85, low=0.0)
        self.muon_momentum_warmup_steps = env_int("MUON_MOMENTUM_WARMUP_STEPS", 500, low=0)
        self.beta1 = env_float("BETA1", 0.9, low=0.0)
        self.beta2 = env_float("BETA2", 0.95, low=0.0)
        self.adam_eps = env_float("ADAM_EPS", 1e-8, low=0.0)
        self.grad_clip_norm = env_float("GRAD_CLIP_NORM", 0.0, low=0.0)

        # Switches: byte-weighted loss (challenge PR #1519) and precision gain (Corbin 2026).
        self.bpb_weighted_loss = env_choice("BPB_WEIGHTED_LOSS", "0", BYTE_WEIGHT_TABLES)
        self.precision_gain = env_float("PRECISION_GAIN", 0.0, low=0.0)
        self.precision_gain_clamp = env_range("PRECISION_GAIN_CLAMP", "0.1,5.0")
        self.layer_gain = env_float("LAYER_GAIN", 0.0, low=0.0)
        self.layer_gain_exclude = env_int_list("LAYER_GAIN_EXCLUDE", "")
        self.layer_gain_clamp = env_range("LAYER_GAIN_CLAMP", "0.1,3.0")

        # Device, measurement and export.
        self.compile = env_flag("COMPILE", torch.cuda.is_available())
        self.flash_attn = env_flag("FLASH_ATTN", False)
        self.val_entropy = env_flag("VAL_ENTROPY", False)
        self.compressor = env_str("COMPRESSOR", "zlib")
        self.artifact_path = env_str("ARTIFACT_PATH", "final_model.int8.ptz")
        self.raw_model_path = env_str("RAW_MODEL_PATH", "final_model.pt")
        self.validate()

    def validate(self) -> None:
        if self.compressor not in COMPRESSORS:
            raise ConfigError(f"COMPRESSOR={self.compressor!r} must be one of {', '.join(COMPRESSORS)}")
        if self.flash_attn and not torch.cuda.is_available():
            raise ConfigError("FLASH_ATTN=1 needs a CUDA device; leave it unset on CPU (PyTorch SDPA)")
        if self.compressor == "zstd" and zstandard is None:
            raise ConfigError("COMPRESSOR=zstd needs the zstandard package: pip install zstandard")
        if self.model_dim % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ConfigError(
                f"MODEL_DIM={self.model_dim} must divide by NUM_HEADS={self.num_heads}, "
                f"which must divide by NUM_KV_HEADS={self.num_kv_heads}"
            )
        if (self.model_dim // self.num_heads) % 2:
            raise ConfigError(f"MODEL_DIM/NUM_HEADS={self.model_dim // self.num_heads} must be even for rotary")
        bad = [i for i in self.layer_gain_exclude if not 0 <= i < self.num_layers]
        if bad:
            raise ConfigError(f"LAYER_GAIN_EXCLUDE={bad} must name layers 0..{self.num_layers - 1}")
        if self.layer_gain > 0 and len(set(self.layer_gain_exclude)) == self.num_layers:
            raise ConfigError("LAYER_GAIN_EXCLUDE excludes every layer: leave at least one in, or set LAYER_GAIN=0")

    def switches(self) -> dict[str, object]:
        names = ("bpb_weighted_loss", "muon_momentum_warmup_start", "muon_momentum_warmup_steps", "precision_gain",
                 "precision_gain_clamp", "layer_gain", "layer_gain_exclude", "layer_gain_clamp")
        return {name: log_value(getattr(self, name)) for name in names}


def log_value(value: object) -> str:
    """One token with no spaces, so every `key:value` in a log line splits on whitespace."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


# -----------------------------------------------------------------------------
# OPTIMIZER
# Muon (momentum + Newton-Schulz orthogonalisation) for the 2D matrices, Adam for embeddings and
# scalars, as in modded-nanogpt and the challenge baseline. Each rank orthogonalises a share of
# the matrices and one all-reduce gives every rank the same update.


def zeropower_via_newtonschulz5(G: Tensor, steps: int = 10, eps: float = 1e-7) -> Tensor:
    a, b, c = (3.4445, -4.7750, 2.0315)
    X = G.bfloat16()
    X /= X.norm() + eps
    transposed = G.size(0) > G.size(1)
    if transposed:
        X = X.T
    for _ in range(steps):
        A = X @ X.T
        B = b * A + c * A @ A
        X = a * X + B @ X
    return X.T if transposed else X


class Muon(torch.optim.Optimizer):
    def __init__(self, params, lr: float, momentum: float, backend_steps: int, nesterov: bool = True):
        super().__init__(params, dict(lr=lr, momentum=momentum, backend_steps=backend_steps, nesterov=nesterov))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        distributed = dist.is_available() and dist.is_initialized()
        world_size = dist.get_world_size() if distributed else 1
        rank = dist.get_rank() if distributed else 0
        for group in self.param_groups:
            params = group["params"]
            if not params:
                continue
            total_params = sum(int(p.numel()) for p in params)
            updates_flat = torch.zeros(total_params, device=params[0].device, dtype=torch.bfloat16)
            curr = 0
            for i, p in enumerate(params):
                if i % world_size == rank and p.grad is not None:
                    g = p.grad
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = torch.zeros_like(g)
                    buf = state["momentum_buffer"]
                    buf.mul_(group["momentum"]).add_(g)
                    if group["nesterov"]:
                        g = g.add(buf, alpha=group["momentum"])
                    g = zeropower_via_newtonschulz5(g, steps=group["backend_steps"])
                    # Scale correction from Muon reference implementations.
                    g *= max(1, g.size(0) / g.size(1)) ** 0.5
                    updates_flat[curr : curr + p.numel()] = g.reshape(-1)
                curr += p.numel()
            if distributed:
                dist.all_reduce(updates_flat, op=dist.ReduceOp.SUM)
            curr = 0
            for p in params:
                g = updates_flat[curr : curr + p.numel()].view_as(p).to(dtype=p.dtype)
                p.add_(g, alpha=-group["lr"])
                curr += p.numel()
        return loss


def muon_momentum_at(step: int, args: Hyperparameters) -> float:
    if args.muon_momentum_warmup_steps <= 0:
        return args.muon_momentum
    frac = min(step / args.muon_momentum_warmup_steps, 1.0)
    return (1 - frac) * args.muon_momentum_warmup_start + frac * args.muon_momentum


# -----------------------------------------------------------------------------
# TRAINING OBJECTIVE
# The switches reshape the per-token loss and the per-layer gradients. Everything here is
# tensor math on the device: no .item(), no host sync, nothing that breaks a compiled graph.
# Byte weighting turns the mean over tokens into a mean over bytes (challenge PR #1519);
# precision gain up-weights tokens whose loss is high relative to the micro-batch's spread.

PRECISION_GAIN_EPS = 1e-6
# BPB_WEIGHTED_LOSS: "1" is PR #1519's weight, base_bytes_lut[target].clamp(min=1): the piece's bytes
# without its leading-space byte. "position" (ours) adds that byte where the text has it, as the
# metric counts it.
BYTE_WEIGHT_TABLES = ("0", "1", "position")
SWITCH_SOURCES = ("bpb_weighted_loss:1=challenge_PR1519_table,position=ours "
                  "precision_gain_clamp,layer_gain_clamp,layer_gain_exclude:Corbin2026_phase3_config "
                  "muon_momentum_warmup:challenge_baseline")


class ByteLuts(NamedTuple):
    base_bytes: Tensor
    has_leading_space: Tensor
    is_boundary_token: Tensor


def count_target_bytes(luts: ByteLuts, prev_ids: Tensor, tgt_ids: Tensor) -> Tensor:
    """UTF-8 bytes each target token adds to the text: the BPB metric's denominator, per token."""
    token_bytes = luts.base_bytes[tgt_ids].to(dtype=torch.int16)
    token_bytes += (luts.has_leading_space[tgt_ids] & ~luts.is_boundary_token[prev_ids]).to(dtype=torch.int16)
    return token_bytes


def byte_weights(luts: ByteLuts, prev_ids: Tensor, tgt_ids: Tensor, table: str) -> Tensor:
    """Per-token loss weights of BPB_WEIGHTED_LOSS=table ("1" or "position"), float, at least 1."""
    counts = count_target_bytes(luts, prev_ids, tgt_ids) if table == "position" else luts.base_bytes[tgt_ids]
    return counts.float().clamp_min(1.0)


def precision_gain(losses: Tensor, weights: Tensor | None, strength: float, clamp: tuple[float, float]) -> Tensor:
    """g = clamp(1 + s (l - mean l) / (var l + eps)); mean and var are byte-weighted when weights
    are given, so that sum(w g) = sum(w) before clamping. Call it on detached losses."""
    w = torch.ones_like(losses) if weights is None else weights
    total = w.sum()
    mean = (w * losses).sum() / total
    var = (w * (losses - mean).square()).sum() / total
    gain = 1.0 + strength * (losses - mean) / (var + PRECISION_GAIN_EPS)
    return gain.clamp(*clamp)


def weighted_mean_loss(token_losses: Tensor, weights: Tensor | None, gain: Tensor | None) -> Tensor:
    """sum(w g l) / sum(w), where a missing w means ones and a missing g means ones."""
    numerator = token_losses if gain is None else gain * token_losses
    if weights is None:
        return numerator.sum() / token_losses.numel()
    return (weights * numerator).sum() / weights.sum()


def gain_summary(gain: Tensor) -> Tensor:
    return torch.stack((gain.mean(), gain.std(), gain.min(), gain.max()))


def relative_change(x_in: Tensor, x_out: Tensor) -> Tensor:
    """||x_out - x_in|| / ||x_in||, detached, in fp32."""
    x_in, x_out = x_in.detach().float(), x_out.detach().float()
    return torch.linalg.vector_norm(x_out - x_in) / torch.linalg.vector_norm(x_in).clamp_min(1e-12)


def layer_gain_scales(divergence: Tensor, included: Tensor, strength: float, clamp: tuple[float, float]) -> Tensor:
    """clamp(1 + k (d_i / mean d - 1)) for included layers (mean over them), 1 for excluded ones.
    At init the zero-initialised projections make every block the identity (mean d = 0): scale 1."""
    mean = (divergence * included).sum() / included.sum()
    ratio = torch.where(mean > 0, divergence / mean.clamp_min(1e-12), torch.ones_like(divergence))
    scales = (1.0 + strength * (ratio - 1.0)).clamp(*clamp)
    return torch.where(included, scales, torch.ones_like(scales))


def scale_block_grads(block_params: list[list[Tensor]], scales: Tensor) -> None:
    """Multiply block i's gradients by scales[i]; block_params is built once, not walked every step."""
    for i, params in enumerate(block_params):
        grads = [p.grad for p in params if p.grad is not None]
        if grads:
            torch._foreach_mul_(grads, scales[i])


# -----------------------------------------------------------------------------
# EVALUATION
# Tokenizer-agnostic BPB: the loss in nats over tokens becomes bits over the UTF-8 bytes of the
# validation text, with the byte count of every target token read from SentencePiece lookup
# tables. The validation split is the fixed fineweb_val_* set, scored once, in order.


def build_sentencepiece_luts(sp: spm.SentencePieceProcessor, vocab_size: int, device: torch.device) -> ByteLuts:
    sp_vocab_size = int(sp.vocab_size())
    table_size = max(sp_vocab_size, vocab_size)
    base_bytes_np = np.zeros((table_size,), dtype=np.int16)
    has_leading_space_np = np.zeros((table_size,), dtype=np.bool_)
    is_boundary_token_np = np.ones((table_size,), dtype=np.bool_)
    for token_id in range(sp_vocab_size):
        if sp.is_control(token_id) or sp.is_unknown(token_id) or sp.is_unused(token_id):
            continue
        is_boundary_token_np[token_id] = False
        if sp.is_byte(token_id):
            base_bytes_np[token_id] = 1
            continue
        piece = sp.id_to_piece(token_id)
        if piece.startswith("\u2581"):
            has_leading_space_np[token_id] = True
            piece = piece[1:]
        base_bytes_np[token_id] = len(piece.encode("utf-8"))
    return ByteLuts(
        torch.tensor(base_bytes_np, dtype=torch.int16, device=device),
        torch.tensor(has_leading_space_np, dtype=torch.bool, device=device),
        torch.tensor(is_boundary_token_np, dtype=torch.bool, device=device),
    )


def load_validation_tokens(pattern: str, seq_len: int) -> Tensor:
    files = [Path(p) for p in sorted(glob.glob(pattern))]
    if not files:
        raise ConfigError(f"no validation shards match {pattern}: check DATA_PATH")
    tokens = torch.cat([load_data_shard(file) for file in files]).contiguous()
    usable = ((tokens.numel() - 1) // seq_len) * seq_len
    if usable <= 0:
        raise ConfigError(f"validation split is too short for TRAIN_SEQ_LEN={seq_len}")
    return tokens[: usable + 1]


def val_batches(args: Hyperparameters, rank: int, world_size: int, device: torch.device,
                grad_accum_steps: int, val_tokens: Tensor) -> Iterator[tuple[Tensor, Tensor]]:
    """This rank's share of the validation split, in order, as (inputs, targets) of whole sequences."""
    local_batch_tokens = args.val_batch_size // (world_size * grad_accum_steps)
    if local_batch_tokens < args.train_seq_len:
        raise ConfigError(
            f"VAL_BATCH_SIZE={args.val_batch_size} gives {local_batch_tokens} tokens per rank and micro-step, "
            f"fewer than TRAIN_SEQ_LEN={args.train_seq_len}"
        )
    local_batch_seqs = local_batch_tokens // args.train_seq_len
    total_seqs = (val_tokens.numel() - 1) // args.train_seq_len
    seq_start = (total_seqs * rank) // world_size
    seq_end = (total_seqs * (rank + 1)) // world_size
    for batch_seq_start in range(seq_start, seq_end, local_batch_seqs):
        batch_seq_end = min(batch_seq_start + local_batch_seqs, seq_end)
        raw_start = batch_seq_start * args.train_seq_len
        raw_end = batch_seq_end * args.train_seq_len + 1
        local = val_tokens[raw_start:raw_end].to(device=device, dtype=torch.int64, non_blocking=True)
        yield local[:-1].reshape(-1, args.train_seq_len), local[1:].reshape(-1, args.train_seq_len)


def all_reduce_sums(*totals: Tensor) -> None:
    if dist.is_available() and dist.is_initialized():
        for total in totals:
            dist.all_reduce(total, op=dist.ReduceOp.SUM)


def eval_val(
    args: Hyperparameters,
    model: nn.Module,
    rank: int,
    world_size: int,
    device: torch.device,
    grad_accum_steps: int,
    val_tokens: Tensor,
    luts: ByteLuts,
) -> tuple[float, float]:
    val_loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    val_token_count = torch.zeros((), device=device, dtype=torch.float64)
    val_byte_count = torch.zeros((), device=device, dtype=torch.float64)

    model.eval()
    with torch.inference_mode():
        for x, y in val_batches(args, rank, world_size, device, grad_accum_steps, val_tokens):
            with autocast(device):
                batch_loss = model(x, y).detach()
            batch_token_count = float(y.numel())
            val_loss_sum += batch_loss.to(torch.float64) * batch_token_count
            val_token_count += batch_token_count
            val_byte_count += count_target_bytes(luts, x.reshape(-1), y.reshape(-1)).to(torch.float64).sum()

    all_reduce_sums(val_loss_sum, val_token_count, val_byte_count)

    val_loss = val_loss_sum / val_token_count
    bits_per_token = val_loss.item() / math.log(2.0)
    tokens_per_byte = val_token_count.item() / val_byte_count.item()
    model.train()
    return float(val_loss.item()), float(bits_per_token * tokens_per_byte)


def eval_entropy(run: Run, model: GPT, val_tokens: Tensor) -> float:
    """VAL_ENTROPY=1: mean entropy of the next-token distribution over validation, nats per token
    (the measure behind the precision-weighted-training paper's token-entropy claim)."""
    entropy_sum = torch.zeros((), device=run.device, dtype=torch.float64)
    token_count = torch.zeros((), device=run.device, dtype=torch.float64)
    model.eval()
    with torch.inference_mode():
        for x, y in val_batches(run.args, run.rank, run.world_size, run.device, run.grad_accum_steps, val_tokens):
            with autocast(run.device):
                log_probs = F.log_softmax(model.logits(x).float(), dim=-1)  # (B*T, V)
            entropy_sum -= (log_probs.exp() * log_probs).sum().to(torch.float64)
            token_count += y.numel()
    all_reduce_sums(entropy_sum, token_count)
    model.train()
    return float((entropy_sum / token_count).item())


# -----------------------------------------------------------------------------
# EXPORT
# Post-training int8 quantization exactly as the baseline: per-row int8 for large float
# matrices, small tensors kept as fp16 (control tensors as fp32), torch.save, then zlib level 9
# (or zstd level 22). The artifact is read back from disk and scored again.

CONTROL_TENSOR_NAME_PATTERNS = tuple(
    pattern
    for pattern in os.environ.get(
        "CONTROL_TENSOR_NAME_PATTERNS",
        "attn_scale,attn_scales,mlp_scale,mlp_scales,resid_mix,resid_mixes,q_gain,skip_weight,skip_weights",
    ).split(",")
    if pattern
)
INT8_KEEP_FLOAT_FP32_NAME_PATTERNS = tuple(
    pattern
    for pattern in os.environ.get(
        "INT8_KEEP_FLOAT_FP32_NAME_PATTERNS", ",".join(CONTROL_TENSOR_NAME_PATTERNS)
    ).split(",")
    if pattern
)
INT8_KEEP_FLOAT_MAX_NUMEL = 65_536
INT8_KEEP_FLOAT_STORE_DTYPE = torch.float16
INT8_PER_ROW_SCALE_DTYPE = torch.float16
INT8_CLIP_PERCENTILE = 99.99984
INT8_CLIP_Q = INT8_CLIP_PERCENTILE / 100.0
ARTIFACT_CAP_BYTES = 16_000_000

try:
    import zstandard
except ImportError:
    zstandard = None
COMPRESSORS = ("zlib", "zstd")


def compress(raw: bytes, compressor: str) -> bytes:
    if compressor == "zstd":
        return zstandard.ZstdCompressor(level=22).compress(raw)
    return zlib.compress(raw, level=9)


def decompress(blob: bytes, compressor: str) -> bytes:
    if compressor == "zstd":
        return zstandard.ZstdDecompressor().decompress(blob)
    return zlib.decompress(blob)


def tensor_nbytes(t: Tensor) -> int:
    return int(t.numel()) * int(t.element_size())


def keep_float_tensor(name: str, t: Tensor, passthrough_orig_dtypes: dict[str, str]) -> Tensor:
    if any(pattern in name for pattern in INT8_KEEP_FLOAT_FP32_NAME_PATTERNS):
        return t.float().contiguous()
    if t.dtype in {torch.float32, torch.bfloat16}:
        passthrough_orig_dtypes[name] = str(t.dtype).removeprefix("torch.")
        return t.to(dtype=INT8_KEEP_FLOAT_STORE_DTYPE).contiguous()
    return t


def quantize_float_tensor(t: Tensor) -> tuple[Tensor, Tensor]:
    t32 = t.float()
    if t32.ndim == 2:
        # Per-row clipping at a high percentile keeps outliers from stretching the scale.
        clip_abs = (
            torch.quantile(t32.abs(), INT8_CLIP_Q, dim=1)
            if t32.numel()
            else torch.empty((t32.shape[0],), dtype=torch.float32)
        )
        clipped = torch.maximum(torch.minimum(t32, clip_abs[:, None]), -clip_abs[:, None])
        scale = (clip_abs / 127.0).clamp_min(1.0 / 127.0)
        q = torch.clamp(torch.round(clipped / scale[:, None]), -127, 127).to(torch.int8).contiguous()
        return q, scale.to(dtype=INT8_PER_ROW_SCALE_DTYPE).contiguous()
    clip_abs = float(torch.quantile(t32.abs().flatten(), INT8_CLIP_Q).item()) if t32.numel() else 0.0
    scale = torch.tensor(clip_abs / 127.0 if clip_abs > 0 else 1.0, dtype=torch.float32)
    q = torch.clamp(torch.round(torch.clamp(t32, -clip_abs, clip_abs) / scale), -127, 127).to(torch.int8).contiguous()
    return q, scale


def quantize_state_dict_int8(state_dict: dict[str, Tensor]) -> tuple[dict, dict[str, int]]:
    quantized, scales, dtypes, passthrough, passthrough_orig_dtypes, qmeta = {}, {}, {}, {}, {}, {}
    stats = dict.fromkeys(
        ("param_count", "num_tensors", "num_float_tensors", "num_nonfloat_tensors", "baseline_tensor_bytes", "int8_payload_bytes"),
        0,
    )
    for name, tensor in state_dict.items():
        t = tensor.detach().to("cpu").contiguous()
        stats["param_count"] += int(t.numel())
        stats["num_tensors"] += 1
        stats["baseline_tensor_bytes"] += tensor_nbytes(t)
        if not t.is_floating_point():
            stats["num_nonfloat_tensors"] += 1
            passthrough[name] = t
            stats["int8_payload_bytes"] += tensor_nbytes(t)
            continue
        if t.numel() <= INT8_KEEP_FLOAT_MAX_NUMEL:
            kept = keep_float_tensor(name, t, passthrough_orig_dtypes)
            passthrough[name] = kept
            stats["int8_payload_bytes"] += tensor_nbytes(kept)
            continue
        stats["num_float_tensors"] += 1
        q, s = quantize_float_tensor(t)
        if s.ndim > 0:
            qmeta[name] = {"scheme": "per_row", "axis": 0}
        quantized[name] = q
        scales[name] = s
        dtypes[name] = str(t.dtype).removeprefix("torch.")
        stats["int8_payload_bytes"] += tensor_nbytes(q) + tensor_nbytes(s)
    obj = {"__quant_format__": "int8_clean_per_row_v1", "quantized": quantized, "scales": scales, "dtypes": dtypes, "passthrough": passthrough}
    if qmeta:
        obj["qmeta"] = qmeta
    if passthrough_orig_dtypes:
        obj["passthrough_orig_dtypes"] = passthrough_orig_dtypes
    return obj, stats


def dequantize_state_dict_int8(obj: dict) -> dict[str, Tensor]:
    out = {}
    qmeta = obj.get("qmeta", {})
    passthrough_orig_dtypes = obj.get("passthrough_orig_dtypes", {})
    for name, q in obj["quantized"].items():
        dtype = getattr(torch, obj["dtypes"][name])
        s = obj["scales"][name]
        if qmeta.get(name, {}).get("scheme") == "per_row" or s.ndim > 0:
            s = s.to(dtype=torch.float32)
            out[name] = (q.float() * s.view(q.shape[0], *([1] * (q.ndim - 1)))).to(dtype=dtype).contiguous()
        else:
            out[name] = (q.float() * float(s.item())).to(dtype=dtype).contiguous()
    for name, t in obj["passthrough"].items():
        out_t = t.detach().to("cpu").contiguous()
        orig_dtype = passthrough_orig_dtypes.get(name)
        if isinstance(orig_dtype, str):
            out_t = out_t.to(dtype=getattr(torch, orig_dtype)).contiguous()
        out[name] = out_t
    return out


# -----------------------------------------------------------------------------
# DATA
# Shards are the challenge's binary format: a 256 x int32 header (magic 20240520, version 1,
# token count) followed by uint16 tokens. Training streams them in order and every rank takes a
# disjoint span of each global batch, so runs with the same seed see the same tokens.

SHARD_MAGIC = 20240520
SHARD_VERSION = 1
SHARD_HEADER_INTS = 256


def load_data_shard(file: Path) -> Tensor:
    header_bytes = SHARD_HEADER_INTS * np.dtype("<i4").itemsize
    header = np.fromfile(file, dtype="<i4", count=SHARD_HEADER_INTS)
    if header.size != SHARD_HEADER_INTS or int(header[0]) != SHARD_MAGIC or int(header[1]) != SHARD_VERSION:
        raise ConfigError(f"{file} is not a shard (magic {SHARD_MAGIC}, version {SHARD_VERSION} expected)")
    num_tokens = int(header[2])
    expected_size = header_bytes + num_tokens * np.dtype("<u2").itemsize
    if file.stat().st_size != expected_size:
        raise ConfigError(f"{file} is {file.stat().st_size} bytes, its header promises {expected_size}: re-download it")
    tokens_np = np.fromfile(file, dtype="<u2", count=num_tokens, offset=header_bytes)
    return torch.from_numpy(tokens_np.astype(np.uint16, copy=False))


class TokenStream:
    def __init__(self, pattern: str):
        self.files = [Path(p) for p in sorted(glob.glob(pattern))]
        if not self.files:
            raise ConfigError(f"no training shards match {pattern}: set DATA_PATH (tools/make_smoke_data.py or tools/get_fineweb.py make them)")
        self.file_idx = 0
        self.tokens = load_data_shard(self.files[0])
        self.pos = 0

    def _advance_file(self) -> None:
        self.file_idx = (self.file_idx + 1) % len(self.files)
        self.tokens = load_data_shard(self.files[self.file_idx])
        self.pos = 0

    def take(self, n: int) -> Tensor:
        chunks = []
        remaining = n
        while remaining > 0:
            avail = self.tokens.numel() - self.pos
            if avail <= 0:
                self._advance_file()
                continue
            k = min(remaining, avail)
            chunks.append(self.tokens[self.pos : self.pos + k])
            self.pos += k
            remaining -= k
        return chunks[0] if len(chunks) == 1 else torch.cat(chunks)


class DistributedTokenLoader:
    def __init__(self, pattern: str, rank: int, world_size: int, device: torch.device):
        self.rank = rank
        self.world_size = world_size
        self.device = device
        self.stream = TokenStream(pattern)

    def next_batch(self, global_tokens: int, seq_len: int, grad_accum_steps: int) -> tuple[Tensor, Tensor]:
        local_tokens = global_tokens // (self.world_size * grad_accum_steps)
        per_rank_span = local_tokens + 1
        chunk = self.stream.take(per_rank_span * self.world_size)
        start = self.rank * per_rank_span
        local = chunk[start : start + per_rank_span].to(dtype=torch.int64)
        x = local[:-1].reshape(-1, seq_len)
        y = local[1:].reshape(-1, seq_len)
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)


# -----------------------------------------------------------------------------
# MODEL
# The baseline transformer: RMSNorm, rotary attention with grouped KV heads and a learned
# per-head query gain, ReLU^2 MLP, learned residual mixing with the embedding, U-Net skips from
# the first half of the blocks to the second, tied embeddings and a tanh logit softcap.


def autocast(device: torch.device):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


class RMSNorm(nn.Module):
    def __init__(self, eps: float | None = None):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, (x.size(-1),), eps=self.eps)


class CastedLinear(nn.Linear):
    # Weights stay fp32 for the optimizer; the matmul runs in the activation dtype.
    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias.to(x.dtype) if self.bias is not None else None
        return F.linear(x, self.weight.to(x.dtype), bias)


def restore_low_dim_params_to_fp32(module: nn.Module) -> None:
    with torch.no_grad():
        for name, param in module.named_parameters():
            if (param.ndim < 2 or any(pattern in name for pattern in CONTROL_TENSOR_NAME_PATTERNS)) and param.dtype != torch.float32:
                param.data = param.data.float()


class Rotary(nn.Module):
    def __init__(self, dim: int, base: float = 10000.0):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self._seq_len_cached = 0
        self._cos_cached: Tensor | None = None
        self._sin_cached: Tensor | None = None

    def forward(self, seq_len: int, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        if self._cos_cached is None or self._seq_len_cached != seq_len or self._cos_cached.device != device:
            t = torch.arange(seq_len, device=device, dtype=self.inv_freq.dtype)
            freqs = torch.outer(t, self.inv_freq.to(device))
            self._cos_cached = freqs.cos()[None, None, :, :]
            self._sin_cached = freqs.sin()[None, None, :, :]
            self._seq_len_cached = seq_len
        return self._cos_cached.to(dtype=dtype), self._sin_cached.to(dtype=dtype)


def apply_rotary_emb(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    half = x.size(-1) // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * cos + x2 * sin, x1 * (-sin) + x2 * cos), dim=-1)


def load_flash_attn() -> None:
    """FLASH_ATTN=1: flash-attn's kernel instead of SDPA (older builds do not trace under fullgraph compile)."""
    global flash_attn_func
    try:
        from flash_attn import flash_attn_func
    except ImportError:
        raise ConfigError("FLASH_ATTN=1 needs the flash-attn package: pip install flash-attn, or unset FLASH_ATTN") from None


def causal_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """(B, H, T, D) in and out; flash-attn when FLASH_ATTN=1 loaded it, PyTorch SDPA otherwise."""
    if flash_attn_func is not None and q.is_cuda:
        q, k, v = (t.transpose(1, 2).to(torch.bfloat16) for t in (q, k, v))
        return flash_attn_func(q, k, v, causal=True).transpose(1, 2)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=k.size(1) != q.size(1))


class CausalSelfAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int, num_kv_heads: int, rope_base: float, qk_gain_init: float):
        super().__init__()
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.head_dim = dim // num_heads
        kv_dim = num_kv_heads * self.head_dim
        self.c_q = CastedLinear(dim, dim, bias=False)
        self.c_k = CastedLinear(dim, kv_dim, bias=False)
        self.c_v = CastedLinear(dim, kv_dim, bias=False)
        self.proj = CastedLinear(dim, dim, bias=False)
        self.proj._zero_init = True
        self.q_gain = nn.Parameter(torch.full((num_heads,), qk_gain_init, dtype=torch.float32))
        self.rotary = Rotary(self.head_dim, base=rope_base)

    def forward(self, x: Tensor) -> Tensor:
        bsz, seqlen, dim = x.shape
        q = self.c_q(x).reshape(bsz, seqlen, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.c_k(x).reshape(bsz, seqlen, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.c_v(x).reshape(bsz, seqlen, self.num_kv_heads, self.head_dim).transpose(1, 2)
        q = F.rms_norm(q, (q.size(-1),))
        k = F.rms_norm(k, (k.size(-1),))
        cos, sin = self.rotary(seqlen, x.device, q.dtype)
        q = apply_rotary_emb(q, cos, sin)
        k = apply_rotary_emb(k, cos, sin)
        q = q * self.q_gain.to(dtype=q.dtype)[None, :, None, None]
        y = causal_attention(q, k, v)
        y = y.transpose(1, 2).contiguous().reshape(bsz, seqlen, dim)  # (B, T, D)
        return self.proj(y)


class MLP(nn.Module):
    def __init__(self, dim: int, mlp_mult: int):
        super().__init__()
        hidden = mlp_mult * dim
        self.fc = CastedLinear(dim, hidden, bias=False)
        self.proj = CastedLinear(hidden, dim, bias=False)
        self.proj._zero_init = True

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.fc(x))
        return self.proj(x.square())


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, num_kv_heads: int, mlp_mult: int, rope_base: float, qk_gain_init: float):
        super().__init__()
        self.attn_norm = RMSNorm()
        self.mlp_norm = RMSNorm()
        self.attn = CausalSelfAttention(dim, num_heads, num_kv_heads, rope_base, qk_gain_init)
        self.mlp = MLP(dim, mlp_mult)
        self.attn_scale = nn.Parameter(torch.ones(dim, dtype=torch.float32))
        self.mlp_scale = nn.Parameter(torch.ones(dim, dtype=torch.float32))
        self.resid_mix = nn.Parameter(torch.stack((torch.ones(dim), torch.zeros(dim))).float())

    def forward(self, x: Tensor, x0: Tensor) -> Tensor:
        mix = self.resid_mix.to(dtype=x.dtype)
        x = mix[0][None, None, :] * x + mix[1][None, None, :] * x0
        attn_out = self.attn(self.attn_norm(x))
        x = x + self.attn_scale.to(dtype=x.dtype)[None, None, :] * attn_out
        x = x + self.mlp_scale.to(dtype=x.dtype)[None, None, :] * self.mlp(self.mlp_norm(x))
        return x


@dataclass(frozen=True)
class Objective:
    """Which switches shape the training loss; evaluation ignores all of them."""

    byte_luts: ByteLuts | None = None
    byte_table: str = "0"
    precision_gain: float = 0.0
    precision_gain_clamp: tuple[float, float] = (0.1, 5.0)
    measure_divergence: bool = False


class GPT(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        num_layers: int,
        model_dim: int,
        num_heads: int,
        num_kv_heads: int,
        mlp_mult: int,
        tie_embeddings: bool,
        tied_embed_init_std: float,
        logit_softcap: float,
        rope_base: float,
        qk_gain_init: float,
        objective: Objective = Objective(),
    ):
        super().__init__()
        if logit_softcap <= 0.0:
            raise ConfigError(f"LOGIT_SOFTCAP={logit_softcap} must be positive")
        self.tie_embeddings = tie_embeddings
        self.tied_embed_init_std = tied_embed_init_std
        self.logit_softcap = logit_softcap
        self.tok_emb = nn.Embedding(vocab_size, model_dim)
        self.num_encoder_layers = num_layers // 2
        self.num_decoder_layers = num_layers - self.num_encoder_layers
        self.num_skip_weights = min(self.num_encoder_layers, self.num_decoder_layers)
        self.skip_weights = nn.Parameter(torch.ones(self.num_skip_weights, model_dim, dtype=torch.float32))
        self.blocks = nn.ModuleList(
            [Block(model_dim, num_heads, num_kv_heads, mlp_mult, rope_base, qk_gain_init) for _ in range(num_layers)]
        )
        self.final_norm = RMSNorm()
        self.lm_head = None if tie_embeddings else CastedLinear(model_dim, vocab_size, bias=False)
        if self.lm_head is not None:
            self.lm_head._zero_init = True
        self.precision_gain = objective.precision_gain
        self.precision_gain_clamp = objective.precision_gain_clamp
        self.measure_divergence = objective.measure_divergence
        self.byte_table = objective.byte_table
        if self.byte_table != "0":
            # Non-persistent: the byte tables never reach the state dict or the artifact.
            for name, table in objective.byte_luts._asdict().items():
                self.register_buffer(name, table, persistent=False)
        self._init_weights()

    def _init_weights(self) -> None:
        if self.tie_embeddings:
            nn.init.normal_(self.tok_emb.weight, mean=0.0, std=self.tied_embed_init_std)
        for module in self.modules():
            if isinstance(module, nn.Linear) and getattr(module, "_zero_init", False):
                nn.init.zeros_(module.weight)

    def byte_weights(self, input_ids: Tensor, target_ids: Tensor) -> Tensor:
        luts = ByteLuts(self.base_bytes, self.has_leading_space, self.is_boundary_token)
        return byte_weights(luts, input_ids.reshape(-1), target_ids.reshape(-1), self.byte_table)

    def forward(self, input_ids: Tensor, target_ids: Tensor):
        """Eval mode: the mean cross-entropy, as the baseline. Train mode: (loss with the switches
        applied, plain mean cross-entropy for the log, token gain summary or None, per-block
        divergence or None)."""
        divergences = [] if self.training and self.measure_divergence else None
        logits = self.logits(input_ids, divergences)
        targets = target_ids.reshape(-1)
        if not self.training:
            return F.cross_entropy(logits.float(), targets, reduction="mean")
        token_losses = F.cross_entropy(logits.float(), targets, reduction="none")  # (B*T,)
        weights = self.byte_weights(input_ids, target_ids) if self.byte_table != "0" else None
        gain = None
        if self.precision_gain > 0:
            gain = precision_gain(token_losses.detach(), weights, self.precision_gain, self.precision_gain_clamp)
        loss = weighted_mean_loss(token_losses, weights, gain)
        plain = loss.detach() if weights is None and gain is None else weighted_mean_loss(token_losses.detach(), None, None)
        summary = gain_summary(gain) if gain is not None else None
        divergence = torch.stack(divergences) if divergences is not None else None
        return loss, plain, summary, divergence

    def logits(self, input_ids: Tensor, divergences: list[Tensor] | None = None) -> Tensor:
        """Soft-capped next-token logits, (B*T, V); appends each block's divergence when given a list."""
        x = self.tok_emb(input_ids)
        x = F.rms_norm(x, (x.size(-1),))
        x0 = x
        skips: list[Tensor] = []
        for i in range(self.num_encoder_layers):
            x = self._run_block(i, x, x0, divergences)
            skips.append(x)
        for i in range(self.num_decoder_layers):
            if skips:
                x = x + self.skip_weights[i].to(dtype=x.dtype)[None, None, :] * skips.pop()
            x = self._run_block(self.num_encoder_layers + i, x, x0, divergences)

        x = self.final_norm(x).reshape(-1, x.size(-1))  # (B*T, D)
        logits_proj = F.linear(x, self.tok_emb.weight) if self.tie_embeddings else self.lm_head(x)
        return self.logit_softcap * torch.tanh(logits_proj / self.logit_softcap)

    def _run_block(self, i: int, x: Tensor, x0: Tensor, divergences: list[Tensor] | None) -> Tensor:
        out = self.blocks[i](x, x0)
        if divergences is not None:
            divergences.append(relative_change(x, out))
        return out


# -----------------------------------------------------------------------------
# TRAINING
# Same loop as the baseline: gradient accumulation to 8 micro-steps per step whatever the world
# size, LR warmdown tied to the wallclock cap, warmup steps that prime compilation and are then
# undone, and a clock that pauses for periodic validation.


class Run(NamedTuple):
    args: Hyperparameters
    rank: int
    world_size: int
    device: torch.device
    grad_accum_steps: int
    distributed: bool


@dataclass
class StepResult:
    train_loss: Tensor
    gain_summary: Tensor | None
    layer_scales: Tensor | None


def build_objective(args: Hyperparameters, luts: ByteLuts) -> Objective:
    return Objective(
        byte_luts=luts if args.bpb_weighted_loss != "0" else None,
        byte_table=args.bpb_weighted_loss,
        precision_gain=args.precision_gain,
        precision_gain_clamp=args.precision_gain_clamp,
        measure_divergence=args.layer_gain > 0,
    )


def build_model(args: Hyperparameters, device: torch.device, objective: Objective) -> GPT:
    model = GPT(
        vocab_size=args.vocab_size,
        num_layers=args.num_layers,
        model_dim=args.model_dim,
        num_heads=args.num_heads,
        num_kv_heads=args.num_kv_heads,
        mlp_mult=args.mlp_mult,
        tie_embeddings=args.tie_embeddings,
        tied_embed_init_std=args.tied_embed_init_std,
        logit_softcap=args.logit_softcap,
        rope_base=args.rope_base,
        qk_gain_init=args.qk_gain_init,
        objective=objective,
    ).to(device)
    if device.type == "cuda":
        model = model.bfloat16()
    for module in model.modules():
        if isinstance(module, CastedLinear):
            module.float()
    restore_low_dim_params_to_fp32(model)
    return model


def build_optimizers(args: Hyperparameters, model: GPT) -> tuple[list[torch.optim.Optimizer], Muon]:
    block_named_params = list(model.blocks.named_parameters())
    matrix_params = [p for name, p in block_named_params if p.ndim == 2 and not any(pattern in name for pattern in CONTROL_TENSOR_NAME_PATTERNS)]
    scalar_params = [p for name, p in block_named_params if p.ndim < 2 or any(pattern in name for pattern in CONTROL_TENSOR_NAME_PATTERNS)]
    if model.skip_weights.numel() > 0:
        scalar_params.append(model.skip_weights)
    token_lr = args.tied_embed_lr if args.tie_embeddings else args.embed_lr
    adam = dict(betas=(args.beta1, args.beta2), eps=args.adam_eps, fused=True)
    optimizer_tok = torch.optim.Adam([{"params": [model.tok_emb.weight], "lr": token_lr, "base_lr": token_lr}], **adam)
    optimizer_muon = Muon(matrix_params, lr=args.matrix_lr, momentum=args.muon_momentum, backend_steps=args.muon_backend_steps)
    for group in optimizer_muon.param_groups:
        group["base_lr"] = args.matrix_lr
    optimizer_scalar = torch.optim.Adam([{"params": scalar_params, "lr": args.scalar_lr, "base_lr": args.scalar_lr}], **adam)
    optimizers: list[torch.optim.Optimizer] = [optimizer_tok, optimizer_muon, optimizer_scalar]
    if model.lm_head is not None:
        optimizer_head = torch.optim.Adam([{"params": [model.lm_head.weight], "lr": args.head_lr, "base_lr": args.head_lr}], **adam)
        optimizers.insert(1, optimizer_head)
    return optimizers, optimizer_muon


class LayerGain(NamedTuple):
    """Built once: the layers in the divergence mean, and each block's parameters."""

    included: Tensor
    block_params: list[list[Tensor]]


def build_layer_gain(args: Hyperparameters, model: GPT, device: torch.device) -> LayerGain:
    included = torch.ones(args.num_layers, dtype=torch.bool, device=device)
    included[list(args.layer_gain_exclude)] = False
    return LayerGain(included, [list(block.parameters()) for block in model.blocks])


def train_step(run: Run, model: nn.Module, base_model: GPT, optimizers: list, optimizer_muon: Muon,
               loader: DistributedTokenLoader, step: int, lr_scale: float, layer_gain: LayerGain) -> StepResult:
    """One optimizer step over grad_accum_steps micro-batches; no host syncs."""
    args = run.args
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    train_loss = torch.zeros((), device=run.device)
    divergence_sum = None
    summary = None
    for micro_step in range(run.grad_accum_steps):
        if run.distributed:
            model.require_backward_grad_sync = micro_step == run.grad_accum_steps - 1
        x, y = loader.next_batch(args.train_batch_tokens, args.train_seq_len, run.grad_accum_steps)
        with autocast(run.device):
            loss, plain_loss, summary, divergence = model(x, y)
        train_loss += plain_loss
        if divergence is not None:
            divergence_sum = divergence if divergence_sum is None else divergence_sum + divergence
        (loss / run.grad_accum_steps).backward()
    train_loss /= run.grad_accum_steps

    scales = None
    if divergence_sum is not None:
        # Every rank must scale by the same numbers, or the replicas drift apart.
        if run.distributed:
            dist.all_reduce(divergence_sum, op=dist.ReduceOp.SUM)
        divergence_mean = divergence_sum / (run.grad_accum_steps * run.world_size)
        scales = layer_gain_scales(divergence_mean, layer_gain.included, args.layer_gain, args.layer_gain_clamp)
        scale_block_grads(layer_gain.block_params, scales)

    for group in optimizer_muon.param_groups:
        group["momentum"] = muon_momentum_at(step, args)
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = group["base_lr"] * lr_scale
    if args.grad_clip_norm > 0:
        torch.nn.utils.clip_grad_norm_(base_model.parameters(), args.grad_clip_norm)
    for opt in optimizers:
        opt.step()
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    return StepResult(train_loss, summary, scales)


def lr_multiplier(args: Hyperparameters, step: int, elapsed_ms: float) -> float:
    if args.warmdown_iters <= 0:
        return 1.0
    if args.max_wallclock_seconds <= 0:
        warmdown_start = max(args.iterations - args.warmdown_iters, 0)
        if warmdown_start <= step < args.iterations:
            return max((args.iterations - step) / max(args.warmdown_iters, 1), 0.0)
        return 1.0
    step_ms = elapsed_ms / max(step, 1)
    warmdown_ms = args.warmdown_iters * step_ms
    remaining_ms = max(1000.0 * args.max_wallclock_seconds - elapsed_ms, 0.0)
    return remaining_ms / max(warmdown_ms, 1e-9) if remaining_ms <= warmdown_ms else 1.0


def format_gain_line(step: int, args: Hyperparameters, result: StepResult) -> str:
    parts = [f"gain step:{step}/{args.iterations}"]
    if result.gain_summary is not None:
        mean, std, low, high = result.gain_summary.tolist()
        parts.append(f"token_gain_mean:{mean:.4f} token_gain_std:{std:.4f} token_gain_min:{low:.4f} token_gain_max:{high:.4f}")
    if result.layer_scales is not None:
        parts.append("layer_scales:" + ",".join(f"{s:.3f}" for s in result.layer_scales.tolist()))
    return " ".join(parts)


def param_digest(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# -----------------------------------------------------------------------------
# MAIN


def init_run(args: Hyperparameters) -> Run:
    distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if 8 % world_size != 0:
        raise ConfigError(f"WORLD_SIZE={world_size} must divide 8 (use --nproc_per_node 1, 2, 4 or 8)")
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        pin_flash_sdp()
    else:
        device = torch.device("cpu")
    if distributed:
        if device.type == "cuda":
            dist.init_process_group(backend="nccl", device_id=device)
        else:
            dist.init_process_group(backend="gloo")
        dist.barrier()
    return Run(args, rank, world_size, device, 8 // world_size, distributed)


def pin_flash_sdp() -> None:
    """SDPA runs the flash kernel only, as the baseline pins it (torch may prefer cuDNN on Hopper)."""
    from torch.backends.cuda import enable_cudnn_sdp, enable_flash_sdp, enable_math_sdp, enable_mem_efficient_sdp

    enable_cudnn_sdp(False)
    enable_flash_sdp(True)
    enable_mem_efficient_sdp(False)
    enable_math_sdp(False)


def sdp_backends() -> str:
    cuda = torch.backends.cuda
    return (f"sdp_backends:cudnn={cuda.cudnn_sdp_enabled()} flash={cuda.flash_sdp_enabled()} "
            f"mem_efficient={cuda.mem_efficient_sdp_enabled()} math={cuda.math_sdp_enabled()}")


def gpu_listing() -> str:
    try:
        return subprocess.run(["nvidia-smi"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False).stdout
    except FileNotFoundError:
        return "nvidia-smi: not available (CPU run)"


def load_tokenizer(args: Hyperparameters) -> spm.SentencePieceProcessor:
    if not Path(args.tokenizer_path).is_file():
        raise ConfigError(f"TOKENIZER_PATH={args.tokenizer_path} does not exist")
    sp = spm.SentencePieceProcessor(model_file=args.tokenizer_path)
    if int(sp.vocab_size()) != args.vocab_size:
        raise ConfigError(
            f"VOCAB_SIZE={args.vocab_size} does not match the tokenizer ({int(sp.vocab_size())}): "
            f"pass VOCAB_SIZE={int(sp.vocab_size())} or another TOKENIZER_PATH"
        )
    return sp


def export_and_roundtrip(run: Run, base_model: GPT, code: str, log0) -> None:
    """Write the raw and the quantized+compressed model, then load the artifact back from disk."""
    args = run.args
    code_bytes = len(code.encode("utf-8"))
    label = f"int8+{args.compressor}"
    if run.rank == 0:
        torch.save(base_model.state_dict(), args.raw_model_path)
        model_bytes = os.path.getsize(args.raw_model_path)
        log0(f"Serialized model: {model_bytes} bytes")
        log0(f"Code size: {code_bytes} bytes")
        log0(f"Total submission size: {model_bytes + code_bytes} bytes")

    quant_obj, quant_stats = quantize_state_dict_int8(base_model.state_dict())
    quant_buf = io.BytesIO()
    torch.save(quant_obj, quant_buf)
    quant_raw = quant_buf.getvalue()
    quant_blob = compress(quant_raw, args.compressor)
    if run.rank == 0:
        with open(args.artifact_path, "wb") as f:
            f.write(quant_blob)
        quant_file_bytes = os.path.getsize(args.artifact_path)
        ratio = quant_stats["baseline_tensor_bytes"] / max(quant_stats["int8_payload_bytes"], 1)
        total = quant_file_bytes + code_bytes
        log0(
            f"Serialized model {label}: {quant_file_bytes} bytes "
            f"(payload:{quant_stats['int8_payload_bytes']} raw_torch:{len(quant_raw)} payload_ratio:{ratio:.2f}x)"
        )
        log0(f"Total submission size {label}: {total} bytes")
        if total > ARTIFACT_CAP_BYTES:
            log0(f"WARNING: artifact over cap total:{total} cap:{ARTIFACT_CAP_BYTES} over_by:{total - ARTIFACT_CAP_BYTES}")
    if run.distributed:
        dist.barrier()
    with open(args.artifact_path, "rb") as f:
        quant_blob_disk = f.read()
    quant_state = torch.load(io.BytesIO(decompress(quant_blob_disk, args.compressor)), map_location="cpu")
    base_model.load_state_dict(dequantize_state_dict_int8(quant_state), strict=True)


def check_replicas_identical(run: Run, base_model: GPT, log0) -> None:
    if not run.distributed:
        return
    digests = [None] * run.world_size
    dist.all_gather_object(digests, param_digest(base_model))
    if len(set(digests)) == 1:
        log0(f"param_sync:identical ranks:{run.world_size} digest:{digests[0]}")
    else:
        log0(f"WARNING: param_sync diverged across ranks digests:{','.join(digests)}")


def main() -> None:
    global zeropower_via_newtonschulz5

    code = Path(__file__).read_text(encoding="utf-8")
    args = Hyperparameters()
    run = init_run(args)
    rank, world_size, device, grad_accum_steps = run.rank, run.world_size, run.device, run.grad_accum_steps
    master_process = rank == 0
    if args.flash_attn:
        load_flash_attn()
    if args.compile:
        zeropower_via_newtonschulz5 = torch.compile(zeropower_via_newtonschulz5)

    logfile = None
    if master_process:
        os.makedirs("logs", exist_ok=True)
        logfile = f"logs/{args.run_id}.txt"
        print(logfile)

    def log0(msg: str, console: bool = True) -> None:
        if not master_process:
            return
        if console:
            print(msg, flush=True)
        if logfile is not None:
            with open(logfile, "a", encoding="utf-8") as f:
                print(msg, file=f)

    log0(code, console=False)
    log0("=" * 100, console=False)
    log0(f"Running Python {sys.version}", console=False)
    log0(f"Running PyTorch {torch.__version__}", console=False)
    log0(gpu_listing(), console=False)
    log0("=" * 100, console=False)

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.cuda.manual_seed_all(args.seed)

    sp = load_tokenizer(args)
    dataset_dir = Path(args.data_path).resolve()
    actual_train_files = len(list(dataset_dir.glob("fineweb_train_*.bin")))
    val_tokens = load_validation_tokens(args.val_files, args.train_seq_len)
    luts = build_sentencepiece_luts(sp, args.vocab_size, device)
    log0(f"val_bpb:enabled tokenizer_kind=sentencepiece tokenizer_path={args.tokenizer_path}")
    log0(f"train_loader:dataset:{dataset_dir.name} train_shards:{actual_train_files}")
    log0(f"val_loader:shards pattern={args.val_files} tokens:{val_tokens.numel() - 1}")

    base_model = build_model(args, device, build_objective(args, luts))
    compiled_model = torch.compile(base_model, dynamic=False, fullgraph=True) if args.compile else base_model
    if run.distributed:
        device_ids = [device.index] if device.type == "cuda" else None
        model = DDP(compiled_model, device_ids=device_ids, broadcast_buffers=False)
    else:
        model = compiled_model
    optimizers, optimizer_muon = build_optimizers(args, base_model)
    layer_gain = build_layer_gain(args, base_model, device)

    log0(f"model_params:{sum(p.numel() for p in base_model.parameters())}")
    log0(f"world_size:{world_size} grad_accum_steps:{grad_accum_steps}")
    log0(f"device:{device.type} compile:{int(args.compile)} attention:{'flash_attn' if flash_attn_func is not None else 'sdpa'}")
    if device.type == "cuda":
        log0(sdp_backends())
    log0(f"attention_mode:gqa num_heads:{args.num_heads} num_kv_heads:{args.num_kv_heads}")
    token_lr = args.tied_embed_lr if args.tie_embeddings else args.embed_lr
    log0(
        f"tie_embeddings:{args.tie_embeddings} embed_lr:{token_lr} "
        f"head_lr:{args.head_lr if base_model.lm_head is not None else 0.0} "
        f"matrix_lr:{args.matrix_lr} scalar_lr:{args.scalar_lr}"
    )
    log0(
        f"train_batch_tokens:{args.train_batch_tokens} train_seq_len:{args.train_seq_len} "
        f"iterations:{args.iterations} warmup_steps:{args.warmup_steps} "
        f"max_wallclock_seconds:{args.max_wallclock_seconds:.3f}"
    )
    log0("hyperparameters " + " ".join(f"{k}:{log_value(v)}" for k, v in vars(args).items() if k not in ("train_files", "val_files")))
    log0("switches " + " ".join(f"{k}:{v}" for k, v in args.switches().items()))
    log0(f"switch_sources {SWITCH_SOURCES}")
    log0(f"seed:{args.seed}")

    train_loader = DistributedTokenLoader(args.train_files, rank, world_size, device)
    max_wallclock_ms = 1000.0 * args.max_wallclock_seconds if args.max_wallclock_seconds > 0 else None

    # Warmup primes the compiled paths, then the initial weights and optimizer state come back.
    if args.warmup_steps > 0:
        initial_model_state = {name: tensor.detach().cpu().clone() for name, tensor in base_model.state_dict().items()}
        initial_optimizer_states = [copy.deepcopy(opt.state_dict()) for opt in optimizers]
        model.train()
        for warmup_step in range(args.warmup_steps):
            train_step(run, model, base_model, optimizers, optimizer_muon, train_loader, 0, 1.0, layer_gain)
            if args.warmup_steps <= 20 or (warmup_step + 1) % 10 == 0 or warmup_step + 1 == args.warmup_steps:
                log0(f"warmup_step:{warmup_step + 1}/{args.warmup_steps}")
        base_model.load_state_dict(initial_model_state, strict=True)
        for opt, state in zip(optimizers, initial_optimizer_states, strict=True):
            opt.load_state_dict(state)
        train_loader = DistributedTokenLoader(args.train_files, rank, world_size, device)

    training_time_ms = 0.0
    stop_after_step: int | None = None
    synchronize(device)
    t0 = time.perf_counter()
    model.train()
    step = 0
    while True:
        last_step = step == args.iterations or (stop_after_step is not None and step >= stop_after_step)
        should_validate = last_step or (args.val_loss_every > 0 and step % args.val_loss_every == 0)
        if should_validate:
            synchronize(device)
            training_time_ms += 1000.0 * (time.perf_counter() - t0)
            val_loss, val_bpb = eval_val(args, model, rank, world_size, device, grad_accum_steps, val_tokens, luts)
            log0(
                f"step:{step}/{args.iterations} val_loss:{val_loss:.4f} val_bpb:{val_bpb:.4f} "
                f"train_time:{training_time_ms:.0f}ms step_avg:{training_time_ms / max(step, 1):.2f}ms"
            )
            synchronize(device)
            t0 = time.perf_counter()
        if last_step:
            if stop_after_step is not None and step < args.iterations:
                log0(f"stopping_early: wallclock_cap train_time:{training_time_ms:.0f}ms step:{step}/{args.iterations}")
            break

        elapsed_ms = training_time_ms + 1000.0 * (time.perf_counter() - t0)
        result = train_step(run, model, base_model, optimizers, optimizer_muon, train_loader, step,
                            lr_multiplier(args, step, elapsed_ms), layer_gain)
        step += 1
        approx_training_time_ms = training_time_ms + 1000.0 * (time.perf_counter() - t0)
        should_log_train = args.train_log_every > 0 and (
            step <= 10 or step % args.train_log_every == 0 or stop_after_step is not None
        )
        if should_log_train:
            log0(
                f"step:{step}/{args.iterations} train_loss:{result.train_loss.item():.4f} "
                f"train_time:{approx_training_time_ms:.0f}ms step_avg:{approx_training_time_ms / step:.2f}ms"
            )
            if result.gain_summary is not None or result.layer_scales is not None:
                log0(format_gain_line(step, args, result))

        reached_cap = max_wallclock_ms is not None and approx_training_time_ms >= max_wallclock_ms
        if run.distributed and max_wallclock_ms is not None:
            reached_cap_tensor = torch.tensor(int(reached_cap), device=device)
            dist.all_reduce(reached_cap_tensor, op=dist.ReduceOp.MAX)
            reached_cap = bool(reached_cap_tensor.item())
        if stop_after_step is None and reached_cap:
            stop_after_step = step

    if device.type == "cuda":
        log0(
            f"peak memory allocated: {torch.cuda.max_memory_allocated() // 1024 // 1024} MiB "
            f"reserved: {torch.cuda.max_memory_reserved() // 1024 // 1024} MiB"
        )
    check_replicas_identical(run, base_model, log0)
    export_and_roundtrip(run, base_model, code, log0)

    synchronize(device)
    t_qeval = time.perf_counter()
    q_val_loss, q_val_bpb = eval_val(args, model, rank, world_size, device, grad_accum_steps, val_tokens, luts)
    synchronize(device)
    eval_ms = 1000.0 * (time.perf_counter() - t_qeval)
    label = f"final_int8_{args.compressor}_roundtrip"
    log0(f"{label} val_loss:{q_val_loss:.4f} val_bpb:{q_val_bpb:.4f} eval_time:{eval_ms:.0f}ms")
    log0(f"{label}_exact val_loss:{q_val_loss:.8f} val_bpb:{q_val_bpb:.8f}")
    if args.val_entropy:
        log0(f"{label}_entropy val_entropy:{eval_entropy(run, base_model, val_tokens):.6f}")
    if eval_ms > 1000.0 * args.eval_budget_seconds:
        log0(f"WARNING: eval over budget eval_time:{eval_ms:.0f}ms budget:{1000.0 * args.eval_budget_seconds:.0f}ms")

    if run.distributed:
        dist.barrier()  # no rank tears its connections down while another still uses them
        dist.destroy_process_group()


if __name__ == "__main__":
    try:
        main()
    except ConfigError as error:
        if os.environ.get("RANK", "0") == "0":
            print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
