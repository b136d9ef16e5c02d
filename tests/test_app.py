"""Tests of the Gradio demo (the package demos/, started with ``python -m demos.app``): its handlers called
directly, bad uploads, temporary files, the Space folder, and the running app. ``start_app`` is shared with
tests/test_load.py and tests/test_browser.py.

They use whatever model ``HyperGANStrument.from_pretrained()`` loads (the bundled checkpoint, or the
folder named by ``HYPERLIB_CHECKPOINT``).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import tracemalloc
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

gr = pytest.importorskip("gradio")

from demos import ab_test, app, app_common  # noqa: E402
from demos.bench import AppStartError, serve_app  # noqa: E402
from demos.mel_image import mel_image  # noqa: E402
from hyperlib.pitch_shift import phase_vocoder  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
PIANO = REPO_ROOT / "examples" / "piano_c4.aif"
HANDSAW = REPO_ROOT / "examples" / "handsaw.ogg"
SAMPLE_RATE, NUM_SAMPLES = 16000, 16384
STARTUP_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def piano_outputs():
    """render_all's outputs for the real piano at MIDI 64, computed once."""
    return app.render_all(str(PIANO), 64, 2, app.SYNTHESIZE)


def assert_valid_wav(path) -> None:
    """A 16-bit mono WAV of one note at 16 kHz, finite and audible."""
    info = sf.info(str(path))
    assert (info.format, info.subtype, info.channels) == ("WAV", "PCM_16", 1)
    audio, sr = sf.read(str(path), dtype="float32")
    assert sr == SAMPLE_RATE
    assert audio.shape == (NUM_SAMPLES,)
    assert np.all(np.isfinite(audio))
    assert np.max(np.abs(audio)) > 0.01


def audio_outputs(outputs) -> dict:
    """The WAV paths in render_all's outputs, keyed by method ("dsp": the plain pitch shift)."""
    return dict(zip(app_common.PLAY_METHODS + ("dsp",), outputs[1:-1:2]))


# -- (a) the handlers on a real recording -------------------------------------------------------
def assert_mel_picture(path) -> None:
    """A log-mel picture from save_mel_plot: a PNG in the app's output folder, larger than the log-mel."""
    from PIL import Image

    cfg = app_common.get_model().audio_config
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        assert image.height > cfg.n_mels and image.width > cfg.num_frames
    assert Path(path).parent == app_common.OUTPUT_DIR


def test_render_all_layout(piano_outputs):
    assert len(piano_outputs) == 2 + 2 * (len(app_common.PLAY_METHODS) + 1)  # the methods and the plain pitch shift
    for image in [piano_outputs[0], *piano_outputs[2:-1:2]]:
        assert_mel_picture(image)
    assert "E4" in piano_outputs[-1] and "MIDI 64" in piano_outputs[-1]


def test_render_all_equals_the_api(piano_outputs):
    """Sharing the input's mel and h between the methods changes nothing: each WAV is the API's note."""
    model = app_common.get_model()
    note = model.prepare(str(PIANO))
    for method, path in audio_outputs(piano_outputs).items():
        served, _ = sf.read(path, dtype="float32")
        api = (phase_vocoder(note, 64 - model.estimate_pitch(note), model.audio_config) if method == "dsp" else
               model.synthesize(str(PIANO), 64, method, 2).audio)
        assert np.max(np.abs(served - api)) < 2 / 32768, method  # 16-bit rounding only
    from PIL import Image

    x = model.mel(model.prepare(str(PIANO)))[0, 0].numpy()  # the input's picture shows the log-mel the methods saw
    assert np.array_equal(np.asarray(Image.open(piano_outputs[0])), mel_image(x, "Your sound", model.audio_config))


def test_render_all_records_its_stages(piano_outputs):
    timings = app.last_timings()
    for stage in ("decode", "inversion (x, f, E)", "gan: G", "encoder: G", "hyper: G+H", "vocoder", "plots",
                  "wav files"):
        assert timings[stage] > 0, stage
    assert sum(ms for stage, ms in timings.items() if stage != "total") <= timings["total"]


