"""hyperlib: a neural sampler built on HyperGANStrument (Zhang & Akama, 2024).

    from hyperlib import HyperGANStrument
    model = HyperGANStrument.from_pretrained()
    r = model.synthesize("piano.wav", pitch=64, method="hyper")

The public API is what this module exports (``docs/api.md``): the model class, the types its calls return
(``Result``, ``Encoded``, ``Faders``, ``MorphResults``), the errors they raise and the configuration dataclasses.
"""
from .audio import AudioError
from .checkpoint import CheckpointError
from .config import AudioConfig, ModelConfig, TrainConfig
from .hub import HubError, ModelNotFoundError
from .pipeline import Encoded
from .render import Result
from .sampler import HyperGANStrument
from .sound_design.faders import Faders
from .sound_design.morph import MorphResults
from .validation import METHODS
from .vocoders import DEFAULT_VOCODER, VOCODERS

__all__ = ["AudioConfig", "AudioError", "CheckpointError", "DEFAULT_VOCODER", "Encoded", "Faders", "HubError",
           "HyperGANStrument", "METHODS", "ModelConfig", "ModelNotFoundError", "MorphResults", "Result",
           "TrainConfig", "VOCODERS"]
__version__ = "0.1.0"
