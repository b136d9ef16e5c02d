"""The evaluation command: every method side by side on held-out notes (paper sec. 4, Table 1).

    python -m hyperlib evaluate --split validation --out results/ [--model checkpoints] [--max-notes N]

Rows: GANStrument ("gan"), GANStrument Enc. ("encoder"), HyperGANStrument-Pre ("hyper-pre"),
HyperGANStrument ("hyper"), GAN inversion by optimization ("optimize", on a subset of the notes: its own
section), the faithful method ("faithful": the input's own audio pitch-shifted and corrected, where the model has
its spectral correction) and four references: the classic sampler (the input note's audio played faster or slower:
resampled by the length ratio 2 ** (-semitones / 12), no time stretching), the pitch shifters of the input's own
audio with its duration kept (librosa's phase vocoder; Rubber Band with formants preserved) and the oracle (the true
render's log-mel through the vocoder, ``EvalConfig.vocoder``). The corpus stores only log-mels, so the input's
audio is rendered again from its soundfont (``Evaluator.note_audio``). For mel-space metrics the audio rows'
log-mels are LogMel of their audio; the model methods' log-mels are G's output itself.

Sections (each with its own seeded random stream, each a module of this package):
- GAN inversion by optimization (``optimize``): "optimize" beside every other method on a seeded subset of the
  reconstruction inputs and their synthesis pairs (fitting a note takes seconds);
- reconstruction (``pairs``): held-out pitched notes at their own pitch (L1, timbre MSE, pitch accuracy by
  the pitch classifier and by pYIN on the vocoded audio of a subset);
- synthesis (``pairs``): each input note's timbre at other pitches of its instrument's rendered range, scored
  against the true render there (L1, Frechet distance in family-classifier feature space, pitch accuracy;
  by shift size);
- interpolation (``pairs``): random pairs of held-out timbres, random weights, random pitches (paper sec. 4.3);
- audio distances (``audio_table``): vocoded notes against the true notes rendered again from the soundfont,
  at the mel and at a fine STFT resolution, for every method and for every vocoder (oracle rows, ms per note);
- real recordings (``real``: examples/ and recordings/, ``EvalConfig.examples_dir``, ``recordings_dir``), cost (``cost``: parameters, CPU milliseconds per note and per stage),
  the linear pitch probe on h with and without the pitch adversary (``probe``) and the figures' data
  (``figures``).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import recorded_hashes
from ..vocoders.ddsp import WEIGHTS as DDSP_WEIGHTS
from . import metrics as M
from . import report
from .audio_table import audio_distances
from ..pitch_shift import rubberband_available
from .config import EVALUATED_WEIGHTS, MODEL_METHODS, REFERENCES, ROW_NAMES, SPLIT_CORPORA, EvalConfig
from .cost import cost
from .evaluator import Evaluator
from .figures import figure_data
from .optimize import optimize_subset
from .pairs import interpolation, reconstruction, synthesis
from .probe import probe
from .real import real_recordings
from .recordings import real_recording_files

__all__ = ["EvalConfig", "Evaluator", "MODEL_METHODS", "REFERENCES", "SPLIT_CORPORA", "clean", "evaluate"]


def clean(obj):
    """NaN/inf -> None and numpy scalars -> Python, for strict JSON."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def evaluated_weights(model_dir) -> dict[str, dict[str, str]]:
    """The sha256 of what an evaluation of ``model_dir`` scores, from the folders' ``hashes.json`` (which loading
    checks the files against): {"model": {file: sha256} for the ``EVALUATED_WEIGHTS`` the folder holds,
    "vocoders": {file: sha256} of the packaged vocoder weights}. Raises CheckpointError for a folder without a
    valid record."""
    model = recorded_hashes(model_dir)
    return {"model": {k: model[k] for k in EVALUATED_WEIGHTS if k in model},
            "vocoders": recorded_hashes(DDSP_WEIGHTS.parent)}


