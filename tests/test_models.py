"""The five networks f, G, D, E, H, the refinement loop and checkpoint files, on a small configuration."""
from __future__ import annotations

import copy
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch

from hyperlib import checkpoint as ckpt
from hyperlib.models import (Discriminator, Encoder, FeatureExtractor, Generator, HyperNetwork, checked_refine, refine,
                             tuned_layer_shapes)
from hyperlib.render import Reference, generate, with_kept_steps
from hyperlib.models.generator import ModulatedConv2d
from hyperlib.models.layers import pitch_index

B = 3


@pytest.fixture(scope="module")
def nets(small_cfg):
    torch.manual_seed(0)
    G = Generator(small_cfg).eval()
    return {"f": FeatureExtractor(small_cfg).eval(), "G": G, "D": Discriminator(small_cfg).eval(),
            "E": Encoder(small_cfg).eval(), "H": HyperNetwork(small_cfg, G.tuned_shapes).eval()}


@pytest.fixture()
def batch(small_cfg):
    g = torch.Generator().manual_seed(1)
    return {"x": torch.rand(B, 1, 128, 128, generator=g) * 2 - 1, "h": torch.randn(B, small_cfg.h_dim, generator=g),
            "z": torch.randn(B, small_cfg.z_dim, generator=g), "p": torch.tensor([21, 60, 108])}


def random_deltas(G, scale=0.1, batch_size=B, seed=2):
    g = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(batch_size, o, i, generator=g) for o, i in G.tuned_shapes]


# -- shapes --------------------------------------------------------------------------------------------------------
def test_feature_extractor_shapes(nets, batch, small_cfg):
    h = nets["f"](batch["x"])
    assert h.shape == (B, small_cfg.h_dim)
    assert nets["f"].instrument_head(h).shape == (B, small_cfg.num_instruments)


def test_generator_shapes(nets, batch, small_cfg):
    G = nets["G"]
    assert G(batch["h"], batch["z"], batch["p"]).shape == (B, 1, 128, 128)
    assert G(batch["h"], None, batch["p"]).shape == (B, 1, 128, 128)
    assert len(G.tuned_shapes) == small_cfg.hyper_layers
    # the tuned layers are G's last modulated 3x3 convolutions
    assert G.tuned_shapes == [tuple(c.weight.shape[:2]) for c in G.convs[-small_cfg.hyper_layers:]]
    assert G.tuned_shapes[-1] == (small_cfg.gen_channels[-1], small_cfg.gen_channels[-1])
    assert tuned_layer_shapes(small_cfg) == G.tuned_shapes  # H's shapes without building a generator


def test_generator_is_mapping_then_synthesis(nets, batch):
    """G(h, z, p; deltas) = synthesis(mapping(h, z, p), p, deltas): an edited w renders through synthesis alone."""
    G, deltas = nets["G"], random_deltas(nets["G"])
    with torch.no_grad():
        w = G.mapping(batch["h"], batch["z"], batch["p"])
        assert torch.equal(G.synthesis(w, batch["p"], deltas), G(batch["h"], batch["z"], batch["p"], deltas))
        assert not torch.equal(G.synthesis(w + 1, batch["p"]), G(batch["h"], batch["z"], batch["p"]))


def test_feature_norm_is_fixed(nets, batch, small_cfg):
    h = nets["f"](batch["x"] * 50)
    torch.testing.assert_close(h.norm(dim=1), torch.full((B,), small_cfg.h_dim ** 0.5))


def test_harmonic_template_peaks_at_the_harmonics():
    from hyperlib.config import AudioConfig
    from hyperlib.models.harmonics import harmonic_template

    audio = AudioConfig()
    t = harmonic_template(audio, 21, 88)
    assert t.shape == (88, audio.n_mels) and float(t.min()) >= 0 and torch.allclose(t.max(dim=1).values, torch.ones(88))
    centres = librosa.mel_frequencies(audio.n_mels + 2, fmin=audio.f_min, fmax=audio.f_max)[1:-1]
    for midi in (48, 60, 69, 84):
        f0 = 440 * 2 ** ((midi - 69) / 12)
        row = t[midi - 21]
        fundamental, below = int(np.abs(centres - f0).argmin()), int(np.abs(centres - f0 / 1.41).argmin())
        assert row[fundamental] > 0.5 and row[below] < 0.1  # energy at f0, none half an octave below it
    assert not torch.allclose(t[60 - 21], t[61 - 21])  # a semitone moves the comb


