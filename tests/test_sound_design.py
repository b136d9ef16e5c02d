"""Sound design (docs/sound_design.md): timbre faders, even morphs, melodies and SFZ export.

The tests use whatever ``HyperGANStrument.from_pretrained()`` loads (conftest's ``model``: the bundled
checkpoint, or the folder named by ``HYPERLIB_CHECKPOINT``). Where that folder has no ``faders.safetensors`` the faders are built
here from a small synthetic corpus into a temporary folder (after checking that ``edit`` names the command
that builds them). No quality is asserted: the tiny test model sounds like noise.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from hyperlib import HyperGANStrument  # noqa: E402
from hyperlib.sound_design.faders import FADERS_FILE, Faders, build_faders  # noqa: E402
from hyperlib.sound_design.melody import parse_notes, read_midi  # noqa: E402
from hyperlib.sound_design.sfz import key_regions  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
PIANO = str(REPO_ROOT / "examples" / "piano_c4.aif")
HANDSAW = str(REPO_ROOT / "examples" / "handsaw.ogg")
VIOLIN = str(REPO_ROOT / "examples" / "violin.ogg")
TRUMPET = str(REPO_ROOT / "examples" / "trumpet.ogg")
SR = 16000


def synthetic_mels(model: HyperGANStrument, count: int = 16) -> np.ndarray:
    """(count, n_mels, frames) log-mels of synthetic notes: varied harmonics, decays, noise and pitches."""
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    mels = []
    for i in range(count):
        f0 = 110 * 2 ** (rng.integers(0, 36) / 12)
        rolloff, decay, noise = rng.uniform(0.3, 1.5), rng.uniform(0.5, 8), rng.uniform(0, 0.3)
        y = sum(np.sin(2 * np.pi * k * f0 * t) / k ** (1 + rolloff) for k in range(1, 12) if k * f0 < SR / 2)
        y = (y + noise * rng.standard_normal(SR)) * np.exp(-decay * t) * np.minimum(1, t / (0.002 + 0.03 * (i % 3)))
        mels.append(model.mel(model.prepare((y.astype(np.float32), SR)))[0, 0].cpu().numpy())
    return np.stack(mels)


@pytest.fixture(scope="module")
def faders(model, tmp_path_factory):
    """The model folder's faders, or faders built here (in a temp folder) when it has none."""
    if model.model_dir is not None and (Path(model.model_dir) / FADERS_FILE).is_file():
        return model.load_faders()
    with pytest.raises(FileNotFoundError, match="python -m hyperlib faders"):
        model.edit(PIANO, {0: 1.0}, pitch=60)
    folder = tmp_path_factory.mktemp("faders")
    build_faders(model, synthetic_mels(model)).save(folder / FADERS_FILE)
    return model.load_faders(folder)


# -- faders ---------------------------------------------------------------------------------------
def test_fader_directions_are_orthonormal(faders, tmp_path):
    c = faders.components.astype(np.float64)
    assert faders.num_faders >= 4 and c.shape[1] == faders.mean.shape[0]
    np.testing.assert_allclose(c @ c.T, np.eye(len(c)), atol=1e-4)
    assert np.all(faders.std > 0) and np.all(np.diff(faders.std) <= 1e-6)
    assert 0 < faders.explained.sum() <= 1 + 1e-5
    back = Faders.load(faders.save(tmp_path / "copy.safetensors"))
    np.testing.assert_array_equal(back.components, faders.components)


def test_edit_with_zero_faders_equals_synthesize(model, faders):
    plain = model.synthesize(PIANO, pitch=62, method="hyper", steps=2)
    for zero in ({}, {0: 0.0, 3: 0.0}):
        edited = model.edit(PIANO, faders=zero, pitch=62, method="hyper", steps=2)
        np.testing.assert_array_equal(edited.mel, plain.mel)
        np.testing.assert_array_equal(edited.audio, plain.audio)


def test_nonzero_fader_changes_the_mel(model, faders):
    plain = model.edit(PIANO, {}, pitch=60, steps=1)
    moved = model.edit(PIANO, {0: 2.0}, pitch=60, steps=1)
    assert moved.mel.shape == plain.mel.shape and np.all(np.isfinite(moved.audio))
    assert np.abs(moved.mel - plain.mel).mean() > 1e-5


def test_edit_rejects_bad_faders_and_names_missing_file(model, faders, tmp_path):
    for bad in ({faders.num_faders: 1.0}, {0: float("nan")}, {0: 50.0}, {"0": 1.0}):
        with pytest.raises(ValueError):
            model.edit(PIANO, bad, pitch=60)
    bare = HyperGANStrument(model.nets, model.model_config, model.audio_config)
    bare.model_dir = tmp_path
    with pytest.raises(FileNotFoundError, match=r"python -m hyperlib faders --corpus .* --model"):
        bare.edit(PIANO, {0: 1.0}, pitch=60)


