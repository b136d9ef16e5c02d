"""Gradio demo of hyperlib: upload one short sound, hear it rebuilt at any MIDI pitch, mix two timbres, and
compare two methods in a blind A/B listening test.

Run from the repository root::

    python demos/app.py

or as a Hugging Face Space (``demos/README.md``, ``demos/make_space.sh``): then this file is the Space's
``app.py`` beside the ``hyperlib`` package, ``checkpoints/`` and ``examples/``.

The model is ``HyperGANStrument.from_pretrained()`` (``HYPERLIB_CHECKPOINT``, else the bundled ``checkpoints/``,
else the default Hub repo; ``hyperlib.hub``), loaded once per process, never per request. ``GRADIO_SERVER_NAME`` and
``GRADIO_SERVER_PORT`` choose where the app listens.
"""
from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # must be set before gradio is imported

import atexit
import logging
import random
import shutil
import sys
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import librosa
import numpy as np
import soundfile as sf
import torch
from PIL import Image
from threadpoolctl import threadpool_limits

APP_DIR = Path(__file__).resolve().parent
# The repository (demos/app.py) or an assembled Space (app.py beside hyperlib/, checkpoints/, examples/).
REPO_ROOT = APP_DIR if (APP_DIR / "hyperlib").is_dir() else APP_DIR.parent
for path in (REPO_ROOT, APP_DIR):  # hyperlib without installing it; sound_design.py beside this file
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from hyperlib import DEFAULT_VOCODER, AudioError, HyperGANStrument, Result  # noqa: E402
from hyperlib.audio import MAX_SECONDS, write_wav  # noqa: E402
from hyperlib.config import REFINE_STEPS  # noqa: E402
from hyperlib.mel_image import mel_image  # noqa: E402
from hyperlib.pipeline import _timed  # noqa: E402
from keyboard_tab import build_keyboard_tab  # noqa: E402
from sound_design import build_sound_design_tabs  # noqa: E402

log = logging.getLogger("hyperlib.demo")

EXAMPLES_DIR = REPO_ROOT / "examples"
PIANO = EXAMPLES_DIR / "piano_c4.aif"
HANDSAW = EXAMPLES_DIR / "handsaw.ogg"
VIOLIN, TRUMPET = EXAMPLES_DIR / "violin.ogg", EXAMPLES_DIR / "trumpet.ogg"
EXAMPLE_FILES = [PIANO, HANDSAW, VIOLIN, TRUMPET]

METHOD_LABELS = {"gan": "GANStrument", "encoder": "GANStrument Enc.", "hyper": "HyperGANStrument"}
"""The methods shown side by side, in display order: hyperlib method name -> paper name."""
VOCODER_LABELS = {"harmonic-noise": "Harmonic-plus-noise vocoder", "griffin-lim": "Griffin-Lim vocoder"}
"""The vocoders offered (hyperlib.VOCODERS): name -> label."""
AB_LABELS = {**METHOD_LABELS, **{name: f"HyperGANStrument, {label}" for name, label in VOCODER_LABELS.items()}}
"""A side of the blind A/B test: a method (with the default vocoder) or a vocoder (with HyperGANStrument)."""
AB_PAIRS = {"hyper-gan": ("hyper", "gan"), "hyper-encoder": ("hyper", "encoder"), "gan-encoder": ("gan", "encoder"),
            "vocoders": ("harmonic-noise", "griffin-lim")}
"""Pairs of the blind A/B test: key -> (side, side), each side a key of AB_LABELS."""
SYNTHESIZE, RECONSTRUCT = "synthesize", "reconstruct"
MIN_PITCH, MAX_PITCH = 21, 108
NOTE_CHOICES = [(f"{librosa.midi_to_note(m)} ({librosa.midi_to_hz(m):.1f} Hz)", m)
                for m in range(MIN_PITCH, MAX_PITCH + 1)]
"""The note picker's choices: (name and frequency, MIDI pitch) for MIDI 21 (A0) to 108 (C8)."""
NO_SOUND = "Please upload or record a sound first."

