"""GAN inversion by optimization as a method, ``method="optimize"``: every task through the pipeline on the shipped
checkpoint (conftest's ``model``), with a tiny step budget so that each fit takes well under a second."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import HANDSAW, PIANO
from hyperlib.cli import optimize_progress
from hyperlib.inversion import OptimizeConfig
from hyperlib.models import refine
from hyperlib.render import invert, mix

BUDGET = OptimizeConfig(code_steps=3, weight_steps=5)


@pytest.fixture()
def fast(model, monkeypatch):
    """The model with a tiny ``optimize_budget`` for this test."""
    monkeypatch.setattr(model, "optimize_budget", BUDGET)
    return model


def l1_to_input(model, mel: np.ndarray, sound) -> float:
    """Log-mel L1 of a rendered note to the input note's own log-mel."""
    return float(np.abs(mel - model.mel(model.prepare(sound))[0, 0].cpu().numpy()).mean())


def test_reconstruction_fits_closer_than_gan(fast):
    calls = []
    r = fast.reconstruct(PIANO, "optimize", pitch=60, progress=lambda step, total: calls.append((step, total)))
    assert r.method == "optimize" and r.pitch == 60 and r.mel_init is None and r.audio.shape == (16384,)
    assert calls == [(k, 8) for k in range(1, 9)]
    assert r.timings_ms["optimize"] > 0 and "pitch_estimate" not in r.timings_ms  # the given pitch is used
    gan = fast.reconstruct(PIANO, "gan", pitch=60)
    assert l1_to_input(fast, r.mel, PIANO) < 0.9 * l1_to_input(fast, gan.mel, PIANO)


def test_synthesis_fits_at_the_estimated_pitch(fast):
    calls = []
    r = fast.synthesize(HANDSAW, 67, "optimize", progress=lambda step, total: calls.append((step, total)))
    assert r.pitch == 67 and calls[-1] == (8, 8) and {"pitch_estimate", "f", "optimize", "G"} <= set(r.timings_ms)
    own = fast.estimate_pitch(fast.prepare(HANDSAW))
    code = fast.encode(HANDSAW, "optimize", pitch=own)
    assert [tuple(d.shape) for d in code.deltas] == [(1, o, i) for o, i in fast.nets["G"].tuned_shapes]
    again = fast.render_code("optimize", code.h, code.z, 67, 0, deltas=code.deltas)
    np.testing.assert_allclose(r.mel, again.mel, atol=1e-5)
    results = fast.synthesize_methods(HANDSAW, 67, ["gan", "optimize"])
    np.testing.assert_allclose(results[1].mel, r.mel, atol=1e-5)


def test_invert_needs_the_notes_pitch(model):
    x = model.mel(model.prepare(PIANO))
    with pytest.raises(ValueError, match="pitch"):
        invert(model.nets, "optimize", x)
    with pytest.raises(ValueError, match="MIDI pitch"):
        model.encode(PIANO, "optimize", pitch=200)


def test_interpolation_mixes_the_offsets(fast):
    a, b = fast.encode(PIANO, "optimize"), fast.encode(HANDSAW, "optimize")
    mixed = mix([a.code, b.code], [0.25, 0.75])
    for da, db, dm in zip(a.deltas, b.deltas, mixed.deltas):
        torch.testing.assert_close(dm, 0.25 * da + 0.75 * db)
    r = fast.interpolate([PIANO, HANDSAW], [1, 3], 64, "optimize")
    expected = fast.render_code("optimize", mixed.h, mixed.z, 64, 0, deltas=mixed.deltas)
    np.testing.assert_allclose(r.mel, expected.mel, atol=1e-5)
    without = fast.render_code("optimize", mixed.h, mixed.z, 64, 0)
    assert np.abs(without.mel - r.mel).max() > 1e-3  # the offsets are rendered


def test_the_other_methods_are_their_networks(model, monkeypatch):
    """Each existing method's output is its networks' output, computed here directly (no offsets reach them; every
    refinement step taken)."""
    monkeypatch.setattr(model, "check_refinement", False)
    x, p, nets = model.mel(model.prepare(PIANO)), torch.tensor([64]), model.nets
    with torch.no_grad():
        h = nets["f"](x)
        expected = {"gan": nets["G"](h, None, p), "encoder": nets["G"](*nets["E"](x), p),
                    "hyper": refine(nets["G"], nets["f"], nets["H"], h, p, 2)[0][-1],
                    "hyper-pre": refine(nets["G"], nets["f"], nets["H_pre"], h, p, 2)[0][-1]}
    results = model.synthesize_methods(model.prepare(PIANO), 64, list(expected), 2)
    for r in results:
        assert np.array_equal(r.mel, expected[r.method][0, 0].numpy()), r.method
    assert all(invert(nets, m, x).deltas is None for m in expected)


def test_the_command_line_shows_the_steps(capsys):
    with optimize_progress("hyper") as none:
        assert none is None
    with optimize_progress("optimize") as progress:
        for step in range(1, 5):
            progress(step, 4)
    err = capsys.readouterr().err
    assert "GAN inversion by optimization" in err and "4/4" in err
