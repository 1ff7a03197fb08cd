"""The compliance rules (golf/rules, on golf.analysis): one verdict per rule, on fixture scripts, plain and packed."""
from __future__ import annotations

import ast
import base64
import datetime
import inspect
import lzma
import re
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest

from golf.analysis import POLICIES, analyse_source
from golf.findings import FAIL, INFO, PASS, STATUSES, WARN, InputError
from golf.rules import COMPLIANCE
from golf.source import decode_file, decode_source

FIXTURES = Path(__file__).parent / "fixtures" / "compliance"
RULE_IDS = [module.ID for module in COMPLIANCE]

QUANT = "    quant_obj = quantize_state_dict_int8(model.state_dict())\n"
TTT_CALL = "        ttt_loss, ttt_bpb = eval_val_sliding_ttt(args, model, device, val_tokens, base_bytes_lut, args.eval_stride)\n"
LEGAL_TTT_LINE = '        print(f"legal_ttt_exact val_loss:{ttt_loss:.8f} val_bpb:{ttt_bpb:.8f}")\n'

INLINE_HOOKS = """    hessians, hooks = {}, []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(
                lambda mod, inputs, output, name=name: hessians.__setitem__(name, hessians.get(name, 0) + inputs[0].flatten(0, -2).T @ inputs[0].flatten(0, -2))))
    with torch.no_grad():
        for batch in calib_batches:
            model.forward_logits(batch)
"""

# The split named by a string argument, the path built inside the loader: nothing says "val_" by name.
CALIB_BY_PATH = """    calib_pattern = os.path.join(args.data_path, "fineweb_train_000000.bin")
    calib_tokens = load_data_shard(calib_pattern)"""
CALIB_BY_SPLIT = """    calib_tokens = read_split(args.data_path, "train")"""
SPLIT_LOADER = """def read_split(root, split):
    return torch.cat([load_data_shard(f) for f in sorted(glob.glob(f"{root}/fineweb_{split}_*.bin"))])


def collect_hessians("""

# C source compiled at run time: the token's NLL spread over its bytes, mixed in log space with a byte model.
NATIVE_PPM = '''def build_native_mixer():
    source = """
double mix_byte(double nll, int nb, double byte_logp, double lam_log, double rest_log) {
    double nn_logp = -nll / (double)nb;
    double a = lam_log + nn_logp, c = rest_log + byte_logp, m = a > c ? a : c;
    return m + log(exp(a - m) + exp(c - m));
}
"""
    with open("mixer.c", "w") as f:
        f.write(source)'''

