"""The learned harmonic-plus-noise vocoder (hyperlib.vocoders.ddsp) and its training (hyperlib.training.vocoder)."""
from __future__ import annotations

import json
from dataclasses import replace

import librosa
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import NUM_SAMPLES, SAMPLE_RATE
from hyperlib import AudioConfig
from hyperlib.evaluation.metrics import FINE_HOP, FINE_N_FFT, log_spectral_l1
from hyperlib.mel import LogMel, mel_filterbank
from hyperlib.training.vocoder import VocoderTrainConfig, spectral_loss, train_vocoder
from hyperlib.training.vocoder_data import MEL_SOURCES, VocoderPairs, build_pairs
from hyperlib.vocoders.ddsp import (DDSPConfig, DDSPDecoder, DDSPVocoder, ProvenanceHead, load_decoder,
                                   upsample_frames)

CFG = AudioConfig()
SMALL = DDSPConfig(channels=16, blocks=1)


def test_harmonics_are_the_sum_of_sinusoids_with_interpolated_amplitudes():
    decoder = DDSPDecoder(CFG, SMALL)
    hz, audible = decoder.harmonic_hz(torch.tensor([45.0]))
    k = int(audible.sum())
    assert 0 < k < SMALL.harmonics and float(hz[0, k - 1]) < 0.99 * CFG.f_max <= float(hz[0, k])  # below f_max only
    amplitudes = torch.rand(k, CFG.num_frames)
    t = torch.arange(NUM_SAMPLES, dtype=torch.float32)
    direct = (upsample_frames(amplitudes[None], CFG.hop_length, NUM_SAMPLES)[0]
              * torch.sin(2 * np.pi * hz[0, :k, None] / SAMPLE_RATE * t + decoder.phase0[:k, None])).sum(0)
    np.testing.assert_allclose(decoder._harmonics(amplitudes, hz[0, :k]).numpy(), direct.numpy(), atol=1e-4)


