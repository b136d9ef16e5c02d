"""Distributed training: two CPU processes on gloo (torchrun) train the generator stage as one process does.

The generator stage is the one with every distributed detail: instance-conditioning pairs and z drawn over
the global batch, the L1 term's mean over the pairs that have an exact target (a count over both processes),
the discriminator's lazy R1 (at step 0 of every run here), G's weight average, and a resumed run.

Tolerance: the two runs compute the same sums in another order (each process averages its half of the batch,
gloo adds the two), so gradients differ in the last bits of float32 (about 1e-7 relative), and Adam, which
scales every step to about the learning rate whatever the gradient's size, lets a parameter whose gradient is
near zero move differently by up to the learning rate (2e-3 here) at each step. Measured over these 3 steps,
every weight but one differed by at most 3e-5; that one, whose gradient is near zero, by 1.2e-3
(on one machine; 4.4e-6 for all on another). With both processes on the same rows (a wrong split) most
weights move apart (409 of G.const's 512 beyond ATOL, by up to 8.5e-3). So the test allows at most one weight
in a thousand per tensor beyond ATOL, and none beyond the three steps' learning rates (MAX_DRIFT).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from conftest import REPO
from hyperlib import checkpoint as ckpt
from hyperlib.training import train_stage
from hyperlib.training.distributed import Processes

ATOL = 1e-4  # absolute, on weights of order 1 (see the module docstring)
MAX_DRIFT = 3 * 2e-3  # three Adam steps at G's learning rate: a weight whose gradient is near zero


def torchrun(*args, processes: int = 2) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node PROCESSES -m hyperlib ARGS`` on CPU, one thread per process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
           "-m", "hyperlib", *map(str, args)]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def with_features(tiny_corpus, small_cfg, tmp_path_factory):
    """A model folder holding a briefly trained f (what the generator stage starts from)."""
    model_dir = tmp_path_factory.mktemp("dist_model")
    train_stage("features", tiny_corpus, model_dir, model_config=small_cfg, steps=4, batch_size=8)
    return model_dir


@pytest.mark.slow
def test_two_processes_train_the_generator_as_one(with_features, tiny_corpus, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for d in (one, two):
        shutil.copytree(with_features, d)
    for steps in (2, 3):  # the second run resumes from the state of the first
        train_stage("generator", tiny_corpus, one, tiny=True, steps=steps)
        proc = torchrun("train", "generator", "--corpus", tiny_corpus, "--model", two, "--tiny", "--steps", steps)
        assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("G", "G_raw", "D"):
        a, b = load_file(str(one / f"{name}.safetensors")), load_file(str(two / f"{name}.safetensors"))
        assert a.keys() == b.keys()
        for k in a:
            diff = (b[k] - a[k]).abs()
            assert (diff > ATOL).float().mean() <= 1e-3 and diff.max() <= MAX_DRIFT, \
                f"{name}.{k}: {int((diff > ATOL).sum())} of {diff.numel()} beyond {ATOL}, largest {diff.max():.2e}"
    start = load_file(str(with_features / "f.safetensors"))  # f is read, not trained, by this stage
    assert all(torch.equal(v, load_file(str(two / "f.safetensors"))[k]) for k, v in start.items())
    # one log, written by the main process alone; the resumed run continued it; losses are the global batch's
    rows = [json.loads(line) for line in (two / "_train" / "generator.jsonl").read_text().splitlines()]
    ref = [json.loads(line) for line in (one / "_train" / "generator.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    for r, q in zip(rows, ref):
        assert r["l1"] == pytest.approx(q["l1"], rel=1e-4) and r["d_loss"] == pytest.approx(q["d_loss"], rel=1e-4)
    summary = ckpt.read_config(two)["training"]["generator"]
    assert summary["processes"] == 2 and summary["samples"] == 3 * summary["batch_size"]
    ckpt.load_network(two, "G")  # the hashes written by the main process match the weights


def test_batch_split():
    batch = torch.arange(8)
    assert torch.equal(Processes(1, 2).shard(batch), torch.tensor([4, 5, 6, 7]))
    assert torch.equal(torch.cat([Processes(r, 4).shard(batch) for r in range(4)]), batch)
    assert Processes().shard(batch) is batch and Processes().main and not Processes(1, 2).main
    with pytest.raises(ValueError, match="divisible by the number of processes"):
        Processes(0, 3).check_batch(16)


def test_uneven_batch_is_refused(tiny_corpus, tmp_path):
    from hyperlib.config import TrainConfig
    from hyperlib.training.stage import Stage

    with pytest.raises(ValueError, match="batch size \\(6\\).*processes \\(4\\)"):
        Stage("encoder", tiny_corpus, tmp_path, TrainConfig(batch_size=6), "cpu", False, procs=Processes(0, 4))