# Variants that differ from a fixture file in a few lines, so each hard case differs in exactly
# the code under test: name -> (base fixture, [(old, new), ...]).
DERIVED = {
    "gptq_val_calib": ("gptq_train_calib.py", [("fineweb_train_000000", "fineweb_val_000000")]),
    "gptq_split_by_name_train": ("gptq_train_calib.py", [(CALIB_BY_PATH, CALIB_BY_SPLIT), ("def collect_hessians(", SPLIT_LOADER)]),
    "gptq_split_by_name_val": ("gptq_train_calib.py", [(CALIB_BY_PATH, CALIB_BY_SPLIT.replace('"train"', '"val"')),
                                                       ("def collect_hessians(", SPLIT_LOADER)]),
    "gptq_inline_hooks_train": ("gptq_train_calib.py", [("    hessians = collect_hessians(model, calib_batches)\n", INLINE_HOOKS)]),
    "gptq_inline_hooks_val": ("gptq_train_calib.py", [("    hessians = collect_hessians(model, calib_batches)\n", INLINE_HOOKS),
                                                      ("fineweb_train_000000", "fineweb_val_000000")]),
    "val_loader_training": ("legal_baseline.py", [("DistributedTokenLoader(args.train_files,",
                                                   "DistributedTokenLoader(args.val_files,")]),
    "val_prefix_artifact": ("legal_baseline.py", [(QUANT, QUANT + '    quant_obj["paid_prefix"] = val_tokens[:65536].to(torch.int16).cpu()\n')]),
    "val_unigram_artifact": ("legal_baseline.py", [(QUANT, QUANT + "    val_counts = torch.bincount(val_tokens.long(), minlength=args.vocab_size)\n"
                                                            '    quant_obj["unigram_counts"] = val_counts.to(torch.int32)\n')]),
    "train_unigram_artifact": ("legal_baseline.py", [(QUANT, QUANT + "    train_counts = torch.bincount(load_data_shard(sorted(glob.glob(args.train_files))[0]).long(), minlength=args.vocab_size)\n"
                                                              '    quant_obj["unigram_counts"] = train_counts.to(torch.int32)\n')]),
    "val_buffer_artifact": ("legal_baseline.py", [("    optimizer = torch.optim.AdamW(", '    model.register_buffer("val_prefix", val_tokens[:4096].clone())\n    optimizer = torch.optim.AdamW(')]),
    "rescore_after_ttt": ("ttt_score_first.py", [(LEGAL_TTT_LINE, LEGAL_TTT_LINE + "        post_loss, post_bpb = eval_val_sliding(args, model, device, val_tokens, base_bytes_lut, args.eval_stride)\n"
                                                                  '        print(f"final_sliding_window_exact val_loss:{post_loss:.8f} val_bpb:{post_bpb:.8f}")\n')]),
    "ttt_on_copy_then_eval": ("ttt_score_first.py", [("import glob\n", "import copy\nimport glob\n"),
                                                      (TTT_CALL, "        ttt_model = copy.deepcopy(model)\n" + TTT_CALL.replace("(args, model,", "(args, ttt_model,")),
                                                      (LEGAL_TTT_LINE, LEGAL_TTT_LINE + "        post_loss, post_bpb = eval_val_sliding(args, model, device, val_tokens, base_bytes_lut, args.eval_stride)\n")]),
    "ngram_gated": ("ngram_target_key.py", [('"NGRAM_EVAL_ORDER", "3"', '"NGRAM_EVAL_ORDER", "0"')]),
    "network_eval_download": ("legal_baseline.py", [("import socket\n", "import socket\n\nfrom huggingface_hub import hf_hub_download\n"),
                                                    ('    print(f"final_int8', '    sp_path = hf_hub_download(repo_id="willdepueoai/parameter-golf", filename="datasets/tokenizers/fineweb_1024_bpe.model")\n    print(f"final_int8')]),
    "network_setup_download": ("legal_baseline.py", [("import socket\n", "import socket\nimport subprocess\n"),
                                                     ("    val_tokens = load_validation_tokens(", '    if not os.path.exists(args.data_path):\n        subprocess.run(["huggingface-cli", "download", "willdepueoai/parameter-golf", "--local-dir", args.data_path], check=True)\n    val_tokens = load_validation_tokens(')]),
    "lora_ttt_rescored": ("lora_ttt_adapter.py", [("    if not args.ttt_enabled:", "    if args.eval_plain:")]),
    "lora_warmup_kept": ("lora_ttt_adapter.py", [("    del warm_lora, warm_opt\n", "    model.warm_lora = warm_lora\n")]),
    "temperature_fit_on_train": ("temperature_fit.py", [
        ("    val_files = os.path.join(", '    train_files = os.path.join(data_path, "fineweb_train_*.bin")\n    val_files = os.path.join('),
        ("fit_temperature(args, model, device, val_tokens)",
         "fit_temperature(args, model, device, load_data_shard(sorted(glob.glob(args.train_files))[0]))")]),
    "slot_minified": ("slot_eval.py", [("import torch.nn.functional as F\n", "import torch.nn.functional as F\n\n_B = True\n"),
                                       ("hidden.size(-1), device=device, requires_grad=True", "hidden.size(-1), device=device, requires_grad=_B"),
                                       ("args.vocab_size, device=device, requires_grad=True", "args.vocab_size, device=device, requires_grad=_B")]),
    "slot_minified_off": ("slot_eval.py", [("import torch.nn.functional as F\n", "import torch.nn.functional as F\n\n_B = True\n_C = False\n"),
                                           ("hidden.size(-1), device=device, requires_grad=True", "hidden.size(-1), device=device, requires_grad=_B"),
                                           ("args.vocab_size, device=device, requires_grad=True", "args.vocab_size, device=device, requires_grad=_B"),
                                           ('"SLOT_ENABLED", "1"', '"SLOT_ENABLED", "0"'),
                                           ("    if args.slot_enabled:", '    use_slot = getattr(args, "slot_enabled", _C)\n    if use_slot:')]),
    "smear_bos_masked": ("smear_lookback.py", [("            x = torch.cat([x[:, :1], x[:, 1:] + g * x[:, :-1]], dim=1)",
                                                 "            not_bos = (input_ids[:, 1:] != BOS_ID).unsqueeze(-1).to(x.dtype)\n"
                                                 "            x = torch.cat([x[:, :1], x[:, 1:] + g * x[:, :-1] * not_bos], dim=1)")]),
    "smear_gated_off": ("smear_lookback.py", [('"SMEAR_ENABLED", "1"', '"SMEAR_ENABLED", "0"')]),
    "ppm_gated_off": ("ppm_byte_mixture.py", [('"MIX_ENABLED", "1"', '"MIX_ENABLED", "0"')]),
    "ppm_native": ("ppm_byte_mixture.py", [("def main():", NATIVE_PPM + "\n\ndef main():"),
                                           ("    if args.mix_enabled:", "    build_native_mixer()\n    if args.mix_enabled:")]),
    "ngram_rescore_train_cache": ("ngram_rescore_vectorised.py", [
        ("    cache.build(tokens_np)\n",
         '    cache.build(load_data_shard(sorted(glob.glob(args.data_path + "/fineweb_train_*.bin"))[0]).numpy())\n')]),
    "train_bigram_weight": ("legal_baseline.py", [
        ("        loss.backward()\n", "        loss = loss * bigram_weight(bigram_counts, x, y).mean()\n        loss.backward()\n"),
        ("    loss_stat = RunningStat()\n", "    loss_stat = RunningStat()\n    bigram_counts = torch.ones(args.vocab_size, args.vocab_size, device=device)\n"),
        ("# TRAINING\n", "def bigram_weight(counts, x, y):\n    pair_counts = counts[x.long(), y.long()]\n"
                        "    return 1.0 - 0.5 * pair_counts / counts[x.long()].sum(-1)\n\n\n# TRAINING\n")]),
    "ngram_two_pass_off": ("ngram_two_pass.py", [('"NGRAM_EVAL_ORDER", "3"', '"NGRAM_EVAL_ORDER", "0"')]),
    "network_uncalled_helper": ("legal_baseline.py", [("# TRAINING\n", "def download_shards(n):\n    import urllib.request\n    for i in range(n):\n        urllib.request.urlretrieve(f\"https://huggingface.co/datasets/willdepueoai/parameter-golf/resolve/main/fineweb_train_{i:06d}.bin\", f\"fineweb_train_{i:06d}.bin\")\n\n\n# TRAINING\n")]),
}