def test_an_untrained_decoder_plays_the_mel_at_the_asked_pitch():
    """Controls start at the mel's own envelope: a harmonic tone's mel comes back with its f0."""
    midi, f0 = 57, librosa.midi_to_hz(57)
    t = np.arange(NUM_SAMPLES) / SAMPLE_RATE
    tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 9)) * np.exp(-2 * t)
    mel = LogMel(CFG)(torch.from_numpy(0.3 * tone.astype(np.float32))[None])[:, 0]
    with torch.no_grad():
        y = DDSPDecoder(CFG, SMALL)(mel, torch.tensor([float(midi)]), torch.randn(1, NUM_SAMPLES))[0].numpy()
    spectrum = np.abs(np.fft.rfft(y[: SAMPLE_RATE // 2] * np.hanning(SAMPLE_RATE // 2)))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / (SAMPLE_RATE // 2)
    assert abs(peak_hz - f0) < 3
    assert log_spectral_l1(y, tone, CFG.n_fft, CFG.hop_length, mel_filterbank(CFG)) < 0.6


def test_the_consistency_gate_moves_the_output_mel_towards_the_input_mel():
    """Gate 0 leaves the synthesized audio as it is; gate 1 brings its mel to the input mel."""
    decoder = DDSPDecoder(CFG, SMALL)
    rng = np.random.default_rng(0)
    audio = torch.from_numpy((rng.standard_normal((1, NUM_SAMPLES)) * 0.1).astype(np.float32))
    t = np.arange(NUM_SAMPLES) / SAMPLE_RATE
    target = LogMel(CFG)(torch.from_numpy((0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-3 * t)).astype(np.float32))
                         [None])[:, 0]
    shape = (1, CFG.n_mels, CFG.num_frames)
    with torch.no_grad():
        kept = decoder.match_mel(audio, target, torch.zeros(shape))
        np.testing.assert_allclose(kept.numpy(), audio.numpy(), atol=1e-5)
        distance = lambda y: float((LogMel(CFG)(y)[:, 0] - target).abs().mean())  # noqa: E731
        half = decoder.match_mel(audio, target, torch.full(shape, 0.5))
        matched = decoder.match_mel(audio, target, torch.ones(shape))
    assert distance(matched) < distance(half) < distance(audio)
    assert distance(matched) < 0.5 * distance(audio)
    controls = decoder.controls(target, torch.tensor([69.0]))
    assert controls.gate.shape == shape and controls.true_logit.shape == (1,)
    assert np.allclose(controls.gate.detach().numpy(), 0.25)  # a half, times the provenance head's undecided half
    plain = DDSPDecoder(CFG, replace(SMALL, consistency_passes=0))
    assert not hasattr(plain, "gate") and plain.controls(target, torch.tensor([69.0])).gate is None


def test_the_provenance_head_learns_to_tell_a_smoothed_mel_from_a_rough_one():
    """G's mels change less from frame to frame than true ones; the head learns that cue from a few batches."""
    torch.manual_seed(0)
    head = ProvenanceHead(CFG.n_mels)
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)

    def draw(n):
        rough = torch.randn(n, CFG.n_mels, 1) * 0.3 + torch.randn(n, CFG.n_mels, CFG.num_frames) * 0.02
        smooth = F.avg_pool1d(rough, 9, 1, 4, count_include_pad=False)  # the same notes, smoothed over frames
        return torch.cat([rough, smooth]), torch.cat([torch.ones(n), torch.zeros(n)])

    for _ in range(60):
        mel, is_true = draw(16)
        loss = F.binary_cross_entropy_with_logits(head(mel), is_true)
        opt.zero_grad()
        loss.backward()
        opt.step()
    mel, is_true = draw(64)
    with torch.no_grad():
        assert ((head(mel) > 0).float() == is_true).float().mean() > 0.95


def test_spectral_loss_is_the_evaluation_distance_in_torch():
    rng = np.random.default_rng(0)
    a, b = ((rng.standard_normal((2, NUM_SAMPLES)) * np.exp(-np.arange(NUM_SAMPLES) / 4000)).astype(np.float32)
            for _ in range(2))
    b[1] *= 0.01  # another level: RMS matching must remove it
    basis = mel_filterbank(CFG)
    terms = spectral_loss(torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(basis), per_resolution=True)
    for i in range(2):
        assert terms["1024/128/mel"][i] == pytest.approx(log_spectral_l1(a[i], b[i], CFG.n_fft, CFG.hop_length, basis),
                                                         rel=1e-3)
        assert terms[f"{FINE_N_FFT}/{FINE_HOP}"][i] == pytest.approx(log_spectral_l1(a[i], b[i], FINE_N_FFT, FINE_HOP),
                                                                     rel=1e-3)
    assert float(spectral_loss(torch.from_numpy(b) * 3, torch.from_numpy(b), torch.from_numpy(basis))) < 1e-5


@pytest.fixture(scope="module")
def pairs_file(tiny_corpus, model, tmp_path_factory):
    path = tmp_path_factory.mktemp("vocoder") / "pairs.npz"
    build_pairs(tiny_corpus, model.model_dir, notes=24, fonts=["TimGM6mb"]).save(path)
    return path


def test_pairs_hold_the_true_audio_and_the_models_mels(pairs_file, tiny_corpus):
    pairs = VocoderPairs.load(pairs_file)
    n = len(pairs.pitch)
    assert 20 <= n <= 24 and pairs.audio.shape == (n, NUM_SAMPLES) and pairs.mels.shape[:2] == (len(MEL_SOURCES), n)
    true_mel = LogMel(CFG)(torch.from_numpy(pairs.audio[:4]))[:, 0].numpy()
    np.testing.assert_allclose(pairs.mels[0, :4].astype(np.float32), true_mel, atol=2e-3)  # float16
    assert set(pairs.model_hashes) == {"f.safetensors", "G.safetensors", "H.safetensors"}
    same = pairs.source_rows == pairs.target_rows
    assert 0 < same.sum() < n  # reconstruction and synthesis pairs
    for k in (1, 2):  # the model's mels differ from the truth, and from each other
        assert 0.01 < np.abs(pairs.mels[k].astype(np.float32) - pairs.mels[0]).mean() < 0.5
    with pytest.raises(ValueError, match="FluidR3_GM"):
        build_pairs(tiny_corpus, "checkpoints", notes=4)  # the tiny corpus has no training font
    with pytest.raises(FileNotFoundError, match="vocoder-pairs"):
        VocoderPairs.load(pairs_file.with_name("missing.npz"))


def test_training_lowers_the_loss_resumes_and_ships_a_vocoder(pairs_file, tmp_path):
    tc = VocoderTrainConfig(steps=24, batch_size=4, lr=3e-3, warmup_steps=2, holdout=4, val_pairs=4, ckpt_every=12,
                            ddsp=SMALL)
    train_vocoder(pairs_file, tmp_path, replace(tc, steps=12), threads=1)
    first = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in first] == list(range(1, 13)) and "val" in first[-1]
    weights = train_vocoder(pairs_file, tmp_path, tc, threads=1)  # resumes at step 12
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 25))
    losses = [r["loss"] for r in log]
    assert np.mean(losses[-6:]) < np.mean(losses[:6])
    assert set(log[-1]["val"]) == {"hyper", "true"}  # both mels scored, and which one is true told apart
    assert all("provenance_accuracy" in log[-1]["val"][m] for m in ("hyper", "true"))
    decoder, record = load_decoder(weights)
    assert record["steps"] == 24 and record["samples"] == 96 and decoder.cfg == SMALL
    assert record["model_hashes"] == VocoderPairs.load(pairs_file).model_hashes

    vocoder = DDSPVocoder(CFG, weights)
    mel = VocoderPairs.load(pairs_file).mels[1, 0].astype(np.float32)
    y = vocoder(mel, 60)
    assert y.shape == (NUM_SAMPLES,) and y.dtype == np.float32 and np.isfinite(y).all() and np.abs(y).max() > 0
    np.testing.assert_array_equal(y, vocoder(mel, 60))  # deterministic
    assert np.isfinite(vocoder(mel, None)).all()  # the pitch estimated from the mel
    with pytest.raises(ValueError, match="shape"):
        vocoder(mel[:64], 60)
    with pytest.raises(ValueError, match="finite"):
        vocoder(mel, float("nan"))
    with pytest.raises(ValueError, match="trained for"):
        DDSPVocoder(replace(CFG, sample_rate=22050), weights)
    assert DDSPVocoder(replace(CFG, griffin_lim_iters=2), weights)(mel, 60).shape == y.shape  # not a mel setting
    with pytest.raises(FileNotFoundError, match="train-vocoder"):
        DDSPVocoder(CFG, tmp_path / "none.safetensors")


