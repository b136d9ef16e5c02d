"""NSynth import: a small folder in NSynth's published layout, written here, read into a corpus."""
from __future__ import annotations

import json

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from hyperlib.audio import prepare_note
from hyperlib.cli import main
from hyperlib.config import AudioConfig
from hyperlib.corpus import GM_FAMILIES, load_corpus
from hyperlib.mel import LogMel
from hyperlib.nsynth import NSynthError, import_nsynth, is_nsynth_corpus, read_note

SR, SECONDS = 16000, 4
# (instrument, instrument_str, family, source): three instruments of different families and sources
INSTRUMENTS = [(7, "keyboard_acoustic_004", "keyboard", "acoustic"), (12, "string_electronic_001", "string", "electronic"),
               (40, "vocal_synthetic_003", "vocal", "synthetic")]
PITCHES = (36, 60, 84)
OUT_OF_RANGE = 12  # NSynth has notes down to MIDI 9; the paper keeps 21-108


def note_audio(pitch: int, harmonics: int, seconds: float = SECONDS, sr: int = SR, delay_s: float = 0.1) -> np.ndarray:
    """A decaying harmonic tone at ``pitch`` (MIDI) after ``delay_s`` of silence, key released at 3 s."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = librosa.midi_to_hz(pitch)
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, harmonics + 1) if k * f0 < sr / 2)
    env = np.exp(-2 * t) * (t < 3) * (t >= delay_s)
    return (0.4 * y * env / np.abs(y).max()).astype(np.float32)


def write_folder(folder, notes: dict[str, tuple[dict, np.ndarray, int]]) -> None:
    """NSynth's layout: examples.json beside audio/<note_str>.wav (16-bit PCM, as published)."""
    (folder / "audio").mkdir(parents=True)
    for name, (_, y, sr) in notes.items():
        sf.write(folder / "audio" / f"{name}.wav", y, sr, subtype="PCM_16")
    (folder / "examples.json").write_text(json.dumps({name: ex for name, (ex, _, _) in notes.items()}))


def example(inst: int, inst_str: str, family: str, source: str, pitch: int, velocity: int = 75) -> tuple[str, dict]:
    name = f"{inst_str}-{pitch:03d}-{velocity:03d}"
    return name, {"note_str": name, "instrument": inst, "instrument_str": inst_str, "pitch": pitch,
                  "velocity": velocity, "sample_rate": SR, "instrument_family_str": family,
                  "instrument_source_str": source, "qualities": [0] * 10}


@pytest.fixture(scope="module")
def nsynth_dir(tmp_path_factory):
    """An ``nsynth-valid`` folder: 3 instruments x 3 pitches, one note below MIDI 21 and one silent note."""
    folder = tmp_path_factory.mktemp("nsynth") / "nsynth-valid"
    notes = {}
    for n, (inst, inst_str, family, source) in enumerate(INSTRUMENTS):
        for pitch in PITCHES:
            name, ex = example(inst, inst_str, family, source, pitch)
            notes[name] = (ex, note_audio(pitch, harmonics=1 + 4 * n), SR)
    name, ex = example(*INSTRUMENTS[0], OUT_OF_RANGE)
    notes[name] = (ex, note_audio(OUT_OF_RANGE, 3), SR)
    name, ex = example(*INSTRUMENTS[1], 72)
    notes[name] = (ex, np.zeros(SR * SECONDS, np.float32), SR)
    write_folder(folder, notes)
    return folder


