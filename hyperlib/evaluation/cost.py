"""What each method costs: parameters of every network and CPU milliseconds per note and per stage."""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from .. import checkpoint as ckpt
from ..faithful import FAR_SHIFT
from .config import MODEL_METHODS
from .evaluator import Evaluator


def cost(ev: Evaluator, inputs: np.ndarray) -> dict:
    """Parameters of every network; median CPU milliseconds per note and per stage (``Result.timings_ms``).

    "optimize" is timed on the first ``optimize_notes`` of the timed notes only (each takes seconds). "faithful"
    estimates the input's pitch (pYIN) before it shifts the note: its "total" includes that, "pitch_shift", "f" and
    "correction" are the method's own stages. Every method renders each note 7 semitones up (down near the top of
    the range); "faithful-far" is the faithful method again at ``FAR_SHIFT`` + 7 semitones, where it shifts with
    Rubber Band.
    """
    params = {k: int(sum(p.numel() for p in n.parameters())) for k, n in ev.model.nets.items()}
    if (ev.model_dir / "D.safetensors").is_file():
        params["D"] = int(sum(p.numel() for p in ckpt.build("D", ev.model.model_config).parameters()))
    params["eval_family"] = int(sum(p.numel() for p in ev.clf.family.parameters()))
    params["eval_pitch"] = int(sum(p.numel() for p in ev.clf.pitch.parameters()))
    n = ev.cfg.cost_notes + ev.cfg.cost_warmup
    rows = inputs[np.arange(n) % len(inputs)]
    truth_audio = ev.vocoded_truth(rows)
    hi = ev.model.model_config.min_pitch + ev.model.model_config.num_pitches - 1
    far = ("faithful-far",) if "faithful" in ev.audio_methods else ()
    runs = {m: [] for m in MODEL_METHODS + ev.audio_methods + far + ("optimize",)}
    optimize_until = ev.cfg.cost_warmup + min(ev.cfg.cost_notes, ev.cfg.optimize_notes)
    for k, r in enumerate(tqdm(rows, desc="cost", unit="note", leave=False)):
        methods = MODEL_METHODS + ev.audio_methods + far + (("optimize",) if k < optimize_until else ())
        for m in methods:  # the methods in turn on each note, so that drift in the machine's speed hits all alike
            shift = FAR_SHIFT + 7 if m == "faithful-far" else 7
            pitch = int(ev.pitch[r] + shift if ev.pitch[r] + shift <= hi else ev.pitch[r] - shift)
            res = ev.model.synthesize((truth_audio[int(r)], ev.sr), pitch, m.removesuffix("-far"), ev.cfg.steps)
            if k >= ev.cfg.cost_warmup:
                runs[m].append(res.timings_ms)
    timings = {m: {k: float(np.median([t.get(k, 0.0) for t in ts])) for k in sorted({k for t in ts for k in t})}
               for m, ts in runs.items()}
    gan, hyp = timings["gan"], timings["hyper"]
    return {"parameters": params, "ms_per_note": timings, "threads": torch.get_num_threads(),
            "notes_timed": ev.cfg.cost_notes, "warmup": ev.cfg.cost_warmup,
            "optimize_notes_timed": len(runs["optimize"]),
            "hyper_overhead_end_to_end": hyp["total"] / gan["total"] - 1,
            "hyper_overhead_generation": hyp["G+H"] / gan["G"] - 1,
            "hyper_pre_overhead_end_to_end": timings["hyper-pre"]["total"] / gan["total"] - 1}
