"""Weights from the Hub (hyperlib/hub.py), tested end to end against a stand-in Hub on 127.0.0.1 (hub_server.py).

``huggingface_hub`` reads ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` when it is imported, so every Hub operation
runs in a fresh ``python -m hyperlib`` process with its own cache (``HF_HOME``). The model is a small
randomly initialized one (``small_cfg``), written like a trained folder: safetensors, config.json,
hashes.json and a model card.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from hyperlib import checkpoint as ckpt
from hyperlib import hub
from hyperlib.config import AudioConfig
from hyperlib.modelcard import write_model_card

from conftest import PIANO, REPO
from hub_server import LocalHub

REPO_ID = "tester/tiny-sampler"


def make_model(folder: Path, cfg, seed: int) -> Path:
    """A small model folder with every inference network, hashes.json and a model card."""
    torch.manual_seed(seed)
    ckpt.write_config(folder, {"model": cfg.to_dict(), "audio": asdict(AudioConfig())})
    for name in ("f", "G", "E", "H", "H_pre"):
        ckpt.save_network(folder, name, ckpt.build(name, cfg))
    ckpt.write_hashes(folder)
    write_model_card(folder, "Random weights (a test model).")
    return folder


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, small_cfg) -> Path:
    return make_model(tmp_path_factory.mktemp("tiny_model"), small_cfg, seed=0)


@pytest.fixture
def local_hub(tmp_path):
    with LocalHub(tmp_path / "hub_storage") as server:
        yield server


def hyperlib_cli(*args, endpoint: str, home: Path, offline: bool = False, token: str | None = "test-token",
                 timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m hyperlib ARGS`` against the Hub at ``endpoint`` with cache ``home``; no HYPERLIB_CHECKPOINT."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING")) and k != hub.ENV_VAR}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home), HF_HUB_OFFLINE="1" if offline else "0",
               HF_HUB_DISABLE_TELEMETRY="1", PYTHONPATH=str(REPO))
    if token:
        env["HF_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "hyperlib", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def downloaded(run: subprocess.CompletedProcess) -> Path:
    assert run.returncode == 0, run.stderr[-3000:]
    return Path(run.stdout.strip().splitlines()[-1])


def same_files(a: Path, b: Path) -> bool:
    names = [p.name for p in hub.model_files(a)]
    return names == [p.name for p in hub.model_files(b)] and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names)


@pytest.mark.slow
def test_first_download_renders_then_offline_reuse(local_hub, tiny_model, tmp_path):
    sha = local_hub.publish(REPO_ID, tiny_model)
    home = tmp_path / "hf_home"
    out = tmp_path / "note.wav"
    run = hyperlib_cli("synthesize", PIANO, "--pitch", 64, "--method", "hyper", "--model", REPO_ID, "-o", out,
                       endpoint=local_hub.url, home=home)
    assert run.returncode == 0, run.stderr[-3000:]
    assert out.stat().st_size > 16000
    assert ("GET", f"/{REPO_ID}/resolve/{sha}/G.safetensors") in local_hub.requests
    # the Hub is gone: the cached snapshot serves the same files, with HF_HUB_OFFLINE=1
    endpoint = local_hub.url
    local_hub.stop()
    out.unlink()
    run = hyperlib_cli("synthesize", PIANO, "--pitch", 64, "--model", REPO_ID, "-o", out, endpoint=endpoint,
                       home=home, offline=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert out.is_file()
    cached = downloaded(hyperlib_cli("download", REPO_ID, endpoint=endpoint, home=home, offline=True))
    assert cached.is_relative_to(home) and same_files(cached, tiny_model)


@pytest.mark.slow
def test_pinned_revision(local_hub, tiny_model, tmp_path, small_cfg):
    first = local_hub.publish(REPO_ID, tiny_model)
    second = local_hub.publish(REPO_ID, make_model(tmp_path / "retrained", small_cfg, seed=1))
    assert first != second
    home = tmp_path / "hf_home"
    old = downloaded(hyperlib_cli("download", REPO_ID, "--revision", first, endpoint=local_hub.url, home=home))
    new = downloaded(hyperlib_cli("download", REPO_ID, endpoint=local_hub.url, home=home))
    assert old.name == first and new.name == second
    assert same_files(old, tiny_model) and same_files(new, tmp_path / "retrained")
    assert (old / "G.safetensors").read_bytes() != (new / "G.safetensors").read_bytes()


def test_tampered_weights_are_refused(local_hub, tiny_model, tmp_path):
    sha = local_hub.publish(REPO_ID, tiny_model)
    stored = local_hub.commit_dir(REPO_ID, sha) / "G.safetensors"
    data = bytearray(stored.read_bytes())
    data[-5] ^= 0xFF  # same size, one byte of tensor data changed; hashes.json still has the original sha256
    stored.write_bytes(bytes(data))
    home = tmp_path / "hf_home"
    run = hyperlib_cli("synthesize", PIANO, "--pitch", 60, "--model", REPO_ID, "-o", tmp_path / "x.wav",
                       endpoint=local_hub.url, home=home)
    assert run.returncode == 2 and "G.safetensors" in run.stderr and "tampered" in run.stderr, run.stderr[-3000:]
    assert "Traceback" not in run.stderr and not (tmp_path / "x.wav").exists()


@pytest.mark.slow
def test_snapshot_without_hashes_is_refused(local_hub, tiny_model, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for p in tiny_model.iterdir():
        if p.name != ckpt.HASHES_FILE:
            (bare / p.name).write_bytes(p.read_bytes())
    local_hub.publish(REPO_ID, bare)
    run = hyperlib_cli("synthesize", PIANO, "--pitch", 60, "--model", REPO_ID, "-o", tmp_path / "x.wav",
                       endpoint=local_hub.url, home=tmp_path / "hf_home")
    assert run.returncode == 2 and "hashes.json is missing" in run.stderr, run.stderr[-3000:]
    assert "Traceback" not in run.stderr and not (tmp_path / "x.wav").exists()


@pytest.mark.slow
def test_default_repo_is_pinned_to_a_revision(local_hub, tiny_model, tmp_path, small_cfg):
    """A push to the default repo's main branch does not change what a default download fetches."""
    pinned = local_hub.publish(hub.DEFAULT_REPO_ID, tiny_model, branch=hub.DEFAULT_REVISION)
    local_hub.publish(hub.DEFAULT_REPO_ID, make_model(tmp_path / "retrained", small_cfg, seed=1))
    got = downloaded(hyperlib_cli("download", endpoint=local_hub.url, home=tmp_path / "hf_home"))
    assert got.name == pinned and same_files(got, tiny_model)


