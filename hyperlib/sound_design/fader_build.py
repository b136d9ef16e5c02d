"""The ``faders`` command: build the timbre faders from a corpus and measure what they do.

    python -m hyperlib faders --corpus data/full --model checkpoints --doc docs/faders.md
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..config import REFINE_STEPS
from ..corpus import Corpus, load_corpus
from ..pipeline import Pipeline
from .descriptors import corpus_codes
from .fader_report import report_markdown
from .fader_study import compare_spaces, measure_faders, pick_timbres
from .faders import FADERS_FILE, FADERS_JSON, fit_pca


def build_and_measure(model_dir: str | Path, corpus_dir: str | Path, num_components: int = 8, timbres: int = 8,
                      pitch: int = 60, steps: int = REFINE_STEPS, max_notes: int | None = None, compare: bool = True,
                      doc: str | Path | None = None, seed: int = 0, log=print) -> dict:
    """Build ``faders.safetensors`` and ``faders.json`` for the model in ``model_dir`` from a corpus.

    The PCA uses h = f(x) of every corpus note (or ``max_notes`` random ones); the measurement renders
    ``timbres`` corpus instruments at ``pitch`` with faders 0-3 at -2..2 std (hyper method, ``steps``);
    ``compare`` adds the h-versus-w comparison. Returns the JSON written.
    """
    t0 = time.perf_counter()
    model = Pipeline.from_pretrained(model_dir)
    corpus = load_corpus(corpus_dir)
    rows = np.arange(len(corpus.notes))
    if max_notes is not None and max_notes < len(rows):
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_notes, replace=False))
    log(f"f over {len(rows)} corpus notes ...")
    codes = corpus_codes(model, corpus.mels[rows])
    fader_set = fit_pca(codes, num_components, "h")
    path = fader_set.save(Path(model_dir) / FADERS_FILE)
    log(f"wrote {path} ({fader_set.num_faders} directions, explained {np.round(fader_set.explained, 3).tolist()})")
    sub = _subset(corpus, rows)
    timbre_codes, names = pick_timbres(sub, codes, timbres, pitch, seed)
    log(f"measuring faders 0-3 on {len(names)} timbres ...")
    report = {"space": "h", "corpus": str(corpus_dir), "num_codes": int(len(rows)),
              "explained_variance_ratio": fader_set.explained.tolist(), "std": fader_set.std.tolist(),
              "measurement": measure_faders(model, fader_set, timbre_codes, pitch=pitch, steps=steps,
                                            timbre_names=names)}
    if compare:
        log("comparing h and w ...")
        report["h_vs_w"] = compare_spaces(model, codes, sub.column("pitch"), timbre_codes, pitch=pitch)
    report["labels"] = {str(f["fader"]): f["label"] for f in report["measurement"]["faders"]}
    report["wall_time_s"] = round(time.perf_counter() - t0, 1)
    (Path(model_dir) / FADERS_JSON).write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {Path(model_dir) / FADERS_JSON}")
    if doc:
        Path(doc).parent.mkdir(parents=True, exist_ok=True)
        Path(doc).write_text(report_markdown(report, str(model_dir)))
        log(f"wrote {doc}")
    return report


def _subset(corpus: Corpus, rows: np.ndarray) -> Corpus:
    return Corpus(corpus.mels[:0], [corpus.notes[i] for i in rows], corpus.audio_config)
