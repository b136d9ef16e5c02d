"""Export an instrument: render a timbre across the keyboard and write an SFZ instrument.

The folder holds ``<name>.sfz`` and ``samples/<name>_<midi>.wav`` (16-bit PCM, 16 kHz, mono). Each
sampled key is the centre (``pitch_keycenter``) of a region; with ``every`` > 1 the keys between
sampled ones are split between their neighbours (the sampler transposes them), and the regions cover
``low``-``high`` without gaps or overlaps::

    model.export_sfz("violin.ogg", "out/violin", low=36, high=84, every=3)
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import librosa

from ..audio import write_wav
from ..config import REFINE_STEPS
from ..validation import check_method, check_pitch, check_steps

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


def safe_name(name: str) -> str:
    """A file-name-safe instrument name (letters, digits, - and _)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "hyperlib"


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
    """
    check_method(method)
    steps = check_steps(steps)
    low, high = check_pitch(low, model.model_config), check_pitch(high, model.model_config)
    if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= 24:
        raise ValueError(f"every must be a whole number of keys in 1-24, got {every!r}.")
    regions = key_regions(low, high, every)
    name = safe_name(name)
    out = Path(out_dir)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    timings: dict = {}
    _, h, z = model.encode(sound, method, timings)
    sr = model.audio_config.sample_rate
    lines = [f"// {name}: rendered by hyperlib ({method}, {steps} refinement steps), keys {low}-{high}, "
             f"every {every}; 16-bit {sr} Hz mono samples",
             "<global>", "loop_mode=no_loop", f"ampeg_release={release_s:g}", ""]
    for i, (centre, lo, hi) in enumerate(regions):
        r = model.render_code(method, h, z, centre, steps, timings)
        file = f"{name}_{centre:03d}_{librosa.midi_to_note(centre, unicode=False).replace('#', 's')}.wav"
        write_wav(out / "samples" / file, r.audio, r.sample_rate)
        lines.append(f"<region> sample=samples/{file} pitch_keycenter={centre} lokey={lo} hikey={hi}")
        if progress:
            progress(i + 1, len(regions))
    path = out / f"{name}.sfz"
    path.write_text("\n".join(lines) + "\n")
    return path


def zip_instrument(sfz_path: str | Path, zip_base: str | Path) -> Path:
    """Zip the folder of an exported instrument: returns ``zip_base + ".zip"``."""
    folder = Path(sfz_path).parent
    return Path(shutil.make_archive(str(zip_base), "zip", root_dir=folder.parent, base_dir=folder.name))
