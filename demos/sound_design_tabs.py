"""Sound-design tabs for the Gradio app: timbre faders, even morphs, melodies, SFZ export.

Wire them into ``app.build_demo`` with one line inside its ``gr.Blocks`` context::

    from .sound_design_tabs import build_sound_design_tabs
    ...
    with gr.Blocks(...) as demo:
        ...
        build_sound_design_tabs(get_model)

``get_model`` is a zero-argument callable returning the process-wide ``HyperGANStrument``. Every handler
is a module-level function (callable directly in tests) and turns the library's bad-input errors into
``gr.Error`` messages (``app_common.user_errors``); outputs go to ``app_common.OUTPUT_DIR``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import gradio as gr
import numpy as np
from matplotlib.figure import Figure

from hyperlib import HyperGANStrument
from hyperlib.config import REFINE_STEPS
from hyperlib.hub import resolve
from hyperlib.sound_design.fader_study import load_labels
from hyperlib.sound_design.melody import ODE_TO_JOY, parse_notes, read_midi
from hyperlib.sound_design.morph import MorphPath, join, spread
from hyperlib.sound_design.sfz import safe_name, zip_instrument

from .app_common import (HANDSAW, VIOLIN, audio_input, audio_output, new_output_folder, pitch_slider, purge_outputs,
                         save_audio, steps_slider, user_errors, whole_number)
from .request_limits import check_keys, check_melody, check_midi_file, check_morph

NUM_FADERS = 4
NOTES_LABEL = "Notes"
MORPH_ITERATIONS = 8

_get_model: Callable[[], HyperGANStrument] = HyperGANStrument.from_pretrained


def _need(path, which: str = "") -> str:
    """The uploaded file's path; gr.Error asking for the (``which``) sound when there is none."""
    if not path:
        raise gr.Error(f"Please upload or record {'the ' + which + ' ' if which else 'a '}sound first.",
                       print_exception=False)
    return str(path)


# -- handlers -------------------------------------------------------------------------------------------
def edit_handler(path, pitch=60, f0=0.0, f1=0.0, f2=0.0, f3=0.0, steps=REFINE_STEPS) -> tuple[str, str]:
    """The "Timbre faders" tab: the sound at MIDI ``pitch`` with faders 0-3 (in std). Returns (WAV, markdown)."""
    purge_outputs()
    model = _get_model()
    values = {k: v for k, v in enumerate((f0, f1, f2, f3)) if v != 0}  # the library names a value that is no number
    with user_errors():
        r = model.edit(_need(path), values, whole_number(pitch), "hyper", whole_number(steps))
    moved = ", ".join(f"fader {k} {v:+.1f}" for k, v in values.items()) or "all faders at 0 (the plain render)"
    return save_audio(r.audio, r.sample_rate, f"hyperlib-edit-midi{r.pitch}"), f"MIDI {r.pitch}; {moved}."


def step_figure(path: MorphPath) -> Figure:
    """Bar plots of the step sizes between neighbouring notes along the linear and the SOM path: above, the
    log-mel L1 distances the SOM evens out; below, the MFCC distances of the notes' audio, which it never sees.
    Each panel's title gives the two paths' spreads (coefficient of variation)."""
    fig = Figure(figsize=(6, 5), layout="constrained")
    panels = ((path.distances_before, path.distances_after, "log-mel L1 distance",
               "What the SOM evens out: log-mel L1"),
              (path.audio_distances_before, path.audio_distances_after, "MFCC distance",
               "Not optimized, a check: MFCC distance of the audio"))
    for row, (before, after, ylabel, title) in enumerate(panels, start=1):
        ax = fig.add_subplot(2, 1, row)
        x = np.arange(len(before))
        ax.bar(x - 0.2, before, 0.4, label=f"linear (spread {spread(before):.2f})")
        ax.bar(x + 0.2, after, 0.4, label=f"SOM (spread {spread(after):.2f})")
        ax.set(xlabel="step between neighbouring notes", ylabel=ylabel, title=title)
        ax.legend(fontsize="small")
    return fig


