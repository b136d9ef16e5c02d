"""Pitch shifters of a note's own audio, with its duration kept: the references every method is compared with,
and the first half of the "faithful" method (``hyperlib.faithful``).

- "phase-vocoder": librosa's ``effects.pitch_shift`` (a phase-vocoder time stretch by 2 ** (semitones / 12), then
  resampling back to the original duration). The spectral envelope moves with the pitch.
- "rubberband": Rubber Band with its formants preserved (``rubberband -p SEMITONES -F``, through pyrubberband; the
  command comes with Debian's ``rubberband-cli``).

Both return a note in the front end's form: ``cfg.num_samples`` long and peak-normalized, so that it compares with
the corpus's notes and the methods' outputs as they do with each other.
"""
from __future__ import annotations

import shutil

import librosa
import numpy as np

from .audio import peak_normalize
from .config import AudioConfig

SHIFTERS = ("phase-vocoder", "rubberband")


def fit_length(audio: np.ndarray, cfg: AudioConfig) -> np.ndarray:
    """``audio`` cropped or zero-padded to ``cfg.num_samples`` and peak-normalized to ``cfg.peak_dbfs``: (num_samples,)."""
    y = np.asarray(audio, dtype=np.float32)[: cfg.num_samples]
    return peak_normalize(np.pad(y, (0, cfg.num_samples - y.size)), cfg.peak_dbfs)


def phase_vocoder(audio: np.ndarray, semitones: float, cfg: AudioConfig) -> np.ndarray:
    """``audio`` (n,) float32 at ``cfg.sample_rate`` moved by ``semitones`` (duration kept) -> (num_samples,) float32."""
    y = np.asarray(audio, dtype=np.float32)
    if semitones != 0:
        y = librosa.effects.pitch_shift(y, sr=cfg.sample_rate, n_steps=float(semitones), res_type="soxr_hq")
    return fit_length(y, cfg)


def rubberband_available() -> bool:
    """True where the ``rubberband`` command (Debian's rubberband-cli) is on the PATH."""
    return shutil.which("rubberband") is not None


def rubberband(audio: np.ndarray, semitones: float, cfg: AudioConfig) -> np.ndarray:
    """Rubber Band's pitch shift with formants preserved: (n,) float32 -> (num_samples,) float32.

    Raises RuntimeError naming the package to install where the ``rubberband`` command is missing.
    """
    if not rubberband_available():
        raise RuntimeError("Rubber Band's pitch shift needs the `rubberband` command: "
                           "`apt-get install rubberband-cli` (Debian) or your system's rubberband package.")
    import pyrubberband

    y = np.asarray(audio, dtype=np.float32)
    if semitones != 0:
        y = pyrubberband.pitch_shift(y, cfg.sample_rate, float(semitones), rbargs={"-F": ""}).astype(np.float32)
    return fit_length(y, cfg)


def pitch_shift(audio: np.ndarray, semitones: float, cfg: AudioConfig, shifter: str = "phase-vocoder") -> np.ndarray:
    """The note ``audio`` (n,) moved by ``semitones`` with one of ``SHIFTERS``, duration kept: (num_samples,) float32.

    Raises ValueError for an unknown shifter, RuntimeError where Rubber Band is asked for and not installed.
    """
    if shifter == "phase-vocoder":
        return phase_vocoder(audio, semitones, cfg)
    if shifter == "rubberband":
        return rubberband(audio, semitones, cfg)
    raise ValueError(f"Unknown pitch shifter {shifter!r}; choose one of {', '.join(SHIFTERS)}.")