def test_a_run_starts_from_a_trained_decoder_and_adds_the_gate(pairs_file, tmp_path):
    tc = VocoderTrainConfig(steps=4, batch_size=2, warmup_steps=1, holdout=4, val_pairs=2, ckpt_every=4,
                            ddsp=replace(SMALL, consistency_passes=0))
    plain = train_vocoder(pairs_file, tmp_path / "plain", tc, threads=1)
    gated = train_vocoder(pairs_file, tmp_path / "gated", replace(tc, lr=1e-12, ddsp=SMALL), threads=1, init=plain)
    before, after = load_decoder(plain)[0], load_decoder(gated)
    assert torch.allclose(before.head.weight, after[0].head.weight, atol=1e-6)  # (a learning rate of nothing)
    assert after[1]["init"]["steps"] == 4 and after[1]["samples_total"] == 16
    with pytest.raises(ValueError, match="another shape"):
        train_vocoder(pairs_file, tmp_path / "wide", replace(tc, ddsp=replace(SMALL, channels=8)), threads=1,
                      init=plain)
    with pytest.raises(FileNotFoundError, match="missing"):
        train_vocoder(pairs_file, tmp_path / "none", tc, threads=1, init=tmp_path / "none.safetensors")


def test_the_shipped_decoder_learned_the_mels_of_the_bundled_checkpoint():
    """The decoder is trained on the model's own mels: retrain it (docs/training.md) when f, G or H change."""
    from hyperlib.checkpoint import recorded_hashes
    from hyperlib.hub import bundled

    _, record = load_decoder()
    hashes = recorded_hashes(bundled())
    assert record["model_hashes"] and all(hashes[name] == sha for name, sha in record["model_hashes"].items())
    assert record["steps"] > 0 and record["samples"] == record["steps"] * record["config"]["batch_size"]
