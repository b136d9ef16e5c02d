"""recordings/: the real recordings of the evaluation, their manifest, attribution and pitched labels."""
from __future__ import annotations

import ast
import collections
import json
import math

import librosa
import numpy as np
import pytest

from conftest import REPO

from hyperlib.audio import SILENCE_PEAK, load_audio, load_note
from hyperlib.config import AudioConfig
from hyperlib.evaluation.recordings import EXAMPLES, KINDS, LICENCES, read_manifest, real_recording_files
from hyperlib.evaluation.report import markdown, rows

EXAMPLES_DIR, RECORDINGS_DIR = REPO / "examples", REPO / "recordings"
MANIFEST = RECORDINGS_DIR / "recordings.csv"
ROWS = read_manifest(MANIFEST)
ATTRIBUTION = (RECORDINGS_DIR / "ATTRIBUTION.md").read_text()
AUDIO_SUFFIXES = (".wav", ".ogg", ".flac", ".aif", ".aiff", ".mp3")
MIN_COUNTS = {"instrument": 4, "voice": 2, "noise": 3, "percussion": 3}
TRAINING_SOURCES = sorted((REPO / "hyperlib" / "training").glob("*.py")) + [
    REPO / "hyperlib" / "corpus.py", REPO / "hyperlib" / "synth_patches.py"]


def _ids(rows):
    return [r["file"] for r in rows]


