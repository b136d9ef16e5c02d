"""A model folder: ``config.json`` plus one safetensors file per network (Hugging Face conventions).

Names: ``f`` feature extractor, ``G`` generator, ``D`` discriminator, ``H`` hypernetwork after
adversarial fine-tuning, ``H_pre`` hypernetwork after pre-training only, ``E`` encoder.
Only safetensors and JSON are ever read from a model folder, and every safetensors file through
``read_safetensors``: ``hashes.json`` (written by ``write_hashes``) records the sha256 of every safetensors file;
when it is present, a file whose hash differs is refused with ``CheckpointError``.
"""
from __future__ import annotations

import hashlib
import json
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


class CheckpointError(ValueError):
    """A weights file that must not be loaded (its sha256 differs from the one in ``hashes.json``)."""


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


def write_hashes(model_dir: str | Path) -> Path:
    """Record the sha256 of every ``*.safetensors`` in ``model_dir`` in ``model_dir/hashes.json``; returns its path."""
    model_dir = Path(model_dir)
    hashes = {p.name: file_sha256(p) for p in sorted(model_dir.glob("*.safetensors"))}
    path = model_dir / HASHES_FILE
    path.write_text(json.dumps({"algorithm": "sha256", "files": hashes}, indent=2, sort_keys=True) + "\n")
    return path


def record_hash(path: str | Path) -> None:
    """Add (or update) the sha256 of weights file ``path`` in its folder's ``hashes.json``, when the folder has one."""
    path = Path(path)
    record = path.parent / HASHES_FILE
    if record.is_file():
        data = json.loads(record.read_text())
        data.setdefault("files", {})[path.name] = file_sha256(path)
        record.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def recorded_hashes(model_dir: str | Path) -> dict[str, str] | None:
    """{file name: sha256} recorded in ``model_dir/hashes.json``; None when that file is absent.

    Raises CheckpointError when the record is unreadable.
    """
    record = Path(model_dir) / HASHES_FILE
    if not record.is_file():
        return None
    try:
        files = json.loads(record.read_text())["files"]
        if not isinstance(files, dict):
            raise TypeError("'files' is not a mapping")
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{record} is not a valid hash record ({exc}); re-create it with "
                              "hyperlib.checkpoint.write_hashes or remove it.") from exc
    return files


def verify_hash(path: str | Path) -> None:
    """Check a weights file against its folder's ``hashes.json``; no-op when that file is absent or omits it.

    Raises CheckpointError when the recorded sha256 differs (or ``hashes.json`` is unreadable).
    """
    path = Path(path)
    expected = (recorded_hashes(path.parent) or {}).get(path.name)
    if expected is not None and file_sha256(path) != expected:
        raise CheckpointError(f"{path} does not match the sha256 recorded in {HASHES_FILE}: the file may be "
                              "corrupted or tampered with. Download the checkpoint again; it was not loaded.")


def verify_folder(model_dir: str | Path) -> None:
    """Check every weights file recorded in ``model_dir/hashes.json`` (``verify_hash``); no-op without that record.

    Raises CheckpointError for a recorded file that is missing or whose sha256 differs.
    """
    names = sorted(recorded_hashes(model_dir) or {})
    missing = [name for name in names if not (Path(model_dir) / name).is_file()]
    if missing:
        raise CheckpointError(f"{model_dir} lacks {', '.join(missing)}, recorded in {HASHES_FILE}: the folder is "
                              "incomplete. Download or copy it again.")
    for name in names:
        verify_hash(Path(model_dir) / name)


def read_config(model_dir: str | Path) -> dict:
    """The parsed ``config.json`` of ``model_dir`` ({} when absent)."""
    path = Path(model_dir) / "config.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def write_config(model_dir: str | Path, config: dict) -> None:
    path = Path(model_dir)
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def configs(model_dir: str | Path) -> tuple[ModelConfig, AudioConfig]:
    """(ModelConfig, AudioConfig) recorded in ``model_dir/config.json``. Raises FileNotFoundError."""
    cfg = read_config(model_dir)
    if "model" not in cfg:
        raise FileNotFoundError(f"{Path(model_dir) / 'config.json'} is missing or has no model section.")
    return ModelConfig.from_dict(cfg["model"]), audio_config_from_dict(cfg.get("audio", {}))


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
    """Write ``module``'s weights to ``model_dir/<name>.safetensors`` (``replace_atomically``)."""
    path = Path(model_dir) / f"{name}.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    replace_atomically(path, lambda tmp: save_file(tensors, str(tmp)))
    return path


def read_safetensors(path: str | Path, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """The one reader of weights files: (tensors, metadata) of a safetensors file after ``verify_hash``.

    Raises FileNotFoundError for a missing file and CheckpointError when its sha256 differs from the one recorded
    in its folder's ``hashes.json``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing.")
    verify_hash(path)
    with safe_open(str(path), framework="pt", device=str(device)) as fh:
        return {k: fh.get_tensor(k) for k in fh.keys()}, dict(fh.metadata() or {})


def read_weights(model_dir: str | Path, name: str, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of ``model_dir/<name>.safetensors`` after checking its sha256.

    Raises FileNotFoundError naming the training stage that makes the missing file, and CheckpointError when
    the file's sha256 differs from the one recorded in ``hashes.json``.
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
