"""The faithful method: pitch shifters, the spectral correction and its training, and the method through the API."""
from __future__ import annotations

import json

import librosa
import numpy as np
import pytest
import torch

from hyperlib.config import AudioConfig
from hyperlib.faithful import FAR_SHIFT
from hyperlib.evaluation.metrics import f0_hz
from hyperlib.mel import LogMel
from hyperlib.models.correction import CorrectionConfig, SpectralCorrection, apply_mel_gain, mel_to_bins
from hyperlib.pitch_shift import SHIFTERS, pitch_shift, rubberband_available

from conftest import HANDSAW, PIANO

CFG = AudioConfig()


def tone(midi: float, seconds: float = 1.024, partials: int = 6) -> np.ndarray:
    """A decaying harmonic tone at MIDI ``midi``: (seconds * 16000,) float32."""
    t = np.arange(int(seconds * CFG.sample_rate)) / CFG.sample_rate
    f0 = librosa.midi_to_hz(midi)
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, partials + 1) if k * f0 < 7000)
    return (y * np.exp(-2 * t)).astype(np.float32)


@pytest.mark.parametrize("shifter", SHIFTERS)
def test_pitch_shifters_move_the_pitch_and_keep_the_duration(shifter):
    if shifter == "rubberband" and not rubberband_available():
        pytest.skip("the rubberband command is missing (apt-get install rubberband-cli)")
    x = tone(60)
    for semitones in (-5, 7):
        y = pitch_shift(x, semitones, CFG, shifter)
        assert y.shape == (CFG.num_samples,) and np.max(np.abs(y)) == pytest.approx(10 ** (CFG.peak_dbfs / 20), rel=1e-3)
        assert abs(librosa.hz_to_midi(f0_hz(y, CFG.sample_rate)) - (60 + semitones)) < 0.5
        late = slice(int(0.7 * CFG.sample_rate), int(0.9 * CFG.sample_rate))  # still sounding: not sped up
        assert np.sqrt(np.mean(y[late] ** 2)) > 0.1 * np.sqrt(np.mean(x[late] ** 2)) * np.max(np.abs(y)) / np.max(np.abs(x))
    with pytest.raises(ValueError, match="phase-vocoder, rubberband"):
        pitch_shift(x, 3, CFG, "granular")


def test_missing_rubberband_names_the_package(monkeypatch):
    import hyperlib.pitch_shift as ps

    monkeypatch.setattr(ps.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="rubberband-cli"):
        ps.rubberband(tone(60), 3, CFG)


def test_far_shifts_go_through_rubber_band_and_fall_back_with_a_warning(monkeypatch):
    import hyperlib.faithful as faithful
    import hyperlib.pitch_shift as ps

    assert faithful.shifter_for(0) == faithful.shifter_for(-faithful.FAR_SHIFT) == "phase-vocoder"
    if rubberband_available():
        assert faithful.shifter_for(faithful.FAR_SHIFT + 1) == faithful.shifter_for(-24) == "rubberband"
    monkeypatch.setattr(ps.shutil, "which", lambda name: None)
    with pytest.warns(UserWarning, match="rubberband-cli"):
        assert faithful.shifter_for(faithful.FAR_SHIFT + 1) == "phase-vocoder"


def test_zero_gain_gives_the_input_back():
    x = torch.from_numpy(np.stack([tone(55), tone(72)]))
    y = apply_mel_gain(x, torch.zeros(2, CFG.n_mels, CFG.num_frames), CFG, mel_to_bins(CFG))
    assert torch.max(torch.abs(y - x)) < 1e-4


def test_a_band_gain_raises_those_mel_bands_only():
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, CFG.num_samples)).astype(np.float32) * 0.1)
    gain = torch.zeros(1, CFG.n_mels, CFG.num_frames)
    gain[:, 50:70] = 1.0  # one nat: e-fold magnitude
    logmel = LogMel(CFG)
    diff = (logmel(apply_mel_gain(x, gain, CFG, mel_to_bins(CFG))) - logmel(x))[0, 0, :, 4:-4].mean(dim=1)
    per_nat = 2 / (CFG.log_max - CFG.log_min)  # normalized log-mel units per nat
    assert torch.allclose(diff[54:66], torch.full((12,), per_nat), atol=0.02 * per_nat)
    assert diff[:40].abs().max() < 0.02 * per_nat and diff[80:].abs().max() < 0.02 * per_nat