def morph_handler(path_a, path_b, nodes=9, pitch=60, even=True, steps=REFINE_STEPS) -> tuple[str, Figure, str]:
    """The "Morph" tab: a chain of ``nodes`` notes from the first to the second sound.

    Returns (WAV of the notes joined, 0.5 s each; step-size plot; markdown with the spreads before/after, in
    the log-mel distance the SOM evens out and in the MFCC distance of the audio, which it does not see).
    The linear path is always computed (as the SOM's start), so the plot compares both.
    """
    purge_outputs()
    check_morph(nodes)
    model = _get_model()
    with user_errors():
        res = model.morph([_need(path_a, "first"), _need(path_b, "second")], whole_number(nodes), whole_number(pitch), bool(even),
                          "hyper", whole_number(steps), MORPH_ITERATIONS if even else 0)
    p = res.path
    after = lambda value: f", after the SOM **{value:.3f}**." if even else "."  # noqa: E731
    text = (f"{len(res)} notes at MIDI {res[0].pitch}, {'SOM-evened' if even else 'linear'} path. Step-size spread "
            "(coefficient of variation; 0 = all steps equal) of the neighbour log-mel distances, which the SOM "
            f"evens out: linear **{p.spread_before:.3f}**{after(p.spread_after)} Of the MFCC distances of the notes' "
            f"audio, which it does not see (a check): linear **{p.audio_spread_before:.3f}**"
            f"{after(p.audio_spread_after)}")
    return save_audio(join(res), res[0].sample_rate, "hyperlib-morph"), step_figure(p), text


def melody_handler(path, notes_text=ODE_TO_JOY, midi_file=None, release=0.15, steps=REFINE_STEPS) -> tuple[str, str]:
    """The "Play a melody" tab: the notes (or an uploaded MIDI file, which is used instead) in the sound's timbre.

    Returns (WAV, markdown naming the input that was played: the MIDI file or the notes box).
    """
    purge_outputs()
    model = _get_model()
    with user_errors():
        if midi_file:
            check_midi_file(str(midi_file))
        notes = read_midi(str(midi_file)) if midi_file else parse_notes(notes_text or "")
        if isinstance(release, (int, float)) and release >= 0:
            check_melody(notes, release)  # before any rendering; the library names a bad release
        tune = model.melody(_need(path), notes, "hyper", whole_number(steps), release)
    audio, sr = tune.audio, tune.sample_rate
    source = f"the MIDI file **{Path(midi_file).name}**" if midi_file else "the notes in the box"
    return save_audio(audio, sr, "hyperlib-melody"), f"Played {source}: {len(audio) / sr:.2f} s at {sr} Hz."


def notes_box(midi_file) -> gr.Textbox:
    """The notes box while a MIDI file is uploaded (greyed, saying the file is played instead) or not."""
    if midi_file:
        return gr.Textbox(interactive=False, label=f"Notes (not used: the MIDI file {Path(midi_file).name} is "
                                                   "played; clear it to use the notes)")
    return gr.Textbox(interactive=True, label=NOTES_LABEL)


def sfz_handler(path, low=36, high=84, every=3, name="", steps=REFINE_STEPS) -> tuple[str, str]:
    """The "Export instrument" tab: an SFZ instrument (the .sfz and samples/) as a zip. Returns (zip, markdown)."""
    purge_outputs()
    model, path = _get_model(), _need(path)
    check_keys(whole_number(low), whole_number(high), whole_number(every))
    name = safe_name(name or Path(path).stem)
    folder = new_output_folder("hyperlib-sfz-") / name
    with user_errors():
        sfz = model.export_sfz(path, folder, whole_number(low), whole_number(high), whole_number(every), "hyper", whole_number(steps), name)
    regions = sfz.read_text().count("<region>")
    archive = zip_instrument(sfz, str(folder.parent / name))
    return str(archive), f"`{sfz.name}`: {regions} samples covering MIDI {int(low)}-{int(high)}."


