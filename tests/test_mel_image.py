"""The log-mel picture of the app (demos.mel_image): colours from one table lookup, axes in Hz and seconds."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from demos.mel_image import LEFT, SCALE, TOP, colour_table, hz_to_row, mel_image, seconds_to_column
from hyperlib.config import AudioConfig
from hyperlib.mel import LogMel

CFG = AudioConfig()


def plot_area(image: np.ndarray) -> np.ndarray:
    """The spectrogram's pixels inside the picture's frame."""
    return image[TOP:TOP + CFG.n_mels * SCALE, LEFT:LEFT + CFG.num_frames * SCALE]


def test_colours_are_the_table_lookup_of_each_value():
    rng = np.random.default_rng(0)
    mel = rng.uniform(-1.2, 1.2, (CFG.n_mels, CFG.num_frames)).astype(np.float32)  # a little outside the range too
    pixels = plot_area(mel_image(mel, "noise", CFG))
    band, frame = 17, 93  # band 0 is the lowest, drawn at the bottom
    y, x = (CFG.n_mels - 1 - band) * SCALE, frame * SCALE
    entry = int(round((np.clip(mel[band, frame], -1, 1) + 1) / 2 * 255))
    assert np.array_equal(pixels[y:y + SCALE, x:x + SCALE], np.broadcast_to(colour_table()[entry], (SCALE, SCALE, 3)))
    table = colour_table()
    assert table.shape == (256, 3) and table.dtype == np.uint8 and table[0].sum() < table[255].sum()  # dark to light


def test_low_bands_are_at_the_bottom_and_the_margins_are_paper():
    mel = np.full((CFG.n_mels, CFG.num_frames), -1.0, dtype=np.float32)
    mel[:4] = 1.0  # the four lowest bands bright
    image = mel_image(mel, "low", CFG)
    pixels = plot_area(image)
    assert np.all(pixels[-4 * SCALE:] == colour_table()[255]) and np.all(pixels[:-4 * SCALE] == colour_table()[0])
    assert image.shape == (TOP + CFG.n_mels * SCALE + 36, LEFT + CFG.num_frames * SCALE + 12, 3)
    assert np.all(image[:, :2] == 255)  # white left edge


def test_frequency_axis_matches_where_a_tone_lands():
    """A 1 kHz tone through the front end peaks in the band the 1000 Hz tick points at."""
    t = np.arange(CFG.num_samples) / CFG.sample_rate
    for hz in (250.0, 1000.0, 4000.0):
        x = LogMel(CFG)(torch.from_numpy((0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32))[None])[0, 0]
        peak_band = int(x.mean(dim=1).argmax())
        assert abs(float(hz_to_row(hz, CFG)) - (peak_band + 0.5)) <= 1.0, hz


def test_axes_are_monotonic_and_span_the_note():
    rows = hz_to_row([CFG.f_min, 100, 1000, CFG.f_max], CFG)
    assert np.all(np.diff(rows) > 0) and 0 <= rows[0] and rows[-1] <= CFG.n_mels
    assert seconds_to_column(CFG.num_frames * CFG.hop_length / CFG.sample_rate, CFG) == pytest.approx(CFG.num_frames)


def test_bad_shape_is_refused():
    with pytest.raises(ValueError, match="shape"):
        mel_image(np.zeros((64, CFG.num_frames)), "small", CFG)
