"""Checks of user-given settings: method, MIDI pitch, refinement steps, interpolation weights.

Each check returns the value in the form the networks use and raises ``ValueError`` whose message says what was
wrong and what is accepted, so that the app and the command line can show it as it is.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .config import MAX_STEPS, ModelConfig

METHODS = ("gan", "encoder", "hyper", "hyper-pre", "optimize", "faithful")
"""gan: GANStrument, h = f(x). encoder: GANStrument Enc., (h, z) = E(x). hyper: HyperGANStrument
(H after adversarial fine-tuning). hyper-pre: H after pre-training only (the ablation). optimize: GAN inversion by
optimization: slower, closest to the input (the codes, then G's weight offsets, fitted to the note by gradient
descent; ``hyperlib.inversion``). faithful: the input's own audio pitch-shifted with its duration kept, its colour
corrected by a network conditioned on h (``hyperlib.faithful``); it changes pitch only."""
CODE_METHODS = tuple(m for m in METHODS if m != "faithful")
"""The methods that render from a timbre code, and so can also mix, edit and morph timbres."""


def whole_number(value, lo: int, hi: int, what: str) -> int:
    """``value`` as an int if it is a whole number (int or integral float, not bool) in lo-hi.

    Raises ValueError naming ``what`` and the accepted range.
    """
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or int(value) != value or not lo <= value <= hi:
        raise ValueError(f"{what} must be a whole number in {lo}-{hi}, got {value!r}.")
    return int(value)


def check_method(method: str) -> str:
    """``method`` if it is one of ``METHODS``; else ValueError listing them."""
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    return method


def check_code_method(method: str) -> str:
    """``method`` if it is one of ``CODE_METHODS``; else ValueError saying why "faithful" cannot, or listing them."""
    if check_method(method) not in CODE_METHODS:
        raise ValueError(f"The {method!r} method pitch-shifts the input's own audio, so it cannot mix, edit or morph "
                         f"timbres; choose one of {', '.join(CODE_METHODS)} for this.")
    return method


def check_pitch(pitch, cfg: ModelConfig) -> int:
    """A MIDI pitch in the model's range (21-108 for ``ModelConfig()``) as an int; ValueError names the range."""
    return whole_number(pitch, cfg.min_pitch, cfg.min_pitch + cfg.num_pitches - 1, "MIDI pitch")


def check_steps(steps) -> int:
    """Hypernetwork refinement steps T, 0-``MAX_STEPS``, as an int. Raises ValueError naming the range."""
    return whole_number(steps, 0, MAX_STEPS, "Refinement steps")


def check_weights(weights: Sequence[float], n: int) -> np.ndarray:
    """Interpolation weights alpha_i: n non-negative finite numbers with a positive sum -> (n,) float64 summing to 1.

    Raises TypeError unless ``weights`` is a list, tuple or 1-D array of numbers, ValueError for a wrong count, a
    negative or non-finite weight, or a zero sum.
    """
    if not isinstance(weights, (list, tuple, np.ndarray)) or any(
            isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating))
            for x in np.asarray(weights, dtype=object).ravel()):
        raise TypeError(f"Weights must be a list of numbers, one per sound, got {weights!r}.")
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"Give one weight per sound: {n} sounds but {w.size} weights.")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"Weights must be non-negative numbers with a positive sum, got {list(weights)}.")
    return w / w.sum()


def finite_number(value, lo: float, hi: float, what: str) -> float:
    """``value`` as a float if it is a real number (int or float, not bool) in lo-hi.

    Raises ValueError naming ``what`` and the accepted range.
    """
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not np.isfinite(value) or not lo <= value <= hi:
        raise ValueError(f"{what} must be a number in {lo:g}-{hi:g}, got {value!r}.")
    return float(value)
