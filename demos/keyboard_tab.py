"""The "Keyboard" tab of the Gradio app: play a sound's timbre as a keyboard instrument in the browser.

The server renders the timbre across a key range once (``hyperlib.sound_design.keyboard``, cached per sound, method,
vocoder, steps and range) and sends every sampled key in one 16-bit WAV with a JSON index; the page
(``keyboard.js``, ``keyboard.css`` beside this file) plays them with the Web Audio API, with no request per
note. Wire it into ``app.build_demo`` inside its ``gr.Blocks`` context::

    from .keyboard_tab import build_keyboard_tab
    build_keyboard_tab(get_model)
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import gradio as gr
from gradio.data_classes import FileData

from hyperlib import DEFAULT_VOCODER, HyperGANStrument
from hyperlib.config import REFINE_STEPS
from hyperlib.sound_design.keyboard import KeyCache, KeyRange, export_keyset_sfz, write_payload
from hyperlib.sound_design.sfz import safe_name, zip_instrument

from .app_common import PIANO, decoded_note, for_people, new_output, new_output_folder, purge_outputs
from .request_limits import check_keys

PAGE_JS, PAGE_CSS = Path(__file__).with_name("keyboard.js"), Path(__file__).with_name("keyboard.css")
METHODS = {"hyper": "HyperGANStrument", "gan": "GANStrument", "encoder": "GANStrument Enc.",
           "faithful": "Faithful (your audio, pitch-shifted and corrected)", "optimize": "GAN inversion (slower, closest)"}
VOCODERS = {"ddsp": "Learned DDSP", "harmonic-noise": "Harmonic-plus-noise", "griffin-lim": "Griffin-Lim"}
DEFAULT_KEYS = KeyRange()
"""The default range: MIDI 36-84 (C2-C6), every third key sampled, HyperGANStrument, the default vocoder."""
COMPUTER_KEYS = "A W S E D F T G Y H U J K O L P ; '"
"""The computer keys that play notes (keyboard.js: WHITE_CODES and BLACK_CODES), from C up to F of the next octave."""

DROPDOWN_MIN_WIDTH = 220
"""Pixels: the Method and Vocoder dropdowns share a row only where both show their longest choice whole."""

_get_model: Callable[[], HyperGANStrument] = HyperGANStrument.from_pretrained
cache = KeyCache()
"""The process's rendered key sets (a second visit with the same sound and settings is instant)."""


