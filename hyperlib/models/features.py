"""Feature extractor f: log-mel -> pitch-invariant timbre feature h (GANStrument)."""
from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .layers import ConvTrunk, normalize_h


class FeatureExtractor(nn.Module):
    """f(x) = h, trained as an instrument-identity classifier against a pitch adversary (GANStrument).

    forward(x): x (B, 1, n_mels, frames) -> h (B, h_dim), of norm sqrt(h_dim) (``normalize_h``): with h
    bounded, f cannot defeat the adversary by scaling h, only by removing pitch from it.
    instrument_head(h) -> (B, num_instruments) logits. The pitch adversary is not a module of f: it is
    refitted in closed form at every training step (``hyperlib.training.adversary``).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.trunk = ConvTrunk(cfg.feat_channels)
        self.to_h = nn.Linear(ConvTrunk.out_features(cfg.feat_channels), cfg.h_dim)
        self.instrument_head = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(cfg.h_dim, cfg.num_instruments))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return normalize_h(self.to_h(self.trunk(x)))
