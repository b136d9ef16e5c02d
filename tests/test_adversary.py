"""The feature stage's closed-form linear pitch adversary (hyperlib.training.adversary)."""
from __future__ import annotations

import torch

from hyperlib.training.adversary import LinearPitchAdversary


def _features(pitch: torch.Tensor, pitch_signal: float, dim: int = 16) -> torch.Tensor:
    """Random features with ``pitch_signal`` times a pitch code in their first 4 dimensions."""
    code = torch.stack([torch.sin(pitch / 7.0), torch.cos(pitch / 7.0), pitch / 44.0 - 1, (pitch % 12) / 6.0 - 1], 1)
    h = torch.randn(len(pitch), dim)
    h[:, :4] += pitch_signal * code
    return h


def test_explained_variance_reads_pitch_only_where_h_carries_it():
    torch.manual_seed(0)
    pitch = torch.randint(0, 88, (2048,))
    r2 = {}
    for signal in (0.0, 5.0):
        adversary = LinearPitchAdversary(88, queue_size=2048)
        _, r2[signal] = adversary(_features(pitch, signal), pitch)
    assert r2[0.0] < 0.02  # 16 random dimensions explain almost none of an 88-way one-hot
    assert r2[5.0] > 5 * r2[0.0]


def test_small_ridge_sees_pitch_in_a_low_variance_direction():
    """Pitch carried by a direction with 1e-8 of the others' variance: hidden at ridge 1e-3, read at 1e-7."""
    torch.manual_seed(0)
    pitch = torch.randint(0, 88, (4096,))
    h = _features(pitch, 5.0)
    h[:, :4] *= 1e-4  # the pitch code now lives where h hardly varies
    r2 = {ridge: LinearPitchAdversary(88, queue_size=4096, ridge=ridge)(h, pitch)[1] for ridge in (1e-3, 1e-7)}
    assert r2[1e-3] < 0.02
    assert r2[1e-7] > 5 * r2[1e-3]


def test_queue_keeps_the_latest_features():
    adversary = LinearPitchAdversary(88, queue_size=100)
    for _ in range(3):
        adversary.push(torch.randn(64, 8), torch.randint(0, 88, (64,)))
    assert adversary.h.shape == (100, 8) and adversary.y.shape == (100, 88)


def test_gradient_removes_pitch_from_h():
    """The loss reaches h only (the read-out is held fixed) and descending it lowers the read-out's fit."""
    torch.manual_seed(0)
    pitch = torch.randint(0, 88, (512,))
    adversary = LinearPitchAdversary(88, queue_size=512)
    h = _features(pitch, 5.0).requires_grad_(True)
    loss, _ = adversary(h, pitch)
    loss.backward()
    assert h.grad.abs().sum() > 0
    moved = (h - 20.0 * h.grad).detach()
    fresh = LinearPitchAdversary(88, queue_size=512)
    after, _ = fresh(moved, pitch)
    assert after.item() < loss.item()
