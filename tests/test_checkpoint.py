"""Tests of weights loading (hyperlib/checkpoint.py): sha256 records in ``hashes.json`` guard the safetensors,
and a weights file without a valid record is never loaded (fail closed); ``config.json`` is validated by field.

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


def test_without_hashes_json_nothing_loads(model_copy):
    assert not (model_copy / ckpt.HASHES_FILE).exists()
    with pytest.raises(ckpt.CheckpointError, match="hashes.json is missing"):
        ckpt.load_network(model_copy, "f")
    with pytest.raises(ckpt.CheckpointError, match="hashes.json is missing"):
        HyperGANStrument.from_pretrained(model_copy)


def write_record(folder: Path, files: dict, algorithm="sha256") -> None:
    (folder / ckpt.HASHES_FILE).write_text(json.dumps({"algorithm": algorithm, "files": files}))


@pytest.mark.parametrize("case", ["empty", "lacks f", "md5", "no algorithm", "files a list", "not hex"])
def test_incomplete_or_foreign_record_is_refused(model_copy, case):
    real = json.loads(ckpt.write_hashes(model_copy).read_text())["files"]
    files = {"empty": {}, "lacks f": {k: v for k, v in real.items() if k != "f.safetensors"}}.get(case, real)
    if case == "md5":
        write_record(model_copy, files, "md5")
    elif case == "no algorithm":
        (model_copy / ckpt.HASHES_FILE).write_text(json.dumps({"files": files}))
    elif case == "files a list":
        (model_copy / ckpt.HASHES_FILE).write_text(json.dumps({"algorithm": "sha256", "files": list(files)}))
    elif case == "not hex":
        write_record(model_copy, {**files, "f.safetensors": "00" * 10})
    else:
        write_record(model_copy, files)
    with pytest.raises(ckpt.CheckpointError, match="f.safetensors|algorithm|hash record|sha256"):
        ckpt.load_network(model_copy, "f")


@pytest.mark.parametrize("key", ["../../../etc/passwd", "sub/f.safetensors", "..", "/etc/passwd", "a\\b"])
def test_record_keys_must_be_plain_file_names(model_copy, key, monkeypatch):
    real = json.loads(ckpt.write_hashes(model_copy).read_text())["files"]
    write_record(model_copy, {**real, key: "0" * 64})
    hashed = []
    real_sha = ckpt.file_sha256
    monkeypatch.setattr(ckpt, "file_sha256", lambda p: hashed.append(str(p)) or real_sha(p))
    with pytest.raises(ckpt.CheckpointError, match="not a plain file name"):
        ckpt.load_network(model_copy, "f")
    with pytest.raises(ckpt.CheckpointError, match="not a plain file name"):
        ckpt.verify_folder(model_copy)
    assert not any("passwd" in p for p in hashed)  # the named path is never opened


def test_unrecorded_file_in_a_folder_is_refused(model_copy):
    ckpt.write_hashes(model_copy)
    (model_copy / "extra.safetensors").write_bytes((model_copy / "f.safetensors").read_bytes())
    with pytest.raises(ckpt.CheckpointError, match="no entry for extra.safetensors"):
        ckpt.verify_folder(model_copy)


def test_saving_records_the_hash(tmp_path, small_cfg):
    """Every writer of weights records them: a saved network loads straight away, fail closed or not."""
    from dataclasses import asdict

    from hyperlib.config import AudioConfig

    ckpt.write_config(tmp_path, {"model": small_cfg.to_dict(), "audio": asdict(AudioConfig())})
    ckpt.save_network(tmp_path, "f", ckpt.build("f", small_cfg))
    ckpt.save_network(tmp_path, "E", ckpt.build("E", small_cfg))
    assert sorted(ckpt.recorded_hashes(tmp_path)) == ["E.safetensors", "f.safetensors"]
    ckpt.load_network(tmp_path, "f")
    ckpt.verify_folder(tmp_path)


def test_bundled_folders_load():
    """The shipped checkpoint, the generator run (whose weights are links into it) and the DDSP vocoder's
    weights are all recorded and match."""
    from hyperlib.vocoders import ddsp

    repo = Path(__file__).resolve().parents[1]
    for folder in (repo / "checkpoints", repo / "runs" / "generator"):
        ckpt.verify_folder(folder)
    ckpt.load_network(repo / "runs" / "generator", "G")
    assert ddsp.WEIGHTS.name in ckpt.recorded_hashes(ddsp.WEIGHTS.parent)
    ddsp.load_decoder()


def test_ddsp_weights_are_checked(tmp_path):
    from hyperlib.vocoders import ddsp

    copy = tmp_path / ddsp.WEIGHTS.name
    shutil.copy2(ddsp.WEIGHTS, copy)
    with pytest.raises(ckpt.CheckpointError, match="hashes.json is missing"):
        ddsp.load_decoder(copy)
    shutil.copy2(ddsp.WEIGHTS.parent / ckpt.HASHES_FILE, tmp_path / ckpt.HASHES_FILE)
    ddsp.load_decoder(copy)
    flip_one_byte(copy)
    with pytest.raises(ckpt.CheckpointError, match="tampered"):
        ddsp.load_decoder(copy)


@pytest.mark.parametrize("section, field, value, words", [
    ("model", "h_dim", -5, "model.h_dim = -5"),
    ("model", "h_dim", 12.5, "model.h_dim = 12.5"),
    ("model", "w_dim", True, "model.w_dim = True"),
    ("model", "gen_channels", [8, 8], "model.gen_channels"),
    ("model", "num_pitches", 200, "model.num_pitches = 200"),
    ("model", "noise_inputs", "yes", "model.noise_inputs = 'yes'"),
    ("audio", "sample_rate", 0, "audio.sample_rate = 0"),
    ("audio", "f_max", float("nan"), "audio.f_max = nan"),
    ("audio", "n_mels", 64, "audio.n_mels = 64"),
])
def test_bad_config_names_the_field(model_copy, section, field, value, words):
    ckpt.write_hashes(model_copy)
    cfg = ckpt.read_config(model_copy)
    cfg.setdefault(section, {})[field] = value
    ckpt.write_config(model_copy, cfg)
    with pytest.raises(ValueError, match="config.json") as error:
        ckpt.load_network(model_copy, "f")
    assert words in str(error.value) and "not accepted" in str(error.value)
    with pytest.raises(ValueError, match=field):
        HyperGANStrument.from_pretrained(model_copy)


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
