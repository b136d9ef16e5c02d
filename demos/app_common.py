"""What the app's tabs share: the process-wide model, reading uploads, the output folder, turning bad input into
messages, and the common widgets.

Used by ``app``, ``ab_test``, ``sound_design_tabs``, ``keyboard_tab`` and any other tab module of this package.
"""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import librosa
import numpy as np
import soundfile as sf
from PIL import Image

from hyperlib import AudioError, HyperGANStrument, Result
from hyperlib.audio import ACCEPTED, MAX_SECONDS, write_wav
from hyperlib.config import MAX_PITCH, MAX_STEPS, MIN_PITCH, REFINE_STEPS, AudioConfig
from hyperlib.pitch_shift import phase_vocoder
from hyperlib.validation import CODE_METHODS, check_pitch

from . import EXAMPLES_DIR
from .mel_image import mel_image

log = logging.getLogger("hyperlib.demo")

BROWSER_FORMATS = (".wav", ".ogg", ".mp3", ".flac")
"""Audio files every current browser decodes; the app's examples in other formats are shown as WAV copies."""
EXAMPLE_COPIES = Path(tempfile.mkdtemp(prefix="hyperlib-examples-"))
"""This process's browser-playable copies of the examples; removed when the process exits."""
atexit.register(shutil.rmtree, EXAMPLE_COPIES, ignore_errors=True)


def browser_playable(path: Path) -> Path:
    """``path`` itself when browsers decode its format (BROWSER_FORMATS), else a 16-bit WAV copy of it with the
    same name in EXAMPLE_COPIES (Chromium, for one, cannot decode AIFF). A missing file is returned as it is."""
    if path.suffix.lower() in BROWSER_FORMATS or not path.is_file():
        return path
    copy = EXAMPLE_COPIES / f"{path.stem}.wav"
    if not copy.is_file():
        audio, sample_rate = sf.read(str(path), dtype="int16")
        sf.write(str(copy), audio, sample_rate, subtype="PCM_16")
    return copy


PIANO = browser_playable(EXAMPLES_DIR / "piano_c4.aif")
HANDSAW = browser_playable(EXAMPLES_DIR / "handsaw.ogg")
VIOLIN, TRUMPET = browser_playable(EXAMPLES_DIR / "violin.ogg"), browser_playable(EXAMPLES_DIR / "trumpet.ogg")
EXAMPLE_FILES = [PIANO, HANDSAW, VIOLIN, TRUMPET]

METHOD_LABELS = {"gan": "GANStrument", "encoder": "GANStrument Enc.", "hyper": "HyperGANStrument",
                 "faithful": "Faithful (your audio, pitch-shifted and corrected)",
                 "optimize": "GAN inversion (slower, closest)"}
"""The methods offered where one is chosen, in display order: hyperlib method name -> label. "faithful" changes
pitch only; where timbres are mixed, ``mix_methods`` leaves it out."""
PLAY_METHODS = ("gan", "encoder", "hyper", "faithful")
"""The methods the "Play a sound" tab renders side by side (the quick ones; "optimize" fits G for seconds), beside
the plain pitch shift of the input (``DSP_LABEL``)."""
DSP_LABEL = "Pitch shift (DSP)"
"""The reference every method is heard against: the input itself, moved by a phase-vocoder pitch shift with its
duration kept (``hyperlib.pitch_shift.phase_vocoder``), what any audio editor does."""
VOCODER_LABELS = {"ddsp": "Learned DDSP vocoder", "harmonic-noise": "Harmonic-plus-noise vocoder",
                  "griffin-lim": "Griffin-Lim vocoder"}
