"""Hypernetwork H(h, h_t) -> per-layer weight offsets Delta_l (paper sec. 3.1-3.2; HyperStyle), the feedback
refinement that applies them (``refine``) and the same refinement with each step checked against the input
(``checked_refine``)."""
from __future__ import annotations

from typing import NamedTuple

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


def input_distance(xs: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Log-mel L1 of each step's render to the input: xs [x_0, ..., x_T], each (B, 1, n_mels, frames), and the
    input's normalized log-mel x (B, 1, n_mels, frames) -> (T + 1, B), the mean absolute difference per note (the
    evaluation's reconstruction L1)."""
    return torch.stack([(x_t - x).abs().mean(dim=(1, 2, 3)) for x_t in xs])


class Checked(NamedTuple):
    """``checked_refine``'s result. x: (B, 1, n_mels, frames) each note at the asked pitch after its kept step.
    x_init: (B, 1, n_mels, frames) G(h, 0, p) before refinement. best: (B,) the kept step t* (0: G alone).
    distances: (T + 1, B) the log-mel L1 of x_0, ..., x_T to the input at its own pitch."""

    x: torch.Tensor
    x_init: torch.Tensor
    best: torch.Tensor
    distances: torch.Tensor


@torch.no_grad()
def checked_refine(G: nn.Module, f: nn.Module, H: nn.Module, h: torch.Tensor, pitch: torch.Tensor, steps: int,
                   x: torch.Tensor, x_pitch: torch.Tensor) -> Checked:
    """Feedback refinement that keeps, for each note, only the steps that bring G closer to the input.

    The refinement is HyperGANStrument's (Zhang & Akama 2024, sec. 3.2, eq. 2: x_fine = G(h, z, p; theta_hat)),
    HyperStyle's iterative one (``refine``). H is trained to lower the reconstruction error of eq. 3 on the training
    instruments; on a sound unlike them its step can move G's note away from the input. The input itself tells: at
    its own pitch, the render of every step, x_t = G(h, 0, p_in; theta * (1 + Delta_t)) for t = 0..T (t = 0: G
    alone, no offsets), is compared with the input's log-mel (``input_distance``), and the refinement keeps the
    offsets of the closest step t* (the earliest on a tie, so a step is taken only where it fits the input strictly
    better than the steps before it; ``kept_steps``). At the asked pitch p the note is that step's render,
    G(h, 0, p; theta * (1 + Delta_t*)), refined at p as ``refine`` does (``take_steps``). Where p is the input's
    pitch (reconstruction) the check reuses the renders the refinement makes anyway; elsewhere it refines once more
    at the input's pitch. The check minimizes the distance to the input at its own pitch: the reconstruction L1
    is what it optimizes, not evidence that it helps at other pitches.

    Args:
        h: (B, h_dim) f(x) of the inputs (G's input and H's target). pitch: (B,) MIDI to render. steps: T >= 0.
        x: (B, 1, n_mels, frames) the inputs' normalized log-mels. x_pitch: (B,) their own MIDI pitches.
    Returns:
        ``Checked``: the notes at ``pitch``, G's notes before any offset, the kept steps t* and every step's
        distance at the input's pitch.
    """
    xs, _ = refine(G, f, H, h, pitch, steps)
    best, distances = kept_steps(G, f, H, h, steps, x, x_pitch, xs if torch.equal(pitch, x_pitch) else None)
    return Checked(take_steps(xs, best), xs[0], best, distances)


@torch.no_grad()
def kept_steps(G: nn.Module, f: nn.Module, H: nn.Module, h: torch.Tensor, steps: int, x: torch.Tensor,
               x_pitch: torch.Tensor, own: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``checked_refine``'s choice alone: (best (B,), the kept step t* of each input, the first of the closest;
    distances (T + 1, B), each step's log-mel L1 to the input at its own pitch). It depends on the input only, so
    an input rendered at many pitches is checked once (``take_steps`` then picks from each pitch's refinement).

    h, steps, x, x_pitch: as ``checked_refine``. own: ``refine``'s [x_0, ..., x_T] at ``x_pitch`` where already
    made (None: refined here).
    """
    own = refine(G, f, H, h, x_pitch, steps)[0] if own is None else own
    distances = input_distance(own, x)
    return distances.argmin(dim=0), distances  # argmin: the first minimum, so ties keep the earlier step


def take_steps(xs: list[torch.Tensor], best: torch.Tensor) -> torch.Tensor:
    """Each note's render after its kept step: xs [x_0, ..., x_T] (``refine``), each (B, 1, n_mels, frames), and
    best (B,) steps in 0..T -> (B, 1, n_mels, frames), xs[best[b]][b] for every note b."""
    return torch.stack(xs)[best, torch.arange(best.shape[0], device=best.device)]
