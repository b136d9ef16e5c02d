"""The data of the report's figures: one held-out note at several pitches (Fig. 2) and a piano-to-handsaw
interpolation (Fig. 3); ``report.write_figures`` draws them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..render import Reference, generate, invert
from .evaluator import Evaluator


@torch.no_grad()
def figure_data(ev: Evaluator, inputs: np.ndarray) -> dict:
    """Fig. 2: one held-out note (a piano if any) at several pitches; Fig. 3: piano -> handsaw at MIDI 69."""
    progs = ev.corpus.column("program")
    cands = [r for r in inputs if progs[r] == 0 and ev.pitch[r] == 60] or \
            [r for r in inputs if progs[r] == 0] or list(inputs)
    r0 = int(cands[0])
    p0, i0 = int(ev.pitch[r0]), int(ev.inst[r0])
    pitches = [p for p in (p0 - 12, p0 - 5, p0, p0 + 7, p0 + 12) if (i0, p) in ev.row_of] or [p0]
    x = ev.mels([r0]).expand(len(pitches), -1, -1, -1)
    p = torch.tensor(pitches)
    nets, steps = ev.model.nets, ev.cfg.steps
    h = invert(nets, "hyper", x).h
    own = torch.full_like(p, p0)
    x_fine, x_init = generate(nets, "hyper", h, None, p, steps,
                              reference=Reference(x, own) if ev.cfg.check_refinement else None)
    fig2 = {"input": x[0, 0].numpy(), "input_pitch": p0, "pitches": pitches,
            "preset": ev.corpus.notes[r0].preset_name,
            "rows": {"x_init = G(f(x)) (GANStrument)": x_init[:, 0].numpy(),
                     "GANStrument Enc.": ev.generate("encoder", x, p, own)[:, 0].numpy(),
                     "x_fine (HyperGANStrument)": x_fine[:, 0].numpy(),
                     "truth": ev.mels([ev.row_of[(i0, q)] for q in pitches])[:, 0].numpy()}}
    weights = [0.0, 0.25, 0.5, 0.75, 1.0]
    xs = [ev.model.mel(ev.model.prepare(Path(ev.cfg.examples_dir) / n)) for n in ("piano_c4.aif", "handsaw.ogg")]
    hp, hs = invert(nets, "hyper", xs[0]).h, invert(nets, "hyper", xs[1]).h
    w = torch.tensor(weights)[:, None]
    hm = (1 - w) * hp + w * hs
    fine, init = generate(nets, "hyper", hm, None, torch.full((len(weights),), 69), steps)
    fig3 = {"weights": weights, "pitch": 69, "init": init[:, 0].numpy(), "fine": fine[:, 0].numpy()}
    return {"fig2": fig2, "fig3": fig3}