# -- layout ---------------------------------------------------------------------------------------------
def build_sound_design_tabs(get_model: Callable[[], HyperGANStrument]) -> None:
    """Create the four sound-design tabs inside the current ``gr.Blocks`` context.

    Args:
        get_model: returns the shared model (called on each request, not at build time).
    """
    global _get_model
    _get_model = get_model
    labels = load_labels(resolve(), NUM_FADERS)  # the folder from_pretrained() loads by default

    with gr.Tab("Timbre faders", elem_id="tab-faders"):
        gr.Markdown("Move the sound along the principal directions of the timbre space (PCA of the timbre code "
                    "*h* over the training corpus). Values are in standard deviations of the corpus; each slider "
                    "names what its direction was measured to change, and what its left (negative) and right "
                    "(positive) ends do.")
        with gr.Row():
            with gr.Column():
                sound = audio_input("Your sound", VIOLIN)
                pitch = pitch_slider(60)
                sliders = [gr.Slider(-3, 3, value=0, step=0.1, label=title, info=sides or None,
                                     elem_id=f"fader-{k}") for k, (title, sides) in enumerate(labels)]
                steps = steps_slider()
                button = gr.Button("Render", variant="primary", elem_id="faders-button")
            with gr.Column():
                out, info = audio_output("Edited sound"), gr.Markdown(elem_id="faders-info")
        button.click(edit_handler, [sound, pitch, *sliders, steps], [out, info], api_name="faders")

    with gr.Tab("Morph", elem_id="tab-morph"):
        gr.Markdown("A morph from the first sound to the second, one note per step. *Even* spaces the steps "
                    "with a self-organizing map so that neighbouring notes differ by equal amounts of log-mel "
                    "distance; the chart checks the result in a second measure the map does not optimize, the MFCC "
                    "distance of the notes' audio.")
        with gr.Row():
            a, b = audio_input("First sound", VIOLIN), audio_input("Second sound", HANDSAW)
        with gr.Row():
            with gr.Column():
                nodes = gr.Slider(3, 15, value=9, step=1, label="Notes in the morph", elem_id="morph-nodes")
                pitch = pitch_slider(60)
                even = gr.Checkbox(True, label="Even steps (SOM)")
                steps = steps_slider()
                button = gr.Button("Morph", variant="primary", elem_id="morph-button")
            with gr.Column():
                out, plot = audio_output("Morph (0.5 s per note)"), gr.Plot(show_label=False, elem_id="morph-plot")
                info = gr.Markdown(elem_id="morph-info")
        button.click(morph_handler, [a, b, nodes, pitch, even, steps], [out, plot, info], api_name="morph")

    with gr.Tab("Play a melody", elem_id="tab-melody"):
        gr.Markdown("Notes as `pitch:start:duration[:velocity]` (MIDI number or name like C4, seconds, 1-127), "
                    "comma-separated, or a MIDI file, which is played instead of the notes while it is uploaded. "
                    "The default is the opening of Ode to Joy.")
        with gr.Row():
            with gr.Column():
                sound = audio_input("Your sound", VIOLIN)
                notes = gr.Textbox(ODE_TO_JOY, label=NOTES_LABEL, lines=3, elem_id="melody-notes")
                midi = gr.File(label="or a MIDI file (played instead of the notes)", file_types=[".mid", ".midi"],
                               type="filepath", elem_id="melody-midi")
                release = gr.Slider(0.0, 1.0, value=0.15, step=0.05, label="Release (s)")
                steps = steps_slider()
                button = gr.Button("Render melody", variant="primary", elem_id="melody-button")
            with gr.Column():
                out, info = audio_output("Melody", "melody-output"), gr.Markdown(elem_id="melody-info")
        midi.change(notes_box, midi, notes, api_visibility="private", queue=False, show_progress="hidden")
        button.click(melody_handler, [sound, notes, midi, release, steps], [out, info], api_name="melody")

    with gr.Tab("Export instrument", elem_id="tab-sfz"):
        gr.Markdown("Render the timbre across a key range and download it as an SFZ instrument (a zip of the "
                    "`.sfz` and its 16-bit WAV samples) for any SFZ sampler (sfizz, Sforzando, ...).")
        with gr.Row():
            with gr.Column():
                sound = audio_input("Your sound", VIOLIN)
                with gr.Row():
                    low = pitch_slider(36, "Lowest key")
                    high = pitch_slider(84, "Highest key")
                every = gr.Slider(1, 12, value=3, step=1, label="Sample every n-th key")
                name = gr.Textbox("", label="Instrument name (default: the file name)")
                steps = steps_slider()
                button = gr.Button("Export", variant="primary", elem_id="sfz-button")
            with gr.Column():
                out, info = gr.File(label="SFZ instrument (zip)"), gr.Markdown(elem_id="sfz-info")
        button.click(sfz_handler, [sound, low, high, every, name, steps], [out, info], api_name="export_sfz")
