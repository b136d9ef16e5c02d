"""Timbre faders: principal directions of the timbre space, measured and shipped with the checkpoint.

Following the style-based drum synthesis paper (Drysdale et al., sec. 2.2, after GANSpace), PCA finds
the principal axes of a latent distribution and a fader moves a code along one axis: h' = h + V^T g.
Here the PCA runs over h = f(x) of the training corpus (the space the hypernetwork refines towards),
and g is expressed in units of each component's standard deviation, so fader value 1.0 is a typical
one-sigma move of the corpus::

    model = HyperGANStrument.from_pretrained()
    r = model.edit("piano.wav", faders={0: 1.5, 3: -2.0}, pitch=60, method="hyper", steps=3)

``python -m hyperlib faders --corpus data/full --model checkpoints`` writes ``faders.safetensors``
(mean, components, per-component std) and ``faders.json`` (what each direction measurably does, see
``fader_study.measure_faders``) into the model folder, and optionally the doc ``docs/faders.md``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np
import torch
from safetensors.numpy import save_file

from ..checkpoint import read_safetensors, record_hash
from ..config import REFINE_STEPS
from ..render import Result, timed
from ..validation import check_code_method, check_pitch, check_steps
from .descriptors import corpus_codes

if TYPE_CHECKING:
    from ..pipeline import Pipeline

FADERS_FILE = "faders.safetensors"
FADERS_JSON = "faders.json"
BUILD_COMMAND = "python -m hyperlib faders --corpus data/full --model {model}"
MAX_FADER = 10.0
"""Largest accepted |fader value| in standard deviations."""


@dataclass
class Faders:
    """Principal directions of a code space.

    mean: (D,) code mean. components: (K, D) orthonormal rows, the principal directions by decreasing
    variance. std: (K,) standard deviation of the corpus codes along each direction (code units).
    explained: (K,) fraction of the total variance each direction explains. space: "h" (f's timbre
    feature, what ``edit`` moves) or "w" (G's mapping output, only used for the comparison).
    """

    mean: np.ndarray
    components: np.ndarray
    std: np.ndarray
    explained: np.ndarray
    space: str = "h"
    num_codes: int = 0

    @property
    def num_faders(self) -> int:
        return int(self.components.shape[0])

    def offset(self, faders: Mapping[int, float]) -> np.ndarray:
        """(D,) float32 code offset sum_k g_k * std_k * V_k for ``faders`` {index: g in std units}.

        Raises TypeError unless ``faders`` is a mapping, ValueError for an index outside 0..K-1 or a value that is
        not a finite number in +-10.
        """
        if not isinstance(faders, Mapping):
            raise TypeError(f"Faders must be a mapping {{index: value in std}}, e.g. {{0: 1.5}}, got {faders!r}.")
        out = np.zeros(self.components.shape[1], dtype=np.float64)
        for k, g in dict(faders).items():
            ok_k = isinstance(k, (int, np.integer)) and not isinstance(k, bool) and 0 <= k < self.num_faders
            if not ok_k:
                raise ValueError(f"Fader index must be a whole number in 0-{self.num_faders - 1}, got {k!r}.")
            ok_g = isinstance(g, (int, float, np.integer, np.floating)) and not isinstance(g, bool)
            if not ok_g or not math.isfinite(g) or abs(g) > MAX_FADER:
                raise ValueError(f"Fader {k} must be a number of standard deviations in -{MAX_FADER:g} to "
                                 f"{MAX_FADER:g}, got {g!r}.")
            out += float(g) * float(self.std[k]) * self.components[k].astype(np.float64)
        return out.astype(np.float32)

    def coords(self, codes: np.ndarray) -> np.ndarray:
        """(N, D) codes -> (N, K) fader coordinates in std units."""
        return (np.asarray(codes, np.float64) - self.mean) @ self.components.T / self.std

    def save(self, path: str | Path) -> Path:
        """Write a safetensors file (tensors mean, components, std, explained; space in the metadata) and record
        its sha256 in its folder's ``hashes.json`` (``record_hash``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({"mean": self.mean.astype(np.float32), "components": self.components.astype(np.float32),
                   "std": self.std.astype(np.float32), "explained": self.explained.astype(np.float32)},
                  str(path), metadata={"space": self.space, "num_codes": str(self.num_codes)})
        record_hash(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Faders":
        """Read a file written by ``save`` (or a model folder holding ``faders.safetensors``).

        Raises FileNotFoundError naming the command that builds it, CheckpointError when the folder's
        ``hashes.json`` is missing, lacks the file or records another sha256.
        """
        path = Path(path)
        folder = path if path.is_dir() else path.parent
        path = path / FADERS_FILE if path.is_dir() else path
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: build the timbre faders with "
                                    f"`{BUILD_COMMAND.format(model=folder)}`.")
        tensors, meta = read_safetensors(path)  # refused unless hashes.json records its sha256
        t = {k: v.numpy() for k, v in tensors.items()}
        return cls(t["mean"], t["components"], t["std"], t["explained"], meta.get("space", "h"),
                   int(meta.get("num_codes", 0)))


