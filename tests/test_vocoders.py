"""The vocoders (hyperlib.vocoders) and their selection through the API and the CLI."""
from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from conftest import HANDSAW, NUM_SAMPLES, PIANO, SAMPLE_RATE, run_cli
from hyperlib import VOCODERS, AudioConfig, HyperGANStrument
from hyperlib.audio import load_note
from hyperlib.cli import main as cli_main
from hyperlib.evaluation.metrics import FINE_HOP, FINE_N_FFT, log_spectral_l1
from hyperlib.mel import LogMel, mel_magnitude
from hyperlib.vocoders import DEFAULT_VOCODER, HarmonicNoiseVocoder, make_vocoder

CFG = AudioConfig()


@pytest.fixture(scope="module")
def logmel():
    return LogMel(CFG)


@pytest.fixture(scope="module")
def vocoders():
    return {name: make_vocoder(name, CFG) for name in VOCODERS}


def mel_of(logmel, audio: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return logmel(torch.from_numpy(np.asarray(audio, dtype=np.float32))[None])[0, 0].numpy()


def harmonic_note(midi: float, partials: int = 12, seed: int = 0) -> np.ndarray:
    """A decaying harmonic tone with 1/k partials and random phases, onset after 5 ms: (NUM_SAMPLES,) float32."""
    f0, t = librosa.midi_to_hz(midi), np.arange(NUM_SAMPLES - 80) / SAMPLE_RATE
    phases = np.random.default_rng(seed).uniform(0, 2 * np.pi, partials)
    y = sum(np.sin(2 * np.pi * k * f0 * t + phases[k - 1]) / k for k in range(1, partials + 1) if k * f0 < 7500)
    y = np.concatenate([np.zeros(80), y * np.exp(-2 * t) * np.minimum(1, t / 0.01)])
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def noise_note(seed: int = 0) -> np.ndarray:
    t = np.arange(NUM_SAMPLES) / SAMPLE_RATE
    return (0.3 * np.random.default_rng(seed).standard_normal(NUM_SAMPLES) * np.exp(-3 * t)).astype(np.float32)


def pyin(audio: np.ndarray):
    f0, voiced, prob = librosa.pyin(audio[: SAMPLE_RATE // 2], fmin=50, fmax=2000, sr=SAMPLE_RATE, frame_length=2048)
    return f0, voiced, prob


@pytest.mark.parametrize("name", list(VOCODERS))
@pytest.mark.parametrize("pitch", [60, None])
def test_every_vocoder_renders_a_note(logmel, vocoders, name, pitch):
    y = vocoders[name](mel_of(logmel, load_note(PIANO, CFG)), pitch)
    assert y.dtype == np.float32 and y.shape == (NUM_SAMPLES,) and np.all(np.isfinite(y))
    assert np.sqrt(np.mean(y ** 2)) > 1e-3


@pytest.mark.parametrize("midi", [45, 57, 69, 81])
def test_harmonic_mel_round_trips_to_its_f0(logmel, vocoders, midi):
    y = vocoders["harmonic-noise"](mel_of(logmel, harmonic_note(midi)), midi)
    f0, voiced, _ = pyin(y)
    assert voiced.mean() > 0.5
    cents = 1200 * np.log2(np.nanmedian(f0[voiced]) / librosa.midi_to_hz(midi))
    assert abs(cents) < 50


@pytest.mark.parametrize("midi", [40, 52, 64, 76, 88])
def test_pitch_is_estimated_from_the_mel(logmel, midi):
    vocoder = HarmonicNoiseVocoder(CFG)
    assert vocoder.estimate_pitch(mel_of(logmel, harmonic_note(midi, seed=midi))) == pytest.approx(midi, abs=0.5)


def harmonic_share(vocoder: HarmonicNoiseVocoder, mel: np.ndarray, midi: float) -> float:
    """Share of the fitted mel magnitude that the harmonic atoms explain."""
    target = mel_magnitude(mel, CFG)
    amplitudes, gains, hz = vocoder.decompose(target, float(librosa.midi_to_hz(midi)))
    harmonic = vocoder.harmonic_atoms(float(librosa.midi_to_hz(midi)))[0] @ amplitudes
    return float(harmonic.sum() / (harmonic.sum() + (vocoder.noise_atoms @ gains).sum()))


def flatness(audio: np.ndarray) -> float:
    """Mean spectral flatness of the first 0.5 s: about 0.56 for white noise, under 0.001 for a harmonic tone."""
    return float(np.mean(librosa.feature.spectral_flatness(y=audio[: SAMPLE_RATE // 2], n_fft=2048, hop_length=512)))


@pytest.mark.parametrize("midi", [40, 60, 80])
def test_noise_is_not_made_tonal(logmel, vocoders, midi):
    """White noise vocoded at any pitch stays noise (the harmonics are dropped); a tone stays a tone."""
    vocoder, noise, tone = vocoders["harmonic-noise"], noise_note(), harmonic_note(midi)
    noise_mel, tone_mel = mel_of(logmel, noise), mel_of(logmel, tone)
    assert harmonic_share(vocoder, noise_mel, midi) < 0.1 < 0.8 < harmonic_share(vocoder, tone_mel, midi)
    assert vocoder.voicing(mel_magnitude(noise_mel, CFG), librosa.midi_to_hz(midi)).mean() < 0.1
    assert flatness(vocoder(noise_mel, midi)) > 0.8 * flatness(noise)
    assert flatness(vocoder(tone_mel, midi)) < 0.01 * flatness(noise)


def test_gliding_recording_at_the_fallback_pitch(logmel, vocoders):
    """The handsaw, whose pitch glides (no fixed f0), at the pipeline's fallback pitch: no harmonic comb is
    invented at that pitch, and the noise part keeps its mel-resolution distance within twice Griffin-Lim's."""
    note = load_note(HANDSAW, CFG)
    mel = mel_of(logmel, note)
    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=CFG.n_fft, n_mels=CFG.n_mels, fmin=CFG.f_min, fmax=CFG.f_max)
    dist = {name: log_spectral_l1(v(mel, 60), note, CFG.n_fft, CFG.hop_length, basis) for name, v in vocoders.items()}
    assert dist["harmonic-noise"] < 2 * dist["griffin-lim"]
    assert harmonic_share(vocoders["harmonic-noise"], mel, 60) < 0.2


def test_harmonic_noise_resolves_harmonics_better_than_griffin_lim(logmel, vocoders):
    notes = [harmonic_note(m, seed=m) for m in (48, 60, 72)]
    dist = {name: np.mean([log_spectral_l1(v(mel_of(logmel, y), m), y, FINE_N_FFT, FINE_HOP)
                           for y, m in zip(notes, (48, 60, 72))]) for name, v in vocoders.items()}
    assert dist["harmonic-noise"] < 0.8 * dist["griffin-lim"]


def test_bad_inputs_are_refused(vocoders):
    with pytest.raises(ValueError, match="shape"):
        vocoders["harmonic-noise"](np.zeros((64, 128), np.float32), 60)
    with pytest.raises(ValueError, match="finite"):
        vocoders["harmonic-noise"](np.zeros((128, 128), np.float32), float("nan"))


def test_unknown_vocoder_names_the_valid_ones(model):
    for call in (lambda: make_vocoder("wavenet", CFG), lambda: HyperGANStrument.from_pretrained(vocoder="wavenet"),
                 lambda: model.synthesize(PIANO, 60, "gan", vocoder="wavenet")):
        with pytest.raises(ValueError) as error:
            call()
        assert "wavenet" in str(error.value) and all(name in str(error.value) for name in VOCODERS)


def test_vocoder_is_chosen_per_call_and_per_model(model):
    assert DEFAULT_VOCODER in VOCODERS and model.vocoder_name == DEFAULT_VOCODER
    default = model.synthesize(PIANO, 64, "gan")
    gl = model.synthesize(PIANO, 64, "gan", vocoder="griffin-lim")
    np.testing.assert_array_equal(default.mel, gl.mel)  # same network output, another vocoder
    assert not np.allclose(default.audio, gl.audio, atol=1e-3)
    gl_model = HyperGANStrument.from_pretrained(model.model_dir, vocoder="griffin-lim")
    np.testing.assert_allclose(gl_model.synthesize(PIANO, 64, "gan").audio, gl.audio, atol=1e-6)
    assert model.vocoder_name == DEFAULT_VOCODER  # a per-call choice leaves the default alone


@pytest.mark.slow
def test_cli_vocoder_option(model, tmp_path):
    import soundfile as sf

    out = tmp_path / "gl.wav"
    proc = run_cli("synth", PIANO, "--pitch", "64", "--method", "gan", "--vocoder", "griffin-lim", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "griffin-lim" in proc.stdout
    y, _ = sf.read(str(out), dtype="float32")
    np.testing.assert_allclose(y, model.synthesize(PIANO, 64, "gan", vocoder="griffin-lim").audio, atol=2 / 32768)


def test_cli_refuses_an_unknown_vocoder(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli_main(["synth", str(PIANO), "--pitch", "64", "--vocoder", "wavenet", "-o", str(tmp_path / "x.wav")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "wavenet" in err and all(name in err for name in VOCODERS)
