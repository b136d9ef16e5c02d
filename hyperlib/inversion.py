"""GAN inversion by optimization: the slow, closest fit of G to one note.

Two phases, as in latent-optimization inversion of style-based generators (Drysdale et al., "Style-based
drum synthesis with GAN inversion", 2021) followed by pivotal tuning (Roich et al., "Pivotal Tuning for
Latent-based Editing of Real Images", 2022):

1. the codes: (h, z) are optimized so that G(h, z, p) matches the note x at its own pitch p, starting from
   h = f(x), z = 0;
2. the weights: with (h, z) fixed, per-note offsets Delta_l of G's tuned layers are optimized in the
   hypernetwork's own parametrization, theta_hat = theta * (1 + Delta) (paper eq. 2), full rank.

Phase 2 is what H predicts in one pass; the optimized offsets are the per-note ceiling H can approach.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn


@dataclass(frozen=True)
class OptimizeConfig:
    """Step budget of ``optimize``. code_steps / weight_steps: Adam steps of phase 1 (h, z) and phase 2 (Delta).
    code_lr / weight_lr: their learning rates. z_weight: lambda of lambda ||z||^2, which keeps z near G's prior."""

    code_steps: int = 50
    weight_steps: int = 50
    code_lr: float = 0.03
    weight_lr: float = 0.01
    z_weight: float = 0.01

    def __post_init__(self):
        if self.code_steps < 0 or self.weight_steps < 0 or self.code_steps + self.weight_steps == 0:
            raise ValueError(f"Optimization steps must be >= 0 with at least one step in all, got "
                             f"{self.code_steps} code steps and {self.weight_steps} weight steps.")


@dataclass
class Inversion:
    """The result of ``optimize``: h (1, h_dim), z (1, z_dim), deltas (one (1, C_out, C_in) per tuned layer of G,
    or None without weight steps) and the log-mel L1 to the note after every step."""

    h: torch.Tensor
    z: torch.Tensor
    deltas: list[torch.Tensor] | None
    losses: list[float] = field(default_factory=list)


def optimize(G: nn.Module, x: torch.Tensor, pitch: torch.Tensor, h_init: torch.Tensor,
             cfg: OptimizeConfig = OptimizeConfig(), progress: Callable[[int, int], None] | None = None) -> Inversion:
    """Fit (h, z), then G's tuned-layer offsets, to one note by gradient descent on the log-mel L1.

    Args:
        G: the generator (its own weights are not changed). x: (1, 1, n_mels, frames) normalized log-mel
            of the note. pitch: (1,) its MIDI pitch. h_init: (1, h_dim) the starting timbre code, f(x).
        cfg: step budget and learning rates. progress: called as progress(step, total) after every step.
    Returns:
        ``Inversion`` with the optimized codes and offsets (detached).
    Raises:
        ValueError: x is not a single note (1, 1, F, T).
    """
    if x.dim() != 4 or x.shape[:2] != (1, 1):
        raise ValueError(f"optimize inverts one note: x must have shape (1, 1, n_mels, frames), got {tuple(x.shape)}.")
    needs_grad = [p.requires_grad for p in G.parameters()]
    G.requires_grad_(False)
    total, losses = cfg.code_steps + cfg.weight_steps, []
    h = h_init.detach().clone().requires_grad_(True)
    z = torch.zeros(1, G.cfg.z_dim, device=x.device, requires_grad=True)

    def fit(params: list[torch.Tensor], lr: float, steps: int, deltas=None) -> None:
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(steps):
            with torch.enable_grad():
                l1 = (G(h, z, pitch, deltas) - x).abs().mean()
                loss = l1 + cfg.z_weight * z.square().mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
            opt.step()
            losses.append(l1.item())
            if progress is not None:
                progress(len(losses), total)

    try:
        fit([h, z], cfg.code_lr, cfg.code_steps)
        h.requires_grad_(False)
        z.requires_grad_(False)
        deltas = None
        if cfg.weight_steps:
            deltas = [torch.zeros(1, o, i, device=x.device, requires_grad=True) for o, i in G.tuned_shapes]
            fit(deltas, cfg.weight_lr, cfg.weight_steps, deltas)
            deltas = [d.detach() for d in deltas]
    finally:
        for p, flag in zip(G.parameters(), needs_grad):
            p.requires_grad_(flag)
    return Inversion(h.detach(), z.detach(), deltas, losses)
