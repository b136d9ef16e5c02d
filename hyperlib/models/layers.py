"""Building blocks shared by f, D and E: a downsampling convolutional trunk over log-mels."""
from __future__ import annotations

import torch
from torch import nn


class ConvTrunk(nn.Module):
    """(B, 1, 128, 128) log-mel -> (B, channels[-1] * 4 * 4) features.

    Each block is a 3x3 convolution and a stride-2 3x3 convolution with LeakyReLU(0.2), so
    ``len(channels)`` blocks divide the resolution by 2 ** len(channels) (5 blocks: 128 -> 4).
    """

    def __init__(self, channels: tuple, in_channels: int = 1):
        super().__init__()
        layers, c_in = [], in_channels
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.LeakyReLU(0.2),
                       nn.Conv2d(c, c, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in = c
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)

    @staticmethod
    def out_features(channels: tuple, resolution: int = 128) -> int:
        side = resolution // 2 ** len(channels)
        return channels[-1] * side * side


def pitch_index(pitch: torch.Tensor, min_pitch: int, num_pitches: int) -> torch.Tensor:
    """MIDI pitch (B,) long -> class index 0..num_pitches-1 (MIDI 21 -> 0). Raises ValueError out of range."""
    idx = pitch.long() - min_pitch
    if idx.numel() and (idx.min() < 0 or idx.max() >= num_pitches):
        raise ValueError(f"MIDI pitch must be in {min_pitch}-{min_pitch + num_pitches - 1}, got {pitch.tolist()}.")
    return idx


def normalize_h(h: torch.Tensor) -> torch.Tensor:
    """Timbre feature h (B, h_dim) scaled to norm sqrt(h_dim): f's output scale is arbitrary, so every
    network that consumes h (G's mapping, D's projection, H) sees it at a fixed scale."""
    return torch.nn.functional.normalize(h, dim=1) * h.shape[1] ** 0.5
