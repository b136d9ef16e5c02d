"""The "faithful" method: the input's own audio, pitch-shifted with its duration kept, then corrected by the model.

A pitch shift with the duration kept (``pitch_shift``) keeps the input's noise, attack and fine structure: the
phase vocoder up to an octave, Rubber Band with its formants kept beyond (``FAR_SHIFT``; where the ``rubberband``
command is missing, the phase vocoder with a warning);
``models.correction.SpectralCorrection``, conditioned on the input's pitch-invariant timbre h = f(x) and on the
source and target MIDI pitches, predicts how the note's colour and loudness curve change between the two
pitches, as a log-gain per mel band and frame applied to the shifted note's STFT. Only pitch changes are
possible this way: interpolation, faders and morphs need a timbre code and stay with the neural methods.
The correction's weights, ``correction.safetensors``, live in the model folder beside f (whose h they read) and
are hash-checked like every other weights file.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from . import checkpoint as ckpt
from .audio import peak_normalize
from .config import AudioConfig
from .mel import LogMel
from .models.correction import CorrectionConfig, SpectralCorrection, apply_mel_gain, mel_to_bins
from .pitch_shift import pitch_shift, rubberband_available
from .render import timed

CORRECTION_FILE = "correction.safetensors"
FAR_SHIFT = 12
"""Shifts of more than this many semitones go through Rubber Band with its formants kept: in the evaluation's pairs
over an octave, Rubber Band then a correction trained on phase-vocoder shifts came out at log-mel L1 0.186 against
0.288 for the phase vocoder then the same correction (docs/experiments.md). Within an octave the correction was
trained and chosen on the phase vocoder's shifts, which are as close as Rubber Band's by fine distance or closer."""


def shifter_for(semitones: int) -> str:
    """The pitch shifter of a shift of ``semitones``: "rubberband" beyond ``FAR_SHIFT`` where the ``rubberband``
    command is installed (else "phase-vocoder" with a ``UserWarning`` naming the package), "phase-vocoder" within."""
    if abs(semitones) <= FAR_SHIFT:
        return "phase-vocoder"
    if rubberband_available():
        return "rubberband"
    warnings.warn(f"A shift of {semitones} semitones sounds closer to the true note through Rubber Band, whose "
                  "`rubberband` command is missing (`apt-get install rubberband-cli`); using the phase vocoder.",
                  stacklevel=3)
    return "phase-vocoder"


def load_correction(model_dir: str | Path, h_dim: int, audio_cfg: AudioConfig,
                    device: str | torch.device = "cpu") -> SpectralCorrection | None:
    """The model folder's spectral correction in eval mode, or None where the folder has none.

    Raises CheckpointError (``checkpoint.read_safetensors``) for a file whose sha256 differs from ``hashes.json``.
    """
    path = Path(model_dir) / CORRECTION_FILE
    if not path.is_file():
        return None
    state, meta = ckpt.read_safetensors(path, device)
    saved = json.loads(meta["correction"])
    cfg = CorrectionConfig(**{f.name: saved[f.name] for f in fields(CorrectionConfig) if f.name in saved})
    net = SpectralCorrection(h_dim, audio_cfg.n_mels, cfg).to(device)
    net.load_state_dict(state)
    return net.eval()


class Faithful:
    """Renders a prepared note at other MIDI pitches by pitch shift and spectral correction.

    f: the model's feature extractor (h = f(x)). correction: the trained ``SpectralCorrection``. logmel: the model's
    log-mel front end.
    """

    def __init__(self, f: torch.nn.Module, correction: SpectralCorrection, logmel: LogMel):
        self.f, self.correction, self.logmel = f, correction, logmel
        self.cfg = logmel.cfg
        self.weights = mel_to_bins(self.cfg)

    @torch.no_grad()
    def __call__(self, note: np.ndarray, src_pitch: int, pitches, timings: dict | None = None) -> np.ndarray:
        """note: (num_samples,) float32 prepared note at MIDI ``src_pitch``; pitches: K target MIDI pitches.

        Returns (K, num_samples) float32 notes, each peak-normalized. ``timings``, when given, receives the
        milliseconds of "pitch_shift", "f" and "correction". The note's log-mel and h are computed once.
        """
        pitches = np.atleast_1d(np.asarray(pitches, dtype=np.int64))
        notes = np.broadcast_to(np.asarray(note, dtype=np.float32), (len(pitches), len(note)))
        return self.batch(notes, np.full(len(pitches), int(src_pitch)), pitches, timings, same_note=True)

    @torch.no_grad()
    def batch(self, notes: np.ndarray, src: np.ndarray, tgt: np.ndarray, timings: dict | None = None,
              same_note: bool = False) -> np.ndarray:
        """B prepared notes (B, num_samples) at MIDI ``src`` (B,), each moved to MIDI ``tgt`` (B,): (B, num_samples)
        float32, each peak-normalized. At its own pitch (``src == tgt``) a note is returned as it is: the correction
        models the change between two pitches. ``same_note``: every row is the same note (its log-mel and h are
        computed once). ``timings`` as in ``__call__``."""
        timings = {} if timings is None else timings
        device = next(self.correction.parameters()).device
        src_t, tgt_t = (torch.as_tensor(np.asarray(p, dtype=np.int64), device=device) for p in (src, tgt))
        with timed(timings, "pitch_shift"):
            shifted = np.stack([pitch_shift(x, int(b) - int(a), self.cfg, shifter_for(int(b) - int(a)))
                                for x, a, b in zip(notes, src, tgt)])
        shifted = torch.from_numpy(shifted).to(device)
        with timed(timings, "f"):
            # a copy: the notes may be read-only
            x = self.logmel(torch.tensor(notes[:1] if same_note else notes, device=device))
            h = self.f(x)
            if same_note:
                x, h = x.expand(len(notes), -1, -1, -1), h.expand(len(notes), -1)
        with timed(timings, "correction"):
            gain = self.correction(self.logmel(shifted), h, src_t, tgt_t, x) * (src_t != tgt_t)[:, None, None]
            y = apply_mel_gain(shifted, gain, self.cfg, self.weights).cpu().numpy()
        return np.stack([peak_normalize(a, self.cfg.peak_dbfs) for a in y])