"""The vocoders offered (hyperlib.VOCODERS): name -> label."""
NO_SOUND = "Please upload or record a sound first."
MAX_UPLOAD_MB = 100
"""Uploads larger than this are refused before decoding (enough for 30 minutes of 16 kHz 16-bit mono WAV)."""
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
OUTPUT_MAX_AGE_S = 15 * 60
"""The WAVs, PNGs and zips this process writes are deleted this long after they were written (``purge_outputs``,
run every CLEAN_EVERY_S by a timer, and at the start of each request)."""
CLEAN_EVERY_S = 60
"""How often the timer of ``start_cleaner`` deletes outputs older than OUTPUT_MAX_AGE_S."""
CACHE_SETTINGS = (5 * 60, 30 * 60)
"""gr.Blocks(delete_cache=...): every 5 min, gradio deletes the uploads and files in its cache older than 30 min."""
KEPT_AT_MOST_S = max(OUTPUT_MAX_AGE_S + CLEAN_EVERY_S, sum(CACHE_SETTINGS))
"""The longest any upload or output of a visitor stays on the server while the app runs (35 min)."""
PNG_COMPRESSION = 1
"""zlib level of the log-mel PNGs: level 1 writes one (about 70 KB) three times faster than PIL's default (6)
for about 7% more bytes."""

_model: HyperGANStrument | None = None
_model_lock = threading.Lock()


def get_model() -> HyperGANStrument:
    """The process-wide model, loaded by ``HyperGANStrument.from_pretrained()`` on first use."""
    global _model
    with _model_lock:
        if _model is None:
            _model = HyperGANStrument.from_pretrained()
    return _model


# -- temporary files ------------------------------------------------------------------------------
def _private_folder() -> Path:
    """A new folder of this process only (mode 0700), inside ``$GRADIO_TEMP_DIR`` when that is set (else the system's
    temporary folder), made gradio's cache for the rest of the process: uploads, gradio's files and the app's
    outputs all live in it, and it is removed when the process exits or is stopped (``remove_private_folder``)."""
    base = os.environ.get("GRADIO_TEMP_DIR") or None
    if base:
        os.makedirs(base, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="hyperlib-app-", dir=base))
    os.environ["GRADIO_TEMP_DIR"] = str(folder)  # read by gradio when the app's blocks and server are created
    return folder


PRIVATE_DIR = _private_folder()
"""This process's temporary folder: gradio's cache (uploads and what it serves) and OUTPUT_DIR."""
OUTPUT_DIR = PRIVATE_DIR / "outputs"
"""This process's rendered files. Inside gradio's cache, so gradio serves them without a copy of its own."""
OUTPUT_DIR.mkdir()


def remove_private_folder() -> None:
    """Delete PRIVATE_DIR and everything in it (at exit, and on SIGTERM before the process ends)."""
    shutil.rmtree(PRIVATE_DIR, ignore_errors=True)


def _on_sigterm(signum, frame) -> None:
    """SIGTERM (how containers and Spaces are stopped): remove PRIVATE_DIR, then end as SIGTERM does."""
    remove_private_folder()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


atexit.register(remove_private_folder)
if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _on_sigterm)


def start_cleaner(every_s: float = CLEAN_EVERY_S, stop: threading.Event | None = None) -> threading.Thread:
    """Start a daemon thread that runs ``purge_outputs`` every ``every_s`` seconds (until ``stop`` is set), so that no
    output outlives OUTPUT_MAX_AGE_S by more than ``every_s`` whether or not requests come in; returns the thread."""
    stop = stop or threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                purge_outputs()
            except OSError:  # a file in use or removed meanwhile: the next round takes it
                log.exception("purging %s failed", OUTPUT_DIR)

    thread = threading.Thread(target=loop, name="hyperlib-output-cleaner", daemon=True)
    thread.start()
    return thread


def purge_outputs(max_age_s: float = OUTPUT_MAX_AGE_S) -> int:
    """Delete the files and folders in OUTPUT_DIR older than ``max_age_s`` seconds; returns how many were deleted."""
    cutoff, removed = time.time() - max_age_s, 0
    for path in OUTPUT_DIR.glob("*"):
        try:
            if path.stat().st_mtime < cutoff:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
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