# -- morph ----------------------------------------------------------------------------------------
def test_morph_path_ends_are_the_inputs(model):
    h_a = model.encode(PIANO, "hyper")[1][0].numpy()
    h_b = model.encode(HANDSAW, "hyper")[1][0].numpy()
    res = model.morph([PIANO, HANDSAW], nodes=5, pitch=60, even=True, steps=1, iterations=3)
    p = res.path
    assert len(res) == 5 and p.codes.shape == (5, h_a.shape[0])
    np.testing.assert_array_equal(p.codes[0], h_a)
    np.testing.assert_array_equal(p.codes[-1], h_b)
    assert np.all(np.diff(p.positions) > 0), "nodes stay ordered along the path"
    assert np.isfinite(p.spread_before) and np.isfinite(p.spread_after)
    assert p.spread_after <= p.spread_before + 1e-12  # the best iterate (the linear start included) is kept
    assert all(r.audio.shape == (16384,) and np.all(np.isfinite(r.audio)) for r in res)
    # the check the SOM does not optimize: MFCC distances of the audio, on the linear path and the adapted one
    assert p.audio_distances_before.shape == p.audio_distances_after.shape == (4,)
    assert np.all(p.audio_distances_after > 0) and np.isfinite(p.audio_spread_after)
    linear = model.morph([PIANO, HANDSAW], nodes=5, pitch=60, even=False, steps=1)
    np.testing.assert_allclose(linear.path.positions, np.linspace(0, 1, 5), atol=1e-6)
    assert linear.path.spread_after == linear.path.spread_before
    # the linear path's MFCC steps, measured on its own render and as the SOM run's "before", agree
    np.testing.assert_allclose(linear.path.audio_distances_after, p.audio_distances_before, rtol=1e-4)


def test_mfcc_distance_tells_notes_apart():
    from hyperlib.sound_design.descriptors import mfcc_distance, mfcc_frames

    t = np.arange(16384) / SR
    tone = lambda *harmonics: sum(np.sin(2 * np.pi * 220 * k * t) / k for k in harmonics).astype(np.float32)  # noqa: E731
    a, b, c = (mfcc_frames(tone(*h), SR) for h in ((1,), (1, 2), (1, 2, 3, 4, 5, 6, 7)))
    assert mfcc_distance(a, a) == 0 and 0 < mfcc_distance(a, b) < mfcc_distance(a, c)


@pytest.mark.slow
def test_the_tools_take_gan_inversion(model, faders, monkeypatch):
    """"optimize" codes travel with their offsets: faders, morph, melody and SFZ keys render what synthesize does."""
    from hyperlib.inversion import OptimizeConfig
    from hyperlib.sound_design.sfz import render_regions

    monkeypatch.setattr(model, "optimize_budget", OptimizeConfig(code_steps=2, weight_steps=3))
    alone = model.synthesize(PIANO, 60, "optimize")
    np.testing.assert_allclose(model.edit(PIANO, {}, 60, "optimize").mel, alone.mel, atol=1e-5)
    assert np.abs(model.edit(PIANO, {0: 2.0}, 60, "optimize").mel - alone.mel).mean() > 1e-5
    res = model.morph([PIANO, HANDSAW], nodes=3, pitch=60, even=True, method="optimize", iterations=1)
    cfg = model.model_config
    width = cfg.h_dim + cfg.z_dim + sum(o * i for o, i in model.nets["G"].tuned_shapes)
    assert res.path.codes.shape == (3, width)
    np.testing.assert_allclose(res[0].mel, alone.mel, atol=1e-5)
    np.testing.assert_allclose(res[-1].mel, model.synthesize(HANDSAW, 60, "optimize").mel, atol=1e-5)
    audio = model.melody(PIANO, "60:0:0.3,64:0.3:0.3", "optimize").audio
    assert np.all(np.isfinite(audio)) and np.abs(audio).max() > 0.01
    keys = render_regions(model, model.prepare(PIANO), [(60, 59, 61)], "optimize")
    np.testing.assert_allclose(keys[60], alone.audio, atol=1e-4)


def test_som_evens_a_known_boundary():
    """Model-free: a path whose render jumps near t = 0.6 (a sigmoid) gets even steps from the SOM."""
    from hyperlib.sound_design.morph import _adapt_chain, spread

    def render(codes):  # (K, 4) codes on the line 0 -> 1 -> "log-mels" (K, 4, 4)
        v = 1 / (1 + np.exp(-(codes[:, 0].astype(np.float64) - 0.6) * 15))
        return np.broadcast_to(v[:, None, None], (len(v), 4, 4)).astype(np.float32)

    first, t, codes, after, history = _adapt_chain(render, np.zeros(4, np.float32), np.ones(4, np.float32), 9, 8, 0.8)
    assert spread(first) > 1.0 and spread(after) < 0.05
    assert t[0] == 0 and t[-1] == 1 and np.all(np.diff(t) > 0)