def fit_pca(codes: np.ndarray, num_components: int = 8, space: str = "h") -> Faders:
    """PCA of (N, D) codes by numpy SVD of the centered matrix.

    Returns ``Faders`` with K = min(num_components, N - 1, D) orthonormal components (sign fixed so
    that each component's largest entry is positive), their std (singular value / sqrt(N - 1)) and the
    explained-variance ratios.
    """
    x = np.asarray(codes, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"PCA needs at least two codes of shape (N, D), got {x.shape}.")
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = int(min(num_components, x.shape[0] - 1, x.shape[1]))
    vt = vt[:k] * np.sign(vt[:k][np.arange(k), np.argmax(np.abs(vt[:k]), axis=1)])[:, None]
    var = s ** 2 / (x.shape[0] - 1)
    return Faders(mean.astype(np.float32), vt.astype(np.float32), np.sqrt(var[:k]).astype(np.float32),
                  (var[:k] / var.sum()).astype(np.float32), space, int(x.shape[0]))


def build_faders(model: "Pipeline", mels: np.ndarray, num_components: int = 8) -> Faders:
    """Faders over h = f(x) of ``mels`` ((N, n_mels, frames) corpus log-mels)."""
    return fit_pca(corpus_codes(model, mels), num_components, "h")


def model_faders(model: "Pipeline", path: str | Path | None = None) -> Faders:
    """The faders of a file or folder, by default those of the folder ``model`` was loaded from.

    Raises FileNotFoundError naming the command that builds ``faders.safetensors``.
    """
    if path is None and model.model_dir is None:
        raise FileNotFoundError(f"This model was not loaded from a folder: give the path of a {FADERS_FILE}.")
    return Faders.load(path if path is not None else model.model_dir)


def edit(model: "Pipeline", sound, faders: Mapping[int, float], pitch: int | None = None,
         method: str = "hyper", steps: int = REFINE_STEPS, fader_set: Faders | None = None) -> Result:
    """Move a sound's timbre code along the fader directions and render it at ``pitch``.

    h' = h + sum_k g_k std_k V_k, with h = f(x) (or E's h for "encoder", whose z is kept; "optimize"'s fitted h,
    whose z and offsets are kept). For the
    hyper methods the hypernetwork refines G towards the *edited* h' (it is both G's input and H's
    target), without the check of each step against the input (``Pipeline.check_refinement``), which holds only
    for the sound's own code. All-zero faders give exactly ``model.synthesize(sound, pitch, method, steps)``.

    Args:
        faders: {fader index: value in standard deviations}, e.g. {0: 1.5, 3: -2.0}.
        pitch: MIDI 21-108; None estimates the input's pitch (as ``reconstruct``).
        fader_set: the directions (default: ``model_faders(model)``, the model folder's file).
    Raises:
        FileNotFoundError: the model folder has no faders.safetensors (the message names the command).
        ValueError / AudioError: bad fader, pitch, method, steps or audio.
    """
    check_code_method(method)
    steps = check_steps(steps)
    if pitch is not None:
        pitch = check_pitch(pitch, model.model_config)
    fader_set = fader_set or model_faders(model)
    offset = fader_set.offset(faders)
    timings: dict = {}
    with timed(timings, "front_end"):
        note = model.prepare(sound)
    own = None
    if pitch is None:  # the input's own pitch: rendered there, and where "optimize" fits it
        with timed(timings, "pitch_estimate"):
            pitch = own = model.estimate_pitch(note)
    code = model.encode(note, method, timings, own)
    h, reference = code.h, None
    if np.any(offset != 0):
        h = h + torch.from_numpy(offset).to(h.device)[None]
    else:  # the sound's own code: its refinement is checked against it, as in ``synthesize``
        reference = model.refinement_reference(method, note, own, timings)
    result = model.render_code(method, h, code.z, pitch, steps, timings, deltas=code.deltas, reference=reference)
    timings["total"] = sum(timings.values())
    return result
