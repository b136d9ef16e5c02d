"""The pitch adversary of the feature stage: a linear pitch read-out of h, refitted in closed form every step.

GANStrument makes h = f(x) pitch-invariant with a pitch classifier trained through gradient reversal.
Here the adversary is the least-squares linear read-out of the one-hot pitch from h over a queue of
recent features, refitted from scratch at every step, so it never lags behind f; f is trained to make
that read-out explain nothing on its batch. This is what the disentanglement probe (a linear classifier
fitted afresh to h) measures, and it cannot be fooled by a head that is merely confidently wrong.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


class LinearPitchAdversary:
    """Closed-form ridge regression from h to one-hot pitch over the last ``queue_size`` features.

    Args:
        num_pitches: classes (MIDI min_pitch..min_pitch + num_pitches - 1, as indices 0..num_pitches-1).
        queue_size: how many recent (detached) h the read-out is fitted on.
        ridge: ridge strength, relative to the mean feature variance. h's variance is concentrated in a
            few directions; directions whose variance falls below ``ridge`` times the mean are all but
            invisible to the read-out, although a probe fitted afresh may still decode pitch from them.
            The fit is solved in float64 so that ridges down to about 1e-8 stay well conditioned.
        gather: maps a process's shard of a batch to the global batch (``Processes.gather``), so that under
            several processes every one queues the same features and fits the same read-out; None: one process.
    """

    def __init__(self, num_pitches: int, queue_size: int = 2048, ridge: float = 1e-3,
                 gather: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.num_pitches, self.queue_size, self.ridge = num_pitches, queue_size, ridge
        self.gather = gather or (lambda batch: batch)
        self.h: torch.Tensor | None = None
        self.y: torch.Tensor | None = None

    def push(self, h: torch.Tensor, pitch_index: torch.Tensor) -> None:
        """Add (B, h_dim) features (detached) and their (B,) pitch indices to the queue."""
        y = F.one_hot(pitch_index, self.num_pitches).float()
        self.h = h.detach() if self.h is None else torch.cat([self.h, h.detach()])[-self.queue_size:]
        self.y = y if self.y is None else torch.cat([self.y, y])[-self.queue_size:]

    def __call__(self, h: torch.Tensor, pitch_index: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Push the batch into the queue, refit the read-out W, return how much of pitch it explains.

        h: (B, h_dim) features with gradient; pitch_index: (B,) long in [0, num_pitches) (this process's shard;
        the queue takes the global batch).
        Returns (loss, r2): loss = ||(h - mean) W||^2 / ||Y - mean_Y||^2 on the batch (W and the means
        held fixed, so only h gets a gradient): the fraction of the one-hot pitch's variance that the
        read-out predicts, near 0 when h carries no linear pitch information; r2: the same fraction on
        the whole queue (a float, for the log).
        """
        self.push(self.gather(h.detach()), self.gather(pitch_index))
        hq, yq = self.h.double(), self.y.double()
        mu_h, mu_y = hq.mean(0), yq.mean(0)
        hq, yq = hq - mu_h, yq - mu_y
        gram = hq.T @ hq
        reg = self.ridge * gram.diagonal().mean() * torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
        W = torch.linalg.solve(gram + reg, hq.T @ yq)  # (h_dim, num_pitches)
        y_var = yq.square().sum(1).mean()
        r2 = ((hq @ W).square().sum(1).mean() / y_var).item()
        loss = ((h.double() - mu_h) @ W).square().sum(1).mean() / y_var
        return loss.to(h.dtype), r2
