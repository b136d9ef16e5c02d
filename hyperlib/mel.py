"""Log-mel spectrogram in torch (differentiable) and its normalization.

The way back to audio is in ``hyperlib.vocoders``."""
from __future__ import annotations

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
        self.register_buffer("mel_basis", torch.from_numpy(mel_filterbank(cfg)), persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.win_length), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        spec = torch.stft(audio, c.n_fft, c.hop_length, c.win_length, self.window, center=True, return_complex=True)
        mel = self.mel_basis @ spec.abs()[..., : c.num_frames]
        return normalize_log(torch.log(torch.clamp(mel, min=c.mel_floor)), c).unsqueeze(1)


def normalize_log(log_mel: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Natural-log mel -> about [-1, 1] (fixed affine map)."""
    return 2 * (log_mel - cfg.log_min) / (cfg.log_max - cfg.log_min) - 1


def denormalize_log(x, cfg: AudioConfig):
    """Inverse of ``normalize_log`` (a torch tensor or a numpy array, same shape)."""
    return (x + 1) / 2 * (cfg.log_max - cfg.log_min) + cfg.log_min


LEVEL_FLOOR_DB = 80.0
"""Frame levels are floored this many dB below the note's loudest frame (silence counts as -80 dB)."""


def frame_levels_db(mel: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Per-frame level in dB relative to the note's loudest frame, floored at -``LEVEL_FLOOR_DB``.

    mel: (B, 1, n_mels, frames) normalized log-mels. The level of a frame is 10 log10 of the mean over mel
    bands of the squared mel magnitude. Returns (B, frames), 0 dB at each note's peak frame.
    """
    log_mag = denormalize_log(mel[:, 0].double(), cfg)  # natural log of the mel magnitude
    level = 10 * torch.log10(torch.exp(2 * log_mag).mean(dim=1))
    return (level - level.amax(dim=1, keepdim=True)).clamp(min=-LEVEL_FLOOR_DB).float()


def mel_filterbank(cfg: AudioConfig) -> np.ndarray:
    """librosa's Slaney mel filterbank of the config: (n_mels, n_fft // 2 + 1) float32."""
    return librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.f_min,
                               fmax=cfg.f_max).astype(np.float32)


def mel_magnitude(mel: np.ndarray, cfg: AudioConfig) -> np.ndarray:
    """Normalized log-mel (n_mels, frames) -> linear mel magnitudes (same shape, float32; inverse of LogMel's map)."""
    return np.exp(denormalize_log(np.asarray(mel, dtype=np.float32), cfg))
