"""NSynth-style corpus rendered in-process from General MIDI soundfonts.

A corpus folder holds ``manifest.csv`` (one row per note) and ``mels.npy`` ((N, n_mels, num_frames)
float16 normalized log-mels, row i belonging to manifest row i). Rendering uses libfluidsynth through
pyfluidsynth with reverb and chorus off; every note goes through the same front end as user audio.
"""
from __future__ import annotations

import contextlib
import csv
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .audio import AudioError, prepare_note
from .config import MAX_PITCH, MIN_PITCH, AudioConfig
from .mel import LogMel

SOUNDFONT_DIR = Path("/usr/share/sounds/sf2")
SOUNDFONTS = {  # name -> (file, split, Debian package, licence)
    "FluidR3_GM": ("FluidR3_GM.sf2", "train", "fluid-soundfont-gm", "MIT"),
    "MuseScore_General": ("MuseScore_General_Full.sf2", "train", "musescore-general-soundfont-lossless", "MIT"),
    "OPL-3_FM": ("OPL-3_FM_128M.sf2", "train", "opl3-soundfont", "CC-BY-SA-4.0"),
    "TimGM6mb": ("TimGM6mb.sf2", "validation", "timgm6mb-soundfont", "GPL-2"),
}
TRAIN_FONTS = [name for name, (_, split, _, _) in SOUNDFONTS.items() if split == "train"]
TRAIN_VELOCITIES = (64, 100, 127)  # MIDI velocities of the training corpus
GM_FAMILIES = ("piano", "chromatic_percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
               "reed", "pipe", "synth_lead", "synth_pad", "synth_effects", "ethnic", "percussive", "sound_effects")
UNPITCHED_PROGRAMS = range(120, 128)  # GM sound effects: breath, seashore, helicopter, applause...
SILENT_PEAK = 64  # int16 peak below which a render counts as silent and is dropped


@dataclass
class NoteRecord:
    """One manifest row. pitch and velocity are MIDI numbers; family is the GM family index 0-15."""

    soundfont: str
    bank: int
    program: int
    preset_name: str
    instrument_id: int
    family: int
    pitch: int
    velocity: int
    pitched: bool


@dataclass
class Corpus:
    """A rendered corpus in memory: ``mels`` (N, n_mels, num_frames) float16 and its ``notes``."""

    mels: np.ndarray
    notes: list[NoteRecord]
    audio_config: AudioConfig

    def column(self, name: str) -> np.ndarray:
        """One manifest column as an array, e.g. ``column("pitch")``."""
        return np.array([getattr(n, name) for n in self.notes])


def soundfont_path(name: str) -> Path:
    """Path of a named soundfont. Raises FileNotFoundError naming the Debian package to install."""
    if name not in SOUNDFONTS:
        raise ValueError(f"Unknown soundfont {name!r}; known: {', '.join(SOUNDFONTS)}.")
    file, _, package, _ = SOUNDFONTS[name]
    path = SOUNDFONT_DIR / file
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: install it with `apt-get install {package}`.")
    return path


