"""Play it live: a sound's timbre rendered across a key range, ready for a keyboard instrument in the browser.

The sampled keys are those of the SFZ export (``hyperlib.sfz.key_regions``: every ``every``-th key, the keys
between played by transposing the nearest sampled one). Each sampled note gets a sustain loop in its steady
part (the part ``hyperlib.melody`` stretches for long notes: after the attack, before the vocoder's tail), a
whole number of pitch periods long with a crossfade baked in, so a held key sounds on without a click::

    keys = render_keys(model, "violin.ogg", KeyRange(low=48, high=72))
    meta = write_payload(keys, "keys.wav")        # one WAV of all sampled keys, and where each one lies

Rendered key sets are kept in a ``KeyCache`` keyed by the sound's content (sha256 of the prepared note), the
model, the method, the vocoder, the refinement steps and the range.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import librosa
import numpy as np

from ..audio import write_wav
from ..config import REFINE_STEPS
from ..vocoders import DEFAULT_VOCODER
from .melody import ATTACK_KEEP_S, STEADY_END
from .sfz import check_keys, render_regions, write_sfz

if TYPE_CHECKING:
    from ..pipeline import Pipeline

LOOP_S = 0.25
"""Approximate length of the sustain loop (s); it ends where the steady part ends (``melody.STEADY_END``)."""
LOOP_CROSSFADE_S = 0.06
"""Crossfade baked into the end of the loop (s), from the loop's end into what precedes its start."""


@dataclass(frozen=True)
class KeyRange:
    """What to render: MIDI keys ``low``-``high`` (21-108), every ``every``-th key sampled (1-24), by
    ``method`` (one of ``hyperlib.METHODS``; "optimize" fits the note for seconds first) with ``steps``
    refinement steps (0-10) and ``vocoder`` (a name from ``hyperlib.VOCODERS``)."""

    low: int = 36
    high: int = 84
    every: int = 3
    method: str = "hyper"
    steps: int = REFINE_STEPS
    vocoder: str = DEFAULT_VOCODER


@dataclass
class KeySet:
    """A rendered key range.

    renders: {sampled MIDI key: (num_samples,) float32 waveform} as the model rendered it.
    regions: (sampled key, lowest key, highest key) per region, covering the range without gaps.
    loops: {sampled MIDI key: (loop start, loop end) in samples} of ``looped(key)``.
    sound_hash: sha256 (hex) of the prepared note. render_s: seconds the rendering took.
    """

    keys: KeyRange
    sample_rate: int
    renders: dict[int, np.ndarray]
    regions: list[tuple[int, int, int]]
    loops: dict[int, tuple[int, int]] = field(default_factory=dict)
    sound_hash: str = ""
    render_s: float = 0.0

    def looped(self, key: int) -> np.ndarray:
        """The render of sampled ``key`` with its loop's crossfade baked in: (num_samples,) float32."""
        start, end = self.loops[key]
        return crossfade_loop(self.renders[key], start, end, int(LOOP_CROSSFADE_S * self.sample_rate))


def loop_points(num_samples: int, sample_rate: int, pitch: int) -> tuple[int, int]:
    """A sustain loop (start, end) in samples for a note of MIDI ``pitch``.

    It ends at ``STEADY_END`` of the note and is a whole number of pitch periods (about ``LOOP_S``) long,
    so that its two ends are in phase; it never starts before the attack (``ATTACK_KEEP_S`` plus the
    crossfade). Raises ValueError for a note too short to hold one.
    """
    end = int(STEADY_END * num_samples)
    period = sample_rate / float(librosa.midi_to_hz(pitch))
    earliest = int((ATTACK_KEEP_S + LOOP_CROSSFADE_S) * sample_rate)
    periods = max(1, round(LOOP_S * sample_rate / period))
    while periods > 1 and end - round(periods * period) < earliest:
        periods -= 1
    start = end - int(round(periods * period))
    if start < earliest:
        raise ValueError(f"A note of {num_samples} samples is too short for a sustain loop at MIDI {pitch}.")
    return start, end


def crossfade_loop(audio: np.ndarray, start: int, end: int, crossfade: int) -> np.ndarray:
    """(n,) waveform -> a copy whose last ``crossfade`` samples before ``end`` fade linearly into the samples
    before ``start``, so that jumping from ``end`` back to ``start`` continues the waveform."""
    out = np.array(audio, dtype=np.float32)
    xf = min(crossfade, start, end - start)
    if xf > 0:
        ramp = np.linspace(0, 1, xf, endpoint=False, dtype=np.float32)
        out[end - xf:end] = out[end - xf:end] * (1 - ramp) + out[start - xf:start] * ramp
    return out