def evaluate(model_dir, corpus_dir, out_dir, cfg: EvalConfig = EvalConfig(), split: str = "validation") -> dict:
    """Run every section, write ``results.md``, ``results.json`` and the figures to ``out_dir``.

    Args:
        model_dir: model folder with f, G, E, H, H_pre, the evaluation classifiers (``train-eval``) and
            optionally ``f_noadv``. corpus_dir: the held-out corpus (validation: data/timgm6mb).
    Returns:
        The results dict (as in results.json, with NaN where a figure is missing).
    Raises:
        FileNotFoundError: a network, the evaluation classifiers, the corpus or a real recording
            (``cfg.examples_dir``, ``cfg.recordings_dir``) is missing. RuntimeError: the ``rubberband`` command
            (Debian's rubberband-cli) is missing.
    """
    real_recording_files(cfg.examples_dir, cfg.recordings_dir)  # before hours of work, not after
    if not rubberband_available():
        raise RuntimeError("The evaluation compares every method with Rubber Band's pitch shift: install the "
                           "`rubberband` command (`apt-get install rubberband-cli`).")
    t_start = time.time()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    ev = Evaluator.load(model_dir, corpus_dir, cfg)
    results: dict = {"split": split, "model_dir": str(model_dir), "corpus": str(corpus_dir),
                     "weights": evaluated_weights(model_dir), "config": asdict(cfg), "methods": ROW_NAMES,
                     "pyin": {"fmin_midi": M.PYIN_FMIN_MIDI, "fmax_midi": M.PYIN_FMAX_MIDI,
                              "scored_midi": list(M.PYIN_SCORED), "sample_rate": ev.sr, "frame_length": 2048,
                              "seconds": M.PYIN_SECONDS, "resolution_semitones": M.PYIN_RESOLUTION,
                              "tolerance_cents": M.CENTS_TOLERANCE},
                     "vocoder": {"name": cfg.vocoder, "griffin_lim_iterations": ev.acfg.griffin_lim_iters},
                     "eval_classifiers": {k: ev.clf.meta[k]["training"].get("heldout_accuracy")
                                          for k in ("family", "pitch")}}
    try:
        def timed(name, fn, *a):
            t0 = time.time()
            out = fn(*a)
            ev.timing[name] = round(time.time() - t0, 1)
            return out

        inputs = ev.select_inputs()
        results["reconstruction"], recon_notes = timed("reconstruction", reconstruction, ev, inputs)
        results["synthesis"], results["synthesis_by_shift"] = timed("synthesis", synthesis, ev, inputs, recon_notes)
        results["optimize"] = timed("optimize", optimize_subset, ev, inputs)
        results["interpolation"] = timed("interpolation", interpolation, ev, inputs)
        results["audio"] = timed("audio", audio_distances, ev, inputs)
        results["real_recordings"] = timed("real_recordings", real_recordings, ev)
        results["probe"] = timed("probe", probe, ev)
        fig = timed("figures", figure_data, ev, inputs)
        results["cost"] = timed("cost", cost, ev, inputs)
    finally:
        ev.close()
    results["sizes"] = {"input_notes": int(len(inputs)), "input_instruments": int(len(np.unique(ev.inst[inputs]))),
                        "reconstruction_pyin": results["reconstruction"]["hyper"]["n_pyin"],
                        "synthesis_pairs": results["synthesis"]["hyper"]["n"],
                        "synthesis_pyin": results["synthesis"]["hyper"]["n_pyin"],
                        "optimize_notes": results["optimize"].get("notes", 0),
                        "interpolation_samples": results["interpolation"]["hyper"]["n"],
                        "interpolation_pyin": results["interpolation"]["hyper"]["n_pyin"],
                        "probe_notes": results["probe"]["f"]["n_train"] + results["probe"]["f"]["n_test"]}
    results["timing_s"] = {**ev.timing, "total": round(time.time() - t_start, 1)}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results["figures"] = report.write_figures(fig, out)
    (out / "results.json").write_text(json.dumps(clean(results), indent=2) + "\n")
    (out / "results.md").write_text(report.markdown(results))
    return results
