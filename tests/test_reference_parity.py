"""With every switch off, train_gpt.py trains the challenge baseline's model bit for bit.

The challenge's own train_gpt.py (../shared/reference/challenge_train_gpt.py, or the file named by
CHALLENGE_TRAIN_GPT) requires CUDA. Its CUDA-only lines are rewritten for a CPU gloo run in fp32
eager mode, as our trainer runs on CPU; every rewrite must match, so a changed reference fails
here instead of silently testing something else. Then both train the tiny config from the same
seed and data, and the raw weights and the int8+zlib artifacts must be identical bytes.
Skipped when the reference file is absent (a user's clone has no ../shared).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from golf.smoke import REPO_ROOT
from trainer_support import FINAL_LINE, run_trainer

REFERENCE = Path(os.environ.get("CHALLENGE_TRAIN_GPT", REPO_ROOT.parent / "shared" / "reference" / "challenge_train_gpt.py"))
SWITCHES_OFF = {"BPB_WEIGHTED_LOSS": "0", "PRECISION_GAIN": "0", "LAYER_GAIN": "0"}

# (text in the reference, CPU replacement, times it must occur)
CPU_REWRITES = (
    ('if not torch.cuda.is_available():\n        raise RuntimeError("CUDA is required")\n'
     '    device = torch.device("cuda", local_rank)\n    torch.cuda.set_device(device)\n',
     'device = torch.device("cpu")\n', 1),
    ('dist.init_process_group(backend="nccl", device_id=device)', 'dist.init_process_group(backend="gloo")', 1),
    ('subprocess.run(["nvidia-smi"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False).stdout',
     '"nvidia-smi: CPU run"', 1),
    ('torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=True)',
     'torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=False)', 3),
    ("zeropower_via_newtonschulz5 = torch.compile(zeropower_via_newtonschulz5)", "pass", 1),
    (").to(device).bfloat16()", ").to(device)", 1),
    ("compiled_model = torch.compile(base_model, dynamic=False, fullgraph=True)", "compiled_model = base_model", 1),
    ("device_ids=[local_rank]", "device_ids=None", 1),
    ("torch.cuda.synchronize()", "None", 5),
    ("torch.cuda.max_memory_allocated()", "0", 1),
    ("torch.cuda.max_memory_reserved()", "0", 1),
)


def cpu_reference(text: str) -> str:
    for old, new, count in CPU_REWRITES:
        assert text.count(old) == count, f"the reference changed: {old!r} occurs {text.count(old)} times, not {count}"
        text = text.replace(old, new)
    return text


@pytest.mark.skipif(not REFERENCE.is_file(), reason=f"no challenge reference trainer at {REFERENCE}")
def test_switches_off_train_the_baseline_bit_for_bit(tmp_path, smoke_data_env):
    reference_dir, ours_dir = tmp_path / "reference", tmp_path / "ours"
    reference_dir.mkdir(), ours_dir.mkdir()
    script = reference_dir / "challenge_train_gpt_cpu.py"
    script.write_text(cpu_reference(REFERENCE.read_text(encoding="utf-8")), encoding="utf-8")

    reference_run, reference_log = run_trainer(reference_dir, smoke_data_env, SWITCHES_OFF, script=script)
    ours_run, ours_log = run_trainer(ours_dir, smoke_data_env, SWITCHES_OFF)
    assert reference_run.returncode == 0, reference_run.stderr[-2000:]
    assert ours_run.returncode == 0, ours_run.stderr[-2000:]

    reference_state = torch.load(reference_dir / "final_model.pt", map_location="cpu")
    ours_state = torch.load(ours_dir / "final_model.pt", map_location="cpu")
    assert list(ours_state) == list(reference_state)
    assert all(torch.equal(ours_state[name], reference_state[name]) for name in reference_state)
    assert (ours_dir / "final_model.int8.ptz").read_bytes() == (reference_dir / "final_model.int8.ptz").read_bytes()
    assert FINAL_LINE.search(ours_log).group(0) == FINAL_LINE.search(reference_log).group(0)