def new_output_folder(prefix: str) -> Path:
    """Create an empty folder in OUTPUT_DIR named ``prefix`` and a random part; returns its path."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=OUTPUT_DIR))


def save_audio(audio: np.ndarray, sample_rate: int, name: str) -> str:
    """Write (num_samples,) float32 audio as a 16-bit WAV in OUTPUT_DIR named ``name`` and a random part."""
    path = new_output(f"{name}-", ".wav")
    write_wav(path, audio, sample_rate)
    return path


def save_wav(result: Result, name: str | None = None) -> str:
    """Write a rendered note as a 16-bit WAV in OUTPUT_DIR (for playing and downloading); returns its path.

    ``name`` replaces the default name (method and pitch), e.g. to keep the A/B test blind; a random suffix
    follows.
    """
    return save_audio(result.audio, result.sample_rate, name or f"hyperlib-{result.method}-midi{result.pitch}")


def save_mel_plot(mel: np.ndarray, title: str, audio_config: AudioConfig) -> str:
    """Draw a normalized log-mel (n_mels, frames) with frequency (Hz) and time (s) axes (``mel_image``)
    and write it as a PNG in OUTPUT_DIR; returns its path."""
    path = new_output("log-mel-", ".png")
    Image.fromarray(mel_image(mel, title, audio_config)).save(path, compress_level=PNG_COMPRESSION)
    return path


# -- input checks ---------------------------------------------------------------------------------
APP_ACCEPTED = "WAV, FLAC, OGG, AIFF or MP3 files"
"""What the app accepts, in the words of the app: the library's ACCEPTED also names the Python API's arrays."""


def for_people(exc: Exception) -> str:
    """The library's message for the app's users: what only the Python API accepts (a (numpy_array,
    sample_rate) pair) is left out of the list of accepted inputs."""
    return str(exc).replace(ACCEPTED, APP_ACCEPTED)


@contextmanager
def user_errors():
    """Turn the library's bad-input errors (AudioError and other ValueErrors, TypeErrors, a missing faders file)
    into messages shown in the app (gr.Error, worded by ``for_people``), never a traceback."""
    try:
        yield
    except (ValueError, TypeError, FileNotFoundError) as exc:  # AudioError is a ValueError
        raise gr.Error(for_people(exc), print_exception=False) from exc


def step_progress(progress: gr.Progress, desc: str, start: float = 0.0, end: float = 1.0):
    """A progress(step, total) callback for "optimize" that moves gradio's bar from ``start`` to ``end``."""
    return lambda step, total: progress(start + (end - start) * step / total, desc=desc)


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
        return decoded_note(model, path)
    except AudioError as exc:
        message = for_people(exc)
        raise gr.Error(f"{which.capitalize()} sound: {message}" if which else message, print_exception=False) from exc
    except Exception as exc:  # a decoder failing in an unforeseen way: still a clear answer, and the server goes on
        log.exception("decoding %s failed", path)
        raise gr.Error(f"Could not read the {which + ' ' if which else ''}sound as audio; please upload a WAV, FLAC, "
                       "OGG, AIFF or MP3 file.", print_exception=False) from exc


DECODED_NOTES = 16
"""Prepared notes kept per process (64 KB each), so that a file used again (another tab, another setting) is not
decoded again."""
_decoded: OrderedDict[tuple, np.ndarray] = OrderedDict()
_decoded_lock = threading.Lock()


