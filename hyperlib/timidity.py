"""Single notes of a TiMidity++ patch set (GUS patches listed in a ``.cfg``, such as FreePats) rendered by the
``timidity`` program.

The notes of one preset are written as one MIDI file, one note per time slot (the key held ``hold_s``
seconds, then released, all sound cut at the slot's end), played by ``timidity`` in one run with reverb,
chorus and delay off, and cut back into notes: one process per preset rather than per note.
"""
from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np

DRUM_CHANNEL = 9  # MIDI channel 10, where TiMidity++ plays drum sets (program change = drum set number)
SLOT_GAP_MS = 50  # silence between a note's cut and the next note-on
TIMIDITY_PACKAGE = "timidity"


@dataclass
class PatchSet:
    """The presets of a TiMidity++ configuration.

    banks: bank -> program -> patch name (melodic patches); drumsets: drum set -> MIDI key -> patch name.
    Names are the patch files' names without number and extension, underscores as spaces.
    """

    banks: dict[int, dict[int, str]] = field(default_factory=dict)
    drumsets: dict[int, dict[int, str]] = field(default_factory=dict)


def read_config(path: str | Path) -> PatchSet:
    """The ``bank N`` / ``drumset N`` sections of a TiMidity++ configuration and their ``NUMBER FILE ...`` lines.

    Other statements (``dir``, ``source``, options) are skipped. Raises ValueError for a numbered line
    outside a section.
    """
    patches, section = PatchSet(), None
    for n, line in enumerate(Path(path).read_text(errors="replace").splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if len(words) == 2 and words[0] in ("bank", "drumset") and words[1].isdigit():
            table = patches.banks if words[0] == "bank" else patches.drumsets
            section = table.setdefault(int(words[1]), {})
        elif len(words) >= 2 and words[0].isdigit():
            if section is None:
                raise ValueError(f"{path}:{n}: a patch line before any `bank` or `drumset` line")
            name = re.sub(r"^\d+_", "", Path(words[1]).stem).replace("_", " ").strip()
            section[int(words[0])] = name
    return patches


def timidity_program() -> str:
    """Path of the ``timidity`` program. Raises FileNotFoundError naming the Debian package."""
    if (path := shutil.which("timidity")) is None:
        raise FileNotFoundError(f"The `timidity` program is missing: install it with "
                                f"`apt-get install {TIMIDITY_PACKAGE}`.")
    return path


def render_notes(config: str | Path, bank: int, program: int, drum: bool, notes: list[tuple[int, int]],
                 sample_rate: int, num_samples: int, hold_s: float) -> np.ndarray:
    """Render ``notes`` ((MIDI pitch, velocity) pairs) of one preset, one after another, each alone.

    ``timidity`` always reads its default configuration too (Debian's plays FluidR3_GM), so a preset or
    drum key that ``config`` does not define would sound from there: such notes are not played and come
    back as silence.

    Args:
        config: the TiMidity++ configuration of the patch set (e.g. /etc/timidity/freepats.cfg).
        bank, program: the melodic preset; with ``drum`` the drum set ``program`` (``bank`` unused),
            whose keys are the pitches.
        sample_rate: Hz; num_samples: samples per note; hold_s: seconds each key is held.
    Returns:
        (len(notes), num_samples) int16 mono renders, row i the note ``notes[i]``.
    Raises:
        FileNotFoundError: ``timidity`` or ``config`` is missing. RuntimeError: ``timidity`` failed.
    """
    if not Path(config).is_file():
        raise FileNotFoundError(f"{config} is missing.")
    patches = read_config(config)
    defined = patches.drumsets.get(program, {}) if drum else patches.banks.get(bank, {})
    play = [k for k, (pitch, _) in enumerate(notes) if (pitch if drum else program) in defined]
    out = np.zeros((len(notes), num_samples), np.int16)
    if play:
        out[play] = _play([notes[k] for k in play], config, bank, program, drum, sample_rate, num_samples, hold_s)
    return out


def _play(notes: list[tuple[int, int]], config: str | Path, bank: int, program: int, drum: bool, sample_rate: int,
          num_samples: int, hold_s: float) -> np.ndarray:
    """``render_notes`` of notes that ``config`` defines: one MIDI file, one ``timidity`` run."""
    note_ms, hold_ms = math.ceil(num_samples * 1000 / sample_rate), round(hold_s * 1000)
    slot_ms = note_ms + SLOT_GAP_MS
    channel = DRUM_CHANNEL if drum else 0
    # one tick = 1 ms: 1000 ticks per beat at 1,000,000 microseconds per beat
    events = [(0, mido.MetaMessage("set_tempo", tempo=1_000_000)),
              (0, mido.Message("control_change", channel=channel, control=0, value=0 if drum else bank)),
              (0, mido.Message("program_change", channel=channel, program=program))]
    for k, (pitch, velocity) in enumerate(notes):
        start = SLOT_GAP_MS + k * slot_ms
        events += [(start, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)),
                   (start + hold_ms, mido.Message("note_off", channel=channel, note=pitch)),
                   (start + note_ms, mido.Message("control_change", channel=channel, control=120, value=0))]
    events.sort(key=lambda e: e[0])  # stable: a slot's cut comes before the next slot's note-on
    track, now = mido.MidiTrack(), 0
    for time, message in events:
        track.append(message.copy(time=time - now))
        now = time
    track.append(mido.MetaMessage("end_of_track", time=slot_ms))
    midi = io.BytesIO()
    mido.MidiFile(ticks_per_beat=1000, tracks=[track]).save(file=midi)

    command = [timidity_program(), "-c", str(config), "--preserve-silence", "-EFreverb=0", "-EFchorus=0",
               "-EFdelay=0", "--output-mono", "-Or1sl", "-s", str(sample_rate), "-o", "-", "-"]
    proc = subprocess.run(command, input=midi.getvalue(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"timidity failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-500:]}")
    audio = np.frombuffer(proc.stdout, np.int16)
    starts = [round((SLOT_GAP_MS + k * slot_ms) * sample_rate / 1000) for k in range(len(notes))]
    out = np.zeros((len(notes), num_samples), np.int16)
    for row, start in zip(out, starts):
        piece = audio[start:start + num_samples]
        row[:len(piece)] = piece
    return out
