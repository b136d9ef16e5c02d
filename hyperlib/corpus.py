"""NSynth-style corpus rendered in-process from openly licensed instrument sources.

A corpus folder holds ``manifest.csv`` (one row per note) and ``mels.npy`` ((N, n_mels, num_frames)
float16 normalized log-mels, row i belonging to manifest row i). Soundfonts render through libfluidsynth
(pyfluidsynth) with reverb and chorus off, TiMidity++ patch sets through the ``timidity`` program
(``hyperlib.timidity``) with its effects off; every note goes through the same front end as user audio.

Melodic presets play every pitch. A drum kit plays a different sound on each key, so each key of a kit is
an instrument of its own, with one note per velocity at that key (its ``pitch``), flagged unpitched, of
GM family "percussive" (GS drum kit 56, "SFX", of family "sound effects").
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


@dataclass(frozen=True)
class Source:
    """One openly licensed instrument source of the corpus.

    file: a soundfont (``.sf2``, relative to ``SOUNDFONT_DIR``), rendered by libfluidsynth, or a TiMidity++
        configuration (``.cfg``, absolute path) whose patches the ``timidity`` program renders.
    split: "train" or "validation". package: the Debian package that installs it. licence: the licence of
        its sounds, as the package's copyright file gives it.
    kit_banks: banks whose presets are drum kits, rendered key by key (every other preset in banks 0-127 is
        melodic); a soundfont's bank 128 is its GM percussion bank, a TiMidity++ drum set is listed as bank 128.
    default: in the default training corpus (``corpus`` without ``--fonts`` or ``--wide``), the corpus the
        shipped model was trained on.
    """

    file: str
    split: str
    package: str
    licence: str
    kit_banks: tuple[int, ...] = ()
    default: bool = False

    @property
    def path(self) -> Path:
        return SOUNDFONT_DIR / self.file

    @property
    def timidity(self) -> bool:
        return self.file.endswith(".cfg")


SOUNDFONTS = {
    "FluidR3_GM": Source("FluidR3_GM.sf2", "train", "fluid-soundfont-gm", "MIT", default=True),
    "MuseScore_General": Source("MuseScore_General_Full.sf2", "train", "musescore-general-soundfont-lossless", "MIT",
                                default=True),
    "OPL-3_FM": Source("OPL-3_FM_128M.sf2", "train", "opl3-soundfont", "CC-BY-SA-4.0", default=True),
    # FluidR3's GS sound-effect variations (banks 1-8, programs 120-127) and its GS "SFX" drum kit
    "FluidR3_GS": Source("FluidR3_GS.sf2", "train", "fluid-soundfont-gs", "MIT", kit_banks=(128,)),
    "AVL_Black_Pearl": Source("Black_Pearl_4_LV2.sf2", "train", "avldrums.lv2-soundfont", "CC-BY-SA-3.0",
                              kit_banks=(0,)),
    "AVL_Red_Zeppelin": Source("Red_Zeppelin_4_LV2.sf2", "train", "avldrums.lv2-soundfont", "CC-BY-SA-3.0",
                               kit_banks=(0,)),
    "FreePats": Source("/etc/timidity/freepats.cfg", "train", "freepats", "GPL-2+", kit_banks=(128,)),
    "TimGM6mb": Source("TimGM6mb.sf2", "validation", "timgm6mb-soundfont", "GPL-2"),
}
TRAIN_FONTS = [name for name, s in SOUNDFONTS.items() if s.split == "train" and s.default]  # the default corpus
WIDE_FONTS = [name for name, s in SOUNDFONTS.items() if s.split == "train"]  # every training source (``--wide``)
DSP_LICENCE = "MIT"  # the DSP patches are drawn by this project's code
TRAIN_VELOCITIES = (64, 100, 127)  # MIDI velocities of the training corpus
GM_FAMILIES = ("piano", "chromatic_percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
               "reed", "pipe", "synth_lead", "synth_pad", "synth_effects", "ethnic", "percussive", "sound_effects")
UNPITCHED_PROGRAMS = range(120, 128)  # GM sound effects: breath, seashore, helicopter, applause...
KIT_FAMILY = GM_FAMILIES.index("percussive")
GS_SFX_KIT = 56  # GS drum kit 56 (bank 128), "SFX": sound effects on its keys
SILENT_PEAK = 64  # int16 peak below which a render counts as silent and is dropped
FLUSH_S = 4  # with ``play_out``, at most this many seconds of a released note's tail are played out between notes


@dataclass
class NoteRecord:
    """One manifest row. pitch and velocity are MIDI numbers (for a drum kit's key, pitch is the key); family is
    the GM family index 0-15; licence and package: the source's licence and Debian package (``Source``;
    empty where unknown, as in corpora written before they were recorded)."""

    soundfont: str
    bank: int
    program: int
    preset_name: str
    instrument_id: int
    family: int
    pitch: int
    velocity: int
    pitched: bool
    licence: str = ""
    package: str = ""


@dataclass
class Corpus:
    """A rendered corpus in memory: ``mels`` (N, n_mels, num_frames) float16 and its ``notes``."""

    mels: np.ndarray
    notes: list[NoteRecord]
    audio_config: AudioConfig

    def column(self, name: str) -> np.ndarray:
        """One manifest column as an array, e.g. ``column("pitch")``."""
        return np.array([getattr(n, name) for n in self.notes])


def source(name: str) -> Source:
    """The ``Source`` of a name of ``SOUNDFONTS``. Raises ValueError for an unknown name, listing the known ones."""
    if name not in SOUNDFONTS:
        raise ValueError(f"Unknown soundfont {name!r}; known: {', '.join(SOUNDFONTS)}.")
    return SOUNDFONTS[name]


def soundfont_path(name: str) -> Path:
    """Path of a named source (a soundfont or a TiMidity++ configuration).

    Raises ValueError for an unknown name, FileNotFoundError naming the Debian package to install.
    """
    src = source(name)
    if not src.path.is_file():
        raise FileNotFoundError(f"{src.path} is missing: install it with `apt-get install {src.package}`.")
    return src.path


def render_corpus(out_dir: str | Path, fonts: list[str], programs: list[int] | None = None,
                  pitches: list[int] | None = None, velocities: tuple[int, ...] = (100,),
                  cfg: AudioConfig = AudioConfig(), hold_s: float = 0.8, synth_patches: int = 0,
                  seed: int = 0, workers: int = 1) -> Corpus:
    """Render every melodic preset (banks 0-127) of ``fonts`` at ``pitches``, and every key among ``pitches``
    of their drum kits (``Source.kit_banks``), and write the corpus.

    Args:
        out_dir: folder for ``manifest.csv``, ``mels.npy`` and ``audio_config.json``.
        fonts: source names (keys of ``SOUNDFONTS``); may be empty when ``synth_patches`` > 0.
        programs: program numbers to keep, of melodic presets and drum kits alike (default all 0-127).
        pitches: MIDI pitches, and drum kit keys (default 21-108). Near-silent renders are dropped.
        velocities: MIDI velocities.
        hold_s: seconds the key is held before note-off.
        synth_patches: this many random DSP synthesizer patches (``hyperlib.synth_patches``, the four
            types in turn, drawn with ``seed``) added as instruments of soundfont "DSP", bank 0,
            program = patch number, GM family synth lead / pad / effects, licence ``DSP_LICENCE``.
        workers: processes that render the DSP patches (one patch's notes each at a time; the notes and
            their order do not depend on it). The sources render in this process.
    Returns:
        The rendered ``Corpus``.
    Raises:
        RuntimeError: every render was silent. ValueError: an unknown source. FileNotFoundError: a source
            (or the ``timidity`` program) is not installed; the message names its Debian package.
    """
    pitches = list(range(MIN_PITCH, MAX_PITCH + 1)) if pitches is None else pitches
    logmel = LogMel(cfg)
    notes, mels = [], []

    def add(audio: np.ndarray, record: NoteRecord) -> bool:
        if (mel := _note_mel(audio, cfg, logmel)) is None:
            return False
        mels.append(mel)
        notes.append(record)
        return True

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
    """Plays single notes of the sources in ``SOUNDFONTS``: soundfonts through libfluidsynth (reverb and chorus
    off), TiMidity++ patch sets through the ``timidity`` program (``hyperlib.timidity``, effects off).

    ``render(font, bank, program, pitch, velocity)`` returns the raw (num_samples,) float32 mono render
    in [-1, 1] at ``cfg.sample_rate`` Hz: the key held ``hold_s`` seconds, then released; ``None`` when
    the render is near-silent. For a drum kit (``kits``) the pitch is the key. ``render_notes`` plays several
    notes of one preset (one ``timidity`` run for all of them). The same notes as the corpus holds (before the
    front end). Sources are loaded on first use; raises FileNotFoundError (``soundfont_path``, or
    ``hyperlib.timidity``) for a source or program that is not installed. Call ``close()`` when done.

    Between two notes libfluidsynth plays a quarter second of the released voices, as the default corpus and the
    validation corpus were rendered (a long release can then still sound at the next note's start); ``play_out``
    plays each tail out until silence (at most ``FLUSH_S`` seconds), as the wider corpus's sources need (drum kits
    and sound effects ring for seconds, and a silent key would otherwise keep the previous note's tail).
    """

    def __init__(self, cfg: AudioConfig = AudioConfig(), hold_s: float = 0.8, play_out: bool = False):
        import fluidsynth  # imported here: only soundfont rendering needs libfluidsynth

        self.cfg, self.hold_s, self.hold, self.play_out = cfg, hold_s, int(hold_s * cfg.sample_rate), play_out
        self.synth = fluidsynth.Synth(samplerate=float(cfg.sample_rate))
        for key, value in (("synth.reverb.active", 0), ("synth.chorus.active", 0), ("synth.gain", 1.0)):
            self.synth.setting(key, value)
        self.font_ids: dict[str, int] = {}
        self._presets: dict[str, list[tuple[int, int, str]]] = {}

    def font_id(self, font: str) -> int:
        if font not in self.font_ids:
            self.font_ids[font] = self.synth.sfload(str(soundfont_path(font)))
        return self.font_ids[font]

    def presets(self, font: str) -> list[tuple[int, int, str]]:
        """(bank, program, name) of every melodic preset of ``font`` (banks 0-127 outside its kit banks)."""
        return [p for p in self._all_presets(font) if p[0] < 128 and p[0] not in source(font).kit_banks]

    def kits(self, font: str) -> list[tuple[int, int, str]]:
        """(bank, program, name) of every drum kit of ``font`` (its presets in ``Source.kit_banks``)."""
        return [p for p in self._all_presets(font) if p[0] in source(font).kit_banks]

    def _all_presets(self, font: str) -> list[tuple[int, int, str]]:
        if font not in self._presets:
            if source(font).timidity:
                from .timidity import read_config, timidity_program

                timidity_program()  # missing: fail before any rendering
                patches = read_config(soundfont_path(font))
                self._presets[font] = [(bank, program, name) for bank, names in sorted(patches.banks.items())
                                       for program, name in sorted(names.items())]
                self._presets[font] += [(128, kit, f"Drum set {kit}") for kit in sorted(patches.drumsets)]
            else:
                sfid = self.font_id(font)
                self._presets[font] = [(bank, program, name.strip()) for bank in range(129) for program in range(128)
                                       if (name := self.synth.sfpreset_name(sfid, bank, program)) is not None]
        return self._presets[font]

    def render(self, font: str, bank: int, program: int, pitch: int, velocity: int) -> np.ndarray | None:
        return self.render_notes(font, bank, program, [(pitch, velocity)])[0]

    def render_notes(self, font: str, bank: int, program: int,
                     notes: list[tuple[int, int]]) -> list[np.ndarray | None]:
        """``render`` of each (pitch, velocity) of ``notes``, one preset: a list as long as ``notes``."""
        if source(font).timidity:
            from .timidity import render_notes

            drum = bank in source(font).kit_banks
            raw = render_notes(soundfont_path(font), bank, program, drum, notes, self.cfg.sample_rate,
                               self.cfg.num_samples, self.hold_s)
            return [None if np.abs(r).max() < SILENT_PEAK else r.astype(np.float32) / 32768.0 for r in raw]
        return [self._fluidsynth_note(font, bank, program, pitch, velocity) for pitch, velocity in notes]

    def _fluidsynth_note(self, font: str, bank: int, program: int, pitch: int, velocity: int) -> np.ndarray | None:
        synth = self.synth
        synth.program_select(0, self.font_id(font), bank, program)
        synth.noteon(0, pitch, velocity)
        held = synth.get_samples(self.hold)
        synth.noteoff(0, pitch)
        rest = synth.get_samples(self.cfg.num_samples - self.hold)
        synth.system_reset()
        if not self.play_out:
            synth.get_samples(self.cfg.sample_rate // 4)
        else:
            block = self.cfg.sample_rate // 16
            for _ in range(FLUSH_S * 16):
                if np.abs(synth.get_samples(block)).max() <= 1:
                    break
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
                notes.append(NoteRecord("DSP", 0, i, patch.name, instrument_id, FAMILY[patch.kind], pitch, vel, True,
                                        DSP_LICENCE))
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
    """Render the fonts' melodic presets at ``pitches`` and their drum kits' keys among ``pitches``;
    ``add(audio, record)`` keeps a note (and returns whether it did). Instrument ids count the instruments
    (melodic presets, kit keys) with a kept note, in order."""
    renderer = FontRenderer(cfg, hold_s, play_out=bool(set(fonts) - set(TRAIN_FONTS) - {"TimGM6mb"}))
    jobs = [(font, bank, program, name, kit) for font in fonts
            for kit, presets in ((False, renderer.presets(font)), (True, renderer.kits(font)))
            for bank, program, name in presets if programs is None or program in programs]
    notes = [(pitch, vel) for pitch in pitches for vel in velocities]
    instrument_ids: dict[tuple, int] = {}
    with tqdm(total=len(jobs) * len(notes), desc="render", unit="note") as bar:
        for font, bank, program, name, kit in jobs:
            src = SOUNDFONTS[font]
            family = _kit_family(bank, program) if kit else program // 8
            for (pitch, vel), audio in zip(notes, renderer.render_notes(font, bank, program, notes)):
                bar.update()
                key = (font, bank, program, pitch if kit else None)
                record = NoteRecord(font, bank, program, f"{name} key {pitch}" if kit else name,
                                    instrument_ids.get(key, len(instrument_ids)), family, pitch, vel,
                                    not kit and program not in UNPITCHED_PROGRAMS, src.licence, src.package)
                if audio is not None and add(audio, record):
                    instrument_ids.setdefault(key, record.instrument_id)
    renderer.close()


def _kit_family(bank: int, program: int) -> int:
    """GM family of a drum kit's keys: "sound effects" for the GS SFX kit, "percussive" for any other kit."""
    return GM_FAMILIES.index("sound_effects") if (bank, program) == (128, GS_SFX_KIT) else KIT_FAMILY


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
                            r["pitched"] == "True", r.get("licence", ""), r.get("package", ""))
                 for r in csv.DictReader(fh)]
    cfg = AudioConfig(**json.loads((path / "audio_config.json").read_text()))
    return Corpus(np.load(path / "mels.npy"), notes, cfg)
