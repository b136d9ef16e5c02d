"""GAN inversion by optimization: the codes, then G's tuned-layer offsets, fitted to one note."""
from __future__ import annotations

import pytest
import torch

from hyperlib.inversion import OptimizeConfig, optimize
from hyperlib.models import Generator


@pytest.fixture()
def setup(small_cfg):
    torch.manual_seed(0)
    G = Generator(small_cfg)
    with torch.no_grad():  # a note G can make, tilted in colour: the codes alone cannot reach it all
        x = G(torch.randn(1, small_cfg.h_dim), None, torch.tensor([60]))
        x = x + torch.linspace(-0.3, 0.3, x.shape[2])[None, None, :, None]
    return G, x, torch.tensor([60]), torch.randn(1, small_cfg.h_dim)


def test_each_phase_lowers_the_distance_and_leaves_G_alone(setup):
    G, x, p, h0 = setup
    before = {k: v.clone() for k, v in G.state_dict().items()}
    flags = [q.requires_grad for q in G.parameters()]
    calls = []
    inv = optimize(G, x, p, h0, OptimizeConfig(code_steps=30, weight_steps=30), lambda s, n: calls.append((s, n)))
    assert len(inv.losses) == 60 and calls[-1] == (60, 60) and calls[0] == (1, 60)
    start = (G(h0, None, p) - x).abs().mean().item()
    assert inv.losses[29] < 0.95 * start  # the codes alone move towards the note
    assert inv.losses[-1] < 0.8 * inv.losses[29]  # the offsets go much further
    with torch.no_grad():
        fitted = (G(inv.h, inv.z, p, inv.deltas) - x).abs().mean().item()
    assert fitted == pytest.approx(min(inv.losses), rel=0.2)
    assert [tuple(d.shape) for d in inv.deltas] == [(1, o, i) for o, i in G.tuned_shapes]
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    assert [q.requires_grad for q in G.parameters()] == flags
    assert not inv.h.requires_grad and all(not d.requires_grad for d in inv.deltas)


def test_codes_only_and_bad_input(setup):
    G, x, p, h0 = setup
    inv = optimize(G, x, p, h0, OptimizeConfig(code_steps=5, weight_steps=0))
    assert inv.deltas is None and len(inv.losses) == 5
    with pytest.raises(ValueError, match="at least one step"):
        OptimizeConfig(code_steps=0, weight_steps=0)
    with pytest.raises(ValueError, match="one note"):
        optimize(G, x.repeat(2, 1, 1, 1), p, h0)
