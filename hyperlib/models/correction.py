"""The spectral correction of the "faithful" method: a per-band, per-frame log-gain for a pitch-shifted note.

A pitch shifter keeps the input's own noise, attack and fine structure but not how an instrument's colour
changes with pitch (a phase vocoder moves the spectral envelope along with the harmonics). ``SpectralCorrection``
predicts, from the shifted note's log-mel, the input's pitch-invariant timbre h = f(x) and the two MIDI pitches,
a gain in natural-log magnitude per mel band and frame; ``apply_mel_gain`` applies it to the shifted note's STFT,
so the output is the input's own signal with its colour and loudness curve corrected. The output layers start
at zero: an untrained correction is "no change", the plain pitch shift.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import AudioConfig
from ..mel import mel_filterbank


@dataclass
class CorrectionConfig:
    """Sizes of ``SpectralCorrection``.

    channels: width of the convolutions over the (mel band, frame) plane. cond_dim: width of the conditioning
    vector made from h and the two pitches. max_log_gain: bound of the gain in nats (4 = +-34.7 dB), reached
    smoothly through tanh. pitch_frequencies: Fourier features per pitch (sin and cos of pi * k * u, k = 1, 2, 4...).
    source_channel: the convolutions also read the input's own log-mel before the shift (where its formants were).
    """

    channels: int = 16
    cond_dim: int = 64
    max_log_gain: float = 4.0
    pitch_frequencies: int = 3
    source_channel: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def pitch_features(src: torch.Tensor, tgt: torch.Tensor, frequencies: int) -> torch.Tensor:
    """MIDI pitches (B,), (B,) -> (B, 3 + 4 * frequencies) features: the scaled pitches, the shift in octaves and
    Fourier features of both pitches."""
    u0, u1 = (src.float() - 64.5) / 22.0, (tgt.float() - 64.5) / 22.0
    feats = [u0, u1, (tgt.float() - src.float()) / 12.0]
    for k in range(frequencies):
        for u in (u0, u1):
            feats += [torch.sin(math.pi * 2 ** k * u), torch.cos(math.pi * 2 ** k * u)]
    return torch.stack(feats, dim=1)


class FiLMConv(nn.Module):
    """3x3 convolution, then a per-channel scale and shift from the conditioning vector, then GELU."""

    def __init__(self, cin: int, cout: int, cond_dim: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation)
        self.film = nn.Linear(cond_dim, 2 * cout)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(cond)[:, :, None, None].chunk(2, dim=1)
        return F.gelu(self.conv(x) * (1 + scale) + shift)


class SpectralCorrection(nn.Module):
    """(shifted log-mel, h, source and target MIDI pitch) -> log-gain per mel band and frame.

    forward(mel, h, src, tgt, source): mel (B, 1, n_mels, frames) normalized log-mel of the pitch-shifted note;
    h (B, h_dim) the input's timbre f(x); src, tgt (B,) MIDI pitches of the input and of the output; source
    (B, 1, n_mels, frames) the input's own log-mel (read with ``source_channel``, else ignored). Returns
    (B, n_mels, frames) gains in nats (natural log of a magnitude factor), within +-``max_log_gain``: a gain per band
    for the whole note from (h, pitches) plus a gain per band and frame from dilated convolutions over the shifted
    log-mel (with the band's position, and with ``source_channel`` the input's log-mel, as further input channels)
    modulated by (h, pitches).
    """

    def __init__(self, h_dim: int, n_mels: int, cfg: CorrectionConfig = CorrectionConfig()):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        self.cond = nn.Sequential(nn.Linear(h_dim + 3 + 4 * cfg.pitch_frequencies, cfg.cond_dim), nn.GELU(),
                                  nn.Linear(cfg.cond_dim, cfg.cond_dim), nn.GELU())
        self.band_gain = nn.Linear(cfg.cond_dim, n_mels)
        self.convs = nn.ModuleList([FiLMConv(3 if cfg.source_channel else 2, c, cfg.cond_dim, 1),
                                    FiLMConv(c, c, cfg.cond_dim, 2),
                                    FiLMConv(c, c, cfg.cond_dim, 4)])
        self.out = nn.Conv2d(c, 1, 1)
        for layer in (self.band_gain, self.out):  # "no change" at the start
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.register_buffer("band_position", torch.linspace(-1, 1, n_mels)[:, None], persistent=False)

    def forward(self, mel: torch.Tensor, h: torch.Tensor, src: torch.Tensor, tgt: torch.Tensor,
                source: torch.Tensor | None = None) -> torch.Tensor:
        cond = self.cond(torch.cat([h, pitch_features(src, tgt, self.cfg.pitch_frequencies)], dim=1))
        x = [mel, self.band_position.expand(mel.shape[0], 1, -1, mel.shape[-1])]
        if self.cfg.source_channel:
            if source is None:
                raise ValueError("This correction reads the input's own log-mel: pass `source`.")
            x.append(source)
        x = torch.cat(x, dim=1)
        for conv in self.convs:
            x = conv(x, cond)
        gain = self.out(x)[:, 0] + self.band_gain(cond)[:, :, None]
        bound = self.cfg.max_log_gain
        return bound * torch.tanh(gain / bound)


def mel_to_bins(cfg: AudioConfig) -> torch.Tensor:
    """(n_fft // 2 + 1, n_mels) weights that spread a value per mel band over the STFT bins: each bin takes the
    filterbank-weighted mean of the bands covering it (bins outside every band take the nearest band)."""
    fb = torch.from_numpy(mel_filterbank(cfg)).T.double()  # (bins, bands)
    empty = fb.sum(dim=1) == 0
    peak_bin = fb.argmax(dim=0)  # each band's centre bin
    for b in torch.nonzero(empty).flatten().tolist():
        fb[b, int(torch.argmin((peak_bin - b).abs()))] = 1.0
    return (fb / fb.sum(dim=1, keepdim=True)).float()


def apply_mel_gain(audio: torch.Tensor, log_gain: torch.Tensor, cfg: AudioConfig, weights: torch.Tensor) -> torch.Tensor:
    """Scale the STFT of ``audio`` (B, num_samples) by exp(log_gain) (B, n_mels, frames), mapped to the bins by
    ``weights`` (``mel_to_bins``), and resynthesize with the input's own phases: (B, num_samples), differentiable.

    The STFT is the log-mel's (n_fft, hop and Hann window of ``cfg``, centered); the last STFT frame takes the last
    frame's gain.
    """
    window = torch.hann_window(cfg.win_length, device=audio.device)
    spec = torch.stft(audio, cfg.n_fft, cfg.hop_length, cfg.win_length, window, center=True, return_complex=True)
    frames = spec.shape[-1]
    g = F.pad(log_gain, (0, frames - log_gain.shape[-1]), mode="replicate") if frames > log_gain.shape[-1] else (
        log_gain[..., :frames])
    bins = torch.einsum("fm,bmt->bft", weights.to(audio.device), g)
    return torch.istft(spec * torch.exp(bins), cfg.n_fft, cfg.hop_length, cfg.win_length, window, center=True,
                       length=audio.shape[-1])
