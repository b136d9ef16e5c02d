"""Gradio demo of hyperlib: upload one short sound, hear it rebuilt at any MIDI pitch, mix two timbres.

Run from the repository root::

    python demos/app.py

The model is ``HyperGANStrument.from_pretrained()`` (the bundled ``checkpoints/``, or the folder named by
``HYPERLIB_CHECKPOINT``), loaded once per process on the first request. ``GRADIO_SERVER_NAME`` and
``GRADIO_SERVER_PORT`` choose where the app listens.
"""
from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # must be set before gradio is imported

import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import librosa
import librosa.display
import numpy as np
from matplotlib.figure import Figure

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `python demos/app.py` works without installing hyperlib
    sys.path.insert(0, str(REPO_ROOT))

from hyperlib import AudioError, HyperGANStrument, Result  # noqa: E402
from hyperlib.audio import write_wav  # noqa: E402

EXAMPLES_DIR = REPO_ROOT / "examples"
PIANO = EXAMPLES_DIR / "piano_c4.aif"
HANDSAW = EXAMPLES_DIR / "handsaw.ogg"
EXAMPLE_FILES = [PIANO, HANDSAW, EXAMPLES_DIR / "violin.ogg", EXAMPLES_DIR / "trumpet.ogg"]

METHOD_LABELS = {"gan": "GANStrument", "encoder": "GANStrument Enc.", "hyper": "HyperGANStrument"}
"""The methods shown side by side, in display order: hyperlib method name -> paper name."""
SYNTHESIZE, RECONSTRUCT = "synthesize", "reconstruct"
MIN_PITCH, MAX_PITCH = 21, 108
NO_SOUND = "Please upload or record a sound first."

HEADER = """
# HyperGANStrument: a neural sampler

Upload or record one short sound (a single note works best). The app turns it into an instrument you can
play at any MIDI pitch, with three methods:

* **GANStrument**: a feature extractor *f* turns the sound into a timbre code *h*; the generator *G* renders
  *h* at the chosen pitch.
* **GANStrument Enc.**: an encoder *E* inverts the sound into *G*'s inputs (*h*, *z*) in one pass.
* **HyperGANStrument**: starts from GANStrument's output, then a hypernetwork *H* compares its timbre with
  your sound's and adjusts *G*'s weights, once per refinement step, to bring the two closer.

Every note lasts 1.024 s at 16 kHz. The plots are log-mel spectrograms.
"""

_model: HyperGANStrument | None = None
_model_lock = threading.Lock()


def get_model() -> HyperGANStrument:
    """The process-wide model, loaded by ``HyperGANStrument.from_pretrained()`` on first use."""
    global _model
    with _model_lock:
        if _model is None:
            _model = HyperGANStrument.from_pretrained()
    return _model


@contextmanager
def user_errors():
    """Turn the library's bad-input errors (AudioError, ValueError) into messages shown in the app."""
    try:
        yield
    except ValueError as exc:  # AudioError is a ValueError
        raise gr.Error(str(exc), print_exception=False) from exc


