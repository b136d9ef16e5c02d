"""The soundfont corpus: rendering, manifest fields, mels, load/save round trip, and the `corpus` CLI."""
from __future__ import annotations

import csv
import json
import shutil
from dataclasses import asdict, fields, replace

import librosa
import numpy as np
import pytest

from conftest import REPO, TINY_PITCHES, TINY_PROGRAMS, run_cli
from hyperlib import AudioConfig
from hyperlib.cli import build_parser
from hyperlib.corpus import (SOUNDFONTS, TRAIN_FONTS, WIDE_FONTS, FontRenderer, NoteRecord, load_corpus, render_corpus,
                             save_corpus, soundfont_path)

MANIFEST_FIELDS = ["soundfont", "bank", "program", "preset_name", "instrument_id", "family", "pitch", "velocity",
                   "pitched", "licence", "package"]


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
        assert (r["licence"], r["package"]) == ("GPL-2", "timgm6mb-soundfont")


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


def test_load_corpus_without_licence_columns(tiny_corpus, tmp_path):
    """A manifest written before the licence and package columns reads back with them empty."""
    rows = read_manifest(tiny_corpus)
    with open(tmp_path / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS[:-2], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    for name in ("mels.npy", "audio_config.json"):
        shutil.copy(tiny_corpus / name, tmp_path / name)
    old, new = load_corpus(tmp_path), load_corpus(tiny_corpus)
    assert {(n.licence, n.package) for n in old.notes} == {("", "")}
    assert [replace(n, licence="", package="") for n in new.notes] == old.notes


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
    assert {(n.licence, n.package) for n in c.notes} == {("MIT", "")}


def test_synth_patches_render_the_same_notes_in_several_processes(tmp_path):
    one = render_corpus(tmp_path / "one", [], pitches=[40, 60, 100], synth_patches=5, seed=3)
    two = render_corpus(tmp_path / "two", [], pitches=[40, 60, 100], synth_patches=5, seed=3, workers=2)
    assert len(one.notes) == 15 and one.notes == two.notes
    assert np.array_equal(one.mels, two.mels)
    assert len({n.instrument_id for n in two.notes}) == 5


# -- the training sources: table, command line, and each source rendered ---------------------------------------
def test_sources_table():
    """Every source names its licence and Debian package; the validation font never enters a training corpus."""
    for name, source in SOUNDFONTS.items():
        assert source.licence and source.package and source.split in ("train", "validation"), name
        assert REPO not in source.path.parents, name  # the evaluation's recordings (examples/, recordings/) never
    assert set(TRAIN_FONTS) < set(WIDE_FONTS)
    assert {"FluidR3_GS", "AVL_Black_Pearl", "AVL_Red_Zeppelin", "FreePats"} <= set(WIDE_FONTS) - set(TRAIN_FONTS)
    assert "TimGM6mb" not in WIDE_FONTS and SOUNDFONTS["TimGM6mb"].split == "validation"


def test_cli_corpus_sources():
    parse = build_parser().parse_args
    assert parse(["corpus", "-o", "x"]).fonts == TRAIN_FONTS
    assert parse(["corpus", "--wide", "-o", "x"]).fonts == WIDE_FONTS
    assert parse(["corpus", "--fonts", "FreePats", "-o", "x"]).fonts == ["FreePats"]
    with pytest.raises(SystemExit):
        parse(["corpus", "--wide", "--fonts", "FreePats", "-o", "x"])


def test_missing_source_names_its_package(monkeypatch, tmp_path):
    monkeypatch.setattr("hyperlib.corpus.SOUNDFONT_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="apt-get install avldrums.lv2-soundfont"):
        soundfont_path("AVL_Black_Pearl")
    monkeypatch.setitem(SOUNDFONTS, "FreePats", replace(SOUNDFONTS["FreePats"], file=str(tmp_path / "none.cfg")))
    with pytest.raises(FileNotFoundError, match="apt-get install freepats"):
        soundfont_path("FreePats")
    monkeypatch.setattr("hyperlib.timidity.shutil.which", lambda _: None)
    (tmp_path / "none.cfg").write_text("bank 0\n0 piano.pat\n")
    with pytest.raises(FileNotFoundError, match="apt-get install timidity"):
        FontRenderer().presets("FreePats")


def test_timidity_config(tmp_path):
    from hyperlib.timidity import read_config

    cfg = tmp_path / "set.cfg"
    cfg.write_text("dir /x\n# comment\nbank 0\n 0\tTone_000/000_Acoustic_Grand_Piano.pat amp=120\n"
                   "40 Tone_000/040_Violin.pat # a violin\nbank 1\n5 v/005_Warm_Pad.pat\n"
                   "drumset 0\n36 Drum_000/036_Kick_2.pat\n")
    patches = read_config(cfg)
    assert patches.banks == {0: {0: "Acoustic Grand Piano", 40: "Violin"}, 1: {5: "Warm Pad"}}
    assert patches.drumsets == {0: {36: "Kick 2"}}
    cfg.write_text("0 Tone_000/000_Acoustic_Grand_Piano.pat\n")
    with pytest.raises(ValueError, match="before any"):
        read_config(cfg)


def installed(*names: str) -> list[str]:
    """The sources ``names``; skips the test, naming the Debian packages, where one is not installed."""
    missing = {SOUNDFONTS[n].package for n in names if not SOUNDFONTS[n].path.is_file()}
    if any(SOUNDFONTS[n].timidity for n in names) and shutil.which("timidity") is None:
        missing.add("timidity")
    if missing:
        pytest.skip(f"not installed: apt-get install {' '.join(sorted(missing))}")
    return list(names)


def assert_pitch_band(mel: np.ndarray, pitch: int) -> None:
    """The mel band of ``pitch``'s fundamental is (nearly) the loudest and no band far below it is strong."""
    cfg = AudioConfig()
    centers = librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.f_min, fmax=cfg.f_max)[1:-1]
    profile = mel.astype(np.float32).mean(axis=1)
    band = int(np.argmin(np.abs(centers - librosa.midi_to_hz(pitch))))
    assert profile[band] > profile.max() - 0.15
    assert np.argmax(profile > profile.max() - 0.3) >= band - 2


def by_instrument(corpus) -> dict[int, list]:
    out = {}
    for n in corpus.notes:
        out.setdefault(n.instrument_id, []).append(n)
    return out


def test_fluidr3_gs_variations_and_sfx_kit(tmp_path):
    """FluidR3_GS: the GS variation presets of program 122 (banks 1-5: rain, thunder, wind, river, bubbles)
    at every pitch, unpitched sound effects; its SFX kit one instrument per key."""
    c = render_corpus(tmp_path / "gs", installed("FluidR3_GS"), programs=[122, 56], pitches=[48, 60])
    melodic = [n for n in c.notes if n.bank < 128]
    assert sorted({n.bank for n in melodic}) == [1, 2, 3, 4, 5] and {n.program for n in melodic} == {122}
    assert sorted((n.bank, n.pitch) for n in melodic) == [(b, p) for b in range(1, 6) for p in (48, 60)]
    kit = [n for n in c.notes if n.bank == 128]
    assert sorted(n.pitch for n in kit) == [48, 60] and {n.program for n in kit} == {56}
    assert {n.preset_name for n in kit} == {"SFX key 48", "SFX key 60"}
    instruments = by_instrument(c)
    assert len(instruments) == 5 + 2 and all(len({n.preset_name for n in v}) == 1 for v in instruments.values())
    assert all(not n.pitched and n.family == 15 for n in c.notes)  # GM family "sound effects"
    assert {(n.licence, n.package) for n in c.notes} == {("MIT", "fluid-soundfont-gs")}


def test_silent_key_after_a_long_release_is_dropped():
    """A key with no sound stays silent after a note whose release lasts longer than a quarter second."""
    installed("FluidR3_GS")
    renderer = FontRenderer(play_out=True)  # as the wider corpus renders
    assert renderer.render("FluidR3_GS", 5, 122, 60, 100) is not None  # bubbles, a long tail
    assert renderer.render("FluidR3_GS", 128, 56, 36, 100) is None  # the SFX kit has nothing on key 36
    renderer.close()


def test_avl_drum_kits(tmp_path):
    """The AVL kits: one unpitched instrument per (kit, key), a note per velocity at that key; empty keys dropped."""
    fonts = installed("AVL_Black_Pearl", "AVL_Red_Zeppelin")
    c = render_corpus(tmp_path / "avl", fonts, pitches=[36, 38, 42, 100], velocities=(64, 127))
    assert sorted((n.soundfont, n.pitch, n.velocity) for n in c.notes) == \
        sorted((f, k, v) for f in fonts for k in (36, 38, 42) for v in (64, 127))  # key 100 holds no drum
    instruments = by_instrument(c)
    assert len(instruments) == 6
    for notes in instruments.values():
        assert len({(n.soundfont, n.pitch, n.preset_name) for n in notes}) == 1 and len(notes) == 2
    assert {n.preset_name for n in c.notes if n.pitch == 38} == {"Black_Pearl_4pc key 38", "Red_Zeppelin_4pc key 38"}
    assert all(not n.pitched and n.family == 14 and (n.bank, n.program) == (0, 0) for n in c.notes)
    assert {(n.licence, n.package) for n in c.notes} == {("CC-BY-SA-3.0", "avldrums.lv2-soundfont")}
    mels = c.mels.reshape(len(c.mels), -1).astype(np.float32)
    assert len(np.unique(mels, axis=0)) == len(mels)  # kick, snare and hi-hat of two kits at two velocities differ


def test_freepats_through_timidity(tmp_path):
    """FreePats through TiMidity++: melodic patches at their pitches, the drum set one instrument per key (key 29
    has no FreePats drum: timidity's default configuration must not fill it in); the notes cut from one run of a
    preset match notes rendered alone."""
    c = render_corpus(tmp_path / "fp", installed("FreePats"), programs=[0, 40], pitches=[29, 36, 55, 67])
    melodic = [(n, m) for n, m in zip(c.notes, c.mels) if n.bank == 0]
    assert sorted((n.program, n.pitch) for n, _ in melodic) == [(p, k) for p in (0, 40) for k in (29, 36, 55, 67)]
    assert {n.preset_name for n, _ in melodic} == {"Acoustic Grand Piano", "Violin"}
    for n, mel in melodic:
        assert n.pitched and n.family == n.program // 8
        if n.pitch > 36:  # the violin's lowest string is MIDI 55
            assert_pitch_band(mel, n.pitch)
    drums = [n for n in c.notes if n.bank == 128]
    assert [n.preset_name for n in drums] == ["Drum set 0 key 36", "Drum set 0 key 55", "Drum set 0 key 67"]
    assert all(not n.pitched and n.family == 14 for n in drums) and len(by_instrument(c)) == 2 + 3
    assert {(n.licence, n.package) for n in c.notes} == {("GPL-2+", "freepats")}

    renderer = FontRenderer()
    alone = renderer.render("FreePats", 0, 40, 67, 100)
    cut = renderer.render_notes("FreePats", 0, 40, [(55, 100), (67, 100), (55, 100)])
    renderer.close()
    assert alone.shape == (AudioConfig().num_samples,) and alone.dtype == np.float32
    assert np.abs(cut[1] - alone).max() < 0.01 * np.abs(alone).max()
    assert np.abs(cut[0] - cut[2]).max() < 0.01 * np.abs(cut[0]).max()
    assert np.abs(cut[0] - alone).max() > 0.1 * np.abs(alone).max()