@pytest.mark.slow
def test_missing_repo_or_revision_says_what_was_tried(local_hub, tiny_model, tmp_path):
    home = tmp_path / "hf_home"
    run = hyperlib_cli("synthesize", PIANO, "--pitch", 60, "--model", "tester/no-such-model", "-o", tmp_path / "x.wav",
                       endpoint=local_hub.url, home=home)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
    for words in ("tester/no-such-model", "no such repo", local_hub.url, "as a local folder", "HYPERLIB_CHECKPOINT",
                  "HF_HUB_OFFLINE=1", "python -m hyperlib download"):
        assert words in run.stderr, words
    local_hub.publish(REPO_ID, tiny_model)
    run = hyperlib_cli("download", REPO_ID, "--revision", "v9", endpoint=local_hub.url, home=home)
    assert run.returncode == 2 and "revision v9" in run.stderr and "no such revision" in run.stderr, run.stderr[-3000:]
    run = hyperlib_cli("download", REPO_ID, endpoint=local_hub.url, home=home, offline=True)
    assert run.returncode == 2 and "not in the local cache, and HF_HUB_OFFLINE=1 is set" in run.stderr, run.stderr[-3000:]


@pytest.mark.slow
def test_push_then_download_gives_identical_files(local_hub, tiny_model, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    for p in tiny_model.iterdir():
        (model / p.name).write_bytes(p.read_bytes())
    (model / "_train").mkdir()  # training state is never published
    (model / "_train" / "state.json").write_text("{}")
    home = tmp_path / "hf_home"
    run = hyperlib_cli("push", REPO_ID, "--model", model, endpoint=local_hub.url, home=home, token=None)
    assert run.returncode == 2 and "HF_TOKEN" in run.stderr and "Traceback" not in run.stderr, run.stderr[-3000:]
    run = hyperlib_cli("push", REPO_ID, "--model", model, endpoint=local_hub.url, home=home)
    assert run.returncode == 0, run.stderr[-3000:]
    (sha,) = os.listdir(local_hub.repo_dir(REPO_ID) / "commits")
    assert sha in run.stdout
    assert sorted(local_hub.files(REPO_ID, "main")) == [p.name for p in hub.model_files(model)]
    fetched = downloaded(hyperlib_cli("download", REPO_ID, endpoint=local_hub.url, home=tmp_path / "other_home"))
    assert same_files(fetched, model) and (fetched / "README.md").read_text().startswith("---\nlibrary_name: hyperlib")


def test_push_refuses_a_folder_without_hashes(tiny_model, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    for p in tiny_model.iterdir():
        if p.name != ckpt.HASHES_FILE:
            (model / p.name).write_bytes(p.read_bytes())
    with pytest.raises(FileNotFoundError, match="write_hashes"):
        hub.push(REPO_ID, model)


# -- the resolution order, in this process (no Hub request is made) ----------------------------------------------
def test_resolution_order(tiny_model, tmp_path, monkeypatch):
    monkeypatch.delenv(hub.ENV_VAR, raising=False)
    assert hub.resolve(tiny_model) == tiny_model  # an explicit folder first
    assert hub.resolve() == hub.BUNDLED  # a source checkout's checkpoint when nothing is named
    monkeypatch.setenv(hub.ENV_VAR, str(tiny_model))
    assert hub.resolve() == tiny_model  # then HYPERLIB_CHECKPOINT
    assert hub.resolve(hub.BUNDLED) == hub.BUNDLED  # the argument still wins
    monkeypatch.setenv(hub.ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(hub.ModelNotFoundError, match="HYPERLIB_CHECKPOINT as a local folder") as error:
        hub.resolve()  # a HYPERLIB_CHECKPOINT that is not there is an error, not a fall-back to the bundled one
    assert "not of the form namespace/name" in str(error.value)
    with pytest.raises(ValueError, match="revision"):
        hub.resolve(tiny_model, revision="main")


def test_without_a_checkout_the_default_is_the_hub_repo(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.delenv(hub.ENV_VAR, raising=False)
    monkeypatch.setattr(hub, "BUNDLED", tmp_path / "site-packages" / "checkpoints")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(hub.ModelNotFoundError) as error:
        hub.resolve()
    message = str(error.value)
    assert isinstance(error.value, FileNotFoundError)
    for words in ("1. $HYPERLIB_CHECKPOINT: not set",
                  f"2. the checkpoint bundled with a source checkout ({hub.BUNDLED})",
                  f"3. Hub repo '{hub.DEFAULT_REPO_ID}' (revision {hub.DEFAULT_REVISION})", "HF_HUB_OFFLINE=1 is set"):
        assert words in message, words


def test_readme_shows_the_default_repo():
    assert f"`{hub.DEFAULT_REPO_ID}`" in (REPO / "README.md").read_text()


# -- the model card's Hub metadata --------------------------------------------------------------------------------
def test_model_card_carries_the_hub_metadata_of_the_evaluation(tmp_path):
    import json

    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results

    from hyperlib.modelcard import EVAL_METHOD, metadata, write_metadata

    results = json.loads((REPO / "docs" / "results" / "results.json").read_text())
    card_text = (hub.BUNDLED / "README.md").read_text()
    assert card_text.startswith(metadata(results))  # the shipped card is regenerated from the shipped results
    data = ModelCard(card_text).data.to_dict()
    assert data["library_name"] == "hyperlib" and data["license"] == "mit" and data["pipeline_tag"] == "audio-to-audio"
    assert "neural-sampler" in data["tags"]
    _, evals = model_index_to_eval_results(data["model-index"])
    scores = {e.metric_name: e.metric_value for e in evals}
    assert scores["Synthesis Frechet distance"] == round(results["synthesis"][EVAL_METHOD]["fd"], 2)
    assert scores["Reconstruction timbre MSE"] == round(results["reconstruction"][EVAL_METHOD]["timbre_mse"], 4)
    assert scores["Interpolation pitch accuracy, pYIN within 50 cents (%)"] == \
        round(100 * results["interpolation"][EVAL_METHOD]["pitch_acc_pyin"], 1)
    assert all(e.dataset_split == "validation" for e in evals) and len(evals) == 11
    # refreshing the metadata keeps the card's text
    (tmp_path / "README.md").write_text("---\nlicense: mit\n---\n\n# A card\n\nText.\n")
    write_metadata(tmp_path, REPO / "docs" / "results" / "results.json")
    refreshed = (tmp_path / "README.md").read_text()
    assert refreshed == metadata(results) + "\n# A card\n\nText.\n"
    with pytest.raises(ValueError, match="validation"):
        metadata({**results, "split": "train"})
