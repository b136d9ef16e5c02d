"""Harmonic-plus-noise vocoder at a known pitch (DDSP: Engel, Hantrakul, Gu & Roberts, ICLR 2020).

A note is a sum of sinusoids at the integer multiples of its fundamental f0 plus filtered noise, as in
DDSP's harmonic and filtered-noise synthesizers; here their controls are not predicted by a network but
read off the mel:

1. **Decomposition.** The mel magnitude of every frame is explained as a non-negative mix of atoms:
   one per harmonic k (the exact mel response of a unit sinusoid at k f0 through the Hann window and the
   filterbank) and ``noise_bands`` smooth noise atoms (the mel response of white noise through
   triangular bands on the mel scale). Weights are fitted by multiplicative updates for the
   Kullback-Leibler divergence with the atoms fixed (non-negative matrix factorization, Lee & Seung 2001,
   with a fixed dictionary), harmonics first: where the mel's bands are wider than f0 a band's energy can
   be harmonic or noise alike, and a pitched note is harmonic there (its spectrum between harmonics lies
   tens of dB down), so the harmonics take all they can explain and the noise atoms are then fitted to
   what is left: the energy between and above the harmonics, the broadband burst of an attack, and the
   whole of an unpitched sound. A frame whose mel shows no harmonic comb at f0 (its comb contrast,
   ``voicing``) is unvoiced: its harmonics are dropped before the noise is fitted, so that noise vocoded
   at any pitch stays noise.
2. **Synthesis.** Harmonic amplitudes per frame, linearly interpolated to samples, drive sinusoids with
   fixed random start phases; noise gains shape white noise frame by frame in a short STFT (DDSP's
   time-varying filter).
3. **Mel-consistency passes.** The output's mel is measured, the target divided by it per band and
   frame, the log-ratio spread to STFT bins through the column-normalized filterbank, and the STFT
   rescaled with its phase kept. This is Griffin-Lim's magnitude projection (Griffin & Lim 1984) started
   from a phase that is already coherent at the harmonics, and it keeps the harmonic fine structure
   inside each mel band instead of the pseudo-inverse's smear; it also restores each frame's level,
   which sharpens the attack.
"""
from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
from scipy import sparse

from ..config import AudioConfig
from ..mel import mel_filterbank, mel_magnitude
from .pitch import PITCH_SEARCH_MIDI, check_input, estimate_pitch


KERNEL_HALF_WIDTH = 4.0
"""Bins either side of a sinusoid's frequency where its Hann-window response is kept (sidelobes under -48 dB beyond)."""


@dataclass(frozen=True)
class HarmonicNoiseConfig:
    """Settings of ``HarmonicNoiseVocoder``.

    max_harmonics: harmonics synthesized at most (DDSP uses 100); only those below ``f_max`` and Nyquist.
    noise_bands: triangular noise bands on the mel scale over 0 Hz to Nyquist.
    fit_iterations: multiplicative updates of the decomposition (Kullback-Leibler divergence).
    consistency_passes: mel-consistency passes after synthesis (0 = the pure harmonic-plus-noise model).
    voicing_nats: comb contrast (nats) below which a frame is unvoiced and above which it is fully voiced
        (``HarmonicNoiseVocoder.voicing``).
    noise_n_fft: STFT size of the noise filter (samples; hop a quarter of it).
    pitch_search_midi: (lowest, highest, step) MIDI candidates when the pitch must be estimated.
    seed: seed of the harmonics' start phases and of the noise (the output is deterministic).
    """

    max_harmonics: int = 100
    noise_bands: int = 32
    fit_iterations: int = 15
    consistency_passes: int = 3
    voicing_nats: tuple = (0.25, 0.75)
    noise_n_fft: int = 256
    pitch_search_midi: tuple = PITCH_SEARCH_MIDI
    seed: int = 0