MAX_UPLOAD_MB = 100
"""Uploads larger than this are refused before decoding (enough for 30 minutes of 16 kHz 16-bit mono WAV)."""
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
OUTPUT_MAX_AGE_S = 15 * 60
"""The WAVs and PNGs this process writes are deleted on the next request once they are this old (gradio serves
its own copies, see CACHE_SETTINGS)."""
PNG_COMPRESSION = 1
"""zlib level of the log-mel PNGs: level 1 writes one (about 70 KB) three times faster than PIL's default (6)
for about 7% more bytes."""
CACHE_SETTINGS = (10 * 60, 30 * 60)
"""gr.Blocks(delete_cache=...): every 10 min, gradio deletes its uploaded and served files older than 30 min."""
CONCURRENCY_LIMIT = 2
"""Requests rendered at once (one per CPU core of a free Space); the others wait in the queue. Each gets
1/CONCURRENCY_LIMIT of the CPU cores as torch and BLAS threads (``configure_threads``)."""
QUEUE_MAX_SIZE = 40
"""Requests waiting beyond this are turned away with gradio's "queue is full" message instead of piling up."""

HEADER = f"""
# HyperGANStrument: a neural sampler

Upload or record one short sound (a single note works best), or click one of the examples. The app turns it
into an instrument you can play at any pitch from A0 to C8, with three methods:

* **GANStrument**: a feature extractor *f* turns the sound into a timbre code *h*; the generator *G* renders
  *h* at the chosen pitch.
* **GANStrument Enc.**: an encoder *E* inverts the sound into *G*'s inputs (*h*, *z*) in one pass.
* **HyperGANStrument**: starts from GANStrument's output, then a hypernetwork *H* compares its timbre with
  your sound's and adjusts *G*'s weights, once per refinement step, to bring the two closer.

Every note lasts 1.024 s at 16 kHz; only the first note of your sound is used (of a long file, only the first
{MAX_SECONDS:.0f} s are read; files over {MAX_UPLOAD_MB} MB are refused). The plots are log-mel spectrograms.
Nothing you upload is kept: files are deleted within the hour.
"""

_model: HyperGANStrument | None = None
_model_lock = threading.Lock()
_last_timings: dict = {}  # the stage timings (ms) of the latest "Play" request, served at /timings
_rng = random.SystemRandom()  # the A/B test's order; unpredictable, so the test stays blind


def get_model() -> HyperGANStrument:
    """The process-wide model, loaded by ``HyperGANStrument.from_pretrained()`` on first use."""
    global _model
    with _model_lock:
        if _model is None:
            _model = HyperGANStrument.from_pretrained()
    return _model


# -- temporary files ------------------------------------------------------------------------------
OUTPUT_DIR = Path(tempfile.mkdtemp(prefix="hyperlib-app-"))
"""This process's rendered WAVs and log-mel PNGs; removed with everything in it when the process exits."""
atexit.register(shutil.rmtree, OUTPUT_DIR, ignore_errors=True)