@pytest.fixture(scope="module")
def imported(nsynth_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("nsynth_corpus")
    assert main(["corpus", "--nsynth", str(nsynth_dir), "-o", str(out)]) == 0
    return out


def test_manifest_of_the_imported_notes(imported):
    corpus = load_corpus(imported)
    # the note below MIDI 21 and the silent note are left out; the rest keep examples.json's order
    assert [(n.instrument_id, n.pitch) for n in corpus.notes] == [(i, p) for i, *_ in INSTRUMENTS for p in PITCHES]
    expected = {7: ("piano", 0), 12: ("strings", 1), 40: ("ensemble", 2)}  # GM family, source index
    for n in corpus.notes:
        family, source = expected[n.instrument_id]
        assert GM_FAMILIES[n.family] == family and n.program == 8 * n.family and n.bank == source
        assert n.soundfont == "nsynth-valid" and n.velocity == 75 and n.pitched
        assert n.preset_name == {i: s for i, s, *_ in INSTRUMENTS}[n.instrument_id]
    assert corpus.audio_config == AudioConfig()


def test_nsynth_corpus_is_recognized(imported, tiny_corpus, tmp_path):
    """The evaluation leaves out its audio distances (notes rendered again from their soundfont) for NSynth."""
    assert is_nsynth_corpus(imported) and not is_nsynth_corpus(tiny_corpus)
    with pytest.raises(FileNotFoundError, match="manifest.csv"):
        is_nsynth_corpus(tmp_path)


def test_mels_are_the_front_end_of_the_wavs(imported, nsynth_dir):
    """Each row is the note's WAV through the front end of user audio (onset, 1.024 s, level) and the log-mel."""
    corpus, cfg = load_corpus(imported), AudioConfig()
    assert corpus.mels.shape == (9, cfg.n_mels, cfg.num_frames) and corpus.mels.dtype == np.float16
    logmel = LogMel(cfg)
    for mel, n in zip(corpus.mels, corpus.notes):
        y, sr = sf.read(nsynth_dir / "audio" / f"{n.preset_name}-{n.pitch:03d}-075.wav", dtype="float32")
        note = prepare_note(y, cfg)
        assert note.shape == (cfg.num_samples,) and np.abs(note[:200]).max() > 0.01  # cut at the onset (0.1 s in)
        with torch.no_grad():
            want = logmel(torch.from_numpy(note)[None])[0, 0].numpy()
        np.testing.assert_allclose(mel.astype(np.float32), want, atol=2e-3)  # float16 storage
    # the loudest band is the fundamental's
    centers = librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.f_min, fmax=cfg.f_max)[1:-1]
    for mel, n in zip(corpus.mels, corpus.notes):
        band = int(np.argmin(np.abs(centers - librosa.midi_to_hz(n.pitch))))
        assert abs(int(mel.astype(np.float32).mean(axis=1).argmax()) - band) <= 1, n


def test_training_reads_the_imported_corpus(imported, small_cfg, tmp_path):
    from hyperlib.training import train_stage
    from hyperlib.training.data import NoteBank

    bank = NoteBank(load_corpus(imported))
    assert bank.num_instruments == 3
    r = bank.exact(torch.arange(len(bank)), torch.full((len(bank),), 84))
    assert torch.all(bank.pitch[r] == 84) and torch.equal(bank.instrument[r], bank.instrument)
    summary = train_stage("features", imported, tmp_path, model_config=small_cfg, steps=2, batch_size=4, log_every=1,
                          adversary_queue=256)
    assert summary["notes"] == 9 and (tmp_path / "f.safetensors").is_file()


def test_resampled_to_the_project_rate(nsynth_dir):
    path = next((nsynth_dir / "audio").glob("*-060-075.wav"))
    y16 = read_note(path, AudioConfig())
    y8 = read_note(path, AudioConfig(sample_rate=8000, num_samples=8192))
    assert y16.shape == (SR * SECONDS,) and y8.shape == (8000 * SECONDS,)
    peak = np.abs(np.fft.rfft(y8[:8000])).argmax()  # 1 Hz bins over the first second
    assert abs(peak - librosa.midi_to_hz(60)) < 2


def bad_folder(tmp_path, **change) -> object:
    """A one-note folder whose note is 4 s at 16 kHz unless ``change`` says otherwise (sr, seconds, drop)."""
    folder = tmp_path / "nsynth-train"
    name, ex = example(*INSTRUMENTS[0], 60)
    for key in change.get("drop", ()):
        ex.pop(key)
    sr = change.get("sr", SR)
    write_folder(folder, {name: (ex, note_audio(60, 3, change.get("seconds", SECONDS), sr), sr)})
    return folder


@pytest.mark.parametrize("change, message", [
    (dict(sr=44100), "44100 Hz.*16000 Hz"),
    (dict(seconds=2.0), "32000 samples.*64000 samples"),
    (dict(drop=("instrument_family_str",)), "lacks instrument_family_str"),
])
def test_bad_notes_are_refused(tmp_path, change, message):
    with pytest.raises(NSynthError, match=message):
        import_nsynth(bad_folder(tmp_path, **change), tmp_path / "out")
    assert not (tmp_path / "out" / "manifest.csv").exists()


def test_bad_folders_are_refused(tmp_path, capsys):
    with pytest.raises(NSynthError, match="examples.json is missing.*nsynth-train"):
        import_nsynth(tmp_path, tmp_path / "out")
    (tmp_path / "examples.json").write_text("{}")
    with pytest.raises(NSynthError, match="audio is missing"):
        import_nsynth(tmp_path, tmp_path / "out")
    (tmp_path / "audio").mkdir()
    (tmp_path / "examples.json").write_text("[1, 2]")
    with pytest.raises(NSynthError, match="object"):
        import_nsynth(tmp_path, tmp_path / "out")
    # on the command line: the message, exit code 2, no traceback
    assert main(["corpus", "--nsynth", str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")]) == 2
    assert "examples.json is missing" in capsys.readouterr().err
