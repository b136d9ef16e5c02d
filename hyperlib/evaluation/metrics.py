"""Metrics of the evaluation (paper sec. 4): Frechet distance, pitch accuracy by pYIN, the colour and loudness
envelopes, the classic sampler's resampling and the linear pitch probe on h.

Every function works on numpy arrays or torch tensors on CPU; shapes and units are in each docstring.
"""
from __future__ import annotations

import librosa
import numpy as np
import torch
from scipy import linalg

from ..audio import pyin_f0
from ..config import AudioConfig
from ..mel import denormalize_log, frame_levels_db
from ..pitch_shift import fit_length

# -- external pitch estimator ---------------------------------------------------------------------
PYIN_FMIN_MIDI, PYIN_FMAX_MIDI = 24, 108
"""pYIN's search range: MIDI 24-108 (32.7-4186 Hz). A wide search range keeps octave errors visible."""
PYIN_SCORED = (33, 96)
"""MIDI pitches scored by pYIN: A1 (55 Hz) to C7 (2093 Hz). Checked on the oracle (TimGM6mb renders
through the Griffin-Lim vocoder, pYIN at 16 kHz with frame_length 2048 on the first 0.5 s): every
tested preset (piano, violin, flute, trumpet) was within 0.3 semitones from MIDI 30 to 96, while at
MIDI 24 and above 96 half of them were octave or garbage errors (too few samples per period above
~2 kHz, too few periods per frame and a smeared mel below ~50 Hz). Pitches outside this range are
left out of every pYIN figure (and counted in the reported N only when inside)."""
PYIN_SECONDS = 0.5
PYIN_RESOLUTION = 0.25
"""pYIN's pitch-bin width in semitones (librosa's default is 0.1): f0 is quantized to 25 cents (at most
12.5 cents off, well inside the 50-cent tolerance; bins fall on the equal-tempered pitches) and pYIN runs
about 7x faster."""
CENTS_TOLERANCE = 50.0


def pyin_range_ok(pitch: int) -> bool:
    """True where pYIN accuracy is scored (MIDI ``PYIN_SCORED``, inclusive)."""
    return PYIN_SCORED[0] <= int(pitch) <= PYIN_SCORED[1]


def f0_hz(audio: np.ndarray, sample_rate: int) -> float:
    """``audio.pyin_f0`` with the evaluation's settings: MIDI ``PYIN_FMIN_MIDI``-``PYIN_FMAX_MIDI``, bins of
    ``PYIN_RESOLUTION`` semitones, the first ``PYIN_SECONDS`` s, frame_length 2048 (128 ms at 16 kHz).

    audio: (num_samples,) float32 at ``sample_rate`` Hz. Returns the median f0 in Hz; NaN if no frame is voiced.
    """
    return pyin_f0(audio, sample_rate, librosa.midi_to_hz(PYIN_FMIN_MIDI), librosa.midi_to_hz(PYIN_FMAX_MIDI),
                   resolution=PYIN_RESOLUTION, seconds=PYIN_SECONDS)


