"""Encoder E(x) -> (h, z): the GANStrument Enc. inversion baseline (paper sec. 4.2)."""
from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .layers import ConvTrunk


class Encoder(nn.Module):
    """forward(x): x (B, 1, 128, 128) -> (h (B, h_dim), z (B, z_dim)), trained through frozen G."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.trunk = ConvTrunk(cfg.enc_channels)
        self.head = nn.Linear(ConvTrunk.out_features(cfg.enc_channels), cfg.h_dim + cfg.z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.head(self.trunk(x))
        return out[:, : self.cfg.h_dim], out[:, self.cfg.h_dim :]