def whole_number(value):
    """``3.0`` -> ``3`` (API clients may send floats); anything else is left for hyperlib to validate."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def note_name(pitch: float) -> str:
    """Name and frequency of a MIDI pitch, e.g. ``"C4 (261.6 Hz)"``."""
    return f"{librosa.midi_to_note(int(pitch))} ({librosa.midi_to_hz(int(pitch)):.1f} Hz)"


def load_note(model: HyperGANStrument, path: str | None, which: str = "") -> np.ndarray:
    """Decode an uploaded file into a one-shot note; the error message names ``which`` sound failed."""
    if not path:
        raise gr.Error(NO_SOUND if not which else f"Please upload or record the {which} sound first.",
                       print_exception=False)
    try:
        return model.load(path)
    except AudioError as exc:
        raise gr.Error(f"{which.capitalize()} sound: {exc}" if which else str(exc), print_exception=False) from exc


def save_wav(result: Result) -> str:
    """Write a rendered note as a 16-bit WAV temp file (for playing and downloading); returns its path."""
    with tempfile.NamedTemporaryFile(prefix=f"hyperlib-{result.method}-midi{result.pitch}-", suffix=".wav",
                                     delete=False) as f:
        write_wav(f, result.audio, result.sample_rate)
    return f.name


def mel_figure(mel: np.ndarray, title: str) -> Figure:
    """Plot a normalized log-mel (n_mels, frames), values about [-1, 1], with time (s) and frequency (Hz) axes."""
    cfg = get_model().audio_config
    fig = Figure(figsize=(5, 3.4), layout="constrained")
    ax = fig.add_subplot()
    image = librosa.display.specshow(mel, ax=ax, sr=cfg.sample_rate, hop_length=cfg.hop_length, x_axis="time",
                                     y_axis="mel", fmin=cfg.f_min, fmax=cfg.f_max, vmin=-1, vmax=1, cmap="magma")
    fig.colorbar(image, ax=ax, label="normalized log-mel")
    ax.set(title=title, xlabel="Time (s)", ylabel="Frequency (Hz)")
    return fig


def render_all(path: str | None, pitch: float = 60, steps: float = 3, mode: str = SYNTHESIZE) -> tuple:
    """The "Play a sound" tab: render the uploaded sound with all three methods.

    Args:
        path: the uploaded or recorded audio file.
        pitch: MIDI pitch 21-108, used when ``mode`` is ``"synthesize"``.
        steps: HyperGANStrument refinement steps (0-5).
        mode: ``"synthesize"`` (at ``pitch``) or ``"reconstruct"`` (at the input's own pitch, estimated by pYIN).
    Returns:
        (input mel plot, then a WAV path and a mel plot per method in ``METHOD_LABELS`` order, summary markdown).
    Raises:
        gr.Error: no sound, unusable audio, or an invalid setting.
    """
    model, steps = get_model(), whole_number(steps)
    note = load_note(model, path)
    with user_errors():
        if mode == RECONSTRUCT:
            pitch = model.estimate_pitch(note)
        sound = (note, model.audio_config.sample_rate)
        results = [model.synthesize(sound, pitch, method, steps) for method in METHOD_LABELS]
    outputs = [mel_figure(model.mel(note)[0, 0].cpu().numpy(), "Your sound")]
    for result in results:
        outputs += [save_wav(result), mel_figure(result.mel, METHOD_LABELS[result.method])]
    source = "the input's own pitch, estimated" if mode == RECONSTRUCT else "the chosen pitch"
    summary = (f"Rendered at **{note_name(results[0].pitch)}**, MIDI {results[0].pitch} ({source}); "
               f"HyperGANStrument used {steps} refinement step(s).")
    return (*outputs, summary)


def render_mix(path_a: str | None, path_b: str | None, mix: float = 0.5, pitch: float = 69,
               method: str = "hyper", steps: float = 3) -> tuple:
    """The "Interpolate" tab: the timbre mix (1 - mix) * first + mix * second at MIDI ``pitch``.

    Returns:
        (WAV path, mel plot). Raises gr.Error for a missing or unusable sound or an invalid setting.
    """
    model, steps = get_model(), whole_number(steps)
    sr = model.audio_config.sample_rate
    sounds = [(load_note(model, path, which), sr) for path, which in ((path_a, "first"), (path_b, "second"))]
    with user_errors():
        result = model.interpolate(sounds, [1 - mix, mix], pitch, method, steps)
    title = f"{METHOD_LABELS.get(method, method)}, mix {mix:.2f}, {librosa.midi_to_note(result.pitch)}"
    return save_wav(result), mel_figure(result.mel, title)


def pitch_slider(default: int) -> gr.Slider:
    """A MIDI pitch slider beside a read-only box that shows the note name."""
    with gr.Row():
        slider = gr.Slider(MIN_PITCH, MAX_PITCH, value=default, step=1, precision=0, label="MIDI pitch", scale=3)
        name = gr.Textbox(note_name(default), label="Note", interactive=False, scale=1, min_width=120)
    slider.change(note_name, slider, name, api_visibility="private", queue=False)
    return slider


def steps_slider() -> gr.Slider:
    """Refinement steps for the HyperGANStrument methods."""
    return gr.Slider(0, 5, value=3, step=1, precision=0, label="Refinement steps (HyperGANStrument)")


def audio_input(label: str, value: Path | None = None) -> gr.Audio:
    """An upload-or-record audio input that passes a file path to the handlers."""
    return gr.Audio(str(value) if value else None, sources=["upload", "microphone"], type="filepath", label=label)


def play_tab() -> None:
    """Layout and events of the "Play a sound" tab."""
    with gr.Row():
        with gr.Column():
            sound = audio_input("Your sound")
            gr.Examples([[str(p)] for p in EXAMPLE_FILES], inputs=sound, cache_examples=False)
            pitch = pitch_slider(60)
            steps = steps_slider()
            mode = gr.Radio([("Synthesize at the chosen pitch", SYNTHESIZE),
                             ("Reconstruct at the input's own pitch", RECONSTRUCT)], value=SYNTHESIZE, label="Pitch")
            button = gr.Button("Play", variant="primary")
        input_plot = gr.Plot(label="Your sound (log-mel)")
    outputs = [input_plot]
    with gr.Row():
        for label in METHOD_LABELS.values():
            with gr.Column():
                outputs.append(gr.Audio(type="filepath", label=label, interactive=False, buttons=["download"]))
                outputs.append(gr.Plot(label=f"{label} (log-mel)"))
    outputs.append(gr.Markdown(label="Summary"))
    button.click(render_all, [sound, pitch, steps, mode], outputs, api_name="render")


def mix_tab() -> None:
    """Layout and events of the "Interpolate" tab."""
    gr.Markdown("Mix the timbres of two sounds: the slider sets the weight of the second sound.")
    with gr.Row():
        first = audio_input("First sound", PIANO)
        second = audio_input("Second sound", HANDSAW)
    with gr.Row():
        with gr.Column():
            mix = gr.Slider(0, 1, value=0.5, step=0.05, label="Mix (0 = first sound, 1 = second sound)")
            pitch = pitch_slider(69)
            method = gr.Radio([(label, name) for name, label in METHOD_LABELS.items()], value="hyper", label="Method")
            steps = steps_slider()
            button = gr.Button("Mix", variant="primary")
        with gr.Column():
            audio = gr.Audio(type="filepath", label="Mix", interactive=False, buttons=["download"])
            plot = gr.Plot(label="Mix (log-mel)")
    button.click(render_mix, [first, second, mix, pitch, method, steps], [audio, plot], api_name="mix")


def build_demo() -> gr.Blocks:
    """The whole app: a header and the two tabs."""
    with gr.Blocks(title="HyperGANStrument") as demo:
        gr.Markdown(HEADER)
        with gr.Tab("Play a sound"):
            play_tab()
        with gr.Tab("Interpolate"):
            mix_tab()
    return demo


if __name__ == "__main__":
    get_model()  # load before serving, so a missing checkpoint fails here and not in the first request
    build_demo().queue(default_concurrency_limit=2).launch()
