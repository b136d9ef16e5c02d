"""The soundfont corpus: rendering, manifest fields, mels, load/save round trip, and the `corpus` CLI."""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, fields

import librosa
import numpy as np
import pytest

from conftest import TINY_PITCHES, TINY_PROGRAMS, run_cli
from hyperlib import AudioConfig
from hyperlib.corpus import NoteRecord, load_corpus, render_corpus, save_corpus, soundfont_path

MANIFEST_FIELDS = ["soundfont", "bank", "program", "preset_name", "instrument_id", "family", "pitch", "velocity",
                   "pitched"]


@pytest.fixture(scope="module")
def corpus(tiny_corpus):
    return load_corpus(tiny_corpus)


def read_manifest(folder) -> list[dict]:
    with open(folder / "manifest.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_files_written(tiny_corpus):
    for name in ("manifest.csv", "mels.npy", "audio_config.json"):
        assert (tiny_corpus / name).is_file()
    assert json.loads((tiny_corpus / "audio_config.json").read_text()) == asdict(AudioConfig())


def test_manifest_fields(tiny_corpus):
    rows = read_manifest(tiny_corpus)
    with open(tiny_corpus / "manifest.csv", newline="") as fh:
        assert next(csv.reader(fh)) == MANIFEST_FIELDS
    assert [f.name for f in fields(NoteRecord)] == MANIFEST_FIELDS
    # every (program, pitch) was rendered once: none of these presets is silent at these pitches
    assert sorted((int(r["program"]), int(r["pitch"])) for r in rows) == \
        sorted((p, k) for p in TINY_PROGRAMS for k in TINY_PITCHES)
    for r in rows:
        assert r["soundfont"] == "TimGM6mb"
        assert int(r["bank"]) == 0
        assert r["preset_name"].strip() and r["preset_name"] == r["preset_name"].strip()
        assert int(r["family"]) == int(r["program"]) // 8
        assert int(r["velocity"]) == 100
        assert r["pitched"] in ("True", "False")


def test_instrument_ids_and_names(corpus):
    by_program = {}
    for n in corpus.notes:
        by_program.setdefault(n.program, set()).add((n.instrument_id, n.preset_name))
    assert all(len(v) == 1 for v in by_program.values())  # one id and one name per preset
    ids = sorted(next(iter(v))[0] for v in by_program.values())
    assert ids == list(range(len(TINY_PROGRAMS)))  # contiguous, distinct
    names = {p: next(iter(v))[1].lower() for p, v in by_program.items()}
    assert "piano" in names[0] and "violin" in names[40]  # GM program 0 is a piano, 40 a violin


def test_unpitched_flag(corpus):
    for n in corpus.notes:
        assert n.pitched == (n.program != 125), n  # 125 (helicopter) is a GM sound effect
    assert corpus.column("pitched").dtype == bool


def test_mels(corpus, tiny_corpus):
    mels = np.load(tiny_corpus / "mels.npy")
    cfg = AudioConfig()
    assert mels.dtype == np.float16
    assert mels.shape == (len(corpus.notes), cfg.n_mels, cfg.num_frames)
    assert np.all(np.isfinite(mels))
    assert mels.min() >= -1.001 and mels.max() <= 1.05
    flat = mels.reshape(len(mels), -1).astype(np.float32)
    assert np.all(flat.std(axis=1) > 0.05)  # no blank rows
    assert len(np.unique(flat, axis=0)) == len(mels)  # every row is a different note


def test_mel_rows_match_manifest_pitch(corpus):
    """Row i of mels.npy is the note of manifest row i: the band of its fundamental is (nearly) the loudest
    and no band far below it is strong."""
    cfg = corpus.audio_config
    centers = librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.f_min, fmax=cfg.f_max)[1:-1]
    checked = 0
    for mel, note in zip(corpus.mels, corpus.notes):
        if not note.pitched:
            continue
        profile = mel.astype(np.float32).mean(axis=1)
        band = int(np.argmin(np.abs(centers - librosa.midi_to_hz(note.pitch))))
        assert profile[band] > profile.max() - 0.15, note
        assert np.argmax(profile > profile.max() - 0.3) >= band - 2, note
        checked += 1
    assert checked == 3 * len(TINY_PITCHES)


def test_load_corpus_round_trip(corpus, tiny_corpus, tmp_path):
    again = load_corpus(tiny_corpus)
    assert again.notes == corpus.notes
    assert np.array_equal(again.mels, corpus.mels)
    assert again.audio_config == AudioConfig()
    assert all(isinstance(n.pitched, bool) and isinstance(n.pitch, int) for n in again.notes)
    # save a subset and read it back
    keep = [i for i, n in enumerate(corpus.notes) if n.program in (40, 125)]
    sub = type(corpus)(corpus.mels[keep], [corpus.notes[i] for i in keep], corpus.audio_config)
    save_corpus(sub, tmp_path / "sub")
    back = load_corpus(tmp_path / "sub")
    assert back.notes == sub.notes and np.array_equal(back.mels, sub.mels)
    assert list(back.column("program")) == [corpus.notes[i].program for i in keep]