def _pitched_measure(path) -> tuple[float, float]:
    """(voiced share, f0 std in semitones) of the first 0.5 s of the one-shot note, as ATTRIBUTION.md says."""
    cfg = AudioConfig()
    y = load_note(path, cfg)[: cfg.sample_rate // 2]
    f0, _, prob = librosa.pyin(y, fmin=librosa.midi_to_hz(24), fmax=librosa.midi_to_hz(96), sr=cfg.sample_rate,
                               frame_length=2048, hop_length=512)
    rms = librosa.feature.rms(y=y, frame_length=2048, hop_length=512)[0][: len(prob)]
    sounding = rms >= rms.max() * 10 ** (-40 / 20)
    voiced = (prob >= 0.5) & np.isfinite(f0) & sounding
    std = float(np.std(librosa.hz_to_midi(f0[voiced]))) if voiced.sum() > 1 else math.nan
    return float(voiced.sum() / sounding.sum()), std


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_recording_decodes_and_is_not_silent(row):
    path = RECORDINGS_DIR / row["file"]
    assert path.is_file(), path
    y = load_audio(path, 16000)
    assert y.size >= 0.05 * 16000, f"{path.name}: under 50 ms"
    assert float(np.abs(y).max()) > 10 * SILENCE_PEAK, f"{path.name}: silent"


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_recording_has_an_accepted_licence_and_an_attribution_row(row):
    assert row["licence"] in LICENCES
    lines = [ln for ln in ATTRIBUTION.splitlines() if ln.startswith(f"| `{row['file']}` |")]
    assert len(lines) == 1, f"{row['file']}: expected one ATTRIBUTION.md row, found {len(lines)}"
    cells = [c.strip() for c in lines[0].strip("|").split("|")]
    assert len(cells) == 5 and all(cells), lines[0]
    licence = cells[-1]
    base = row["licence"].rstrip("+")
    assert base in licence, (row["licence"], licence)
    assert row["licence"].endswith("+") == ("or later" in licence), (row["licence"], licence)


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_pitched_label_matches_the_measurement(row):
    share, std = _pitched_measure(RECORDINGS_DIR / row["file"])
    assert share == pytest.approx(float(row["voiced_share"]), abs=0.011)
    if row["f0_std_semitones"]:
        assert std == pytest.approx(float(row["f0_std_semitones"]), abs=0.011)
    else:
        assert math.isnan(std)
    assert row["pitched"] == (share >= 0.4 and std <= 0.5), (row["file"], share, std)


def test_manifest_and_folder_agree_and_stay_small():
    files = {p.name for p in RECORDINGS_DIR.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES}
    listed = _ids(ROWS)
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert set(listed) == files
    assert sum((RECORDINGS_DIR / f).stat().st_size for f in files) < 3 * 2**20


def test_manifest_covers_every_kind():
    counts = collections.Counter(r["kind"] for r in ROWS)
    for kind, n in MIN_COUNTS.items():
        assert counts[kind] >= n, (kind, counts[kind])
    assert set(counts) <= set(KINDS)
    assert sum(r["pitched"] for r in ROWS if r["kind"] == "instrument") >= 3
    assert len(real_recording_files(EXAMPLES_DIR, RECORDINGS_DIR)) >= 20


def test_real_recording_files_are_the_examples_then_the_manifest():
    pairs = real_recording_files(EXAMPLES_DIR, RECORDINGS_DIR)
    expected = [(EXAMPLES_DIR / n, p) for n, p in EXAMPLES] + [(RECORDINGS_DIR / r["file"], r["pitched"]) for r in ROWS]
    assert pairs == expected
    assert all(path.is_file() for path, _ in pairs)
    assert len({path.name for path, _ in pairs}) == len(pairs)


def _write_manifest(path, rows):
    header = "file,kind,pitched,description,licence,voiced_share,f0_std_semitones\n"
    path.write_text(header + "".join(",".join(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("row, message", [
    (("a.wav", "instrument", "true", "x", "CC-BY-NC-4.0", "1.00", "0.10"), "licence"),
    (("a.wav", "synth", "true", "x", "GPL-2", "1.00", "0.10"), "kind"),
    (("a.wav", "noise", "yes", "x", "GPL-2", "0.00", ""), "pitched"),
])
def test_read_manifest_rejects_bad_rows(tmp_path, row, message):
    with pytest.raises(ValueError, match=message):
        read_manifest(_write_manifest(tmp_path / "m.csv", [row]))


def test_read_manifest_rejects_missing_columns(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("file,kind\na.wav,noise\n")
    with pytest.raises(ValueError, match="missing columns"):
        read_manifest(path)


def test_real_recording_files_rejects_a_repeated_name(tmp_path):
    _write_manifest(tmp_path / "recordings.csv", [("handsaw.ogg", "noise", "false", "x", "GPL-2+", "0.00", "")])
    with pytest.raises(ValueError, match="handsaw.ogg"):
        real_recording_files(EXAMPLES_DIR, tmp_path)
    assert read_manifest(MANIFEST)  # the shipped manifest itself reads


def test_missing_recordings_are_named_with_the_way_to_choose_the_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside the repository: the default folders are not there
    with pytest.raises(FileNotFoundError) as error:
        real_recording_files()
    assert all(w in str(error.value) for w in ("recordings.csv", str(tmp_path), "--examples", "--recordings"))
    _write_manifest(tmp_path / "recordings.csv", [("gone.wav", "noise", "false", "x", "GPL-2+", "0.00", "")])
    with pytest.raises(FileNotFoundError, match="gone.wav"):
        real_recording_files(EXAMPLES_DIR, tmp_path)
    with pytest.raises(FileNotFoundError, match="piano_c4.aif"):
        real_recording_files(tmp_path, RECORDINGS_DIR)


@pytest.mark.parametrize("source", TRAINING_SOURCES, ids=lambda p: p.name)
def test_training_code_never_reads_the_recordings(source):
    text = source.read_text()
    assert "recordings" not in text.lower(), source
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            assert "evaluation" not in module, (source.name, module)
        elif isinstance(node, ast.Import):
            assert not any("evaluation" in a.name for a in node.names), source.name


def test_report_lists_one_row_per_recording():
    r = json.loads((REPO / "docs" / "results" / "results.json").read_text())
    pairs = real_recording_files(EXAMPLES_DIR, RECORDINGS_DIR)
    r["real_recordings"]["recordings"] = {p.name: {"pitched": pitched, "estimated_pitch": 60, "targets": [60]}
                                          for p, pitched in pairs}
    method_rows = rows(r, "real_recordings/methods")
    for m in method_rows:
        r["real_recordings"]["methods"][m]["timbre_mse_by_file"] = {p.name: 1.0 for p, _ in pairs}
    md = markdown(r)
    section = md[md.index("## Real recordings"):md.index("## Cost")]
    table = [ln for ln in section.splitlines() if ln.startswith("| ") and ln.split("|")[1].strip() in
             {p.name for p, _ in pairs}]
    assert len(table) == len(pairs)
    width = len(method_rows) + 2
    assert all(len(ln.strip("|").split("|")) == width for ln in table)
    assert all("1.0000" in ln for ln in table)
