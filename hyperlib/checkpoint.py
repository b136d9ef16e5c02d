"""A model folder: ``config.json`` plus one safetensors file per network (Hugging Face conventions).

Names: ``f`` feature extractor, ``G`` generator, ``D`` discriminator, ``H`` hypernetwork after
adversarial fine-tuning, ``H_pre`` hypernetwork after pre-training only, ``E`` encoder.
Only safetensors and JSON are ever read from a model folder, and every safetensors file through
``read_safetensors``, which fails closed: the file's folder must hold ``hashes.json`` (written by ``write_hashes``,
``{"algorithm": "sha256", "files": {file name: sha256 hex}}``) with an entry for that file, and the file's sha256
must equal it; otherwise ``CheckpointError``. The record names plain files of its own folder only (no path
separators, no ``..``). It guards against a corrupted, truncated or swapped file; it does not guard against a
source that changes the weights and their record together (that is what a pinned Hub revision is for).
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from pathlib import Path
from typing import Callable

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from .config import AudioConfig, ModelConfig, audio_config_from_dict
from .models import Discriminator, Encoder, FeatureExtractor, Generator, HyperNetwork, tuned_layer_shapes

NETWORKS = ("f", "G", "D", "H_pre", "H", "E")
HASHES_FILE = "hashes.json"
HASH_ALGORITHM = "sha256"
"""The one algorithm ``hashes.json`` may name."""
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class CheckpointError(ValueError):
    """A weights file that must not be loaded: no ``hashes.json`` beside it, no entry for it there, a record
    that is malformed, or a sha256 that differs from the recorded one."""


_hash_cache: dict[tuple, str] = {}  # (resolved path, mtime_ns, size) -> sha256 hex, so each file is hashed once
_hash_lock = threading.Lock()


def file_sha256(path: str | Path) -> str:
    """The sha256 (hex) of a file, computed once per process for a given path, mtime and size."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _hash_lock:
        if key not in _hash_cache:
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            _hash_cache[key] = digest.hexdigest()
        return _hash_cache[key]


def _write_record(model_dir: Path, hashes: dict[str, str]) -> Path:
    path = model_dir / HASHES_FILE
    text = json.dumps({"algorithm": HASH_ALGORITHM, "files": hashes}, indent=2, sort_keys=True) + "\n"
    replace_atomically(path, lambda tmp: tmp.write_text(text))
    return path


def write_hashes(model_dir: str | Path) -> Path:
    """Record the sha256 of every ``*.safetensors`` in ``model_dir`` in ``model_dir/hashes.json``; returns its path."""
    model_dir = Path(model_dir)
    return _write_record(model_dir, {p.name: file_sha256(p) for p in sorted(model_dir.glob("*.safetensors"))})


def record_hash(path: str | Path) -> None:
    """Add (or update) the sha256 of weights file ``path`` in its folder's ``hashes.json``, creating the record
    when the folder has none. Raises CheckpointError when an existing record is malformed."""
    path = Path(path)
    record = path.parent / HASHES_FILE
    hashes = recorded_hashes(path.parent) if record.is_file() else {}
    _write_record(path.parent, {**hashes, path.name: file_sha256(path)})


def _plain_name(name) -> bool:
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name
            and "\0" not in name and Path(name).name == name)


def recorded_hashes(model_dir: str | Path) -> dict[str, str]:
    """{file name: sha256 hex} recorded in ``model_dir/hashes.json``.

    Raises CheckpointError when that file is missing, is not JSON, names another algorithm than ``sha256``,
    or holds a key that is not a plain file name (a path separator, ``..``) or a value that is not 64 hex digits.
    """
    record = Path(model_dir) / HASHES_FILE
    if not record.is_file():
        raise CheckpointError(f"{record} is missing: a model folder must record the sha256 of every weights file "
                              "it holds. Download the folder again, or, for weights you trained yourself, write "
                              "the record with hyperlib.checkpoint.write_hashes. Nothing was loaded.")
    try:
        data = json.loads(record.read_text())
        if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
            raise TypeError("it has no 'files' mapping")
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{record} is not a valid hash record ({exc}); re-create it with "
                              "hyperlib.checkpoint.write_hashes or download the folder again.") from exc
    if data.get("algorithm") != HASH_ALGORITHM:
        raise CheckpointError(f"{record} names the algorithm {data.get('algorithm')!r}; only "
                              f"{HASH_ALGORITHM!r} is accepted. Nothing was loaded.")
    files = data["files"]
    bad = [name for name in files if not _plain_name(name)]
    if bad:
        raise CheckpointError(f"{record} names {bad[0]!r}, which is not a plain file name of that folder (no path "
                              "separators or '..'). Nothing was loaded.")
    bad = [name for name, sha in files.items() if not (isinstance(sha, str) and _SHA256_HEX.match(sha))]
    if bad:
        raise CheckpointError(f"{record}: the entry for {bad[0]} is not a sha256 (64 lower-case hex digits). "
                              "Nothing was loaded.")
    return files


def verify_hash(path: str | Path) -> None:
    """Check a weights file against its folder's ``hashes.json`` (fail closed).

    Raises CheckpointError when the record is missing or malformed (``recorded_hashes``), has no entry for
    the file, or records another sha256.
    """
    path = Path(path)
    expected = recorded_hashes(path.parent).get(path.name)
    if expected is None:
        raise CheckpointError(f"{path.parent / HASHES_FILE} has no entry for {path.name}: an unrecorded weights "
                              "file is not loaded. Download the folder again, or record the file with "
                              "hyperlib.checkpoint.write_hashes if you trained it yourself.")
    if file_sha256(path) != expected:
        raise CheckpointError(f"{path} does not match the sha256 recorded in {HASHES_FILE}: the "
                              "file may be corrupted or tampered with. Download the checkpoint again; it was not "
                              "loaded.")


