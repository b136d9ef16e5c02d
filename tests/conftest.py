"""Shared fixtures: a tiny soundfont corpus, a small network configuration, the pretrained model, a CLI runner.

The pretrained model is whatever ``HyperGANStrument.from_pretrained()`` loads (the bundled ``checkpoints/``
or the folder named by ``HYPERLIB_CHECKPOINT``).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Small models on a shared CPU: one thread avoids oversubscription (several times faster here).
os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("HYPERLIB_TEST_THREADS", "1"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ.get("HYPERLIB_TEST_THREADS", "1")))

from hyperlib.config import ModelConfig  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
PIANO = EXAMPLES / "piano_c4.aif"
HANDSAW = EXAMPLES / "handsaw.ogg"
SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")

TINY_PROGRAMS = [0, 40, 73, 125]
TINY_PITCHES = list(range(48, 73, 4))
SAMPLE_RATE = 16000
NUM_SAMPLES = 16384


@pytest.fixture(scope="session")
def small_cfg() -> ModelConfig:
    """Network sizes small enough to train a few steps on CPU in seconds."""
    return ModelConfig(gen_channels=(32, 32, 32, 16, 16, 8), disc_channels=(8, 16, 16, 32, 32),
                       feat_channels=(8, 16, 16, 32, 32), enc_channels=(8, 16, 16, 32, 32),
                       h_dim=32, w_dim=64, hyper_hidden=64, num_instruments=4)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A 4-preset x 7-pitch TimGM6mb corpus (programs 0, 40, 73, 125), rendered once per session."""
    if not SOUNDFONT.is_file():
        pytest.skip(f"{SOUNDFONT} is missing (apt-get install timgm6mb-soundfont)")
    from hyperlib.corpus import render_corpus

    out = tmp_path_factory.mktemp("tiny_corpus")
    render_corpus(out, ["TimGM6mb"], TINY_PROGRAMS, TINY_PITCHES)
    return out


@pytest.fixture(scope="session")
def model():
    """The pretrained HyperGANStrument, loaded once per session."""
    from hyperlib import HyperGANStrument

    try:
        return HyperGANStrument.from_pretrained()
    except FileNotFoundError as exc:
        pytest.fail(f"HyperGANStrument.from_pretrained() found no trained model ({exc}). While the bundled "
                    "checkpoint trains, run with HYPERLIB_CHECKPOINT=/work/tiny_model.")


def dominant_frequency(y: np.ndarray, sr: int) -> float:
    """Frequency (Hz) of the largest bin of the Hann-windowed spectrum of ``y``."""
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[spectrum.argmax()])


def tone(freq: float = 440.0, sr: int = SAMPLE_RATE, seconds: float = 1.0, amp: float = 0.5,
         delay_s: float = 0.0, channels: int = 1) -> np.ndarray:
    """A decaying sine at ``freq`` Hz after ``delay_s`` seconds of silence: (n,) or (n, channels) float64."""
    t = np.arange(int(seconds * sr)) / sr
    y = amp * np.sin(2 * np.pi * freq * t) * np.exp(-1.5 * t)
    y = np.concatenate([np.zeros(int(delay_s * sr)), y])
    if channels > 1:  # channels differ in level so a bad downmix is visible, same phase so the mix is a tone
        y = np.stack([y * (1 - 0.3 * c / channels) for c in range(channels)], axis=1)
    return y


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m hyperlib ARGS`` in the repository root, with this environment (HYPERLIB_CHECKPOINT etc.)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run([sys.executable, "-m", "hyperlib", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
