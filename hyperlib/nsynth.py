"""The NSynth dataset (Engel et al. 2017) as a corpus: the paper's training and evaluation data (sec. 4.1).

NSynth is published as three folders, ``nsynth-train``, ``nsynth-valid`` and ``nsynth-test``, each holding
``examples.json`` (one entry per note, keyed by its ``note_str``) beside ``audio/<note_str>.wav``: 4 s mono
notes at 16 kHz, the key held for the first 3 s. ``import_nsynth`` reads one such folder and writes the
soundfont corpus's files (``hyperlib.corpus``: ``manifest.csv``, ``mels.npy``, ``audio_config.json``), so
every training stage and the evaluation read it unchanged. As in the paper (and GANStrument), the notes are
kept at MIDI 21-108 and their level is normalized; each goes through the front end of user audio
(``prepare_note``: onset, 1.024 s, peak level), after resampling where the project's rate is not 16 kHz.

The paper's split: train on ``nsynth-train``, evaluate on ``nsynth-valid`` (or ``nsynth-test``), whose
instruments are not in the training set; one corpus folder per split, as one soundfont per split.

Manifest columns of an NSynth note: ``soundfont`` the folder's name (``nsynth-train``, ...; "nsynth" for
another name), ``bank`` the instrument source (0 acoustic, 1 electronic, 2 synthetic), ``program`` the first
General MIDI program of its family (so ``program // 8 == family``), ``preset_name`` NSynth's
``instrument_str``, ``instrument_id`` NSynth's ``instrument``, ``family`` the General MIDI family of
NSynth's ``instrument_family_str`` (``FAMILY_TO_GM``), ``pitch`` and ``velocity`` as given, ``pitched`` true.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from .audio import AudioError, prepare_note
from .config import AudioConfig
from .corpus import GM_FAMILIES, MAX_PITCH, MIN_PITCH, Corpus, NoteRecord, save_corpus
from .mel import LogMel

SAMPLE_RATE = 16000  # Hz, every NSynth note
NUM_SAMPLES = 4 * SAMPLE_RATE  # 4 s
SPLITS = ("nsynth-train", "nsynth-valid", "nsynth-test")  # the published folder names
SOURCES = ("acoustic", "electronic", "synthetic")  # instrument_source_str, in NSynth's index order
FAMILY_TO_GM = {  # NSynth instrument_family_str -> General MIDI family (hyperlib.corpus.GM_FAMILIES)
    "bass": "bass", "brass": "brass", "flute": "pipe", "guitar": "guitar", "keyboard": "piano",
    "mallet": "chromatic_percussion", "organ": "organ", "reed": "reed", "string": "strings",
    "synth_lead": "synth_lead", "vocal": "ensemble",  # GM's ensemble holds the choir and voice presets
}
REQUIRED_KEYS = ("pitch", "velocity", "instrument", "instrument_family_str", "instrument_source_str")
BATCH = 64  # notes per log-mel call


class NSynthError(ValueError):
    """A folder that is not NSynth's published layout, or a note that breaks it (the message says which)."""


def read_examples(folder: str | Path) -> dict[str, dict]:
    """``examples.json`` of an NSynth folder: note_str -> its attributes.

    Raises:
        NSynthError: the file or the ``audio/`` folder is missing, the JSON is not an object of objects,
            or an entry lacks one of ``REQUIRED_KEYS`` or has an unknown family or source.
    """
    folder = Path(folder)
    path = folder / "examples.json"
    if not path.is_file():
        raise NSynthError(f"{path} is missing: --nsynth takes a folder of NSynth's published layout "
                          f"({' / '.join(SPLITS)}: examples.json beside audio/*.wav).")
    if not (folder / "audio").is_dir():
        raise NSynthError(f"{folder / 'audio'} is missing: NSynth's notes are audio/<note_str>.wav beside examples.json.")
    try:
        examples = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise NSynthError(f"{path} is not valid JSON ({exc}).") from exc
    if not isinstance(examples, dict) or not all(isinstance(v, dict) for v in examples.values()):
        raise NSynthError(f"{path} must map each note_str to an object of its attributes.")
    for name, ex in examples.items():
        missing = [k for k in REQUIRED_KEYS if k not in ex]
        if missing:
            raise NSynthError(f"{path}: note {name!r} lacks {', '.join(missing)}; every note needs "
                              f"{', '.join(REQUIRED_KEYS)}.")
        if ex["instrument_family_str"] not in FAMILY_TO_GM:
            raise NSynthError(f"{path}: note {name!r} has family {ex['instrument_family_str']!r}; NSynth's families "
                              f"are {', '.join(FAMILY_TO_GM)}.")
        if ex["instrument_source_str"] not in SOURCES:
            raise NSynthError(f"{path}: note {name!r} has source {ex['instrument_source_str']!r}; NSynth's sources "
                              f"are {', '.join(SOURCES)}.")
    return examples