def sound_hash(note: np.ndarray) -> str:
    """sha256 (hex) of a prepared note's float32 samples: the same sound in any file format hashes the same."""
    return hashlib.sha256(np.ascontiguousarray(note, dtype=np.float32).tobytes()).hexdigest()


def render_keys(model: "Pipeline", sound, keys: KeyRange = KeyRange(), progress=None) -> KeySet:
    """Render ``sound``'s timbre at the sampled keys of ``keys`` (each as ``model.synthesize`` would).

    Args:
        sound: a path or (array, sample_rate) pair. progress: optional callable(done, total) after each key.
    Returns:
        The KeySet, with a sustain loop per sampled key.
    Raises:
        ValueError / AudioError: bad range, method, steps, vocoder or sound.
    """
    return render_note_keys(model, model.prepare(sound), keys, progress)


def render_note_keys(model: "Pipeline", note: np.ndarray, keys: KeyRange = KeyRange(),
                     progress=None) -> KeySet:
    """``render_keys`` of a prepared note (``model.prepare(sound)``, (num_samples,) float32).

    Raises TypeError unless ``keys`` is a KeyRange; ValueError for a bad range, method, steps or vocoder."""
    if not isinstance(keys, KeyRange):
        raise TypeError(f"keys must be a KeyRange(low, high, every, method, steps, vocoder), got {keys!r}.")
    start = time.perf_counter()
    regions = check_keys(model, keys.low, keys.high, keys.every)
    sr = model.audio_config.sample_rate
    renders = render_regions(model, note, regions, keys.method, keys.steps, keys.vocoder, progress)
    loops = {key: loop_points(len(audio), sr, key) for key, audio in renders.items()}
    return KeySet(keys, sr, renders, regions, loops, sound_hash(note), time.perf_counter() - start)


def write_payload(keyset: KeySet, path: str | Path) -> dict:
    """Write every sampled key (looped) one after the other into one 16-bit WAV; return its index.

    Returns:
        {"sampleRate": Hz, "noteSamples": samples per key, "low", "high", "every", "method", "vocoder",
        "keys": [{"key": sampled MIDI key, "offset": first sample in the WAV, "lo": lowest key, "hi":
        highest key it plays, "loopStart", "loopEnd": samples within the key}, ...]} (JSON-ready).
    """
    keys, chunks, offset = [], [], 0
    for centre, lo, hi in keyset.regions:
        audio = keyset.looped(centre)
        start, end = keyset.loops[centre]
        keys.append({"key": centre, "name": librosa.midi_to_note(centre, unicode=False), "offset": offset,
                     "length": len(audio), "lo": lo, "hi": hi, "loopStart": start, "loopEnd": end})
        chunks.append(audio)
        offset += len(audio)
    write_wav(path, np.concatenate(chunks), keyset.sample_rate)
    k = keyset.keys
    return {"sampleRate": keyset.sample_rate, "low": k.low, "high": k.high, "every": k.every, "method": k.method,
            "vocoder": k.vocoder, "keys": keys}


def export_keyset_sfz(keyset: KeySet, out_dir: str | Path, name: str = "hyperlib") -> Path:
    """Write a rendered key set as an SFZ instrument (``hyperlib.sfz.write_sfz``); returns the .sfz path."""
    k = keyset.keys
    comment = f"{k.method}, {k.vocoder}, {k.steps} refinement steps, keys {k.low}-{k.high}, every {k.every}"
    return write_sfz(keyset.renders, keyset.regions, out_dir, keyset.sample_rate, name, comment)


class KeyCache:
    """Rendered key sets, least recently used dropped beyond ``max_items`` (thread-safe).

    A set is found again for the same model folder, prepared note (its sha256) and ``KeyRange``.
    """

    def __init__(self, max_items: int = 8):
        self.max_items = max_items
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(model: "Pipeline", note: np.ndarray, keys: KeyRange) -> tuple:
        return str(model.model_dir or id(model)), sound_hash(note), keys

    def get(self, model: "Pipeline", note: np.ndarray, keys: KeyRange) -> KeySet | None:
        """The cached set, or None."""
        k = self.key(model, note, keys)
        with self._lock:
            if k in self._items:
                self._items.move_to_end(k)
                return self._items[k]
        return None

    def render(self, model: "Pipeline", note: np.ndarray, keys: KeyRange = KeyRange(),
               progress=None) -> tuple[KeySet, bool]:
        """The cached set, else ``render_note_keys`` of the prepared ``note`` (then cached): (set, whether cached)."""
        cached = self.get(model, note, keys)
        if cached is not None:
            return cached, True
        keyset = render_note_keys(model, note, keys, progress)
        with self._lock:
            self._items[self.key(model, note, keys)] = keyset
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return keyset, False
