"""Log-mel spectrogram in torch (differentiable) and vocoders back to audio (brief, "Audio representation")."""
from __future__ import annotations

from typing import Protocol

import librosa
import numpy as np
import torch
from torch import nn

from .config import AudioConfig


class LogMel(nn.Module):
    """Waveform -> normalized log-mel.

    forward(audio): (B, num_samples) float32 in [-1, 1] -> (B, 1, n_mels, num_frames), values about
    [-1, 1]: 2 * (log(clamp(mel, mel_floor)) - log_min) / (log_max - log_min) - 1.
    The mel filterbank is librosa's (Slaney), the STFT is ``torch.stft`` with a Hann window.
    """

    def __init__(self, cfg: AudioConfig):
        super().__init__()
        self.cfg = cfg
        fb = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.f_min, fmax=cfg.f_max)
        self.register_buffer("mel_basis", torch.from_numpy(fb).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.win_length), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        spec = torch.stft(audio, c.n_fft, c.hop_length, c.win_length, self.window, center=True, return_complex=True)
        mel = self.mel_basis @ spec.abs()[..., : c.num_frames]
        return normalize_log(torch.log(torch.clamp(mel, min=c.mel_floor)), c).unsqueeze(1)


def normalize_log(log_mel: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Natural-log mel -> about [-1, 1] (fixed affine map)."""
    return 2 * (log_mel - cfg.log_min) / (cfg.log_max - cfg.log_min) - 1


def denormalize_log(x: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Inverse of ``normalize_log``."""
    return (x + 1) / 2 * (cfg.log_max - cfg.log_min) + cfg.log_min


class Vocoder(Protocol):
    """Normalized log-mel (n_mels, num_frames) -> (num_samples,) float32 waveform at the config's rate."""

    def __call__(self, mel: np.ndarray) -> np.ndarray: ...


class GriffinLimVocoder:
    """The always-available vocoder: pseudo-inverse of the mel filterbank, then librosa's Griffin-Lim.

    Call with a normalized log-mel (n_mels, num_frames) array; returns (num_samples,) float32 audio
    with the same length as the notes the front end makes.
    """

    def __init__(self, cfg: AudioConfig):
        self.cfg = cfg
        fb = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.f_min, fmax=cfg.f_max)
        self.inverse_basis = np.linalg.pinv(fb).astype(np.float32)

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        c = self.cfg
        log_mel = denormalize_log(torch.as_tensor(mel, dtype=torch.float32), c).numpy()
        mag = np.maximum(self.inverse_basis @ np.exp(log_mel), 0.0)
        mag = np.pad(mag, ((0, 0), (0, 1)), mode="edge")  # restore the frame the front end dropped
        audio = librosa.griffinlim(mag, n_iter=c.griffin_lim_iters, hop_length=c.hop_length, win_length=c.win_length,
                                   n_fft=c.n_fft, length=c.num_samples, random_state=0)
        return audio.astype(np.float32)