@pytest.mark.parametrize("method", ["gan", "encoder", "hyper", "faithful", "dsp"])
def test_render_all_audio_is_valid(piano_outputs, method):
    assert_valid_wav(audio_outputs(piano_outputs)[method])


def test_render_all_reconstruct_uses_input_pitch():
    outputs = app.render_all(str(PIANO), 100, 0, app.RECONSTRUCT)
    assert "MIDI 100" not in outputs[-1] and "estimated" in outputs[-1]
    for path in audio_outputs(outputs).values():
        assert_valid_wav(path)


def test_render_mix_audio_is_valid():
    path, image = app.render_mix(str(PIANO), str(HANDSAW), 0.5, 69, "hyper", 1.0)  # sliders may send floats
    assert_valid_wav(path)
    assert_mel_picture(image)


def test_gan_inversion_is_offered_with_progress(monkeypatch):
    from hyperlib.inversion import OptimizeConfig

    monkeypatch.setattr(app_common.get_model(), "optimize_budget", OptimizeConfig(code_steps=2, weight_steps=2))
    assert "optimize" in app_common.METHOD_LABELS and "optimize" not in app_common.PLAY_METHODS
    seen = []
    path, image = app.render_mix(str(PIANO), str(HANDSAW), 0.5, 69, "optimize", 0,
                                 progress=lambda value, desc=None, **kw: seen.append(value))
    assert_valid_wav(path)
    assert_mel_picture(image)
    assert seen[-1] == 1.0 and any(0.2 < v < 1.0 for v in seen if isinstance(v, float))  # moved during the fit
    wav_a, wav_b, trial, *_ = ab_test.ab_render(str(PIANO), "hyper-optimize", 60, 1)
    assert sorted(trial["order"]) == ["hyper", "optimize"]
    assert "GAN inversion" in ab_test.ab_vote("A", trial, {})[2]


def test_long_upload_is_cut(tmp_path):
    path = tmp_path / "long.wav"
    t = np.arange(90 * 8000) / 8000
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)  # 90 s; only 60 s are read
    for wav in audio_outputs(app.render_all(str(path), 69, 0)).values():
        assert_valid_wav(wav)


def test_note_name():
    assert app_common.note_name(60).startswith("C4") and app_common.note_name(69) == "A4 (440.0 Hz)"


def test_note_picker_names_every_pitch():
    choices = dict((midi, label) for label, midi in app_common.NOTE_CHOICES)
    assert sorted(choices) == list(range(21, 109))
    for octave in range(2, 8):  # C2 ... C7
        assert choices[12 * (octave + 1)].startswith(f"C{octave} ")
    assert choices[69] == "A4 (440.0 Hz)" and app_common.whole_number(64.0) == 64


# -- (a') the blind A/B test --------------------------------------------------------------------
def test_ab_render_is_blind():
    wav_a, wav_b, trial, status, *buttons = ab_test.ab_render(str(PIANO), "hyper-encoder", 62, 1)
    assert sorted(trial["order"]) == ["encoder", "hyper"] and trial["pair"] == "hyper-encoder"
    for path, slot in ((wav_a, "A"), (wav_b, "B")):
        assert_valid_wav(path)
        assert Path(path).name.startswith(f"sound-{slot}-")  # the download's name does not tell the method
    assert "D4" in status and all(b.interactive for b in buttons)


def test_ab_order_is_random(monkeypatch):
    orders = set()
    monkeypatch.setattr(ab_test, "save_wav", lambda result, name=None: name)  # skip the writing, keep the logic
    for _ in range(30):
        orders.add(tuple(ab_test.ab_render(str(PIANO), "gan-encoder", 60, 0)[2]["order"]))
        if len(orders) == 2:
            break
    assert orders == {("gan", "encoder"), ("encoder", "gan")}


