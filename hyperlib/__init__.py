"""hyperlib: a neural sampler built on HyperGANStrument (Zhang & Akama, 2024).

    from hyperlib import HyperGANStrument
    model = HyperGANStrument.from_pretrained()
    r = model.synthesize("piano.wav", pitch=64, method="hyper")
"""
from .audio import AudioError
from .config import AudioConfig, ModelConfig, TrainConfig
from .render import Result
from .sampler import HyperGANStrument
from .validation import METHODS
from .vocoders import DEFAULT_VOCODER, VOCODERS

__all__ = ["AudioConfig", "AudioError", "DEFAULT_VOCODER", "HyperGANStrument", "METHODS", "ModelConfig", "Result",
           "TrainConfig", "VOCODERS"]
__version__ = "0.1.0"
