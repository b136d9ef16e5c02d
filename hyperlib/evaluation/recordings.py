"""The real recordings the evaluation scores: the four files of examples/ and those listed in recordings/.

recordings/recordings.csv has one row per file with the columns ``file, kind, pitched, description, licence,
voiced_share, f0_std_semitones`` (see recordings/ATTRIBUTION.md for sources, copyright holders and how
``pitched`` is measured). These files are for evaluation only; no training code reads them.
"""
from __future__ import annotations

import csv
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = REPO / "examples"
RECORDINGS_DIR = REPO / "recordings"
MANIFEST = RECORDINGS_DIR / "recordings.csv"
EXAMPLES = (("piano_c4.aif", True), ("violin.ogg", True), ("trumpet.ogg", True), ("handsaw.ogg", False))
"""examples/ (file, pitched). The handsaw is unpitched: no pitch score; rendered around MIDI 60."""
KINDS = ("instrument", "voice", "noise", "percussion")
LICENCES = ("GPL-2", "GPL-2+", "GPL-3", "GPL-3+", "LGPL-2.1", "LGPL-2.1+", "LGPL-3", "LGPL-3+", "Expat",
            "BSD-2-clause", "BSD-3-clause", "CC0-1.0", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0",
            "public-domain")
"""Licences accepted for a recording (Debian copyright-format short names)."""
COLUMNS = ("file", "kind", "pitched", "description", "licence", "voiced_share", "f0_std_semitones")


def read_manifest(path: Path = MANIFEST) -> list[dict]:
    """The rows of a recordings manifest, ``pitched`` as a bool.

    Returns:
        one dict per row, keyed by ``COLUMNS``, in file order.
    Raises:
        FileNotFoundError: no manifest at ``path``.
        ValueError: missing columns, or a row with an unknown kind or licence or a ``pitched`` other
            than true/false.
    """
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        rows = list(reader)
    for row in rows:
        if row["kind"] not in KINDS:
            raise ValueError(f"{path}: {row['file']}: kind {row['kind']!r} is not one of {KINDS}")
        if row["licence"] not in LICENCES:
            raise ValueError(f"{path}: {row['file']}: licence {row['licence']!r} is not one of {LICENCES}")
        if row["pitched"] not in ("true", "false"):
            raise ValueError(f"{path}: {row['file']}: pitched must be true or false, got {row['pitched']!r}")
        row["pitched"] = row["pitched"] == "true"
    return rows


def real_recording_files(manifest: Path = MANIFEST) -> list[tuple[Path, bool]]:
    """Every real recording the evaluation scores: examples/ first, then the manifest's rows.

    Returns:
        (path, pitched) pairs; the file names are unique.
    Raises:
        FileNotFoundError: no manifest at ``manifest``.
        ValueError: as ``read_manifest``, or two recordings with the same file name.
    """
    pairs = [(EXAMPLES_DIR / name, pitched) for name, pitched in EXAMPLES]
    pairs += [(manifest.parent / row["file"], row["pitched"]) for row in read_manifest(manifest)]
    names = [p.name for p, _ in pairs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"recording file names must be unique; repeated: {duplicates}")
    return pairs
