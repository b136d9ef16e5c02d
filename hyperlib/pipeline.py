"""The three tasks of the paper on a loaded model: reconstruction, synthesis, interpolation (paper sec. 4).

``Pipeline`` holds the networks and a vocoder, validates what it is given (``hyperlib.validation``) and renders
through ``hyperlib.render``. ``hyperlib.HyperGANStrument`` is this class plus the sound-design tools
(``hyperlib.sound_design``)::

    model = HyperGANStrument.from_pretrained()
    r = model.synthesize("piano.wav", pitch=64, method="hyper")
    r.audio, r.sample_rate, r.mel

Every call that takes a ``sound`` takes a file path, a ``(samples, sample_rate)`` pair, or a prepared note
(``prepare``'s output, used as it is). Calls that render one note return a ``Result``; calls that render several
return a list of Results.

``method="optimize"`` (GAN inversion by optimization) fits G to each input note for a few seconds before rendering
(``optimize_budget``); the tasks that run it take ``progress``, called as progress(step, total) after every step.
``method="faithful"`` pitch-shifts the input's own audio and corrects its colour (``hyperlib.faithful``): it renders
at any pitch (``synthesize``, ``reconstruct``, ``synthesize_pitches``, ``synthesize_methods``) but has no timbre
code to mix or edit.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import librosa
import numpy as np
import torch

from . import checkpoint as ckpt
from .audio import AudioInput, check_sound, load_note, pyin_f0
from .config import CHECK_REFINEMENT, MAX_PITCH, REFINE_STEPS, AudioConfig, ModelConfig
from .deprecation import warn_renamed
from .faithful import Faithful, load_correction
from .hub import resolve
from .inversion import OptimizeConfig
from .mel import LogMel
from .render import (HYPERNETWORK, INVERTER, Code, Reference, Result, invert, mix, progress_part, render, timed,
                     with_kept_steps)
from .validation import check_code_method, check_method, check_pitch, check_steps, check_weights
from .vocoders import DEFAULT_VOCODER, Vocoder, check_vocoder, make_vocoder

UNPITCHED_FALLBACK = 60  # MIDI pitch assumed for a sound with no detectable pitch (e.g. a handsaw)
Progress = Callable[[int, int], None]
"""progress(step, total): called after every optimization step of "optimize"."""


class Encoded(NamedTuple):
    """A prepared note and its timbre code (``HyperGANStrument.encode``); ``render_code`` renders the code.

    audio: (num_samples,) float32 note. h: (1, h_dim). z: (1, z_dim) ("encoder", "optimize") or None.
    deltas: "optimize"'s offsets of G's tuned layers, one (1, C_out, C_in) per layer, or None.
    """

    audio: np.ndarray
    h: torch.Tensor
    z: torch.Tensor | None
    deltas: list[torch.Tensor] | None = None

    @property
    def code(self) -> Code:
        """(h, z, deltas) as a ``render.Code``."""
        return Code(self.h, self.z, self.deltas)


class Pipeline:
    """HyperGANStrument (paper sec. 3) with the GANStrument and GANStrument Enc. baselines.

    Holds f, G, E, H, H_pre and, where the model has one, the faithful method's spectral correction (``networks``
    key "correction") in eval mode on ``device`` and a vocoder: a name from
    ``hyperlib.VOCODERS`` (default ``DEFAULT_VOCODER``, "ddsp") or any object following the
    ``hyperlib.vocoders.Vocoder`` protocol. All public methods accept a file path, a
    ``(numpy_array, sample_rate)`` pair or a prepared note (``prepare``'s output) and raise ``AudioError`` (bad
    audio) or ``ValueError`` (bad pitch, method, steps, weights or vocoder name). ``optimize_budget``: the step
    budget of "optimize" (``inversion.OptimizeConfig``; the default fits a note in a few seconds on one CPU thread).
    ``check_refinement`` (default ``config.CHECK_REFINEMENT``): where the hyper methods render one input's own code
    (``synthesize``, ``reconstruct``, ``synthesize_pitches``, ``synthesize_methods``), each refinement step is kept
    only if it brings G closer to the input's log-mel at the input's own pitch (``models.checked_refine``; the
    input's pitch is estimated with pYIN where it is not given; ``synthesize_pitches`` checks once for all its
    pitches); mixed or edited codes are refined without the check.
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
        self.optimize_budget = OptimizeConfig()
        self.check_refinement = CHECK_REFINEMENT
        correction = networks.get("correction")
        self.faithful = None if correction is None else Faithful(networks["f"], correction, self.logmel)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None, device: str = "cpu",
                        revision: str | None = None, vocoder: str = DEFAULT_VOCODER) -> "Pipeline":
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
        if (correction := load_correction(path, model_cfg.h_dim, audio_cfg, device)) is not None:
            nets["correction"] = correction
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
    def prepare(self, sound: AudioInput | np.ndarray) -> np.ndarray:
        """The front end: any audio -> a prepared note, the (num_samples,) float32 one-shot note every method
        inverts (decoded, mono, at ``audio_config.sample_rate`` Hz, trimmed to its onset, cropped or padded to 1.024 s,
        peak at -1 dBFS). A prepared note is returned as it is. Raises AudioError."""
        check_sound(sound, self.audio_config)
        return sound if isinstance(sound, np.ndarray) else load_note(sound, self.audio_config)

    def load(self, sound: AudioInput) -> np.ndarray:
        """Deprecated name of ``prepare``."""
        warn_renamed("HyperGANStrument.load", "HyperGANStrument.prepare")
        return self.prepare(sound)

    @torch.no_grad()
    def mel(self, audio: np.ndarray) -> torch.Tensor:
        """(num_samples,) waveform -> (1, 1, n_mels, frames) normalized log-mel x."""
        return self.logmel(torch.from_numpy(audio).to(self.device)[None])

    def estimate_pitch(self, audio: np.ndarray) -> int:
        """MIDI pitch of a note by librosa's pYIN (median f0 over voiced frames of the first 0.5 s, quarter-semitone
        bins), rounded, within 21-108.

        Returns ``UNPITCHED_FALLBACK`` (60) for a sound with no voiced frames.
        """
        lo = self.model_config.min_pitch
        f0 = pyin_f0(audio, self.audio_config.sample_rate, librosa.midi_to_hz(lo), librosa.midi_to_hz(MAX_PITCH),
                     resolution=0.25)
        if not np.isfinite(f0):
            return UNPITCHED_FALLBACK
        return int(np.clip(round(float(librosa.hz_to_midi(f0))), lo, lo + self.model_config.num_pitches - 1))

    @torch.no_grad()
    def render_code(self, method: str, h: torch.Tensor, z: torch.Tensor | None, pitch: int, steps: int,
                    timings: dict | None = None, vocoder: str | None = None,
                    deltas: list[torch.Tensor] | None = None, reference: Reference | None = None) -> Result:
        """A note from a timbre code: G (refined by H or H_pre for the hyper methods), then the vocoder.

        Args:
            h: (1, h_dim) timbre code (``encode``'s, or an edited or mixed one). z: (1, z_dim) or None.
            pitch: MIDI 21-108. steps: refinement steps T (0-10). timings: milliseconds per stage are added here
                (and become the Result's ``timings_ms``). vocoder: a name from ``hyperlib.VOCODERS`` (None: the
                model's). deltas: "optimize"'s offsets of G's tuned layers (``encode``'s), or None. reference: the
                input whose code h is (``refinement_reference``), which checks the hyper methods' refinement
                steps, or None.
        Raises:
            ValueError: an unknown method or vocoder, "faithful" (which has no code), a pitch or steps out of range.
        """
        check_code_method(method)
        pitch, steps = check_pitch(pitch, self.model_config), check_steps(steps)
        return render(self.nets, self.get_vocoder(vocoder), self.audio_config, method, h, z, pitch, steps,
                      {} if timings is None else timings, deltas, reference)

    def refinement_reference(self, method: str, note: np.ndarray, own_pitch: int | None,
                             timings: dict | None = None) -> Reference | None:
        """What checks a hyper method's refinement steps on a prepared note (``prepare``'s output): its log-mel and its
        MIDI ``own_pitch`` (None: estimated with pYIN, timed as "pitch_estimate" into ``timings``); None where
        ``check_refinement`` is off or ``method`` does not refine (nothing is estimated then)."""
        if not self._checked(method):
            return None
        if own_pitch is None:
            with timed({} if timings is None else timings, "pitch_estimate"):
                own_pitch = self.estimate_pitch(note)
        return Reference(self.mel(note), torch.tensor([own_pitch], device=self.device))

    def _checked(self, method: str) -> bool:
        """Whether ``method``'s refinement steps are checked against the input (``check_refinement``)."""
        return self.check_refinement and HYPERNETWORK[method] is not None

    @torch.no_grad()
    def encode(self, sound: AudioInput | np.ndarray, method: str, timings: dict | None = None,
               pitch: int | None = None, progress: Progress | None = None) -> Encoded:
        """Front end and inversion: a sound -> ``Encoded`` (audio, h, z, deltas), the prepared note and its code.

        ``method`` "encoder" inverts with E (h, z); "optimize" fits (h, z) and G's offsets to the note at its own
        MIDI ``pitch`` (None: estimated with pYIN) within ``optimize_budget``; the others use h = f(x) and z = None
        (zeros). ``timings``, when given, receives milliseconds of "front_end" (decoding and the log-mel) and "f",
        "E" or "pitch_estimate", "f" and "optimize". Raises AudioError (bad audio) or ValueError (unknown method,
        "faithful", which has no code, or a bad pitch).
        """
        check_code_method(method)
        timings = {} if timings is None else timings
        if pitch is not None:
            pitch = check_pitch(pitch, self.model_config)
        with timed(timings, "front_end"):
            note = self.prepare(sound)
            x = self.mel(note)
        if INVERTER[method] == "f+G" and pitch is None:
            with timed(timings, "pitch_estimate"):
                pitch = self.estimate_pitch(note)
        return Encoded(note, *invert(self.nets, method, x, timings, pitch, self.optimize_budget, progress))

    def encode_note(self, note: np.ndarray, method: str, timings: dict | None = None, pitch: int | None = None,
                    progress: Progress | None = None) -> Encoded:
        """Deprecated name of ``encode`` (which takes a prepared note as well as any sound)."""
        warn_renamed("HyperGANStrument.encode_note", "HyperGANStrument.encode")
        return self.encode(note, method, timings, pitch, progress)

    def _mix_and_render(self, sounds: Sequence[AudioInput], alpha, pitch: int | None, method: str, steps: int,
                        vocoder: str | None, progress: Progress | None, own_pitch: bool = False) -> Result:
        """Invert each sound, mix the codes with weights ``alpha`` (``render.mix``) and render at ``pitch``.

        own_pitch: ``pitch`` is the one sound's own (reconstruction; None: estimated), at which "optimize" also fits
        it; otherwise "optimize" fits each sound at its own estimated pitch.
        """
        for sound in sounds:  # every sound's type and shape before any of them is decoded
            check_sound(sound, self.audio_config)
        timings: dict = {}
        with timed(timings, "front_end"):
            notes = [self.prepare(sound) for sound in sounds]
        if pitch is None:
            with timed(timings, "pitch_estimate"):
                pitch = self.estimate_pitch(notes[0])
        codes = [self.encode(note, method, timings, pitch if own_pitch else None,
                             progress_part(progress, i, len(notes))).code for i, note in enumerate(notes)]
        code = mix(codes, alpha)
        reference = None if len(notes) > 1 else self.refinement_reference(method, notes[0],
                                                                          pitch if own_pitch else None, timings)
        result = self.render_code(method, code.h, code.z, pitch, steps, timings, vocoder, code.deltas, reference)
        timings["total"] = sum(timings.values())
        return result

    def _faithful_note(self, note: np.ndarray, src_pitch: int, pitch: int, timings: dict | None = None) -> Result:
        """The "faithful" method on a prepared note at MIDI ``src_pitch``, moved to MIDI ``pitch``.

        Returns a Result whose ``mel`` is the log-mel of its audio; ``timings`` (and the Result's ``timings_ms``)
        receive "pitch_shift", "f", "correction", "total". Raises ValueError where the model has no spectral
        correction.
        """
        timings = {} if timings is None else timings
        audio = self._faithful()(note, src_pitch, [pitch], timings)[0]
        timings["total"] = sum(timings.values())
        return Result(audio, self.audio_config.sample_rate, self.mel(audio)[0, 0].cpu().numpy(), "faithful", pitch,
                      None, timings)

    def _faithful(self) -> Faithful:
        if self.faithful is None:
            raise ValueError("This model has no spectral correction (correction.safetensors in its folder), which the "
                             "faithful method needs: train one with `python -m hyperlib train-correction`, or choose "
                             "another method.")
        return self.faithful

    def _faithful_result(self, sound: AudioInput, pitch: int | None, own_pitch: int | None = None) -> Result:
        """``synthesize`` (at ``pitch``) or ``reconstruct`` (``pitch`` None: at the note's own pitch, ``own_pitch`` or
        estimated) with the faithful method."""
        self._faithful()
        timings: dict = {}
        with timed(timings, "front_end"):
            note = self.prepare(sound)
        if own_pitch is None:
            with timed(timings, "pitch_estimate"):
                own_pitch = self.estimate_pitch(note)
        return self._faithful_note(note, own_pitch, own_pitch if pitch is None else pitch, timings)

    def synthesize_pitches(self, sound: AudioInput | np.ndarray, pitches: Sequence[int], method: str = "hyper",
                           steps: int = REFINE_STEPS, vocoder: str | None = None, timings: dict | None = None,
                           progress: Progress | None = None) -> list[Result]:
        """The sound's timbre at several MIDI pitches: one Result per pitch, in ``pitches`` order.

        The code methods invert the sound once and render each pitch as ``synthesize`` would; "faithful" estimates
        the sound's pitch once (pYIN) and shifts and corrects all pitches in one batch. ``timings``, when given,
        receives the shared stages in ms ("front_end", "f", "E", "pitch_estimate", "optimize"); each Result's
        ``timings_ms`` holds its own ("G" or "G+H", "vocoder", "total"; for "faithful", the batch's).
        ``progress(done, total)`` after each pitch (after the batch for "faithful"). Raises AudioError for bad
        audio and ValueError for a bad method, pitch, steps or vocoder, before anything is rendered.
        """
        check_method(method)
        steps = check_steps(steps)
        self.get_vocoder(vocoder)
        pitches = [check_pitch(p, self.model_config) for p in pitches]
        timings = {} if timings is None else timings
        with timed(timings, "front_end"):
            note = self.prepare(sound)
        if method == "faithful":
            faithful = self._faithful()
            with timed(timings, "pitch_estimate"):
                own_pitch = self.estimate_pitch(note)
            batch: dict = {}
            audios = faithful(note, own_pitch, pitches, batch)
            with torch.no_grad():
                mels = self.logmel(torch.from_numpy(np.ascontiguousarray(audios)).to(self.device))
            batch["total"] = sum(batch.values())
            timings.update(batch)
            if progress:
                progress(len(pitches), len(pitches))
            sr = self.audio_config.sample_rate
            return [Result(a, sr, m[0].cpu().numpy(), "faithful", p, None, dict(batch))
                    for a, m, p in zip(audios, mels, pitches)]
        code = self.encode(note, method, timings)
        reference = self.refinement_reference(method, note, None, timings)
        if reference is not None:
            with timed(timings, "G+H"):  # the input's check, once for every pitch
                reference = with_kept_steps(self.nets, method, code.h, steps, reference)
        results = []
        for i, p in enumerate(pitches):
            own: dict = {}
            results.append(self.render_code(method, code.h, code.z, p, steps, own, vocoder, code.deltas, reference))
            own["total"] = sum(own.values())
            if progress:
                progress(i + 1, len(pitches))
        return results

    def render_pitches(self, note: np.ndarray, pitches: Sequence[int], method: str = "hyper",
                       steps: int = REFINE_STEPS, vocoder: str | None = None, timings: dict | None = None,
                       progress: Progress | None = None) -> dict[int, np.ndarray]:
        """Deprecated: ``synthesize_pitches``, as {pitch: (num_samples,) float32 audio}."""
        warn_renamed("HyperGANStrument.render_pitches", "HyperGANStrument.synthesize_pitches (a list of Results)")
        results = self.synthesize_pitches(note, pitches, method, steps, vocoder, timings, progress)
        return {r.pitch: r.audio for r in results}

    # -- the three tasks ------------------------------------------------------------------------
    def synthesize(self, sound: AudioInput, pitch: int, method: str = "hyper", steps: int = REFINE_STEPS,
                   vocoder: str | None = None, progress: Progress | None = None) -> Result:
        """The input's timbre at MIDI ``pitch`` (21-108) (paper sec. 4.2, synthesis).

        ``vocoder``: a name from ``hyperlib.VOCODERS`` for this call (default: ``self.vocoder``), as in every task.
        ``progress``: progress(step, total) after every optimization step of "optimize" (which fits the input at
        its own pitch, estimated with pYIN), as in every task. "faithful" shifts the input's own audio from its pitch
        (estimated with pYIN) to ``pitch`` and corrects its colour; it has no vocoder, steps or progress.
        """
        check_method(method)
        self.get_vocoder(vocoder)
        pitch, steps = check_pitch(pitch, self.model_config), check_steps(steps)
        if method == "faithful":
            return self._faithful_result(sound, pitch)
        return self._mix_and_render([sound], [1.0], pitch, method, steps, vocoder, progress)

    def reconstruct(self, sound: AudioInput, method: str = "hyper", steps: int = REFINE_STEPS, pitch: int | None = None,
                    vocoder: str | None = None, progress: Progress | None = None) -> Result:
        """Rebuild the input at its own pitch (estimated with pYIN unless ``pitch`` is given; "optimize" fits it
        there)."""
        check_method(method)
        self.get_vocoder(vocoder)
        steps = check_steps(steps)
        pitch = None if pitch is None else check_pitch(pitch, self.model_config)
        if method == "faithful":
            return self._faithful_result(sound, None, pitch)
        return self._mix_and_render([sound], [1.0], pitch, method, steps, vocoder, progress, own_pitch=True)

    def synthesize_methods(self, sound: AudioInput | np.ndarray, pitch: int, methods: Sequence[str],
                           steps: int = REFINE_STEPS, vocoder: str | None = None, timings: dict | None = None,
                           progress: Progress | None = None) -> list[Result]:
        """The sound at MIDI ``pitch`` by several methods side by side: one Result per method, in ``methods`` order.

        The sound is decoded once, its log-mel x computed once, h = f(x) once for "gan" and the hyper methods,
        (h, z) = E(x) once for "encoder", the fit of "optimize" once (at the note's own pitch, estimated with pYIN;
        ``progress`` after every step); each Result equals ``synthesize`` of the same sound with its method.
        ``vocoder``: a name from ``hyperlib.VOCODERS`` (default: the model's). ``timings``, when given, receives
        the shared stages in ms ("front_end", "f", "E", "pitch_estimate", "optimize"); each Result's
        ``timings_ms`` holds its own ("G" or "G+H", "vocoder", "total").

        Raises:
            AudioError: bad audio. ValueError: an unknown method or vocoder, a pitch outside 21-108 or steps
            outside 0-10 (all checked before anything is decoded).
        """
        for method in methods:
            check_method(method)
        self.get_vocoder(vocoder)
        pitch, steps = check_pitch(pitch, self.model_config), check_steps(steps)
        check_sound(sound, self.audio_config)
        timings = {} if timings is None else timings
        with timed(timings, "front_end"):
            note = self.prepare(sound)
            x = self.mel(note)
        codes: dict[str, Code] = {}  # INVERTER's name -> the code
        results, own_pitch = [], None
        for method in methods:
            if own_pitch is None and (method == "faithful" or INVERTER[method] == "f+G" or self._checked(method)):
                with timed(timings, "pitch_estimate"):
                    own_pitch = self.estimate_pitch(note)
            if method == "faithful":
                results.append(self._faithful_note(note, own_pitch, pitch))
                continue
            inverter = INVERTER[method]
            if inverter not in codes:
                codes[inverter] = invert(self.nets, method, x, timings, own_pitch if inverter == "f+G" else None,
                                         self.optimize_budget, progress)
            code, own = codes[inverter], {}
            results.append(self.render_code(method, code.h, code.z, pitch, steps, own, vocoder, code.deltas,
                                            Reference(x, torch.tensor([own_pitch], device=self.device))
                                            if self._checked(method) else None))
            own["total"] = sum(own.values())
        return results

    def render_methods(self, note: np.ndarray, pitch: int, methods: Sequence[str], steps: int = REFINE_STEPS,
                       timings: dict | None = None, vocoder: str | None = None,
                       progress: Progress | None = None) -> tuple[np.ndarray, list[Result]]:
        """Deprecated: ``synthesize_methods``, with the note's (n_mels, frames) log-mel x first."""
        warn_renamed("HyperGANStrument.render_methods",
                     "HyperGANStrument.synthesize_methods (a list of Results; x is model.mel(note))")
        results = self.synthesize_methods(note, pitch, methods, steps, vocoder, timings, progress)
        return self.mel(note)[0, 0].cpu().numpy(), results

    def interpolate(self, sounds: Sequence[AudioInput], weights: Sequence[float], pitch: int,
                    method: str = "hyper", steps: int = REFINE_STEPS, vocoder: str | None = None,
                    progress: Progress | None = None) -> Result:
        """Timbre mix h_mix = sum_i alpha_i h_i at MIDI ``pitch`` (paper sec. 4.3); weights are normalized to sum 1.

        With ``encoder`` the codes (h, z) from E are mixed; with the hyper methods the refinement
        targets h_mix; with "optimize" h, z and G's fitted offsets are mixed with the same weights
        (sum_i alpha_i Delta_i per tuned layer), each sound fitted at its own pitch (estimated with pYIN).
        "faithful" cannot mix timbres (ValueError).
        """
        check_code_method(method)
        self.get_vocoder(vocoder)
        if not isinstance(sounds, (list, tuple)):
            raise TypeError(f"Interpolation takes a list of sounds (paths or (samples, sample_rate) pairs), got "
                            f"{type(sounds).__name__}.")
        if len(sounds) < 2:
            raise ValueError("Interpolation needs at least two sounds.")
        alpha = check_weights(weights, len(sounds))
        pitch, steps = check_pitch(pitch, self.model_config), check_steps(steps)
        return self._mix_and_render(sounds, alpha, pitch, method, steps, vocoder, progress)
