"""Fetch the challenge's published FineWeb shards and tokenizer, resuming where a previous run stopped.

    python tools/get_fineweb.py --variant sp1024 --train-shards 10
    DATA_PATH=./data/datasets/fineweb10B_sp1024 TOKENIZER_PATH=./data/tokenizers/fineweb_1024_bpe.model ...

The files come from the Hugging Face dataset willdepueoai/parameter-golf, or from --source DIR laid
out like it. The repository is listed and these are picked by path: every
`fineweb10B_<variant>/fineweb_val_*.bin`, the first N `fineweb10B_<variant>/fineweb_train_*.bin`
(all by default) and `tokenizers/fineweb_<vocab>_bpe.model`, whatever folder holds them there.
They land in <out>/datasets/fineweb10B_<variant>/ and <out>/tokenizers/.

Resume: a file already in place and valid (a shard whose header agrees with its size, a tokenizer
that loads with the variant's vocabulary size) is skipped. A fetch goes to <out>/.incoming first and
is moved into place only once it passes the same check, so an interrupted run never leaves a file
that looks complete. huggingface_hub is needed only without --source.

Exit codes: 0 all files in place, 1 fetch failed (offline, invalid file), 2 bad input, 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sentencepiece as spm

from golf.findings import InputError
from golf.shards import shard_token_count

REPO_ID = "willdepueoai/parameter-golf"
STAGING_NAME = ".incoming"


class FetchError(Exception):
    """The source could not deliver a valid file: one line, exit code 1."""


@dataclass(frozen=True)
class WantedFile:
    remote: str
    local: Path
    vocab_size: int | None = None  # set for the tokenizer, None for shards


class LocalSource:
    """A folder laid out like the Hugging Face repository."""

    def __init__(self, root: Path):
        if not root.is_dir():
            raise InputError(f"--source {root} is not a folder: pass a copy of the repository's layout")
        self.root = root
        self.name = str(root)

    def list_files(self) -> list[str]:
        return sorted(path.relative_to(self.root).as_posix() for path in self.root.rglob("*") if path.is_file())

    def fetch(self, remote: str, staging: Path) -> Path:
        staged = staging / remote
        staged.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.root / remote, staged)
        return staged


class HubSource:
    """The challenge's Hugging Face dataset; hub errors (offline, not found) become one FetchError line."""

    def __init__(self, repo_id: str):
        try:
            import huggingface_hub
        except ImportError:
            message = "huggingface_hub is not installed: pip install huggingface_hub, or pass --source DIR"
            raise FetchError(message) from None
        self.hub = huggingface_hub
        self.repo_id = repo_id
        self.name = f"Hugging Face dataset {repo_id}"

    def list_files(self) -> list[str]:
        try:
            return sorted(self.hub.list_repo_files(self.repo_id, repo_type="dataset"))
        except Exception as error:  # the hub raises many types (offline, HTTP, auth); all mean "unreachable"
            reason = one_line(error)
            raise FetchError(f"cannot list {self.name}: {reason}: check the network or pass --source DIR") from None

    def fetch(self, remote: str, staging: Path) -> Path:
        try:
            staged = self.hub.hf_hub_download(self.repo_id, remote, repo_type="dataset", local_dir=staging)
        except Exception as error:  # as above: any hub failure means this file could not be fetched
            reason = one_line(error)
            raise FetchError(f"cannot download {remote} from {self.name}: {reason}: re-run to resume") from None
        return Path(staged)


def one_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def variant_vocab_size(variant: str) -> int:
    match = re.fullmatch(r"sp(\d+)", variant)
    if not match:
        raise InputError(f"--variant {variant!r} is not of the form sp<vocab size>: pass e.g. sp1024")
    return int(match.group(1))


def matching(remote_files: list[str], pattern: str) -> dict[str, str]:
    """File name -> remote path for every remote path ending in `pattern`; a name found twice is an error."""
    found = {}
    for remote in remote_files:
        if re.search(rf"(?:^|/){pattern}$", remote):
            name = remote.rsplit("/", 1)[-1]
            if name in found:
                raise FetchError(f"{name} appears twice in the source ({found[name]}, {remote}): pass --source DIR")
            found[name] = remote
    return dict(sorted(found.items()))


