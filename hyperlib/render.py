"""From a timbre code to a note: which networks each method uses, G (refined by H), the vocoder.

The one place that maps a method (``validation.METHODS``) to its networks (paper sec. 3 and 4):

=============  ============================  ==================================
method         inversion x -> code           generation code -> log-mel
=============  ============================  ==================================
"gan"          h = f(x), z = 0               G(h, 0, p)
"encoder"      (h, z) = E(x)                 G(h, z, p)
"hyper-pre"    h = f(x), z = 0               G refined by H_pre (``refine``)
"hyper"        h = f(x), z = 0               G refined by H (``refine``)
=============  ============================  ==================================

``nets`` is always the mapping {"f", "G", "E", "H", "H_pre"} -> module of a loaded model (``Pipeline.nets``).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import torch
from torch import nn

from .audio import peak_normalize
from .config import AudioConfig
from .models import refine
from .vocoders import Vocoder

INVERTER = {"gan": "f", "encoder": "E", "hyper": "f", "hyper-pre": "f"}
"""The network that turns a log-mel into a code for each method: f (h, z = 0) or E ((h, z))."""
HYPERNETWORK = {"gan": None, "encoder": None, "hyper": "H", "hyper-pre": "H_pre"}
"""The hypernetwork that refines G for each method (None: plain G)."""


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


@contextmanager
def timed(timings: dict, key: str):
    """Add the milliseconds spent inside the ``with`` block to ``timings[key]``."""
    t0 = time.perf_counter()
    yield
    timings[key] = timings.get(key, 0.0) + (time.perf_counter() - t0) * 1000


@torch.no_grad()
def invert(nets: Mapping[str, nn.Module], method: str, x: torch.Tensor, timings: dict | None = None):
    """Inversion: normalized log-mels x (B, 1, n_mels, frames) -> (h (B, h_dim), z (B, z_dim) or None).

    "encoder" inverts with E (h, z); every other method uses h = f(x) and z = None (zeros in G).
    ``timings``, when given, receives the milliseconds of "E" or "f".
    """
    name = INVERTER[method]
    with timed({} if timings is None else timings, name):
        return nets["E"](x) if name == "E" else (nets["f"](x), None)


@torch.no_grad()
def generate(nets: Mapping[str, nn.Module], method: str, h: torch.Tensor, z: torch.Tensor | None,
             pitch: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Generation: codes -> (x, x_init), normalized log-mels (B, 1, n_mels, frames).

    h: (B, h_dim) timbre codes (for the hyper methods also the refinement target). z: (B, z_dim) or None (zeros;
    only "encoder" has one). pitch: (B,) MIDI. steps: refinement steps T of the hyper methods (paper sec. 3.2).
    x_init is G before refinement for the hyper methods and None for "gan" and "encoder".
    """
    hypernet = HYPERNETWORK[method]
    if hypernet is None:
        return nets["G"](h, z, pitch), None
    xs, _ = refine(nets["G"], nets["f"], nets[hypernet], h, pitch, steps)
    return xs[-1], xs[0]


def vocode(vocoder: Vocoder, mel: np.ndarray, pitch: float | None, peak_dbfs: float) -> np.ndarray:
    """Normalized log-mel (n_mels, frames) at MIDI ``pitch`` -> (num_samples,) float32 audio peaking at ``peak_dbfs``.

    ``pitch`` None: the vocoder estimates one where it needs it.
    """
    return peak_normalize(vocoder(np.asarray(mel, dtype=np.float32), pitch), peak_dbfs)


@torch.no_grad()
def render(nets: Mapping[str, nn.Module], vocoder: Vocoder, audio_config: AudioConfig, method: str,
           h: torch.Tensor, z: torch.Tensor | None, pitch: int, steps: int, timings: dict) -> Result:
    """One note from a code: ``generate`` at MIDI ``pitch``, then ``vocode``; stages timed into ``timings``.

    h: (1, h_dim); z: (1, z_dim) or None. ``timings`` receives "G" (or "G+H") and "vocoder" and becomes the
    Result's ``timings_ms``. Checks nothing: callers validate method, pitch and steps (``hyperlib.validation``).
    """
    p = torch.tensor([pitch], device=h.device)
    with timed(timings, "G" if HYPERNETWORK[method] is None else "G+H"):
        mel, mel_init = generate(nets, method, h, z, p, steps)
    mel_np = mel[0, 0].cpu().numpy()
    with timed(timings, "vocoder"):
        audio = vocode(vocoder, mel_np, pitch, audio_config.peak_dbfs)
    return Result(audio, audio_config.sample_rate, mel_np, method, pitch,
                  None if mel_init is None else mel_init[0, 0].cpu().numpy(), timings)


@torch.no_grad()
def render_mels(nets: Mapping[str, nn.Module], h: np.ndarray | torch.Tensor, pitch: int | np.ndarray,
                method: str, steps: int, z: np.ndarray | torch.Tensor | None = None, batch_size: int = 16,
                device: str | torch.device = "cpu") -> np.ndarray:
    """Many codes to log-mels without the vocoder, in batches (``generate``).

    Args:
        h: (B, h_dim) codes. pitch: a MIDI pitch, or (B,) pitches. z: (B, z_dim), used by "encoder" only.
        steps: refinement steps T of the hyper methods. device: where ``nets`` are.
    Returns:
        (B, n_mels, frames) float32 normalized log-mels (``Result.mel`` for the same codes, up to float rounding
        from batching).
    """
    h = torch.as_tensor(np.asarray(h, dtype=np.float32)).to(device)
    p = torch.as_tensor(np.broadcast_to(np.asarray(pitch), (h.shape[0],)).copy()).long().to(device)
    zt = None if z is None or method != "encoder" else torch.as_tensor(np.asarray(z, dtype=np.float32)).to(device)
    out = []
    for i in range(0, h.shape[0], batch_size):
        sl = slice(i, i + batch_size)
        x, _ = generate(nets, method, h[sl], None if zt is None else zt[sl], p[sl], steps)
        out.append(x[:, 0].cpu().numpy())
    return np.concatenate(out).astype(np.float32)
