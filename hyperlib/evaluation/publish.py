"""Every page that shows an evaluation's figures, written from its ``results.json`` alone.

    python -m hyperlib report --results docs/results/results.json [--readme README.md] [--card checkpoints/README.md]
    python -m hyperlib report --results docs/results/results.json --check    # exit 1 where a page differs

One run's ``results.json`` (``python -m hyperlib evaluate``) is the source of every figure: this module rewrites
``results.md`` beside it (``report.markdown``), the README's main table (between ``<!-- results:start -->`` and
``<!-- results:end -->``) and pitch-change table (``<!-- shifts:start -->``, ``<!-- shifts:end -->``), and the model card's front matter and evaluation section (``modelcard.card_with_results``).
No figure is copied by hand, so none can drift; ``stale`` says which pages a regeneration would change.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..modelcard import card_with_results
from .report import markdown, replace_block, shift_summary, table1, table1_caption


def readme_results(results: dict) -> str:
    """The README's results block: the caption of the run and its main table (``report.table1``)."""
    return "\n".join([table1_caption(results), "", *table1(results)])


def readme_blocks(text: str, results: dict) -> str:
    """The README with its results block rewritten and, where it has one (``<!-- shifts:start -->``), its
    pitch-change block (``report.shift_summary``)."""
    text = replace_block(text, "results", readme_results(results))
    return replace_block(text, "shifts", "\n".join(shift_summary(results))) if "<!-- shifts:start -->" in text else text


def pages(results_json: str | Path, readme: str | Path | None = None,
          card: str | Path | None = None) -> dict[Path, str]:
    """Path -> the text that page should hold, regenerated in memory from ``results_json``: ``results.md`` beside
    it, and where given the README (its results block) and the model card (front matter and results block).

    Raises FileNotFoundError for a missing file, ValueError for a page without its results markers or a card
    given results of another split than validation.
    """
    results_json = Path(results_json)
    results = json.loads(results_json.read_text())
    out = {results_json.with_name("results.md"): markdown(results)}
    for page, write in ((readme, lambda text: readme_blocks(text, results)),
                        (card, lambda text: card_with_results(text, results))):
        if page is not None:
            try:
                out[Path(page)] = write(Path(page).read_text())
            except ValueError as exc:
                raise ValueError(f"{page}: {exc}") from None
    return out


def stale(results_json: str | Path, readme: str | Path | None = None,
          card: str | Path | None = None) -> list[Path]:
    """The pages whose figures differ from ``results_json`` (see ``pages``); empty where all agree."""
    return [p for p, text in pages(results_json, readme, card).items() if not p.is_file() or p.read_text() != text]


def publish(results_json: str | Path, readme: str | Path | None = None,
            card: str | Path | None = None) -> list[Path]:
    """Write every page of ``pages`` that differs; returns the paths written (empty where all were current)."""
    written = []
    for path, text in pages(results_json, readme, card).items():
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written
