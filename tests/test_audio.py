"""Front end (load_audio, prepare_note, load_note), the log-mel and the Griffin-Lim vocoder."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import EXAMPLES, HANDSAW, NUM_SAMPLES, PIANO, SAMPLE_RATE, dominant_frequency, tone
from hyperlib import AudioConfig, AudioError
from hyperlib.audio import load_audio, load_note, prepare_note, wav_bytes, write_wav
from hyperlib.mel import LogMel
from hyperlib.vocoders import GriffinLimVocoder

CFG = AudioConfig()
PEAK = 10 ** (CFG.peak_dbfs / 20)  # -1 dBFS


@pytest.fixture(scope="module")
def logmel():
    return LogMel(CFG)


@pytest.fixture(scope="module")
def vocoder():
    return GriffinLimVocoder(CFG)


def assert_note(y: np.ndarray) -> None:
    """The front end's contract: mono float32, exactly num_samples, finite, peak at -1 dBFS."""
    assert isinstance(y, np.ndarray)
    assert y.dtype == np.float32
    assert y.shape == (NUM_SAMPLES,)
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y)) == pytest.approx(PEAK, abs=1e-4)


# -- files of every supported format, rate, channel count and sample type ---------------------------------------
FILE_CASES = [  # (extension, soundfile format, subtype, sample rate, channels)
    ("wav", "WAV", "PCM_U8", 8000, 1),
    ("wav", "WAV", "PCM_16", 16000, 1),
    ("wav", "WAV", "PCM_16", 44100, 2),
    ("wav", "WAV", "PCM_24", 96000, 1),
    ("wav", "WAV", "PCM_24", 44100, 2),
    ("wav", "WAV", "FLOAT", 44100, 1),
    ("wav", "WAV", "FLOAT", 96000, 2),
    ("flac", "FLAC", "PCM_16", 44100, 1),
    ("flac", "FLAC", "PCM_24", 96000, 2),
    ("flac", "FLAC", "PCM_16", 8000, 1),
    ("ogg", "OGG", "VORBIS", 44100, 2),
    ("ogg", "OGG", "VORBIS", 8000, 1),
    ("aiff", "AIFF", "PCM_16", 44100, 1),
    ("aiff", "AIFF", "PCM_24", 96000, 2),
    ("aif", "AIFF", "PCM_16", 8000, 1),
]


@pytest.mark.parametrize("ext,fmt,subtype,sr,channels", FILE_CASES,
                         ids=[f"{c[0]}-{c[2]}-{c[3]}Hz-{c[4]}ch" for c in FILE_CASES])
def test_load_file_formats(tmp_path, ext, fmt, subtype, sr, channels):
    freq = 440.0 if sr > 8000 else 330.0
    path = tmp_path / f"tone.{ext}"
    sf.write(path, tone(freq, sr, seconds=1.2, channels=channels), sr, format=fmt, subtype=subtype)

    y = load_audio(path, SAMPLE_RATE)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 1.2 * SAMPLE_RATE) <= 0.01 * SAMPLE_RATE  # resampled to 16 kHz, duration kept
    assert dominant_frequency(y, SAMPLE_RATE) == pytest.approx(freq, rel=0.02)  # the right rate was used

    note = load_note(path, CFG)
    assert_note(note)
    assert dominant_frequency(note, SAMPLE_RATE) == pytest.approx(freq, rel=0.02)


def test_stereo_is_downmixed_not_one_channel(tmp_path):
    """A stereo file whose channels are a tone and silence: the mix keeps the tone at half level."""
    y = tone(440.0, 44100, seconds=0.5)
    path = tmp_path / "half.wav"
    sf.write(path, np.stack([y, np.zeros_like(y)], axis=1), 44100, subtype="FLOAT")
    mono = load_audio(path, 44100)
    np.testing.assert_allclose(mono, y / 2, atol=1e-6)


@pytest.mark.parametrize("path", sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".aif", ".ogg", ".wav", ".flac")),
                         ids=lambda p: p.name)
def test_real_examples(path):
    note = load_note(path, CFG)
    assert_note(note)
    assert np.sqrt(np.mean(note ** 2)) > 0.01  # a real sound, not a click followed by padding


