"""Audio front end: load any common file, make a one-shot note, write WAV.

All functions work on float32 mono numpy arrays in [-1, 1] at ``AudioConfig.sample_rate`` Hz unless
stated. Errors are ``AudioError`` with a message that says what was wrong and what is accepted.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Union

import librosa
import numpy as np
import soundfile as sf

from .config import AudioConfig

AudioInput = Union[str, Path, tuple]
"""A path to an audio file, or a ``(samples, sample_rate)`` pair (samples: (n,) or (n, channels))."""

ACCEPTED = "WAV, FLAC, OGG, AIFF or MP3 audio, or a (numpy_array, sample_rate) pair"
MAX_SECONDS = 60.0  # only this much of the start of a long file is decoded
SILENCE_PEAK = 1e-4  # peak amplitude below which a sound counts as silent
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 384000
"""Sample rates (Hz) accepted from a file header or an array pair."""
MAX_CHANNELS = 64
"""Most channels a sound may have (they are averaged to mono)."""
MAX_DECODE_FRAMES = 1 << 23
"""Most frames decoded from one sound (8,388,608: 60 s up to 139.8 kHz, 21.8 s at 384 kHz): with the mono mix this
bounds the front end's memory by about 32 MB of samples whatever the rate, channel count or length of the input."""
BLOCK_BYTES = 4 << 20
"""A file is decoded in blocks of at most this many bytes of float32 samples, each mixed to mono at once."""


class AudioError(ValueError):
    """Raised for input that is not usable audio; the message is meant for the end user."""