def test_ab_vote_tallies_per_pair():
    trial = {"pair": "hyper-gan", "order": ["gan", "hyper"], "pitch": 60}
    new_trial, tally, reveal, table, *buttons = ab_test.ab_vote("B", trial, {})
    assert new_trial is None and tally == {"hyper-gan": {"hyper": 1, "gan": 0}}
    assert "A was **GANStrument**, B was **HyperGANStrument**" in reveal
    assert not any(b.interactive for b in buttons)
    tally = ab_test.vote_a({"pair": "hyper-gan", "order": ["gan", "hyper"], "pitch": 60}, tally)[1]
    tally = ab_test.vote_a({"pair": "gan-encoder", "order": ["encoder", "gan"], "pitch": 60}, tally)[1]
    assert tally == {"hyper-gan": {"hyper": 1, "gan": 1}, "gan-encoder": {"gan": 0, "encoder": 1}}
    table = ab_test.tally_markdown(tally)
    assert "| HyperGANStrument vs GANStrument | HyperGANStrument: 1 | GANStrument: 1 | 2 |" in table
    assert "| GANStrument vs GANStrument Enc. | GANStrument: 0 | GANStrument Enc.: 1 | 1 |" in table


@pytest.mark.parametrize("pair", ["vocoders", "vocoders-ddsp"])
def test_ab_compares_two_vocoders_on_the_same_note(monkeypatch, pair):
    from hyperlib import VOCODERS

    assert set(app_common.VOCODER_LABELS) == set(VOCODERS)
    assert set(VOCODERS) == set(ab_test.AB_PAIRS["vocoders"]) | set(ab_test.AB_PAIRS["vocoders-ddsp"])
    calls = []
    model = app_common.get_model()
    real = model.synthesize
    monkeypatch.setattr(model, "synthesize", lambda *a, **k: calls.append(a) or real(*a, **k))
    wav_a, wav_b, trial, *_ = ab_test.ab_render(str(PIANO), pair, 60, 1)
    assert sorted(trial["order"]) == sorted(ab_test.AB_PAIRS[pair])
    assert [c[2] for c in calls] == ["hyper", "hyper"] and sorted(c[4] for c in calls) == sorted(ab_test.AB_PAIRS[pair])
    assert calls[0][0] is calls[1][0]  # the same note
    assert_valid_wav(wav_a)
    assert_valid_wav(wav_b)
    reveal = ab_test.ab_vote("A", trial, {})[2]
    assert all(f"HyperGANStrument, {app_common.VOCODER_LABELS[name]}" in reveal for name in ab_test.AB_PAIRS[pair])


def test_ab_pairs_every_method_with_the_pitch_shift():
    assert {a for a, b in ab_test.AB_PAIRS.values() if b == "dsp"} == set(app_common.METHOD_LABELS)
    wav_a, wav_b, trial, *_ = ab_test.ab_render(str(PIANO), "faithful-dsp", 67, 1)
    model = app_common.get_model()
    note = model.prepare(str(PIANO))
    dsp = phase_vocoder(note, 67 - model.estimate_pitch(note), model.audio_config)
    served = {side: sf.read(path, dtype="float32")[0] for side, path in zip(trial["order"], (wav_a, wav_b))}
    assert np.max(np.abs(served["dsp"] - dsp)) < 2 / 32768  # the input itself, shifted
    assert np.max(np.abs(served["faithful"] - model.synthesize(str(PIANO), 67, "faithful").audio)) < 2 / 32768
    assert np.mean(np.abs(served["faithful"] - dsp)) > 1e-4  # the correction changed it
    assert "Pitch shift (DSP)" in ab_test.ab_vote("A", trial, {})[2]


def test_play_tab_vocoder_choice():
    outputs = app.render_all(str(PIANO), 64, 0, app.SYNTHESIZE, "griffin-lim")
    assert "Griffin-Lim vocoder" in outputs[-1]
    with pytest.raises(gr.Error) as error:
        app.render_all(str(PIANO), 64, 0, app.SYNTHESIZE, "wavenet")
    assert_readable(error, "wavenet", "harmonic-noise", "griffin-lim")