def test_morph_mesh_pins_the_corners(model):
    res = model.morph([PIANO, HANDSAW, VIOLIN, TRUMPET], nodes=3, pitch=60, steps=0, iterations=2)
    assert len(res) == 3 and all(len(row) == 3 for row in res)
    corners = [model.encode(s, "hyper")[1][0].numpy() for s in (PIANO, HANDSAW, VIOLIN, TRUMPET)]
    for (r, c), h in zip(((0, 0), (0, 2), (2, 0), (2, 2)), corners):
        np.testing.assert_array_equal(res.path.codes[r, c], h)
    assert np.isfinite(res.path.spread_after)


# -- melody ---------------------------------------------------------------------------------------
def test_melody_length_level_and_no_clipping(model):
    notes = [(60, 0.0, 0.3, 100), (64, 0.3, 0.3, 70), (67, 0.6, 1.6, 127), (60, 0.6, 0.4, 40)]
    tune = model.melody(VIOLIN, notes, steps=1, release_s=0.15)
    audio, sr = tune.audio, tune.sample_rate
    assert sr == SR and audio.dtype == np.float32 and tune.method == "hyper" and tune.pitch is None
    assert len(audio) == round((0.6 + 1.6 + 0.15) * SR)
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) <= 1.0
    assert np.max(np.abs(audio)) > 0.5  # normalized to the model's peak level
    assert np.sqrt(np.mean(audio[int(1.5 * SR):int(2.1 * SR)] ** 2)) > 1e-3  # the stretched long note sounds
    text = model.melody(VIOLIN, "60:0:0.3,64:0.3:0.3:70,G4:0.6:1.6:127,C4:0.6:0.4:40", steps=1).audio
    np.testing.assert_array_equal(text, audio)


def test_midi_file_is_read(tmp_path):
    mido = pytest.importorskip("mido")
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))  # 120 bpm: a beat is 0.5 s
    track.append(mido.Message("note_on", note=60, velocity=100, time=0))
    track.append(mido.Message("note_off", note=60, velocity=0, time=480))
    track.append(mido.Message("note_on", note=64, velocity=80, time=0))
    track.append(mido.Message("note_on", note=64, velocity=0, time=960))  # velocity 0 = note off
    track.append(mido.Message("note_on", channel=9, note=36, velocity=100, time=0))  # a drum, skipped
    track.append(mido.Message("note_off", channel=9, note=36, velocity=0, time=240))
    mid.save(str(tmp_path / "tune.mid"))
    notes = read_midi(tmp_path / "tune.mid")
    assert [(n.pitch, n.velocity) for n in notes] == [(60, 100), (64, 80)]
    np.testing.assert_allclose([(n.start, n.duration) for n in notes], [(0, 0.5), (0.5, 1.0)], atol=1e-6)
    assert [n.pitch for n in parse_notes("C4:0:0.5, 64:0.5:1:80")] == [60, 64]
    with pytest.raises(ValueError, match="pitch:start:duration"):
        parse_notes("60:0")


# -- SFZ export -----------------------------------------------------------------------------------
def parse_sfz(path: Path) -> list[dict]:
    """The regions of an SFZ file as dicts of opcodes (headers <global>/<group>/<control> are inherited)."""
    text = re.sub(r"//[^\n]*", "", path.read_text())
    regions, scope, current = [], {}, None
    for token in re.findall(r"<\w+>|[A-Za-z0-9_]+=[^\s<]+", text):
        if token.startswith("<"):
            if current is not None:
                regions.append(current)
            current = dict(scope) if token == "<region>" else None
            if token in ("<global>", "<group>", "<control>"):
                scope = {} if token != "<group>" else dict(scope)
                current = None
            continue
        key, value = token.split("=", 1)
        (scope if current is None else current)[key] = value
    if current is not None:
        regions.append(current)
    return regions


def test_export_sfz_regions_samples_and_render(model, tmp_path):
    low, high, every = 48, 58, 3
    sfz = model.export_sfz(VIOLIN, tmp_path / "violin", low=low, high=high, every=every, steps=1, name="violin")
    assert sfz.suffix == ".sfz" and sfz.is_file()
    regions = parse_sfz(sfz)
    assert len(regions) == len(key_regions(low, high, every)) == 4
    covered = []
    for r in regions:
        assert {"sample", "pitch_keycenter", "lokey", "hikey"} <= set(r), r
        lo, hi, centre = int(r["lokey"]), int(r["hikey"]), int(r["pitch_keycenter"])
        assert lo <= centre <= hi
        covered += list(range(lo, hi + 1))
        wav = sfz.parent / r["sample"]
        assert wav.is_file() and wav.parent.name == "samples"
        info = sf.info(str(wav))
        assert (info.format, info.subtype, info.samplerate, info.channels) == ("WAV", "PCM_16", SR, 1)
    assert covered == list(range(low, high + 1)), "regions cover the range without gaps or overlaps"
    r = regions[1]
    written, _ = sf.read(str(sfz.parent / r["sample"]), dtype="float32")
    again = model.synthesize(VIOLIN, pitch=int(r["pitch_keycenter"]), method="hyper", steps=1)
    assert written.shape == again.audio.shape
    assert np.max(np.abs(written - again.audio)) <= 2 / 32768  # equal up to 16-bit rounding