def test_real_piano_is_c4():
    note = load_note(PIANO, CFG)
    f = dominant_frequency(note[:8000], SAMPLE_RATE)
    assert any(abs(f / (261.63 * k) - 1) < 0.03 for k in (1, 2, 3)), f  # C4 or one of its first partials


def test_handsaw_at_8khz_is_resampled():
    raw, sr = sf.read(str(HANDSAW))
    y = load_audio(HANDSAW, SAMPLE_RATE)
    assert sr == 8000
    assert len(y) == pytest.approx(len(raw) * SAMPLE_RATE / sr, abs=2)


# -- (array, sample_rate) pairs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("sr", [8000, 16000, 44100, 96000])
def test_array_pairs(sr):
    y = tone(440.0, sr, seconds=1.0)
    note = load_note((y.astype(np.float32), sr), CFG)
    assert_note(note)
    assert dominant_frequency(note, SAMPLE_RATE) == pytest.approx(440.0, rel=0.02)


@pytest.mark.parametrize("layout", ["(n, 2)", "(2, n)", "int16", "float64"])
def test_array_pair_layouts(layout):
    y = tone(440.0, 22050, seconds=1.0)
    if layout == "(n, 2)":
        arr = np.stack([y, y], axis=1).astype(np.float32)
    elif layout == "(2, n)":
        arr = np.stack([y, y], axis=0).astype(np.float32)
    elif layout == "int16":
        arr = (y * 32767).astype(np.int16)
    else:
        arr = y
    loaded = load_audio((arr, 22050), 22050)
    assert loaded.dtype == np.float32 and loaded.shape == (len(y),)
    np.testing.assert_allclose(loaded, y, atol=1e-4)  # int16 is scaled to [-1, 1], channels averaged


def test_array_pair_same_as_file(tmp_path):
    y = tone(440.0, 44100, seconds=1.0).astype(np.float32)
    path = tmp_path / "t.wav"
    sf.write(path, y, 44100, subtype="FLOAT")
    np.testing.assert_allclose(load_note((y, 44100), CFG), load_note(path, CFG), atol=1e-6)


# -- onset, length and level -------------------------------------------------------------------------------------
@pytest.mark.parametrize("sr", [16000, 44100])
def test_onset_is_trimmed(sr):
    """A tone after 0.3 s of silence starts near sample 0 of the prepared note."""
    y = tone(440.0, sr, seconds=1.0, delay_s=0.3)
    note = load_note((y.astype(np.float32), sr), CFG)
    first = int(np.argmax(np.abs(note) > 0.01 * PEAK))
    assert first < 0.02 * SAMPLE_RATE  # within 20 ms (the pre-roll is 5 ms), not at 0.3 s = 4800
    assert np.max(np.abs(note[: int(0.3 * SAMPLE_RATE)])) > 0.5 * PEAK  # the tone fills what was silence


def test_prepare_note_pads_and_crops():
    short = (0.1 * np.sin(2 * np.pi * 440 * np.arange(4000) / SAMPLE_RATE)).astype(np.float32)
    note = prepare_note(short, CFG)
    assert_note(note)
    assert np.all(note[4100:] == 0)  # padded with silence after the sound
    long = tone(440.0, SAMPLE_RATE, seconds=3.0).astype(np.float32)
    assert_note(prepare_note(long, CFG))


def test_level_is_normalized_whatever_the_input_level():
    for amp in (0.001, 0.05, 1.0):
        assert_note(load_note((tone(440.0, amp=amp).astype(np.float32), SAMPLE_RATE), CFG))


# -- errors --------------------------------------------------------------------------------------------------------
def _write_error_case(tmp_path, case):
    path = tmp_path / "bad.wav"
    if case == "empty file":
        path.write_bytes(b"")
    elif case == "text renamed .wav":
        path.write_text("This is a plain text file, not audio at all.\n" * 20)
    elif case == "all zeros":
        sf.write(path, np.zeros(16000), 16000)
    elif case == "nan samples":
        y = tone(440.0).astype(np.float32)
        y[100:200] = np.nan
        sf.write(path, y, 16000, subtype="FLOAT")
    elif case == "missing file":
        path = tmp_path / "does_not_exist.wav"
    elif case == "zero-length wav":
        sf.write(path, np.zeros(0), 16000)
    return path