def check_compliance(source, logs: dict[str, str] | None = None, policy: str = "strict",
                     source_name: str = "train_gpt.py", date=None, readme: str = "") -> list:
    """Every compliance rule on one script, through the slice of golf.facts.Context the rules read."""
    record = SimpleNamespace(logs=[SimpleNamespace(name=name, text=text) for name, text in (logs or {}).items()],
                             readme_text=readme, script=SimpleNamespace(decoded=source),
                             files=SimpleNamespace(readme="README.md", files=(), root=Path("."), script=source_name))
    context = SimpleNamespace(analysis=analyse_source(source, logs, policy, source_name), policy=policy, date=date,
                              record=record)
    return [finding for module in COMPLIANCE for finding in module.check(context)]


def fixture_text(name: str) -> str:
    if name in DERIVED:
        base, edits = DERIVED[name]
        text = (FIXTURES / base).read_text()
        for old, new in edits:
            assert text.count(old) == 1, f"{name}: {old!r} must appear once in {base}"
            text = text.replace(old, new)
        return text
    return (FIXTURES / f"{name}.py").read_text()


def logs(*names: str) -> dict[str, str]:
    return {name: (FIXTURES / name).read_text() for name in names}


def verdicts(text: str, policy: str = "strict", log_texts: dict | None = None) -> dict:
    return {f.id: f for f in check_compliance(decode_source(text.encode()), log_texts or {}, policy)}


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return lines[occurrence - 1]