def read_note(path: Path, cfg: AudioConfig) -> np.ndarray:
    """One NSynth WAV as (4 s at ``cfg.sample_rate``,) float32 mono (resampled with librosa where needed).

    Raises:
        NSynthError: the file is missing, unreadable, not mono, not 16 kHz or not 4 s long.
    """
    if not path.is_file():
        raise NSynthError(f"{path} is missing: examples.json lists it.")
    try:
        y, sr = sf.read(path, dtype="float32", always_2d=True)
    except RuntimeError as exc:  # soundfile's errors (LibsndfileError) are RuntimeErrors
        raise NSynthError(f"{path} cannot be read as audio ({exc}).") from exc
    if y.shape[1] != 1 or sr != SAMPLE_RATE or y.shape[0] != NUM_SAMPLES:
        raise NSynthError(f"{path}: {y.shape[1]} channel(s), {sr} Hz, {y.shape[0]} samples; NSynth's notes are "
                          f"mono, {SAMPLE_RATE} Hz, {NUM_SAMPLES} samples (4 s).")
    y = y[:, 0]
    if cfg.sample_rate != SAMPLE_RATE:
        y = librosa.resample(y, orig_sr=SAMPLE_RATE, target_sr=cfg.sample_rate)
    return y


def is_nsynth_corpus(corpus_dir: str | Path) -> bool:
    """Whether a corpus folder holds NSynth notes (read from its manifest's first row).

    Their true audio cannot be rendered again from a soundfont, which the evaluation's audio distances do.
    Raises FileNotFoundError where the folder has no ``manifest.csv``."""
    path = Path(corpus_dir) / "manifest.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: write the corpus with `python -m hyperlib corpus`.")
    with open(path, newline="") as fh:
        first = next(csv.DictReader(fh), {})
    return first.get("soundfont") in (*SPLITS, "nsynth")


def import_nsynth(folder: str | Path, out_dir: str | Path, cfg: AudioConfig = AudioConfig()) -> Corpus:
    """Read an NSynth folder (``nsynth-train``, ``nsynth-valid`` or ``nsynth-test``) and write it as a corpus.

    Notes outside MIDI 21-108 are left out (paper sec. 4.1), and so are silent ones (``prepare_note``); the
    rest keep the order of examples.json. Memory: the log-mels of the whole folder, 32 KiB per note at the
    default 128 x 128 float16 (at most 8.8 GiB for nsynth-train's 289,205 notes).

    Args:
        folder: the NSynth folder. out_dir: the corpus folder to write (``hyperlib.corpus.save_corpus``).
        cfg: the audio representation of the corpus.
    Returns:
        The written ``Corpus``.
    Raises:
        NSynthError: a folder or note that breaks NSynth's published layout (``read_examples``,
            ``read_note``), or no note in the pitch range.
    """
    folder = Path(folder)
    examples = read_examples(folder)
    keep = [(name, ex) for name, ex in examples.items() if MIN_PITCH <= int(ex["pitch"]) <= MAX_PITCH]
    if not keep:
        raise NSynthError(f"{folder}: none of its {len(examples)} notes is at MIDI {MIN_PITCH}-{MAX_PITCH}.")
    source = folder.name if folder.name in SPLITS else "nsynth"
    logmel = LogMel(cfg)
    mels = np.empty((len(keep), cfg.n_mels, cfg.num_frames), np.float16)
    notes: list[NoteRecord] = []
    pending: list[np.ndarray] = []

    def flush() -> None:
        if pending:
            with torch.no_grad():
                batch = logmel(torch.from_numpy(np.stack(pending)))[:, 0].numpy()
            mels[len(notes) - len(pending) : len(notes)] = batch.astype(np.float16)
            pending.clear()

    for name, ex in tqdm(keep, desc=f"read {folder.name}", unit="note"):
        try:
            y = prepare_note(read_note(folder / "audio" / f"{name}.wav", cfg), cfg)
        except AudioError:
            continue  # a silent note, as the soundfont corpus drops silent renders
        family = GM_FAMILIES.index(FAMILY_TO_GM[ex["instrument_family_str"]])
        notes.append(NoteRecord(source, SOURCES.index(ex["instrument_source_str"]), family * 8,
                                str(ex.get("instrument_str", f"{ex['instrument_family_str']}_{ex['instrument']}")),
                                int(ex["instrument"]), family, int(ex["pitch"]), int(ex["velocity"]), True))
        pending.append(y)
        if len(pending) == BATCH:
            flush()
    flush()
    if not notes:
        raise NSynthError(f"{folder}: every note at MIDI {MIN_PITCH}-{MAX_PITCH} is silent.")
    corpus = Corpus(mels[: len(notes)], notes, cfg)
    save_corpus(corpus, out_dir)
    return corpus
