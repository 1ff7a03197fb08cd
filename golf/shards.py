"""The challenge's token shard format, read and written exactly as the trainer loads it.

A shard is a 256 x int32 little-endian header (magic 20240520, version 1, token count,
then zeros) followed by that many uint16 little-endian tokens. Nothing else may follow.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

MAGIC = 20240520
VERSION = 1
HEADER_INTS = 256
HEADER_BYTES = HEADER_INTS * 4
TOKEN_BYTES = 2
MAX_TOKEN_ID = np.iinfo(np.uint16).max


def shard_name(split: str, index: int) -> str:
    """The file name the trainer globs for: fineweb_train_000000.bin, fineweb_val_000000.bin."""
    return f"fineweb_{split}_{index:06d}.bin"


def write_shard(path: str | Path, tokens: np.ndarray) -> None:
    """Write tokens as one shard; the file appears only once complete (temp name, then rename)."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 1:
        raise ValueError(f"shard tokens must be a 1-D array, got shape {tokens.shape}")
    if tokens.size and (tokens.min() < 0 or tokens.max() > MAX_TOKEN_ID):
        raise ValueError(f"shard tokens must lie in 0..{MAX_TOKEN_ID}, got {tokens.min()}..{tokens.max()}")
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[:3] = (MAGIC, VERSION, tokens.size)
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as file:
        file.write(header.tobytes())
        file.write(tokens.astype("<u2").tobytes())
    os.replace(partial, path)


def shard_token_count(path: str | Path) -> int:
    """The token count a shard's header declares, after checking magic, version and file size."""
    path = Path(path)
    size = path.stat().st_size
    if size < HEADER_BYTES:
        raise ValueError(f"{path}: {size} bytes is shorter than the {HEADER_BYTES}-byte shard header")
    header = np.fromfile(path, dtype="<i4", count=HEADER_INTS)
    if header[0] != MAGIC:
        raise ValueError(f"{path}: header magic is {header[0]}, a shard needs {MAGIC}")
    if header[1] != VERSION:
        raise ValueError(f"{path}: header version is {header[1]}, a shard needs {VERSION}")
    token_count = int(header[2])
    expected_size = HEADER_BYTES + token_count * TOKEN_BYTES
    if token_count < 0 or size != expected_size:
        raise ValueError(
            f"{path}: header declares {token_count} tokens ({expected_size} bytes) but the file has {size} bytes"
        )
    return token_count


def read_shard(path: str | Path) -> np.ndarray:
    """All tokens of a valid shard as a uint16 array."""
    token_count = shard_token_count(path)
    return np.fromfile(path, dtype="<u2", count=token_count, offset=HEADER_BYTES).astype(np.uint16, copy=False)