def test_generator_uses_the_pitch_template(small_cfg, batch):
    torch.manual_seed(0)
    G = Generator(small_cfg).eval()
    before = G(batch["h"], None, batch["p"])
    for conv in G.harmonic_in:  # zero-initialized: a new G ignores the template until trained
        torch.nn.init.normal_(conv.weight)
    assert not torch.allclose(before, G(batch["h"], None, batch["p"]))


def test_generator_noise_inputs_start_silent_and_are_fixed_in_eval(small_cfg, batch):
    """StyleGAN2's noise inputs: zero strengths render as G without them, from the same weights; with a strength,
    training mode draws fresh noise and eval mode the fixed draw kept in the weights."""
    from dataclasses import replace

    from hyperlib.training.stage import load_matching

    torch.manual_seed(0)
    G = Generator(small_cfg).eval()
    G_noise = Generator(replace(small_cfg, noise_inputs=True)).eval()
    new = load_matching(G_noise, G.state_dict())
    assert sorted(new) == sorted([f"convs.{i}.noise_strength" for i in range(len(G.convs))]
                                 + [f"noise_const{i}" for i in range(len(G.convs))])
    plain = G(batch["h"], None, batch["p"])
    assert torch.equal(plain, G_noise(batch["h"], None, batch["p"]))
    for conv in G_noise.convs:
        conv.noise_strength.data.fill_(0.3)
    fixed = G_noise(batch["h"], None, batch["p"])
    assert not torch.allclose(fixed, plain)
    assert torch.equal(fixed, G_noise(batch["h"], None, batch["p"]))  # eval: the same draw every call
    G_noise.train()
    assert not torch.allclose(G_noise(batch["h"], None, batch["p"]), G_noise(batch["h"], None, batch["p"]))
    assert torch.equal(G_noise(batch["h"], None, batch["p"], noise_mode="const"), fixed)
    G_noise.eval()
    assert torch.equal(G_noise(batch["h"], None, batch["p"], noise_mode="none"), plain)  # the L1's render in training
    with pytest.raises(ValueError, match="random, const, none"):
        G_noise(batch["h"], None, batch["p"], noise_mode="off")
    reloaded = Generator(replace(small_cfg, noise_inputs=True)).eval()
    reloaded.load_state_dict(G_noise.state_dict())  # the strengths and the fixed draw travel with the weights
    assert torch.equal(reloaded(batch["h"], None, batch["p"]), fixed)


def test_generator_z_none_is_z_zero(nets, batch):
    G = nets["G"]
    assert torch.equal(G(batch["h"], None, batch["p"]), G(batch["h"], torch.zeros_like(batch["z"]), batch["p"]))
    assert not torch.allclose(G(batch["h"], None, batch["p"]), G(batch["h"], batch["z"], batch["p"]))


def test_generator_depends_on_h_and_pitch(nets, batch):
    G = nets["G"]
    out = G(batch["h"], None, batch["p"])
    assert not torch.allclose(out, G(batch["h"].flip(0), None, batch["p"]))
    assert not torch.allclose(out, G(batch["h"], None, torch.tensor([22, 61, 107])))


def test_discriminator_and_encoder_shapes(nets, batch, small_cfg):
    assert nets["D"](batch["x"], batch["p"], batch["h"]).shape == (B,)
    h, z = nets["E"](batch["x"])
    assert h.shape == (B, small_cfg.h_dim) and z.shape == (B, small_cfg.z_dim)


def test_hypernetwork_shapes(nets, batch):
    deltas = nets["H"](batch["h"], batch["h"].flip(0))
    assert [tuple(d.shape) for d in deltas] == [(B, o, i) for o, i in nets["G"].tuned_shapes]


