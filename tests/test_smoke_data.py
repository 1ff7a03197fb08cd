"""golf.shards and tools/make_smoke_data.py, run as a real subprocess on text shipped with Python."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sentencepiece as spm

from golf.shards import HEADER_BYTES, MAGIC, read_shard, shard_token_count, write_shard

TOOL = Path(__file__).resolve().parent.parent / "tools" / "make_smoke_data.py"


def run_tool(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True)


def built(out: Path, *args) -> dict:
    result = run_tool("--out", out, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def split_at_bos(tokens: np.ndarray, bos: int) -> list[list[int]]:
    starts = np.flatnonzero(tokens == bos)
    return [tokens[start + 1 : end].tolist() for start, end in zip(starts, [*starts[1:], len(tokens)])]


@pytest.fixture(scope="module")
def pydoc_data(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("pydoc")
    return out, built(out)


def test_shard_round_trip(tmp_path):
    tokens = np.array([0, 1, 1023, 65535], dtype=np.uint16)
    write_shard(tmp_path / "a.bin", tokens)
    assert (tmp_path / "a.bin").stat().st_size == HEADER_BYTES + 2 * len(tokens)
    assert shard_token_count(tmp_path / "a.bin") == 4
    np.testing.assert_array_equal(read_shard(tmp_path / "a.bin"), tokens)
    assert read_shard(tmp_path / "a.bin").dtype == np.uint16


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda raw: raw[:100], "shorter than"),
        (lambda raw: (MAGIC + 1).to_bytes(4, "little") + raw[4:], "magic"),
        (lambda raw: raw[:4] + (2).to_bytes(4, "little") + raw[8:], "version"),
        (lambda raw: raw[:-2], "declares 3 tokens"),
        (lambda raw: raw + b"\0\0", "declares 3 tokens"),
    ],
)
def test_damaged_shard_is_refused(tmp_path, damage, message):
    path = tmp_path / "a.bin"
    write_shard(path, np.array([5, 6, 7]))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError, match=message):
        read_shard(path)


def test_tokens_outside_uint16_are_refused(tmp_path):
    with pytest.raises(ValueError, match="0..65535"):
        write_shard(tmp_path / "a.bin", np.array([70000]))


def test_tokenizer_has_exact_vocab_and_control_pieces(pydoc_data):
    out, summary = pydoc_data
    tokenizer = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    assert tokenizer.vocab_size() == 1024 == summary["vocab_size"]
    assert [tokenizer.id_to_piece(i) for i in range(4)] == ["<pad>", "<s>", "</s>", "<unk>"]
    assert tokenizer.bos_id() == 1
    assert sum(tokenizer.is_byte(i) for i in range(1024)) == 256
    snowman = tokenizer.encode("☃", out_type=str)
    assert snowman[-3:] == ["<0xE2>", "<0x98>", "<0x83>"]


def test_shards_hold_every_document_once_and_losslessly(pydoc_data):
    from pydoc_data.topics import topics

    out, summary = pydoc_data
    tokenizer = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    assert summary["files"] == ["tokenizer.model", "fineweb_train_000000.bin", "fineweb_val_000000.bin"]
    split_documents = {}
    for split in ("train", "val"):
        tokens = read_shard(out / f"fineweb_{split}_000000.bin")
        assert tokens[0] == tokenizer.bos_id() and len(tokens) == summary["tokens"][split]
        split_documents[split] = {tokenizer.decode(ids) for ids in split_at_bos(tokens, tokenizer.bos_id())}
        assert len(split_documents[split]) == summary["documents"][split]
    assert not split_documents["train"] & split_documents["val"]
    assert split_documents["train"] | split_documents["val"] == {text.strip("\n") for text in topics.values()}
    assert 10_000 < summary["tokens"]["val"] < 50_000 < summary["tokens"]["train"]


def test_same_input_gives_identical_bytes(pydoc_data, tmp_path):
    out, _ = pydoc_data
    built(tmp_path)
    for name in ["tokenizer.model", "fineweb_train_000000.bin", "fineweb_val_000000.bin"]:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_rerun_is_skipped_until_an_output_changes(tmp_path):
    assert built(tmp_path)["up_to_date"] is False
    assert built(tmp_path)["up_to_date"] is True
    (tmp_path / "fineweb_val_000000.bin").write_bytes(b"")
    assert built(tmp_path)["up_to_date"] is False
    assert shard_token_count(tmp_path / "fineweb_val_000000.bin") > 0
    result = run_tool("--out", tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("up to date:")
    assert f"DATA_PATH={tmp_path} TOKENIZER_PATH={tmp_path / 'tokenizer.model'}" in result.stdout


def test_small_shards_split_the_same_stream_and_replace_stale_ones(pydoc_data, tmp_path):
    out, summary = pydoc_data
    split = built(tmp_path, "--shard-tokens", 50_000)
    train_names = [name for name in split["files"] if "train" in name]
    assert len(train_names) == -(-summary["tokens"]["train"] // 50_000)
    joined = np.concatenate([read_shard(tmp_path / name) for name in train_names])
    np.testing.assert_array_equal(joined, read_shard(out / "fineweb_train_000000.bin"))
    built(tmp_path)
    assert sorted(path.name for path in tmp_path.glob("fineweb_train_*.bin")) == ["fineweb_train_000000.bin"]


def test_text_files_give_one_document_per_block(tmp_path):
    from pydoc_data.topics import topics

    paragraphs = [block for text in topics.values() for block in text.split("\n\n") if block.strip()]
    (tmp_path / "a.txt").write_text("\n\n".join(paragraphs[:1500]))
    (tmp_path / "b.txt").write_text("\r\n\r\n".join(paragraphs[1500:3000]))
    summary = built(tmp_path / "out", "--text", tmp_path / "a.txt", tmp_path / "b.txt", "--vocab-size", 512)
    assert summary["corpus"] == "text"
    distinct_blocks = {block.strip("\n") for block in paragraphs[:3000]}
    assert summary["documents"]["train"] + summary["documents"]["val"] == len(distinct_blocks)
    tokenizer = spm.SentencePieceProcessor(model_file=str(tmp_path / "out" / "tokenizer.model"))
    assert tokenizer.vocab_size() == 512


def test_stdlib_corpus_is_much_larger(pydoc_data, tmp_path):
    _, pydoc_summary = pydoc_data
    summary = built(tmp_path, "--corpus", "stdlib")
    assert summary["tokens"]["train"] > 5 * pydoc_summary["tokens"]["train"]
    assert summary["tokens"]["val"] < 50_000
    assert shard_token_count(tmp_path / "fineweb_train_000000.bin") == summary["tokens"]["train"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--vocab-size", "70000"], "--vocab-size 70000"),
        (["--val-fraction", "1.5"], "--val-fraction 1.5"),
        (["--text", "no_such_file.txt"], "no_such_file.txt"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    result = run_tool("--out", tmp_path, *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_corpus_too_small_for_the_vocab_is_one_line(tmp_path):
    (tmp_path / "tiny.txt").write_text("one small paragraph\n\nand another one\n\nand a third\n")
    result = run_tool("--out", tmp_path / "out", "--text", tmp_path / "tiny.txt", "--val-fraction", "0.5")
    assert result.returncode == 2
    assert "1024-token tokenizer" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "tokenizer.model").exists()


def test_help():
    result = run_tool("--help")
    assert result.returncode == 0 and "--corpus" in result.stdout
