"""Feature extractor f: log-mel -> pitch-invariant timbre feature h (GANStrument; brief, "Networks")."""
from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .layers import ConvTrunk, normalize_h


class GradientReversal(torch.autograd.Function):
    """Identity forward; multiplies the gradient by -scale backward (Ganin & Lempitsky, 2015)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.scale * grad, None


class FeatureExtractor(nn.Module):
    """f(x) = h, trained as an instrument-identity classifier with a gradient-reversed pitch adversary.

    forward(x): x (B, 1, n_mels, frames) -> h (B, h_dim), of norm sqrt(h_dim) (``normalize_h``): with h
    bounded, f cannot defeat the reversed pitch gradient by growing h, only by removing pitch from it.
    classify(x, reversal): -> (h, instrument logits (B, num_instruments), pitch logits (B, num_pitches));
    the pitch head sees h through gradient reversal so that training it removes pitch from h.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.trunk = ConvTrunk(cfg.feat_channels)
        self.to_h = nn.Linear(ConvTrunk.out_features(cfg.feat_channels), cfg.h_dim)
        self.instrument_head = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(cfg.h_dim, cfg.num_instruments))
        self.pitch_head = nn.Sequential(nn.Linear(cfg.h_dim, 256), nn.LeakyReLU(0.2), nn.Linear(256, cfg.num_pitches))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return normalize_h(self.to_h(self.trunk(x)))

    def classify(self, x: torch.Tensor, reversal: float = 1.0):
        h = self(x)
        return h, self.instrument_head(h), self.pitch_head(GradientReversal.apply(h, reversal))
