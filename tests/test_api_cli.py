"""The user-facing API (HyperGANStrument) and the command line, on real recordings.

Uses whatever ``HyperGANStrument.from_pretrained()`` loads (the bundled checkpoint, or HYPERLIB_CHECKPOINT).
"""
from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import HANDSAW, NUM_SAMPLES, PIANO, SAMPLE_RATE, run_cli
from hyperlib import METHODS, AudioError, Result
from hyperlib.cli import main as cli_main
from hyperlib.models import checked_refine, refine

THREE = ("gan", "encoder", "hyper")
PEAK = 10 ** (-1 / 20)


def check_result(r: Result, method: str, pitch: int) -> None:
    assert isinstance(r, Result)
    assert r.method == method and r.pitch == pitch and isinstance(r.pitch, int)
    assert r.sample_rate == SAMPLE_RATE
    assert isinstance(r.audio, np.ndarray) and r.audio.dtype == np.float32 and r.audio.shape == (NUM_SAMPLES,)
    assert np.all(np.isfinite(r.audio))
    assert np.sqrt(np.mean(r.audio ** 2)) > 1e-3  # not silent
    assert np.max(np.abs(r.audio)) == pytest.approx(PEAK, abs=1e-3)  # normalized like the front end
    assert r.mel.shape == (128, 128) and np.all(np.isfinite(r.mel))
    if method.startswith("hyper"):
        assert r.mel_init is not None and r.mel_init.shape == (128, 128)
    else:
        assert r.mel_init is None
    assert r.timings_ms["total"] > 0


def test_from_pretrained(model):
    assert set(model.nets) >= {"f", "G", "E", "H", "H_pre"}
    assert all(not net.training for net in model.nets.values())
    assert model.audio_config.sample_rate == SAMPLE_RATE and model.audio_config.num_samples == NUM_SAMPLES
    assert set(THREE) <= set(METHODS)


# -- the three tasks, three methods ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", THREE)
def test_reconstruct(model, method):
    r = model.reconstruct(PIANO, method)
    check_result(r, method, model.estimate_pitch(model.prepare(PIANO)))
    r = model.reconstruct(HANDSAW, method, pitch=55)
    check_result(r, method, 55)


@pytest.mark.parametrize("method", THREE)
@pytest.mark.parametrize("sound", [PIANO, HANDSAW], ids=lambda p: p.name)
def test_synthesize(model, method, sound):
    check_result(model.synthesize(sound, pitch=64, method=method), method, 64)


