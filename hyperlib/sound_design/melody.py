"""Play it: render a melody with a sound's timbre.

Each distinct pitch is rendered once from G (the 1.024 s one-shot note the model makes), shaped to each
note's duration (the note's steady middle is time-stretched when the note is longer than the render,
then a release fade), scaled by velocity and mixed into one 16 kHz waveform normalized to the model's
peak level (so it never clips)::

    r = model.melody("violin.ogg", [(60, 0.0, 0.5, 100), (64, 0.5, 0.5, 90), (67, 1.0, 1.0, 110)])
    r = model.melody("violin.ogg", read_midi("tune.mid"))  # r.audio, r.sample_rate
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import librosa
import numpy as np

from ..audio import check_sound, peak_normalize
from ..config import REFINE_STEPS
from ..render import Result, timed
from ..validation import check_method, check_pitch, check_steps, finite_number, whole_number

if TYPE_CHECKING:
    from ..pipeline import Pipeline

RELEASE_S = 0.15
"""Default release: seconds of fade-out after each note's end."""
ATTACK_KEEP_S = 0.08
"""Seconds at the start of a render kept untouched when stretching (the attack)."""
STEADY_END = 0.8
"""The steady part used for stretching ends at this fraction of the render (the tail is the vocoder's)."""
MAX_NOTES = 2000
MAX_SECONDS = 600.0

ODE_TO_JOY = "64:0:0.4,64:0.4:0.4,65:0.8:0.4,67:1.2:0.4,67:1.6:0.4,65:2.0:0.4,64:2.4:0.4,62:2.8:0.4," \
             "60:3.2:0.4,60:3.6:0.4,62:4.0:0.4,64:4.4:0.4,64:4.8:0.6,62:5.4:0.2,62:5.6:0.8"
"""A short built-in tune (the opening of Beethoven's Ode to Joy) in ``parse_notes`` syntax."""


@dataclass(frozen=True)
class Note:
    """One note: MIDI pitch, start and duration in seconds, MIDI velocity 1-127."""

    pitch: int
    start: float
    duration: float
    velocity: int = 100

    @property
    def end(self) -> float:
        return self.start + self.duration


def to_notes(notes: Iterable) -> list[Note]:
    """Notes from ``Note`` objects or tuples (pitch, start_s, duration_s[, velocity]).

    Raises TypeError unless ``notes`` is a list or tuple of such notes; ValueError for an empty list, more than
    2000 notes, a pitch or velocity that is not a whole number (MIDI 0-127, velocity 1-127), a start or duration
    that is not a number, a negative start, a non-positive duration or a melody longer than 600 s (pitches are
    checked against the model's range by the model).
    """
    if not isinstance(notes, (list, tuple)):
        raise TypeError(f"Notes must be a list of (pitch, start_s, duration_s[, velocity]) tuples, got "
                        f"{type(notes).__name__}.")
    out = []
    for n in notes:
        fields = (n.pitch, n.start, n.duration, n.velocity) if isinstance(n, Note) else n
        if not isinstance(fields, (list, tuple)) or len(fields) not in (3, 4):
            raise ValueError(f"A note is (pitch, start_s, duration_s[, velocity]), got {n!r}.")
        n = Note(whole_number(fields[0], 0, 127, "Note pitch"),
                 finite_number(fields[1], 0, MAX_SECONDS, "Note start (s)"),
                 finite_number(fields[2], 0, MAX_SECONDS, "Note duration (s)"),
                 whole_number(fields[3], 1, 127, "Note velocity") if len(fields) == 4 else 100)
        if n.duration <= 0:
            raise ValueError(f"Note duration must be > 0 s, got {n}.")
        out.append(n)
    if not out:
        raise ValueError("The melody has no notes.")
    if len(out) > MAX_NOTES or max(n.end for n in out) > MAX_SECONDS:
        raise ValueError(f"A melody may have at most {MAX_NOTES} notes and last at most {MAX_SECONDS:g} s.")
    return sorted(out, key=lambda n: (n.start, n.pitch))


