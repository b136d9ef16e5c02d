"""The disentanglement probe: how well a linear classifier reads pitch from h = f(x), with and without f's pitch
adversary (``f_noadv``), on held-out instruments."""
from __future__ import annotations

import numpy as np
import torch

from .. import checkpoint as ckpt
from . import metrics as M
from .classifiers import read_eval_config
from .evaluator import Evaluator


@torch.no_grad()
def probe(ev: Evaluator) -> dict:
    """Linear probe predicting pitch from h = f(x): f (with the adversary) and f_noadv (without)."""
    cfg, rng = ev.cfg, ev.rng(6)
    rows = np.flatnonzero(ev.pitched & (ev.pitch % cfg.probe_pitch_step == 0))
    if rows.size > cfg.probe_max_notes:
        rows = np.sort(rng.choice(rows, cfg.probe_max_notes, replace=False))
    insts = np.unique(ev.inst[rows])
    train_insts = set(rng.permutation(insts)[: max(1, len(insts) // 2)].tolist())
    is_train = np.array([int(i) in train_insts for i in ev.inst[rows]])
    if is_train.all() or not is_train.any():
        raise ValueError("The probe needs notes of at least two instruments.")
    nets = {"f": ev.model.nets["f"]}
    path = ev.model_dir / "f_noadv.safetensors"
    if path.is_file():
        nets["f_noadv"] = ckpt.load_network(ev.model_dir, "f_noadv")
    meta = read_eval_config(ev.model_dir)
    out = {}
    for name, f in nets.items():
        h = torch.cat([f(ev.mels(rows[s : s + 128])) for s in range(0, len(rows), 128)])
        out[name] = M.linear_probe(h[is_train], ev.pitch[rows][is_train], h[~is_train], ev.pitch[rows][~is_train],
                                   c=cfg.probe_c)
    out["f"]["pitch_adversary"] = True
    if "f_noadv" in out:
        out["f_noadv"]["pitch_adversary"] = False
        out["f_noadv"]["training_steps"] = meta.get("f_noadv", {}).get("steps")
    else:
        chance = out["f"]["chance"]
        out["f_noadv"] = {"missing": True, "pitch_adversary": False, "train_accuracy": float("nan"),
                          "test_accuracy": float("nan"), "chance": chance,
                          "note": f"{path} not found: train it with `python -m hyperlib train-eval ... "
                                  "--noadv-steps 600`"}
    out["f"]["training_steps"] = ckpt.read_config(ev.model_dir).get("training", {}).get("features", {}).get("steps")
    return out
