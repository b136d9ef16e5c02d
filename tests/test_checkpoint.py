"""Tests of weights loading (hyperlib/checkpoint.py): sha256 records in ``hashes.json`` guard the safetensors.

They copy whatever model folder ``HyperGANStrument.from_pretrained()`` loads (the bundled checkpoint, or the
folder named by ``HYPERLIB_CHECKPOINT``).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from hyperlib import HyperGANStrument
from hyperlib import checkpoint as ckpt
from hyperlib.hub import BUNDLED

PIANO = Path(__file__).resolve().parents[1] / "examples" / "piano_c4.aif"


@pytest.fixture
def model_copy(tmp_path) -> Path:
    """A copy of the pretrained model folder (its JSON and safetensors only), without any hashes.json."""
    source = Path(os.environ.get("HYPERLIB_CHECKPOINT", BUNDLED))
    files = [p for p in source.iterdir() if p.suffix in (".json", ".safetensors") and p.name != ckpt.HASHES_FILE]
    if not any(p.name == "H.safetensors" for p in files):
        pytest.fail(f"{source} has no trained model; while the bundled checkpoint trains, run with "
                    "HYPERLIB_CHECKPOINT=/work/tiny_model.")
    out = tmp_path / "model"
    out.mkdir()
    for p in files:
        shutil.copy2(p, out / p.name)
    return out


def flip_one_byte(path: Path) -> None:
    """Change one byte near the end of a file (inside the tensor data), keeping its size."""
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))


def test_write_hashes_records_every_safetensors(model_copy):
    record = json.loads(ckpt.write_hashes(model_copy).read_text())
    names = sorted(p.name for p in model_copy.glob("*.safetensors"))
    assert record["algorithm"] == "sha256" and sorted(record["files"]) == names
    for name, digest in record["files"].items():  # each file's own sha256, as hex
        assert digest == hashlib.sha256((model_copy / name).read_bytes()).hexdigest(), name
    assert len(set(record["files"].values())) == len(names)  # different weights, different digests


def test_correct_copy_loads(model_copy):
    ckpt.write_hashes(model_copy)
    model = HyperGANStrument.from_pretrained(model_copy)
    assert model.synthesize(str(PIANO), 60, "gan").audio.shape == (model.audio_config.num_samples,)


def test_tampered_copy_is_refused(model_copy):
    ckpt.write_hashes(model_copy)
    flip_one_byte(model_copy / "G.safetensors")
    with pytest.raises(ckpt.CheckpointError, match="G.safetensors") as error:
        HyperGANStrument.from_pretrained(model_copy)
    assert "corrupted or tampered" in str(error.value)
    assert isinstance(error.value, ValueError)
    with pytest.raises(ckpt.CheckpointError):
        ckpt.load_network(model_copy, "G")


def test_replaced_file_is_refused_even_after_a_good_load(model_copy):
    """The per-process hash cache is keyed by path, mtime and size, so a file changed later is hashed again."""
    ckpt.write_hashes(model_copy)
    ckpt.load_network(model_copy, "f")
    path = model_copy / "f.safetensors"
    stat = path.stat()
    flip_one_byte(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(ckpt.CheckpointError, match="f.safetensors"):
        ckpt.load_network(model_copy, "f")


def test_without_hashes_json_loads_as_before(model_copy):
    flip_one_byte(model_copy / "H_pre.safetensors")  # nothing recorded, so nothing to compare with
    assert not (model_copy / ckpt.HASHES_FILE).exists()
    ckpt.load_network(model_copy, "f")


def test_each_file_is_hashed_once(model_copy, monkeypatch):
    ckpt.write_hashes(model_copy)
    calls = []
    real_sha256 = ckpt.hashlib.sha256
    monkeypatch.setattr(ckpt.hashlib, "sha256", lambda *a: calls.append(1) or real_sha256(*a))
    for _ in range(3):
        ckpt.load_network(model_copy, "f")
    assert calls == []  # write_hashes already hashed it in this process


def test_unreadable_record_is_reported(model_copy):
    (model_copy / ckpt.HASHES_FILE).write_text("not json")
    with pytest.raises(ckpt.CheckpointError, match="hashes.json"):
        ckpt.load_network(model_copy, "f")
