"""Tests of the Gradio demo (demos/app.py): its handlers called directly, bad uploads, and the running app.

They use whatever model ``HyperGANStrument.from_pretrained()`` loads (the bundled checkpoint, or the
folder named by ``HYPERLIB_CHECKPOINT``).
"""
from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

gr = pytest.importorskip("gradio")

REPO_ROOT = Path(__file__).resolve().parents[1]
APP_PATH = REPO_ROOT / "demos" / "app.py"
PIANO = REPO_ROOT / "examples" / "piano_c4.aif"
HANDSAW = REPO_ROOT / "examples" / "handsaw.ogg"
SAMPLE_RATE, NUM_SAMPLES = 16000, 16384
STARTUP_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def app():
    """demos/app.py imported as a module (demos/ is not a package)."""
    spec = importlib.util.spec_from_file_location("hyperlib_demo_app", APP_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def piano_outputs(app):
    """render_all's outputs for the real piano at MIDI 64, computed once."""
    return app.render_all(str(PIANO), 64, 2, app.SYNTHESIZE)


def assert_valid_wav(path) -> None:
    """A 16-bit mono WAV of one note at 16 kHz, finite and audible."""
    info = sf.info(str(path))
    assert (info.format, info.subtype, info.channels) == ("WAV", "PCM_16", 1)
    audio, sr = sf.read(str(path), dtype="float32")
    assert sr == SAMPLE_RATE
    assert audio.shape == (NUM_SAMPLES,)
    assert np.all(np.isfinite(audio))
    assert np.max(np.abs(audio)) > 0.01


def audio_outputs(app, outputs) -> dict:
    """The WAV paths in render_all's outputs, keyed by method."""
    return dict(zip(app.METHOD_LABELS, outputs[1:-1:2]))


# -- (a) the handlers on a real recording -------------------------------------------------------
def test_render_all_layout(app, piano_outputs):
    assert len(piano_outputs) == 2 + 2 * len(app.METHOD_LABELS)
    figures = [piano_outputs[0], *piano_outputs[2:-1:2]]
    assert all(hasattr(fig, "savefig") for fig in figures)
    assert "E4" in piano_outputs[-1] and "MIDI 64" in piano_outputs[-1]


@pytest.mark.parametrize("method", ["gan", "encoder", "hyper"])
def test_render_all_audio_is_valid(app, piano_outputs, method):
    assert_valid_wav(audio_outputs(app, piano_outputs)[method])


def test_render_all_reconstruct_uses_input_pitch(app):
    outputs = app.render_all(str(PIANO), 100, 0, app.RECONSTRUCT)
    assert "MIDI 100" not in outputs[-1] and "estimated" in outputs[-1]
    for path in audio_outputs(app, outputs).values():
        assert_valid_wav(path)


def test_render_mix_audio_is_valid(app):
    path, figure = app.render_mix(str(PIANO), str(HANDSAW), 0.5, 69, "hyper", 1.0)  # sliders may send floats
    assert_valid_wav(path)
    assert hasattr(figure, "savefig")


def test_long_upload_is_cut(app, tmp_path):
    path = tmp_path / "long.wav"
    t = np.arange(90 * 8000) / 8000
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)  # 90 s; only 60 s are read
    for wav in audio_outputs(app, app.render_all(str(path), 69, 0)).values():
        assert_valid_wav(wav)


def test_note_name(app):
    assert app.note_name(60).startswith("C4") and app.note_name(69) == "A4 (440.0 Hz)"


# -- (b) bad input gives a readable message -----------------------------------------------------
def write_bad_file(tmp_path: Path, kind: str) -> str:
    """A bad upload of the given kind, as a file path."""
    path = tmp_path / f"{kind}.wav"
    if kind == "text":
        path.write_text("this is not audio, just text renamed to .wav\n" * 20)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "silent":
        sf.write(path, np.zeros(SAMPLE_RATE, dtype=np.int16), SAMPLE_RATE, subtype="PCM_16")
    elif kind == "nan":
        audio = np.sin(np.linspace(0, 800, SAMPLE_RATE)).astype(np.float32)
        audio[100:200] = np.nan
        sf.write(path, audio, SAMPLE_RATE, subtype="FLOAT")
    return str(path)


def assert_readable(error: pytest.ExceptionInfo, *words: str) -> None:
    message = error.value.message
    assert "Traceback" not in message and len(message) < 300
    assert all(word in message.lower() for word in words), message


@pytest.mark.parametrize("kind, words", [("text", ["could not decode", "wav"]), ("empty", ["empty"]),
                                         ("silent", ["silent"]), ("nan", ["nan"])])
def test_bad_upload_is_reported(app, tmp_path, kind, words):
    with pytest.raises(gr.Error) as error:
        app.render_all(write_bad_file(tmp_path, kind), 60, 1)
    assert_readable(error, *words)


def test_no_upload_is_reported(app):
    with pytest.raises(gr.Error) as error:
        app.render_all(None, 60, 1)
    assert error.value.message == "Please upload or record a sound first."


def test_bad_mix_input_names_the_sound(app, tmp_path):
    with pytest.raises(gr.Error) as error:
        app.render_mix(str(PIANO), write_bad_file(tmp_path, "silent"), 0.5, 69, "hyper", 1)
    assert_readable(error, "second sound", "silent")


@pytest.mark.parametrize("pitch, steps, words", [(120, 0, ["pitch", "21-108"]), (60, 2.5, ["steps", "0-10"])])
def test_bad_setting_is_reported(app, pitch, steps, words):
    with pytest.raises(gr.Error) as error:
        app.render_mix(str(PIANO), str(HANDSAW), 0.5, pitch, "gan", steps)
    assert_readable(error, *words)


# -- (c) the app served over HTTP ---------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    """Poll ``url`` until it answers; fail with the app's log if it exits or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited with code {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"the app did not answer within {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def served_app(tmp_path):
    """``python demos/app.py`` on a free local port; yields its URL and always stops it."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    log = tmp_path / "app.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, str(APP_PATH)], cwd=REPO_ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_served_app_render_endpoint(served_app, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(served_app, verbose=False, analytics_enabled=False, download_files=str(tmp_path / "downloads"))
    outputs = client.predict(handle_file(str(PIANO)), 60, 3, "synthesize", api_name="/render")
    wavs = outputs[1:-1:2]
    assert len(wavs) == 3
    for path in wavs:
        assert_valid_wav(path)
    assert "C4" in outputs[-1]