def test_networks_are_batch_independent(nets, batch):
    """Each sample's output depends on that sample only (no batch statistics)."""
    G, D, f = nets["G"], nets["D"], nets["f"]
    full = G(batch["h"], None, batch["p"])
    one = G(batch["h"][1:2], None, batch["p"][1:2])
    torch.testing.assert_close(full[1:2], one, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(f(batch["x"])[1:2], f(batch["x"][1:2]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(D(batch["x"], batch["p"], batch["h"])[1:2],
                               D(batch["x"][1:2], batch["p"][1:2], batch["h"][1:2]), atol=1e-5, rtol=1e-5)


# -- pitch range ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [20, 109, 0, -5, 200])
def test_pitch_out_of_range_raises(nets, batch, bad):
    p = torch.tensor([60, bad, 60])
    with pytest.raises(ValueError, match="21-108"):
        nets["G"](batch["h"], None, p)
    with pytest.raises(ValueError):
        nets["D"](batch["x"], p, batch["h"])


def test_pitch_index_bounds():
    assert pitch_index(torch.tensor([21, 60, 108]), 21, 88).tolist() == [0, 39, 87]


# -- the hypernetwork's weight offsets -----------------------------------------------------------------------------
def test_zero_delta_reproduces_G(nets, batch):
    """Delta = 0 gives G's output to float rounding, for a batch and for one note."""
    G = nets["G"]
    zeros = [torch.zeros(B, o, i) for o, i in G.tuned_shapes]
    for z in (None, batch["z"]):
        torch.testing.assert_close(G(batch["h"], z, batch["p"], deltas=zeros), G(batch["h"], z, batch["p"]),
                                   atol=1e-5, rtol=0)
    one = [d[:1] for d in zeros]
    torch.testing.assert_close(G(batch["h"][:1], None, batch["p"][:1], deltas=one), G(batch["h"][:1], None, batch["p"][:1]),
                               atol=1e-5, rtol=0)


def test_nonzero_delta_changes_output(nets, batch):
    G = nets["G"]
    base = G(batch["h"], None, batch["p"])
    deltas = random_deltas(G)
    out = G(batch["h"], None, batch["p"], deltas=deltas)
    assert out.shape == base.shape and torch.all(torch.isfinite(out))
    assert (out - base).abs().mean() > 1e-3
    # a delta on one sample only changes that sample
    only_first = [torch.cat([d[:1], torch.zeros_like(d[1:])]) for d in deltas]
    out1 = G(batch["h"], None, batch["p"], deltas=only_first)
    assert not torch.allclose(out1[0], base[0])
    torch.testing.assert_close(out1[1:], base[1:], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("upsample,demodulate", [(False, True), (True, True), (False, False)])
def test_delta_means_theta_times_one_plus_delta(upsample, demodulate):
    """ModulatedConv2d with delta_b equals the same layer whose weight is theta * (1 + delta_b), per sample."""
    torch.manual_seed(3)
    layer = ModulatedConv2d(6, 5, 16, upsample=upsample, demodulate=demodulate)
    x, w = torch.randn(2, 6, 8, 8), torch.randn(2, 16)
    delta = 0.3 * torch.randn(2, 5, 6)
    out = layer(x, w, delta)
    for b in range(2):
        ref = copy.deepcopy(layer)
        with torch.no_grad():
            ref.weight.mul_(1 + delta[b][..., None, None])
        torch.testing.assert_close(out[b : b + 1], ref(x[b : b + 1], w[b : b + 1]), atol=1e-5, rtol=1e-4)


def test_fresh_hypernetwork_gives_zero_deltas_but_learns(small_cfg, batch):
    """A new H starts exactly at G (Delta = 0) and still receives gradients through refine()."""
    torch.manual_seed(0)
    G = Generator(small_cfg).requires_grad_(False)
    f = FeatureExtractor(small_cfg).requires_grad_(False)
    H = HyperNetwork(small_cfg, G.tuned_shapes)
    h, p = batch["h"], batch["p"]
    deltas = H(h, f(batch["x"]))
    assert all(torch.count_nonzero(d) == 0 for d in deltas)
    xs, _ = refine(G, f, H, h, p, steps=2)
    torch.testing.assert_close(xs[-1], G(h, None, p), atol=1e-5, rtol=0)  # zero deltas: G's output

    loss = (xs[-1] - batch["x"]).square().mean()
    loss.backward()
    grads = {n: p.grad for n, p in H.named_parameters()}
    assert any(g is not None and g.abs().max() > 0 for g in grads.values()), "no gradient reaches H"
    for name in H.heads:  # every head's zero-initialized factor gets a gradient
        g = grads[f"heads.{name}.to_a.weight"]
        assert g is not None and g.abs().max() > 0, name

    # after one optimizer step H's deltas are non-zero and every part of H gets gradients
    opt = torch.optim.SGD(H.parameters(), lr=0.1)
    opt.step()
    opt.zero_grad()
    assert any(torch.count_nonzero(d) > 0 for d in H(h, f(batch["x"])))
    xs, _ = refine(G, f, H, h, p, steps=2)
    assert not torch.equal(xs[-1], G(h, None, p))
    (xs[-1] - batch["x"]).square().mean().backward()
    for n, prm in H.named_parameters():
        assert prm.grad is not None and prm.grad.abs().max() > 0, n


@pytest.mark.parametrize("steps", [0, 1, 3])
def test_refine_returns_steps_plus_one_mels(nets, batch, steps):
    G, f = nets["G"], nets["f"]
    H = copy.deepcopy(nets["H"])
    with torch.no_grad():  # make H non-trivial so each step changes the output
        for prm in H.parameters():
            prm.add_(0.05 * torch.randn_like(prm))
    xs, deltas = refine(G, f, H, batch["h"], batch["p"], steps)
    assert len(xs) == steps + 1
    assert all(x.shape == (B, 1, 128, 128) for x in xs)
    assert torch.equal(xs[0], G(batch["h"], None, batch["p"]))  # x_0 = G(h, 0, p)
    if steps == 0:
        assert deltas is None
    else:
        assert [tuple(d.shape) for d in deltas] == [(B, o, i) for o, i in G.tuned_shapes]
        torch.testing.assert_close(xs[-1], G(batch["h"], None, batch["p"], deltas))
        for a, b in zip(xs, xs[1:]):
            assert not torch.allclose(a, b)


def test_refine_accumulates_deltas(nets, batch):
    """Delta_t = Delta_{t-1} + H(h_target, f(x_{t-1}))."""
    G, f = nets["G"], nets["f"]
    H = copy.deepcopy(nets["H"])
    with torch.no_grad():
        for prm in H.parameters():
            prm.add_(0.05 * torch.randn_like(prm))
    target = batch["h"].flip(0)
    xs, deltas = refine(G, f, H, batch["h"], batch["p"], 2, target_h=target)
    d1 = H(target, f(xs[0]))
    d2 = H(target, f(xs[1]))
    for d, a, b in zip(deltas, d1, d2):
        torch.testing.assert_close(d, a + b)


def perturbed_hypernetwork(nets, seed=3):
    """A copy of the fixture's H whose every step changes G's note (a fresh H predicts zero offsets)."""
    torch.manual_seed(seed)
    H = copy.deepcopy(nets["H"])
    with torch.no_grad():
        for prm in H.parameters():
            prm.add_(0.05 * torch.randn_like(prm))
    return H


def test_checked_refinement_keeps_the_step_closest_to_the_input(nets, batch):
    """At the input's own pitch no kept step is farther from the input than G alone, and the kept step is the
    closest: an input equal to G's own note keeps no step, one equal to the last step keeps all of them."""
    G, f, H, h, p = nets["G"], nets["f"], perturbed_hypernetwork(nets), batch["h"], batch["p"]
    steps = 2
    xs, _ = refine(G, f, H, h, p, steps)
    x = torch.stack([xs[0][0], xs[-1][1], batch["x"][2]])  # G alone, every step, a random log-mel
    out = checked_refine(G, f, H, h, p, steps, x, p)
    assert out.best.tolist()[:2] == [0, steps]
    assert torch.equal(out.x[0], xs[0][0]) and torch.equal(out.x[1], xs[-1][1])
    assert torch.equal(out.x_init, xs[0])
    own = (out.x - x).abs().mean(dim=(1, 2, 3))
    start = (xs[0] - x).abs().mean(dim=(1, 2, 3))
    assert torch.all(own <= start)
    torch.testing.assert_close(own, out.distances.min(dim=0).values)
    for t in range(steps + 1):  # every step's distance was seen
        torch.testing.assert_close(out.distances[t], (xs[t] - x).abs().mean(dim=(1, 2, 3)))
    assert out.distances[steps, 0] > 0  # the steps do move G's note: keeping none was a choice


def test_checked_refinement_at_another_pitch_renders_the_kept_step_there(nets, batch):
    """The step is chosen at the input's pitch and rendered at the asked one, refined there as ``refine`` does."""
    G, f, H, h = nets["G"], nets["f"], perturbed_hypernetwork(nets), batch["h"]
    own, asked = batch["p"], torch.tensor([33, 72, 90])
    at_own, _ = refine(G, f, H, h, own, 1)
    at_asked, _ = refine(G, f, H, h, asked, 1)
    x = torch.stack([at_own[0][0], at_own[1][1], at_own[0][2]])
    out = checked_refine(G, f, H, h, asked, 1, x, own)
    assert out.best.tolist() == [0, 1, 0]
    assert torch.equal(out.x[0], at_asked[0][0]) and torch.equal(out.x[1], at_asked[1][1])
    assert torch.equal(out.x[2], at_asked[0][2])


def test_generation_without_a_reference_is_the_plain_refinement(nets, batch):
    """Without an input to check against, ``generate`` is ``refine``'s last step, bit for bit; with one it is
    ``checked_refine``'s note; the methods that do not refine ignore it."""
    nets = {**nets, "H": perturbed_hypernetwork(nets)}
    h, p, x = batch["h"], batch["p"], batch["x"]
    with torch.no_grad():
        plain = refine(nets["G"], nets["f"], nets["H"], h, p, 2)[0]
        assert torch.equal(generate(nets, "hyper", h, None, p, 2)[0], plain[-1])
        checked = checked_refine(nets["G"], nets["f"], nets["H"], h, p, 2, x, p)
        assert torch.equal(generate(nets, "hyper", h, None, p, 2, reference=Reference(x, p))[0], checked.x)
        assert torch.equal(generate(nets, "gan", h, None, p, 2, reference=Reference(x, p))[0], nets["G"](h, None, p))


def test_steps_chosen_once_render_as_checked_at_every_pitch(nets, batch):
    """An input checked once (``with_kept_steps``) renders at any pitch as ``checked_refine`` does there."""
    nets = {**nets, "H": perturbed_hypernetwork(nets)}
    h, own = batch["h"], batch["p"]
    with torch.no_grad():
        at_own, _ = refine(nets["G"], nets["f"], nets["H"], h, own, 1)
        x = torch.stack([at_own[0][0], at_own[1][1], batch["x"][2]])
        chosen = with_kept_steps(nets, "hyper", h, 1, Reference(x, own))
        assert chosen.best[:2].tolist() == [0, 1]
        for asked in (own, torch.tensor([40, 50, 70])):
            checked = checked_refine(nets["G"], nets["f"], nets["H"], h, asked, 1, x, own)
            assert torch.equal(generate(nets, "hyper", h, None, asked, 1, reference=chosen)[0], checked.x)
        assert with_kept_steps(nets, "gan", h, 1, Reference(x, own)).best is None


# -- checkpoint files ----------------------------------------------------------------------------------------------
def test_save_and_load_networks(tmp_path, small_cfg, nets, batch):
    from hyperlib.config import AudioConfig
    from dataclasses import asdict

    ckpt.write_config(tmp_path, {"model": small_cfg.to_dict(), "audio": asdict(AudioConfig())})
    model_cfg, audio_cfg = ckpt.configs(tmp_path)
    assert model_cfg == small_cfg and audio_cfg == AudioConfig()
    for name, key in (("f", "f"), ("G", "G"), ("D", "D"), ("E", "E"), ("H", "H"), ("H_pre", "H")):
        path = ckpt.save_network(tmp_path, name, nets[key])
        assert path == tmp_path / f"{name}.safetensors" and path.is_file()
        loaded = ckpt.load_network(tmp_path, name)
        assert not loaded.training
        for (k1, v1), (k2, v2) in zip(nets[key].state_dict().items(), loaded.state_dict().items()):
            assert k1 == k2 and torch.equal(v1, v2)
    torch.testing.assert_close(ckpt.load_network(tmp_path, "G")(batch["h"], None, batch["p"]),
                               nets["G"](batch["h"], None, batch["p"]))


def test_save_interrupted_keeps_the_previous_weights(tmp_path, small_cfg, nets, monkeypatch):
    """A save that breaks off part-way (a run stopped while writing) leaves the earlier file whole."""
    path = ckpt.save_network(tmp_path, "f", nets["f"])
    before = path.read_bytes()

    def broken(tensors, filename):
        Path(filename).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt, "save_file", broken)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_network(tmp_path, "f", ckpt.build("f", small_cfg))
    assert path.read_bytes() == before


def test_missing_network_names_its_stage(tmp_path, small_cfg):
    ckpt.write_config(tmp_path, {"model": small_cfg.to_dict()})
    with pytest.raises(FileNotFoundError, match="hypernet-adv"):
        ckpt.load_network(tmp_path, "H")
    with pytest.raises(FileNotFoundError):
        ckpt.configs(tmp_path / "nowhere")
    with pytest.raises(ValueError):
        ckpt.build("X", small_cfg)


def test_zero_delta_reproduces_G_exactly_for_one_note(nets, batch):
    G = nets["G"]
    zeros = [torch.zeros(1, o, i) for o, i in G.tuned_shapes]
    h, p = batch["h"][:1], batch["p"][:1]
    assert torch.equal(G(h, None, p, deltas=zeros), G(h, None, p))
    deltas = [d[:1] for d in random_deltas(G)]  # the one-note path agrees with the batched one
    torch.testing.assert_close(G(h, None, p, deltas=deltas), G(batch["h"], None, batch["p"], deltas=random_deltas(G))[:1],
                               atol=1e-5, rtol=1e-4)
