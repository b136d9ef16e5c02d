"""Griffin-Lim: phase retrieval from the mel's pseudo-inverse magnitude (Griffin & Lim 1984)."""
from __future__ import annotations

import librosa
import numpy as np

from ..config import AudioConfig
from ..mel import mel_filterbank, mel_magnitude


class GriffinLimVocoder:
    """Pseudo-inverse of the mel filterbank, then librosa's Griffin-Lim (``cfg.griffin_lim_iters`` iterations).

    Call with a normalized log-mel (n_mels, num_frames) array; returns (num_samples,) float32 audio
    with the same length as the notes the front end makes. ``pitch`` is accepted for the ``Vocoder``
    protocol and not used.
    """

    def __init__(self, cfg: AudioConfig):
        self.cfg = cfg
        self.inverse_basis = np.linalg.pinv(mel_filterbank(cfg)).astype(np.float32)

    def __call__(self, mel: np.ndarray, pitch: float | None = None) -> np.ndarray:
        c = self.cfg
        mag = np.maximum(self.inverse_basis @ mel_magnitude(mel, c), 0.0)
        mag = np.pad(mag, ((0, 0), (0, 1)), mode="edge")  # restore the frame the front end dropped
        audio = librosa.griffinlim(mag, n_iter=c.griffin_lim_iters, hop_length=c.hop_length, win_length=c.win_length,
                                   n_fft=c.n_fft, length=c.num_samples, random_state=0)
        return audio.astype(np.float32)
