"""Gradio demo of hyperlib: upload one short sound, hear it rebuilt at any MIDI pitch, mix two timbres, and
compare two methods in a blind A/B listening test (``ab_test``), and the sound-design tabs
(``sound_design_tabs``); what the tabs share is in ``app_common``.

Run from the repository root::

    python -m demos.app

or as a Hugging Face Space (``demos/README.md``, ``demos/make_space.sh``), whose ``app.py`` calls ``main``.

The model is ``HyperGANStrument.from_pretrained()`` (``HYPERLIB_CHECKPOINT``, else the bundled ``checkpoints/``,
else the default Hub repo; ``hyperlib.hub``), loaded once per process, never per request. ``GRADIO_SERVER_NAME`` and
``GRADIO_SERVER_PORT`` choose where the app listens.
"""
from __future__ import annotations

import os
import time

import gradio as gr
import librosa
import torch
from threadpoolctl import threadpool_limits

from hyperlib import DEFAULT_VOCODER
from hyperlib.audio import MAX_SECONDS
from hyperlib.config import REFINE_STEPS
from hyperlib.render import timed

from .ab_test import ab_tab
from .app_common import (CACHE_SETTINGS, CLEAN_EVERY_S, DSP_LABEL, EXAMPLE_FILES, HANDSAW, KEPT_AT_MOST_S,
                         MAX_UPLOAD_BYTES, MAX_UPLOAD_MB, METHOD_LABELS, OUTPUT_MAX_AGE_S, PIANO, PLAY_METHODS, TRUMPET,
                         VIOLIN, VOCODER_LABELS, audio_input, audio_output, dsp_shift, duration_text, get_model,
                         load_note, mel_output, mix_methods, note_name, pitch_picker, purge_outputs, save_audio,
                         save_mel_plot, save_wav, start_cleaner, step_progress, steps_slider, user_errors,
                         whole_number)
from .keyboard_tab import build_keyboard_tab
from .request_limits import budget_text, guard_all
from .sound_design_tabs import build_sound_design_tabs

SYNTHESIZE, RECONSTRUCT = "synthesize", "reconstruct"
WHICH_METHOD = (
    "**Which method for what.** *Faithful* keeps your own recording (its noise, attack and texture), moves it to "
    "the new pitch and corrects its colour with what the model learned of how instruments change with pitch: in "
    "the evaluation it is the closest to the real note up to an octave away by a fine-resolution spectral "
    "distance, and closer than the plain pitch shifters (a phase vocoder, Rubber Band) at every shift size. "
    "*Pitch shift (DSP)* is the same move "
    "without the correction, as any audio editor makes it. The neural methods (GANStrument, GANStrument Enc., "
    "HyperGANStrument) redraw the note from its timbre code: they mix, edit and morph timbres (the other tabs), "
    "which no pitch shifter can, but they turn noisy sounds into a clean comb of harmonics.")
CONCURRENCY_LIMIT = 2
"""Requests rendered at once (one per CPU core of a free Space); the others wait in the queue. Each gets
1/CONCURRENCY_LIMIT of the CPU cores as torch and BLAS threads (``configure_threads``)."""
QUEUE_MAX_SIZE = 40
"""Requests waiting beyond this are turned away with gradio's "queue is full" message instead of piling up."""
SESSION_CAPACITY = 500
"""Visitors' sessions whose state (the A/B test's trial and tally) gradio keeps; the oldest go first."""

INTRO = """
# HyperGANStrument: a neural sampler

Upload or record one short sound (a single note works best), or click one of the examples. The app turns it
into an instrument you can play at any pitch from A0 to C8.
"""
"""The top of the page, short enough to leave the upload in view on a phone; HEADER follows, folded."""

