"""Export an instrument: render a timbre across the keyboard and write an SFZ instrument.

The folder holds ``<name>.sfz`` and ``samples/<name>_<midi>.wav`` (16-bit PCM, 16 kHz, mono). Each
sampled key is the centre (``pitch_keycenter``) of a region; with ``every`` > 1 the keys between
sampled ones are split between their neighbours (the sampler transposes them), and the regions cover
``low``-``high`` without gaps or overlaps::

    model.export_sfz("violin.ogg", "out/violin", low=36, high=84, every=3)
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import librosa
import numpy as np

from ..audio import check_sound, write_wav
from ..config import REFINE_STEPS
from ..validation import check_method, check_pitch, check_steps, finite_number, whole_number

if TYPE_CHECKING:
    from ..pipeline import Pipeline

RELEASE_S = 0.25


def key_regions(low: int, high: int, every: int = 1) -> list[tuple[int, int, int]]:
    """(pitch_keycenter, lokey, hikey) per region for sampled keys low, low + every, ... (and high).

    Each key between two sampled keys goes to the nearer one (ties to the lower); the first region starts
    at ``low`` and the last ends at ``high``. Raises ValueError unless low <= high and every >= 1.
    """
    if not (isinstance(every, int) and every >= 1) or low > high:
        raise ValueError(f"Need low <= high and every >= 1, got low={low}, high={high}, every={every}.")
    centres = list(range(low, high + 1, every))
    if centres[-1] != high and high - centres[-1] > every // 2:
        centres.append(high)  # the top key would otherwise be transposed too far
    regions = []
    for i, c in enumerate(centres):
        lo = low if i == 0 else regions[-1][2] + 1
        hi = high if i == len(centres) - 1 else (c + centres[i + 1]) // 2
        regions.append((c, lo, hi))
    return regions


MAX_NAME = 64
"""Longest instrument name kept in file names (characters); a longer one is cut."""


def safe_name(name: str) -> str:
    """A file-name-safe instrument name (letters, digits, - and _; at most ``MAX_NAME`` characters).

    Raises TypeError unless ``name`` is a string."""
    if not isinstance(name, str):
        raise TypeError(f"The instrument name must be a string, got {type(name).__name__}.")
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:MAX_NAME].strip("_") or "hyperlib"


def check_keys(model: "Pipeline", low, high, every) -> list[tuple[int, int, int]]:
    """Validate a key range for ``model`` and return its regions (``key_regions``).

    Raises ValueError unless low and high are MIDI pitches the model renders (21-108), low <= high and
    ``every`` is a whole number of keys in 1-24.
    """
    low, high = check_pitch(low, model.model_config), check_pitch(high, model.model_config)
    return key_regions(low, high, whole_number(every, 1, 24, "every (keys between samples)"))


def render_regions(model: "Pipeline", note: np.ndarray, regions: list[tuple[int, int, int]],
                   method: str = "hyper", steps: int = REFINE_STEPS, vocoder: str | None = None,
                   progress=None) -> dict[int, np.ndarray]:
    """Render a note's timbre at each region's centre key: {MIDI key: (num_samples,) float32 waveform}.

    ``note``: a sound or a prepared note (``model.prepare(sound)``), inverted once; each key then equals
    ``model.synthesize(sound, key, method, steps, vocoder)``.
    ``vocoder``: a name from ``hyperlib.VOCODERS`` (None: the model's default). ``progress``: optional
    callable(done, total) after each key. Raises ValueError for a bad method, steps or vocoder.
    """
    results = model.synthesize_pitches(note, [centre for centre, _, _ in regions], method, steps, vocoder,
                                       progress=progress)
    return {r.pitch: r.audio for r in results}


def write_sfz(renders: dict[int, np.ndarray], regions: list[tuple[int, int, int]], out_dir: str | Path,
              sample_rate: int, name: str = "hyperlib", comment: str = "", release_s: float = RELEASE_S) -> Path:
    """Write rendered keys as an SFZ instrument: ``out_dir/<name>.sfz`` and ``out_dir/samples/*.wav``.

    Args:
        renders: {MIDI key: (num_samples,) waveform} for each region's centre.
        regions: (pitch_keycenter, lokey, hikey) per region (``key_regions``).
        sample_rate: Hz of the renders. name: instrument name (made file-name-safe).
        comment: the first line's description. release_s: ``ampeg_release`` in seconds.
    Returns:
        The path of the written ``.sfz`` file (existing samples of the same name are overwritten).
    """
    name = safe_name(name)
    out = Path(out_dir)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    lines = [f"// {name}: rendered by hyperlib{f' ({comment})' if comment else ''}; 16-bit {sample_rate} Hz "
             "mono samples", "<global>", "loop_mode=no_loop", f"ampeg_release={release_s:g}", ""]
    for centre, lo, hi in regions:
        file = f"{name}_{centre:03d}_{librosa.midi_to_note(centre, unicode=False).replace('#', 's')}.wav"
        write_wav(out / "samples" / file, renders[centre], sample_rate)
        lines.append(f"<region> sample=samples/{file} pitch_keycenter={centre} lokey={lo} hikey={hi}")
    path = out / f"{name}.sfz"
    path.write_text("\n".join(lines) + "\n")
    return path


def export_sfz(model: "Pipeline", sound, out_dir: str | Path, low: int = 36, high: int = 84,
               every: int = 3, method: str = "hyper", steps: int = REFINE_STEPS, name: str = "hyperlib",
               release_s: float = RELEASE_S, progress=None) -> Path:
    """Render ``sound``'s timbre at the sampled keys of ``low``-``high`` and write an SFZ instrument.

    Args:
        sound: audio input. out_dir: folder to create (existing samples of the same name are overwritten).
        low, high: MIDI key range (within 21-108); every: sample every n-th key (1 = every key).
        method, steps: how each key is rendered (exactly as ``model.synthesize(sound, key, method, steps)``).
        name: instrument name (file names). release_s: ``ampeg_release`` in seconds.
        progress: optional callable(done, total) after each key.
    Returns:
        The path of the written ``.sfz`` file.
    Raises:
        TypeError (``out_dir`` not a path, ``name`` not a string), AudioError or ValueError (bad sound, keys,
        method, steps or release), all before anything is rendered.
    """
    if not isinstance(out_dir, (str, os.PathLike)) or str(out_dir) == "":
        raise TypeError(f"out_dir must be a folder path, got {out_dir!r}.")
    check_method(method)
    name, release_s = safe_name(name), finite_number(release_s, 0, 10, "Release (s)")
    check_sound(sound, model.audio_config)
    regions, steps = check_keys(model, low, high, every), check_steps(steps)
    renders = render_regions(model, model.prepare(sound), regions, method, steps, progress=progress)
    comment = f"{method}, {steps} refinement steps, keys {regions[0][1]}-{regions[-1][2]}, every {every}"
    return write_sfz(renders, regions, out_dir, model.audio_config.sample_rate, name, comment, release_s)


def zip_instrument(sfz_path: str | Path, zip_base: str | Path) -> Path:
    """Zip the folder of an exported instrument: returns ``zip_base + ".zip"``."""
    folder = Path(sfz_path).parent
    return Path(shutil.make_archive(str(zip_base), "zip", root_dir=folder.parent, base_dir=folder.name))
