"""The served demo (``python -m demos.app``) driven in a real browser: Debian's Chromium through Python Playwright.

Upload the piano example, pick a note by name, press Play and wait for the three players to fill (the time from
the click to the three players holding their decoded notes is printed; run with ``-s``); render a mix on the
Interpolate tab; vote once in the blind A/B test; check that a bad upload gets a readable message. On the
Keyboard tab, on a phone-sized screen: render three keys, play them from the computer keyboard and by clicking,
record, and check the page's log of note starts (``window.hyperlibKeyboard``).

As a musician meets the app: the preloaded examples play; on a 390x844 touch screen every tab is in view, the
upload is on the first screen, the Method dropdown's text is whole, and the keyboard scrolls by swipe and plays
by tap up to its last key; the keyboard's status names the sound and the render, its sliders show their values;
labels are distinct and say which way is which; the morph chart adds a measure the SOM does not optimize; upload
errors speak to people. ``test_screenshots`` photographs every tab at 1280x900 and 390x844 as small JPEGs
into ``$HYPERLIB_SCREENSHOTS`` (default: a temporary folder; ``docs/screenshots/`` holds the committed set).

Screenshots of the other tests go to ``results/screenshots/`` (git-ignored). Skipped only when /usr/bin/chromium
or playwright is missing (``apt-get install -y chromium`` and ``pip install playwright``; never ``playwright
install``).
"""
from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("gradio")

from test_app import HANDSAW, PIANO, REPO_ROOT, SAMPLE_RATE, NUM_SAMPLES, start_app, write_bad_file  # noqa: E402

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
        sync_api.expect(page.locator("#kb-player .hk-banner")).to_be_hidden()  # no audio warning before a render
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


# -- the app as a musician meets it ---------------------------------------------------------------
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TABS = {"tab-play": "Play a sound", "tab-mix": "Interpolate", "tab-ab": "Blind A/B test", "tab-faders": "Timbre faders",
        "tab-morph": "Morph", "tab-melody": "Play a melody", "tab-sfz": "Export instrument", "tab-keyboard": "Keyboard"}
"""Every tab of the app: elem_id -> the label on its tab button."""


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """One served app for the tests below (each opens its own page)."""
    with start_app(tmp_path_factory.mktemp("app")) as url:
        yield url


def open_page(browser, url: str, viewport: dict = DESKTOP, touch: bool = False):
    """A page on the served app (a phone: ``touch`` and is_mobile), once its first tab is up; returns (page, the
    page errors seen, the console messages seen)."""
    context = browser.new_context(viewport=viewport, has_touch=touch, is_mobile=touch, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    console: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda message: console.append(message.text))
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#play-button").wait_for(timeout=60_000)
    return page, errors, console


def open_tab(page, elem_id: str) -> None:
    """Click a tab's button (in view, never behind a menu) and wait for its panel."""
    page.get_by_role("tab", name=TABS[elem_id], exact=True).click()
    page.locator(f"#{elem_id}").wait_for(state="visible", timeout=30_000)


def test_examples_play_in_chromium(browser, app_url):
    """The sounds the tabs open with (the piano on Interpolate, A/B and Keyboard) are decoded by the browser: the
    player shows the note's length, and no "Waveform load error" is logged."""
    page, errors, console = open_page(browser, app_url)
    for tab, player in (("tab-mix", "mix-first"), ("tab-mix", "mix-second"), ("tab-ab", "ab-input"),
                        ("tab-keyboard", "kb-input")):
        open_tab(page, tab)
        sync_api.expect(page.locator(f"#{player} #duration")).to_have_text("0:01", timeout=30_000)
    assert not [m for m in console if "load error" in m.lower()], console
    assert not errors, errors


def visible_in(page, selector: str, box: dict) -> bool:
    """Whether the element lies wholly inside ``box`` (x, y, width, height in page pixels) from left to right."""
    b = page.locator(selector).bounding_box()
    return b is not None and b["x"] >= box["x"] - 1 and b["x"] + b["width"] <= box["x"] + box["width"] + 1


