"""patches/: every patch (with the patches it requires) and listed stack applies to today's
train_gpt.py and smoke-trains on CPU.

Also the applier itself (offsets, errors naming the file and hunk, parity with GNU patch, the
`Requires:` series), the provenance check, and the techniques' own invariants: sliding-window
evaluation scores every target exactly once with the promised context, the EMA is an exact lerp,
int6 stays in range. The 2026-03-22 record's techniques are proven in test_frontier_patches.py.
"""
from __future__ import annotations

import importlib.util
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from golf.findings import FAIL, INFO, PASS, WARN
from golf.logs import parse_log_text
from golf.patches import (
    PATCHES_DIR, PatchError, apply_patch, check_provenance, list_patches, materialise, parse_patch, read_patch,
    read_stacks, resolve_patch, with_requirements, write_provenance,
)
from golf.smoke import TRAINER
from trainer_support import run_trainer

HEADER_FIELDS = ("Title", "What", "Why", "Source", "Knobs", "Effect", "Evaluation")
PATCH_NAMES = [path.stem for path in list_patches()]
STACKS = read_stacks()
BASE = TRAINER.read_text(encoding="utf-8")
# Late QAT and tight SWA start late in the warmdown; these bring that into the tiny 6-step run.
LATE_START_ENV = {"LATE_QAT_THRESHOLD": "0.6", "SWA_EVERY": "1", "SWA_START_LR_SCALE": "0.6"}


def series(names: list[str]) -> list[Path]:
    return with_requirements([resolve_patch(name) for name in names])


def materialised(tmp_path: Path, names: list[str]) -> Path:
    script = tmp_path / "train_gpt.py"
    script.write_text(materialise(BASE, series(names)), encoding="utf-8")
    return script


