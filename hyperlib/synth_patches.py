"""Random DSP synthesizer patches: extra training instruments beyond the soundfonts.

Four classic synthesis types, each a random patch of a few parameters, rendered at any MIDI pitch and
velocity as 1.024 s notes like a soundfont preset (key held ``hold_s``, then released):

- ``subtractive``: band-limited saw / square / pulse oscillators (two, detuned), a resonant low-pass
  whose brightness decays with a filter envelope, an ADSR amplifier;
- ``fm``: two-operator frequency modulation (Chowning 1973) with a decaying modulation index;
- ``additive``: a stack of partials with a random spectral tilt, inharmonicity and per-partial decay;
- ``noise``: white noise through a feedback comb tuned to the pitch (pitched noise, Karplus-Strong style)
  mixed with a share of unfiltered noise: breathy, noisy timbres no General MIDI font has.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from .config import AudioConfig

KINDS = ("subtractive", "fm", "additive", "noise")
FAMILY = {"subtractive": 10, "fm": 10, "additive": 11, "noise": 12}  # GM families synth lead / pad / effects


@dataclass(frozen=True)
class SynthPatch:
    """One random patch. Times in seconds, levels 0-1; ``params`` holds the type's own parameters."""

    kind: str
    attack: float
    decay: float
    sustain: float
    release: float
    params: tuple  # (name, value) pairs, so that the patch stays hashable and printable

    def p(self, name: str) -> float:
        return dict(self.params)[name]

    @property
    def name(self) -> str:
        return f"{self.kind}-" + "-".join(f"{k}{v:.3g}" for k, v in self.params)


def random_patch(rng: np.random.Generator, kind: str | None = None) -> SynthPatch:
    """A random patch of ``kind`` (default: a random one of ``KINDS``). Raises ValueError for an unknown kind."""
    kind = kind or str(rng.choice(KINDS))
    if kind not in KINDS:
        raise ValueError(f"Unknown synthesis type {kind!r}; known: {', '.join(KINDS)}.")
    u = rng.uniform
    if kind == "subtractive":
        params = {"wave": float(rng.integers(3)), "detune_cents": u(0, 25), "cutoff_ratio": u(1.5, 24),
                  "resonance": u(0.5, 6), "filter_env": u(0, 1), "filter_decay": u(0.05, 0.8)}
    elif kind == "fm":
        # integer ratios only: 0.5 or 3.5 would put the heard fundamental an octave below the labelled pitch
        params = {"ratio": float(rng.choice([1, 1, 2, 3, 4, 5, 7])), "index": u(0.2, 8),
                  "index_decay": u(0.05, 1.5), "feedback_mix": u(0, 0.5)}
    elif kind == "additive":
        params = {"tilt": u(0.3, 2.5), "inharmonicity": u(0, 1e-3) * float(rng.random() < 0.5),
                  "partial_decay": u(0, 6), "odd_only": float(rng.random() < 0.25)}
    else:
        params = {"feedback": u(0.8, 0.995), "brightness": u(0.05, 0.9), "noise_mix": u(0, 0.6)}
    return SynthPatch(kind, attack=float(np.exp(u(np.log(0.002), np.log(0.25)))), decay=u(0.05, 1.0),
                      sustain=u(0, 1), release=u(0.03, 0.3), params=tuple((k, float(v)) for k, v in params.items()))


def adsr(patch: SynthPatch, n: int, hold: int, sr: int) -> np.ndarray:
    """Amplitude envelope (n,): linear attack, exponential decay to sustain, exponential release after ``hold``."""
    t = np.arange(n) / sr
    env = np.where(t < patch.attack, t / max(patch.attack, 1e-4),
                   patch.sustain + (1 - patch.sustain) * np.exp(-(t - patch.attack) / max(patch.decay / 4, 1e-3)))
    release_from = env[min(hold, n - 1)]
    after = t >= hold / sr
    env[after] = release_from * np.exp(-(t[after] - hold / sr) / max(patch.release / 4, 1e-3))
    return env


def _harmonic_stack(f0: float, t: np.ndarray, amps, sr: int, stretch: float = 0.0, decay: float = 0.0) -> np.ndarray:
    """sum_k amps[k-1] exp(-decay k t) sin(2 pi k f0 sqrt(1 + stretch k^2) t), partials above Nyquist left out."""
    out = np.zeros_like(t)
    for k, a in enumerate(amps, start=1):
        fk = k * f0 * np.sqrt(1 + stretch * k * k)
        if fk >= sr / 2:
            break
        out += a * np.exp(-decay * k * t) * np.sin(2 * np.pi * fk * t)
    return out