def test_phone_layout(browser, app_url):
    """On a 390x844 touch screen: every tab button is in view (no "More tabs" menu), the upload starts on the
    first screen, and the Keyboard tab's Method dropdown shows its whole text."""
    page, errors, _ = open_page(browser, app_url, PHONE, touch=True)
    screen = {"x": 0, "y": 0, **PHONE}
    for elem_id in TABS:  # side by side, in rows, all on the first screen
        button = page.locator(f"#{elem_id}-button").bounding_box()
        assert visible_in(page, f"#{elem_id}-button", screen) and button["y"] + button["height"] <= PHONE["height"]
    assert not page.get_by_role("button", name="More tabs").is_visible()
    upload = page.locator("#play-input").bounding_box()
    print(f"\nthe upload's top on a phone: {upload['y']:.0f} px of {PHONE['height']}")
    assert upload["y"] + 100 < PHONE["height"]  # its drop zone starts on the first screen
    open_tab(page, "tab-keyboard")
    width = page.evaluate("() => { const box = document.querySelector('#kb-method input'); "
                          "return {text: box.value, scroll: box.scrollWidth, client: box.clientWidth}; }")
    assert width["text"] == "HyperGANStrument" and width["scroll"] <= width["client"], width
    assert not errors, errors


def swipe(page, cdp, box: dict, dx: float) -> None:
    """Drag one finger sideways by ``dx`` pixels across the middle of ``box`` (the touch events of a swipe)."""
    y, x0 = box["y"] + 0.8 * box["height"], box["x"] + box["width"] / 2 - dx / 2
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y}]})
    for i in range(1, 13):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x0 + dx * i / 12, "y": y}]})
        page.wait_for_timeout(16)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_timeout(400)


def swipe_to(page, cdp, midi: int, dx: float) -> None:
    """Swipe the piano strip (at most ten times) until the key ``midi`` lies wholly in its visible part."""
    piano = page.locator("#kb-player .hk-piano").bounding_box()
    for _ in range(10):
        if visible_in(page, f"#kb-player .hk-key[data-midi='{midi}']", piano):
            return
        swipe(page, cdp, piano, dx)
    raise AssertionError(f"key {midi} cannot be swiped into view")


def touch_starts(page) -> list:
    return page.evaluate("() => window.hyperlibKeyboard.log.filter(e => e.type === 'on')"
                         ".map(e => [e.note, e.source, e.played])")


def test_keyboard_on_a_phone(browser, app_url):
    """The default key range (MIDI 36-84) on a 390x844 touch screen: a swipe scrolls the strip and plays nothing;
    the highest and the lowest key can be swiped into view and play when tapped. The status names the sound."""
    page, errors, _ = open_page(browser, app_url, PHONE, touch=True)
    open_tab(page, "tab-keyboard")
    sync_api.expect(page.locator("#kb-player .hk-banner")).to_be_hidden()  # nothing rendered: no audio warning
    page.locator("#kb-render").tap()
    page.wait_for_function(KEYBOARD_LOADED_JS, polling="raf", timeout=RENDER_TIMEOUT_MS)
    sync_api.expect(page.locator("#kb-status")).to_contain_text("piano_c4")
    sync_api.expect(page.locator("#kb-status")).to_contain_text("17 keys rendered")
    sync_api.expect(page.locator("#kb-player .hk-status")).to_contain_text("piano_c4")
    page.locator("#kb-player .hk-piano").scroll_into_view_if_needed()
    cdp = page.context.new_cdp_session(page)
    scroll = "() => document.querySelector('#kb-player .hk-piano').scrollLeft"
    start = page.evaluate(scroll)
    swipe(page, cdp, page.locator("#kb-player .hk-piano").bounding_box(), -150)  # finger to the left: higher keys
    assert page.evaluate(scroll) > start + 50 and touch_starts(page) == []
    swipe_to(page, cdp, 84, -200)
    page.locator("#kb-player .hk-key[data-midi='84']").tap()
    swipe_to(page, cdp, 36, 200)
    page.locator("#kb-player .hk-key[data-midi='36']").tap()
    page.wait_for_timeout(300)
    assert touch_starts(page) == [[84, "touch", True], [36, "touch", True]]
    # the audio warning shows only when the audio is actually off once keys are there
    sync_api.expect(page.locator("#kb-player .hk-banner")).to_be_hidden()
    page.evaluate("() => window.hyperlibKeyboard.ctx.suspend()")
    sync_api.expect(page.locator("#kb-player .hk-banner")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "app_keyboard_phone.png"))
    assert not errors, errors


