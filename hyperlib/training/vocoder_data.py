"""Training pairs of the learned vocoder: log-mels the model makes, and the true notes' audio.

A vocoder that only ever saw true mels meets a different input in use: every note it plays comes out of G.
As TTS vocoders are fine-tuned on the acoustic model's own predictions (Shen et al. 2018, sec. 3.2), each pair
here holds, for one true note of the training fonts (the target), its audio rendered again from the soundfont
and three mels: the true one, and the mels HyperGANStrument and GANStrument make for it from a source note of
the same preset (the target itself for half of the pairs, a note up to ``max_shift`` semitones away for the
others: synthesis).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from ..audio import prepare_note
from ..checkpoint import configs, load_network, recorded_hashes
from ..config import REFINE_STEPS
from ..corpus import TRAIN_FONTS, FontRenderer, load_corpus
from ..mel import LogMel
from ..render import generate, invert

MEL_SOURCES = ("true", "hyper", "gan")
"""Which mel each pair holds: the target's own, and those of two of the model's methods (``hyperlib.render``)."""
NETWORKS = ("f", "G", "H")
"""The networks whose outputs the pairs hold."""


@dataclass
class VocoderPairs:
    """Pairs for the learned vocoder, saved as one ``.npz``.

    audio: (N, num_samples) float32 true notes (the front end's ``prepare_note``). mels: (len(MEL_SOURCES), N,
    n_mels, frames) float16 normalized log-mels in ``MEL_SOURCES`` order. pitch: (N,) MIDI pitch of each target.
    rows: (N,) target and (N,) source rows of the corpus. model_hashes: sha256 of the weights files of the
    networks that made the mels ({file name: sha256}, from the model folder's ``hashes.json``; empty without one).
    """

    audio: np.ndarray
    mels: np.ndarray
    pitch: np.ndarray
    target_rows: np.ndarray
    source_rows: np.ndarray
    model_hashes: dict

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, audio=self.audio, mels=self.mels, pitch=self.pitch, target_rows=self.target_rows,
                 source_rows=self.source_rows, model_hashes=json.dumps(self.model_hashes))

    @classmethod
    def load(cls, path: str | Path) -> "VocoderPairs":
        """Read a file written by ``save``. Raises FileNotFoundError naming the command that makes it."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path} is missing: make it with `python -m hyperlib vocoder-pairs`.")
        with np.load(path) as d:
            return cls(d["audio"], d["mels"], d["pitch"], d["target_rows"], d["source_rows"],
                       json.loads(str(d["model_hashes"])))


@torch.no_grad()
def build_pairs(corpus_dir: str | Path, model_dir: str | Path, notes: int = 8000, max_shift: int = 12,
                seed: int = 0, batch_size: int = 32, fonts: Sequence[str] = TRAIN_FONTS) -> VocoderPairs:
    """Draw ``notes`` targets of ``fonts`` (default the training fonts; seeded), render their audio, make their mels.

    Sources: the target itself for every other pair; otherwise a random note of the target's preset and velocity
    within ``max_shift`` semitones. Raises ValueError when the corpus has no note of ``fonts``.
    """
    corpus = load_corpus(corpus_dir)
    model_cfg, audio_cfg = configs(model_dir)
    nets = {name: load_network(model_dir, name, model_cfg) for name in NETWORKS}
    rng = np.random.default_rng(seed)
    font, inst, vel, pitch = (corpus.column(c) for c in ("soundfont", "instrument_id", "velocity", "pitch"))
    train = np.flatnonzero(np.isin(font, list(fonts)))
    if train.size == 0:
        raise ValueError(f"{corpus_dir} has no note of the fonts {', '.join(fonts)}.")
    targets = np.sort(rng.choice(train, min(notes, train.size), replace=False))
    same_preset: dict[tuple, list[int]] = {}
    for r in train:
        same_preset.setdefault((inst[r], vel[r]), []).append(r)
    sources = targets.copy()
    for i, t in enumerate(targets):
        if i % 2:
            near = [r for r in same_preset[(inst[t], vel[t])] if abs(pitch[r] - pitch[t]) <= max_shift]
            sources[i] = rng.choice(near)

    renderer, audio, keep = FontRenderer(audio_cfg), [], []
    for i, t in enumerate(tqdm(targets, desc="render the targets", unit="note")):
        n = corpus.notes[t]
        y = renderer.render(n.soundfont, n.bank, n.program, n.pitch, n.velocity)
        if y is not None:
            audio.append(prepare_note(y, audio_cfg))
            keep.append(i)
    renderer.close()
    targets, sources = targets[keep], sources[keep]

    mels = np.empty((len(MEL_SOURCES), len(targets), audio_cfg.n_mels, audio_cfg.num_frames), np.float16)
    audio = np.stack(audio).astype(np.float32)
    logmel = LogMel(audio_cfg)
    for b in range(0, len(targets), batch_size):  # the rendered audio's own mel (a render can differ a little)
        mels[0, b:b + batch_size] = logmel(torch.from_numpy(audio[b:b + batch_size]))[:, 0].numpy()
    p = torch.from_numpy(pitch[targets]).long()
    for b in tqdm(range(0, len(targets), batch_size), desc="the model's mels", unit="batch"):
        x = torch.from_numpy(corpus.mels[sources[b:b + batch_size]]).float().unsqueeze(1)
        for k, method in enumerate(MEL_SOURCES[1:], start=1):
            h, z, _ = invert(nets, method, x)
            mels[k, b:b + batch_size] = generate(nets, method, h, z, p[b:b + batch_size],
                                                 REFINE_STEPS)[0][:, 0].numpy().astype(np.float16)
    hashes = recorded_hashes(model_dir)
    files = [f"{n}.safetensors" for n in NETWORKS]
    return VocoderPairs(audio, mels, pitch[targets], targets, sources, {f: hashes[f] for f in files if f in hashes})
