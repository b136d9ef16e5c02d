"""What the pitch-aware vocoders share: the check of their input and the pitch of a mel when none is given."""
from __future__ import annotations

import librosa
import numpy as np

from ..config import AudioConfig
from ..mel import mel_magnitude

PITCH_SEARCH_MIDI = (21.0, 108.0, 0.1)
"""(lowest, highest, step) MIDI candidates of ``estimate_pitch``."""


def estimate_pitch(mel: np.ndarray, cfg: AudioConfig, search: tuple = PITCH_SEARCH_MIDI) -> float:
    """MIDI pitch of a normalized log-mel (n_mels, frames) by subharmonic summation (Hermes 1988).

    The energy-weighted mean log-magnitude of each band, minus its running mean over 7 bands, is read at the
    multiples of every candidate f0 (``search``: lowest, highest, step in MIDI) with weights 0.84^(k-1); the best
    candidate wins. Returns a MIDI pitch (float).
    """
    band_hz = librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.f_min, fmax=cfg.f_max)[1:-1]
    mag = mel_magnitude(mel, cfg).astype(np.float64)
    weight = mag.sum(0) / max(float(mag.sum()), 1e-20)
    log_spec = (np.log(mag + 1e-9) * weight).sum(1)
    peaks = log_spec - np.convolve(np.pad(log_spec, 3, mode="edge"), np.ones(7) / 7, mode="valid")
    lo, hi, step = search
    midi = np.arange(lo, hi + step / 2, step)
    f0 = librosa.midi_to_hz(midi)
    k = np.arange(1, 21)
    hz = f0[:, None] * k[None, :]
    inside = hz <= band_hz[-1]
    score = (np.where(inside, np.maximum(np.interp(hz, band_hz, peaks), 0.0), 0.0) * 0.84 ** (k - 1.0)).sum(1)
    return float(midi[int(np.argmax(score))])


def check_input(mel: np.ndarray, pitch: float | None, cfg: AudioConfig,
                search: tuple = PITCH_SEARCH_MIDI) -> tuple[np.ndarray, float]:
    """A vocoder's input made ready: (mel as float32 (n_mels, num_frames), finite MIDI pitch).

    ``pitch`` None is estimated from the mel (``estimate_pitch`` over ``search``). Raises ValueError for a mel of
    another shape or a non-finite pitch.
    """
    mel = np.asarray(mel, dtype=np.float32)
    if mel.shape != (cfg.n_mels, cfg.num_frames):
        raise ValueError(f"Expected a log-mel of shape ({cfg.n_mels}, {cfg.num_frames}), got {mel.shape}.")
    if pitch is None:
        pitch = estimate_pitch(mel, cfg, search)
    if not np.isfinite(pitch):
        raise ValueError(f"Pitch must be a finite MIDI number or None, got {pitch!r}.")
    return mel, float(pitch)