def test_ab_vote_needs_a_fresh_pair():
    with pytest.raises(gr.Error) as error:
        ab_test.ab_vote("A", None, {"hyper-gan": {"hyper": 1, "gan": 0}})  # already voted: the trial was cleared
    assert "render a pair first" in error.value.message.lower()


def test_ab_state_is_not_shared():
    tally = {"hyper-gan": {"hyper": 1, "gan": 0}}
    ab_test.vote_a({"pair": "hyper-gan", "order": ["hyper", "gan"], "pitch": 60}, tally)
    assert tally == {"hyper-gan": {"hyper": 1, "gan": 0}}  # the handler returns a new tally


# -- (b) bad input gives a readable message -----------------------------------------------------
def write_bad_file(tmp_path: Path, kind: str) -> str:
    """A bad upload of the given kind, as a file path."""
    path = tmp_path / f"{kind}.wav"
    if kind == "text":
        path.write_text("this is not audio, just text renamed to .wav\n" * 20)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "zero-length":  # a valid WAV header with no frames
        sf.write(path, np.zeros(0, dtype=np.int16), SAMPLE_RATE, subtype="PCM_16")
    elif kind == "silent":
        sf.write(path, np.zeros(SAMPLE_RATE, dtype=np.int16), SAMPLE_RATE, subtype="PCM_16")
    elif kind in ("nan", "inf"):
        audio = np.sin(np.linspace(0, 800, SAMPLE_RATE)).astype(np.float32)
        audio[100:200] = np.nan if kind == "nan" else np.inf
        sf.write(path, audio, SAMPLE_RATE, subtype="FLOAT")
    else:
        raise ValueError(kind)
    return str(path)


def write_good_file(tmp_path: Path, kind: str) -> str:
    """An unusual but usable upload of the given kind: a 1 s note (A3) as a WAV file."""
    rate = {"8khz": 8000, "96khz": 96000}.get(kind, 44100)
    t = np.arange(rate) / rate
    y = 0.6 * np.sin(2 * np.pi * 220 * t) * np.exp(-2 * t)
    subtype = {"pcm8": "PCM_U8", "pcm24": "PCM_24", "float32": "FLOAT"}.get(kind, "PCM_16")
    if kind == "clipped-square":  # a square wave hard-clipped at full scale
        y = np.clip(4 * np.sign(np.sin(2 * np.pi * 220 * t)), -1, 1)
    elif kind == "6-channel":  # 5.1: the same note on every channel, at different levels
        y = np.stack([y * (1 - 0.1 * c) for c in range(6)], axis=1)
    path = tmp_path / f"{kind}.wav"
    sf.write(path, y.astype(np.float32), rate, subtype=subtype)
    return str(path)


def assert_readable(error: pytest.ExceptionInfo, *words: str) -> None:
    message = error.value.message
    assert "Traceback" not in message and len(message) < 300
    assert all(word in message.lower() for word in words), message


BAD_FILES = [("text", ["could not decode", "wav"]), ("empty", ["empty"]), ("zero-length", ["no samples"]),
             ("silent", ["silent"]), ("nan", ["nan or infinite"]), ("inf", ["nan or infinite"])]


@pytest.mark.parametrize("kind, words", BAD_FILES)
def test_bad_upload_is_reported(tmp_path, kind, words):
    with pytest.raises(gr.Error) as error:
        app.render_all(write_bad_file(tmp_path, kind), 60, 1)
    assert_readable(error, *words)
    assert "numpy" not in error.value.message and "sample_rate" not in error.value.message  # the API's words