@pytest.mark.parametrize("case", ["empty file", "text renamed .wav", "all zeros", "nan samples", "missing file",
                                  "zero-length wav"])
def test_bad_files_raise_audio_error(tmp_path, case):
    path = _write_error_case(tmp_path, case)
    with pytest.raises(AudioError) as info:
        load_note(path, CFG)
    assert str(info.value)  # a message for the user
    assert isinstance(info.value, ValueError)  # AudioError is a ValueError


@pytest.mark.parametrize("pair", [
    (np.zeros(16000, np.float32), 16000),
    (np.full(16000, np.nan, np.float32), 16000),
    (np.array([0.1, np.inf, 0.2], np.float32), 16000),
    (np.zeros(0, np.float32), 16000),
    (np.ones((2, 2, 100), np.float32), 16000),
    (np.ones(1000, np.float32), 0),
    (np.ones(1000, np.float32), 16000.5),
    (np.ones(1000, np.float32), 16000, "extra"),
    (np.zeros((1, 0), np.float32), 16000),
    (np.ones(1000, np.float32), 2 ** 40),
    (np.ones(1000, np.float32), True),
    (np.array(["a", "b"]), 16000),
    (b"\x00\x01" * 500, 16000),
    (np.ones((1000, 100), np.float32), 16000),
], ids=["zeros", "nan", "inf", "empty", "3-d", "sr=0", "float sr", "3-tuple", "(1, 0)", "sr=2**40", "sr=True",
        "strings", "bytes", "100 channels"])
def test_bad_pairs_raise_audio_error(pair):
    with pytest.raises(AudioError):
        load_note(pair, CFG)


@pytest.mark.parametrize("pair, words", [((np.zeros((1, 0), np.float32), 16000), "no samples"),
                                         ((np.ones(1000, np.float32), 2 ** 40), "sample rate"),
                                         ((np.ones(1000, np.float32), True), "sample rate")])
def test_bad_pairs_are_named_as_what_they_are(pair, words):
    with pytest.raises(AudioError, match=words):
        load_note(pair, CFG)


@pytest.mark.parametrize("source", [None, 3, 2.5, b"piano.wav", ["a.wav"], np.zeros(100), ""],
                         ids=["None", "int", "float", "bytes", "list", "bare array", "empty string"])
def test_wrong_types_raise_audio_error_with_words(source):
    with pytest.raises(AudioError, match="file path or a \\(samples, sample_rate\\) pair|No such audio file"):
        load_note(source, CFG)


def test_whole_float_sample_rate_is_accepted():
    y = tone(440.0, 22050, seconds=0.5).astype(np.float32)
    np.testing.assert_array_equal(load_audio((y, 22050.0), 16000), load_audio((y, 22050), 16000))


# -- memory: the header is checked before decoding, and only the frames used are read ---------------------------
def test_absurd_sample_rate_in_a_header_is_refused(tmp_path):
    path = tmp_path / "fast.flac"
    sf.write(path, np.full((6553, 8), 0.25, np.float32), 655350, format="FLAC")
    with pytest.raises(AudioError, match="655350 Hz"):
        load_audio(path, SAMPLE_RATE)


