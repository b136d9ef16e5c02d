"""Exponential moving average of a network's weights: StyleGAN2's G_ema (Karras et al. 2020, sec. B)."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """A frozen copy of ``module`` that trails its weights: theta_ema <- beta theta_ema + (1 - beta) theta.

    beta = 0.5 ** (batch_size / half_life) per step, so the average forgets half of what it held every
    ``half_life`` samples; during the first samples of a run the half-life ramps up as
    ``min(half_life, rampup * samples_seen)`` (StyleGAN2's ``ema_kimg`` and ``ema_rampup``). Buffers are copied.

    Args:
        module: the network being trained; ``self.module`` starts as a copy of it (eval mode, no gradients).
        half_life: samples (StyleGAN2: 10,000). rampup: fraction of the samples seen (None: no ramp-up).
    Raises:
        ValueError: a half-life that is not positive.
    """

    def __init__(self, module: nn.Module, half_life: float, rampup: float | None = 0.05):
        if half_life <= 0:
            raise ValueError(f"EMA half-life must be a positive number of samples, got {half_life}.")
        self.module = copy.deepcopy(module).eval().requires_grad_(False)
        self.half_life, self.rampup = half_life, rampup

    def beta(self, samples_seen: int, batch_size: int) -> float:
        """The decay of one step of ``batch_size`` samples after ``samples_seen`` samples of this run."""
        half = self.half_life if self.rampup is None else min(self.half_life, self.rampup * max(samples_seen, 1))
        return 0.5 ** (batch_size / half)

    @torch.no_grad()
    def update(self, module: nn.Module, samples_seen: int, batch_size: int) -> None:
        """Move the average towards ``module``'s current weights by one step."""
        beta = self.beta(samples_seen, batch_size)
        for p_ema, p in zip(self.module.parameters(), module.parameters()):
            p_ema.lerp_(p.detach(), 1 - beta)
        for b_ema, b in zip(self.module.buffers(), module.buffers()):
            b_ema.copy_(b)