def test_examples_are_offered_in_formats_browsers_play():
    """The AIFF piano is shown as a WAV copy with the same samples; the other examples are shown as they are."""
    assert [p.suffix for p in app_common.EXAMPLE_FILES] == [".wav", ".ogg", ".ogg", ".ogg"]
    assert app_common.PIANO.name == "piano_c4.wav" and app_common.PIANO.parent == app_common.EXAMPLE_COPIES
    copy, sr = sf.read(app_common.PIANO, dtype="int16")
    original, sr_original = sf.read(PIANO, dtype="int16")
    assert sr == sr_original and np.array_equal(copy, original)


def test_tally_columns_are_headed_distinctly():
    table = ab_test.tally_markdown({"hyper-gan": {"hyper": 2, "gan": 1}})
    headings = [cell.strip() for cell in table.splitlines()[0].strip("|").split("|")]
    assert len(headings) == 4 and len(set(headings)) == 4, headings
    assert "| HyperGANStrument vs GANStrument | HyperGANStrument: 2 | GANStrument: 1 | 3 |" in table


@pytest.mark.parametrize("kind", ["clipped-square", "pcm8", "pcm24", "float32", "8khz", "96khz", "6-channel"])
def test_unusual_upload_works(tmp_path, kind):
    path = write_good_file(tmp_path, kind)
    assert sf.info(path).channels == (6 if kind == "6-channel" else 1)
    wav, _ = app.render_mix(path, str(PIANO), 0.0, 57, "gan", 0)  # the new file's timbre only
    assert_valid_wav(wav)


def write_long_wav(path: Path, minutes: float, rate: int = SAMPLE_RATE) -> None:
    """A 16-bit mono WAV of ``minutes`` of a repeating tone, written a minute at a time (bounded memory)."""
    t = np.arange(60 * rate) / rate
    minute = (0.4 * np.sin(2 * np.pi * 330 * t) * (0.6 + 0.4 * np.cos(2 * np.pi * t))).astype(np.float32)
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16", format="WAV") as f:
        for _ in range(math.ceil(minutes)):
            f.write(minute)


