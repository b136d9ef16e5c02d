"""Hypernetwork H(h, h_t) -> per-layer weight offsets Delta_l (paper sec. 3.1-3.2; HyperStyle)."""
from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .layers import normalize_h


class RefinementHead(nn.Module):
    """code (B, hidden) -> Delta (B, C_out, C_in) = A @ B / rank, A (B, C_out, r), B (B, r, C_in).

    Only A's projection starts at zero: Delta starts at 0 and both factors still get gradients.
    """

    def __init__(self, hidden: int, c_out: int, c_in: int, rank: int):
        super().__init__()
        self.c_out, self.c_in, self.rank = c_out, c_in, rank
        self.to_a = nn.Linear(hidden, c_out * rank)
        self.to_b = nn.Linear(hidden, rank * c_in)
        nn.init.zeros_(self.to_a.weight)
        nn.init.zeros_(self.to_a.bias)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        a = self.to_a(code).view(-1, self.c_out, self.rank)
        b = self.to_b(code).view(-1, self.rank, self.c_in)
        return a @ b / self.rank


class HyperNetwork(nn.Module):
    """H(h, h_t): a two-layer MLP on [h, h_t] -> a ``hidden``-d code, then refinement heads.

    Layers of the same (C_out, C_in) share one head (HyperStyle's shared refinement blocks); a learned
    per-layer embedding added to the code tells them apart.

    forward(h, h_t): h, h_t (B, h_dim) (each normalized, ``normalize_h``) -> list of Delta_l (B, C_out, C_in),
    one per tuned layer.
    """

    def __init__(self, cfg: ModelConfig, layer_shapes: list[tuple[int, int]]):
        super().__init__()
        self.layer_shapes = [tuple(s) for s in layer_shapes]
        self.mlp = nn.Sequential(nn.Linear(2 * cfg.h_dim, cfg.hyper_hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(cfg.hyper_hidden, cfg.hyper_hidden), nn.LeakyReLU(0.2))
        self.layer_embed = nn.Parameter(torch.zeros(len(layer_shapes), cfg.hyper_hidden))
        self.heads = nn.ModuleDict({f"{o}x{i}": RefinementHead(cfg.hyper_hidden, o, i, cfg.hyper_rank)
                                    for o, i in dict.fromkeys(self.layer_shapes)})

    def forward(self, h: torch.Tensor, h_t: torch.Tensor) -> list[torch.Tensor]:
        code = self.mlp(torch.cat([normalize_h(h), normalize_h(h_t)], dim=1))
        return [self.heads[f"{o}x{i}"](code + self.layer_embed[l]) for l, (o, i) in enumerate(self.layer_shapes)]


def refine(G: nn.Module, f: nn.Module, H: nn.Module, h: torch.Tensor, pitch: torch.Tensor, steps: int,
           target_h: torch.Tensor | None = None, detach_feedback: bool = True):
    """Iterative feedback refinement (paper sec. 3.2; HyperStyle).

    x_0 = G(h, 0, p); Delta_t = Delta_{t-1} + H(h_target, f(x_{t-1})); x_t = G(h, 0, p; theta * (1 + Delta_t)).

    Args:
        h: (B, h_dim) timbre feature fed to G. target_h: the feature H aims at (default ``h``;
            for interpolation both are h_mix). pitch: (B,) MIDI. steps: T >= 0.
    Returns:
        (xs, deltas): xs is [x_0, ..., x_T], each (B, 1, 128, 128); deltas the final list of Delta_l
        (None when T = 0).
    """
    target_h = h if target_h is None else target_h
    xs, deltas = [G(h, None, pitch)], None
    for _ in range(steps):
        x_prev = xs[-1].detach() if detach_feedback else xs[-1]
        step = H(target_h, f(x_prev))
        deltas = step if deltas is None else [d + s for d, s in zip(deltas, step)]
        xs.append(G(h, None, pitch, deltas))
    return xs, deltas
