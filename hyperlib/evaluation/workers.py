"""The evaluation's audio jobs, the vocoder and pYIN, run in this process or in a spawned pool of workers.

Each process holds one vocoder (``init_worker``); the jobs are plain functions so that a pool can pickle them.
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from multiprocessing import get_context

import numpy as np
import torch
from tqdm import tqdm

from ..config import AudioConfig
from ..render import vocode
from ..vocoders import Vocoder, make_vocoder
from .metrics import f0_hz

_VOCODER: Vocoder | None = None
_ACFG: AudioConfig | None = None


def init_worker(audio_cfg: dict, vocoder: str, threads: int | None) -> None:
    """Build this process's vocoder (a name in ``hyperlib.VOCODERS``) for ``audio_cfg``; set its torch threads."""
    global _VOCODER, _ACFG
    if threads is not None:
        torch.set_num_threads(threads)
    _ACFG = AudioConfig(**audio_cfg)
    _VOCODER = make_vocoder(vocoder, _ACFG)


def job_vocode(item: tuple[np.ndarray, int]) -> np.ndarray:
    """(normalized log-mel, MIDI pitch it was rendered at) -> peak-normalized audio."""
    return vocode(_VOCODER, item[0], item[1], _ACFG.peak_dbfs)


def job_vocode_pyin(item: tuple[np.ndarray, int]) -> float:
    """(normalized log-mel, MIDI pitch) -> f0 in Hz of its vocoded audio (``metrics.f0_hz``)."""
    return f0_hz(job_vocode(item), _ACFG.sample_rate)


def job_pyin(audio: np.ndarray) -> float:
    """(num_samples,) audio -> f0 in Hz (``metrics.f0_hz``)."""
    return f0_hz(audio, _ACFG.sample_rate)


class JobPool:
    """Maps the jobs above over items with a progress bar: in process (``workers`` <= 1) or in a spawned pool.

    audio_config and vocoder: what each worker builds (``init_worker``); this process is initialized at once.
    """

    def __init__(self, audio_config: AudioConfig, vocoder: str, workers: int):
        self.audio_config, self.vocoder, self.workers = audio_config, vocoder, workers
        self._pool: ProcessPoolExecutor | None = None
        init_worker(asdict(audio_config), vocoder, None)

    def map(self, fn, items: list, desc: str) -> list:
        """``[fn(item) for item in items]``, in the pool when there is more than one worker."""
        if not items:
            return []
        if self.workers <= 1:
            return [fn(it) for it in tqdm(items, desc=desc, unit="note", leave=False)]
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"), initializer=init_worker,
                                             initargs=(asdict(self.audio_config), self.vocoder, 1))
        return list(tqdm(self._pool.map(fn, items, chunksize=2), total=len(items), desc=desc, unit="note",
                         leave=False))

    def close(self) -> None:
        """Shut the pool down (a later ``map`` starts a new one)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
