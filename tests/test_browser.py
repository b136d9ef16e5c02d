"""The served demo (demos/app.py) driven in a real browser: Debian's Chromium through Python Playwright.

Upload the piano example, pick a note by name, press Play and wait for the three players to fill (the time from
the click to the three players holding their decoded notes is printed; run with ``-s``); render a mix on the
Interpolate tab; vote once in the blind A/B test; check that a bad upload gets a readable message. On the
Keyboard tab, on a phone-sized screen: render three keys, play them from the computer keyboard and by clicking,
record, and check the page's log of note starts (``window.hyperlibKeyboard``).
Screenshots go to ``results/screenshots/`` (git-ignored). Skipped only when /usr/bin/chromium or playwright
is missing (``apt-get install -y chromium`` and ``pip install playwright``; never ``playwright install``).
"""
from __future__ import annotations

import io
import re
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("gradio")

from test_app import PIANO, REPO_ROOT, SAMPLE_RATE, NUM_SAMPLES, start_app, write_bad_file  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]
SCREENSHOTS = REPO_ROOT / "results" / "screenshots"
RENDER_TIMEOUT_MS = 120_000  # three notes with the bundled model on a busy CPU; the tiny model takes ~1 s

if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is missing: pip install playwright")


PLAYERS_FILLED_JS = """ids => ids.every(id => {
    const duration = document.querySelector(`#${id} #duration`);
    return duration !== null && duration.textContent.trim() === "0:01";
})"""
"""True once every player in ``ids`` shows the note's duration, i.e. the browser has fetched and decoded its WAV."""


def wait_for_player(page, elem_id: str) -> str:
    """Wait until the output player ``#elem_id`` holds a loaded WAV; returns its download URL."""
    link = page.locator(f"#{elem_id} a[data-testid='download-link']")
    link.wait_for(state="attached", timeout=RENDER_TIMEOUT_MS)
    href = link.get_attribute("href")
    assert href and href.endswith(".wav"), href
    # the waveform player shows the note's duration (1.024 s) once the browser has decoded the WAV
    sync_api.expect(page.locator(f"#{elem_id} #duration")).to_have_text("0:01", timeout=30_000)
    return href


def assert_wav_url(page, url: str) -> None:
    """The file behind a player's download link is one 16 kHz note, as the Python API would give."""
    response = page.request.get(url)
    assert response.ok, url
    audio, sr = sf.read(io.BytesIO(response.body()), dtype="float32")
    assert sr == SAMPLE_RATE and audio.shape == (NUM_SAMPLES,) and np.max(np.abs(audio)) > 0.01


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_app(browser, url: str):
    """A desktop-sized page on the served app, once its first tab is up; returns (page, the page errors seen)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#play-button").wait_for(timeout=60_000)
    return page, errors


def test_app_in_chromium(browser, tmp_path):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with start_app(tmp_path) as url:
        page, errors = open_app(browser, url)

        # -- Play a sound: upload, pick E4 by name (the MIDI slider follows), render with the three methods
        page.locator("#play-input input[type='file']").set_input_files(str(PIANO))
        page.locator("#play-note input").click()
        page.get_by_role("option", name="E4 (329.6 Hz)").click()
        sync_api.expect(page.locator("#play-pitch input[type='number']")).to_have_value("64")
        players = [f"play-{method}" for method in ("gan", "encoder", "hyper")]
        started = time.perf_counter()
        page.locator("#play-button").click()
        page.wait_for_function(PLAYERS_FILLED_JS, arg=players, polling="raf", timeout=RENDER_TIMEOUT_MS)
        print(f"\nclick to three players filled: {time.perf_counter() - started:.2f} s")
        sync_api.expect(page.locator("#play-summary")).to_contain_text("MIDI 64")
        urls = {method: wait_for_player(page, f"play-{method}") for method in ("gan", "encoder", "hyper")}
        assert_wav_url(page, urls["hyper"])
        assert "E4" in page.locator("#play-summary").inner_text()
        page.screenshot(path=str(SCREENSHOTS / "app.png"), full_page=True)

        # -- Interpolate: the default piano and handsaw, mixed
        page.get_by_role("tab", name="Interpolate").click()
        page.locator("#mix-button").click()
        assert_wav_url(page, wait_for_player(page, "mix-output"))
        page.screenshot(path=str(SCREENSHOTS / "app_mix.png"), full_page=True)

        # -- Blind A/B test: render a pair, vote, see the tally (kept in this session only)
        page.get_by_role("tab", name="Blind A/B test").click()
        page.locator("#ab-button").click()
        for slot in ("a", "b"):
            href = wait_for_player(page, f"ab-{slot}")
            assert re.search(r"/sound-[AB]-[^/]*\.wav$", href), href  # the file name does not give it away
        page.locator("#ab-vote-a").click()
        sync_api.expect(page.locator("#ab-tally")).to_contain_text("HyperGANStrument vs GANStrument")
        sync_api.expect(page.locator("#ab-vote-a")).to_be_disabled()
        page.screenshot(path=str(SCREENSHOTS / "app_ab.png"), full_page=True)

        # -- a bad upload gets a readable message and the page goes on working
        page.get_by_role("tab", name="Play a sound").click()
        silent = write_bad_file(tmp_path, "silent")
        page.locator("#play-input button[aria-label='Clear']").first.click()
        page.locator("#play-input input[type='file']").set_input_files(silent)
        page.locator("#play-button").click()
        sync_api.expect(page.get_by_text(re.compile("The sound is silent"))).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        page.screenshot(path=str(SCREENSHOTS / "app_error.png"), full_page=True)
        assert not errors, errors
    print(f"\nscreenshot: {SCREENSHOTS / 'app.png'}")


KEYBOARD_LOADED_JS = "() => window.hyperlibKeyboard && window.hyperlibKeyboard.ready"
NOTE_START_MAX_MS = 30  # a note must start within this of its key event (the page's own clock)


def set_slider(page, elem_id: str, value: int) -> None:
    """Type a value into a gradio slider's number box."""
    box = page.locator(f"#{elem_id} input[type='number']")
    box.fill(str(value))
    box.press("Enter")