def _lowpass(x: np.ndarray, cutoff_hz: float, q: float, sr: int) -> np.ndarray:
    """RBJ biquad resonant low-pass."""
    w0 = 2 * np.pi * min(cutoff_hz, 0.45 * sr) / sr
    alpha = np.sin(w0) / (2 * q)
    b = np.array([(1 - np.cos(w0)) / 2, 1 - np.cos(w0), (1 - np.cos(w0)) / 2])
    a = np.array([1 + alpha, -2 * np.cos(w0), 1 - alpha])
    return lfilter(b / a[0], a / a[0], x)


def render_patch(patch: SynthPatch, midi: int, velocity: int = 100, cfg: AudioConfig = AudioConfig(),
                 hold_s: float = 0.8, seed: int = 0) -> np.ndarray:
    """One note: (cfg.num_samples,) float32 in [-1, 1] at cfg.sample_rate.

    ``midi``: MIDI pitch (f0 = 440 * 2^((midi - 69) / 12) Hz); ``velocity`` 1-127 scales level and
    brightness; ``seed`` fixes the noise of the ``noise`` type. Raises ValueError outside those ranges.
    """
    if not 0 <= midi <= 127 or not 1 <= velocity <= 127:
        raise ValueError(f"MIDI pitch must be 0-127 and velocity 1-127, got {midi} and {velocity}.")
    sr, n = cfg.sample_rate, cfg.num_samples
    f0, vel = 440.0 * 2 ** ((midi - 69) / 12), velocity / 127
    t = np.arange(n) / sr
    hold = int(hold_s * sr)
    if patch.kind == "subtractive":
        k = np.arange(1, 200)
        wave = int(patch.p("wave"))
        amps = 1 / k if wave == 0 else np.where(k % 2 == 1, 1 / k, 0) if wave == 1 else np.sin(np.pi * k * 0.2) / k
        detune = 2 ** (patch.p("detune_cents") / 1200)
        raw = _harmonic_stack(f0, t, amps, sr) + _harmonic_stack(f0 * detune, t, amps, sr)
        cutoff = f0 * patch.p("cutoff_ratio") * (0.5 + vel)
        dark = _lowpass(raw, cutoff, patch.p("resonance"), sr)
        bright = _lowpass(raw, cutoff * 4, patch.p("resonance"), sr)
        env_f = patch.p("filter_env") * np.exp(-t / patch.p("filter_decay"))
        y = env_f * bright + (1 - env_f) * dark
    elif patch.kind == "fm":
        index = patch.p("index") * (0.4 + vel) * np.exp(-t / patch.p("index_decay"))
        modulator = np.sin(2 * np.pi * f0 * patch.p("ratio") * t)
        y = np.sin(2 * np.pi * f0 * t + index * modulator)
        y += patch.p("feedback_mix") * np.sin(2 * np.pi * f0 * t + index * np.sin(2 * np.pi * f0 * t + index * modulator))
    elif patch.kind == "additive":
        k = np.arange(1, 120)
        amps = k ** -patch.p("tilt") * (np.where(k % 2 == 1, 1.0, 0.0) if patch.p("odd_only") else 1.0)
        decay = patch.p("partial_decay") / 10  # partial k decays at decay * k per second: high partials die first
        y = _harmonic_stack(f0, t, amps, sr, patch.p("inharmonicity"), decay)
    else:
        noise = np.random.default_rng(seed + midi).standard_normal(n)
        delay = max(int(round(sr / f0)), 2)
        brightness = patch.p("brightness") * (0.5 + 0.5 * vel)
        smoothed = lfilter([brightness], [1, brightness - 1], noise)  # one-pole low-pass of the excitation
        a = np.zeros(delay + 1)
        a[0], a[delay] = 1.0, -patch.p("feedback")
        comb = lfilter([1.0], a, smoothed)
        comb /= np.abs(comb).max() + 1e-9
        y = (1 - patch.p("noise_mix")) * comb + patch.p("noise_mix") * smoothed / (np.abs(smoothed).max() + 1e-9)
    y = y * adsr(patch, n, hold, sr)
    peak = np.abs(y).max()
    return (y / peak * 0.9 * (0.3 + 0.7 * vel) if peak > 0 else y).astype(np.float32)
