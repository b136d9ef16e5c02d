"""The real recordings the evaluation scores: the four files of examples/ and those listed in recordings/.

Both folders are in the repository, not in the package: the evaluation takes them as arguments (``EvalConfig``'s
``examples_dir`` and ``recordings_dir``; ``python -m hyperlib evaluate --examples DIR --recordings DIR``), by
default ``examples`` and ``recordings`` in the current directory (the repository's root).

recordings/recordings.csv has one row per file with the columns ``file, kind, pitched, description, licence,
voiced_share, f0_std_semitones`` (see recordings/ATTRIBUTION.md for sources, copyright holders and how
``pitched`` is measured). These files are for evaluation only; no training code reads them.
"""
from __future__ import annotations

import csv
from pathlib import Path

EXAMPLES_DIR = "examples"
RECORDINGS_DIR = "recordings"
"""The default folders, relative to the current directory: the repository's, when run in its root."""
MANIFEST_NAME = "recordings.csv"
"""The manifest's file name in the recordings folder."""
EXAMPLES = (("piano_c4.aif", True), ("violin.ogg", True), ("trumpet.ogg", True), ("handsaw.ogg", False))
"""examples/ (file, pitched). The handsaw is unpitched: no pitch score; rendered around MIDI 60."""
KINDS = ("instrument", "voice", "noise", "percussion")
LICENCES = ("GPL-2", "GPL-2+", "GPL-3", "GPL-3+", "LGPL-2.1", "LGPL-2.1+", "LGPL-3", "LGPL-3+", "Expat",
            "BSD-2-clause", "BSD-3-clause", "CC0-1.0", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0",
            "public-domain")
"""Licences accepted for a recording (Debian copyright-format short names)."""
COLUMNS = ("file", "kind", "pitched", "description", "licence", "voiced_share", "f0_std_semitones")


def read_manifest(path: str | Path) -> list[dict]:
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


def real_recording_files(examples_dir: str | Path = EXAMPLES_DIR,
                         recordings_dir: str | Path = RECORDINGS_DIR) -> list[tuple[Path, bool]]:
    """Every real recording the evaluation scores: the ``EXAMPLES`` of ``examples_dir`` first, then the rows of
    ``recordings_dir/recordings.csv`` (file names relative to ``recordings_dir``).

    Returns:
        (path, pitched) pairs; the file names are unique.
    Raises:
        FileNotFoundError: an example file, the manifest or a file it lists is missing; the message names the
            folders and how to choose others.
        ValueError: as ``read_manifest``, or two recordings with the same file name.
    """
    examples_dir, recordings_dir = Path(examples_dir), Path(recordings_dir)
    manifest = recordings_dir / MANIFEST_NAME
    if not manifest.is_file():
        raise FileNotFoundError(_missing(f"but {manifest} is missing"))
    pairs = [(examples_dir / name, pitched) for name, pitched in EXAMPLES]
    pairs += [(recordings_dir / row["file"], row["pitched"]) for row in read_manifest(manifest)]
    names = [p.name for p, _ in pairs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"recording file names must be unique; repeated: {duplicates}")
    missing = [str(path) for path, _ in pairs if not path.is_file()]
    if missing:
        raise FileNotFoundError(_missing(f"but {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''} "
                                         f"{'is' if len(missing) == 1 else 'are'} missing"))
    return pairs


def _missing(what: str) -> str:
    """The message of a missing recording: what is missing, where it was looked for, how to name the folders."""
    return (f"The evaluation scores the real recordings of the repository's examples/ and recordings/ folders, "
            f"{what} (in {Path.cwd()}). Run it in the repository's root folder, or name the folders: "
            "--examples DIR --recordings DIR (EvalConfig.examples_dir and recordings_dir).")