def test_keyboard_feedback(browser, app_url):
    """Two renders of different sounds read differently and name their sound and settings; the Velocity and
    Release sliders show their values with units; the help lists every computer key that plays."""
    page, errors, _ = open_page(browser, app_url)
    open_tab(page, "tab-keyboard")
    for elem_id, value in (("kb-low", 58), ("kb-high", 64), ("kb-every", 3)):
        set_slider(page, elem_id, value)
    page.locator("#kb-render").click()
    sync_api.expect(page.locator("#kb-status")).to_contain_text("3 keys rendered", timeout=RENDER_TIMEOUT_MS)
    first = page.locator("#kb-status").inner_text()
    page.locator("#kb-input button[aria-label='Clear']").first.click()
    page.locator("#kb-input input[type='file']").set_input_files(str(HANDSAW))
    page.locator("#kb-render").click()
    sync_api.expect(page.locator("#kb-status")).to_contain_text("handsaw", timeout=RENDER_TIMEOUT_MS)
    second = page.locator("#kb-status").inner_text()
    assert "piano_c4" in first and "handsaw" not in first and first != second, (first, second)
    assert "refinement step" in second and "vocoder" in second
    sync_api.expect(page.locator("#kb-player .hk-velocity-value")).to_have_text("100 / 127")
    sync_api.expect(page.locator("#kb-player .hk-release-value")).to_have_text("0.25 s")
    page.locator("#kb-player .hk-velocity").fill("64")
    page.locator("#kb-player .hk-release").fill("1.5")
    sync_api.expect(page.locator("#kb-player .hk-velocity-value")).to_have_text("64 / 127")
    sync_api.expect(page.locator("#kb-player .hk-release-value")).to_have_text("1.50 s")
    keys = page.evaluate("() => window.hyperlibKeyboard.computerKeys")
    help_keys = page.locator("#kb-help code").first.inner_text().split()
    assert len(keys) == 18 and sorted(help_keys) == sorted(keys), (help_keys, keys)
    assert not errors, errors


def write_midi(path: Path) -> Path:
    """A two-note MIDI file (C4 then E4, half a second each at 120 bpm)."""
    mido = pytest.importorskip("mido")
    song = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    song.tracks.append(track)
    for note in (60, 64):
        track.append(mido.Message("note_on", note=note, velocity=100, time=0))
        track.append(mido.Message("note_off", note=note, velocity=0, time=480))
    song.save(str(path))
    return path


def test_labels_say_which_is_which(browser, app_url, tmp_path):
    """Timbre faders: four distinct titles, each slider saying what its left and right ends do. A/B: the tally's
    columns have distinct headings. Play a melody: an uploaded MIDI file greys the notes box and says it is used;
    the button is "Render melody" and its answer names the input played."""
    page, errors, _ = open_page(browser, app_url)
    open_tab(page, "tab-faders")
    faders = [page.locator(f"#fader-{k}").inner_text() for k in range(4)]
    titles = [text.strip().splitlines()[0] for text in faders]
    print("\n" + "\n".join(f.replace("\n", " | ") for f in faders))
    assert len(set(titles)) == 4 and all(re.search(r"left: .+; right: .+", text) for text in faders), faders

    open_tab(page, "tab-ab")
    page.locator("#ab-button").click()
    wait_for_player(page, "ab-a")
    page.locator("#ab-vote-a").click()
    sync_api.expect(page.locator("#ab-tally th").first).to_be_visible()
    headings = page.locator("#ab-tally th").all_inner_texts()
    assert len(headings) == 4 and len(set(headings)) == 4, headings

    open_tab(page, "tab-melody")
    notes = page.locator("#melody-notes textarea")
    sync_api.expect(notes).to_be_editable()
    page.locator("#melody-midi input[type='file']").set_input_files(str(write_midi(tmp_path / "two_notes.mid")))
    sync_api.expect(notes).not_to_be_editable()
    sync_api.expect(page.locator("#melody-notes")).to_contain_text("two_notes.mid")
    page.get_by_role("button", name="Render melody").click()
    sync_api.expect(page.locator("#melody-info")).to_contain_text("MIDI file two_notes.mid",
                                                                  timeout=RENDER_TIMEOUT_MS)
    assert not errors, errors


