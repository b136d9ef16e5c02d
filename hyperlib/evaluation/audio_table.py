"""The audio table: vocoded notes against the true notes' audio, rendered again from the soundfont, for every
method and every vocoder (``metrics.audio_distances``)."""
from __future__ import annotations

import time

import numpy as np
import torch
from tqdm import tqdm

from ..mel import mel_filterbank
from ..vocoders import VOCODERS
from . import metrics as M
from .config import MODEL_METHODS
from .evaluator import Evaluator


@torch.no_grad()
def audio_distances(ev: Evaluator, inputs: np.ndarray) -> dict:
    """Vocoded notes against the true notes' audio, rendered again from the soundfont (``metrics.audio_distances``).

    Pairs: ``audio_pairs`` reconstruction inputs and as many synthesis pairs (seeded subsets of both
    sections' pairs). Rows "method|vocoder": every method with the evaluation's vocoder; HyperGANStrument
    and the oracle (the true note's own log-mel) with every vocoder of ``VOCODERS``. Each vocoder's
    median milliseconds per note are timed on the oracle's mels, the vocoders in turn on each note.
    """
    cfg, rng, bs = ev.cfg, ev.rng(7), ev.cfg.batch_size
    if cfg.audio_pairs <= 0:
        return {}
    rec = np.sort(rng.choice(inputs, min(cfg.audio_pairs, len(inputs)), replace=False))
    src, pitches, tgt = ev.select_targets(inputs)
    pick = np.sort(rng.choice(len(src), min(cfg.audio_pairs, len(src)), replace=False))
    tasks = {"rec": (rec, ev.pitch[rec].astype(int), rec), "syn": (src[pick], pitches[pick], tgt[pick])}
    truth = ev.rendered_audio(sorted({int(r) for _, _, t in tasks.values() for r in t}))
    vocoders = {name: ev.vocoder(name) for name in VOCODERS}
    basis = mel_filterbank(ev.acfg)
    rows: dict[str, dict[str, list]] = {}
    ms: dict[str, list] = {name: [] for name in vocoders}
    sizes = {}
    for task, (s_rows, p_rows, t_rows) in tasks.items():
        keep = np.array([int(t) in truth for t in t_rows], bool)
        s_rows, p_rows, t_rows = s_rows[keep], p_rows[keep], t_rows[keep]
        sizes[task] = int(keep.sum())
        refs = [truth[int(t)] for t in t_rows]
        mels = {"oracle": ev.logmel(refs)[:, 0].numpy()}
        for m in MODEL_METHODS:
            mels[m] = torch.cat([ev.generate(m, ev.mels(s_rows[b:b + bs]), torch.from_numpy(p_rows[b:b + bs]).long(),
                                             torch.from_numpy(ev.pitch[s_rows[b:b + bs]].astype(np.int64)))
                                 for b in range(0, len(s_rows), bs)])[:, 0].numpy()
        for m, mel in tqdm(mels.items(), desc=f"audio distances ({task})", unit="method", leave=False):
            names = tuple(VOCODERS) if m in ("oracle", "hyper") else (cfg.vocoder,)
            for i in range(len(t_rows)):
                for name in names:
                    t0 = time.perf_counter()
                    y = vocoders[name](mel[i], int(p_rows[i]))
                    if m == "oracle":
                        ms[name].append(1000 * (time.perf_counter() - t0))
                    row = rows.setdefault(f"{m}|{name}", {})
                    for k, v in M.audio_distances(y, refs[i], ev.acfg, basis).items():
                        row.setdefault(f"{task}_{k}", []).append(v)
    return {"pairs": sizes, "default": cfg.vocoder, "threads": torch.get_num_threads(),
            "rows": {key: {k: float(np.mean(v)) for k, v in row.items()} for key, row in rows.items()},
            "ms_per_note": {name: float(np.median(v)) if v else float("nan") for name, v in ms.items()}}