def cents_off(f0_hz: np.ndarray, midi: np.ndarray) -> np.ndarray:
    """|1200 log2(f0 / f(midi))| in cents; inf where f0 is NaN or not positive."""
    f0 = np.asarray(f0_hz, dtype=np.float64)
    ref = librosa.midi_to_hz(np.asarray(midi, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.abs(1200 * np.log2(f0 / ref))
    return np.where(np.isfinite(c), c, np.inf)


def pitch_hits(f0_hz: np.ndarray, midi: np.ndarray, tolerance: float = CENTS_TOLERANCE) -> np.ndarray:
    """(N,) bool: f0 within ``tolerance`` cents of the asked MIDI pitch (an unvoiced note is a miss)."""
    return cents_off(f0_hz, midi) <= tolerance


def pitch_agreement(f0_hz: np.ndarray, truth_f0_hz: np.ndarray, tolerance: float = CENTS_TOLERANCE) -> np.ndarray:
    """(N,) float: 1 where f0 is within ``tolerance`` cents of the true note's own pYIN f0, 0 where not, NaN where
    the true note is unvoiced (no reference). Unlike ``pitch_hits``, which asks for the nominal MIDI pitch, this
    asks for the pitch the real instrument plays there: a soundfont preset that pYIN hears an octave off (an
    effect, a bell, a high whistle) counts for a method that sounds like it."""
    ref = np.asarray(truth_f0_hz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.abs(1200 * np.log2(np.asarray(f0_hz, dtype=np.float64) / ref))
    return np.where(np.isfinite(ref) & (ref > 0), np.where(np.isfinite(c), c <= tolerance, False), np.nan)


FINE_N_FFT, FINE_HOP = 4096, 256
"""The fine resolution of ``audio_distances``: 3.9 Hz bins (harmonics resolved down to MIDI 21), 16 ms hop."""
FLOOR_DB = 80.0


def log_spectral_l1(audio: np.ndarray, reference: np.ndarray, n_fft: int, hop: int,
                    basis: np.ndarray | None = None, floor_db: float = FLOOR_DB) -> float:
    """Mean |log S(audio) - log S(reference)| (natural log of magnitudes) after matching RMS.

    audio, reference: (num_samples,) waveforms at the same rate. S is the Hann-window STFT magnitude
    (``n_fft``, ``hop`` samples, centered), mapped through ``basis`` (e.g. the (n_mels, n_fft // 2 + 1) mel
    filterbank) where given. ``audio`` is scaled to the reference's RMS first, and both magnitudes are
    floored at ``floor_db`` dB below the reference's peak, so that silence counts as equal and level does
    not count at all. Raises ValueError for a silent reference.
    """
    y, ref = np.asarray(audio, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    rms_ref, rms = np.sqrt(np.mean(ref ** 2)), np.sqrt(np.mean(y ** 2))
    if rms_ref == 0:
        raise ValueError("The reference is silent: its log spectrum has no level to compare with.")
    y = y * (rms_ref / rms) if rms > 0 else y
    mags = [np.abs(librosa.stft(a, n_fft=n_fft, hop_length=hop)) for a in (y, ref)]
    if basis is not None:
        mags = [basis @ m for m in mags]
    floor = mags[1].max() * 10 ** (-floor_db / 20)
    a, b = (np.log(np.maximum(m, floor)) for m in mags)
    return float(np.mean(np.abs(a - b)))


def audio_distances(audio: np.ndarray, reference: np.ndarray, cfg: AudioConfig, mel_basis: np.ndarray) -> dict:
    """Both distances of the evaluation's audio table between a vocoded note and the true note's audio.

    "mel": ``log_spectral_l1`` at the project's mel resolution (n_fft, hop and filterbank of ``cfg``;
    ``mel_basis`` (n_mels, n_fft // 2 + 1)); "fine": at n_fft 4096, hop 256 without a filterbank.
    """
    return {"mel": log_spectral_l1(audio, reference, cfg.n_fft, cfg.hop_length, mel_basis),
            "fine": log_spectral_l1(audio, reference, FINE_N_FFT, FINE_HOP)}


def resample_shift(audio: np.ndarray, semitones: float, cfg: AudioConfig) -> np.ndarray:
    """The classic sampler: play ``audio`` faster or slower so that its pitch moves by ``semitones``.

    The waveform is resampled by the length ratio 2 ** (-semitones / 12) (so its duration and formants
    move with the pitch, as in a hardware sampler; no time stretching), then padded with zeros or cropped
    to ``cfg.num_samples`` and peak-normalized. audio: (n,) float32 at ``cfg.sample_rate``.
    Returns (cfg.num_samples,) float32.
    """
    y = np.asarray(audio, dtype=np.float32)
    if semitones != 0:
        ratio = 2.0 ** (-semitones / 12.0)  # output length / input length
        y = librosa.resample(y, orig_sr=float(cfg.sample_rate), target_sr=float(cfg.sample_rate) * ratio,
                             res_type="soxr_hq")
    return fit_length(y, cfg)


# -- what the ear hears: colour and loudness over time --------------------------------------------------
DECAY_TIMES_S = (0.5, 0.8)
"""Times (seconds from the note's start) at which the decay of the level is compared."""


def envelope_errors(mel: torch.Tensor, truth: torch.Tensor, cfg: AudioConfig) -> dict[str, np.ndarray]:
    """How far a note's colour and loudness curve are from the true note's, per note.

    mel, truth: (B, 1, n_mels, frames) normalized log-mels (the model's output and the true render).
    Returns (B,) arrays:
        "spectral_envelope": mean |difference| over mel bands of the time-averaged log-mel (normalized
            log-mel units, as the log-mel L1): the colour.
        "level_db": mean |difference| over frames of ``frame_levels_db`` (dB): the loudness over time.
        "decay_0.5s", "decay_0.8s": signed difference of the level at that time (dB; positive: the
            note is still louder than the true note, i.e. rings too long).
    """
    colour = (mel.mean(dim=3) - truth.mean(dim=3)).abs().mean(dim=(1, 2))
    level, level_true = frame_levels_db(mel, cfg), frame_levels_db(truth, cfg)
    out = {"spectral_envelope": colour.numpy(), "level_db": (level - level_true).abs().mean(dim=1).numpy()}
    for t in DECAY_TIMES_S:
        frame = min(int(round(t * cfg.sample_rate / cfg.hop_length)), level.shape[1] - 1)
        out[f"decay_{t}s"] = (level[:, frame] - level_true[:, frame]).numpy()
    return out


def spectral_flatness(mel: torch.Tensor, cfg: AudioConfig, within_db: float = 40.0) -> np.ndarray:
    """Wiener entropy of the mel spectrum: per frame the geometric over the arithmetic mean of the mel magnitudes
    (1 for white noise, near 0 for a few harmonics), averaged over the frames within ``within_db`` dB of the note's
    loudest frame. mel: (B, 1, n_mels, frames) normalized log-mels. Returns (B,)."""
    log_mag = denormalize_log(mel[:, 0].double(), cfg)  # (B, n_mels, frames), natural log
    flat = torch.exp(log_mag.mean(dim=1)) / torch.exp(log_mag).mean(dim=1)
    loud = frame_levels_db(mel, cfg) > -within_db
    return ((flat * loud).sum(dim=1) / loud.sum(dim=1).clamp(min=1)).numpy()


def audio_flatness(audio: np.ndarray, within_db: float = 40.0) -> float:
    """Wiener entropy of the fine-resolution spectrum (``FINE_N_FFT``, ``FINE_HOP``: harmonics resolved): per frame
    librosa's ``spectral_flatness`` of the power spectrum (about 0.56 for white noise, near 0 for a comb of
    harmonics, which the mel bands above a few hundred Hz blur into a flat band), averaged over the frames within
    ``within_db`` dB of the loudest. audio: (num_samples,) waveform. Raises ValueError for silence."""
    y = np.asarray(audio, dtype=np.float64)
    mag = np.abs(librosa.stft(y, n_fft=FINE_N_FFT, hop_length=FINE_HOP))
    power = (mag ** 2).sum(axis=0)
    if not power.max() > 0:
        raise ValueError("audio_flatness: the audio is silent.")
    loud = 10 * np.log10(np.maximum(power, 1e-30) / power.max()) > -within_db
    return float(librosa.feature.spectral_flatness(S=mag, power=2.0)[0][loud].mean())


# -- feature-space metrics ----------------------------------------------------------------------------
def _sqrtm(a: np.ndarray) -> np.ndarray:
    out = linalg.sqrtm(a)
    return out[0] if isinstance(out, tuple) else out


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (FID, Heusel et al. 2017).

    a: (N, D), b: (M, D) features (here: the family classifier's penultimate layer, D = 64).
    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)). Needs N, M >= 2; ``eps`` regularizes
    near-singular covariances (small N).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError("Frechet distance needs at least two feature vectors on each side.")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean = _sqrtm(s_a @ s_b)
    if not np.all(np.isfinite(covmean)):
        off = np.eye(s_a.shape[0]) * eps
        covmean = _sqrtm((s_a + off) @ (s_b + off))
    covmean = np.real(covmean)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(covmean))


SHIFT_BUCKETS = (("0", 0, 0), ("1-3", 1, 3), ("4-6", 4, 6), ("7-12", 7, 12), (">12", 13, 10_000))
"""Shift-size groups in |semitones| for the synthesis breakdown; "0" is the reconstruction."""


def shift_bucket(semitones: int) -> str:
    s = abs(int(semitones))
    return next(name for name, lo, hi in SHIFT_BUCKETS if lo <= s <= hi)


# -- disentanglement probe ----------------------------------------------------------------------------
def linear_probe(train_x: torch.Tensor, train_y: np.ndarray, test_x: torch.Tensor, test_y: np.ndarray,
                 c: float = 1.0) -> dict:
    """Multinomial logistic regression on standardized features (scikit-learn's ``LogisticRegression``, L-BFGS).

    train_x: (N, D), test_x: (M, D) float features (h = f(x)); train_y, test_y: integer labels (pitches).
    c: inverse L2 regularization strength (scikit-learn's ``C``). Deterministic: the same data give the same result.
    Returns train and test accuracy, chance = 1 / number of classes, and the sizes.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classes = np.unique(np.concatenate([train_y, test_y]))
    xtr, xte = np.asarray(train_x, dtype=np.float64), np.asarray(test_x, dtype=np.float64)
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)).fit(xtr, train_y)
    return {"train_accuracy": float(probe.score(xtr, train_y)), "test_accuracy": float(probe.score(xte, test_y)),
            "chance": 1.0 / len(classes), "num_classes": int(len(classes)), "n_train": int(len(train_y)),
            "n_test": int(len(test_y)), "c": c}