def test_30_minute_upload_uses_the_start(tmp_path):
    path = tmp_path / "thirty_minutes.wav"
    write_long_wav(path, 30)
    assert 55e6 < path.stat().st_size < app_common.MAX_UPLOAD_BYTES  # ~57.6 MB: accepted, but cut
    with pytest.warns(UserWarning, match="lasts 30 min: only its first 60 s are read"):  # gr.Warning outside a request
        wav, _ = app.render_mix(str(path), str(PIANO), 0.0, 64, "gan", 0)
    assert_valid_wav(wav)
    model = app_common.get_model()
    tracemalloc.start()
    try:
        model.prepare(str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40e6, f"decoding used {peak / 1e6:.0f} MB; the whole file as float32 would be 115 MB"
    path.unlink()  # 57 MB: do not keep it in pytest's temp folders


def test_oversized_upload_is_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "huge.wav"
    with open(path, "wb") as f:  # sparse: no disk space used
        f.truncate(app_common.MAX_UPLOAD_BYTES + 1)
    monkeypatch.setattr(sf, "info", lambda *a: pytest.fail("the header was read"))
    monkeypatch.setattr(app_common.get_model(), "load", lambda *a: pytest.fail("the file was decoded"))
    with pytest.raises(gr.Error) as error:
        app.render_all(str(path), 60, 1)
    assert_readable(error, f"{app_common.MAX_UPLOAD_MB} mb")


def test_no_upload_is_reported():
    with pytest.raises(gr.Error) as error:
        app.render_all(None, 60, 1)
    assert error.value.message == "Please upload or record a sound first."


def test_bad_mix_input_names_the_sound(tmp_path):
    with pytest.raises(gr.Error) as error:
        app.render_mix(str(PIANO), write_bad_file(tmp_path, "silent"), 0.5, 69, "hyper", 1)
    assert_readable(error, "second sound", "silent")


@pytest.mark.parametrize("pitch, steps, words", [(120, 0, ["pitch", "21-108"]), (20, 0, ["pitch", "21-108"]),
                                                  (60, 2.5, ["steps", "0-10"])])
def test_bad_setting_is_reported(pitch, steps, words):
    with pytest.raises(gr.Error) as error:
        app.render_mix(str(PIANO), str(HANDSAW), 0.5, pitch, "gan", steps)
    assert_readable(error, *words)


@pytest.mark.parametrize("mix", [-0.5, 1.5, float("nan"), "half"])
def test_bad_mix_weight_is_reported(mix):
    """The slider makes weights [1 - mix, mix]; an API client can send any mix: a negative weight is refused."""
    with pytest.raises(gr.Error) as error:
        app.render_mix(str(PIANO), str(HANDSAW), mix, 60, "gan", 0)
    assert_readable(error, "mix", "0", "1")


@pytest.mark.parametrize("weights", [[-1.0, 2.0], [0.0, 0.0], [1.0, -1.0]])
def test_bad_interpolation_weights_are_reported_by_the_library(weights):
    with pytest.raises(ValueError, match="non-negative numbers with a positive sum"):
        app_common.get_model().interpolate([str(PIANO), str(HANDSAW)], weights, 60, "gan", 0)


# -- (b') temporary files, settings of the served app, the Space folder ------------------------------
def test_old_outputs_are_deleted():
    old = Path(app.render_mix(str(PIANO), str(HANDSAW), 0.5, 60, "gan", 0)[0])
    assert old.parent == app_common.OUTPUT_DIR and old.is_file()
    stale = time.time() - app_common.OUTPUT_MAX_AGE_S - 60
    os.utime(old, (stale, stale))
    new = Path(app.render_mix(str(PIANO), str(HANDSAW), 0.5, 60, "gan", 0)[0])  # each request purges first
    assert new.is_file() and not old.exists()
    assert app_common.purge_outputs(max_age_s=0) >= 1 and not new.exists()


def test_launch_settings(monkeypatch):
    launched = {}
    monkeypatch.setattr(app, "warm_up", lambda: None)
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kwargs: launched.update(demo=self, **kwargs))
    app.main()
    demo = launched["demo"]
    assert launched["max_file_size"] == app_common.MAX_UPLOAD_BYTES
    assert demo.delete_cache == app_common.CACHE_SETTINGS  # gradio deletes its cached uploads and outputs
    assert demo._queue.default_concurrency_limit == 2 and demo._queue.max_size == app.QUEUE_MAX_SIZE
    api = {dep.api_name for dep in demo.fns.values()}
    assert {"render", "mix", "ab_render", "timings"} <= api
    players = {block.elem_id: block for block in demo.blocks.values() if isinstance(block, gr.Audio)}
    for elem_id in ("play-gan", "play-encoder", "play-hyper", "mix-output", "ab-a", "ab-b"):
        assert players[elem_id].format == "wav", elem_id  # the handlers' WAVs are served as written


def test_threads_are_split_between_concurrent_requests(monkeypatch):
    from threadpoolctl import threadpool_info, threadpool_limits

    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.setattr(os, "cpu_count", lambda: 8)
        assert app.configure_threads() == 8 // app.CONCURRENCY_LIMIT == torch.get_num_threads()
        assert all(pool["num_threads"] == 4 for pool in threadpool_info() if pool["user_api"] == "blas")
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        assert app.configure_threads() == 3 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
        threadpool_limits(before, user_api="blas")


def test_space_card_matches_gradio():
    card = (REPO_ROOT / "demos" / "README.md").read_text()
    front = card.split("---")[1]
    fields = dict(line.split(":", 1) for line in front.strip().splitlines())
    fields = {k.strip(): v.strip().strip('"') for k, v in fields.items()}
    assert fields["sdk"] == "gradio" and fields["sdk_version"] == gr.__version__
    assert fields["app_file"] == "app.py" and fields["license"] == "mit" and fields["title"] and fields["emoji"]