def purge_outputs(max_age_s: float = OUTPUT_MAX_AGE_S) -> int:
    """Delete the files in OUTPUT_DIR older than ``max_age_s`` seconds; returns how many were deleted."""
    cutoff, removed = time.time() - max_age_s, 0
    for path in OUTPUT_DIR.glob("*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another request removed it first
            pass
    return removed


def new_output(prefix: str, suffix: str) -> str:
    """Create an empty file in OUTPUT_DIR named ``prefix``, a random part and ``suffix``; returns its path."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=OUTPUT_DIR)
    os.close(fd)
    return path


def save_wav(result: Result, name: str | None = None) -> str:
    """Write a rendered note as a 16-bit WAV in OUTPUT_DIR (for playing and downloading); returns its path.

    ``name`` replaces the default name (method and pitch), e.g. to keep the A/B test blind; a random suffix
    follows.
    """
    path = new_output(f"{name or f'hyperlib-{result.method}-midi{result.pitch}'}-", ".wav")
    write_wav(path, result.audio, result.sample_rate)
    return path


# -- input checks ---------------------------------------------------------------------------------
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


def duration_text(seconds: float) -> str:
    """``1800`` -> ``"30 min"``, ``95`` -> ``"1 min 35 s"``, ``12.5`` -> ``"12.5 s"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min" + (f" {rest} s" if rest else "")


def check_upload(path: str, which: str = "") -> None:
    """Refuse a file over MAX_UPLOAD_MB before decoding it; warn (gr.Warning) that a long sound is cut.

    Raises gr.Error for a missing or too large file.
    """
    the = f"The {which} sound" if which else "Your sound"
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise gr.Error(f"{the} could not be read; please upload it again.", print_exception=False) from exc
    if size > MAX_UPLOAD_BYTES:
        raise gr.Error(f"{the} is {size / 2**20:.0f} MB; files up to {MAX_UPLOAD_MB} MB are accepted. "
                       "A few seconds of audio is plenty.", print_exception=False)
    try:
        info = sf.info(path)  # the header only; formats soundfile cannot read get no notice
        seconds = info.frames / info.samplerate
    except Exception:  # noqa: BLE001 - not our job to judge the file here; load_note reports bad audio
        return
    if seconds > MAX_SECONDS:
        gr.Warning(f"{the} lasts {duration_text(seconds)}: only its first {MAX_SECONDS:.0f} s are read, and the "
                   "note is taken from its first onset.")


def load_note(model: HyperGANStrument, path: str | None, which: str = "") -> np.ndarray:
    """Check and decode an uploaded file into a one-shot note; the error message names ``which`` sound failed."""
    if not path:
        raise gr.Error(NO_SOUND if not which else f"Please upload or record the {which} sound first.",
                       print_exception=False)
    check_upload(path, which)
    try:
        return model.load(path)
    except AudioError as exc:
        raise gr.Error(f"{which.capitalize()} sound: {exc}" if which else str(exc), print_exception=False) from exc
    except Exception as exc:  # a decoder failing in an unforeseen way: still a clear answer, and the server goes on
        log.exception("decoding %s failed", path)
        raise gr.Error(f"Could not read the {which + ' ' if which else ''}sound as audio; please upload a WAV, FLAC, "
                       "OGG, AIFF or MP3 file.", print_exception=False) from exc


def check_mix(mix) -> float:
    """The Interpolate tab's mix weight: a number in 0-1 (weights [1 - mix, mix]). Raises gr.Error."""
    if not isinstance(mix, (int, float)) or isinstance(mix, bool) or not 0 <= mix <= 1:
        raise gr.Error(f"The mix must be a number from 0 (first sound) to 1 (second sound), got {mix!r}.",
                       print_exception=False)
    return float(mix)


# -- plots and timings -----------------------------------------------------------------------------
def save_mel_plot(mel: np.ndarray, title: str) -> str:
    """Draw a normalized log-mel (n_mels, frames) with frequency (Hz) and time (s) axes (``hyperlib.mel_image``)
    and write it as a PNG in OUTPUT_DIR; returns its path."""
    path = new_output("log-mel-", ".png")
    Image.fromarray(mel_image(mel, title, get_model().audio_config)).save(path, compress_level=PNG_COMPRESSION)
    return path


def last_timings() -> dict:
    """Milliseconds per stage of the latest "Play" request (empty before the first): decoding, the shared
    inversion (log-mel x, f, E), each method's networks, the vocoder (all three notes), the plots, the WAV files
    and the total."""
    return _last_timings


# -- handlers -------------------------------------------------------------------------------------
def render_all(path: str | None, pitch: float = 60, steps: float = REFINE_STEPS, mode: str = SYNTHESIZE,
               vocoder: str = DEFAULT_VOCODER, progress=gr.Progress()) -> tuple:
    """The "Play a sound" tab: render the uploaded sound with all three methods.

    Args:
        path: the uploaded or recorded audio file.
        pitch: MIDI pitch 21-108, used when ``mode`` is ``"synthesize"``.
        steps: HyperGANStrument refinement steps (0-10).
        mode: ``"synthesize"`` (at ``pitch``) or ``"reconstruct"`` (at the input's own pitch, estimated by pYIN).
        vocoder: a name from ``hyperlib.VOCODERS``.
    Returns:
        (input mel plot, then a WAV path and a mel plot per method in ``METHOD_LABELS`` order, summary markdown).
    Raises:
        gr.Error: no sound, unusable audio, or an invalid setting.
    """
    global _last_timings
    start, timings = time.perf_counter(), {}
    purge_outputs()
    model, steps = get_model(), whole_number(steps)
    progress(0, desc="Reading your sound")
    with _timed(timings, "decode"):
        note = load_note(model, path)
    with user_errors():
        if mode == RECONSTRUCT:
            progress(0.05, desc="Estimating the pitch")
            with _timed(timings, "pitch estimate"):
                pitch = model.estimate_pitch(note)
        progress(0.1, desc="Rendering with the three methods")
        shared = {}
        x, results = model.render_methods(note, pitch, list(METHOD_LABELS), steps, shared, vocoder)
    timings["inversion (x, f, E)"] = sum(shared.values())
    for result in results:
        timings.update({f"{result.method}: {stage}": ms for stage, ms in result.timings_ms.items()
                        if stage not in ("vocoder", "total")})
    timings["vocoder"] = sum(result.timings_ms["vocoder"] for result in results)
    progress(0.9, desc="Plotting")
    with _timed(timings, "plots"):
        plots = [save_mel_plot(x, "Your sound")] + [save_mel_plot(r.mel, METHOD_LABELS[r.method]) for r in results]
    with _timed(timings, "wav files"):
        wavs = [save_wav(result) for result in results]
    outputs = [plots[0]]
    for wav, plot in zip(wavs, plots[1:]):
        outputs += [wav, plot]
    timings["total"] = (time.perf_counter() - start) * 1000
    _last_timings = timings
    source = "the input's own pitch, estimated" if mode == RECONSTRUCT else "the chosen pitch"
    summary = (f"Rendered at **{note_name(results[0].pitch)}**, MIDI {results[0].pitch} ({source}); "
               f"HyperGANStrument used {steps} refinement step(s); {VOCODER_LABELS.get(vocoder, vocoder)}.")
    return (*outputs, summary)


def render_mix(path_a: str | None, path_b: str | None, mix: float = 0.5, pitch: float = 69,
               method: str = "hyper", steps: float = REFINE_STEPS, progress=gr.Progress()) -> tuple:
    """The "Interpolate" tab: the timbre mix (1 - mix) * first + mix * second at MIDI ``pitch``.

    Returns:
        (WAV path, mel plot). Raises gr.Error for a missing or unusable sound or an invalid setting.
    """
    purge_outputs()
    mix = check_mix(mix)
    model, steps = get_model(), whole_number(steps)
    sr = model.audio_config.sample_rate
    progress(0, desc="Reading the sounds")
    sounds = [(load_note(model, path, which), sr) for path, which in ((path_a, "first"), (path_b, "second"))]
    progress(0.2, desc=f"Rendering the mix with {METHOD_LABELS.get(method, method)}")
    with user_errors():
        result = model.interpolate(sounds, [1 - mix, mix], pitch, method, steps)
    progress(1.0, desc="Plotting")
    title = f"{METHOD_LABELS.get(method, method)}, mix {mix:.2f}, {librosa.midi_to_note(result.pitch)}"
    return save_wav(result), save_mel_plot(result.mel, title)


def tally_markdown(tally: dict) -> str:
    """The A/B tally, one table row per method pair: votes for each method of the pair."""
    if not tally:
        return "No votes yet. Render a pair, listen to both, and pick the one that sounds better."
    rows = ["| Pair | Preferred | Preferred | Votes |", "|---|---|---|---|"]
    for key, (first, second) in AB_PAIRS.items():
        if key in tally:
            a, b = tally[key].get(first, 0), tally[key].get(second, 0)
            rows.append(f"| {AB_LABELS[first]} vs {AB_LABELS[second]} | {AB_LABELS[first]}: {a} "
                        f"| {AB_LABELS[second]}: {b} | {a + b} |")
    return "\n".join(rows)


def vote_buttons(interactive: bool) -> tuple:
    return gr.Button(interactive=interactive), gr.Button(interactive=interactive)


def ab_render(path: str | None, pair: str = "hyper-gan", pitch: float = 60, steps: float = REFINE_STEPS,
              progress=gr.Progress()) -> tuple:
    """The "Blind A/B test" tab: the same sound rendered by the two sides of ``pair`` (two methods, or
    HyperGANStrument through two vocoders), in random order.

    Returns:
        (WAV A, WAV B, the trial for gr.State: {"pair", "order": [side of A, side of B], "pitch"},
        status markdown, vote button A, vote button B). The WAV names do not reveal the sides.
    """
    purge_outputs()
    if pair not in AB_PAIRS:
        raise gr.Error(f"Unknown pair {pair!r}; choose one of {', '.join(AB_PAIRS)}.", print_exception=False)
    model, steps = get_model(), whole_number(steps)
    progress(0, desc="Reading your sound")
    note = load_note(model, path)
    order = list(AB_PAIRS[pair])
    _rng.shuffle(order)
    sound = (note, model.audio_config.sample_rate)
    wavs = []
    with user_errors():
        for i, (side, slot) in enumerate(zip(order, "AB")):
            progress((i, 2), desc=f"Rendering {slot}", unit="sounds")
            method, vocoder = (side, None) if side in METHOD_LABELS else ("hyper", side)
            wavs.append(save_wav(model.synthesize(sound, pitch, method, steps, vocoder), name=f"sound-{slot}"))
    trial = {"pair": pair, "order": order, "pitch": int(pitch)}
    status = f"Listen to **A** and **B** ({note_name(pitch)}), then vote for the one that sounds better."
    return (*wavs, trial, status, *vote_buttons(True))


def ab_vote(choice: str, trial: dict | None, tally: dict | None) -> tuple:
    """Count a vote ("A" or "B") for the current trial and reveal which method was which.

    Returns:
        (trial: None, so each pair is counted once; the updated tally; the reveal; the tally table;
        vote button A, vote button B). Raises gr.Error when there is no pair to vote on.
    """
    if choice not in ("A", "B"):
        raise gr.Error(f"Vote for A or B, got {choice!r}.", print_exception=False)
    if not trial:
        raise gr.Error("Render a pair first (or a new one: each pair gets one vote).", print_exception=False)
    tally = {key: dict(counts) for key, counts in (tally or {}).items()}  # a copy: gr.State values are per session
    winner = trial["order"][0 if choice == "A" else 1]
    counts = tally.setdefault(trial["pair"], {m: 0 for m in AB_PAIRS[trial["pair"]]})
    counts[winner] = counts.get(winner, 0) + 1
    a, b = (AB_LABELS[m] for m in trial["order"])
    reveal = f"You preferred **{choice}**. A was **{a}**, B was **{b}**. Render another pair to vote again."
    return (None, tally, reveal, tally_markdown(tally), *vote_buttons(False))


def vote_a(trial: dict | None, tally: dict | None) -> tuple:
    return ab_vote("A", trial, tally)


def vote_b(trial: dict | None, tally: dict | None) -> tuple:
    return ab_vote("B", trial, tally)


# -- layout ---------------------------------------------------------------------------------------
def pitch_picker(default: int, key: str) -> gr.Slider:
    """A MIDI pitch slider beside a note-name dropdown (A0 ... C8), kept in sync; returns the slider."""
    with gr.Row():
        slider = gr.Slider(MIN_PITCH, MAX_PITCH, value=default, step=1, precision=0, label="MIDI pitch", scale=3,
                           elem_id=f"{key}-pitch")
        note = gr.Dropdown(NOTE_CHOICES, value=default, label="Note", filterable=True, scale=1, min_width=150,
                           elem_id=f"{key}-note")
    slider.input(whole_number, slider, note, api_visibility="private", queue=False, show_progress="hidden")
    note.input(lambda midi: midi, note, slider, api_visibility="private", queue=False, show_progress="hidden")
    return slider


def steps_slider() -> gr.Slider:
    """Refinement steps for the HyperGANStrument method."""
    return gr.Slider(0, 10, value=REFINE_STEPS, step=1, precision=0, label="Refinement steps (HyperGANStrument)",
                     info="0 = GANStrument's output; each step costs one more pass of H and G.")


def audio_input(label: str, value: Path | None = None, elem_id: str | None = None) -> gr.Audio:
    """An upload-or-record audio input that passes a file path to the handlers."""
    return gr.Audio(str(value) if value else None, sources=["upload", "microphone"], type="filepath", label=label,
                    elem_id=elem_id)


def audio_output(label: str, elem_id: str) -> gr.Audio:
    """A player with a WAV download button; the handlers' WAV files are served as they are (format="wav")."""
    return gr.Audio(type="filepath", format="wav", label=label, interactive=False, buttons=["download"],
                    elem_id=elem_id)


def mel_output(label: str) -> gr.Image:
    """A log-mel picture: the PNG file from ``save_mel_plot``, served as it is."""
    return gr.Image(type="filepath", format="png", label=label, show_label=False, interactive=False,
                    buttons=["download"])


def play_tab() -> None:
    """Layout and events of the "Play a sound" tab."""
    with gr.Row():
        with gr.Column():
            sound = audio_input("Your sound", elem_id="play-input")
            gr.Examples([[str(p)] for p in EXAMPLE_FILES], inputs=sound, cache_examples=False,
                        label="Example sounds (click one)")
            pitch = pitch_picker(60, "play")
            steps = steps_slider()
            mode = gr.Radio([("Synthesize at the chosen pitch", SYNTHESIZE),
                             ("Reconstruct at the input's own pitch", RECONSTRUCT)], value=SYNTHESIZE, label="Pitch")
            vocoder = gr.Dropdown([(label, name) for name, label in VOCODER_LABELS.items()], value=DEFAULT_VOCODER,
                                  label="Vocoder (mel to audio)", elem_id="play-vocoder")
            button = gr.Button("Play", variant="primary", elem_id="play-button")
        input_plot = mel_output("Your sound (log-mel)")
    outputs = [input_plot]
    with gr.Row():
        for method, label in METHOD_LABELS.items():
            with gr.Column():
                outputs.append(audio_output(label, f"play-{method}"))
                outputs.append(mel_output(f"{label} (log-mel)"))
    outputs.append(gr.Markdown(elem_id="play-summary"))
    button.click(render_all, [sound, pitch, steps, mode, vocoder], outputs, api_name="render", show_progress="full")


def mix_tab() -> None:
    """Layout and events of the "Interpolate" tab."""
    gr.Markdown("Mix the timbres of two sounds: the slider sets the weight of the second sound.")
    with gr.Row():
        first = audio_input("First sound", PIANO, elem_id="mix-first")
        second = audio_input("Second sound", HANDSAW, elem_id="mix-second")
    gr.Examples([[str(PIANO), str(HANDSAW)], [str(VIOLIN), str(TRUMPET)], [str(PIANO), str(VIOLIN)]],
                inputs=[first, second], cache_examples=False, label="Example pairs (click one)")
    with gr.Row():
        with gr.Column():
            mix = gr.Slider(0, 1, value=0.5, step=0.05, label="Mix (0 = first sound, 1 = second sound)")
            pitch = pitch_picker(69, "mix")
            method = gr.Radio([(label, name) for name, label in METHOD_LABELS.items()], value="hyper", label="Method")
            steps = steps_slider()
            button = gr.Button("Mix", variant="primary", elem_id="mix-button")
        with gr.Column():
            audio = audio_output("Mix", "mix-output")
            plot = mel_output("Mix (log-mel)")
    button.click(render_mix, [first, second, mix, pitch, method, steps], [audio, plot], api_name="mix",
                 show_progress="full")


def ab_tab() -> None:
    """Layout and events of the "Blind A/B test" tab; the tally lives in a per-session gr.State."""
    gr.Markdown("Two methods render the same sound; you hear them as **A** and **B** in random order and pick "
                "the better one. Your votes are counted for this browser session only; nothing about you is stored.")
    trial, tally = gr.State(None), gr.State({})
    with gr.Row():
        with gr.Column():
            sound = audio_input("Your sound", PIANO, elem_id="ab-input")
            gr.Examples([[str(p)] for p in EXAMPLE_FILES], inputs=sound, cache_examples=False,
                        label="Example sounds (click one)")
            pair = gr.Dropdown([(f"{AB_LABELS[a]} vs {AB_LABELS[b]}", key) for key, (a, b) in AB_PAIRS.items()],
                               value="hyper-gan", label="Methods or vocoders to compare")
            pitch = pitch_picker(60, "ab")
            steps = steps_slider()
            button = gr.Button("Render a pair", variant="primary", elem_id="ab-button")
        with gr.Column():
            with gr.Row():
                audio_a = audio_output("A", "ab-a")
                audio_b = audio_output("B", "ab-b")
            status = gr.Markdown("Render a pair to start.")
            with gr.Row():
                vote_a_button = gr.Button("A sounds better", interactive=False, elem_id="ab-vote-a")
                vote_b_button = gr.Button("B sounds better", interactive=False, elem_id="ab-vote-b")
            table = gr.Markdown(tally_markdown({}), elem_id="ab-tally")
    button.click(ab_render, [sound, pair, pitch, steps], [audio_a, audio_b, trial, status, vote_a_button,
                                                          vote_b_button], api_name="ab_render", show_progress="full")
    vote_outputs = [trial, tally, status, table, vote_a_button, vote_b_button]
    vote_a_button.click(vote_a, [trial, tally], vote_outputs, api_name="ab_vote_a", queue=False)
    vote_b_button.click(vote_b, [trial, tally], vote_outputs, api_name="ab_vote_b", queue=False)


def build_demo() -> gr.Blocks:
    """The whole app: a header, the play, interpolate and A/B tabs, and the sound-design tabs. Gradio deletes its cached files per CACHE_SETTINGS."""
    with warnings.catch_warnings(), gr.Blocks(title="HyperGANStrument", delete_cache=CACHE_SETTINGS) as demo:
        # gradio converts the AIFF example to WAV for the browser, and says so each time
        warnings.filterwarnings("ignore", message="Audio does not have a browser-compatible container")
        gr.Markdown(HEADER)
        with gr.Tab("Play a sound", elem_id="tab-play"):
            play_tab()
        with gr.Tab("Interpolate", elem_id="tab-mix"):
            mix_tab()
        with gr.Tab("Blind A/B test", elem_id="tab-ab"):
            ab_tab()
        build_sound_design_tabs(get_model)  # faders, morph, melody, SFZ export
        build_keyboard_tab(get_model)  # the timbre as a keyboard instrument in the browser
        gr.api(last_timings, api_name="timings", api_visibility="undocumented", queue=False)
    return demo


def warm_up() -> None:
    """Load the model and render one note, so that the first request does not pay for one-time set-up."""
    model = get_model()  # a missing or refused checkpoint fails here, not in the first request
    if PIANO.is_file():
        model.synthesize(str(PIANO), 60, "hyper", 1)


def configure_threads() -> int:
    """Split the CPU cores between the CONCURRENCY_LIMIT requests rendered at once: torch's threads and the BLAS
    pools (numpy, used by the vocoder) get cores // CONCURRENCY_LIMIT each (at least 1), so that two requests do
    not fight over the same cores. ``OMP_NUM_THREADS``, when set, wins. Returns the threads per request."""
    threads = int(os.environ.get("OMP_NUM_THREADS") or max(1, (os.cpu_count() or 1) // CONCURRENCY_LIMIT))
    torch.set_num_threads(threads)
    threadpool_limits(threads, user_api="blas")
    return threads


def main() -> None:
    configure_threads()
    warm_up()
    demo = build_demo().queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_MAX_SIZE)
    demo.launch(max_file_size=MAX_UPLOAD_BYTES)


if __name__ == "__main__":
    main()