# (rule id, fixture, policy, log files, expected status)
CASES = [
    # ttt: any TTT fails strict; only score-first passes under the competition policy.
    ("ttt", "legal_baseline", "strict", (), PASS),
    ("ttt", "ttt_score_first", "strict", (), FAIL),
    ("ttt", "ttt_score_first", "competition", (), PASS),
    ("ttt", "ttt_mixed", "competition", (), FAIL),
    ("ttt", "ttt_last_epoch", "competition", (), FAIL),
    ("ttt", "ttt_gated", "strict", (), INFO),
    ("ttt", "ttt_gated", "strict", ("ttt_gated_quiet.log",), INFO),
    ("ttt", "ttt_gated", "strict", ("ttt_gated_settings.log",), FAIL),
    ("ttt", "slot_eval", "strict", (), PASS),
    ("ttt", "lora_ttt_adapter", "competition", (), PASS),
    ("ttt", "lora_ttt_adapter", "strict", (), FAIL),
    ("ttt", "slot_minified_off", "competition", (), PASS),
    # pre_eval_ttt: E2 and E3 fail under both policies; E1 is not its business.
    ("pre_eval_ttt", "ttt_score_first", "strict", (), PASS),
    ("pre_eval_ttt", "ttt_mixed", "strict", (), FAIL),
    ("pre_eval_ttt", "ttt_mixed", "competition", (), FAIL),
    ("pre_eval_ttt", "ttt_last_epoch", "competition", (), FAIL),
    ("pre_eval_ttt", "ttt_gated", "competition", (), INFO),
    ("pre_eval_ttt", "ttt_gated", "competition", ("ttt_gated_quiet.log",), INFO),
    ("pre_eval_ttt", "ttt_gated", "competition", ("ttt_gated_settings.log",), FAIL),
    ("pre_eval_ttt", "ttt_gated", "competition", ("ttt_gated_progress.log",), FAIL),
    ("pre_eval_ttt", "lora_ttt_adapter", "competition", (), PASS),
    ("pre_eval_ttt", "prequant_ttt_beside_slot", "competition", (), FAIL),
    ("pre_eval_ttt", "lora_warmup_kept", "competition", (), FAIL),
    # rescoring: scoring again after learning from scored tokens.
    ("rescoring", "ttt_score_first", "competition", (), PASS),
    ("rescoring", "rescore_after_ttt", "competition", (), FAIL),
    ("rescoring", "ttt_on_copy_then_eval", "competition", (), PASS),
    ("rescoring", "ngram_two_pass", "strict", (), FAIL),
    ("rescoring", "ngram_causal_tilt", "strict", (), PASS),
    ("rescoring", "temperature_fit", "strict", (), FAIL),
    ("rescoring", "legal_baseline", "strict", (), PASS),
    ("rescoring", "ngram_rescore_vectorised", "competition", (), FAIL),
    ("rescoring", "ngram_rescore_train_cache", "competition", (), PASS),
    ("rescoring", "ngram_two_pass_off", "competition", ("ngram_single_pass.log",), INFO),
    ("rescoring", "lora_ttt_adapter", "competition", (), PASS),
    ("rescoring", "lora_ttt_rescored", "competition", (), FAIL),
    ("rescoring", "temperature_fit_on_train", "strict", (), PASS),
    # ngram_target_leak: target in the lookup key fails; BigramHash and causal tilt pass.
    ("ngram_target_leak", "ngram_target_key", "strict", (), FAIL),
    ("ngram_target_leak", "ngram_causal_tilt", "strict", (), PASS),
    ("ngram_target_leak", "ngram_two_pass", "strict", (), PASS),
    ("ngram_target_leak", "legal_baseline", "strict", (), PASS),
    ("ngram_target_leak", "ngram_rescore_vectorised", "competition", (), FAIL),
    ("ngram_target_leak", "train_bigram_weight", "competition", (), PASS),
    ("ngram_target_leak", "ngram_gated", "strict", (), INFO),
    ("ngram_target_leak", "ngram_gated", "strict", ("ngram_gated_on.log",), FAIL),
    # slot: optimised eval-time parameters fail; the word slot and __slots__ pass.
    ("slot", "slot_eval", "strict", (), FAIL),
    ("slot", "slot_eval", "competition", (), FAIL),
    ("slot", "legal_baseline", "strict", (), PASS),
    ("slot", "ttt_score_first", "competition", (), PASS),
    ("slot", "slot_minified", "competition", (), FAIL),
    ("slot", "prequant_ttt_beside_slot", "competition", (), FAIL),
    ("slot", "slot_minified_off", "competition", (), INFO),
    # val_in_training: val data in the training loop or calibration.
    ("val_in_training", "legal_baseline", "strict", (), PASS),
    ("val_in_training", "gptq_train_calib", "strict", (), PASS),
    ("val_in_training", "gptq_val_calib", "strict", (), FAIL),
    ("val_in_training", "gptq_split_by_name_train", "strict", (), PASS),
    ("val_in_training", "gptq_split_by_name_val", "strict", (), FAIL),
    ("val_in_training", "val_loader_training", "strict", (), FAIL),
    ("val_in_training", "gptq_inline_hooks_train", "strict", (), PASS),
    ("val_in_training", "gptq_inline_hooks_val", "strict", (), FAIL),
    ("val_in_training", "ttt_score_first", "competition", (), PASS),
    ("val_in_training", "lora_ttt_adapter", "competition", (), PASS),
    # val_in_artifact: val-derived data serialised.
    ("val_in_artifact", "val_prefix_artifact", "strict", (), FAIL),
    ("val_in_artifact", "val_unigram_artifact", "strict", (), FAIL),
    ("val_in_artifact", "val_buffer_artifact", "strict", (), FAIL),
    ("val_in_artifact", "train_unigram_artifact", "strict", (), PASS),
    ("val_in_artifact", "gptq_val_calib", "strict", (), PASS),
    ("val_in_artifact", "legal_baseline", "strict", (), PASS),
    ("val_in_artifact", "lora_ttt_adapter", "strict", (), PASS),
    # normalization: token probabilities spread over bytes and mixed with a byte model.
    ("normalization", "ppm_byte_mixture", "competition", (), FAIL),
    ("normalization", "ppm_native", "strict", (), FAIL),
    ("normalization", "ppm_gated_off", "competition", (), INFO),
    ("normalization", "ngram_causal_tilt", "competition", (), PASS),
    ("normalization", "legal_baseline", "competition", (), PASS),
    # cross_document_leak: undated means judged now, after the ruling (dated cases: their own test).
    ("cross_document_leak", "smear_lookback", "competition", (), FAIL),
    ("cross_document_leak", "smear_bos_masked", "competition", (), PASS),
    ("cross_document_leak", "smear_gated_off", "competition", (), INFO),
    ("cross_document_leak", "legal_baseline", "strict", (), PASS),
    # val_train_overlap: read from the logs.
    ("val_train_overlap", "legal_baseline", "competition", ("overlap_shards.log",), FAIL),
    ("val_train_overlap", "legal_baseline", "competition", ("valonly_dataset.log",), FAIL),
    ("val_train_overlap", "legal_baseline", "competition", ("canonical_shards.log",), PASS),
    # network.
    ("network", "legal_baseline", "strict", (), PASS),
    ("network", "network_eval_download", "strict", (), FAIL),
    ("network", "network_setup_download", "strict", (), WARN),
    ("network", "network_uncalled_helper", "strict", (), INFO),
    ("network", "booby_trap", "strict", (), FAIL),
    # train_data_in_eval.
    ("train_data_in_eval", "train_prior_in_eval", "strict", (), WARN),
    ("train_data_in_eval", "train_unigram_artifact", "strict", (), PASS),
    ("train_data_in_eval", "gptq_train_calib", "strict", (), PASS),
    ("train_data_in_eval", "legal_baseline", "strict", (), PASS),
]