@pytest.mark.parametrize("vocoder", [None, "griffin-lim"], ids=["default-vocoder", "griffin-lim"])
@pytest.mark.parametrize("pitch", [55, 64, 72])
def test_synthesize_plays_the_asked_pitch(model, pitch, vocoder):
    """pYIN on the rendered audio, not the Result's echo of the argument: the piano's timbre at MIDI ``pitch`` is
    within 50 cents of it, through the default vocoder (driven at the asked f0) and through Griffin-Lim, where the
    pitch can only come from the harmonics G drew in the mel."""
    r = model.synthesize(PIANO, pitch=pitch, method="hyper", vocoder=vocoder)
    asked = librosa.midi_to_hz(pitch)
    f0, voiced, _ = librosa.pyin(r.audio[: r.sample_rate // 2], fmin=asked / 2, fmax=asked * 2, sr=r.sample_rate,
                                 frame_length=2048)
    assert voiced.sum() >= 5, f"pYIN found {voiced.sum()} voiced frames"
    cents = 1200 * np.log2(np.median(f0[voiced]) / asked)
    assert abs(cents) < 50, f"MIDI {pitch} played {cents:+.0f} cents off"


@pytest.mark.parametrize("method", THREE)
def test_interpolate(model, method):
    r = model.interpolate([PIANO, HANDSAW], [0.3, 0.7], pitch=69, method=method)
    check_result(r, method, 69)
    # weights are normalized: [3, 7] is [0.3, 0.7]
    np.testing.assert_allclose(model.interpolate([PIANO, HANDSAW], [3, 7], pitch=69, method=method).mel, r.mel,
                               atol=1e-5)


@pytest.mark.parametrize("method", THREE)
def test_interpolate_one_hot_is_synthesize(model, method):
    """All weight on one sound gives that sound's synthesis."""
    mix = model.interpolate([PIANO, HANDSAW], [0.0, 1.0], pitch=62, method=method)
    alone = model.synthesize(HANDSAW, pitch=62, method=method)
    np.testing.assert_allclose(mix.mel, alone.mel, atol=1e-6)
    other = model.synthesize(PIANO, pitch=62, method=method)
    # the other sound's code does change the output, by far more than the one-hot mix differs
    assert np.abs(other.mel - alone.mel).max() > 10 * max(np.abs(mix.mel - alone.mel).max(), 1e-7)


def test_estimate_pitch_of_real_piano(model):
    assert abs(model.estimate_pitch(model.prepare(PIANO)) - 60) <= 1  # piano_c4.aif is C4 = MIDI 60


def test_pitch_changes_output(model):
    low, high = model.synthesize(PIANO, 48, "gan"), model.synthesize(PIANO, 72, "gan")
    assert np.abs(low.mel - high.mel).mean() > 1e-3


def test_hyper_with_zero_steps_equals_gan(model):
    gan = model.synthesize(PIANO, 64, "gan")
    hyper0 = model.synthesize(PIANO, 64, "hyper", steps=0)
    assert np.array_equal(hyper0.mel, gan.mel)
    assert np.array_equal(hyper0.audio, gan.audio)
    mix_gan = model.interpolate([PIANO, HANDSAW], [0.3, 0.7], 69, "gan")
    mix_hyper0 = model.interpolate([PIANO, HANDSAW], [0.3, 0.7], 69, "hyper", steps=0)
    assert np.array_equal(mix_hyper0.mel, mix_gan.mel)


def test_hyper_refines_from_the_gan_output(model, monkeypatch):
    monkeypatch.setattr(model, "check_refinement", False)  # every step taken
    gan = model.synthesize(PIANO, 64, "gan")
    hyper = model.synthesize(PIANO, 64, "hyper", steps=3)
    assert np.array_equal(hyper.mel_init, gan.mel)  # x_init = G(h, 0, p)
    assert not np.array_equal(hyper.mel, gan.mel)  # the trained H does change G's weights
    pre = model.synthesize(PIANO, 64, "hyper-pre", steps=3)
    check_result(pre, "hyper-pre", 64)


@pytest.mark.parametrize("sound", [PIANO, HANDSAW])
def test_hyper_checks_each_step_against_the_input(model, monkeypatch, sound):
    """With ``check_refinement`` the hyper methods render checked_refine's note, the step chosen at the input's own
    pitch (pYIN); without it, every step (``refine``), bit for bit."""
    note = model.prepare(sound)
    x, own, p = model.mel(note), torch.tensor([model.estimate_pitch(note)]), torch.tensor([67])
    nets = model.nets
    with torch.no_grad():
        h = nets["f"](x)
        checked = {t: checked_refine(nets["G"], nets["f"], nets["H"], h, q, 2, x, own)
                   for t, q in (("synthesis", p), ("reconstruction", own))}
        plain = refine(nets["G"], nets["f"], nets["H"], h, p, 2)[0][-1]
    monkeypatch.setattr(model, "check_refinement", True)
    assert np.array_equal(model.synthesize(sound, 67, "hyper", steps=2).mel, checked["synthesis"].x[0, 0].numpy())
    rec = model.reconstruct(sound, "hyper", steps=2)
    assert rec.pitch == own.item() and np.array_equal(rec.mel, checked["reconstruction"].x[0, 0].numpy())
    monkeypatch.setattr(model, "check_refinement", False)
    assert np.array_equal(model.synthesize(sound, 67, "hyper", steps=2).mel, plain[0, 0].numpy())


def test_results_are_deterministic(model):
    a, b = model.synthesize(HANDSAW, 60, "hyper"), model.synthesize(HANDSAW, 60, "hyper")
    assert np.array_equal(a.audio, b.audio) and np.array_equal(a.mel, b.mel)


@pytest.mark.parametrize("method", THREE)
def test_array_input(model, method):
    y, sr = sf.read(str(PIANO), dtype="float32")
    from_array = model.synthesize((y, sr), 64, method)
    check_result(from_array, method, 64)
    np.testing.assert_allclose(from_array.mel, model.synthesize(PIANO, 64, method).mel, atol=1e-4)
    y8, sr8 = sf.read(str(HANDSAW), dtype="float32")
    check_result(model.interpolate([(y, sr), (y8, sr8)], [1, 1], 60, method), method, 60)
    check_result(model.reconstruct((y8, sr8), method, pitch=50), method, 50)


# -- errors --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pitch", [20, 109, 60.5, -1, "60", None])
def test_bad_pitch(model, pitch):
    with pytest.raises(ValueError, match="21-108"):
        model.synthesize(PIANO, pitch, "gan")
    with pytest.raises(ValueError, match="21-108"):
        model.interpolate([PIANO, HANDSAW], [0.5, 0.5], pitch, "gan")
    if pitch is not None:  # None means "estimate it" for reconstruct
        with pytest.raises(ValueError, match="21-108"):
            model.reconstruct(PIANO, "gan", pitch=pitch)


def test_whole_number_pitch_types_accepted(model):
    assert model.synthesize(PIANO, np.int64(64), "gan").pitch == 64
    assert model.synthesize(PIANO, 64.0, "gan").pitch == 64


@pytest.mark.parametrize("method", ["GAN", "hyperstyle", "", None])
def test_bad_method(model, method):
    with pytest.raises(ValueError, match="method"):
        model.synthesize(PIANO, 64, method)
    with pytest.raises(ValueError, match="method"):
        model.reconstruct(PIANO, method)
    with pytest.raises(ValueError, match="method"):
        model.interpolate([PIANO, HANDSAW], [0.5, 0.5], 64, method)


@pytest.mark.parametrize("weights", [[-0.3, 1.3], [0, 0], [0.0, -0.0], [1.0], [0.2, 0.3, 0.5], [float("nan"), 1],
                                     [float("inf"), 1]], ids=str)
def test_bad_weights(model, weights):
    with pytest.raises(ValueError):
        model.interpolate([PIANO, HANDSAW], weights, 64, "gan")


def test_interpolate_needs_two_sounds(model):
    with pytest.raises(ValueError):
        model.interpolate([PIANO], [1.0], 64, "gan")


@pytest.mark.parametrize("steps", [-1, 11, 1.5, "3"])
def test_bad_steps(model, steps):
    with pytest.raises(ValueError, match="steps"):
        model.synthesize(PIANO, 64, "hyper", steps=steps)


def test_bad_audio_through_the_api(model, tmp_path):
    with pytest.raises(AudioError):
        model.synthesize(tmp_path / "missing.wav", 64, "gan")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(8000), 16000)
    with pytest.raises(AudioError):
        model.reconstruct(silent, "hyper")
    with pytest.raises(AudioError):
        model.interpolate([PIANO, silent], [0.5, 0.5], 64, "encoder")