def parse_notes(text: str) -> list[Note]:
    """Parse "pitch:start:duration[:velocity],..." (seconds; pitch as a MIDI number or a name like C4, F#3).

    Example: "60:0:0.5,64:0.5:0.5,67:1:1:110". Raises ValueError naming the bad item.
    """
    if not isinstance(text, str):
        raise TypeError(f"Notes text must be a string like 60:0:0.5,64:0.5:0.5, got {type(text).__name__}.")
    notes = []
    for item in [s.strip() for s in text.replace(";", ",").replace("\n", ",").split(",") if s.strip()]:
        parts = item.split(":")
        if len(parts) not in (3, 4):
            raise ValueError(f"Bad note {item!r}: write pitch:start:duration[:velocity], e.g. 60:0:0.5.")
        try:
            pitch = int(parts[0]) if parts[0].lstrip("-").isdigit() else int(round(librosa.note_to_midi(parts[0])))
            notes.append((pitch, float(parts[1]), float(parts[2]), *([int(parts[3])] if len(parts) == 4 else [])))
        except (ValueError, librosa.ParameterError) as exc:
            raise ValueError(f"Bad note {item!r}: write pitch:start:duration[:velocity], e.g. 60:0:0.5.") from exc
    return to_notes(notes)


def read_midi(path: str | Path, skip_drums: bool = True) -> list[Note]:
    """All notes of a MIDI file (every track and channel, tempo changes honoured) via ``pretty_midi``.

    Start and duration are in seconds. Drum tracks (channel 10) are skipped unless ``skip_drums`` is False; a note
    with no note-off before the end of the file is not read (pretty_midi drops it). Raises ValueError for an
    unreadable file and ModuleNotFoundError when ``pretty_midi`` (the ``app`` extra, not a core dependency) is not
    installed.
    """
    try:
        import pretty_midi
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError("Reading MIDI files needs pretty_midi: pip install pretty_midi (or hyperlib[app]).") from exc

    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise ValueError(f"Could not read {Path(path).name} as a MIDI file: {exc}") from exc
    return to_notes([Note(n.pitch, n.start, n.end - n.start, n.velocity)
                     for inst in midi.instruments if not (skip_drums and inst.is_drum)
                     for n in inst.notes if n.end > n.start])


def shape(render: np.ndarray, duration_s: float, sample_rate: int, release_s: float = RELEASE_S) -> np.ndarray:
    """Fit one rendered note to a duration: (num_samples,) -> (round((duration_s + release_s) * sr),) float32.

    Up to the render's length the note is simply cut; longer notes keep the attack (first 80 ms) and
    time-stretch the steady part (80 ms to 80 % of the render) with librosa's phase vocoder to fill the
    rest (its RMS envelope reset to the steady part's, stretched in time: a decay decays more slowly),
    with a 10 ms crossfade at the seam. A raised-cosine release fade runs from ``duration_s``
    to ``duration_s + release_s``.
    """
    n = int(round((duration_s + release_s) * sample_rate))
    y = np.asarray(render, dtype=np.float32)
    a, b = int(ATTACK_KEEP_S * sample_rate), int(STEADY_END * len(y))
    if n <= b:
        out = y[:n].copy()
    else:
        steady = y[a:b]
        need = n - a
        stretched = librosa.effects.time_stretch(steady, rate=len(steady) / (need + 1024))
        stretched = librosa.util.fix_length(stretched, size=need)
        # the phase vocoder loses level (inconsistent phases cancel): restore the steady part's envelope,
        # stretched in time, frame by frame
        target = np.interp(np.linspace(0, 1, need), np.linspace(0, 1, len(steady)), _envelope(steady, sample_rate))
        stretched = stretched * np.clip(target / np.maximum(_envelope(stretched, sample_rate), 1e-6), 0, 8)
        xf = min(int(0.01 * sample_rate), a, need)
        out = np.concatenate([y[:a], stretched]).astype(np.float32)
        if xf > 0:  # crossfade the original continuation into the stretched part at the seam
            ramp = np.linspace(0, 1, xf, dtype=np.float32)
            out[a:a + xf] = y[a:a + xf] * (1 - ramp) + stretched[:xf] * ramp
    out = np.pad(out, (0, max(0, n - len(out))))[:n]
    d, r = int(round(duration_s * sample_rate)), n - int(round(duration_s * sample_rate))
    if r > 0:
        out[d:] *= (0.5 * (1 + np.cos(np.linspace(0, np.pi, r)))).astype(np.float32)
    return out


