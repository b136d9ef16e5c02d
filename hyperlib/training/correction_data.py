"""Training pairs of the spectral correction (``models.correction``): a note pitch-shifted to another pitch of its
preset, and the preset's true note there, rendered from General MIDI soundfonts.

Each pair draws a font, a preset, a velocity and a source pitch, then a shift-size group in turn (0, 1-3, 4-6,
7-12, over 12 semitones, as the evaluation's synthesis pairs) and a target pitch in it within MIDI 21-108. Both
notes go through the front end; the source is shifted with the chosen pitch shifter (``hyperlib.pitch_shift``; by
default the faithful method's own choice for the shift, ``faithful.shifter_for``) and its timbre h = f(x) is
computed with the model's f. Near-silent renders are drawn again.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..audio import AudioError, prepare_note
from ..checkpoint import configs, file_sha256, load_network
from ..config import MAX_PITCH, MIN_PITCH
from ..corpus import UNPITCHED_PROGRAMS, FontRenderer
from ..faithful import shifter_for
from ..mel import LogMel
from ..pitch_shift import pitch_shift

SHIFT_GROUPS = ((0, 0), (1, 3), (4, 6), (7, 12), (13, 48))
"""|semitones| ranges drawn in turn; the last reaches four octaves (the evaluation's inputs lie at MIDI 36-96)."""
AS_FAITHFUL = "faithful"
"""The shifter value that shifts each pair as the faithful method would (``faithful.shifter_for``)."""


@dataclass
class CorrectionPairs:
    """Pairs in memory. shifted, target: (N, num_samples) float32 notes; h: (N, h_dim) f of the source note;
    source: (N, n_mels, frames) float16 normalized log-mel of the source note; src, tgt: (N,) MIDI pitches; font:
    (N,) font names; program: (N,) GM programs; model_f: sha256 of the f used."""

    shifted: np.ndarray
    target: np.ndarray
    h: np.ndarray
    source: np.ndarray
    src: np.ndarray
    tgt: np.ndarray
    font: np.ndarray
    program: np.ndarray
    shifter: str
    model_f: str

    def save(self, path: str | Path) -> None:
        """Write an uncompressed .npz (the notes as float16)."""
        np.savez(path, shifted=self.shifted.astype(np.float16), target=self.target.astype(np.float16), h=self.h,
                 source=self.source.astype(np.float16),
                 src=self.src, tgt=self.tgt, font=self.font, program=self.program, shifter=self.shifter,
                 model_f=self.model_f)

    @classmethod
    def load(cls, path: str | Path) -> "CorrectionPairs":
        """Read a file written by ``save``. Raises FileNotFoundError."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"No correction pairs at {path}: make them with `python -m hyperlib "
                                    "correction-pairs`.")
        d = np.load(path)
        return cls(d["shifted"].astype(np.float32), d["target"].astype(np.float32), d["h"], d["source"], d["src"],
                   d["tgt"],
                   d["font"], d["program"], str(d["shifter"]), str(d["model_f"]))

    def __len__(self) -> int:
        return len(self.src)


def draw_target(src: int, group: tuple[int, int], rng: np.random.Generator) -> int | None:
    """A MIDI pitch whose distance from ``src`` lies in ``group`` (inclusive |semitones|), within 21-108, or None."""
    lo, hi = group
    cands = [p for p in range(MIN_PITCH, MAX_PITCH + 1) if lo <= abs(p - src) <= hi]
    return int(rng.choice(cands)) if cands else None


@torch.no_grad()
def build_pairs(fonts: list[str], model_dir: str | Path, pairs: int, seed: int = 0, shifter: str = AS_FAITHFUL,
                src_pitches: tuple[int, int] = (24, 100), exclude_src: tuple[int, ...] = (),
                velocities: tuple[int, ...] = (64, 100, 127), pitched_only: bool = False) -> CorrectionPairs:
    """Render ``pairs`` pairs from the melodic presets of ``fonts`` (see the module docstring).

    shifter: one of ``pitch_shift.SHIFTERS``, or ``AS_FAITHFUL``. src_pitches: inclusive MIDI range of the source
    notes; exclude_src: source pitches never drawn (a validation set kept apart from the evaluation's inputs).
    pitched_only: leave GM programs 120-127 out.
    Raises FileNotFoundError for a font that is not installed or a model folder without f.
    """
    model_cfg, audio_cfg = configs(model_dir)
    f = load_network(model_dir, "f", model_cfg)
    logmel = LogMel(audio_cfg)
    rng = np.random.default_rng(seed)
    renderer = FontRenderer(audio_cfg)
    presets = [(font, bank, program) for font in fonts for bank, program, _ in renderer.presets(font)
               if not (pitched_only and program in UNPITCHED_PROGRAMS)]
    sources = [p for p in range(src_pitches[0], src_pitches[1] + 1) if p not in exclude_src]
    out = {k: [] for k in ("shifted", "target", "src", "tgt", "font", "program", "mel")}
    bar = tqdm(total=pairs, desc="correction pairs", unit="pair")
    k = 0
    while len(out["src"]) < pairs:
        font, bank, program = presets[rng.integers(len(presets))]
        vel, p0 = int(rng.choice(velocities)), int(rng.choice(sources))
        p1 = draw_target(p0, SHIFT_GROUPS[k % len(SHIFT_GROUPS)], rng)
        a = renderer.render(font, bank, program, p0, vel)
        b = a if p1 == p0 else renderer.render(font, bank, program, p1, vel)  # a note played twice in a row differs
        if a is None or b is None:
            continue
        try:
            x, y = prepare_note(a, audio_cfg), prepare_note(b, audio_cfg)
        except AudioError:
            continue
        k += 1
        shift_with = shifter_for(p1 - p0) if shifter == AS_FAITHFUL else shifter
        out["shifted"].append(pitch_shift(x, p1 - p0, audio_cfg, shift_with))
        out["target"].append(y)
        out["mel"].append(logmel(torch.from_numpy(x)[None])[0])
        out["src"].append(p0), out["tgt"].append(p1), out["font"].append(font), out["program"].append(program)
        bar.update(1)
    bar.close()
    renderer.close()
    mels = torch.stack(out.pop("mel"))
    h = torch.cat([f(mels[s:s + 64]) for s in range(0, len(mels), 64)]).numpy()
    return CorrectionPairs(np.stack(out["shifted"]), np.stack(out["target"]), h,
                           mels[:, 0].numpy().astype(np.float16), np.array(out["src"]),
                           np.array(out["tgt"]), np.array(out["font"]), np.array(out["program"]), shifter,
                           file_sha256(Path(model_dir) / "f.safetensors"))