HEADER = f"""
The app renders your sound with three neural methods and one that keeps your own audio:

* **GANStrument**: a feature extractor *f* turns the sound into a timbre code *h*; the generator *G* renders
  *h* at the chosen pitch.
* **GANStrument Enc.**: an encoder *E* inverts the sound into *G*'s inputs (*h*, *z*) in one pass.
* **HyperGANStrument**: starts from GANStrument's output, then a hypernetwork *H* compares its timbre with
  your sound's and adjusts *G*'s weights, once per refinement step, to bring the two closer.
* **Faithful**: your own recording, moved to the new pitch by a pitch shift (a phase vocoder; beyond an octave,
  Rubber Band with its formants kept), then its colour corrected by a small network that reads *h* and the two
  pitches. It keeps the noise and attack of your sound;
  it changes pitch only, so it is not offered where timbres are mixed. The plain pitch shift, **Pitch shift
  (DSP)**, plays beside it for comparison.

The Interpolate, Blind A/B test and Keyboard tabs also offer **GAN inversion** by optimization: *G*'s inputs and
then its weights are fitted to your sound by gradient descent. It comes closest to the input but takes a few
seconds per sound.

Every note lasts 1.024 s at 16 kHz; only the first note of your sound is used (of a long file, only the first
{MAX_SECONDS:.0f} s are read; files over {MAX_UPLOAD_MB} MB are refused). The plots are log-mel spectrograms.
{budget_text()}

**Privacy:** what you upload or record and the sounds made from it are stored only in this server's temporary
folder, for you to play and download; nobody else is shown them. Rendered sounds are deleted within
{duration_text(OUTPUT_MAX_AGE_S + CLEAN_EVERY_S)} of being made, your uploads and every other file within
{duration_text(KEPT_AT_MOST_S)}, and all of them when the app stops.
"""

_last_timings: dict = {}  # the stage timings (ms) of the latest "Play" request, served at /timings


# -- input checks ---------------------------------------------------------------------------------
def check_mix(mix) -> float:
    """The Interpolate tab's mix weight: a number in 0-1 (weights [1 - mix, mix]). Raises gr.Error."""
    if not isinstance(mix, (int, float)) or isinstance(mix, bool) or not 0 <= mix <= 1:
        raise gr.Error(f"The mix must be a number from 0 (first sound) to 1 (second sound), got {mix!r}.",
                       print_exception=False)
    return float(mix)


# -- plots and timings -----------------------------------------------------------------------------
def last_timings() -> dict:
    """Milliseconds per stage of the latest "Play" request (empty before the first): decoding, the shared
    inversion (log-mel x, f, E), each method's networks, the vocoder (all three notes), the plots, the WAV files
    and the total."""
    return _last_timings


