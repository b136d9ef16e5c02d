"""The app's limits (demos/request_limits.py, demos/app_common.py): cost budgets checked before any work, a time
limit and one request at a time per visitor, a sentence for every failure, and temporary files that really go.
"""
from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

gr = pytest.importorskip("gradio")

from demos import app, app_common, keyboard_tab, sound_design_tabs  # noqa: E402
from demos.request_limits import BUDGET, BUSY, Budget, guard_all, guarded  # noqa: E402
from test_app import HANDSAW, PIANO, start_app  # noqa: E402


@pytest.fixture
def design(monkeypatch):
    """demos/sound_design_tabs.py with a model whose every task fails the test: a budget must refuse first."""
    def rendered(*args, **kwargs):
        raise AssertionError("rendered before the budget was checked")

    stub = SimpleNamespace(melody=rendered, morph=rendered, export_sfz=rendered, edit=rendered)
    monkeypatch.setattr(sound_design_tabs, "_get_model", lambda: stub)
    return sound_design_tabs


def long_notes(count: int, seconds: float) -> str:
    return ",".join(f"60:{i * seconds}:{seconds}" for i in range(count))


# -- budgets -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("notes, words", [
    (",".join(f"{60 + i}:0:299" for i in range(20)), ["5983 s of audio", "300 s"]),  # 20 notes of 299 s
    (long_notes(30, 5.0), ["lasts 150 s", "120 s"]),
    (",".join(f"60:0:{1 + i % 3}" for i in range(400)), ["s of audio", "300 s"]),  # many long notes at once
    (",".join("60:0:0.01" for _ in range(501)), ["501 notes", "500"]),
])
def test_melody_budget_is_checked_before_rendering(design, notes, words):
    with pytest.raises(gr.Error) as error:
        design.melody_handler(str(PIANO), notes, None, 0.15, 1)
    assert all(word in error.value.message for word in words), error.value.message


def test_large_midi_file_is_refused_before_reading(design, tmp_path):
    midi = tmp_path / "big.mid"
    midi.write_bytes(b"MThd" + bytes(2 << 20))
    with pytest.raises(gr.Error, match="KB are read"):
        design.melody_handler(str(PIANO), "", str(midi), 0.15, 1)


def test_key_budget_is_checked_before_rendering(design):
    with pytest.raises(gr.Error) as error:
        design.sfz_handler(str(PIANO), 21, 108, 1, "all", 1)
    assert "88 keys" in error.value.message and "up to 48" in error.value.message
    with pytest.raises(gr.Error, match="up to 48"):
        keyboard_tab.render_handler(str(PIANO), "gan", "harmonic-noise", 21, 108, 1.0, 0, lambda *a, **k: None)


def test_morph_budget_is_checked_before_rendering(design):
    with pytest.raises(gr.Error, match="up to 15"):
        design.morph_handler(str(PIANO), str(HANDSAW), 33, 60, True, 1)


def test_budgets_and_privacy_are_printed_in_the_app():

    for words in (f"{BUDGET.melody_notes} notes", f"{BUDGET.keys} rendered keys", f"{BUDGET.morph_notes} notes",
                  f"{BUDGET.time_limit_s:.0f} s", app_common.duration_text(app_common.KEPT_AT_MOST_S),
                  "when the app stops"):
        assert words in app.HEADER, words
    assert app_common.KEPT_AT_MOST_S <= 3600 and "within the hour" not in app.HEADER


# -- every handler: time limit, one request per visitor, a sentence for every failure --------------------------
def test_a_request_is_stopped_at_the_time_limit():

    def endless():
        while True:
            time.sleep(0.01)

    with pytest.raises(gr.Error, match="more than 1 s, the limit per request"):
        guarded(endless, Budget(time_limit_s=1))()
    assert guarded(lambda: time.sleep(0.2) or "done", Budget(time_limit_s=1))() == "done"
    time.sleep(1.2)  # a limit that would have run out after the call returned raises nothing here
    assert threading.current_thread().is_alive()


def test_one_request_at_a_time_per_visitor():
    from gradio.context import LocalContext


    token = LocalContext.request.set(SimpleNamespace(session_hash="visitor-1"))
    try:
        inner = guarded(lambda: "inner")
        with pytest.raises(gr.Error, match="one request at a time"):
            guarded(inner)()  # the same session asks again while its first request runs
        assert guarded(lambda: "next")() == "next"  # and may ask once the first is done
    finally:
        LocalContext.request.reset(token)
    assert "previous request" in BUSY


def test_an_unforeseen_failure_is_a_sentence():

    with pytest.raises(gr.Error) as error:
        guarded(lambda: 1 / 0)()
    assert "ZeroDivisionError" in error.value.message and "try other settings" in error.value.message


def test_generators_are_left_as_they_are():

    def stream():
        yield 1

    with gr.Blocks() as demo:
        button = gr.Button()
        button.click(stream, None, gr.Number())
        button.click(lambda: 1, None, gr.Number())
    guard_all(demo)
    limited = sorted(getattr(dep.fn, "_request_limited", False) for dep in demo.fns.values())
    assert limited == [False, True]


def test_every_queued_handler_is_guarded(monkeypatch):
    launched = {}
    monkeypatch.setattr(app, "warm_up", lambda: None)
    monkeypatch.setattr(app, "start_cleaner", lambda: None)
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kwargs: launched.update(demo=self, **kwargs))
    app.main()
    queued = [dep for dep in launched["demo"].fns.values() if dep.fn is not None and dep.queue is not False]
    assert queued and all(getattr(dep.fn, "_request_limited", False) for dep in queued)
    assert launched["state_session_capacity"] == app.SESSION_CAPACITY < 10000


