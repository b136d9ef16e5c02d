"""The held-out check of a generator alone: how close G(f(x), 0, p) comes to the true notes of a corpus it was not
trained on, at the input's own pitch and at other pitches of the same preset.

It is the quick measure that decides whether a stage of the long generator run is worth the full evaluation
(``python -m hyperlib evaluate``), which also retrains nothing but needs H and E built on the same G.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .. import checkpoint as ckpt
from ..corpus import load_corpus
from .data import NoteBank


@torch.no_grad()
def generator_heldout(model_dir: str | Path, corpus_dir: str | Path, notes: int = 512, max_shift: int = 12,
                      seed: int = 0, batch_size: int = 64) -> dict:
    """Log-mel L1 of G(f(x), 0, p) against the true note, on ``notes`` pitched notes of ``corpus_dir`` drawn with
    ``seed``: "reconstruction" at each note's own pitch, "synthesis" at a pitch of the same preset and velocity
    1 to ``max_shift`` semitones away (drawn among those the corpus holds). Normalized log-mels, as G's L1 loss.

    Returns {"reconstruction", "synthesis": mean L1, "notes": inputs scored, "pairs": synthesis pairs scored}. The
    same corpus, notes and seed give the same rows for every model folder, so two folders compare note for note.
    Raises FileNotFoundError for a missing corpus or weights, ValueError for a corpus without pitched notes.
    """
    corpus = load_corpus(corpus_dir)
    bank = NoteBank(corpus, seed)
    pitched = np.flatnonzero(corpus.column("pitched"))
    if pitched.size == 0:
        raise ValueError(f"{corpus_dir} has no pitched notes to score G on.")
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(pitched, min(notes, pitched.size), replace=False))
    shifts = torch.tensor([s for s in range(-max_shift, max_shift + 1) if s != 0])
    targets = []
    for r in rows:  # one of the notes the corpus holds of this preset and velocity within max_shift, or -1
        found = bank.exact(torch.full_like(shifts, int(r)), bank.pitch[r] + shifts)
        found = found[found >= 0]
        targets.append(int(found[rng.integers(len(found))]) if len(found) else -1)
    targets = np.array(targets)
    f, G = ckpt.load_network(model_dir, "f"), ckpt.load_network(model_dir, "G")
    recon, synth = [], []
    for s in range(0, len(rows), batch_size):
        i = torch.from_numpy(rows[s:s + batch_size])
        x = bank.batch(i, "cpu")
        h = f(x)
        recon.append((G(h, None, bank.pitch[i]) - x).abs().mean(dim=(1, 2, 3)))
        t = torch.from_numpy(targets[s:s + batch_size])
        keep = t >= 0
        if keep.any():
            y = bank.batch(t[keep], "cpu")
            synth.append((G(h[keep], None, bank.pitch[t[keep]]) - y).abs().mean(dim=(1, 2, 3)))
    synth = torch.cat(synth) if synth else torch.empty(0)
    return {"reconstruction": float(torch.cat(recon).mean()), "synthesis": float(synth.mean()) if len(synth) else
            float("nan"), "notes": int(len(rows)), "pairs": int(len(synth))}
