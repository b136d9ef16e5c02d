"""What sound design measures: corpus codes h = f(x), log-mel distances, audio descriptors, pitch in cents.

Shared by the faders and the morph. Everything runs without gradients on the model's device; arrays are numpy
float32 unless stated.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import librosa
import numpy as np
import torch

from ..audio import pyin_f0
from ..render import invert

if TYPE_CHECKING:
    from ..pipeline import Pipeline


@torch.no_grad()
def corpus_codes(model: "Pipeline", mels: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """h = f(x) for every corpus log-mel.

    Args:
        mels: (N, n_mels, frames) normalized log-mels (float16 or float32), e.g. ``Corpus.mels``.
    Returns:
        (N, h_dim) float32 timbre codes.
    """
    out = []
    for i in range(0, len(mels), batch_size):
        x = torch.from_numpy(np.asarray(mels[i:i + batch_size], dtype=np.float32)).to(model.device)[:, None]
        out.append(invert(model.nets, "gan", x).h.cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def mel_l1(a: np.ndarray, b: np.ndarray) -> float | np.ndarray:
    """Mean absolute difference of normalized log-mels over the last two axes (n_mels, frames)."""
    return np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).mean(axis=(-2, -1))


MFCC_COEFFICIENTS = 20
"""MFCCs per frame for ``mfcc_frames`` (librosa's default); the 0th (loudness) is left out of the distances."""


def mfcc_frames(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """MFCCs 1..MFCC_COEFFICIENTS-1 of a note's audio, frame by frame (1024-sample FFT, 256-sample hop).

    Args:
        audio: (num_samples,) float32 waveform at ``sample_rate`` Hz.
    Returns:
        (MFCC_COEFFICIENTS - 1, frames) float64.
    """
    y = np.asarray(audio, dtype=np.float32)
    return librosa.feature.mfcc(y=y, sr=sample_rate, n_mfcc=MFCC_COEFFICIENTS, n_fft=1024, hop_length=256)[1:]


def mfcc_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Timbre distance of two notes from their audio: the Euclidean distance between their MFCC vectors
    (``mfcc_frames`` of each), averaged over the frames they share. A measure of the sound a listener hears,
    independent of the generator's log-mel (it runs on the vocoded audio, with its own mel filter bank and
    cepstrum)."""
    n = min(a.shape[1], b.shape[1])
    return float(np.linalg.norm(a[:, :n] - b[:, :n], axis=0).mean())


ATTACK_WINDOW_S = 0.1
DESCRIPTORS = {
    "centroid_hz": "spectral centroid (brightness), Hz, energy-weighted mean over frames",
    "attack_per_s": "onset slope (attack): max over the first 100 ms of d(frame energy / peak frame energy)/dt, 1/s",
    "flatness": "spectral flatness (noisiness), 0 (tonal) - 1 (white noise), energy-weighted mean over frames",
    "decay_db": "sustain: level of 0.5-1.0 s relative to 0-0.25 s, dB (0 = sustained, very negative = short)",
}
"""Audio descriptors measured on vocoded notes (``describe``)."""


def describe(audio: np.ndarray, sample_rate: int) -> dict:
    """Timbre descriptors of one note (see ``DESCRIPTORS``).

    Args:
        audio: (num_samples,) float32 waveform at ``sample_rate`` Hz.
    Returns:
        {"centroid_hz", "attack_per_s", "flatness", "decay_db"} as floats.
    """
    y = np.asarray(audio, dtype=np.float32)
    n_fft, hop = 1024, 256
    rms = librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop)[0]
    weight = rms ** 2 / max(float(np.sum(rms ** 2)), 1e-20)
    centroid = librosa.feature.spectral_centroid(y=y, sr=sample_rate, n_fft=n_fft, hop_length=hop)[0]
    flatness = librosa.feature.spectral_flatness(y=y, n_fft=n_fft, hop_length=hop)[0]
    m = min(len(weight), len(centroid), len(flatness))
    # attack: frame energy on 16 ms frames every 4 ms, normalized to its peak, max slope in the first 100 ms
    short_hop = sample_rate // 250
    energy = librosa.feature.rms(y=y, frame_length=4 * short_hop, hop_length=short_hop, center=True)[0] ** 2
    energy = energy / max(float(energy.max()), 1e-20)
    first = max(2, int(ATTACK_WINDOW_S * sample_rate / short_hop) + 1)
    attack = float(np.max(np.diff(energy[:first]))) * sample_rate / short_hop
    seg = lambda a, b: float(np.sqrt(np.mean(y[int(a * sample_rate):int(b * sample_rate)] ** 2)) + 1e-10)  # noqa: E731
    return {"centroid_hz": float(np.sum(weight[:m] * centroid[:m]) / max(np.sum(weight[:m]), 1e-20)),
            "attack_per_s": attack,
            "flatness": float(np.sum(weight[:m] * flatness[:m]) / max(np.sum(weight[:m]), 1e-20)),
            "decay_db": 20 * np.log10(seg(0.5, 1.0) / seg(0.0, 0.25))}


def pitch_cents(audio: np.ndarray, sample_rate: int, midi: int) -> float:
    """|cents| between the note's f0 and MIDI ``midi``: pYIN median f0 over voiced frames of the first 0.5 s.

    The search range is two octaves either side of ``midi`` (so octave jumps show as 1200 cents);
    NaN when no frame is voiced.
    """
    lo, hi = librosa.midi_to_hz(max(midi - 24, 12)), librosa.midi_to_hz(midi + 24)
    f0 = pyin_f0(audio, sample_rate, lo, hi, resolution=0.25)
    return float(abs(1200 * np.log2(f0 / librosa.midi_to_hz(midi)))) if np.isfinite(f0) else float("nan")
