"""Training throughput: samples per second of each stage's optimizer step (``python -m hyperlib bench-train``).

Each stage runs for a few steps through ``train_stage`` itself, in a temporary copy of a model folder, and
the samples/s are read off the stage's own log (the time between the end of the warm-up steps and the
last step), so the figure is that of the real training loop, data sampling and logging included.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from .stages import STAGE_DEFAULTS, STAGES, train_stage

WARMUP_STEPS = 2


def bench_train(model_dir, corpus_dir=None, stages: list[str] | None = None, steps: int = 6,
                **overrides) -> list[dict]:
    """Time ``steps`` steps (after ``WARMUP_STEPS``) of each stage at its default batch size.

    Args:
        model_dir: a model folder holding the networks the stages start from (f, G, D, H_pre).
        corpus_dir: a corpus folder; None renders the tiny TimGM6mb corpus (3 presets x 7 pitches) into a
            temporary folder (needs libfluidsynth and the timgm6mb-soundfont package).
        stages: names from ``STAGES`` (default all, in training order). steps: timed steps, at least 1.
        overrides: TrainConfig fields for every stage (e.g. ``compile=True``; compilation falls in the warm-up).
    Returns:
        One row per stage: {"stage", "batch_size", "steps", "seconds_per_step", "samples_per_s"}.
    Raises:
        ValueError: an unknown stage or ``steps`` < 1. FileNotFoundError: a missing network or corpus.
    """
    stages = list(STAGES) if stages is None else stages
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"Unknown stages {unknown}; stages in order: {', '.join(STAGES)}.")
    if steps < 1:
        raise ValueError(f"Timed steps must be at least 1, got {steps}.")
    rows = []
    with tempfile.TemporaryDirectory(prefix="hyperlib-bench-") as tmp:
        tmp = Path(tmp)
        if corpus_dir is None:
            from ..corpus import render_corpus

            corpus_dir = tmp / "corpus"
            render_corpus(corpus_dir, ["TimGM6mb"], programs=[0, 40, 73], pitches=list(range(48, 73, 4)))
        for stage in stages:
            work = tmp / stage
            shutil.copytree(model_dir, work, ignore=shutil.ignore_patterns("_train", "*.md", "*.png"))
            total = WARMUP_STEPS + steps
            train_stage(stage, corpus_dir, work, steps=total, log_every=1, ckpt_every=10 * total, warm_start=True,
                        **overrides)
            log = [json.loads(line) for line in (work / "_train" / f"{stage}.jsonl").read_text().splitlines()]
            seconds = (log[-1]["time_s"] - log[WARMUP_STEPS - 1]["time_s"]) / steps
            batch = STAGE_DEFAULTS[stage].batch_size
            rows.append({"stage": stage, "batch_size": batch, "steps": steps,
                         "seconds_per_step": round(seconds, 3), "samples_per_s": round(batch / seconds, 2)})
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows of ``bench_train`` as a Markdown table."""
    lines = ["| stage | batch | s/step | samples/s |", "|---|---:|---:|---:|"]
    lines += [f"| {r['stage']} | {r['batch_size']} | {r['seconds_per_step']:.3f} | {r['samples_per_s']:.1f} |" for r in rows]
    return "\n".join(lines)
