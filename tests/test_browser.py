"""The served demo (demos/app.py) driven in a real browser: Debian's Chromium through Python Playwright.

Upload the piano example, pick a note by name, press Play and wait for the three players to fill (the time from
the click to the three players holding their decoded notes is printed; run with ``-s``); render a mix on the
Interpolate tab; vote once in the blind A/B test; check that a bad upload gets a readable message.
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


def test_app_in_chromium(browser, tmp_path):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with start_app(tmp_path) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url, wait_until="domcontentloaded")
        page.locator("#play-button").wait_for(timeout=60_000)

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