def test_load_corpus_incomplete(tiny_corpus, tmp_path):
    with pytest.raises(FileNotFoundError):
        load_corpus(tmp_path)
    (tmp_path / "manifest.csv").write_bytes((tiny_corpus / "manifest.csv").read_bytes())
    with pytest.raises(FileNotFoundError, match="mels.npy"):
        load_corpus(tmp_path)


def test_soundfont_lookup():
    assert soundfont_path("TimGM6mb").is_file()
    with pytest.raises(ValueError, match="NoSuchFont"):
        soundfont_path("NoSuchFont")


@pytest.mark.slow
def test_cli_corpus_tiny(tmp_path):
    out = tmp_path / "cli_corpus"
    proc = run_cli("corpus", "--tiny", "--fonts", "TimGM6mb", "-o", out)
    assert proc.returncode == 0, proc.stderr
    c = load_corpus(out)
    assert f"{len(c.notes)} notes" in proc.stdout
    assert sorted(set(c.column("program"))) == [0, 40, 73]
    assert sorted(set(c.column("pitch"))) == TINY_PITCHES
    assert len(c.notes) == 3 * len(TINY_PITCHES)
    assert c.mels.shape == (len(c.notes), 128, 128) and c.mels.dtype == np.float16


@pytest.mark.slow
def test_cli_corpus_unknown_font(tmp_path):
    proc = run_cli("corpus", "--tiny", "--fonts", "NoSuchFont", "-o", tmp_path / "x")
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


# -- random DSP synthesizer patches ---------------------------------------------------------------------------
def test_synth_patches_play_the_asked_pitch():
    from hyperlib.synth_patches import KINDS, random_patch, render_patch

    rng = np.random.default_rng(3)
    flatness = {}
    for kind in KINDS:
        patch = random_patch(rng, kind)
        for midi in (48, 67):
            y = render_patch(patch, midi, 100)
            assert y.shape == (AudioConfig().num_samples,) and y.dtype == np.float32
            assert np.all(np.isfinite(y)) and 0.05 < np.abs(y).max() <= 1.0
            if kind != "noise":
                f0, voiced, _ = librosa.pyin(y[:8000], fmin=60, fmax=1000, sr=16000, frame_length=2048)
                assert voiced.any(), (kind, midi)
                assert abs(librosa.hz_to_midi(np.nanmedian(f0[voiced])) - midi) < 0.5, (kind, midi, patch.name)
        flatness[kind] = float(librosa.feature.spectral_flatness(y=render_patch(patch, 60)).mean())
    assert flatness["noise"] > 10 * flatness["additive"]  # the noise type is what the fonts lack
    with pytest.raises(ValueError, match="Unknown synthesis type"):
        random_patch(rng, "granular")
    with pytest.raises(ValueError, match="velocity"):
        render_patch(random_patch(rng), 60, 0)


@pytest.mark.slow
def test_corpus_with_synth_patches_only(tmp_path):
    corpus = run_cli("corpus", "--fonts", "--synth-patches", "4", "--pitches", "48", "60", "-o", str(tmp_path / "dsp"))
    assert corpus.returncode == 0, corpus.stderr
    c = load_corpus(tmp_path / "dsp")
    assert len(c.notes) == 24 and c.mels.shape == (24, 128, 128)  # 4 patches x 2 pitches x 3 default velocities
    assert sorted({n.velocity for n in c.notes}) == [64, 100, 127]
    assert {n.soundfont for n in c.notes} == {"DSP"} and len({n.instrument_id for n in c.notes}) == 4
    assert {n.preset_name.split("-")[0] for n in c.notes} == {"subtractive", "fm", "additive", "noise"}
    assert all(n.pitched and n.family in (10, 11, 12) for n in c.notes)


def test_synth_patches_render_the_same_notes_in_several_processes(tmp_path):
    one = render_corpus(tmp_path / "one", [], pitches=[40, 60, 100], synth_patches=5, seed=3)
    two = render_corpus(tmp_path / "two", [], pitches=[40, 60, 100], synth_patches=5, seed=3, workers=2)
    assert len(one.notes) == 15 and one.notes == two.notes
    assert np.array_equal(one.mels, two.mels)
    assert len({n.instrument_id for n in two.notes}) == 5