def test_keyboard_in_chromium(browser, tmp_path):
    """The Keyboard tab: render three keys of the shipped piano, play them with the computer keyboard and by
    clicking, record, and check in the page's own log that every note started within 30 ms of its key event."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with start_app(tmp_path) as url:
        page, errors = open_app(browser, url)
        page.get_by_role("tab", name="Keyboard").click()
        page.locator("#kb-render").wait_for(timeout=60_000)
        page.set_viewport_size({"width": 390, "height": 844})  # then play it on a phone-sized screen
        sync_api.expect(page.locator("#kb-player .hk-banner")).to_be_visible()  # audio is blocked until a gesture
        for elem_id, value in (("kb-low", 58), ("kb-high", 64), ("kb-every", 3)):  # rendered keys 58, 61, 64
            set_slider(page, elem_id, value)
        started = time.perf_counter()
        page.locator("#kb-render").click()
        page.wait_for_function(KEYBOARD_LOADED_JS, polling="raf", timeout=RENDER_TIMEOUT_MS)
        print(f"\nclick to keys loaded: {time.perf_counter() - started:.2f} s")
        sync_api.expect(page.locator("#kb-status")).to_contain_text("3 keys rendered")
        state = page.evaluate("() => ({keys: window.hyperlibKeyboard.index.keys, "
                              "loadMs: window.hyperlibKeyboard.loadMs})")
        assert [k["key"] for k in state["keys"]] == [58, 61, 64]
        assert page.locator("#kb-player .hk-key").count() == 7 and page.locator("#kb-player .hk-white").count() == 4

        # the computer keyboard, its row starting at C4 (the octave of the range's middle): an octave down (Z) and
        # up again (X), then A, D and E hold C4, E4 and D#4 together; the first click turns the audio on
        page.locator("#kb-player .hk-status").click()
        page.wait_for_timeout(500)  # let the page finish drawing the render's answer before timing key presses
        sync_api.expect(page.locator("#kb-player .hk-octave")).to_contain_text("C4-F5")
        page.keyboard.press("KeyZ")
        sync_api.expect(page.locator("#kb-player .hk-octave")).to_contain_text("C3-F4")
        page.keyboard.press("KeyX")
        for code in ("KeyA", "KeyD", "KeyE"):  # C4 (60), E4 (64), D#4 (63)
            page.keyboard.down(code)
            page.wait_for_timeout(150)
        for code in ("KeyA", "KeyD", "KeyE"):
            page.keyboard.up(code)
        page.locator("#kb-player .hk-record").click()
        page.locator("#kb-player .hk-key[data-midi='58']").click()
        page.locator("#kb-player .hk-key[data-midi='61']").click()
        page.wait_for_timeout(300)
        page.locator("#kb-player .hk-record").click()
        sync_api.expect(page.locator("#kb-player .hk-download")).to_be_visible()
        sync_api.expect(page.locator("#kb-player .hk-banner")).to_be_hidden()
        log = page.evaluate("() => window.hyperlibKeyboard.log")
        audio = page.evaluate("() => { const kb = window.hyperlibKeyboard; return {state: kb.ctx.state, "
                              "base: kb.ctx.baseLatency, output: kb.ctx.outputLatency, recording: kb.recording, "
                              "errors: kb.errors}; }")
        page.screenshot(path=str(SCREENSHOTS / "app_keyboard.png"), full_page=True)

    starts = [e for e in log if e["type"] == "on"]
    assert [(e["note"], e["source"]) for e in starts] == [(60, "keyboard"), (64, "keyboard"), (63, "keyboard"),
                                                          (58, "pointer"), (61, "pointer")]
    assert all(e["played"] for e in starts), starts
    delays = [e["startTime"] - e["eventTime"] for e in starts]  # the event's time stamp to the source's start()
    print(f"key event to note start (ms): {', '.join(f'{d:.1f}' for d in delays)}; audio output latency "
          f"{1000 * audio['base']:.1f} + {1000 * audio['output']:.1f} ms; keys loaded in {state['loadMs']:.0f} ms")
    assert all(0 <= d <= NOTE_START_MAX_MS for d in delays), delays
    assert sum(e["type"] == "off" for e in log) == 5
    assert audio["state"] == "running" and audio["recording"]["samples"] > 0.2 * audio["recording"]["sampleRate"]
    assert not errors and not audio["errors"], (errors, audio["errors"])
