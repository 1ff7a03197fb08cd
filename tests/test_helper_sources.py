"""golf.helper_sources on self-written kernels, and ngram_target_leak on a folder that loads one."""
from __future__ import annotations

from golf.checks import check_record
from golf.helper_sources import loaded_helpers, target_gated_predictions

LEAKY_KERNEL = """
// Hints for a batch of positions; the tables are updated after each hint is written.
struct Mixer {
    void hints(const long* pos, int n, int* out) {
        for (int i = 0; i < n; i++) {
            long p = pos[i];
            int tok = toks[p];                 /* the token being predicted at p */
            bool starts_word = starts_word_lut[tok];
            out[i] = word_hint(starts_word,
                               p);
            word_update(tok, starts_word);
        }
    }
};
"""
CAUSAL_KERNEL = LEAKY_KERNEL.replace(
    "bool starts_word = starts_word_lut[tok];",
    "int prev = p > 0 ? toks[p - 1] : 0;\n            bool starts_word = starts_word_lut[prev];\n"
    "            bool tok_starts_word = starts_word_lut[tok];",
).replace("word_update(tok, starts_word);", "word_update(tok, tok_starts_word);")


def test_a_hint_gated_by_the_predicted_token_is_found_with_its_line_and_function():
    assert target_gated_predictions(LEAKY_KERNEL) == [
        (10, "hints", "word_hint() gets starts_word, read from the token at the predicted position")]


def test_the_prefix_token_for_the_hint_and_the_target_for_the_update_pass():
    assert target_gated_predictions(CAUSAL_KERNEL) == []


def test_only_helpers_the_python_code_names_are_read():
    files = ("kernel.cpp", "notes/old_kernel.cu", "train_gpt.py")
    assert loaded_helpers(files, ["lib = load(sources=[HERE / 'kernel.cpp'])"]) == ["kernel.cpp"]
    assert loaded_helpers(files, ["print('the kernel is not used')"]) == []


def write_folder(folder, kernel: str, script: str):
    folder.mkdir()
    (folder / "train_gpt.py").write_text(script)
    (folder / "kernel.cpp").write_text(kernel)
    return folder


def finding(folder):
    result = check_record(folder, policy="competition")
    return next(f for f in result.findings if f.id == "ngram_target_leak")


LOADER = "from torch.utils.cpp_extension import load\nkernel = load(name='k', sources=['kernel.cpp'])\n"


def test_ngram_target_leak_fails_a_folder_whose_loaded_kernel_leaks(tmp_path):
    leaky = finding(write_folder(tmp_path / "leaky", LEAKY_KERNEL, LOADER))
    assert leaky.status == "FAIL" and leaky.evidence == ("kernel.cpp:10",) and "hints()" in leaky.message
    assert finding(write_folder(tmp_path / "causal", CAUSAL_KERNEL, LOADER)).status == "PASS"
    assert finding(write_folder(tmp_path / "unused", LEAKY_KERNEL, "print('no kernel here')\n")).status == "PASS"