# -- handlers -------------------------------------------------------------------------------------
def render_all(path: str | None, pitch: float = 60, steps: float = REFINE_STEPS, mode: str = SYNTHESIZE,
               vocoder: str = DEFAULT_VOCODER, progress=gr.Progress()) -> tuple:
    """The "Play a sound" tab: render the uploaded sound with every quick method and the plain pitch shift.

    Args:
        path: the uploaded or recorded audio file.
        pitch: MIDI pitch 21-108, used when ``mode`` is ``"synthesize"``.
        steps: HyperGANStrument refinement steps (0-10).
        mode: ``"synthesize"`` (at ``pitch``) or ``"reconstruct"`` (at the input's own pitch, estimated by pYIN).
        vocoder: a name from ``hyperlib.VOCODERS``.
    Returns:
        (input mel plot, then a WAV path and a mel plot per method in ``PLAY_METHODS`` order and for the pitch
        shift (``DSP_LABEL``), summary markdown).
    Raises:
        gr.Error: no sound, unusable audio, or an invalid setting.
    """
    global _last_timings
    start, timings = time.perf_counter(), {}
    purge_outputs()
    model, steps = get_model(), whole_number(steps)
    progress(0, desc="Reading your sound")
    with timed(timings, "decode"):
        note = load_note(model, path)
    with user_errors():
        progress(0.05, desc="Estimating the pitch")
        with timed(timings, "pitch estimate"):
            own_pitch = model.estimate_pitch(note)
        if mode == RECONSTRUCT:
            pitch = own_pitch
        progress(0.1, desc="Rendering with every method")
        shared = {}
        results = model.synthesize_methods(note, pitch, list(PLAY_METHODS), steps, vocoder, shared)
        with timed(timings, "pitch shift (DSP)"):
            dsp = dsp_shift(model, note, results[0].pitch, own_pitch)
    timings["inversion (x, f, E)"] = sum(shared.values())
    for result in results:
        timings.update({f"{result.method}: {stage}": ms for stage, ms in result.timings_ms.items()
                        if stage not in ("vocoder", "total")})
    timings["vocoder"] = sum(result.timings_ms.get("vocoder", 0.0) for result in results)
    progress(0.9, desc="Plotting")
    with timed(timings, "plots"):
        x, dsp_mel = (model.mel(audio)[0, 0].cpu().numpy() for audio in (note, dsp))
        plots = [save_mel_plot(mel, title, model.audio_config) for mel, title in
                 [(x, "Your sound")] + [(r.mel, METHOD_LABELS[r.method]) for r in results] + [(dsp_mel, DSP_LABEL)]]
    with timed(timings, "wav files"):
        wavs = [save_wav(result) for result in results] + [save_audio(dsp, model.audio_config.sample_rate,
                                                                  f"hyperlib-dsp-midi{results[0].pitch}")]
    outputs = [plots[0]]
    for wav, plot in zip(wavs, plots[1:]):
        outputs += [wav, plot]
    timings["total"] = (time.perf_counter() - start) * 1000
    _last_timings = timings
    source = "the input's own pitch, estimated" if mode == RECONSTRUCT else "the chosen pitch"
    summary = (f"Rendered at **{note_name(results[0].pitch)}**, MIDI {results[0].pitch} ({source}; your sound's own "
               f"pitch: {note_name(own_pitch)}); HyperGANStrument used {steps} refinement step(s); the neural methods "
               f"used the {VOCODER_LABELS.get(vocoder, vocoder)}. The faithful method and the pitch shift keep your "
               "own audio and need no vocoder.")
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
    desc = f"Rendering the mix with {METHOD_LABELS.get(method, method)}"
    progress(0.2, desc=desc)
    with user_errors():
        result = model.interpolate(sounds, [1 - mix, mix], pitch, method, steps,
                                   progress=step_progress(progress, desc, 0.2, 0.95))
    progress(1.0, desc="Plotting")
    title = f"{METHOD_LABELS.get(method, method)}, mix {mix:.2f}, {librosa.midi_to_note(result.pitch)}"
    return save_wav(result), save_mel_plot(result.mel, title, model.audio_config)


# -- layout ---------------------------------------------------------------------------------------
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
        for method, label in [(m, METHOD_LABELS[m]) for m in PLAY_METHODS] + [("dsp", DSP_LABEL)]:
            with gr.Column(min_width=160):
                outputs.append(audio_output(label, f"play-{method}"))
                outputs.append(mel_output(f"{label} (log-mel)"))
    outputs.append(gr.Markdown(elem_id="play-summary"))
    gr.Markdown(WHICH_METHOD, elem_id="play-which-method")
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
            method = gr.Radio(mix_methods(), value="hyper", label="Method")
            steps = steps_slider()
            button = gr.Button("Mix", variant="primary", elem_id="mix-button")
        with gr.Column():
            audio = audio_output("Mix", "mix-output")
            plot = mel_output("Mix (log-mel)")
    button.click(render_mix, [first, second, mix, pitch, method, steps], [audio, plot], api_name="mix",
                 show_progress="full")


def build_demo() -> gr.Blocks:
    """The whole app: a short introduction (the methods folded below it), the play, interpolate and A/B tabs, and
    the sound-design tabs. Gradio deletes its cached files per CACHE_SETTINGS."""
    with gr.Blocks(title="HyperGANStrument", delete_cache=CACHE_SETTINGS) as demo:
        gr.Markdown(INTRO, elem_id="intro")
        with gr.Accordion("How it works: the methods, and what happens to your sound", open=False,
                          elem_id="about"):
            gr.Markdown(HEADER)
        with gr.Tabs(overflow_behavior="wrap"):  # every tab in view, on a phone in two or three rows
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
    demo = guard_all(build_demo()).queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_MAX_SIZE)
    start_cleaner()
    demo.launch(max_file_size=MAX_UPLOAD_BYTES, state_session_capacity=SESSION_CAPACITY)


if __name__ == "__main__":
    main()
