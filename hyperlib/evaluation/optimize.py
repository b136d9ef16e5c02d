"""GAN inversion by optimization ("optimize") beside the other methods, on a seeded subset of the notes.

Fitting G to one note takes seconds (``hyperlib.inversion``), so "optimize" is not scored on every evaluation
note: ``EvalConfig.optimize_notes`` of the reconstruction inputs (a seeded subset) and the synthesis section's
pairs whose input is among them are rendered by every model method, so that the scores compare like with like.
Each note is fitted once, at its own pitch, within ``EvalConfig.optimize_budget``; that one code renders its
reconstruction and its synthesis pairs.
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch
from tqdm import tqdm

from ..render import concat, generate, invert
from .config import MODEL_METHODS
from .evaluator import Evaluator

METHODS = MODEL_METHODS + ("optimize",)


@torch.no_grad()
def optimize_subset(ev: Evaluator, inputs: np.ndarray) -> dict:
    """Every model method and "optimize" on the subset: reconstruction L1 and timbre MSE, synthesis L1 and pitch
    accuracy (classifier).

    Returns:
        {"methods": {method: {"rec_l1", "rec_timbre_mse", "syn_l1", "syn_pitch_acc_clf"}}, "notes": N,
        "pairs": synthesis pairs, "ms_per_note": median milliseconds of one fit (f and the optimization, one
        note at a time), "budget": the step budget}; {} when ``optimize_notes`` is 0.
    """
    cfg, nets = ev.cfg, ev.model.nets
    if not cfg.optimize_notes:
        return {}
    rows = np.sort(ev.rng(10).choice(inputs, min(cfg.optimize_notes, len(inputs)), replace=False))
    src, pitches, tgt = ev.select_targets(inputs)  # the synthesis section's pairs
    keep = np.isin(src, rows)
    src, pitches, tgt = src[keep], pitches[keep], tgt[keep]
    codes, ms = {}, []
    for r in tqdm(rows, desc="optimize", unit="note"):
        timings: dict = {}
        codes[int(r)] = invert(nets, "optimize", ev.mels([r]), timings, int(ev.pitch[r]), cfg.optimize_budget)
        ms.append(timings["f"] + timings["optimize"])

    def scores(method: str, sources: np.ndarray, asked: np.ndarray, truths: np.ndarray):
        """(L1 (N,), classifier features (N, D), predicted MIDI (N,)) of ``method`` on the pairs."""
        l1, feat, pred = [], [], []
        for s in range(0, len(sources), cfg.batch_size):
            sl = slice(s, s + cfg.batch_size)
            p = torch.from_numpy(asked[sl]).long()
            if method == "optimize":
                h, z, deltas = concat([codes[int(r)] for r in sources[sl]])
                y = generate(nets, method, h, z, p, cfg.steps, deltas)[0]
            else:
                own = torch.from_numpy(ev.pitch[sources[sl]].astype(np.int64))
                y = ev.generate(method, ev.mels(sources[sl]), p, own)
            l1.append((y - ev.mels(truths[sl])).abs().mean(dim=(1, 2, 3)).numpy())
            f, c = ev.clf.score(y)
            feat.append(f)
            pred.append(c)
        return np.concatenate(l1), np.concatenate(feat), np.concatenate(pred)

    truth_feat = ev.clf.score(ev.mels(rows))[0]
    table = {}
    for m in METHODS:
        rec_l1, rec_feat, _ = scores(m, rows, ev.pitch[rows].astype(int), rows)
        table[m] = {"rec_l1": float(rec_l1.mean()), "rec_timbre_mse": float(((rec_feat - truth_feat) ** 2).mean()),
                    "syn_l1": float("nan"), "syn_pitch_acc_clf": float("nan")}
        if len(src):
            syn_l1, _, syn_pred = scores(m, src, pitches, tgt)
            table[m].update(syn_l1=float(syn_l1.mean()), syn_pitch_acc_clf=float((syn_pred == pitches).mean()))
    return {"methods": table, "notes": int(len(rows)), "pairs": int(len(src)), "ms_per_note": float(np.median(ms)),
            "budget": asdict(cfg.optimize_budget)}