def import_script(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------
# The shipped patches and the index


def test_at_least_three_patches_with_complete_headers():
    assert len(PATCH_NAMES) >= 3
    for path in list_patches():
        patch = read_patch(path)
        assert patch.target == "train_gpt.py"
        missing = [field for field in HEADER_FIELDS if not patch.fields.get(field)]
        assert not missing, f"{path.name} header lacks {missing}"


def test_readme_indexes_every_patch_and_stack():
    readme = (PATCHES_DIR / "README.md").read_text(encoding="utf-8")
    for name in PATCH_NAMES:
        assert f"`{name}.patch`" in readme
    for stack, members in STACKS.items():
        assert f"| `{stack}` | " + ", ".join(f"`{m}`" for m in members) + " |" in readme


def test_requirements_exist_and_stacks_list_them_first():
    for path in list_patches():
        assert all(name in PATCH_NAMES for name in read_patch(path).requires), path.name
    for members in STACKS.values():
        paths = [resolve_patch(name) for name in members]
        assert with_requirements(paths) == paths


@pytest.mark.parametrize("names", [[name] for name in PATCH_NAMES] + list(STACKS.values()),
                         ids=PATCH_NAMES + [f"stack:{name}" for name in STACKS])
def test_patch_or_stack_applies_and_smoke_trains(names, tmp_path, smoke_data_env):
    applied = [path.stem for path in series(names)]
    script = materialised(tmp_path, names)
    completed, log = run_trainer(tmp_path, smoke_data_env, LATE_START_ENV, script=script)
    assert completed.returncode == 0, completed.stderr[-2000:]
    run = parse_log_text(log, "test.txt")
    assert run.complete and run.total_bytes is not None
    if "score_first_ttt" in applied:
        assert run.final.label == "legal_ttt"
    elif "sliding_window_eval" in applied:
        assert run.final.label == "final_sliding_window"
    if "int6_zstd_export" in applied:
        assert run.size_label == "int6+zstd" and "final_int6_zstd_roundtrip_exact" in log
    if "ema_export" in applied:
        assert "ema:applied decay:0.997 updates:6" in log
    if "xsa" in applied:
        assert "XSA:last_4 active_layers:[0, 1]" in log
    if "late_qat" in applied:
        assert "late_qat:enabled step:5 scale:0.5000 matrices:0" in log  # the tiny model has no int6 matrix
    if "tight_swa" in applied:
        assert "swa:start step:5" in log and "swa:applied snapshots:1" in log


def test_stack_order_does_not_matter():
    """Patches that do not require one another commute: any requirements-first order gives the same script."""
    for members in STACKS.values():
        paths = [resolve_patch(name) for name in members]
        reordered = with_requirements(list(reversed(paths[:-1]))) + paths[-1:]
        assert reordered != paths or len(paths) < 3
        assert materialise(BASE, paths) == materialise(BASE, reordered)


@pytest.mark.skipif(shutil.which("patch") is None, reason="GNU patch not installed")
@pytest.mark.parametrize("stack", ["all", "frontier_0322"])
def test_same_bytes_as_gnu_patch(tmp_path, stack):
    members = STACKS[stack]
    (tmp_path / "train_gpt.py").write_text(BASE, encoding="utf-8")
    for name in members:
        subprocess.run(["patch", "-p1", "-s", "-i", str(resolve_patch(name))], cwd=tmp_path, check=True)
    assert (tmp_path / "train_gpt.py").read_bytes() == materialise(BASE, [resolve_patch(n) for n in members]).encode()


# ---------------------------------------------------------------------------------------------
# The applier

SMALL = "".join(f"line {i}\n" for i in range(1, 21))
SMALL_PATCH = """# Title: demo
# What: changes line 10
--- a/train_gpt.py
+++ b/train_gpt.py
@@ -8,5 +8,6 @@
 line 8
 line 9
-line 10
+line ten
+line ten and a half
 line 11
 line 12
"""


def test_header_block_is_skipped_and_hunk_applies():
    patch = parse_patch(SMALL_PATCH, Path("demo.patch"))
    assert patch.fields == {"Title": "demo", "What": "changes line 10"}
    assert apply_patch(SMALL, patch) == SMALL.replace("line 10\n", "line ten\nline ten and a half\n")


def test_hunk_applies_at_an_offset():
    shifted = "extra\n" * 7 + SMALL
    result = apply_patch(shifted, parse_patch(SMALL_PATCH, Path("demo.patch")))
    assert result == shifted.replace("line 10\n", "line ten\nline ten and a half\n")


def test_error_names_the_patch_file_and_hunk(tmp_path):
    path = tmp_path / "broken.patch"
    path.write_text(SMALL_PATCH.replace(" line 9\n", " line nine\n"), encoding="utf-8")
    with pytest.raises(PatchError, match=r"broken\.patch: hunk 1 \(@@ -8,5 \+8,6 @@\) does not apply to train_gpt\.py"):
        materialise(SMALL, [path])


def test_real_patch_against_a_changed_base_names_its_hunk():
    old = "    return float((entropy_sum / token_count).item())\n"  # context of the patch's second hunk
    assert BASE.count(old) == 1
    changed = BASE.replace(old, "    return (entropy_sum / token_count).item()\n")
    with pytest.raises(PatchError, match=r"sliding_window_eval\.patch: hunk \d+ .*does not apply"):
        materialise(changed, [resolve_patch("sliding_window_eval")])


def test_no_newline_at_end_of_file():
    patch = parse_patch("--- a/train_gpt.py\n+++ b/train_gpt.py\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"
                        "\\ No newline at end of file\n", Path("eof.patch"))
    assert apply_patch("a\nb", patch) == "a\nc"


@pytest.mark.parametrize("text, message", [
    ("# only a header\n", "no `--- a/train_gpt.py`"),
    ("--- a/train_gpt.py\n+++ b/train_gpt.py\n@@ -1,3 +1,3 @@\n a\n", "hunk 1 ends early"),
    ("--- a/train_gpt.py\n+++ b/train_gpt.py\n@@ -1 +1 @@\n-a\n+b\n--- a/other.py\n+++ b/other.py\n", "changes a second file"),
])
def test_malformed_patches_are_named(text, message):
    with pytest.raises(PatchError, match=re.escape(message)):
        parse_patch(text, Path("bad.patch"))


def test_unknown_patch_lists_the_known_ones():
    with pytest.raises(PatchError, match="known patches: .*sliding_window_eval"):
        resolve_patch("no_such_technique")


def write_demo_series(folder: Path) -> dict[str, Path]:
    """first changes line 10; second, written on top of it, changes the line first added."""
    second = """# Title: second
# Requires: first
--- a/train_gpt.py
+++ b/train_gpt.py
@@ -9,4 +9,4 @@
 line 9
 line ten
-line ten and a half
+line ten and three quarters
 line 11
"""
    paths = {"first": folder / "first.patch", "second": folder / "second.patch"}
    paths["first"].write_text(SMALL_PATCH, encoding="utf-8")
    paths["second"].write_text(second, encoding="utf-8")
    return paths


def test_requirements_come_first_and_once(tmp_path):
    paths = write_demo_series(tmp_path)
    ordered = with_requirements([paths["second"], paths["first"]], tmp_path)
    assert ordered == [paths["first"].resolve(), paths["second"].resolve()]
    assert materialise(SMALL, ordered) == SMALL.replace("line 10\n", "line ten\nline ten and three quarters\n")


def test_a_missing_requirement_is_named(tmp_path):
    paths = write_demo_series(tmp_path)
    with pytest.raises(PatchError, match=r"second\.patch requires first: list it before second"):
        materialise(SMALL, [paths["second"]])


def test_a_requirements_loop_is_named(tmp_path):
    paths = write_demo_series(tmp_path)
    paths["first"].write_text("# Requires: second\n" + SMALL_PATCH, encoding="utf-8")
    with pytest.raises(PatchError, match="requirements loop second -> first -> second"):
        with_requirements([paths["second"]], tmp_path)


# ---------------------------------------------------------------------------------------------
# Provenance


def provenance_folder(tmp_path: Path, base_text: str = BASE) -> Path:
    base = tmp_path / "base_train_gpt.py"
    base.write_text(base_text, encoding="utf-8")
    folder = tmp_path / "record"
    folder.mkdir()
    patches = [resolve_patch("ema_export")]
    script = materialise(base_text, patches).encode("utf-8")
    (folder / "train_gpt.py").write_bytes(script)
    write_provenance(folder, base, patches, script)
    return folder


def test_provenance_pass_then_fail_on_one_byte(tmp_path):
    folder = provenance_folder(tmp_path)
    assert check_provenance(folder).status == PASS
    script = folder / "train_gpt.py"
    data = bytearray(script.read_bytes())
    data[100] ^= 0x01
    script.write_bytes(bytes(data))
    finding = check_provenance(folder)
    assert finding.status == FAIL and finding.id == "provenance" and "at line" in finding.message


def test_provenance_warns_when_the_base_is_gone(tmp_path):
    folder = provenance_folder(tmp_path, BASE + "# a base no git history holds\n")
    (tmp_path / "base_train_gpt.py").write_text("moved on\n", encoding="utf-8")
    finding = check_provenance(folder)
    assert finding.status == WARN and "base_train_gpt.py" in finding.message


def test_provenance_info_without_patches_file(tmp_path):
    assert check_provenance(tmp_path).status == INFO


def test_provenance_fail_on_unreadable_manifest(tmp_path):
    (tmp_path / "PATCHES").write_text("base nonsense\n", encoding="utf-8")
    assert check_provenance(tmp_path).status == FAIL


# ---------------------------------------------------------------------------------------------
# The techniques' invariants, on the patched code itself


@pytest.fixture(scope="module")
def sliding_module(tmp_path_factory):
    return import_script(materialised(tmp_path_factory.mktemp("sliding"), ["sliding_window_eval"]), "patched_sliding")


@pytest.mark.parametrize("total, seq_len, stride", [(256, 64, 64), (256, 64, 16), (250, 64, 24), (64, 64, 1), (1000, 100, 33)])
def test_sliding_windows_score_each_target_once_with_context(sliding_module, total, seq_len, stride):
    counts = [0] * total
    for start, first in sliding_module.sliding_windows(total, seq_len, stride):
        assert 0 <= start <= total - seq_len and 0 <= first < seq_len
        for position in range(first, seq_len):
            counts[start + position] += 1
            # Context before the target: all earlier tokens, or at least seq_len - stride of them.
            assert position >= min(start + position, seq_len - stride)
    assert counts == [1] * total


def test_sliding_eval_matches_a_per_target_computation(sliding_module):
    torch.manual_seed(0)
    module = sliding_module
    args = module.Hyperparameters()
    args.train_seq_len, args.eval_stride, args.val_batch_size, args.compile = 16, 4, 64, False
    model = module.GPT(vocab_size=32, num_layers=2, model_dim=16, num_heads=2, num_kv_heads=1, mlp_mult=2,
                       tie_embeddings=True, tied_embed_init_std=0.5, logit_softcap=30.0, rope_base=10000.0, qk_gain_init=1.5)
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.3)
    luts = module.ByteLuts(torch.randint(1, 4, (32,), dtype=torch.int16), torch.rand(32) < 0.5, torch.rand(32) < 0.1)
    tokens = torch.randint(0, 32, (100,))  # 99 targets: the last window is pulled back to fit
    loss, bpb = module.eval_val_sliding(args, model, 0, 1, torch.device("cpu"), tokens, luts)

    total, losses, byte_sum = tokens.numel() - 1, [], 0.0
    model.eval()
    with torch.no_grad():
        for target in range(total):
            start = 0 if target < 16 else min(math.ceil((target - 15) / 4) * 4, total - 16)
            window = tokens[start:start + 17].long()
            per_token = model.token_losses(window[None, :-1], window[None, 1:])[0]
            losses.append(float(per_token[target - start]))
            byte_sum += float(module.count_target_bytes(luts, tokens[target:target + 1].long(), tokens[target + 1:target + 2].long()).sum())
    expected_loss = sum(losses) / total
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    assert bpb == pytest.approx(expected_loss / math.log(2) * total / byte_sum, rel=1e-6)


