"""Vocoders: normalized log-mel (n_mels, num_frames) -> waveform, by name.

    from hyperlib.vocoders import make_vocoder
    vocoder = make_vocoder("ddsp", AudioConfig())
    audio = vocoder(mel, pitch=60)            # (num_samples,) float32 at 16 kHz

Every vocoder follows the ``Vocoder`` protocol. A new one is one module here and one entry in ``VOCODERS``.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from ..config import AudioConfig
from .ddsp import DDSPConfig, DDSPVocoder
from .griffin_lim import GriffinLimVocoder
from .harmonic_noise import HarmonicNoiseConfig, HarmonicNoiseVocoder


class Vocoder(Protocol):
    """Normalized log-mel (n_mels, num_frames) -> (num_samples,) float32 waveform at the config's rate.

    ``pitch`` is the MIDI pitch the mel was rendered at (what a pitch-aware vocoder synthesizes), or
    None where it is not known (such a vocoder then estimates it from the mel; others ignore it).
    """

    def __call__(self, mel: np.ndarray, pitch: float | None = None) -> np.ndarray: ...


VOCODERS = {
    "ddsp": DDSPVocoder,
    "harmonic-noise": HarmonicNoiseVocoder,
    "griffin-lim": GriffinLimVocoder,
}
"""Vocoder names -> classes built from an ``AudioConfig``. ddsp: additive harmonics at the note's pitch plus
filtered noise, their controls predicted by a small network trained on the model's own mels and on true ones, with
gated mel-consistency passes that open on true mels (``ddsp.py``; the default, closest to the true notes for every
method in the evaluation). harmonic-noise: the same synthesizers with their controls fitted to the mel, made
consistent with it. griffin-lim: phase retrieval on the mel's pseudo-inverse (``AudioConfig.griffin_lim_iters``)."""
DEFAULT_VOCODER = "ddsp"


def check_vocoder(name: str) -> str:
    """``name`` if it is a known vocoder, else ValueError listing ``VOCODERS``."""
    if name not in VOCODERS:
        raise ValueError(f"Unknown vocoder {name!r}; choose one of {', '.join(VOCODERS)}.")
    return name


def make_vocoder(name: str, cfg: AudioConfig) -> Vocoder:
    """Build the vocoder called ``name`` (a key of ``VOCODERS``) for ``cfg``. Raises ValueError for other names."""
    return VOCODERS[check_vocoder(name)](cfg)


__all__ = ["DDSPConfig", "DDSPVocoder", "DEFAULT_VOCODER", "GriffinLimVocoder", "HarmonicNoiseConfig",
           "HarmonicNoiseVocoder", "VOCODERS", "Vocoder", "check_vocoder", "make_vocoder"]
