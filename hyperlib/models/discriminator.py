"""Projection discriminator D(x, p, h) (Miyato & Koyama 2018; GANStrument)."""
from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .layers import ConvTrunk, normalize_h, pitch_index


class Discriminator(nn.Module):
    """score = psi(phi(x)) + <phi(x), embed(p)> + <phi(x), W h> (h normalized, ``normalize_h``).

    forward(x, pitch, h): x (B, 1, 128, 128), pitch (B,) MIDI, h (B, h_dim) -> logits (B,).
    Trained with the non-saturating logistic loss and an R1 penalty on real data.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        dim = cfg.disc_channels[-1]
        self.trunk = ConvTrunk(cfg.disc_channels)
        self.phi = nn.Sequential(nn.Linear(ConvTrunk.out_features(cfg.disc_channels), dim), nn.LeakyReLU(0.2))
        self.psi = nn.Linear(dim, 1)
        self.embed_pitch = nn.Embedding(cfg.num_pitches, dim)
        self.project_h = nn.Linear(cfg.h_dim, dim, bias=False)

    def forward(self, x: torch.Tensor, pitch: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        phi = self.phi(self.trunk(x))
        p = self.embed_pitch(pitch_index(pitch, self.cfg.min_pitch, self.cfg.num_pitches))
        return self.psi(phi).squeeze(1) + (phi * p).sum(1) + (phi * self.project_h(normalize_h(h))).sum(1)