def _envelope(y: np.ndarray, sample_rate: int, frame_s: float = 0.02) -> np.ndarray:
    """(n,) waveform -> (n,) RMS envelope on ``frame_s`` frames (half-overlapping), linearly interpolated."""
    hop = max(1, int(frame_s * sample_rate) // 2)
    rms = librosa.feature.rms(y=np.asarray(y, np.float32), frame_length=2 * hop, hop_length=hop, center=True)[0]
    return np.interp(np.arange(len(y)), np.arange(len(rms)) * hop, rms).astype(np.float32)


def velocity_gain(velocity: int) -> float:
    """Amplitude for a MIDI velocity: (v / 127)^2 (a 40 dB range, the common MIDI volume curve)."""
    return (velocity / 127.0) ** 2


def mix(renders: dict[int, np.ndarray], notes: Sequence[Note], sample_rate: int, release_s: float = RELEASE_S,
        peak_dbfs: float = -1.0) -> np.ndarray:
    """Place each shaped note at its start and sum.

    Args:
        renders: {MIDI pitch: (num_samples,) rendered note}. notes: the notes.
    Returns:
        (round((last end + release_s) * sr),) float32, peak normalized to ``peak_dbfs`` dB full scale.
    """
    total = int(round((max(n.end for n in notes) + release_s) * sample_rate))
    out = np.zeros(total, np.float64)
    for n in notes:
        y = shape(renders[n.pitch], n.duration, sample_rate, release_s) * velocity_gain(n.velocity)
        i = int(round(n.start * sample_rate))
        out[i:i + len(y)] += y[: total - i]
    return peak_normalize(out, peak_dbfs)


def render_melody(model: "Pipeline", sound, notes, method: str = "hyper", steps: int = REFINE_STEPS,
                  release_s: float = RELEASE_S) -> Result:
    """A melody in the timbre of ``sound``.

    Args:
        sound: audio input (path, (array, sample_rate) or a prepared note).
        notes: ``Note`` list, tuples (pitch, start_s, duration_s[, velocity]), a "60:0:0.5,..." string,
            or a path to a .mid file.
        method, steps: how each distinct pitch is rendered (once each).
        release_s: fade-out after each note (seconds, 0-5).
    Returns:
        A ``Result`` whose audio is the (round((last end + release_s) * 16000),) float32 tune at ``sample_rate``
        16000, with ``mel`` and ``pitch`` None (a tune has several) and ``timings_ms`` of the notes' rendering.
    Raises:
        ValueError / AudioError: bad notes, pitch, method, steps or audio (all checked before rendering).
        TypeError: ``notes`` of another type.
    """
    check_method(method)
    steps = check_steps(steps)
    release_s = finite_number(release_s, 0, 5, "Release (s)")
    check_sound(sound, model.audio_config)
    if isinstance(notes, (str, Path)) and str(notes).lower().endswith((".mid", ".midi")):
        notes = read_midi(notes)
    elif isinstance(notes, str):
        notes = parse_notes(notes)
    else:
        notes = to_notes(notes)
    pitches = sorted({check_pitch(n.pitch, model.model_config) for n in notes})
    timings: dict = {}
    results = model.synthesize_pitches(sound, pitches, method, steps, timings=timings)
    timings["notes"] = sum(r.timings_ms["total"] for r in results)
    renders = {r.pitch: r.audio for r in results}
    sr = model.audio_config.sample_rate
    with timed(timings, "mix"):
        audio = mix(renders, notes, sr, float(release_s), model.audio_config.peak_dbfs)
    timings["total"] = sum(timings.values())
    return Result(audio, sr, None, method, None, timings_ms=timings)
