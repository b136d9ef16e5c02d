"""A normalized log-mel as an RGB image with its axes (frequency in Hz on the mel scale, time in seconds).

    from demos.mel_image import mel_image
    rgb = mel_image(result.mel, "HyperGANStrument", model.audio_config)   # (H, W, 3) uint8, for gr.Image or PIL

A light stand-in for a matplotlib figure where a picture is needed per request (the app): the values go through
one lookup in a 256-entry colour table (matplotlib's "magma", as ``hyperlib.plots`` uses), are enlarged
``SCALE`` times without interpolation, and pasted into a frame whose ticks and labels are drawn once per
configuration with PIL. Drawing takes about a millisecond, against over a hundred for a matplotlib figure
with a colorbar, rendered to PNG.
"""
from __future__ import annotations

from functools import lru_cache

import librosa
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hyperlib.config import AudioConfig

CMAP = "magma"
VMIN, VMAX = -1.0, 1.0
"""The colour range: the normalized log-mel's range; values outside it take the end colours."""
SCALE = 2
"""Pixels per mel band and per frame."""
HZ_TICKS = (250, 500, 1000, 2000, 4000, 8000)
TIME_STEP_S = 0.25
FONT_SIZE = 11
LEFT, RIGHT, TOP, BOTTOM = 58, 12, 22, 36
"""Margins in pixels around the spectrogram: tick labels and axis labels (left, bottom), the title (top)."""
TICK = 4
INK, PAPER = (40, 40, 40), (255, 255, 255)


@lru_cache(maxsize=None)
def colour_table() -> np.ndarray:
    """(256, 3) uint8 RGB of the colormap, from VMIN (entry 0) to VMAX (entry 255)."""
    from matplotlib import colormaps

    return np.round(colormaps[CMAP](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8)


@lru_cache(maxsize=None)
def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default(size=FONT_SIZE)


def hz_to_row(hz, cfg: AudioConfig) -> np.ndarray:
    """Position of frequencies (Hz) on the mel axis, in bands from the bottom edge of the lowest band.

    Band j (0 = lowest) covers [j, j + 1) and its centre is the filterbank's j-th centre frequency (Slaney mel
    scale, as ``LogMel``); positions between centres are linear in mel, beyond them clamped to the outer centres.
    """
    centres = librosa.hz_to_mel(librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.f_min, fmax=cfg.f_max)[1:-1])
    return np.interp(librosa.hz_to_mel(np.asarray(hz, dtype=np.float64)), centres, np.arange(cfg.n_mels) + 0.5)


def seconds_to_column(seconds, cfg: AudioConfig) -> np.ndarray:
    """Position of times (s) on the time axis, in frames from the left edge (frame i covers [i, i + 1) hops)."""
    return np.asarray(seconds, dtype=np.float64) * cfg.sample_rate / cfg.hop_length


@lru_cache(maxsize=8)
def _frame(cfg: AudioConfig) -> np.ndarray:
    """The empty picture of one spectrogram: white margins, ticks, tick labels and axis labels; (H, W, 3) uint8."""
    h, w = cfg.n_mels * SCALE, cfg.num_frames * SCALE
    image = Image.new("RGB", (LEFT + w + RIGHT, TOP + h + BOTTOM), PAPER)
    draw, font = ImageDraw.Draw(image), _font()
    for hz, row in zip(HZ_TICKS, hz_to_row(HZ_TICKS, cfg)):
        y = TOP + h - row * SCALE
        draw.line([(LEFT - TICK, y), (LEFT - 1, y)], fill=INK)
        draw.text((LEFT - TICK - 2, y), f"{hz:g}", fill=INK, font=font, anchor="rm")
    seconds = np.arange(0.0, cfg.num_frames * cfg.hop_length / cfg.sample_rate + 1e-9, TIME_STEP_S)
    for s, col in zip(seconds, seconds_to_column(seconds, cfg)):
        x = LEFT + col * SCALE
        draw.line([(x, TOP + h), (x, TOP + h + TICK - 1)], fill=INK)
        draw.text((x, TOP + h + TICK + 1), f"{s:g}", fill=INK, font=font, anchor="mt")
    draw.text((LEFT + w / 2, TOP + h + BOTTOM - 2), "Time (s)", fill=INK, font=font, anchor="md")
    label = Image.new("RGB", (h, FONT_SIZE + 4), PAPER)  # the frequency label, written flat and turned upright
    ImageDraw.Draw(label).text((h / 2, 1), "Frequency (Hz)", fill=INK, font=font, anchor="mt")
    image.paste(label.rotate(90, expand=True), (2, TOP))
    draw.rectangle([LEFT - 1, TOP - 1, LEFT + w, TOP + h], outline=INK)
    return np.asarray(image)


def mel_image(mel: np.ndarray, title: str, cfg: AudioConfig) -> np.ndarray:
    """Draw a normalized log-mel with frequency (Hz, mel scale) and time (s) axes and a title.

    Args:
        mel: (n_mels, frames) array, values about [-1, 1] (VMIN, VMAX); row 0 is the lowest band, as
            ``LogMel`` and ``Result.mel`` give it.
        title: written above the spectrogram.
        cfg: the model's audio config (bands, frames, sample rate, hop, mel range).
    Returns:
        (TOP + n_mels * SCALE + BOTTOM, LEFT + frames * SCALE + RIGHT, 3) uint8 RGB image; the spectrogram's
        pixel (y, x) inside the frame shows band n_mels - 1 - y // SCALE and frame x // SCALE.
    Raises:
        ValueError: ``mel`` is not (cfg.n_mels, cfg.num_frames).
    """
    mel = np.asarray(mel, dtype=np.float32)
    if mel.shape != (cfg.n_mels, cfg.num_frames):
        raise ValueError(f"Expected a log-mel of shape {(cfg.n_mels, cfg.num_frames)}, got {mel.shape}.")
    index = np.clip((np.nan_to_num(mel, nan=VMIN) - VMIN) * (255 / (VMAX - VMIN)) + 0.5, 0, 255).astype(np.uint8)
    pixels = colour_table()[index[::-1]].repeat(SCALE, axis=0).repeat(SCALE, axis=1)
    image = _frame(cfg).copy()
    image[TOP:TOP + pixels.shape[0], LEFT:LEFT + pixels.shape[1]] = pixels
    picture = Image.fromarray(image)
    ImageDraw.Draw(picture).text((LEFT + pixels.shape[1] / 2, TOP / 2), title, fill=INK, font=_font(), anchor="mm")
    return np.asarray(picture)