@pytest.mark.parametrize("call", [
    lambda app, d: app.render_mix(str(PIANO), str(HANDSAW), 0.5, None, "gan", 0),
    lambda app, d: app.render_mix(str(PIANO), str(HANDSAW), 0.5, 60, "gan", float("nan")),
    lambda app, d: app.render_all(str(PIANO), float("nan"), 1),
    lambda app, d: d.edit_handler(str(PIANO), 60, None, 0.0, 0.0, 0.0, 1),
    lambda app, d: d.melody_handler(str(PIANO), "60:0:0.5", None, None, 1),
    lambda app, d: d.melody_handler(str(PIANO), "60:0:0.5", None, 0.15, float("nan")),
    lambda app, d: d.sfz_handler(str(PIANO), None, 84, 3, "", 1),
    lambda app, d: d.morph_handler(str(PIANO), str(HANDSAW), None, 60, True, 1),
], ids=["mix pitch None", "mix steps NaN", "play pitch NaN", "fader None", "melody release None",
        "melody steps NaN", "sfz low None", "morph nodes None"])
def test_none_and_nan_in_a_slider_are_answered_with_a_sentence(call, monkeypatch):

    monkeypatch.setattr(sound_design_tabs, "_get_model", app_common.get_model)
    with pytest.raises(gr.Error) as error:
        guarded(lambda: call(app, sound_design_tabs))()
    message = error.value.message
    assert len(message.split()) >= 5 and "Traceback" not in message, message


def test_a_300_character_instrument_name_is_shortened(monkeypatch):
    monkeypatch.setattr(sound_design_tabs, "_get_model", app_common.get_model)
    archive, text = sound_design_tabs.sfz_handler(str(PIANO), 60, 62, 3, "x" * 300, 0)
    assert Path(archive).is_file() and len(Path(archive).stem) <= 64 and "samples" in text


# -- temporary files ----------------------------------------------------------------------------------------------
def test_outputs_live_in_a_private_folder_inside_gradios_cache(monkeypatch):
    private = app_common.PRIVATE_DIR
    assert app_common.OUTPUT_DIR.parent == private and os.environ["GRADIO_TEMP_DIR"] == str(private)
    assert not str(private).endswith("hyperlib-keyboard") and (private.stat().st_mode & 0o077) == 0
    monkeypatch.setattr(keyboard_tab, "_get_model", app_common.get_model)
    payload, _ = keyboard_tab.render_handler(str(PIANO), "gan", "harmonic-noise", 58, 62, 3, 0, lambda *a, **k: None)
    assert Path(payload["audio"]["path"]).parent == app_common.OUTPUT_DIR  # the Keyboard tab's files too


def test_a_file_is_decoded_once_for_every_tab(monkeypatch, tmp_path):
    import shutil

    model = app_common.get_model()
    monkeypatch.setattr(keyboard_tab, "_get_model", lambda: model)
    path = str(shutil.copy(PIANO, tmp_path / "once.aif"))
    real, calls = model.prepare, []

    def prepare(sound):
        calls.extend([sound] if isinstance(sound, str) else [])  # a prepared note is not decoded
        return real(sound)

    monkeypatch.setattr(model, "prepare", prepare)
    first = app.render_all(path, 60, 0)
    keyboard_tab.render_handler(path, "gan", "harmonic-noise", 58, 62, 3, 0, lambda *a, **k: None)
    app.render_mix(path, str(HANDSAW), 0.5, 60, "gan", 0)
    assert calls.count(path) == 1 and first
    with pytest.raises(gr.Error, match="upload or record"):
        keyboard_tab.render_handler(None, "gan", "harmonic-noise", 58, 62, 3, 0, lambda *a, **k: None)
    assert len(app_common._decoded) <= app_common.DECODED_NOTES


def test_the_timer_deletes_old_outputs_without_a_request():
    old = Path(app_common.new_output("old-", ".wav"))
    stale = time.time() - app_common.OUTPUT_MAX_AGE_S - 1
    os.utime(old, (stale, stale))
    fresh = Path(app_common.new_output("fresh-", ".wav"))
    stop = threading.Event()
    app_common.start_cleaner(every_s=0.05, stop=stop)
    try:
        for _ in range(200):
            if not old.exists():
                break
            time.sleep(0.05)
    finally:
        stop.set()
    assert not old.exists() and fresh.exists()


@pytest.mark.slow  # serves the app in a process
def test_after_sigterm_no_file_of_the_app_remains(tmp_path):
    """The served app is stopped with SIGTERM (as a container is); its uploads and outputs, stored once, go."""
    from gradio_client import Client, handle_file

    cache = tmp_path / "gradio"
    with start_app(tmp_path) as url:
        client = Client(url, verbose=False, analytics_enabled=False, download_files=str(tmp_path / "downloads"))
        client.predict(handle_file(str(PIANO)), 60, 1, "synthesize", api_name="/render")
        served = [p for p in cache.rglob("*.wav") if p.name != "piano_c4.wav"]  # but the example's playable copy
        assert len(served) == 5, served  # each note (four methods, the pitch shift) stored once, where it is served
        assert all(p.name.startswith("hyperlib-") for p in served)
    assert not [p for p in cache.rglob("*") if p.is_file()], list(cache.rglob("*"))[:10]
    assert math.isfinite(len(list(cache.iterdir())))
