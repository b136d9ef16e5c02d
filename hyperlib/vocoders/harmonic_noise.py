"""Harmonic-plus-noise vocoder at a known pitch (DDSP: Engel, Hantrakul, Gu & Roberts, ICLR 2020).

A note is a sum of sinusoids at the integer multiples of its fundamental f0 plus filtered noise, as in
DDSP's harmonic and filtered-noise synthesizers; here their controls are not predicted by a network but
read off the mel:

1. **Decomposition.** The mel magnitude of every frame is explained as a non-negative mix of atoms:
   one per harmonic k (the exact mel response of a unit sinusoid at k f0 through the Hann window and the
   filterbank) and ``noise_bands`` smooth noise atoms (the mel response of white noise through
   triangular bands on the mel scale). The weights are fitted by multiplicative updates for the
   Kullback-Leibler divergence with the atoms fixed (non-negative matrix factorization, Lee & Seung 2001,
   with a fixed dictionary). Harmonic atoms can only explain peaks at
   the harmonics; the smooth noise atoms take the energy between and above them, the broadband burst of
   an attack, and the whole of an unpitched sound, whose mel has no comb for the harmonic atoms to fit.
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
import torch
from scipy import sparse

from ..config import AudioConfig
from ..mel import mel_filterbank, mel_magnitude


@dataclass(frozen=True)
class HarmonicNoiseConfig:
    """Settings of ``HarmonicNoiseVocoder``.

    max_harmonics: harmonics synthesized at most (DDSP uses 100); only those below ``f_max`` and Nyquist.
    noise_bands: triangular noise bands on the mel scale over 0 Hz to Nyquist.
    fit_iterations: multiplicative updates of the decomposition (Kullback-Leibler divergence).
    consistency_passes: mel-consistency passes after synthesis (0 = the pure harmonic-plus-noise model).
    noise_n_fft: STFT size of the noise filter (samples; hop a quarter of it).
    pitch_search_midi: (lowest, highest, step) MIDI candidates when the pitch must be estimated.
    seed: seed of the harmonics' start phases and of the noise (the output is deterministic).
    """

    max_harmonics: int = 100
    noise_bands: int = 32
    fit_iterations: int = 15
    consistency_passes: int = 2
    noise_n_fft: int = 256
    pitch_search_midi: tuple = (21.0, 108.0, 0.1)
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
        self.fb = mel_filterbank(cfg)  # (n_mels, bins)
        self.fb_sparse = sparse.csr_matrix(self.fb)  # sparse products: no BLAS threads
        self.bin_hz = np.fft.rfftfreq(n_fft, 1 / sr)
        window = torch.hann_window(cfg.win_length)
        self.window = window
        # |W(offset)| of the Hann window, tabulated 64x finer than a bin (offsets in bins)
        spectrum = np.abs(np.fft.fftshift(np.fft.fft(window.numpy().astype(np.float64), 64 * n_fft)))
        self.kernel_bins = np.fft.fftshift(np.fft.fftfreq(64 * n_fft, 1 / n_fft))
        self.kernel = spectrum
        # noise: triangular bands on the mel scale; a unit-variance white noise has an expected STFT
        # magnitude of sqrt(pi)/2 * ||window||_2 (Rayleigh mean) in every bin
        edges = librosa.mel_frequencies(hn.noise_bands + 2, fmin=0.0, fmax=sr / 2)
        rayleigh = np.sqrt(np.pi) / 2 * float(np.linalg.norm(window.numpy()))
        self.noise_atoms = self.fb @ _triangles(self.bin_hz, edges) * rayleigh  # (n_mels, noise_bands)
        noise_hz = np.fft.rfftfreq(hn.noise_n_fft, 1 / sr)
        self.noise_filter_basis = torch.from_numpy(_triangles(noise_hz, edges))  # (noise bins, noise_bands)
        n_noise_frames = cfg.num_samples // (hn.noise_n_fft // 4) + 1
        self.noise_time = torch.from_numpy(_interpolation_matrix(cfg.num_frames, cfg.hop_length, n_noise_frames,
                                                                 hn.noise_n_fft // 4))
        # mel-consistency: spread a per-band ratio to bins, weights of each bin summing to 1
        cover = self.fb.sum(0, keepdims=True)
        self.band_to_bin = sparse.csr_matrix((self.fb / np.maximum(cover, 1e-12)).T)  # (bins, n_mels)
        centers = librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.f_min, fmax=cfg.f_max)[1:-1]
        self.band_hz = centers

    # -- analysis ---------------------------------------------------------------------------------
    def harmonic_atoms(self, f0: float) -> tuple[np.ndarray, np.ndarray]:
        """Mel response of a unit-amplitude sinusoid at each harmonic of ``f0`` Hz.

        Returns (atoms (n_mels, K) float32, harmonic frequencies (K,) Hz); K = 0 when f0 is above
        ``f_max`` or Nyquist.
        """
        c = self.cfg
        top = min(c.f_max, c.sample_rate / 2 - 1)
        k = np.arange(1, min(self.hn.max_harmonics, int(top // f0)) + 1)
        hz = f0 * k
        offset = (self.bin_hz[:, None] - hz[None, :]) * c.n_fft / c.sample_rate  # (bins, K) in bins
        response = 0.5 * np.interp(offset, self.kernel_bins, self.kernel, left=0.0, right=0.0)
        return self.fb_sparse @ response.astype(np.float32), hz

    def decompose(self, magnitude: np.ndarray, f0: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fit mel magnitudes (n_mels, T) as harmonic amplitudes plus noise gains (module docstring, step 1).

        Returns (amplitudes (K, T) of unit sinusoids, noise gains (noise_bands, T) in standard deviations
        of white noise, harmonic frequencies (K,) Hz).
        """
        harm, hz = self.harmonic_atoms(f0)
        # torch for the small products: numpy's multithreaded BLAS stalls on them when cores are busy
        atoms = torch.from_numpy(np.concatenate([harm, self.noise_atoms], axis=1).astype(np.float32))
        norm = atoms.sum(0).clamp(min=1e-12)
        atoms = atoms / norm
        y = torch.from_numpy(np.asarray(magnitude, dtype=np.float32)) + 1e-9
        w = torch.full((atoms.shape[1], y.shape[1]), float(y.mean()) / atoms.shape[1])
        for _ in range(self.hn.fit_iterations):  # atoms' columns sum to 1: the KL update's denominator is 1
            w *= atoms.T @ (y / (atoms @ w + 1e-9))
        w = (w / norm[:, None]).numpy()
        return w[: hz.size], w[hz.size:], hz

    def estimate_pitch(self, mel: np.ndarray) -> float:
        """MIDI pitch of a normalized log-mel (n_mels, frames) by subharmonic summation (Hermes 1988).

        The energy-weighted mean log-magnitude of each band, minus its running mean over 7 bands, is
        read at the multiples of every candidate f0 (``pitch_search_midi``) with weights 0.84^(k-1);
        the best candidate wins. Returns a MIDI pitch (float).
        """
        mag = mel_magnitude(mel, self.cfg).astype(np.float64)
        weight = mag.sum(0) / max(float(mag.sum()), 1e-20)
        log_spec = np.log(mag + 1e-9) @ weight
        peaks = log_spec - np.convolve(np.pad(log_spec, 3, mode="edge"), np.ones(7) / 7, mode="valid")
        lo, hi, step = self.hn.pitch_search_midi
        midi = np.arange(lo, hi + step / 2, step)
        f0 = librosa.midi_to_hz(midi)
        k = np.arange(1, 21)
        hz = f0[:, None] * k[None, :]
        inside = hz <= self.band_hz[-1]
        score = np.where(inside, np.maximum(np.interp(hz, self.band_hz, peaks), 0.0), 0.0) @ 0.84 ** (k - 1.0)
        return float(midi[int(np.argmax(score))])

    # -- synthesis --------------------------------------------------------------------------------
    def __call__(self, mel: np.ndarray, pitch: float | None = None) -> np.ndarray:
        c = self.cfg
        mel = np.asarray(mel, dtype=np.float32)
        if mel.shape != (c.n_mels, c.num_frames):
            raise ValueError(f"Expected a log-mel of shape ({c.n_mels}, {c.num_frames}), got {mel.shape}.")
        if pitch is None:
            pitch = self.estimate_pitch(mel)
        if not np.isfinite(pitch):
            raise ValueError(f"Pitch must be a finite MIDI number or None, got {pitch!r}.")
        target = mel_magnitude(mel, c)
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
        env = _upsample_linear(amplitudes, c.hop_length, c.num_samples)  # (K, num_samples)
        step = (2 * np.pi * hz / c.sample_rate).astype(np.float32)[:, None]  # rad per sample
        phase = step * np.arange(c.num_samples, dtype=np.float32) + phase0.astype(np.float32)[:, None]
        return np.einsum("kn,kn->n", env, np.sin(phase, out=phase))

    def _noise(self, gains: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """White noise filtered frame by frame: (noise_bands, T) gains -> (num_samples,) float32."""
        c, n_fft = self.cfg, self.hn.noise_n_fft
        white = torch.from_numpy(rng.standard_normal(c.num_samples).astype(np.float32))
        window = torch.hann_window(n_fft)
        spec = torch.stft(white, n_fft, n_fft // 4, window=window, center=True, return_complex=True)
        shape = self.noise_filter_basis @ torch.from_numpy(gains) @ self.noise_time  # (noise bins, noise frames)
        spec = spec * shape
        return torch.istft(spec, n_fft, n_fft // 4, window=window, center=True, length=c.num_samples).numpy()

    def _match_mel(self, audio: np.ndarray, target: np.ndarray) -> np.ndarray:
        """One mel-consistency pass (module docstring, step 3): (num_samples,) -> (num_samples,) float32."""
        c = self.cfg
        spec = torch.stft(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)), c.n_fft, c.hop_length,
                          c.win_length, self.window, center=True, return_complex=True)
        current = self.fb_sparse @ spec.abs()[:, : c.num_frames].numpy()
        log_ratio = np.log(np.maximum(target, 1e-9)) - np.log(np.maximum(current, 1e-9))
        gain = np.exp(self.band_to_bin @ np.clip(log_ratio, -10.0, 10.0))
        gain = np.concatenate([gain, gain[:, -1:]], axis=1)  # the frame the front end dropped
        spec = spec * torch.from_numpy(gain.astype(np.float32))
        return torch.istft(spec, c.n_fft, c.hop_length, c.win_length, self.window, center=True,
                           length=c.num_samples).numpy()


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
    frac = np.arange(hop, dtype=np.float32) / hop
    start, step = frames[:, :-1, None], np.diff(frames, axis=1)[:, :, None]
    out = (start + step * frac).reshape(k, (t - 1) * hop)
    tail = np.repeat(frames[:, -1:], max(0, length - out.shape[1]), axis=1)
    return np.concatenate([out, tail], axis=1)[:, :length]