class HarmonicNoiseVocoder:
    """Normalized log-mel -> audio by harmonic-plus-noise synthesis at the note's pitch (module docstring).

    ``vocoder(mel, pitch)``: mel (n_mels, num_frames) normalized log-mel; pitch the MIDI pitch the mel
    was rendered at (float, fractional for detuning) or ``None`` to estimate it from the mel
    (``estimate_pitch``). Returns (num_samples,) float32 audio at ``cfg.sample_rate`` Hz, at about the
    mel's level. Raises ValueError for a mel of the wrong shape or a non-finite pitch.
    """

    def __init__(self, cfg: AudioConfig, hn: HarmonicNoiseConfig = HarmonicNoiseConfig()):
        self.cfg, self.hn = cfg, hn
        sr, n_fft = cfg.sample_rate, cfg.n_fft
        # every product below is sparse (scipy) or elementwise: multithreaded BLAS and torch stall on such small
        # products when the cores are busy, and a vocoder must stay fast on a loaded laptop
        fb = mel_filterbank(cfg)  # (n_mels, bins)
        self.fb = sparse.csr_matrix(fb)
        self.bin_hz = np.fft.rfftfreq(n_fft, 1 / sr)
        self.window = window = librosa.filters.get_window("hann", cfg.win_length, fftbins=True)  # periodic, as torch's
        # |W(offset)| of the Hann window, tabulated 64x finer than a bin (offsets in bins)
        self.kernel = np.abs(np.fft.fftshift(np.fft.fft(window, 64 * n_fft)))
        self.kernel_bins = np.fft.fftshift(np.fft.fftfreq(64 * n_fft, 1 / n_fft))
        # noise: triangular bands on the mel scale; a unit-variance white noise has an expected STFT
        # magnitude of sqrt(pi)/2 * ||window||_2 (Rayleigh mean) in every bin
        edges = librosa.mel_frequencies(hn.noise_bands + 2, fmin=0.0, fmax=sr / 2)
        rayleigh = np.sqrt(np.pi) / 2 * float(np.linalg.norm(window))
        self.noise_atoms = sparse.csc_matrix(fb @ _triangles(self.bin_hz, edges) * rayleigh)  # (n_mels, noise_bands)
        noise_hz = np.fft.rfftfreq(hn.noise_n_fft, 1 / sr)
        self.noise_filter = sparse.csr_matrix(_triangles(noise_hz, edges))  # (noise bins, noise_bands)
        n_noise_frames = cfg.num_samples // (hn.noise_n_fft // 4) + 1
        self.noise_time = sparse.csr_matrix(_interpolation_matrix(cfg.num_frames, cfg.hop_length, n_noise_frames,
                                                                  hn.noise_n_fft // 4).T)  # (noise frames, T)
        # mel-consistency: spread a per-band ratio to bins, weights of each bin summing to 1
        self.band_to_bin = sparse.csr_matrix((fb / np.maximum(fb.sum(0, keepdims=True), 1e-12)).T)  # (bins, n_mels)
        self.band_hz = librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.f_min, fmax=cfg.f_max)[1:-1]

    # -- analysis ---------------------------------------------------------------------------------
    def harmonic_atoms(self, f0: float) -> tuple[sparse.csc_matrix, np.ndarray]:
        """Mel response of a unit-amplitude sinusoid at each harmonic of ``f0`` Hz.

        Returns (atoms (n_mels, K) sparse float32, harmonic frequencies (K,) Hz); K = 0 when f0 is above
        ``f_max`` or Nyquist.
        """
        c = self.cfg
        top = min(c.f_max, c.sample_rate / 2 - 1)
        k = np.arange(1, min(self.hn.max_harmonics, int(top // f0)) + 1)
        hz = f0 * k
        offset = (self.bin_hz[:, None] - hz[None, :]) * c.n_fft / c.sample_rate  # (bins, K) in bins
        response = np.where(np.abs(offset) <= KERNEL_HALF_WIDTH,  # beyond: sidelobes under -48 dB
                            0.5 * np.interp(offset, self.kernel_bins, self.kernel), 0.0).astype(np.float32)
        return (self.fb @ sparse.csc_matrix(response)).tocsc(), hz

    def decompose(self, magnitude: np.ndarray, f0: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fit mel magnitudes (n_mels, T) as harmonic amplitudes plus noise gains (module docstring, step 1).

        Returns (amplitudes (K, T) of unit sinusoids, noise gains (noise_bands, T) in standard deviations
        of white noise, harmonic frequencies (K,) Hz).
        """
        harm, hz = self.harmonic_atoms(f0)
        y = np.asarray(magnitude, dtype=np.float32) + 1e-9
        start = y.mean() / (hz.size + self.hn.noise_bands)
        amplitudes = _fit_kl(harm, y, np.zeros_like(y), start, self.hn.fit_iterations) * self.voicing(magnitude, f0)
        gains = _fit_kl(self.noise_atoms, y, harm @ amplitudes, start, self.hn.fit_iterations // 2)
        return amplitudes, gains, hz

    def voicing(self, magnitude: np.ndarray, f0: float) -> np.ndarray:
        """How harmonic each frame is at ``f0`` Hz: (T,) weights in [0, 1] for mel magnitudes (n_mels, T).

        The comb contrast of a frame is the mean log-magnitude at the harmonics minus that halfway between
        them, over the harmonics the mel resolves (band spacing under f0 / 2), smoothed over 5 frames. Noise
        scores about 0 (+-0.2 nats), harmonic notes 1 to 9; the weight ramps from 0 at ``voicing_nats[0]``
        to 1 at ``voicing_nats[1]``. All frames count as voiced where no harmonic is resolved (f0 under
        about 46 Hz).
        """
        index = np.arange(self.band_hz.size)
        k = np.arange(1, int(self.band_hz[-1] // f0))
        peak, valley = np.interp(k * f0, self.band_hz, index), np.interp((k + 0.5) * f0, self.band_hz, index)
        resolved = np.interp(peak, index[:-1] + 0.5, np.diff(self.band_hz)) < f0 / 2
        if not resolved.any():
            return np.ones(magnitude.shape[1], np.float32)
        log_mag = np.log(np.asarray(magnitude, dtype=np.float64) + 1e-9)
        contrast = (_rows_at(log_mag, peak[resolved]) - _rows_at(log_mag, valley[resolved])).mean(0)
        contrast = np.convolve(np.pad(contrast, 2, mode="edge"), np.ones(5) / 5, mode="valid")
        lo, hi = self.hn.voicing_nats
        return np.clip((contrast - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)

    def estimate_pitch(self, mel: np.ndarray) -> float:
        """MIDI pitch of a normalized log-mel (n_mels, frames) over ``pitch_search_midi`` (``pitch.estimate_pitch``)."""
        return estimate_pitch(mel, self.cfg, self.hn.pitch_search_midi)

    # -- synthesis --------------------------------------------------------------------------------
    def __call__(self, mel: np.ndarray, pitch: float | None = None) -> np.ndarray:
        mel, pitch = check_input(mel, pitch, self.cfg, self.hn.pitch_search_midi)
        target = mel_magnitude(mel, self.cfg)
        amplitudes, gains, hz = self.decompose(target, float(librosa.midi_to_hz(pitch)))
        rng = np.random.default_rng(self.hn.seed)
        audio = self._harmonics(amplitudes, hz, rng) + self._noise(gains, rng)
        for _ in range(self.hn.consistency_passes):
            audio = self._match_mel(audio, target)
        return audio.astype(np.float32)

    def _harmonics(self, amplitudes: np.ndarray, hz: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Sum of sinusoids: (K, T) frame amplitudes, (K,) Hz -> (num_samples,) float32."""
        c = self.cfg
        phase0 = rng.uniform(0, 2 * np.pi, hz.size)
        if hz.size == 0:
            return np.zeros(c.num_samples, np.float32)
        step = (2 * np.pi * hz / c.sample_rate).astype(np.float32)[:, None]  # rad per sample
        wave = step * np.arange(c.num_samples, dtype=np.float32)
        wave += phase0.astype(np.float32)[:, None]
        np.sin(wave, out=wave)
        wave *= _upsample_linear(amplitudes.astype(np.float32), c.hop_length, c.num_samples)
        return wave.sum(0)

    def _noise(self, gains: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """White noise filtered frame by frame: (noise_bands, T) gains -> (num_samples,) float32."""
        c, n_fft = self.cfg, self.hn.noise_n_fft
        white = rng.standard_normal(c.num_samples).astype(np.float32)
        spec = librosa.stft(white, n_fft=n_fft, hop_length=n_fft // 4)
        shape = self.noise_filter @ (self.noise_time @ gains.T).T  # (noise bins, noise frames)
        return librosa.istft(spec * shape, hop_length=n_fft // 4, n_fft=n_fft, length=c.num_samples)

    def _match_mel(self, audio: np.ndarray, target: np.ndarray) -> np.ndarray:
        """One mel-consistency pass (module docstring, step 3): (num_samples,) -> (num_samples,) float32."""
        c = self.cfg
        spec = librosa.stft(audio, n_fft=c.n_fft, hop_length=c.hop_length, window=self.window,
                            pad_mode="reflect")  # as LogMel's torch.stft
        current = self.fb @ np.abs(spec[:, : c.num_frames])
        log_ratio = np.log(np.maximum(target, 1e-9)) - np.log(np.maximum(current, 1e-9))
        gain = np.exp(self.band_to_bin @ np.clip(log_ratio, -10.0, 10.0))
        gain = np.concatenate([gain, gain[:, -1:]], axis=1)  # the frame the front end dropped
        return librosa.istft(spec * gain, hop_length=c.hop_length, window=self.window, n_fft=c.n_fft,
                             length=c.num_samples)


def _fit_kl(atoms: sparse.spmatrix, y: np.ndarray, fixed: np.ndarray, start: float, iterations: int) -> np.ndarray:
    """Non-negative weights (A, T) with ``atoms @ weights + fixed`` close to ``y`` (M, T) in KL divergence.

    Multiplicative updates (Lee & Seung 2001) on atoms (M, A) rescaled to unit column sums, from every
    weight at ``start``; the weights returned are those of the atoms as given. Atoms with no response keep 0.
    """
    norm = np.asarray(atoms.sum(0)).ravel().astype(np.float32)
    unit = sparse.csr_matrix(atoms @ sparse.diags(1 / np.maximum(norm, 1e-12)))
    unit_t = unit.T.tocsr()
    w = np.full((atoms.shape[1], y.shape[1]), start, dtype=np.float32)
    for _ in range(iterations):  # unit column sums: the KL update's denominator is 1
        w *= unit_t @ (y / (unit @ w + fixed + 1e-9))
    return w / np.maximum(norm, 1e-12)[:, None] * (norm > 0)[:, None]


def _rows_at(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(R, T) array read at fractional row positions (P,) by linear interpolation: (P, T)."""
    lo = np.clip(np.floor(rows).astype(int), 0, values.shape[0] - 2)
    frac = (rows - lo)[:, None]
    return values[lo] * (1 - frac) + values[lo + 1] * frac


def _triangles(hz: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Triangular bands with corners ``edges`` (B + 2,) Hz, evaluated at ``hz`` (F,): (F, B) float32."""
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    rise = (hz[:, None] - lo) / (mid - lo)
    fall = (hi - hz[:, None]) / (hi - mid)
    return np.maximum(0.0, np.minimum(rise, fall)).astype(np.float32)


def _interpolation_matrix(n_in: int, hop_in: int, n_out: int, hop_out: int) -> np.ndarray:
    """(n_in, n_out) matrix taking values on a hop_in grid to a hop_out grid by linear interpolation."""
    t_out = np.arange(n_out) * hop_out / hop_in
    return np.stack([np.interp(t_out, np.arange(n_in), row) for row in np.eye(n_in)]).astype(np.float32)


def _upsample_linear(frames: np.ndarray, hop: int, length: int) -> np.ndarray:
    """(K, T) values at samples 0, hop, 2 hop, ... -> (K, length) by linear interpolation (held at the end)."""
    k, t = frames.shape
    out = np.empty((k, max(length, (t - 1) * hop)), dtype=frames.dtype)
    ramp = out[:, : (t - 1) * hop].reshape(k, t - 1, hop)
    np.multiply(np.diff(frames, axis=1)[:, :, None], np.arange(hop, dtype=frames.dtype) / hop, out=ramp)
    ramp += frames[:, :-1, None]
    out[:, (t - 1) * hop:] = frames[:, -1:]
    return out[:, :length]
