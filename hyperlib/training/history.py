"""A stage's loss curve over all the runs that trained its weights, kept in the model folder's config.json.

A stage logs its losses to ``_train/<stage>.jsonl``, which is not kept with the weights. At the end of every
run the stage appends a compact curve of that run's rows (window means, against the samples the weights have
seen in all, warm starts included) to the curve its summary already held, so that the model card can plot
the whole history of shipped weights (``plot_loss_curves``).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

POINTS_PER_RUN = 100
"""Window means kept per run: a curve grows by at most this many points each time a stage runs."""


def read_log(path: str | Path, offset: int = 0) -> list[dict]:
    """Rows of a stage's JSONL log from byte ``offset`` on (those this run wrote); [] for a missing log.

    Each row holds "step" (1-based, within the run), "time_s" and one float per loss.
    """
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, "rb") as log:
        log.seek(offset)
        return [json.loads(line) for line in log.read().decode().splitlines() if line.strip()]


def extend_curve(curve: dict | None, rows: list[dict], samples_before: int, batch_size: int,
                 points: int = POINTS_PER_RUN) -> dict:
    """``curve`` (or a new one) with ``rows`` of one run appended as at most ``points`` window means.

    Args:
        curve: {"samples": [...], <loss>: [...]} from earlier runs, or None. rows: ``read_log``'s rows.
        samples_before: samples the weights had seen when the run started. batch_size: samples per step.
    Returns:
        A new dict of equal-length lists: "samples" (samples seen in all at each window's last step) and one
        list per loss (None where a run did not log that loss). The input is not changed.
    """
    out = {k: list(v) for k, v in (curve or {"samples": []}).items()}
    if not rows:
        return out
    size = math.ceil(len(rows) / points)
    keys = [k for k in rows[0] if k not in ("step", "time_s")]
    for k in keys:
        out.setdefault(k, [None] * len(out["samples"]))
    for start in range(0, len(rows), size):
        window = rows[start:start + size]
        out["samples"].append(samples_before + window[-1]["step"] * batch_size)
        for k in out:
            if k != "samples":
                values = [r[k] for r in window if k in r]
                out[k].append(round(sum(values) / len(values), 5) if values else None)
    return out


def plot_loss_curves(training: dict, path: str | Path) -> Path | None:
    """One panel per stage with a curve (``training``: config.json's "training"), losses against samples seen.

    Writes a PNG to ``path`` and returns it; None (and nothing written) when no stage has a curve.
    Needs matplotlib (the ``train`` extra).
    """
    stages = {name: s["curve"] for name, s in training.items() if s.get("curve", {}).get("samples")}
    if not stages:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(stages), figsize=(4.2 * len(stages), 3.2), squeeze=False)
    for ax, (name, curve) in zip(axes[0], stages.items()):
        for key, values in curve.items():
            if key != "samples":
                pts = [(s, v) for s, v in zip(curve["samples"], values) if v is not None]
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key, lw=1.2)
        ax.set_title(name)
        ax.set_xlabel("samples seen")
        ax.set_yscale("symlog", linthresh=0.1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