@pytest.mark.slow
def test_make_space_assembles_a_runnable_folder(tmp_path):
    space = tmp_path / "space"
    run = subprocess.run(["bash", str(REPO_ROOT / "demos" / "make_space.sh"), str(space)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    for name in ("app.py", "demos/__init__.py", "demos/app.py", "demos/keyboard_tab.py", "demos/keyboard.js",
                 "demos/keyboard.css", "README.md", "requirements.txt", "packages.txt", "hyperlib/__init__.py",
                 "hyperlib/pipeline.py", "checkpoints/config.json", "examples/piano_c4.aif", "examples/ATTRIBUTION.md"):
        assert (space / name).is_file(), name
    assert not list(space.rglob("make_space.sh")) and not (space / "checkpoints" / "_train").exists()
    assert not list(space.rglob("__pycache__"))
    # the app's package uses the library, weights and examples beside it; its temp folder goes when the process ends
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = ("import json, demos, hyperlib; from demos import app, app_common; print(json.dumps([str(demos.ROOT), "
             "hyperlib.__file__, str(app_common.EXAMPLES_DIR), app_common.PIANO.is_file(), str(app_common.OUTPUT_DIR), "
             "str(app_common.EXAMPLE_COPIES)]))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=space, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    root, package, examples, piano_shown, output_dir, copies = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(root) == space and Path(package).is_relative_to(space) and Path(examples) == space / "examples"
    assert piano_shown and not Path(output_dir).exists() and not Path(copies).exists()
    # the Space's app.py starts the app, as the Space runs it (``python app.py`` in its folder)
    try:
        with serve_app(tmp_path / "served", ["app.py"], STARTUP_TIMEOUT_S, env, cwd=space) as url:
            with urllib.request.urlopen(url + "config", timeout=30) as response:
                config = json.load(response)
    except AppStartError as exc:
        pytest.fail(str(exc))
    assert config["title"] == "HyperGANStrument"


# -- (c) the app served over HTTP ---------------------------------------------------------------
@contextmanager
def start_app(tmp_path: Path):
    """``python -m demos.app`` on a free local port, gradio's cache in ``tmp_path``; yields its URL, always stops it."""
    try:
        with serve_app(tmp_path, timeout_s=STARTUP_TIMEOUT_S) as url:
            yield url
    except AppStartError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def served_app(tmp_path):
    with start_app(tmp_path) as url:
        yield url


@pytest.mark.slow
def test_served_app_render_endpoint(served_app, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(served_app, verbose=False, analytics_enabled=False, download_files=str(tmp_path / "downloads"))
    outputs = client.predict(handle_file(str(PIANO)), 60, 3, "synthesize", api_name="/render")
    wavs = outputs[1:-1:2]
    assert len(wavs) == 5  # the four quick methods and the pitch shift
    for path in wavs:
        assert_valid_wav(path)
    assert "C4" in outputs[-1]
    timings = client.predict(api_name="/timings")  # the server's own stage timings of that request
    assert timings["total"] > timings["vocoder"] > 0 and timings["hyper: G+H"] > 0
    from gradio_client.exceptions import AppError

    # what the slider cannot send, an API client can: the answers are messages, and the server goes on
    for mix, words in ((1.5, ["greater than maximum", "1"]), (-0.5, ["less than minimum", "0"])):
        with pytest.raises(AppError) as error:
            client.predict(handle_file(str(PIANO)), handle_file(str(HANDSAW)), mix, 60, "gan", 0, api_name="/mix")
        assert all(word in str(error.value).lower() for word in words), str(error.value)
    with pytest.raises(AppError, match="silent"):
        client.predict(handle_file(write_bad_file(tmp_path, "silent")), 60, 0, "synthesize", api_name="/render")
    path, _ = client.predict(handle_file(str(PIANO)), handle_file(str(HANDSAW)), 0.25, 60, "gan", 0, api_name="/mix")
    assert_valid_wav(path)
