"""scripts/gpu_run.sh, the timed GPU run, as a dry run on the CPU: it renders DSP patches, continues the long
generator run from runs/generator for its wall-time budget, and a second call goes on from there."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from conftest import REPO
from hyperlib import checkpoint as ckpt

SCRIPT = REPO / "scripts" / "gpu_run.sh"

pytestmark = pytest.mark.install


def gpu_run(run_dir, minutes: str, patches: str, device: str = "cpu") -> subprocess.CompletedProcess:
    env = {**os.environ, "DEVICE": device, "PYTHON": sys.executable}
    return subprocess.run(["bash", str(SCRIPT), str(run_dir), minutes, patches], env=env, capture_output=True,
                          text=True, timeout=600)


def test_gpu_run_trains_g_for_its_budget_and_goes_on(tmp_path):
    before = ckpt.read_config(REPO / "runs" / "generator")["training"]["generator"]
    run = gpu_run(tmp_path, "0.001", "2")  # a budget the first step overruns
    assert run.returncode == 0, run.stderr[-2000:]
    model = tmp_path / "model"
    manifest = (tmp_path / "corpus" / "manifest.csv").read_text().splitlines()
    assert len(manifest) == 1 + 2 * 88 and all(line.startswith("DSP,") for line in manifest[1:])
    summary = ckpt.read_config(model)["training"]["generator"]
    assert summary["steps"] == 1 and summary["batch_size"] == 32 and summary["notes"] == 2 * 88
    assert summary["samples_total"] == before["samples_total"] + 32
    assert "samples_per_s" in run.stdout
    G, shipped = load_file(str(model / "G_raw.safetensors")), load_file(str(REPO / "runs/generator/G_raw.safetensors"))
    assert any(not torch.equal(G[k], shipped[k]) for k in G)  # one optimizer step from the long run's weights
    ckpt.load_network(model, "G")  # its sha256 matches the folder's hashes.json

    again = gpu_run(tmp_path, "0.001", "2")  # no new corpus, no fresh start: step 2
    assert again.returncode == 0, again.stderr[-2000:]
    assert ckpt.read_config(model)["training"]["generator"]["steps"] == 2


def test_gpu_run_without_a_gpu_says_so(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    run = gpu_run(tmp_path, "1", "2", device="cuda")
    assert run.returncode != 0 and "no GPU" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "model").exists()