def _int(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _key_set(path, method, vocoder, low, high, every, steps, progress=None):
    """The cached or freshly rendered key set for the inputs: (KeySet, whether it came from the cache)."""
    if not path:
        raise gr.Error("Please upload or record a sound first.", print_exception=False)
    if vocoder not in VOCODERS:
        raise gr.Error(f"Unknown vocoder {vocoder!r}; choose one of {', '.join(VOCODERS)}.", print_exception=False)
    model = _get_model()
    keys = KeyRange(_int(low), _int(high), _int(every), method, _int(steps), vocoder)
    check_keys(keys.low, keys.high, keys.every)
    try:
        note = decoded_note(model, str(path))  # decoded once for every tab and setting
        return cache.render(model, note, keys, progress)
    except ValueError as exc:  # AudioError is a ValueError
        raise gr.Error(for_people(exc), print_exception=False) from exc


def _per_key(progress: gr.Progress) -> Callable[[int, int], None]:
    """A ``render_keys`` progress callback that moves gradio's progress bar."""
    return lambda done, total: progress((done, total), desc="Rendering the keys", unit="keys")


def render_handler(path, method="hyper", vocoder=DEFAULT_VOCODER, low=DEFAULT_KEYS.low, high=DEFAULT_KEYS.high,
                   every=DEFAULT_KEYS.every, steps=REFINE_STEPS, progress=gr.Progress()) -> tuple[dict, str]:
    """Render (or find in the cache) the key set and hand it to the page.

    Returns:
        (the page's payload: the index of ``hyperlib.sound_design.keyboard.write_payload`` with ``"audio"``, the WAV of all
        sampled keys as gradio file data, and ``"renderSeconds"``; a status line in markdown).
    Raises:
        gr.Error: no sound, unusable audio, or a bad range, method, vocoder or steps.
    """
    progress(0, desc="Reading your sound")
    keyset, cached = _key_set(path, method, vocoder, low, high, every, steps, _per_key(progress))
    purge_outputs()
    wav = new_output("hyperlib-keys-", ".wav")
    payload = write_payload(keyset, wav)
    k, sound = keyset.keys, Path(path).name
    payload.update(audio=FileData(path=wav, mime_type="audio/wav").model_dump(), renderSeconds=keyset.render_s,
                   id=f"{keyset.sound_hash[:12]}-{time.time_ns()}", sound=sound)
    how = "from the cache" if cached else f"in {keyset.render_s:.1f} s"
    sampled = "every key" if k.every == 1 else f"one key in {k.every}"
    status = (f"**{sound}**: {len(keyset.regions)} keys rendered {how} by {METHODS.get(k.method, k.method)} "
              f"({k.steps} refinement step{'s' if k.steps != 1 else ''}, {VOCODERS[k.vocoder]} vocoder), "
              f"{sampled} sampled, playing MIDI {k.low}-{k.high}. Play with the mouse, touch, the computer keyboard "
              "or a MIDI keyboard.")
    return payload, status


def sfz_handler(path, method="hyper", vocoder=DEFAULT_VOCODER, low=DEFAULT_KEYS.low, high=DEFAULT_KEYS.high,
                every=DEFAULT_KEYS.every, steps=REFINE_STEPS, progress=gr.Progress()) -> str:
    """The key set (cached, else rendered) as an SFZ instrument zip (``hyperlib.sound_design.sfz``); returns its path."""
    keyset, _ = _key_set(path, method, vocoder, low, high, every, steps, _per_key(progress))
    name = safe_name(Path(path).stem)
    purge_outputs()
    folder = new_output_folder("hyperlib-sfz-") / name
    return str(zip_instrument(export_keyset_sfz(keyset, folder, name), folder.parent / name))


def build_keyboard_tab(get_model: Callable[[], HyperGANStrument]) -> None:
    """Create the "Keyboard" tab inside the current ``gr.Blocks`` context.

    Args:
        get_model: returns the shared model (called on each request, not at build time).
    """
    global _get_model
    _get_model = get_model
    with gr.Tab("Keyboard", elem_id="tab-keyboard"):
        gr.Markdown("Render a sound's timbre across the keyboard once, then play it in your browser: tap or click "
                    "the keys (swipe the keyboard sideways to reach the others), use the computer keyboard "
                    f"(`{COMPUTER_KEYS}`: white and black keys; `Z` / `X`: octave down / up) or a MIDI keyboard. "
                    "Record what you play to a WAV, or download the keys as an SFZ instrument.",
                    elem_id="kb-help")
        with gr.Row():
            with gr.Column():
                sound = gr.Audio(str(PIANO) if PIANO.is_file() else None, sources=["upload", "microphone"],
                                 type="filepath", label="Your sound", elem_id="kb-input")
                with gr.Row():
                    # wide enough for "HyperGANStrument": on a phone the two go on separate lines
                    method = gr.Dropdown([(label, name) for name, label in METHODS.items()], value="hyper",
                                         label="Method", min_width=DROPDOWN_MIN_WIDTH, elem_id="kb-method")
                    vocoder = gr.Dropdown([(label, name) for name, label in VOCODERS.items()], value=DEFAULT_VOCODER,
                                          label="Vocoder", min_width=DROPDOWN_MIN_WIDTH, elem_id="kb-vocoder")
            with gr.Column():
                with gr.Row():
                    low = gr.Slider(21, 108, value=DEFAULT_KEYS.low, step=1, label="Lowest key", elem_id="kb-low")
                    high = gr.Slider(21, 108, value=DEFAULT_KEYS.high, step=1, label="Highest key", elem_id="kb-high")
                every = gr.Slider(1, 12, value=DEFAULT_KEYS.every, step=1, label="Render every n-th key",
                                  info="The keys between are played by transposing the nearest rendered one.",
                                  elem_id="kb-every")
                steps = gr.Slider(0, 10, value=REFINE_STEPS, step=1, label="Refinement steps (HyperGANStrument)",
                                  elem_id="kb-steps")
                with gr.Row():
                    button = gr.Button("Render the keyboard", variant="primary", elem_id="kb-render")
                    sfz_button = gr.Button("Download as SFZ", elem_id="kb-sfz")
        status = gr.Markdown("Render the keyboard to play it.", elem_id="kb-status")
        player = gr.HTML(None, html_template='<div class="hk-root"></div>', css_template=PAGE_CSS.read_text(),
                         js_on_load=PAGE_JS.read_text(), elem_id="kb-player")
        sfz_file = gr.File(label="SFZ instrument (zip)", elem_id="kb-sfz-file")
    inputs = [sound, method, vocoder, low, high, every, steps]
    button.click(render_handler, inputs, [player, status], api_name="keyboard", show_progress="full")
    sfz_button.click(sfz_handler, inputs, sfz_file, api_name="keyboard_sfz", show_progress="full")