def test_key_regions_edge_cases():
    assert key_regions(60, 60, 3) == [(60, 60, 60)]
    assert key_regions(36, 40, 1) == [(k, k, k) for k in range(36, 41)]
    regions = key_regions(36, 47, 5)  # centres 36, 41, 46 and the top key 47 is within reach of 46
    assert [r[0] for r in regions] == [36, 41, 46] and regions[-1][2] == 47
    with pytest.raises(ValueError):
        key_regions(60, 50, 3)


# -- command line and app tabs ----------------------------------------------------------------------
def test_cli_melody_and_export(tmp_path, model):
    from hyperlib.cli import main

    model_arg = ["--model", str(model.model_dir)] if model.model_dir else []
    assert main(["melody", PIANO, "--notes", "60:0:0.3,67:0.3:0.3", "--steps", "0", *model_arg,
                 "-o", str(tmp_path / "m.wav")]) == 0
    assert sf.info(str(tmp_path / "m.wav")).duration == pytest.approx(0.75, abs=1e-3)
    assert main(["export-sfz", PIANO, "--low", "60", "--high", "61", "--every", "3", "--steps", "0", *model_arg,
                 "-o", str(tmp_path / "sfz")]) == 0
    assert (tmp_path / "sfz" / "piano_c4.sfz").is_file()
    assert main(["melody", PIANO, "--notes", "60:0", "-o", str(tmp_path / "bad.wav"), *model_arg]) == 2


def test_fader_labels_are_distinct_and_say_which_way_is_which():
    """The shipped faders' slider labels, derived from the measurement in faders.json: four distinct titles naming
    what each direction changes, and for each what its left and its right end do."""
    from hyperlib.sound_design.fader_study import load_labels

    labels = load_labels(REPO_ROOT / "checkpoints", 4)
    titles, sides = zip(*labels)
    assert len(set(titles)) == 4 and all(t.startswith(f"Fader {k}: ") for k, t in enumerate(titles)), titles
    assert all(re.fullmatch(r"left: .+; right: .+", side) for side in sides), sides
    for side in sides:  # the two ends are opposites, word for word
        left, right = (part.split(": ", 1)[1].split(", ") for part in side.split("; "))
        assert len(left) == len(right) and not set(left) & set(right)


def test_fader_titles_alike_get_their_measured_slope():
    from hyperlib.sound_design.fader_study import slider_labels

    stats = lambda slope: {"decay_db": {"slope_per_std": slope, "r": 0.9, "relative_slope": 0.5},  # noqa: E731
                           "centroid_hz": {"slope_per_std": 1.0, "r": 0.1, "relative_slope": 0.01}}
    (t0, s0), (t1, s1), (t2, s2) = slider_labels([{"fader": 0, "descriptors": stats(2.0)},
                                                  {"fader": 1, "descriptors": stats(-3.0)}], 3)
    assert (t0, t1) == ("Fader 0: sustain (sustain +2 dB per std)", "Fader 1: sustain (sustain -3 dB per std)")
    assert (s0, s1) == ("left: shorter decay; right: longer sustain", "left: longer sustain; right: shorter decay")
    assert (t2, s2) == ("Fader 2", "")


def test_app_tabs_build_and_handlers_run(model, faders):
    gr = pytest.importorskip("gradio")
    from demos import sound_design_tabs as sd

    with gr.Blocks():
        sd.build_sound_design_tabs(lambda: model)
    wav, text = sd.melody_handler(PIANO, "60:0:0.2,64:0.2:0.2", None, 0.1, 0)
    assert sf.info(wav).samplerate == SR and "the notes in the box" in text
    assert sd.notes_box("/tmp/x/song.mid").interactive is False and sd.notes_box(None).interactive is True
    wav, _ = sd.edit_handler(PIANO, 60, 1.0, 0, 0, 0, 0)
    assert sf.info(wav).frames == 16384
    archive, text = sd.sfz_handler(PIANO, 60, 62, 3, "test", 0)
    assert archive.endswith(".zip") and "2 samples" in text
    with pytest.raises(gr.Error):
        sd.melody_handler(None)
