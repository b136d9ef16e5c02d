"""A pitch's harmonic comb on the log-mel frequency grid: the generator's pitch template.

Not in GANStrument: G there learns where a pitch's harmonics fall on the mel axis from a pitch
embedding alone, which takes far more steps than a CPU budget allows (our first G, 600 steps, drew
smooth envelopes without harmonics). G here also receives this fixed template, at every resolution,
through zero-initialized 1x1 convolutions, so it only has to learn how loud each harmonic is.
"""
from __future__ import annotations

import librosa
import numpy as np
import torch

from ..config import AudioConfig


def harmonic_template(audio: AudioConfig, min_pitch: int, num_pitches: int, width_hz: float = 10.0) -> torch.Tensor:
    """Mel-domain harmonic combs for MIDI ``min_pitch .. min_pitch + num_pitches - 1``.

    Harmonics k * f0 up to ``f_max`` (f0 = 440 * 2 ** ((p - 69) / 12) Hz), each a Gaussian of
    ``width_hz`` standard deviation on the STFT frequency grid, weighted 1/sqrt(k), projected through
    the front end's mel filterbank, log-compressed and scaled to [0, 1] per pitch.

    Returns:
        (num_pitches, n_mels) float32, row i for MIDI ``min_pitch + i``.
    """
    freqs = librosa.fft_frequencies(sr=audio.sample_rate, n_fft=audio.n_fft)
    fb = librosa.filters.mel(sr=audio.sample_rate, n_fft=audio.n_fft, n_mels=audio.n_mels,
                             fmin=audio.f_min, fmax=audio.f_max)
    rows = []
    for midi in range(min_pitch, min_pitch + num_pitches):
        f0 = 440.0 * 2.0 ** ((midi - 69) / 12)
        k = np.arange(1, int(audio.f_max // f0) + 1)
        comb = (np.exp(-0.5 * ((freqs[:, None] - k * f0) / width_hz) ** 2) / np.sqrt(k)).sum(axis=1)
        mel = np.log1p(10.0 * (fb @ comb) / (fb.sum(axis=1) + 1e-8))
        rows.append(mel / mel.max())
    return torch.from_numpy(np.stack(rows)).float()
