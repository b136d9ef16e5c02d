"""The keyboard instrument: key sets rendered across a range (hyperlib.sound_design.keyboard), their sustain loops, cache and
payload, and the app's "Keyboard" tab handlers (demos/keyboard_tab.py). The page itself is tested in Chromium
by tests/test_browser.py."""
from __future__ import annotations

import zipfile
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from hyperlib.sound_design.keyboard import KeyCache, KeyRange, crossfade_loop, loop_points, render_keys, write_payload

REPO = Path(__file__).resolve().parents[1]
PIANO = REPO / "examples" / "piano_c4.aif"
FAST = KeyRange(low=58, high=62, every=3, method="gan", steps=0)
"""Rendered keys 58 and 61 (and the top key 62 goes to 61): two renders of G alone."""


@pytest.fixture(scope="module")
def keyset(model):
    return render_keys(model, str(PIANO), FAST)


def test_keys_are_the_sfz_regions_and_equal_synthesize(model, keyset):
    assert keyset.regions == [(58, 58, 59), (61, 60, 62)]
    assert sorted(keyset.renders) == [58, 61]
    one = model.synthesize(str(PIANO), 61, "gan", 0, FAST.vocoder)
    np.testing.assert_allclose(keyset.renders[61], one.audio, atol=1e-5)


@pytest.mark.parametrize("pitch", [21, 45, 60, 84, 108])
def test_loop_is_whole_periods_in_the_steady_part(pitch):
    sr, n = 16000, 16384
    start, end = loop_points(n, sr, pitch)
    period = sr / librosa.midi_to_hz(pitch)
    assert end == int(0.8 * n) and start >= int(0.14 * sr)  # after the attack and the crossfade
    periods = (end - start) / period
    assert abs(periods - round(periods)) * period <= 0.5 + 1e-9 and round(periods) >= 1


def test_crossfaded_loop_continues_the_waveform():
    sr, f0 = 16000, 261.63
    t = np.arange(16384) / sr
    y = (np.sin(2 * np.pi * f0 * t) * np.exp(-2 * t)).astype(np.float32)
    start, end = loop_points(len(y), sr, 60)
    start += 23  # out of phase: jumping back without the crossfade would click
    looped = crossfade_loop(y, start, end, 960)
    steps = np.abs(np.diff(looped[start:end])).max()
    assert abs(y[start] - y[end - 1]) > 3 * steps
    # playing past the loop's end means jumping back to its start: with the crossfade, no larger than a step
    assert abs(looped[start] - looped[end - 1]) <= steps * 1.05
    assert np.array_equal(looped[:end - 960], y[:end - 960]) and np.array_equal(looped[end:], y[end:])


def test_payload_holds_every_key_at_its_offset(keyset, tmp_path):
    index = write_payload(keyset, tmp_path / "keys.wav")
    audio, sr = sf.read(str(tmp_path / "keys.wav"), dtype="float32")
    assert sr == index["sampleRate"] == 16000 and (index["low"], index["high"], index["every"]) == (58, 62, 3)
    assert [(k["key"], k["lo"], k["hi"], k["name"]) for k in index["keys"]] == [(58, 58, 59, "A#3"),
                                                                                 (61, 60, 62, "C#4")]
    assert len(audio) == sum(k["length"] for k in index["keys"])
    for k in index["keys"]:
        part = audio[k["offset"]:k["offset"] + k["length"]]
        np.testing.assert_allclose(part, keyset.looped(k["key"]), atol=1 / 32767)
        assert (k["loopStart"], k["loopEnd"]) == keyset.loops[k["key"]]


def test_cache_finds_the_same_sound_in_another_format(model, tmp_path, monkeypatch):
    cache = KeyCache(max_items=1)
    note = model.prepare(str(PIANO))
    first, cached = cache.render(model, note, FAST)
    assert not cached
    wav = tmp_path / "piano.wav"
    sf.write(str(wav), note, 16000, subtype="FLOAT")
    import hyperlib.sound_design.keyboard as keyboard

    monkeypatch.setattr(keyboard, "render_note_keys", lambda *a, **k: pytest.fail("rendered again"))
    again, cached = cache.render(model, model.prepare(str(wav)), FAST)
    assert cached and again is first
    assert cache.get(model, note, KeyRange(58, 62, 3, "gan", 0, "griffin-lim")) is None  # another vocoder


@pytest.fixture
def tab(model, monkeypatch):
    """The Keyboard tab's module with the test's model and an empty cache of rendered key sets."""
    pytest.importorskip("gradio")
    from demos import keyboard_tab

    monkeypatch.setattr(keyboard_tab, "_get_model", lambda: model)
    monkeypatch.setattr(keyboard_tab, "cache", KeyCache())
    return keyboard_tab


def no_progress(*args, **kwargs):
    return None


def test_render_handler_gives_the_page_a_file_and_an_index(tab):
    payload, status = tab.render_handler(str(PIANO), "gan", "harmonic-noise", 58, 62, 3.0, 0, no_progress)
    assert Path(payload["audio"]["path"]).is_file() and payload["audio"]["meta"]["_type"] == "gradio.FileData"
    assert [k["key"] for k in payload["keys"]] == [58, 61] and "2 keys rendered" in status
    # the status names the sound and the render's settings
    assert payload["sound"] == "piano_c4.aif" and status.startswith("**piano_c4.aif**")
    assert all(w in status for w in ("GANStrument", "0 refinement steps", "Harmonic-plus-noise", "one key in 3"))
    payload2, status2 = tab.render_handler(str(PIANO), "gan", "harmonic-noise", 58, 62, 3, 0, no_progress)
    assert "from the cache" in status2 and payload2["id"] != payload["id"]


def test_sfz_handler_zips_the_rendered_keys(tab):
    path = tab.sfz_handler(str(PIANO), "gan", "harmonic-noise", 58, 62, 3, 0, no_progress)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        sfz = z.read(next(n for n in names if n.endswith(".sfz"))).decode()
    assert sfz.count("<region>") == 2 and "pitch_keycenter=61 lokey=60 hikey=62" in sfz
    assert sum(n.endswith(".wav") for n in names) == 2 and "harmonic-noise" in sfz


@pytest.mark.parametrize("args, words", [
    ((None, "gan", "harmonic-noise", 58, 62, 3, 0), "upload or record"),
    ((str(PIANO), "gan", "harmonic-noise", 62, 58, 3, 0), "low <= high"),
    ((str(PIANO), "gan", "harmonic-noise", 10, 62, 3, 0), "21-108"),
    ((str(PIANO), "gan", "harmonic-noise", 58, 62, 30, 0), "1-24"),
    ((str(PIANO), "nope", "harmonic-noise", 58, 62, 3, 0), "Unknown method"),
    ((str(PIANO), "gan", "wavenet", 58, 62, 3, 0), "Unknown vocoder"),
])
def test_bad_input_is_a_message(tab, args, words):
    import gradio as gr

    with pytest.raises(gr.Error, match=words):
        tab.render_handler(*args, progress=no_progress)