def plan(
    remote_files: list[str], variant: str, train_shards: int | None, out: Path, source_name: str
) -> list[WantedFile]:
    """Every val shard, the first `train_shards` train shards, then the tokenizer; checks they exist."""
    vocab_size = variant_vocab_size(variant)
    shard_folder = f"fineweb10B_{re.escape(variant)}"
    val = matching(remote_files, rf"{shard_folder}/fineweb_val_\d{{6}}\.bin")
    train = matching(remote_files, rf"{shard_folder}/fineweb_train_\d{{6}}\.bin")
    tokenizer = matching(remote_files, rf"tokenizers/fineweb_{vocab_size}_bpe\.model")
    if not val:
        variants = ", ".join(sorted(set(re.findall(r"fineweb10B_([^/]+)/", "\n".join(remote_files))))) or "none"
        raise InputError(f"--variant {variant} has no val shards in {source_name}; variants there: {variants}")
    if train_shards is not None and not 0 <= train_shards <= len(train):
        available = f"{source_name} has {len(train)} for {variant}"
        raise InputError(f"--train-shards {train_shards} but {available}: pass 0..{len(train)}")
    if not tokenizer:
        raise FetchError(f"{source_name} has no tokenizers/fineweb_{vocab_size}_bpe.model for --variant {variant}")
    data_folder = out / "datasets" / f"fineweb10B_{variant}"
    chosen_train = list(train.items())[:train_shards]
    wanted = [WantedFile(remote, data_folder / name) for name, remote in [*val.items(), *chosen_train]]
    wanted += [WantedFile(remote, out / "tokenizers" / name, vocab_size) for name, remote in tokenizer.items()]
    return wanted


def check_file(path: Path, wanted: WantedFile) -> None:
    """Raise ValueError unless `path` is a complete shard, or a tokenizer of the wanted vocabulary size."""
    if wanted.vocab_size is None:
        shard_token_count(path)
        return
    try:
        vocab_size = spm.SentencePieceProcessor(model_file=str(path)).vocab_size()
    except RuntimeError as error:
        raise ValueError(f"{path}: not a SentencePiece model ({str(error).split(': ', 1)[-1]})") from None
    if vocab_size != wanted.vocab_size:
        raise ValueError(f"{path}: tokenizer has {vocab_size} tokens, the variant needs {wanted.vocab_size}")


def already_in_place(wanted: WantedFile) -> bool:
    if not wanted.local.is_file():
        return False
    try:
        check_file(wanted.local, wanted)
    except ValueError:
        return False
    return True


def fetch_one(source, wanted: WantedFile, staging: Path) -> None:
    staged = source.fetch(wanted.remote, staging)
    try:
        check_file(staged, wanted)
    except ValueError as error:
        staged.unlink()
        raise FetchError(f"fetched {wanted.remote} from {source.name} is invalid: {error}") from None
    wanted.local.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, wanted.local)


def fetch_all(source, wanted_files: list[WantedFile], staging: Path, report) -> list[dict]:
    results = []
    for number, wanted in enumerate(wanted_files, 1):
        status = "present" if already_in_place(wanted) else "fetched"
        if status == "fetched":
            fetch_one(source, wanted, staging)
        size = wanted.local.stat().st_size
        report(f"[{number}/{len(wanted_files)}] {status:7} {wanted.local.name} {size:,} bytes")
        results.append(dict(path=str(wanted.local), status=status, bytes=size))
    shutil.rmtree(staging, ignore_errors=True)
    return results


def get_fineweb(args, report) -> dict:
    source = LocalSource(args.source) if args.source else HubSource(REPO_ID)
    wanted_files = plan(source.list_files(), args.variant, args.train_shards, args.out, source.name)
    results = fetch_all(source, wanted_files, args.out / STAGING_NAME, report)
    return dict(
        source=source.name,
        variant=args.variant,
        data_path=str(wanted_files[0].local.parent),
        tokenizer_path=str(wanted_files[-1].local),
        fetched=sum(result["status"] == "fetched" for result in results),
        present=sum(result["status"] == "present" for result in results),
        files=results,
    )


def render(summary: dict) -> str:
    return (
        f"{summary['fetched']} fetched, {summary['present']} already present, from {summary['source']}\n"
        f"DATA_PATH={summary['data_path']} TOKENIZER_PATH={summary['tokenizer_path']}"
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", default="sp1024", help="tokenization variant, sp<vocab size> (default sp1024)")
    parser.add_argument("--train-shards", type=int, help="how many train shards to fetch, from the first (default all)")
    parser.add_argument(
        "--out", type=Path, default=Path("data"), help="folder to fill with datasets/ and tokenizers/ (default data)"
    )
    parser.add_argument(
        "--source", type=Path, help="copy from this folder, laid out like the repository, instead of downloading"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of progress lines")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    report = (lambda line: None) if args.json else (lambda line: print(line, flush=True))
    try:
        summary = get_fineweb(args, report)
    except InputError as error:
        print(f"get_fineweb: {error}", file=sys.stderr)
        return 2
    except FetchError as error:
        print(f"get_fineweb: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"get_fineweb: cannot access {error.filename or args.out}: {error.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("get_fineweb: interrupted; finished files are kept, re-run the same command to resume", file=sys.stderr)
        return 130
    print(json.dumps(summary) if args.json else render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
