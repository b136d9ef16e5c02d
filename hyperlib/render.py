"""From a timbre code to a note: which networks each method uses, G (refined by H), the vocoder.

The one place that maps a method (``validation.METHODS``) to its networks (paper sec. 3 and 4):

=============  =======================================  ==================================
method         inversion x -> code                      generation code -> log-mel
=============  =======================================  ==================================
"gan"          h = f(x), z = 0                          G(h, 0, p)
"encoder"      (h, z) = E(x)                            G(h, z, p)
"hyper-pre"    h = f(x), z = 0                          G refined by H_pre (``refine``)
"hyper"        h = f(x), z = 0                          G refined by H (``refine``)
"optimize"     from h = f(x), z = 0: (h, z), then G's   G(h, z, p; theta * (1 + Delta))
               offsets Delta fitted to x at its own
               pitch by gradient descent (``inversion``)
=============  =======================================  ==================================

``nets`` is always the mapping {"f", "G", "E", "H", "H_pre"} -> module of a loaded model (``Pipeline.nets``).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Mapping, NamedTuple, Sequence

import numpy as np
import torch
from torch import nn

from .audio import peak_normalize
from .config import AudioConfig
from .deprecation import warn_renamed
from .inversion import OptimizeConfig, optimize
from .models import checked_refine, kept_steps, refine, take_steps
from .vocoders import Vocoder

INVERTER = {"gan": "f", "encoder": "E", "hyper": "f", "hyper-pre": "f", "optimize": "f+G"}
"""How each method turns a log-mel into a code: f (h, z = 0), E ((h, z)) or f+G (h = f(x), then (h, z) and G's
offsets fitted by gradient descent, ``inversion.optimize``)."""
HYPERNETWORK = {"gan": None, "encoder": None, "hyper": "H", "hyper-pre": "H_pre", "optimize": None}
"""The hypernetwork that refines G for each method (None: plain G)."""


@dataclass
class Result:
    """What every rendering call returns: one rendered note (or, from ``melody``, one rendered tune).

    audio: (num_samples,) float32 waveform at ``sample_rate`` Hz (16000). mel: (n_mels, frames)
    normalized log-mel that was vocoded (the output's own for "faithful"; None for a melody). mel_init:
    x_init = G(h, 0, p) before refinement (hyper methods). method: the method that rendered it. pitch: MIDI pitch
    rendered (None for a melody). timings_ms: milliseconds per stage (front end, pitch estimate, f, E, optimize,
    G, G+H, vocoder, total).
    """

    audio: np.ndarray
    sample_rate: int
    mel: np.ndarray | None
    method: str
    pitch: int | None
    mel_init: np.ndarray | None = None
    timings_ms: dict = field(default_factory=dict)

    def __iter__(self):
        """Deprecated: ``audio, sample_rate = result``, as ``melody`` returned before it returned a Result."""
        warn_renamed("audio, sample_rate = <Result>", "result.audio, result.sample_rate")
        return iter((self.audio, self.sample_rate))


@contextmanager
def timed(timings: dict, key: str):
    """Add the milliseconds spent inside the ``with`` block to ``timings[key]``."""
    t0 = time.perf_counter()
    yield
    timings[key] = timings.get(key, 0.0) + (time.perf_counter() - t0) * 1000


class Code(NamedTuple):
    """A batch of timbre codes: what ``invert`` returns and ``generate`` renders.

    h: (B, h_dim) timbre codes. z: (B, z_dim) latents ("encoder", "optimize") or None (zeros in G).
    deltas: G's tuned-layer offsets, one (B, C_out, C_in) per layer of ``Generator.tuned_shapes`` ("optimize"),
    or None (G's own weights).
    """

    h: torch.Tensor
    z: torch.Tensor | None = None
    deltas: list[torch.Tensor] | None = None


class Reference(NamedTuple):
    """The input a hyper method's refinement is checked against (``models.checked_refine``): its normalized log-mel
    x (B, 1, n_mels, frames), its own MIDI pitch (B,) and, once chosen (``with_kept_steps``), the kept step of each
    input (B,) (None: chosen where it is rendered)."""

    x: torch.Tensor
    pitch: torch.Tensor
    best: torch.Tensor | None = None


def with_kept_steps(nets: Mapping[str, nn.Module], method: str, h: torch.Tensor, steps: int,
                    reference: Reference | None) -> Reference | None:
    """``reference`` with each input's kept step chosen once (``models.kept_steps``), for a code rendered at many
    pitches (h (B, h_dim), the inputs' own codes; steps: T); None or a method without refinement: as given."""
    if reference is None or HYPERNETWORK[method] is None:
        return reference
    best, _ = kept_steps(nets["G"], nets["f"], nets[HYPERNETWORK[method]], h, steps, reference.x, reference.pitch)
    return reference._replace(best=best)


def mix(codes: Sequence[Code], weights: Sequence[float]) -> Code:
    """The weighted sum sum_i w_i code_i of h, z and each offset Delta_l (z or deltas: None unless every code has
    them). Interpolation mixes codes this way (paper sec. 4.3; for "optimize" the fitted offsets mix like h)."""
    def weighted(parts) -> torch.Tensor:
        return sum(float(w) * part for w, part in zip(weights, parts))

    z = None if any(c.z is None for c in codes) else weighted(c.z for c in codes)
    deltas = None if any(c.deltas is None for c in codes) else [
        weighted(layer) for layer in zip(*(c.deltas for c in codes))]
    return Code(weighted(c.h for c in codes), z, deltas)


def concat(codes: Sequence[Code]) -> Code:
    """Codes of B_1, B_2, ... notes -> one Code of sum B_i notes (z or deltas: None unless every code has them)."""
    z = None if any(c.z is None for c in codes) else torch.cat([c.z for c in codes])
    deltas = None if any(c.deltas is None for c in codes) else [
        torch.cat(layer) for layer in zip(*(c.deltas for c in codes))]
    return Code(torch.cat([c.h for c in codes]), z, deltas)


def progress_part(progress: Callable[[int, int], None] | None, i: int, parts: int):
    """progress(step, total) of the i-th of ``parts`` equally long jobs as progress of the whole (None: None)."""
    return None if progress is None else (lambda step, total: progress(i * total + step, parts * total))


@torch.no_grad()
def invert(nets: Mapping[str, nn.Module], method: str, x: torch.Tensor, timings: dict | None = None,
           pitch: torch.Tensor | int | None = None, budget: OptimizeConfig | None = None,
           progress: Callable[[int, int], None] | None = None) -> Code:
    """Inversion: normalized log-mels x (B, 1, n_mels, frames) -> ``Code``.

    "encoder" inverts with E (h, z); "gan" and the hyper methods use h = f(x) and z = None (zeros in G);
    "optimize" starts from h = f(x), z = 0 and fits (h, z), then G's offsets, to each note at its own MIDI
    ``pitch`` (an int or (B,)) by gradient descent with the step budget ``budget`` (default ``OptimizeConfig()``;
    ``inversion.optimize``), one note after the other; ``progress(step, total)`` is called after every step.
    ``timings``, when given, receives the milliseconds of "E" or "f" (and "optimize").
    Raises ValueError for "optimize" without a pitch.
    """
    name = INVERTER[method]
    timings = {} if timings is None else timings
    if name == "E":
        with timed(timings, "E"):
            return Code(*nets["E"](x))
    if name == "f+G" and pitch is None:
        raise ValueError("GAN inversion by optimization fits G to the note at its own pitch: give the note's MIDI "
                         "pitch.")
    with timed(timings, "f"):
        h = nets["f"](x)
    if name == "f":
        return Code(h)
    p = torch.as_tensor(pitch, device=x.device).long().reshape(-1).expand(x.shape[0])
    with timed(timings, "optimize"):
        fits = [optimize(nets["G"], x[i:i + 1], p[i:i + 1], h[i:i + 1], budget or OptimizeConfig(),
                         progress_part(progress, i, x.shape[0])) for i in range(x.shape[0])]
    return concat([Code(fit.h, fit.z, fit.deltas) for fit in fits])


@torch.no_grad()
def generate(nets: Mapping[str, nn.Module], method: str, h: torch.Tensor, z: torch.Tensor | None,
             pitch: torch.Tensor, steps: int, deltas: list[torch.Tensor] | None = None,
             reference: Reference | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Generation: codes -> (x, x_init), normalized log-mels (B, 1, n_mels, frames).

    h: (B, h_dim) timbre codes (for the hyper methods also the refinement target). z: (B, z_dim) or None (zeros;
    "encoder" and "optimize" have one). pitch: (B,) MIDI. steps: refinement steps T of the hyper methods (paper
    sec. 3.2). deltas: "optimize"'s offsets of G's tuned layers, one (B, C_out, C_in) per layer, or None.
    reference: the inputs whose codes h are (f(x), unmixed, unedited): the hyper methods then keep, for each note,
    only the refinement steps that bring G closer to its input at the input's own pitch (``models.checked_refine``);
    None: every step is taken (``models.refine``). A reference whose steps are already chosen (``with_kept_steps``)
    is not checked again. The other methods ignore it.
    x_init is G before refinement for the hyper methods and None for the others.
    """
    hypernet = HYPERNETWORK[method]
    if hypernet is None:
        return nets["G"](h, z, pitch, deltas), None
    if reference is not None and reference.best is None:
        checked = checked_refine(nets["G"], nets["f"], nets[hypernet], h, pitch, steps, reference.x, reference.pitch)
        return checked.x, checked.x_init
    xs, _ = refine(nets["G"], nets["f"], nets[hypernet], h, pitch, steps)
    return (xs[-1] if reference is None else take_steps(xs, reference.best)), xs[0]


def vocode(vocoder: Vocoder, mel: np.ndarray, pitch: float | None, peak_dbfs: float) -> np.ndarray:
    """Normalized log-mel (n_mels, frames) at MIDI ``pitch`` -> (num_samples,) float32 audio peaking at ``peak_dbfs``.

    ``pitch`` None: the vocoder estimates one where it needs it.
    """
    return peak_normalize(vocoder(np.asarray(mel, dtype=np.float32), pitch), peak_dbfs)


@torch.no_grad()
def render(nets: Mapping[str, nn.Module], vocoder: Vocoder, audio_config: AudioConfig, method: str,
           h: torch.Tensor, z: torch.Tensor | None, pitch: int, steps: int, timings: dict,
           deltas: list[torch.Tensor] | None = None, reference: Reference | None = None) -> Result:
    """One note from a code: ``generate`` at MIDI ``pitch``, then ``vocode``; stages timed into ``timings``.

    h: (1, h_dim); z: (1, z_dim) or None; deltas: one (1, C_out, C_in) per tuned layer of G ("optimize") or None.
    reference: the input that checks the hyper methods' refinement steps (``generate``), or None.
    ``timings`` receives "G" (or "G+H") and "vocoder" and becomes the Result's ``timings_ms``. Checks nothing:
    callers validate method, pitch and steps (``hyperlib.validation``).
    """
    p = torch.tensor([pitch], device=h.device)
    with timed(timings, "G" if HYPERNETWORK[method] is None else "G+H"):
        mel, mel_init = generate(nets, method, h, z, p, steps, deltas, reference)
    mel_np = mel[0, 0].cpu().numpy()
    with timed(timings, "vocoder"):
        audio = vocode(vocoder, mel_np, pitch, audio_config.peak_dbfs)
    return Result(audio, audio_config.sample_rate, mel_np, method, pitch,
                  None if mel_init is None else mel_init[0, 0].cpu().numpy(), timings)


@torch.no_grad()
def render_mels(nets: Mapping[str, nn.Module], h: np.ndarray | torch.Tensor, pitch: int | np.ndarray,
                method: str, steps: int, z: np.ndarray | torch.Tensor | None = None, batch_size: int = 16,
                device: str | torch.device = "cpu", deltas: list | None = None) -> np.ndarray:
    """Many codes to log-mels without the vocoder, in batches (``generate``).

    Args:
        h: (B, h_dim) codes. pitch: a MIDI pitch, or (B,) pitches. z: (B, z_dim) or None (zeros; the hyper
        methods use none). deltas: "optimize"'s offsets, one (B, C_out, C_in) per tuned layer of G, or None.
        steps: refinement steps T of the hyper methods. device: where ``nets`` are.
    Returns:
        (B, n_mels, frames) float32 normalized log-mels (``Result.mel`` for the same codes, up to float rounding
        from batching).
    """
    def tensor(a):
        return torch.as_tensor(a, dtype=torch.float32, device=device)

    h, z = tensor(h), None if z is None else tensor(z)
    deltas = None if deltas is None else [tensor(d) for d in deltas]
    p = torch.as_tensor(np.broadcast_to(np.asarray(pitch), (h.shape[0],)).copy()).long().to(device)
    out = []
    for i in range(0, h.shape[0], batch_size):
        sl = slice(i, i + batch_size)
        x, _ = generate(nets, method, h[sl], None if z is None else z[sl], p[sl], steps,
                        None if deltas is None else [d[sl] for d in deltas])
        out.append(x[:, 0].cpu().numpy())
    return np.concatenate(out).astype(np.float32)