def test_ema_update_is_an_exact_lerp_and_is_exported(tmp_path):
    module = import_script(materialised(tmp_path, ["ema_export"]), "patched_ema")
    model = torch.nn.Linear(4, 3)
    before = [p.detach().clone() for p in model.parameters()]
    ema = module.WeightEMA(model, 0.9)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update()
    for shadow, old in zip(ema.shadow, before):
        torch.testing.assert_close(shadow, 0.9 * old + 0.1 * (old + 1.0))
    ema.copy_to_model()
    for p, shadow in zip(model.parameters(), ema.shadow):
        torch.testing.assert_close(p.detach(), shadow)


def test_int6_rows_stay_in_range_and_beat_the_plain_max_clip(tmp_path):
    module = import_script(materialised(tmp_path, ["int6_zstd_export"]), "patched_int6")
    torch.manual_seed(0)
    weights = torch.randn(64, 256)
    weights[0, 0] = 40.0  # an outlier the clip search should clip
    q, scale = module.quantize_rows_int6(weights)
    assert q.dtype == torch.int8 and int(q.abs().max()) <= 31 and scale.dtype == torch.float16
    error = (q.float() * scale.float()[:, None] - weights).square().sum(dim=1)
    plain_scale = (weights.abs().amax(dim=1) / 31).half().float()
    plain = (torch.clamp(torch.round(weights / plain_scale[:, None]), -31, 31) * plain_scale[:, None] - weights).square().sum(dim=1)
    assert bool((error <= plain + 1e-6).all()) and float(error[0]) < float(plain[0])
    state = {"blocks.0.mlp.fc.weight": torch.randn(128, 600), "tok_emb.weight": torch.randn(300, 256)}
    obj, _ = module.quantize_state_dict_int8(state)
    assert int(obj["quantized"]["blocks.0.mlp.fc.weight"].abs().max()) <= 31
    assert int(obj["quantized"]["tok_emb.weight"].abs().max()) > 31  # the tied embedding keeps 8 bits