def decoded_note(model: HyperGANStrument, path: str) -> np.ndarray:
    """``model.prepare(path)``, remembered for the last DECODED_NOTES files (by path, size and modification time).

    Returns a copy each time (the caller may change it). Raises AudioError as ``model.prepare`` does."""
    try:
        stat = os.stat(path)
    except OSError:
        return model.prepare(path)  # it says what is wrong with the path
    key = (id(model), os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
    with _decoded_lock:
        if key in _decoded:
            _decoded.move_to_end(key)
            return _decoded[key].copy()
    note = model.prepare(path)
    with _decoded_lock:
        _decoded[key] = note.copy()
        while len(_decoded) > DECODED_NOTES:
            _decoded.popitem(last=False)
    return note


def whole_number(value):
    """``3.0`` -> ``3`` (API clients and sliders may send floats); anything else is left for hyperlib to validate."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# -- widgets --------------------------------------------------------------------------------------
def pitch_slider(default: int, label: str = "MIDI pitch", **kwargs) -> gr.Slider:
    """A MIDI pitch slider over the models' range (21-108); ``kwargs`` go to gr.Slider."""
    return gr.Slider(MIN_PITCH, MAX_PITCH, value=default, step=1, precision=0, label=label, **kwargs)


NOTE_CHOICES = [(f"{librosa.midi_to_note(m)} ({librosa.midi_to_hz(m):.1f} Hz)", m)
                for m in range(MIN_PITCH, MAX_PITCH + 1)]
"""The note picker's choices: (name and frequency, MIDI pitch) for MIDI 21 (A0) to 108 (C8)."""


def pitch_picker(default: int, key: str) -> gr.Slider:
    """A MIDI pitch slider beside a note-name dropdown (A0 ... C8), kept in sync; returns the slider."""
    with gr.Row():
        slider = pitch_slider(default, scale=3, elem_id=f"{key}-pitch")
        note = gr.Dropdown(NOTE_CHOICES, value=default, label="Note", filterable=True, scale=1, min_width=150,
                           elem_id=f"{key}-note")
    slider.input(whole_number, slider, note, api_visibility="private", queue=False, show_progress="hidden")
    note.input(lambda midi: midi, note, slider, api_visibility="private", queue=False, show_progress="hidden")
    return slider


def steps_slider() -> gr.Slider:
    """Refinement steps for the HyperGANStrument method (0-10)."""
    return gr.Slider(0, MAX_STEPS, value=REFINE_STEPS, step=1, precision=0, label="Refinement steps (HyperGANStrument)",
                     info="0 = GANStrument's output; each step costs one more pass of H and G.")


def audio_input(label: str, value: Path | None = None, elem_id: str | None = None) -> gr.Audio:
    """An upload-or-record audio input that passes a file path to the handlers (``value``: an example file)."""
    return gr.Audio(str(value) if value and Path(value).is_file() else None, sources=["upload", "microphone"],
                    type="filepath", label=label, elem_id=elem_id)


def audio_output(label: str, elem_id: str | None = None) -> gr.Audio:
    """A player with a WAV download button; the handlers' WAV files are served as they are (format="wav")."""
    return gr.Audio(type="filepath", format="wav", label=label, interactive=False, buttons=["download"],
                    elem_id=elem_id)


def mel_output(label: str) -> gr.Image:
    """A log-mel picture: the PNG file from ``save_mel_plot``, served as it is."""
    return gr.Image(type="filepath", format="png", label=label, show_label=False, interactive=False,
                    buttons=["download"])


def mix_methods() -> list[tuple[str, str]]:
    """(label, method) of the methods that can mix or edit timbres (every method but "faithful")."""
    return [(label, name) for name, label in METHOD_LABELS.items() if name in CODE_METHODS]


def dsp_shift(model: HyperGANStrument, note: np.ndarray, pitch: int, own_pitch: int | None = None) -> np.ndarray:
    """The ``DSP_LABEL`` reference: the prepared ``note`` moved from its own MIDI pitch (``own_pitch``, else
    estimated with pYIN) to MIDI ``pitch`` by the phase vocoder, duration kept: (num_samples,) float32. Raises
    ValueError for a pitch outside MIDI 21-108."""
    pitch = check_pitch(pitch, model.model_config)
    own = model.estimate_pitch(note) if own_pitch is None else own_pitch
    return phase_vocoder(note, pitch - own, model.audio_config)