def verify_folder(model_dir: str | Path) -> None:
    """Check every weights file of ``model_dir``: each ``*.safetensors`` there and each file named in its
    ``hashes.json`` must be present, recorded and match (``verify_hash``).

    Raises CheckpointError for a missing or malformed record, an unrecorded or missing file, or a differing sha256.
    """
    model_dir = Path(model_dir)
    recorded = recorded_hashes(model_dir)
    missing = [name for name in sorted(recorded) if not (model_dir / name).is_file()]
    if missing:
        raise CheckpointError(f"{model_dir} lacks {', '.join(missing)}, recorded in {HASHES_FILE}: the folder is "
                              "incomplete. Download or copy it again.")
    for path in sorted({*model_dir.glob("*.safetensors"), *(model_dir / name for name in recorded)}):
        verify_hash(path)


def read_config(model_dir: str | Path) -> dict:
    """The parsed ``config.json`` of ``model_dir`` ({} when absent)."""
    path = Path(model_dir) / "config.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def write_config(model_dir: str | Path, config: dict) -> None:
    path = Path(model_dir)
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def configs(model_dir: str | Path) -> tuple[ModelConfig, AudioConfig]:
    """(ModelConfig, AudioConfig) recorded in ``model_dir/config.json``.

    Raises FileNotFoundError (no such file, or no model section) and ValueError naming the field of a value that
    is not accepted (``model.h_dim = -5 ...``, see ``ModelConfig.from_dict`` and ``audio_config_from_dict``).
    """
    path = Path(model_dir) / "config.json"
    try:
        cfg = read_config(model_dir)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); download or write the model folder again.") from exc
    if not isinstance(cfg, dict) or "model" not in cfg:
        raise FileNotFoundError(f"{path} is missing or has no model section.")
    try:
        model, audio = ModelConfig.from_dict(cfg["model"]), audio_config_from_dict(cfg.get("audio", {}))
        side = 4 * 2 ** (len(model.gen_channels) - 1)
        if (audio.n_mels, audio.num_frames) != (side, side):
            raise ValueError(f"audio.n_mels = {audio.n_mels} and audio.num_frames = {audio.num_frames} are not "
                             f"accepted: the networks work on a {side} x {side} log-mel.")
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return model, audio


def build(name: str, cfg: ModelConfig, audio: AudioConfig | None = None) -> nn.Module:
    """A freshly initialized network by checkpoint name; ``audio`` (default ``AudioConfig()``) sets G's mel grid."""
    if name in ("f", "f_noadv"):  # f_noadv: f trained without the pitch adversary (the evaluation's probe)
        return FeatureExtractor(cfg)
    if name == "G":
        return Generator(cfg, audio)
    if name == "D":
        return Discriminator(cfg)
    if name in ("H", "H_pre"):
        return HyperNetwork(cfg, tuned_layer_shapes(cfg))
    if name == "E":
        return Encoder(cfg)
    raise ValueError(f"Unknown network {name!r}; known: {', '.join(NETWORKS)}.")


def replace_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` to a temporary name beside ``path``, then rename it over ``path``: a run stopped while
    writing leaves the previous file whole."""
    tmp = path.with_suffix(".tmp")
    write(tmp)
    tmp.replace(path)


def save_network(model_dir: str | Path, name: str, module: nn.Module) -> Path:
    """Write ``module``'s weights to ``model_dir/<name>.safetensors`` (``replace_atomically``) and record their
    sha256 in the folder's ``hashes.json`` (``record_hash``)."""
    path = Path(model_dir) / f"{name}.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    replace_atomically(path, lambda tmp: save_file(tensors, str(tmp)))
    record_hash(path)
    return path


def read_safetensors(path: str | Path, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """The one reader of weights files: (tensors, metadata) of a safetensors file after ``verify_hash``.

    Raises FileNotFoundError for a missing file and CheckpointError when its folder's ``hashes.json`` is missing,
    malformed or has no entry for it, or records another sha256.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing.")
    verify_hash(path)
    with safe_open(str(path), framework="pt", device=str(device)) as fh:
        return {k: fh.get_tensor(k) for k in fh.keys()}, dict(fh.metadata() or {})


def read_weights(model_dir: str | Path, name: str, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of ``model_dir/<name>.safetensors`` after checking its sha256.

    Raises FileNotFoundError naming the training stage that makes the missing file, and CheckpointError (see
    ``read_safetensors``).
    """
    path = Path(model_dir) / f"{name}.safetensors"
    if not path.is_file():
        command = {"f": "train features", "G": "train generator", "D": "train generator", "H_pre": "train hypernet-pre",
                   "H": "train hypernet-adv", "E": "train encoder", "f_noadv": "train-eval"}[name]
        raise FileNotFoundError(f"{path} is missing: train it with `python -m hyperlib {command}`.")
    return read_safetensors(path, device)[0]


def load_network(model_dir: str | Path, name: str, cfg: ModelConfig | None = None,
                 device: str | torch.device = "cpu") -> nn.Module:
    """Build network ``name`` and load its safetensors weights (``read_weights``), in eval mode.

    Raises FileNotFoundError, CheckpointError (see ``read_weights``).
    """
    model_cfg, audio = configs(model_dir)
    module = build(name, cfg or model_cfg, audio)
    module.load_state_dict(read_weights(model_dir, name, device))
    return module.to(device).eval()
