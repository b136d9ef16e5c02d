"""The app's "Blind A/B test" tab: the same sound rendered by two methods (or through two vocoders), heard as A
and B in random order; the listener votes, then sees which was which. Votes are kept per browser session."""
from __future__ import annotations

import random

import gradio as gr

from hyperlib.config import REFINE_STEPS

from .app_common import (DSP_LABEL, EXAMPLE_FILES, METHOD_LABELS, PIANO, VOCODER_LABELS, audio_input, audio_output,
                         dsp_shift, get_model, load_note, note_name, pitch_picker, purge_outputs, save_audio, save_wav,
                         step_progress, steps_slider, user_errors, whole_number)

AB_LABELS = {**METHOD_LABELS, **{name: f"HyperGANStrument, {label}" for name, label in VOCODER_LABELS.items()},
             "dsp": DSP_LABEL}
"""A side of the blind A/B test: a method (with the default vocoder), a vocoder (with HyperGANStrument) or the plain
pitch shift of the input ("dsp")."""
AB_PAIRS = {"hyper-gan": ("hyper", "gan"), "hyper-encoder": ("hyper", "encoder"), "gan-encoder": ("gan", "encoder"),
            "hyper-optimize": ("hyper", "optimize"), "vocoders": ("harmonic-noise", "griffin-lim"),
            "vocoders-ddsp": ("ddsp", "harmonic-noise"),
            **{f"{method}-dsp": (method, "dsp") for method in METHOD_LABELS}}
"""Pairs of the blind A/B test: key -> (side, side), each side a key of AB_LABELS."""
_rng = random.SystemRandom()  # the A/B test's order; unpredictable, so the test stays blind


def tally_markdown(tally: dict) -> str:
    """The A/B tally, one table row per method pair: the votes for the pair's first and second side, and all votes."""
    if not tally:
        return "No votes yet. Render a pair, listen to both, and pick the one that sounds better."
    rows = ["| Pair | Votes for the first | Votes for the second | All votes |", "|---|---|---|---|"]
    for key, (first, second) in AB_PAIRS.items():
        if key in tally:
            a, b = tally[key].get(first, 0), tally[key].get(second, 0)
            rows.append(f"| {AB_LABELS[first]} vs {AB_LABELS[second]} | {AB_LABELS[first]}: {a} "
                        f"| {AB_LABELS[second]}: {b} | {a + b} |")
    return "\n".join(rows)


def vote_buttons(interactive: bool) -> tuple:
    """The two vote buttons, enabled or not."""
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
            if side == "dsp":
                wavs.append(save_audio(dsp_shift(model, note, pitch), model.audio_config.sample_rate,
                                       f"sound-{slot}"))
                continue
            method, vocoder = (side, None) if side in METHOD_LABELS else ("hyper", side)
            result = model.synthesize(sound, pitch, method, steps, vocoder,
                                      progress=step_progress(progress, f"Rendering {slot}", i / 2, (i + 1) / 2))
            wavs.append(save_wav(result, name=f"sound-{slot}"))
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
    """A vote for A (``ab_vote``)."""
    return ab_vote("A", trial, tally)


def vote_b(trial: dict | None, tally: dict | None) -> tuple:
    """A vote for B (``ab_vote``)."""
    return ab_vote("B", trial, tally)


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
