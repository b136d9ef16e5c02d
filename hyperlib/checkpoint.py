"""A model folder: ``config.json`` plus one safetensors file per network (Hugging Face conventions).

Names: ``f`` feature extractor, ``G`` generator, ``D`` discriminator, ``H`` hypernetwork after
adversarial fine-tuning, ``H_pre`` hypernetwork after pre-training only, ``E`` encoder.
Only safetensors and JSON are ever read from a model folder.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .config import AudioConfig, ModelConfig, audio_config_from_dict
from .models import Discriminator, Encoder, FeatureExtractor, Generator, HyperNetwork

NETWORKS = ("f", "G", "D", "H_pre", "H", "E")


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


def build(name: str, cfg: ModelConfig) -> nn.Module:
    """A freshly initialized network by checkpoint name."""
    if name == "f":
        return FeatureExtractor(cfg)
    if name == "G":
        return Generator(cfg)
    if name == "D":
        return Discriminator(cfg)
    if name in ("H", "H_pre"):
        return HyperNetwork(cfg, Generator(cfg).tuned_shapes)
    if name == "E":
        return Encoder(cfg)
    raise ValueError(f"Unknown network {name!r}; known: {', '.join(NETWORKS)}.")


def save_network(model_dir: str | Path, name: str, module: nn.Module) -> Path:
    """Write ``module``'s weights to ``model_dir/<name>.safetensors``."""
    path = Path(model_dir) / f"{name}.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, str(path))
    return path


def load_network(model_dir: str | Path, name: str, cfg: ModelConfig | None = None,
                 device: str | torch.device = "cpu") -> nn.Module:
    """Build network ``name`` and load its safetensors weights, in eval mode.

    Raises FileNotFoundError naming the training stage that makes the missing file.
    """
    cfg = cfg or configs(model_dir)[0]
    path = Path(model_dir) / f"{name}.safetensors"
    if not path.is_file():
        stage = {"f": "features", "G": "generator", "D": "generator", "H_pre": "hypernet-pre",
                 "H": "hypernet-adv", "E": "encoder"}[name]
        raise FileNotFoundError(f"{path} is missing: train it with `python -m hyperlib train {stage}`.")
    module = build(name, cfg)
    module.load_state_dict(load_file(str(path), device=str(device)))
    return module.to(device).eval()