def check_source(source) -> None:
    """Check that ``source`` can be a sound before anything is decoded or rendered: a path (str or os.PathLike)
    to a non-empty file, or a ``(samples, sample_rate)`` pair of a 1-D or 2-D numeric array with samples and a
    whole-number sample rate in ``MIN_SAMPLE_RATE``-``MAX_SAMPLE_RATE`` Hz and at most ``MAX_CHANNELS`` channels.

    Raises AudioError saying what was given and what is accepted.
    """
    if isinstance(source, tuple):
        if len(source) != 2:
            raise AudioError(f"Expected a (samples, sample_rate) pair, got a tuple of {len(source)}; "
                             f"accepted: {ACCEPTED}.")
        _check_rate(source[1])
        y = source[0]
        if not isinstance(y, np.ndarray):
            if not isinstance(y, (list, tuple)):
                raise AudioError(f"The samples of a (samples, sample_rate) pair must be a numpy array, got "
                                 f"{type(y).__name__}; accepted: {ACCEPTED}.")
            try:
                y = np.asarray(y, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise AudioError(f"The samples must be numbers ({exc}); accepted: {ACCEPTED}.") from exc
        if y.dtype == bool or not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
            raise AudioError(f"The samples must be integers or real numbers, got dtype {y.dtype}; accepted: "
                             f"{ACCEPTED}.")
        if y.ndim not in (1, 2):
            raise AudioError(f"Samples must be 1-D or 2-D, got shape {y.shape}.")
        if y.size == 0:
            raise AudioError(f"The sound has no samples (shape {y.shape}); accepted: {ACCEPTED}.")
        if y.ndim == 2 and min(y.shape) > MAX_CHANNELS:
            raise AudioError(f"The sound has {min(y.shape)} channels; at most {MAX_CHANNELS} are accepted.")
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if str(source) == "" or not path.is_file():
            raise AudioError(f"No such audio file: {str(source)!r}.")
        if path.stat().st_size == 0:
            raise AudioError(f"The file {path.name} is empty; accepted: {ACCEPTED}.")
    else:
        raise AudioError(f"A sound must be a file path or a (samples, sample_rate) pair, got "
                         f"{type(source).__name__}; accepted: {ACCEPTED}.")


def check_sound(sound, cfg: AudioConfig) -> None:
    """``check_source`` that also accepts a prepared note: ``load_note``'s output, a (cfg.num_samples,) float32
    array of finite samples, which the model's calls take as it is (a bare array is never resampled).

    Raises AudioError saying what was given and what is accepted.
    """
    if not isinstance(sound, np.ndarray):
        check_source(sound)
        return
    n = cfg.num_samples
    if sound.shape != (n,) or sound.dtype != np.float32:
        raise AudioError(f"A bare array is taken as a prepared note (({n},) float32 samples at {cfg.sample_rate} Hz, "
                         f"from model.prepare), got shape {sound.shape} and dtype {sound.dtype}; give other audio as "
                         f"a (samples, sample_rate) pair.")
    if not np.all(np.isfinite(sound)):
        raise AudioError("The prepared note has non-finite samples (NaN or inf).")


def _check_rate(sr) -> int:
    """``sr`` as an int if it is a whole number of Hz in the accepted range; else AudioError."""
    ok = isinstance(sr, (int, float, np.integer, np.floating)) and not isinstance(sr, (bool, np.bool_))
    if not ok or not np.isfinite(sr) or int(sr) != sr or not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
        raise AudioError(f"The sample rate must be a whole number of Hz from {MIN_SAMPLE_RATE} to "
                         f"{MAX_SAMPLE_RATE}, got {sr!r}.")
    return int(sr)


def load_audio(source: AudioInput, sample_rate: int, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Decode ``source`` to mono float32 at ``sample_rate`` Hz.

    Args:
        source: file path (any format soundfile or audioread/ffmpeg reads) or ``(array, sr)``.
        sample_rate: output rate in Hz.
        max_seconds: only the first ``max_seconds`` seconds are read (and at most ``MAX_DECODE_FRAMES`` frames),
            so memory stays bounded.
    Returns:
        (n,) float32 waveform.
    Raises:
        AudioError: not a sound (``check_source``), unreadable, empty, or non-finite audio, or a file whose header
            gives a sample rate or channel count outside the accepted range.
    """
    check_source(source)
    if isinstance(source, tuple):
        y, sr = np.asarray(source[0]), _check_rate(source[1])
        frames = min(int(max_seconds * sr), MAX_DECODE_FRAMES)
        if y.ndim == 2:  # (n, channels) or (channels, n): the longer axis is time
            y = y[:frames] if y.shape[0] >= y.shape[1] else y[:, :frames].T
        else:
            y = y[:frames, None]
        scale = float(np.iinfo(y.dtype).max) if np.issubdtype(y.dtype, np.integer) else 1.0
        y = (y.mean(axis=1, dtype=np.float64) / scale).astype(np.float32)
    else:
        y, sr = _read_file(Path(source), max_seconds)
    if y.size == 0:
        raise AudioError(f"The sound has no samples; accepted: {ACCEPTED}.")
    if not np.all(np.isfinite(y)):
        raise AudioError("The sound contains NaN or infinite samples; please upload ordinary audio.")
    if sr != sample_rate:
        y = librosa.resample(y, orig_sr=int(sr), target_sr=sample_rate)
    return y.astype(np.float32)


def _check_header(path: Path, sr: int, channels: int) -> None:
    if not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
        raise AudioError(f"{path.name} has a sample rate of {sr} Hz; accepted: {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz.")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"{path.name} has {channels} channels; accepted: 1-{MAX_CHANNELS}.")


def _read_file(path: Path, max_seconds: float) -> tuple[np.ndarray, int]:
    """Read the start of ``path`` as mono float32, with soundfile first and librosa/audioread after.

    The header's sample rate and channel count are checked before decoding; soundfile decodes at most
    ``MAX_DECODE_FRAMES`` frames in blocks of ``BLOCK_BYTES``, each mixed to mono at once.
    """
    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return _read_other(path, max_seconds)
    with f:
        _check_header(path, f.samplerate, f.channels)
        limit = min(int(max_seconds * f.samplerate), MAX_DECODE_FRAMES)
        frames = min(f.frames, limit) if 0 < f.frames < 1 << 62 else limit
        block = np.empty((max(1, BLOCK_BYTES // (4 * f.channels)), f.channels), np.float32)
        mono = np.empty(frames, np.float32)
        done = 0
        try:
            while done < frames:
                n = f.read(frames=min(len(block), frames - done), dtype="float32", always_2d=True, out=block).shape[0]
                if n == 0:
                    break
                np.mean(block[:n], axis=1, out=mono[done:done + n])
                done += n
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(f"Could not decode {path.name} as audio; accepted: {ACCEPTED}.") from exc
        return mono[:done], f.samplerate


def _read_other(path: Path, max_seconds: float) -> tuple[np.ndarray, int]:
    """Formats soundfile does not read (e.g. AAC): librosa through audioread, after checking the header."""
    try:
        import audioread

        with audioread.audio_open(str(path)) as f:
            sr, channels = int(f.samplerate), int(f.channels)
    except Exception as exc:  # audioread raises several unrelated types
        raise AudioError(f"Could not decode {path.name} as audio; accepted: {ACCEPTED}.") from exc
    _check_header(path, sr, channels)
    try:
        y, sr = librosa.load(str(path), sr=None, mono=True, duration=min(max_seconds, MAX_DECODE_FRAMES / sr))
        return y.astype(np.float32), int(sr)
    except Exception as exc:  # audioread raises several unrelated types
        raise AudioError(f"Could not decode {path.name} as audio; accepted: {ACCEPTED}.") from exc


def prepare_note(y: np.ndarray, cfg: AudioConfig) -> np.ndarray:
    """Make a one-shot note: trim to the onset, pad or crop to ``cfg.num_samples``, normalize the peak.

    Args:
        y: (n,) float32 mono waveform at ``cfg.sample_rate``.
    Returns:
        (cfg.num_samples,) float32, peak at ``cfg.peak_dbfs`` dB full scale.
    Raises:
        AudioError: the sound is silent.
    """
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak < SILENCE_PEAK:
        raise AudioError("The sound is silent (or nearly so); please upload a sound you can hear.")
    _, (start, _) = librosa.effects.trim(y, top_db=cfg.onset_top_db, frame_length=256, hop_length=64)
    start = max(0, int(start) - int(cfg.preroll_s * cfg.sample_rate))
    y = y[start : start + cfg.num_samples]
    return peak_normalize(np.pad(y, (0, cfg.num_samples - y.size)), cfg.peak_dbfs)


def peak_normalize(audio: np.ndarray, peak_dbfs: float) -> np.ndarray:
    """``audio`` (any shape) scaled so that its peak is at ``peak_dbfs`` dB full scale, as float32.

    Silence (an all-zero or empty array) is returned unscaled. Every note the package outputs goes through this
    (``AudioConfig.peak_dbfs``, -1 dB).
    """
    peak = float(np.max(np.abs(audio))) if np.size(audio) else 0.0
    return (audio * (10 ** (peak_dbfs / 20) / peak)).astype(np.float32) if peak > 0 else np.asarray(audio, np.float32)


def pyin_f0(audio: np.ndarray, sample_rate: int, fmin_hz: float, fmax_hz: float, resolution: float = 0.1,
            seconds: float = 0.5, frame_length: int = 2048) -> float:
    """Median f0 in Hz of the voiced frames of the first ``seconds`` of a note by librosa's pYIN; NaN if none is.

    Args:
        audio: (num_samples,) waveform at ``sample_rate`` Hz.
        fmin_hz, fmax_hz: pYIN's search range in Hz (``fmax_hz`` is lowered to just under Nyquist).
        resolution: pitch-bin width in semitones (librosa's default 0.1). frame_length: samples (2048 = 128 ms
            at 16 kHz).
    """
    y = np.asarray(audio, dtype=np.float32)[: int(seconds * sample_rate)]
    f0, voiced, _ = librosa.pyin(y, fmin=float(fmin_hz), fmax=float(min(fmax_hz, sample_rate / 2 - 1)),
                                 sr=sample_rate, frame_length=frame_length, resolution=resolution)
    f0 = f0[voiced & np.isfinite(f0)]
    return float(np.median(f0)) if f0.size else float("nan")


def load_note(source: AudioInput, cfg: AudioConfig) -> np.ndarray:
    """``load_audio`` then ``prepare_note``: (cfg.num_samples,) float32. Raises AudioError."""
    return prepare_note(load_audio(source, cfg.sample_rate), cfg)


def write_wav(path_or_buffer, audio: np.ndarray, sample_rate: int) -> None:
    """Write float32 mono ``audio`` (values in [-1, 1]) as 16-bit PCM WAV."""
    sf.write(path_or_buffer, np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """The 16-bit WAV file of ``audio`` as bytes."""
    buf = io.BytesIO()
    write_wav(buf, audio, sample_rate)
    return buf.getvalue()