@pytest.mark.parametrize("rule_id, fixture, policy, log_files, expected", CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}{'-' + c[3][0] if c[3] else ''}" for c in CASES])
def test_rule_verdict(rule_id, fixture, policy, log_files, expected):
    finding = verdicts(fixture_text(fixture), policy, logs(*log_files))[rule_id]
    assert finding.status == expected, finding
    if expected in (FAIL, WARN):
        assert finding.evidence and all(re.fullmatch(r"(train_gpt\.py|\w+\.log):\d+", e) for e in finding.evidence)


ALL_FIXTURES = sorted({p.stem for p in FIXTURES.glob("*.py")} | set(DERIVED))


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_exactly_one_finding_per_rule(fixture):
    for policy in POLICIES:
        findings = check_compliance(decode_source(fixture_text(fixture).encode()), {}, policy)
        assert [f.id for f in findings] == RULE_IDS
        assert all(f.status in STATUSES and f.message for f in findings)


def test_legal_baseline_passes_everything_under_both_policies():
    for policy in POLICIES:
        assert {f.status for f in verdicts(fixture_text("legal_baseline"), policy).values()} == {PASS}


def test_inline_fine_tune_beside_slot_is_cited_as_ttt_at_its_own_backward():
    text = fixture_text("prequant_ttt_beside_slot")
    finding = verdicts(text, "competition")["pre_eval_ttt"]
    assert f"train_gpt.py:{line_of(text, 'loss.backward()')}" in finding.evidence


