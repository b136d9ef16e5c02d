"""Plotting and listening helpers for the notebooks and for interactive use.

    from hyperlib.plots import mel_figure, audio_table
    fig = mel_figure([x, x_init], ["input x", "x_init = G(h, 0, p)"])
    display(audio_table([a1, a2], ["input", "rebuilt"]))

Mel plots have their axes in seconds and Hz (``librosa.display.specshow`` with the mel scale).
librosa is a core dependency of hyperlib; matplotlib is not: it comes with the ``notebooks``, ``app`` and
``train`` extras (``pip install -e ".[notebooks]"``), and importing this module without it raises
ModuleNotFoundError. IPython is imported only by ``audio_table``.
"""
from __future__ import annotations

import html
from typing import Sequence

import librosa.display
import matplotlib.pyplot as plt
import numpy as np
import torch

from .config import AudioConfig

VMIN, VMAX = -1.0, 1.0  # the normalized log-mel range


def to_numpy_mel(mel) -> np.ndarray:
    """A normalized log-mel as (n_mels, frames) numpy; accepts (n_mels, frames), (1, n_mels, frames) or
    (1, 1, n_mels, frames) numpy arrays or torch tensors. Raises ValueError for other shapes."""
    if isinstance(mel, torch.Tensor):
        mel = mel.detach().cpu().float().numpy()
    mel = np.asarray(mel, dtype=np.float32)
    while mel.ndim > 2 and mel.shape[0] == 1:
        mel = mel[0]
    if mel.ndim != 2:
        raise ValueError(f"Expected one log-mel of shape (n_mels, frames), got shape {mel.shape}.")
    return mel


def mel_axes(ax, mel, title: str | None = None, cfg: AudioConfig | None = None, colorbar: bool = False,
             label_axes: bool = True, vmin: float = VMIN, vmax: float = VMAX):
    """Draw one normalized log-mel on ``ax`` (time in s, frequency in Hz on the mel scale).

    ``vmin``/``vmax`` fix the colour range (default the normalized log-mel range [-1, 1]; use e.g. 0 and 1
    for an error map |x - x_hat|). Returns the QuadMesh, e.g. for a shared colorbar.
    """
    cfg = cfg or AudioConfig()
    img = librosa.display.specshow(to_numpy_mel(mel), ax=ax, y_axis="mel", x_axis="time", sr=cfg.sample_rate,
                                   hop_length=cfg.hop_length, fmin=cfg.f_min, fmax=cfg.f_max,
                                   vmin=vmin, vmax=vmax, cmap="magma")
    if title:
        ax.set_title(title, fontsize=9)
    ax.set_xlabel("time (s)" if label_axes else "")
    ax.set_ylabel("Hz" if label_axes else "")
    ax.tick_params(labelsize=7)
    if colorbar:
        ax.figure.colorbar(img, ax=ax, format="%+.1f")
    return img


def mel_figure(mels: Sequence, titles: Sequence[str] | None = None, ncols: int | None = None,
               cfg: AudioConfig | None = None, panel_size: tuple[float, float] = (2.6, 2.2),
               suptitle: str | None = None, row_labels: Sequence[str] | None = None, colorbar: bool = True,
               vmin: float = VMIN, vmax: float = VMAX, colorbar_label: str = "normalized log-mel"):
    """A grid of normalized log-mels (up to 6 per row unless ``ncols``) with one shared colorbar.

    Args:
        mels: log-mels, each (n_mels, frames) or (1, 1, n_mels, frames), numpy or torch.
        titles: one title per panel (optional).
        ncols: panels per row (default: all in one row, at most 6).
        cfg: the audio config of the model (sample rate, hop, mel range); default ``AudioConfig()``.
        panel_size: (width, height) of one panel in inches.
        row_labels: a label per row, written left of the row's first panel.
        vmin, vmax, colorbar_label: colour range and colorbar label (e.g. 0, 1, "|x - x_hat|" for error maps).
    Returns:
        The matplotlib Figure (call ``plt.show()`` or let Jupyter display it).
    """
    mels = list(mels)
    if not mels:
        raise ValueError("mel_figure needs at least one log-mel.")
    titles = list(titles) if titles is not None else [None] * len(mels)
    if len(titles) != len(mels):
        raise ValueError(f"Got {len(mels)} log-mels but {len(titles)} titles.")
    ncols = ncols or min(len(mels), 6)
    nrows = -(-len(mels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols + (0.8 if colorbar else 0),
                                                     panel_size[1] * nrows), squeeze=False, constrained_layout=True)
    img = None
    for i, ax in enumerate(axes.flat):
        if i >= len(mels):
            ax.axis("off")
            continue
        r, c = divmod(i, ncols)
        img = mel_axes(ax, mels[i], titles[i], cfg, vmin=vmin, vmax=vmax)
        if r != nrows - 1:
            ax.set_xlabel("")
        if c != 0:
            ax.set_ylabel("")
        elif row_labels is not None and r < len(row_labels):
            ax.set_ylabel(f"{row_labels[r]}\nHz", fontsize=9)
    if colorbar and img is not None:
        fig.colorbar(img, ax=axes, shrink=0.8 if nrows <= 2 else max(0.2, 1.6 / nrows), label=colorbar_label)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def audio_table(clips: Sequence[np.ndarray], titles: Sequence[str], sample_rate: int = 16000,
                ncols: int | None = None, normalize: bool = True):
    """Labelled ``IPython.display.Audio`` players laid out in a table (``ncols`` per row, default all).

    Returns an ``IPython.display.HTML`` object: ``display(audio_table(...))``.
    """
    from IPython.display import HTML, Audio

    clips, titles = list(clips), list(titles)
    if len(clips) != len(titles):
        raise ValueError(f"Got {len(clips)} clips but {len(titles)} titles.")
    ncols = ncols or len(clips)
    cells = [f"<td style='text-align:center;padding:2px 6px'><div style='font-size:90%'>{html.escape(t)}</div>"
             f"{Audio(np.asarray(c, dtype=np.float32), rate=sample_rate, normalize=normalize)._repr_html_()}</td>"
             for c, t in zip(clips, titles)]
    rows = ["<tr>" + "".join(cells[i:i + ncols]) + "</tr>" for i in range(0, len(cells), ncols)]
    return HTML("<table>" + "".join(rows) + "</table>")