WRONG_TYPES = {  # call -> (exception type, words of the message)
    "synthesize None": (lambda m, out: m.synthesize(None, 60), AudioError, "file path or a (samples"),
    "synthesize bytes": (lambda m, out: m.synthesize(b"piano.wav", 60), AudioError, "got bytes"),
    "synthesize 3": (lambda m, out: m.synthesize(3, 60), AudioError, "got int"),
    "interpolate None": (lambda m, out: m.interpolate(None, [1, 1], 60), TypeError, "list of sounds"),
    "interpolate second None": (lambda m, out: m.interpolate([PIANO, None], [1, 1], 60), AudioError, "NoneType"),
    "weights None": (lambda m, out: m.interpolate([PIANO, HANDSAW], None, 60), TypeError, "list of numbers"),
    "weights strings": (lambda m, out: m.interpolate([PIANO, HANDSAW], ["a", "b"], 60), TypeError, "numbers"),
    "morph second a list": (lambda m, out: m.morph([PIANO, [1, 2]], nodes=3), AudioError, "got list"),
    "morph None": (lambda m, out: m.morph(None), TypeError, "list of 2 or 4 sounds"),
    "melody pitch 60.7": (lambda m, out: m.melody(PIANO, [(60.7, 0, 0.5)]), ValueError, "whole number"),
    "melody velocity 90.5": (lambda m, out: m.melody(PIANO, [(60, 0, 0.5, 90.5)]), ValueError, "whole number"),
    "melody notes None": (lambda m, out: m.melody(PIANO, None), TypeError, "list of (pitch"),
    "melody sound None": (lambda m, out: m.melody(None, "60:0:0.5"), AudioError, "NoneType"),
    "melody release None": (lambda m, out: m.melody(PIANO, "60:0:0.5", release_s=None), ValueError, "Release"),
    "sfz out_dir None": (lambda m, out: m.export_sfz(PIANO, None), TypeError, "out_dir"),
    "sfz every 2.5": (lambda m, out: m.export_sfz(PIANO, out, every=2.5), ValueError, "whole number"),
    "sfz every True": (lambda m, out: m.export_sfz(PIANO, out, every=True), ValueError, "whole number"),
    "sfz name 5": (lambda m, out: m.export_sfz(PIANO, out, name=5), TypeError, "name"),
    "edit faders None": (lambda m, out: m.edit(PIANO, None, pitch=60), TypeError, "mapping"),
}