def test_morph_chart_checks_evenness_independently(browser, app_url):
    """The Morph tab reports, beside the log-mel spread the SOM evens out, the spread of a measure it does not
    optimize (the MFCC distance of the notes' audio), for the linear path and the SOM's."""
    page, errors, _ = open_page(browser, app_url)
    open_tab(page, "tab-morph")
    set_slider(page, "morph-nodes", 5)
    page.locator("#morph-button").click()
    info = page.locator("#morph-info")
    sync_api.expect(info).to_contain_text("MFCC", timeout=RENDER_TIMEOUT_MS)
    spreads = [float(x) for x in re.findall(r"\*?\*?(\d+\.\d{3})", info.inner_text())]
    print(f"\n{info.inner_text()}")
    assert len(spreads) == 4, info.inner_text()  # log-mel linear, SOM; MFCC linear, SOM
    sync_api.expect(page.locator("#morph-plot")).to_be_visible()
    assert not errors, errors


def test_upload_errors_speak_to_people(browser, app_url, tmp_path):
    """A file that is not audio gets the app's words (accepted files), not the Python API's."""
    page, errors, _ = open_page(browser, app_url)
    text = write_bad_file(tmp_path, "text")
    page.locator("#play-input input[type='file']").set_input_files(text)
    page.locator("#play-button").click()
    message = page.get_by_text(re.compile("Could not decode"))
    sync_api.expect(message).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    words = message.first.inner_text()
    assert "WAV" in words and "numpy" not in words and "sample_rate" not in words, words
    assert not errors, errors


SHOT_WIDTHS = {"desktop": 720, "phone": 280}
"""Pixel width of the screenshots written by ``test_screenshots`` (reduced from 1280 and 390)."""
SHOT_QUALITY = 60
"""JPEG quality of the screenshots: a whole set of 16 stays under 400 KB."""
RENDERED = {"tab-play": ("#play-button", "#play-summary", "Rendered"),
            "tab-mix": ("#mix-button", "#mix-output #duration", "0:01"),
            "tab-ab": ("#ab-button", "#ab-a #duration", "0:01"),
            "tab-faders": ("#faders-button", "#faders-info", "MIDI"),
            "tab-morph": ("#morph-button", "#morph-info", "MFCC"),
            "tab-melody": ("#melody-button", "#melody-info", "Played"),
            "tab-sfz": ("#sfz-button", "#sfz-info", "samples"),
            "tab-keyboard": ("#kb-render", "#kb-status", "keys rendered")}
"""Per tab: its render button, and the element and text that show the render has arrived."""


def save_shot(page, path: Path, width: int) -> None:
    """The page's visible part as a JPEG ``width`` pixels wide (SHOT_QUALITY)."""
    from PIL import Image

    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.save(path, "JPEG", quality=SHOT_QUALITY, optimize=True, progressive=True)


def test_screenshots(browser, app_url, tmp_path):
    """Every tab with the default sounds rendered, at 1280x900 and at 390x844: 16 JPEGs named
    ``<tab>-desktop.jpg`` and ``<tab>-phone.jpg`` in ``$HYPERLIB_SCREENSHOTS`` (default: a temporary folder)."""
    out = Path(os.environ.get("HYPERLIB_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    page, errors, _ = open_page(browser, app_url, DESKTOP)
    for size in ("desktop", "phone"):
        if size == "phone":
            page.set_viewport_size(PHONE)
        for elem_id, (button, done, text) in RENDERED.items():
            open_tab(page, elem_id)
            if size == "desktop":  # render once; the phone shots show the same page narrower
                if elem_id == "tab-play":  # the one tab that opens empty: pick the piano example
                    page.locator("#tab-play").get_by_text("piano_c4.wav", exact=True).first.click()
                    sync_api.expect(page.locator("#play-input #duration")).to_have_text("0:01", timeout=30_000)
                page.locator(button).click()
                sync_api.expect(page.locator(done)).to_contain_text(text, timeout=RENDER_TIMEOUT_MS)
            if elem_id == "tab-play":  # the first screen a visitor sees
                page.evaluate("() => window.scrollTo(0, 0)")
            else:  # the tab bar at the top of the screen
                top = "#kb-status" if elem_id == "tab-keyboard" and size == "phone" else f"#{elem_id}-button"
                page.locator(top).evaluate("node => node.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(300)
            save_shot(page, out / f"{elem_id.removeprefix('tab-')}-{size}.jpg", SHOT_WIDTHS[size])
    shots = sorted(out.glob("*.jpg"))
    print(f"\n{len(shots)} screenshots, {sum(p.stat().st_size for p in shots) / 1024:.0f} KB, in {out}")
    assert len(shots) >= 16
    assert not errors, errors