def test_mixed_file_cites_only_the_illegal_pre_eval_adaptation():
    text = fixture_text("ttt_mixed")
    legal_backward = line_of(text, "loss.backward()", 1)   # inside eval_val_sliding_ttt, defined first
    adapt_backward = line_of(text, "loss.backward()", 2)   # inside ttt_adapt
    assert line_of(text, "def eval_val_sliding_ttt") < legal_backward < line_of(text, "def ttt_adapt") < adapt_backward
    call = line_of(text, "ttt_adapt(args, model")
    for policy in POLICIES:
        found = verdicts(text, policy)
        assert found["pre_eval_ttt"].status == FAIL
        assert f"train_gpt.py:{adapt_backward}" in found["pre_eval_ttt"].evidence
        assert f"train_gpt.py:{call}" in found["pre_eval_ttt"].evidence
        assert f"train_gpt.py:{legal_backward}" not in found["pre_eval_ttt"].evidence
        assert "ttt_adapt()" in found["pre_eval_ttt"].message
    competition = verdicts(text, "competition")["ttt"]
    assert f"train_gpt.py:{legal_backward}" not in competition.evidence
    assert f"train_gpt.py:{adapt_backward}" in competition.evidence


def test_last_epoch_scoring_cites_the_gated_score_and_the_backward():
    text = fixture_text("ttt_last_epoch")
    finding = verdicts(text, "competition")["pre_eval_ttt"]
    assert "E3" in finding.message
    assert f"train_gpt.py:{line_of(text, 'loss_sum += nll.detach()')}" in finding.evidence
    assert f"train_gpt.py:{line_of(text, 'nll.mean().backward()')}" in finding.evidence


def test_dead_code_message_names_the_knob_and_the_log_that_shows_it_ran():
    quiet = verdicts(fixture_text("ttt_gated"), "strict")["pre_eval_ttt"]
    assert "PREQUANT_TTT" in quiet.message and "dead code" in quiet.message
    ran = verdicts(fixture_text("ttt_gated"), "strict", logs("ttt_gated_progress.log"))["pre_eval_ttt"]
    assert "a log shows its line `prequant_ttt epoch:" in ran.message


def test_gptq_calibration_differs_only_in_the_shard_pattern():
    legal, illegal = fixture_text("gptq_train_calib"), fixture_text("gptq_val_calib")
    assert sum(a != b for a, b in zip(legal.splitlines(), illegal.splitlines())) == 1
    finding = verdicts(illegal)["val_in_training"]
    assert f"train_gpt.py:{line_of(illegal, 'hessians = collect_hessians(')}" in finding.evidence
    assert "collect_hessians()" in finding.message


def test_target_keyed_lookup_cites_the_read_not_the_update():
    text = fixture_text("ngram_target_key")
    assert verdicts(text)["ngram_target_leak"].evidence == (f"train_gpt.py:{line_of(text, 'p_ngram = full_counts[full_key]')}",)


# --- packed and minified variants must get the same verdicts ---------------------------------------


