"""hyperlib: a neural sampler built on HyperGANStrument (Zhang & Akama, 2024).

    from hyperlib import HyperGANStrument
    model = HyperGANStrument.from_pretrained()
    r = model.synthesize("piano.wav", pitch=64, method="hyper")
"""
from .audio import AudioError
from .config import AudioConfig, ModelConfig, TrainConfig
from .pipeline import METHODS, HyperGANStrument, Result

__all__ = ["AudioConfig", "AudioError", "HyperGANStrument", "METHODS", "ModelConfig", "Result", "TrainConfig"]
__version__ = "0.1.0"