def test_multichannel_high_rate_file_decodes_within_a_memory_budget(tmp_path):
    """8 channels at the highest accepted rate for longer than the frame budget: decoding it whole would take
    8 x 384000 x 23 x 4 B = 283 MB of float32; the front end stays under 200 MB of extra memory."""
    import tracemalloc

    from hyperlib.audio import MAX_DECODE_FRAMES, MAX_SAMPLE_RATE

    sr, seconds = MAX_SAMPLE_RATE, 23
    path = tmp_path / "wide.flac"
    t = np.arange(sr) / sr
    second = np.repeat((0.5 * np.sin(2 * np.pi * 440.0 * t))[:, None], 8, axis=1).astype(np.float32)
    with sf.SoundFile(path, "w", sr, 8, subtype="PCM_16", format="FLAC") as f:
        for _ in range(seconds):
            f.write(second)
    tracemalloc.start()
    try:
        y = load_audio(path, SAMPLE_RATE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200e6, f"{peak / 1e6:.0f} MB"
    assert len(y) == pytest.approx(MAX_DECODE_FRAMES * SAMPLE_RATE / sr, abs=2)  # only the frames used were read
    assert dominant_frequency(y[:SAMPLE_RATE], SAMPLE_RATE) == pytest.approx(440.0, rel=0.02)


# -- WAV output ----------------------------------------------------------------------------------------------------
def test_write_wav_round_trip(tmp_path):
    y = load_note(PIANO, CFG)
    write_wav(tmp_path / "out.wav", y, SAMPLE_RATE)
    back, sr = sf.read(str(tmp_path / "out.wav"), dtype="float32")
    assert sr == SAMPLE_RATE and back.shape == y.shape
    np.testing.assert_allclose(back, y, atol=1 / 32768 + 1e-6)
    assert sf.info(str(tmp_path / "out.wav")).subtype == "PCM_16"
    assert wav_bytes(y, SAMPLE_RATE) == (tmp_path / "out.wav").read_bytes()


# -- log-mel -------------------------------------------------------------------------------------------------------
def test_logmel_shape_and_range(logmel):
    for path in (PIANO, HANDSAW, EXAMPLES / "trumpet.ogg"):
        mel = logmel(torch.from_numpy(load_note(path, CFG))[None])
        assert mel.shape == (1, 1, CFG.n_mels, CFG.num_frames)
        assert mel.dtype == torch.float32
        assert mel.min() >= -1 - 1e-5 and mel.max() <= 1.05
        assert mel.max() - mel.min() > 0.5  # not a constant image
    loud_noise = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (2, NUM_SAMPLES)).astype(np.float32))
    mel = logmel(loud_noise)
    assert mel.shape == (2, 1, CFG.n_mels, CFG.num_frames)
    assert mel.min() >= -1 - 1e-5 and mel.max() <= 1.05
    silence = logmel(torch.zeros(1, NUM_SAMPLES))
    assert torch.allclose(silence, torch.full_like(silence, -1.0), atol=1e-4)  # the floor maps to -1


def test_logmel_is_differentiable(logmel):
    audio = torch.from_numpy(load_note(PIANO, CFG))[None].requires_grad_(True)
    logmel(audio).mean().backward()
    assert audio.grad is not None and audio.grad.shape == audio.shape
    assert torch.all(torch.isfinite(audio.grad))
    assert audio.grad.abs().max() > 0


def test_logmel_puts_a_tone_in_the_right_band(logmel):
    import librosa

    centers = librosa.mel_frequencies(CFG.n_mels + 2, fmin=CFG.f_min, fmax=CFG.f_max)[1:-1]
    for freq in (220.0, 1000.0, 3000.0):
        mel = logmel(torch.from_numpy(tone(freq, seconds=1.1)[:NUM_SAMPLES].astype(np.float32))[None])
        band = int(mel[0, 0].mean(dim=1).argmax())
        assert abs(band - int(np.argmin(np.abs(centers - freq)))) <= 1


# -- Griffin-Lim ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [PIANO, HANDSAW, EXAMPLES / "violin.ogg", EXAMPLES / "trumpet.ogg"],
                         ids=lambda p: p.name)
def test_griffin_lim_round_trip(logmel, vocoder, path):
    """mel -> audio -> mel: measured L1 0.013-0.072 on these recordings (mel values span [-1, 1])."""
    mel = logmel(torch.from_numpy(load_note(path, CFG))[None])
    audio = vocoder(mel[0, 0].numpy())
    assert audio.dtype == np.float32 and audio.shape == (NUM_SAMPLES,)
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) > 1e-3
    mel2 = logmel(torch.from_numpy(audio)[None])
    l1 = (mel - mel2).abs().mean().item()
    assert l1 < 0.1
    # the bound is meaningful: two different sounds are much further apart than a round trip
    other = PIANO if path != PIANO else HANDSAW
    l1_other = (mel - logmel(torch.from_numpy(load_note(other, CFG))[None])).abs().mean().item()
    assert l1 < 0.5 * l1_other


def test_griffin_lim_sine_keeps_its_frequency(logmel, vocoder):
    sine = prepare_note(tone(440.0, seconds=1.1).astype(np.float32), CFG)
    audio = vocoder(logmel(torch.from_numpy(sine)[None])[0, 0].numpy())
    assert audio.shape == (NUM_SAMPLES,)
    assert dominant_frequency(audio, SAMPLE_RATE) == pytest.approx(440.0, rel=0.03)