def render_corpus(out_dir: str | Path, fonts: list[str], programs: list[int] | None = None,
                  pitches: list[int] | None = None, velocities: tuple[int, ...] = (100,),
                  cfg: AudioConfig = AudioConfig(), hold_s: float = 0.8, synth_patches: int = 0,
                  seed: int = 0, workers: int = 1) -> Corpus:
    """Render every melodic preset (banks 0-127) of ``fonts`` at ``pitches`` and write the corpus.

    Args:
        out_dir: folder for ``manifest.csv``, ``mels.npy`` and ``audio_config.json``.
        fonts: soundfont names (keys of ``SOUNDFONTS``); may be empty when ``synth_patches`` > 0.
        programs: GM program numbers to keep (default all 0-127).
        pitches: MIDI pitches (default 21-108). Near-silent renders are dropped.
        velocities: MIDI velocities.
        hold_s: seconds the key is held before note-off.
        synth_patches: this many random DSP synthesizer patches (``hyperlib.synth_patches``, the four
            types in turn, drawn with ``seed``) added as instruments of soundfont "DSP", bank 0,
            program = patch number, GM family synth lead / pad / effects.
        workers: processes that render the DSP patches (one patch's notes each at a time; the notes and
            their order do not depend on it). The soundfonts render in this process.
    Returns:
        The rendered ``Corpus``.
    Raises:
        RuntimeError: every render was silent.
    """
    pitches = list(range(MIN_PITCH, MAX_PITCH + 1)) if pitches is None else pitches
    logmel = LogMel(cfg)
    notes, mels = [], []

    def add(audio: np.ndarray, record: NoteRecord) -> None:
        if (mel := _note_mel(audio, cfg, logmel)) is not None:
            mels.append(mel)
            notes.append(record)

    if fonts:
        _render_fonts(fonts, programs, pitches, velocities, cfg, hold_s, add)
    if synth_patches:
        from .synth_patches import KINDS, random_patch

        rng = np.random.default_rng(seed)
        first_id = max((n.instrument_id for n in notes), default=-1) + 1
        jobs = [(i, random_patch(rng, KINDS[i % len(KINDS)]), first_id + i, seed + i, pitches, velocities, cfg,
                 hold_s) for i in range(synth_patches)]
        with contextlib.ExitStack() as stack:
            pool_map = stack.enter_context(ProcessPoolExecutor(workers, initializer=torch.set_num_threads,
                                                               initargs=(1,))).map if workers > 1 else map
            rendered = pool_map(_render_patch_notes, jobs)
            for patch_mels, patch_notes in tqdm(rendered, total=len(jobs), desc="render DSP patches", unit="patch"):
                mels += patch_mels
                notes += patch_notes
    if not notes:
        raise RuntimeError("Every render was silent: check the soundfont, programs and pitches.")
    corpus = Corpus(np.stack(mels), notes, cfg)
    save_corpus(corpus, out_dir)
    return corpus


