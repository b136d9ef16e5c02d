"""The user-facing neural sampler: HyperGANStrument with its GANStrument and encoder baselines.

    model = HyperGANStrument.from_pretrained()
    r = model.synthesize("piano.wav", pitch=64, method="hyper")
    r.audio, r.sample_rate, r.mel
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import librosa
import numpy as np
import torch

from . import checkpoint as ckpt
from .audio import AudioInput, load_note
from .config import REFINE_STEPS, AudioConfig, ModelConfig
from .hub import resolve
from .mel import LogMel
from .models import refine
from .vocoders import DEFAULT_VOCODER, Vocoder, check_vocoder, make_vocoder

METHODS = ("gan", "encoder", "hyper", "hyper-pre")
"""gan: GANStrument, h = f(x). encoder: GANStrument Enc., (h, z) = E(x). hyper: HyperGANStrument
(H after adversarial fine-tuning). hyper-pre: H after pre-training only (the ablation)."""
MAX_STEPS = 10
UNPITCHED_FALLBACK = 60  # MIDI pitch assumed for a sound with no detectable pitch (e.g. a handsaw)


@dataclass
class Result:
    """One rendered note.

    audio: (num_samples,) float32 waveform at ``sample_rate`` Hz (16000). mel: (n_mels, frames)
    normalized log-mel that was vocoded. mel_init: x_init = G(h, 0, p) before refinement (hyper methods).
    pitch: MIDI pitch rendered. timings_ms: milliseconds per stage (front end, f, E, G, H, vocoder).
    """

    audio: np.ndarray
    sample_rate: int
    mel: np.ndarray
    method: str
    pitch: int
    mel_init: np.ndarray | None = None
    timings_ms: dict = field(default_factory=dict)


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")


def check_pitch(pitch, cfg: ModelConfig) -> int:
    """Validate a MIDI pitch. Raises ValueError naming the accepted range."""
    return _whole_number(pitch, cfg.min_pitch, cfg.min_pitch + cfg.num_pitches - 1, "MIDI pitch")


def check_weights(weights: Sequence[float], n: int) -> np.ndarray:
    """Interpolation weights alpha_i: n non-negative finite numbers with a positive sum, normalized to sum 1."""
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"Give one weight per sound: {n} sounds but {w.size} weights.")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"Weights must be non-negative numbers with a positive sum, got {list(weights)}.")
    return w / w.sum()


class HyperGANStrument:
    """HyperGANStrument (paper sec. 3) with the GANStrument and GANStrument Enc. baselines.

    Holds f, G, E, H and H_pre in eval mode on ``device`` and a vocoder: a name from
    ``hyperlib.VOCODERS`` (default ``DEFAULT_VOCODER``, "harmonic-noise") or any object following the
    ``hyperlib.vocoders.Vocoder`` protocol. All public methods accept a file path or a
    ``(numpy_array, sample_rate)`` pair and raise ``AudioError`` (bad audio) or ``ValueError`` (bad
    pitch, method, steps, weights or vocoder name).
    """

    def __init__(self, networks: dict, model_config: ModelConfig, audio_config: AudioConfig,
                 device: str = "cpu", vocoder: str | Vocoder = DEFAULT_VOCODER):
        self.nets = networks
        self.model_config, self.audio_config = model_config, audio_config
        self.device = torch.device(device)
        self.logmel = LogMel(audio_config).to(self.device)
        self.vocoder: Vocoder = make_vocoder(vocoder, audio_config) if isinstance(vocoder, str) else vocoder
        self.vocoder_name = vocoder if isinstance(vocoder, str) else type(vocoder).__name__
        self._vocoders = {self.vocoder_name: self.vocoder}
        self.model_dir: Path | None = None  # the folder from_pretrained loaded (faders.safetensors lives there)
        self.faders = None  # hyperlib.faders.Faders, loaded on first edit()

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None, device: str = "cpu",
                        revision: str | None = None, vocoder: str = DEFAULT_VOCODER) -> "HyperGANStrument":
        """Load a model folder found by ``hyperlib.hub.resolve``.

        Args:
            name_or_path: a local model folder or a Hub repo id. None: ``$HYPERLIB_CHECKPOINT`` (a folder or
                an id), else the checkpoint bundled with a source checkout, else ``hub.DEFAULT_REPO_ID``.
            device: torch device of the networks.
            revision: branch, tag or commit of a Hub repo (default: main).
            vocoder: a name from ``hyperlib.VOCODERS`` (checked before anything is loaded).
        Returns:
            The model, with ``model_dir`` set to the folder it was loaded from (a Hub snapshot in the
            Hugging Face cache, reused with ``HF_HUB_OFFLINE=1``).
        Raises:
            hub.ModelNotFoundError (a FileNotFoundError) listing what was tried; FileNotFoundError for a folder
            without the trained networks; CheckpointError for a weights file whose sha256 differs; ValueError
            for an unknown vocoder name.
        """
        check_vocoder(vocoder)
        path = resolve(name_or_path, revision)
        model_cfg, audio_cfg = ckpt.configs(path)
        nets = {name: ckpt.load_network(path, name, model_cfg, device) for name in ("f", "G", "E", "H", "H_pre")}
        model = cls(nets, model_cfg, audio_cfg, device, vocoder)
        model.model_dir = path
        return model

    def get_vocoder(self, name: str | None = None) -> Vocoder:
        """The named vocoder (``hyperlib.VOCODERS``; built once, then reused), or ``self.vocoder`` for None.

        Raises ValueError listing the valid names.
        """
        if name is None:
            return self.vocoder
        if name not in self._vocoders:
            self._vocoders[name] = make_vocoder(check_vocoder(name), self.audio_config)
        return self._vocoders[name]

    def use_vocoder(self, name: str) -> Vocoder:
        """Make the named vocoder the default of every later call. Raises ValueError listing the valid names."""
        self.vocoder, self.vocoder_name = self.get_vocoder(name), name
        return self.vocoder

    # -- building blocks ------------------------------------------------------------------------
    def load(self, sound: AudioInput) -> np.ndarray:
        """The front end: any audio -> (num_samples,) float32 one-shot note. Raises AudioError."""
        return load_note(sound, self.audio_config)

    @torch.no_grad()
    def mel(self, audio: np.ndarray) -> torch.Tensor:
        """(num_samples,) waveform -> (1, 1, n_mels, frames) normalized log-mel x."""
        return self.logmel(torch.from_numpy(audio).to(self.device)[None])

    def estimate_pitch(self, audio: np.ndarray) -> int:
        """MIDI pitch of a note by librosa's pYIN (median f0 over voiced frames of the first 0.5 s).

        Returns ``UNPITCHED_FALLBACK`` (60) for a sound with no voiced frames.
        """
        sr = self.audio_config.sample_rate
        f0, voiced, _ = librosa.pyin(audio[: sr // 2], fmin=librosa.midi_to_hz(self.model_config.min_pitch),
                                     fmax=min(sr / 2 - 1, librosa.midi_to_hz(108)), sr=sr, frame_length=2048)
        f0 = f0[voiced & np.isfinite(f0)]
        if f0.size == 0:
            return UNPITCHED_FALLBACK
        lo = self.model_config.min_pitch
        return int(np.clip(round(float(librosa.hz_to_midi(np.median(f0)))), lo, lo + self.model_config.num_pitches - 1))

    @torch.no_grad()
    def _render(self, method: str, h: torch.Tensor, z: torch.Tensor | None, pitch: int, steps: int,
                timings: dict, vocoder: str | None = None) -> Result:
        """G (refined by H for the hyper methods) from a timbre code h (1, h_dim), then the vocoder (a name, or
        None for ``self.vocoder``) at ``pitch``."""
        p = torch.tensor([pitch], device=self.device)
        with _timed(timings, "G+H" if method.startswith("hyper") else "G"):
            if method.startswith("hyper"):
                H = self.nets["H" if method == "hyper" else "H_pre"]
                xs, _ = refine(self.nets["G"], self.nets["f"], H, h, p, steps)
                mel, mel_init = xs[-1], xs[0]
            else:
                mel, mel_init = self.nets["G"](h, z, p), None
        mel_np = mel[0, 0].cpu().numpy()
        with _timed(timings, "vocoder"):
            audio = self.get_vocoder(vocoder)(mel_np, pitch)
            peak = float(np.max(np.abs(audio)))
            audio = audio * (10 ** (self.audio_config.peak_dbfs / 20) / peak) if peak > 0 else audio
        return Result(audio.astype(np.float32), self.audio_config.sample_rate, mel_np, method, pitch,
                      None if mel_init is None else mel_init[0, 0].cpu().numpy(), timings)

    @torch.no_grad()
    def encode(self, sound: AudioInput, method: str, timings: dict | None = None):
        """Front end and inversion: -> (audio (num_samples,), h (1, h_dim), z (1, z_dim) or None).

        ``method`` "encoder" inverts with E (h, z); the others use h = f(x) and z = None (zeros).
        """
        _check_method(method)
        timings = {} if timings is None else timings
        with _timed(timings, "front_end"):
            audio = self.load(sound)
        return (audio, *self._invert(audio, method, timings))

    @torch.no_grad()
    def _invert(self, audio: np.ndarray, method: str, timings: dict):
        """One prepared note -> (h (1, h_dim), z (1, z_dim) or None)."""
        with _timed(timings, "front_end"):
            x = self.mel(audio)
        return self._code(x, method, timings)

    @torch.no_grad()
    def _code(self, x: torch.Tensor, method: str, timings: dict):
        """A log-mel x (1, 1, n_mels, frames) -> (h (1, h_dim), z (1, z_dim) or None): E(x) or f(x)."""
        if method == "encoder":
            with _timed(timings, "E"):
                return self.nets["E"](x)
        with _timed(timings, "f"):
            return self.nets["f"](x), None

    def _mix_and_render(self, notes: list[np.ndarray], alpha, pitch: int, method: str, steps: int,
                        timings: dict, vocoder: str | None = None) -> Result:
        """Invert each prepared note, mix the codes with weights ``alpha`` and render at ``pitch``."""
        codes = [self._invert(note, method, timings) for note in notes]
        h = sum(float(a) * c[0] for a, c in zip(alpha, codes))
        z = sum(float(a) * c[1] for a, c in zip(alpha, codes)) if method == "encoder" else None
        result = self._render(method, h, z, pitch, steps, timings, vocoder)
        timings["total"] = sum(timings.values())
        return result

    def _load_timed(self, sound: AudioInput, timings: dict) -> np.ndarray:
        with _timed(timings, "front_end"):
            return self.load(sound)

    # -- the three tasks ------------------------------------------------------------------------
    def synthesize(self, sound: AudioInput, pitch: int, method: str = "hyper", steps: int = REFINE_STEPS,
                   vocoder: str | None = None) -> Result:
        """The input's timbre at MIDI ``pitch`` (21-108) (paper sec. 4.2, synthesis).

        ``vocoder``: a name from ``hyperlib.VOCODERS`` for this call (default: ``self.vocoder``), as in every task.
        """
        _check_method(method)
        self.get_vocoder(vocoder)
        pitch, steps, timings = check_pitch(pitch, self.model_config), _check_steps(steps), {}
        return self._mix_and_render([self._load_timed(sound, timings)], [1.0], pitch, method, steps, timings, vocoder)

    def reconstruct(self, sound: AudioInput, method: str = "hyper", steps: int = REFINE_STEPS, pitch: int | None = None,
                    vocoder: str | None = None) -> Result:
        """Rebuild the input at its own pitch (estimated with pYIN unless ``pitch`` is given)."""
        _check_method(method)
        self.get_vocoder(vocoder)
        steps, timings = _check_steps(steps), {}
        note = self._load_timed(sound, timings)
        if pitch is None:
            with _timed(timings, "pitch_estimate"):
                pitch = self.estimate_pitch(note)
        pitch = check_pitch(pitch, self.model_config)
        return self._mix_and_render([note], [1.0], pitch, method, steps, timings, vocoder)

    def render_methods(self, note: np.ndarray, pitch: int, methods: Sequence[str], steps: int = REFINE_STEPS,
                       timings: dict | None = None, vocoder: str | None = None) -> tuple[np.ndarray, list[Result]]:
        """One prepared note (``load``'s output) rendered at MIDI ``pitch`` by several methods, inverted once.

        The log-mel x is computed once, h = f(x) once for "gan" and the hyper methods, (h, z) = E(x) once for
        "encoder"; each Result equals ``synthesize`` of the same sound with its method. ``vocoder``: a name from
        ``hyperlib.VOCODERS`` (default: the model's).

        Returns:
            (x as an (n_mels, frames) array, one Result per method in ``methods`` order). ``timings``, when
            given, receives the shared stages in ms ("front_end" for x, "f", "E"); each Result's ``timings_ms``
            holds its own ("G" or "G+H", "vocoder", "total").
        Raises:
            ValueError: an unknown method or vocoder, a pitch outside 21-108 or steps outside 0-10.
        """
        for method in methods:
            _check_method(method)
        self.get_vocoder(vocoder)
        pitch, steps = check_pitch(pitch, self.model_config), _check_steps(steps)
        timings = {} if timings is None else timings
        with _timed(timings, "front_end"):
            x = self.mel(note)
        codes: dict[str, tuple] = {}  # "E" or "f" -> (h, z)
        results = []
        for method in methods:
            inverter = "E" if method == "encoder" else "f"
            if inverter not in codes:
                codes[inverter] = self._code(x, method, timings)
            own: dict = {}
            results.append(self._render(method, *codes[inverter], pitch, steps, own, vocoder))
            own["total"] = sum(own.values())
        return x[0, 0].cpu().numpy(), results

    def interpolate(self, sounds: Sequence[AudioInput], weights: Sequence[float], pitch: int,
                    method: str = "hyper", steps: int = REFINE_STEPS, vocoder: str | None = None) -> Result:
        """Timbre mix h_mix = sum_i alpha_i h_i at MIDI ``pitch`` (paper sec. 4.3); weights are normalized to sum 1.

        With ``encoder`` the codes (h, z) from E are mixed; with the hyper methods the refinement
        targets h_mix.
        """
        _check_method(method)
        self.get_vocoder(vocoder)
        if len(sounds) < 2:
            raise ValueError("Interpolation needs at least two sounds.")
        alpha = check_weights(weights, len(sounds))
        pitch, steps, timings = check_pitch(pitch, self.model_config), _check_steps(steps), {}
        notes = [self._load_timed(s, timings) for s in sounds]
        return self._mix_and_render(notes, alpha, pitch, method, steps, timings, vocoder)

    # -- sound design (hyperlib.faders, .morph, .melody, .sfz) ----------------------------------
    def load_faders(self, path: str | os.PathLike | None = None):
        """Load timbre faders (``hyperlib.faders.Faders``) from a file or folder (default: the model folder).

        Raises FileNotFoundError naming the command that builds ``faders.safetensors``.
        """
        from .faders import FADERS_FILE, Faders

        if path is None and self.model_dir is None:
            raise FileNotFoundError(f"This model was not loaded from a folder: give the path of a {FADERS_FILE}.")
        self.faders = Faders.load(path if path is not None else self.model_dir)
        return self.faders

    def edit(self, sound: AudioInput, faders: dict, pitch: int | None = None, method: str = "hyper",
             steps: int = REFINE_STEPS) -> Result:
        """The sound's timbre moved along the timbre faders, {index: value in std}, at MIDI ``pitch``.

        See ``hyperlib.faders.edit``; all-zero faders equal ``synthesize``. Raises FileNotFoundError when
        the model folder has no ``faders.safetensors``.
        """
        from .faders import edit

        return edit(self, sound, faders, pitch, method, steps, self.faders)

    def morph(self, sounds: Sequence[AudioInput], steps: int = 9, pitch: int = 60, even: bool = True,
              method: str = "hyper", refine_steps: int = REFINE_STEPS, iterations: int = 8):
        """A morph of ``steps`` notes between 2 sounds (or a steps x steps mesh between 4), SOM-evened.

        See ``hyperlib.morph.morph``; returns a list of Results with ``.path`` (step-size spread before/after).
        """
        from .morph import morph

        return morph(self, sounds, steps, pitch, even, method, refine_steps, iterations)

    def melody(self, sound: AudioInput, notes, method: str = "hyper", steps: int = REFINE_STEPS,
               release_s: float = 0.15) -> tuple[np.ndarray, int]:
        """A melody (notes list, "60:0:0.5,..." string or .mid path) in the sound's timbre: (audio, 16000).

        See ``hyperlib.melody.render_melody``.
        """
        from .melody import render_melody

        return render_melody(self, sound, notes, method, steps, release_s)

    def export_sfz(self, sound: AudioInput, out_dir: str | os.PathLike, low: int = 36, high: int = 84,
                   every: int = 3, method: str = "hyper", steps: int = REFINE_STEPS, name: str = "hyperlib") -> Path:
        """Write an SFZ instrument of the sound's timbre over MIDI ``low``-``high``; returns the .sfz path.

        See ``hyperlib.sfz.export_sfz``.
        """
        from .sfz import export_sfz

        return export_sfz(self, sound, out_dir, low, high, every, method, steps, name)


def _whole_number(value, lo: int, hi: int, what: str) -> int:
    """``value`` as an int if it is a whole number (int or integral float, not bool) in lo-hi, else ValueError."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or int(value) != value or not lo <= value <= hi:
        raise ValueError(f"{what} must be a whole number in {lo}-{hi}, got {value!r}.")
    return int(value)


def _check_steps(steps) -> int:
    return _whole_number(steps, 0, MAX_STEPS, "Refinement steps")


@contextmanager
def _timed(timings: dict, key: str):
    t0 = time.perf_counter()
    yield
    timings[key] = timings.get(key, 0.0) + (time.perf_counter() - t0) * 1000