def minify(text: str) -> str:
    """A pyminify-like one-liner style: no docstrings, tabs, simple statements joined by ';'."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    rows: list[list] = []
    for line in ast.unparse(tree).splitlines():
        stripped = line.lstrip(" ")
        depth = (len(line) - len(stripped)) // 4
        header = stripped.endswith(":") or stripped.startswith("@")
        if rows and rows[-1][0] == depth and not rows[-1][2] and not header:
            rows[-1][1] += ";" + stripped
        else:
            rows.append([depth, stripped, header])
    return "\n".join("\t" * depth + body for depth, body, _ in rows) + "\n"


def lzma_stub(text: str) -> str:
    blob = base64.b85encode(lzma.compress(text.encode(), preset=9)).decode()
    return f'import lzma as L,base64 as B\nexec(L.decompress(B.b85decode("{blob}")))\n'


def zlib_stub(text: str) -> str:
    blob = base64.b64encode(zlib.compress(text.encode(), 9)).decode()
    return f"import zlib,base64;exec(zlib.decompress(base64.b64decode(b'{blob}')).decode())\n"


PACKINGS = {
    "lzma_b85": (lzma_stub, True),
    "zlib_b64": (zlib_stub, True),
    "nested": (lambda t: zlib_stub(lzma_stub(t)), True),
    "minified": (minify, False),
    "minified_lzma": (lambda t: lzma_stub(minify(t)), False),
}


@pytest.mark.parametrize("fixture", ["legal_baseline", "ttt_mixed", "ngram_target_key", "slot_eval", "gptq_val_calib"])
@pytest.mark.parametrize("packing", sorted(PACKINGS))
def test_packed_variants_get_the_same_verdicts(fixture, packing):
    pack, same_lines = PACKINGS[packing]
    plain = verdicts(fixture_text(fixture), "competition")
    packed_source = decode_source(pack(fixture_text(fixture)).encode())
    assert packed_source.syntax_error is None
    packed = {f.id: f for f in check_compliance(packed_source, {}, "competition")}
    assert {k: f.status for k, f in packed.items()} == {k: f.status for k, f in plain.items()}
    if same_lines:
        assert {k: f.evidence for k, f in packed.items()} == {k: f.evidence for k, f in plain.items()}
        assert all("decoded from" in f.message for f in packed.values() if f.id != "val_train_overlap")


def test_minifier_really_packs_statements():
    minified = minify(fixture_text("legal_baseline"))
    assert "\t" in minified and ";" in minified
    assert len(minified.splitlines()) < len(fixture_text("legal_baseline").splitlines()) * 0.8


# --- safety ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("packed", [False, True])
def test_booby_trapped_script_is_only_read(tmp_path, monkeypatch, packed):
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep.txt").write_text("still here")
    monkeypatch.setenv("GOLF_SENTINEL", str(sentinel))
    path = tmp_path / "train_gpt.py"
    text = fixture_text("booby_trap")
    path.write_text(lzma_stub(text) if packed else text)
    findings = {f.id: f for f in check_compliance(decode_file(path), {}, "strict")}
    assert (sentinel / "keep.txt").read_text() == "still here"
    assert findings["network"].status == FAIL
    assert any(str(line_of(text, "socket.create_connection")) in e for e in findings["network"].evidence)


# --- the registry and the entry point --------------------------------------------------------------


def test_every_compliance_rule_follows_the_module_contract():
    assert set(RULE_IDS) == {"ttt", "pre_eval_ttt", "rescoring", "ngram_target_leak", "normalization", "slot",
                             "cross_document_leak", "val_in_training", "val_train_overlap", "val_in_artifact",
                             "train_data_in_eval", "network"}
    for module in COMPLIANCE:
        doc = inspect.getdoc(module)
        assert module.__name__ == f"golf.rules.{module.ID}"
        assert len(doc.splitlines()) >= 3 and "RULES" in doc
        assert set(module.SEVERITY) == set(POLICIES) and module.CITES.startswith("RULES.md §")


@pytest.mark.parametrize("date, expected", [(datetime.date(2026, 3, 20), WARN), (datetime.date(2026, 4, 30), FAIL)])
def test_bos_ruling_fails_records_dated_after_it_and_warns_before(date, expected):
    source = decode_source(fixture_text("smear_lookback").encode())
    [finding] = [f for f in check_compliance(source, {}, "competition", date=date) if f.id == "cross_document_leak"]
    assert finding.status == expected and str(date) in finding.message
    assert finding.evidence == (f"train_gpt.py:{line_of(fixture_text('smear_lookback'), 'g * x[:, :-1]')}",)


def test_validation_shard_linked_as_training_in_the_readme_fails():
    readme = "```\nln -s data/fineweb_val_000000.bin data/valonly/fineweb_train_000000.bin\n```\n"
    source = decode_source(fixture_text("legal_baseline").encode())
    [finding] = [f for f in check_compliance(source, {}, "competition", readme=readme) if f.id == "val_train_overlap"]
    assert finding.status == FAIL and finding.evidence == ("README.md:2",)


def test_unknown_policy_is_an_input_error():
    with pytest.raises(InputError, match="strict, competition"):
        check_compliance(decode_source(b"x = 1\n"), {}, "lenient")


def test_unparsable_source_warns_on_every_rule_that_reads_the_script():
    findings = [f for f in check_compliance(decode_source(b"def broken(:\n"), {}, "strict")
                if f.id != "val_train_overlap"]
    assert [f.status for f in findings] == [WARN] * (len(RULE_IDS) - 1)
    assert all("line 1" in f.message for f in findings)


def test_source_name_is_used_in_evidence():
    findings = check_compliance(decode_source(fixture_text("slot_eval").encode()), {}, "strict", source_name="train_gpt_v5.py")
    assert all(e.startswith("train_gpt_v5.py:") for f in findings for e in f.evidence)