class FontRenderer:
    """Plays single notes of General MIDI soundfonts through libfluidsynth (reverb and chorus off).

    ``render(font, bank, program, pitch, velocity)`` returns the raw (num_samples,) float32 mono render
    in [-1, 1] at ``cfg.sample_rate`` Hz: the key held ``hold_s`` seconds, then released; ``None`` when
    the render is near-silent. The same notes as the corpus holds (before the front end). Fonts are
    loaded on first use; raises FileNotFoundError (``soundfont_path``) for a font that is not installed.
    Call ``close()`` when done.
    """

    def __init__(self, cfg: AudioConfig = AudioConfig(), hold_s: float = 0.8):
        import fluidsynth  # imported here: only soundfont rendering needs libfluidsynth

        self.cfg, self.hold = cfg, int(hold_s * cfg.sample_rate)
        self.synth = fluidsynth.Synth(samplerate=float(cfg.sample_rate))
        for key, value in (("synth.reverb.active", 0), ("synth.chorus.active", 0), ("synth.gain", 1.0)):
            self.synth.setting(key, value)
        self.font_ids: dict[str, int] = {}

    def font_id(self, font: str) -> int:
        if font not in self.font_ids:
            self.font_ids[font] = self.synth.sfload(str(soundfont_path(font)))
        return self.font_ids[font]

    def presets(self, font: str) -> list[tuple[int, int, str]]:
        """(bank, program, name) of every preset of ``font``."""
        sfid = self.font_id(font)
        return [(bank, program, name.strip()) for bank in range(128) for program in range(128)
                if (name := self.synth.sfpreset_name(sfid, bank, program)) is not None]

    def render(self, font: str, bank: int, program: int, pitch: int, velocity: int) -> np.ndarray | None:
        synth = self.synth
        synth.program_select(0, self.font_id(font), bank, program)
        synth.noteon(0, pitch, velocity)
        held = synth.get_samples(self.hold)
        synth.noteoff(0, pitch)
        rest = synth.get_samples(self.cfg.num_samples - self.hold)
        synth.system_reset()
        synth.get_samples(self.cfg.sample_rate // 4)  # flush any release tail
        stereo = np.concatenate([held, rest]).reshape(-1, 2).astype(np.float32)
        if np.abs(stereo).max() < SILENT_PEAK:
            return None
        return stereo.mean(axis=1) / 32768.0

    def close(self) -> None:
        self.synth.delete()


def _render_patch_notes(job) -> tuple[list[np.ndarray], list[NoteRecord]]:
    """The kept notes of one DSP patch: their float16 log-mels and manifest rows (``render_corpus``'s job)."""
    from .synth_patches import FAMILY, render_patch

    i, patch, instrument_id, seed, pitches, velocities, cfg, hold_s = job
    logmel, mels, notes = LogMel(cfg), [], []
    for pitch in pitches:
        for vel in velocities:
            if (mel := _note_mel(render_patch(patch, pitch, vel, cfg, hold_s, seed=seed), cfg, logmel)) is not None:
                mels.append(mel)
                notes.append(NoteRecord("DSP", 0, i, patch.name, instrument_id, FAMILY[patch.kind], pitch, vel, True))
    return mels, notes


def _note_mel(audio: np.ndarray, cfg: AudioConfig, logmel: LogMel) -> np.ndarray | None:
    """(n_mels, num_frames) float16 log-mel of a raw render after the front end; None where it holds no note."""
    try:
        y = prepare_note(audio, cfg)
    except AudioError:
        return None
    with torch.no_grad():
        return logmel(torch.from_numpy(y)[None])[0, 0].numpy().astype(np.float16)


def _render_fonts(fonts, programs, pitches, velocities, cfg: AudioConfig, hold_s: float, add) -> None:
    """Render the fonts' melodic presets through libfluidsynth; ``add(audio, record)`` keeps each note."""
    renderer = FontRenderer(cfg, hold_s)
    presets = [(font, bank, program, name) for font in fonts for bank, program, name in renderer.presets(font)
               if programs is None or program in programs]
    jobs = [(p, pitch, vel) for p in presets for pitch in pitches for vel in velocities]
    instrument_ids = {p[:3]: i for i, p in enumerate(presets)}
    for (font, bank, program, name), pitch, vel in tqdm(jobs, desc="render", unit="note"):
        audio = renderer.render(font, bank, program, pitch, vel)
        if audio is not None:
            add(audio, NoteRecord(font, bank, program, name, instrument_ids[(font, bank, program)],
                                  program // 8, pitch, vel, program not in UNPITCHED_PROGRAMS))
    renderer.close()


def save_corpus(corpus: Corpus, out_dir: str | Path) -> None:
    """Write ``manifest.csv``, ``mels.npy`` and ``audio_config.json`` to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "mels.npy", corpus.mels)
    with open(out / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(asdict(corpus.notes[0])))
        writer.writeheader()
        writer.writerows(asdict(n) for n in corpus.notes)
    (out / "audio_config.json").write_text(json.dumps(asdict(corpus.audio_config), indent=2))


def load_corpus(path: str | Path) -> Corpus:
    """Read a corpus folder written by ``render_corpus``. Raises FileNotFoundError if incomplete."""
    path = Path(path)
    for name in ("manifest.csv", "mels.npy", "audio_config.json"):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path / name} is missing: render the corpus with `python -m hyperlib corpus`.")
    with open(path / "manifest.csv", newline="") as fh:
        notes = [NoteRecord(r["soundfont"], int(r["bank"]), int(r["program"]), r["preset_name"],
                            int(r["instrument_id"]), int(r["family"]), int(r["pitch"]), int(r["velocity"]),
                            r["pitched"] == "True") for r in csv.DictReader(fh)]
    cfg = AudioConfig(**json.loads((path / "audio_config.json").read_text()))
    return Corpus(np.load(path / "mels.npy"), notes, cfg)
