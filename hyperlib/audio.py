"""Audio front end: load any common file, make a one-shot note, write WAV.

All functions work on float32 mono numpy arrays in [-1, 1] at ``AudioConfig.sample_rate`` Hz unless
stated. Errors are ``AudioError`` with a message that says what was wrong and what is accepted.
"""
from __future__ import annotations

import io
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


class AudioError(ValueError):
    """Raised for input that is not usable audio; the message is meant for the end user."""


def load_audio(source: AudioInput, sample_rate: int, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Decode ``source`` to mono float32 at ``sample_rate`` Hz.

    Args:
        source: file path (any format soundfile or audioread/ffmpeg reads) or ``(array, sr)``.
        sample_rate: output rate in Hz.
        max_seconds: only the first ``max_seconds`` seconds are read, so memory stays bounded.
    Returns:
        (n,) float32 waveform.
    Raises:
        AudioError: unreadable, empty, or non-finite audio.
    """
    if isinstance(source, tuple):
        if len(source) != 2:
            raise AudioError(f"Expected a (samples, sample_rate) pair; accepted: {ACCEPTED}.")
        y, sr = np.asarray(source[0]), source[1]
        if not isinstance(sr, (int, np.integer)) or sr <= 0:
            raise AudioError(f"Sample rate must be a positive integer in Hz, got {sr!r}.")
        if y.ndim == 2:  # (n, channels) or (channels, n): the longer axis is time
            y = y.mean(axis=1 if y.shape[0] >= y.shape[1] else 0)
        elif y.ndim != 1:
            raise AudioError(f"Samples must be 1-D or 2-D, got shape {y.shape}.")
        if np.issubdtype(y.dtype, np.integer):
            y = y.astype(np.float32) / float(np.iinfo(y.dtype).max)
        y = y[: int(max_seconds * sr)].astype(np.float32)
    else:
        path = Path(source)
        if not path.is_file():
            raise AudioError(f"No such audio file: {path}.")
        if path.stat().st_size == 0:
            raise AudioError(f"The file {path.name} is empty; accepted: {ACCEPTED}.")
        y, sr = _read_file(path, max_seconds)
    if y.size == 0:
        raise AudioError(f"The sound has no samples; accepted: {ACCEPTED}.")
    if not np.all(np.isfinite(y)):
        raise AudioError("The sound contains NaN or infinite samples; please upload ordinary audio.")
    if sr != sample_rate:
        y = librosa.resample(y, orig_sr=int(sr), target_sr=sample_rate)
    return y.astype(np.float32)


def _read_file(path: Path, max_seconds: float) -> tuple[np.ndarray, int]:
    """Read the start of ``path`` as mono float32, with soundfile first and librosa/audioread after."""
    try:
        with sf.SoundFile(str(path)) as f:
            frames = min(f.frames, int(max_seconds * f.samplerate)) if f.frames > 0 else -1
            y = f.read(frames=frames, dtype="float32", always_2d=True)
            return y.mean(axis=1), f.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass
    try:
        y, sr = librosa.load(str(path), sr=None, mono=True, duration=max_seconds)
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