def test_weights_spread_every_bin_over_the_bands():
    w = mel_to_bins(CFG)
    assert w.shape == (CFG.n_fft // 2 + 1, CFG.n_mels)
    assert torch.allclose(w.sum(dim=1), torch.ones(w.shape[0])) and (w >= 0).all()


def test_an_untrained_correction_is_no_change():
    net = SpectralCorrection(32, CFG.n_mels, CorrectionConfig(channels=4, cond_dim=8))
    gain = net(torch.randn(3, 1, CFG.n_mels, CFG.num_frames), torch.randn(3, 32), torch.tensor([40, 60, 80]),
               torch.tensor([52, 60, 61]))
    assert gain.shape == (3, CFG.n_mels, CFG.num_frames) and torch.count_nonzero(gain) == 0


@pytest.fixture(scope="module")
def correction_run(tmp_path_factory, model):
    pytest.importorskip("fluidsynth")
    from hyperlib.training.correction import CorrectionTrainConfig, train_correction
    from hyperlib.training.correction_data import build_pairs

    root = tmp_path_factory.mktemp("correction")
    pairs = build_pairs(["TimGM6mb"], model.model_dir, 24, seed=3, pitched_only=True)
    pairs.save(root / "pairs.npz")
    tc = CorrectionTrainConfig(steps=40, batch_size=8, val_every=20, correction=CorrectionConfig(channels=8))
    weights = train_correction(root / "pairs.npz", root / "pairs.npz", model.model_dir, root / "run", tc)
    return pairs, weights, root


def test_correction_pairs_are_shifted_notes_and_true_notes(correction_run):
    pairs, _, _ = correction_run
    assert pairs.shifted.shape == pairs.target.shape == (24, CFG.num_samples) and pairs.h.shape[0] == 24
    shifts = np.abs(pairs.tgt - pairs.src)
    assert (shifts == 0).any() and (shifts > 12).any()  # every shift group, in turn
    i = int(np.flatnonzero(shifts == 0)[0])
    assert np.allclose(pairs.shifted[i], pairs.target[i], atol=2e-3)  # no shift: the note itself


def test_correction_training_beats_the_plain_shift_on_what_it_fits(correction_run):
    _, weights, root = correction_run
    val = [json.loads(line)["val"] for line in (root / "run" / "log.jsonl").read_text().splitlines()
           if "val" in json.loads(line)]
    assert len(val) == 2
    best = min(v["mel_l1"] for v in val)
    assert best < val[0]["mel_l1_shift"]  # the fitted pairs: the correction has learned something
    from safetensors import safe_open

    with safe_open(str(weights), "pt") as f:
        record = json.loads(f.metadata()["record"])
    assert record["heldout"]["mel_l1"] == best and record["shifter"] == "faithful"


def test_faithful_changes_the_pitch_of_the_users_sound(model):
    if model.faithful is None:
        pytest.skip("the model has no spectral correction")
    own = model.estimate_pitch(model.prepare(str(PIANO)))
    for pitch in (own - 5, own + 7):
        r = model.synthesize(str(PIANO), pitch, "faithful")
        assert r.method == "faithful" and r.pitch == pitch and r.audio.shape == (CFG.num_samples,)
        assert abs(librosa.hz_to_midi(f0_hz(r.audio, r.sample_rate)) - pitch) < 0.5
        assert r.timings_ms["correction"] > 0 and r.timings_ms["pitch_shift"] > 0
    assert model.reconstruct(str(PIANO), "faithful").pitch == own
    far = model.synthesize(str(PIANO), own + FAR_SHIFT + 2, "faithful")  # Rubber Band's shift, corrected
    assert abs(librosa.hz_to_midi(f0_hz(far.audio, far.sample_rate)) - (own + FAR_SHIFT + 2)) < 0.5
    keys = model.synthesize_pitches(str(HANDSAW), [48, 60, 72], "faithful")
    assert [r.pitch for r in keys] == [48, 60, 72]
    assert all(np.isfinite(r.audio).all() and np.abs(r.audio).max() > 0.5 for r in keys)
    assert all(r.mel.shape == (CFG.n_mels, CFG.num_frames) and r.method == "faithful" for r in keys)


def test_faithful_cannot_mix_timbres(model):
    with pytest.raises(ValueError, match="cannot mix"):
        model.interpolate([str(PIANO), str(HANDSAW)], [0.5, 0.5], 60, "faithful")
    with pytest.raises(ValueError, match="cannot mix"):
        model.encode(str(PIANO), "faithful")


def test_a_model_without_correction_says_how_to_get_one(model):
    from hyperlib import HyperGANStrument

    nets = {name: net for name, net in model.nets.items() if name != "correction"}
    bare = HyperGANStrument(nets, model.model_config, model.audio_config)
    with pytest.raises(ValueError, match="train-correction"):
        bare.synthesize(str(PIANO), 64, "faithful")


def test_faithful_plays_melodies_and_exports_instruments(model, tmp_path):
    if model.faithful is None:
        pytest.skip("the model has no spectral correction")
    tune = model.melody(str(PIANO), "60:0:0.4,67:0.4:0.4", method="faithful")
    audio, sr = tune.audio, tune.sample_rate
    assert sr == CFG.sample_rate and audio.size >= int(0.8 * sr) and np.isfinite(audio).all()
    sfz = model.export_sfz(str(HANDSAW), tmp_path, low=48, high=60, every=6, method="faithful")
    assert sfz.is_file() and len(list(tmp_path.rglob("*.wav"))) == 3
    with pytest.raises(ValueError, match="cannot mix"):
        model.morph([str(PIANO), str(HANDSAW)], nodes=3, method="faithful")


def test_a_correction_grown_a_source_channel_starts_as_it_was(tmp_path):
    from safetensors.torch import save_file

    from hyperlib.training.correction import _start_from

    torch.manual_seed(0)
    old = SpectralCorrection(32, CFG.n_mels, CorrectionConfig(channels=4, cond_dim=8))
    for p in old.parameters():  # a trained correction: no zeros left
        torch.nn.init.normal_(p, std=0.1)
    save_file({k: v.contiguous() for k, v in old.state_dict().items()}, str(tmp_path / "old.safetensors"))
    new = SpectralCorrection(32, CFG.n_mels, CorrectionConfig(channels=4, cond_dim=8, source_channel=True))
    _start_from(new, tmp_path / "old.safetensors")
    mel, source, h = torch.randn(2, 1, CFG.n_mels, CFG.num_frames), torch.randn(2, 1, CFG.n_mels, CFG.num_frames), torch.randn(2, 32)
    pitches = torch.tensor([48, 60]), torch.tensor([60, 79])
    assert torch.allclose(new(mel, h, *pitches, source), old(mel, h, *pitches), atol=1e-6)
    with pytest.raises(ValueError, match="source"):
        new(mel, h, *pitches)
