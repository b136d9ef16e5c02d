"""Training data: corpus log-mels in memory, exact-target lookup and KNN pairs in h-space."""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from ..corpus import Corpus


class NoteBank:
    """The corpus as tensors, with the lookups the stages need.

    mels: (N, 1, n_mels, frames) float16; pitch, velocity (N,) MIDI numbers; instrument (N,) contiguous
    class ids (one per preset, all velocities). ``exact(i, p)`` is the row of row i's instrument at
    row i's velocity and pitch p, or -1 (the exact target of a KNN pair).
    """

    def __init__(self, corpus: Corpus, seed: int = 0):
        self.mels = torch.from_numpy(corpus.mels).unsqueeze(1)
        self.pitch = torch.from_numpy(corpus.column("pitch")).long()
        _, inst = np.unique(corpus.column("instrument_id"), return_inverse=True)
        self.instrument = torch.from_numpy(inst).long()
        self.num_instruments = int(inst.max()) + 1
        self.velocity = torch.from_numpy(corpus.column("velocity")).long()
        self._row = {key: r for r, key in enumerate(zip(inst.tolist(), self.velocity.tolist(), self.pitch.tolist()))}
        self.rng = np.random.default_rng(seed)
        self.knn: torch.Tensor | None = None
        self._h_unit: torch.Tensor | None = None  # (N, h_dim) unit-norm h of the rows, from build_knn

    def __len__(self) -> int:
        return self.mels.shape[0]

    def batch(self, idx: torch.Tensor, device) -> torch.Tensor:
        """(B, 1, n_mels, frames) float32 log-mels of rows ``idx`` on ``device``."""
        return self.mels[idx].to(device=device, dtype=torch.float32)

    def sample(self, batch_size: int) -> torch.Tensor:
        return torch.from_numpy(self.rng.integers(0, len(self), batch_size))

    def exact(self, i: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        """Rows of row i's instrument and velocity at ``pitch`` (-1 where that note was not rendered)."""
        return torch.tensor([self._row.get((int(self.instrument[a]), int(self.velocity[a]), int(p)), -1)
                             for a, p in zip(i, pitch)])

    def neighbours(self, i: torch.Tensor) -> torch.Tensor:
        """One random row among the k nearest neighbours in h-space of each row in ``i`` (instance conditioning)."""
        if self.knn is None:
            raise RuntimeError("Call build_knn first.")
        return self._one_of(self.knn[i])

    @torch.no_grad()
    def features(self, f: torch.nn.Module, device, batch_size: int = 256) -> torch.Tensor:
        """h = f(x) for every row: (N, h_dim) float32 on CPU."""
        starts = tqdm(range(0, len(self), batch_size), desc="h = f(x) of the corpus", unit="batch", leave=False)
        return torch.cat([f(self.batch(torch.arange(s, min(s + batch_size, len(self))), device)).cpu() for s in starts])

    def neighbours_of(self, h: torch.Tensor) -> torch.Tensor:
        """One random row among the k nearest rows (cosine, as ``build_knn``) to each feature of ``h`` (B, h_dim)."""
        if self.knn is None:
            raise RuntimeError("Call build_knn first.")
        return self._one_of(self._nearest(h.cpu(), self.knn.shape[1]))

    def _one_of(self, rows: torch.Tensor) -> torch.Tensor:
        """One random entry of each line of ``rows`` (B, k): (B,)."""
        return rows[torch.arange(len(rows)), torch.from_numpy(self.rng.integers(0, rows.shape[1], len(rows)))]

    @torch.no_grad()
    def build_knn(self, h: torch.Tensor, k: int, chunk: int = 1024) -> None:
        """Cosine k-nearest neighbours of every row (itself included) in h-space: (N, k) rows."""
        self._h_unit = torch.nn.functional.normalize(h.cpu(), dim=1)
        k = min(k, len(self))
        self.knn = torch.cat([self._nearest(self._h_unit[s : s + chunk], k) for s in range(0, len(self), chunk)])

    @torch.no_grad()
    def _nearest(self, h: torch.Tensor, k: int) -> torch.Tensor:
        """(B, k) rows of the k largest cosines between ``h`` (B, h_dim) and the rows' h."""
        return (torch.nn.functional.normalize(h, dim=1) @ self._h_unit.T).topk(k, dim=1).indices
