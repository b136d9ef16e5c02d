"""Training throughput: samples per second of each stage's optimizer step (``python -m hyperlib bench-train``).

Each stage runs through ``train_stage`` itself, in temporary copies of a model folder: for the warm-up steps
alone (which also fills ``torch.compile``'s caches), for the warm-up plus the timed steps, and for the warm-up
alone again. The difference of the last two runs' CPU time (this
process's, all its threads) divided by the timed steps is the cost of one step of the real training loop,
data sampling and logging included, with the set-up cancelled out. CPU time rather than wall time makes
the figure hold on a busy machine, where other programs take turns on the cores; with one torch thread
and an idle core it equals the wall time.
"""
from __future__ import annotations

import shutil
import tempfile
import time
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
        One row per stage: {"stage", "batch_size", "steps", "seconds_per_step", "samples_per_s"}, in CPU
        seconds (so samples per CPU second).
    Raises:
        ValueError: an unknown stage or ``steps`` < 1. FileNotFoundError: a missing network or corpus.
        RuntimeError: too few steps to measure (the set-up's own variation exceeded them).
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
            cpu = {}
            for total in (WARMUP_STEPS, WARMUP_STEPS + steps, WARMUP_STEPS):  # the first run fills compile caches
                work = tmp / f"{stage}-{total}"
                shutil.copytree(model_dir, work, ignore=shutil.ignore_patterns("_train", "*.md", "*.png"))
                start = time.process_time()
                train_stage(stage, corpus_dir, work, steps=total, log_every=1, ckpt_every=10 * total,
                            warm_start=True, **overrides)
                cpu[total] = time.process_time() - start
                shutil.rmtree(work)
            seconds = (cpu[WARMUP_STEPS + steps] - cpu[WARMUP_STEPS]) / steps
            if seconds <= 0:
                raise RuntimeError(f"{stage}: {steps} steps took no more CPU time than the set-up varies by; "
                                   "time more steps.")
            batch = STAGE_DEFAULTS[stage].batch_size
            rows.append({"stage": stage, "batch_size": batch, "steps": steps,
                         "seconds_per_step": round(seconds, 3), "samples_per_s": round(batch / seconds, 2)})
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows of ``bench_train`` as a Markdown table."""
    lines = ["| stage | batch | CPU s/step | samples per CPU s |", "|---|---:|---:|---:|"]
    lines += [f"| {r['stage']} | {r['batch_size']} | {r['seconds_per_step']:.3f} | {r['samples_per_s']:.1f} |" for r in rows]
    return "\n".join(lines)