@pytest.mark.parametrize("case", list(WRONG_TYPES))
def test_wrong_types_are_refused_before_any_work(model, tmp_path, monkeypatch, case):
    """Each public call names what was wrong, with the project's own message, before any note is decoded or
    rendered."""
    call, error, words = WRONG_TYPES[case]
    if case == "edit faders None":
        model.load_faders()

    def no_work(*args, **kwargs):
        raise AssertionError("decoded or rendered before the arguments were checked")

    for name in ("prepare", "encode", "render_code"):
        monkeypatch.setattr(model, name, no_work)
    with pytest.raises(error) as info:
        call(model, tmp_path / "sfz")
    assert words in str(info.value)
    assert not (tmp_path / "sfz").exists()


# -- command line ----------------------------------------------------------------------------------------------------
def read_wav(path) -> np.ndarray:
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.frames, info.format, info.subtype) == \
        (SAMPLE_RATE, 1, NUM_SAMPLES, "WAV", "PCM_16")
    y, _ = sf.read(str(path), dtype="float32")
    assert np.sqrt(np.mean(y ** 2)) > 1e-3
    return y


@pytest.mark.slow
def test_cli_synthesize(model, tmp_path):
    out = tmp_path / "out.wav"
    proc = run_cli("synthesize", PIANO, "--pitch", "64", "--method", "hyper", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout
    y = read_wav(out)
    # the same note as the API gives
    np.testing.assert_allclose(y, model.synthesize(PIANO, 64, "hyper").audio, atol=2 / 32768)


@pytest.mark.slow
def test_cli_reconstruct_and_interpolate(model, tmp_path):
    out = tmp_path / "rec.wav"
    proc = run_cli("reconstruct", PIANO, "--method", "gan", "-o", out)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(read_wav(out), model.reconstruct(PIANO, "gan").audio, atol=2 / 32768)
    out = tmp_path / "mix.wav"
    proc = run_cli("interpolate", PIANO, HANDSAW, "--weights", "0.3", "0.7", "--pitch", "69", "--method", "encoder",
                   "-o", out)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(read_wav(out), model.interpolate([PIANO, HANDSAW], [0.3, 0.7], 69, "encoder").audio,
                               atol=2 / 32768)


@pytest.mark.parametrize("args", [["synthesize", "{tmp}/missing.wav", "--pitch", "64"],
                                  ["synthesize", str(PIANO), "--pitch", "109"]], ids=["missing file", "pitch 109"])
def test_cli_errors_exit_2(tmp_path, args):
    out = tmp_path / "out.wav"
    proc = run_cli(*[a.format(tmp=tmp_path) for a in args], "-o", out)
    assert proc.returncode == 2
    assert "error:" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists()


@pytest.mark.parametrize("args", [
    ["synthesize", "{tmp}/not_audio.wav", "--pitch", "64"],
    ["synthesize", str(PIANO), "--pitch", "20"],
    ["reconstruct", str(PIANO), "--pitch", "200"],
    ["interpolate", str(PIANO), str(HANDSAW), "--weights", "-1", "2", "--pitch", "60"],
    ["interpolate", str(PIANO), str(HANDSAW), "--weights", "0", "0", "--pitch", "60"],
    ["interpolate", str(PIANO), str(HANDSAW), "--weights", "1", "--pitch", "60"],
    ["interpolate", str(PIANO), "--weights", "1", "--pitch", "60"],
    ["synthesize", str(PIANO), "--pitch", "64", "--steps", "-1"],
], ids=["not audio", "pitch 20", "pitch 200", "negative weight", "zero weights", "weight count", "one sound",
        "negative steps"])
def test_cli_errors_in_process(tmp_path, capsys, args):
    (tmp_path / "not_audio.wav").write_text("definitely not a RIFF file\n" * 50)
    out = tmp_path / "out.wav"
    assert cli_main([a.format(tmp=tmp_path) for a in args] + ["-o", str(out)]) == 2
    assert capsys.readouterr().err.startswith("error:")
    assert not out.exists()


@pytest.mark.parametrize("args", [["synthesize", str(PIANO), "--pitch", "60.5"],
                                  ["synthesize", str(PIANO), "--pitch", "64", "--method", "bogus"],
                                  ["synthesize", str(PIANO)]], ids=["fractional pitch", "bad method", "no pitch"])
def test_cli_usage_errors(tmp_path, capsys, args):
    with pytest.raises(SystemExit) as info:
        cli_main(args + ["-o", str(tmp_path / "out.wav")])
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err
