"""One source for every figure: the README's table, docs/results/results.md and the model card are what
``python -m hyperlib report`` writes from docs/results/results.json, and new rows need no code."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import REPO
from hyperlib.cli import main
from hyperlib.evaluation.publish import pages, publish, readme_results, stale
from hyperlib.evaluation.report import markdown, replace_block, table1

RESULTS = REPO / "docs" / "results" / "results.json"
README = REPO / "README.md"
CARD = REPO / "checkpoints" / "README.md"


@pytest.fixture
def results() -> dict:
    return json.loads(RESULTS.read_text())


@pytest.fixture
def copies(tmp_path):
    """results.json, results.md, the README and the model card copied into tmp_path/{results,}."""
    (tmp_path / "results").mkdir()
    shutil.copy(RESULTS, tmp_path / "results" / "results.json")
    shutil.copy(RESULTS.with_name("results.md"), tmp_path / "results" / "results.md")
    shutil.copy(README, tmp_path / "README.md")
    shutil.copy(CARD, tmp_path / "card.md")
    return tmp_path / "results" / "results.json", tmp_path / "README.md", tmp_path / "card.md"


def test_readme_card_and_results_md_hold_the_figures_of_results_json():
    """Regenerated in memory, every page equals the stored one: no figure was copied by hand or left behind."""
    differ = stale(RESULTS, README, CARD)
    assert not differ, f"run `python -m hyperlib report --results {RESULTS.relative_to(REPO)}`: {differ} differ"


def test_the_shipped_weights_are_the_ones_the_published_evaluation_scored(results):
    """A weights file the evaluation reads changes in git only together with the evaluation of it
    (docs/training.md, "When weights change"): every file results.json scored has the hash the bundled folders
    record, and every such file the folder holds was scored."""
    from hyperlib.checkpoint import recorded_hashes
    from hyperlib.evaluation.config import EVALUATED_WEIGHTS

    scored = results["weights"]
    shipped = recorded_hashes(REPO / "checkpoints")
    assert scored["model"] == {k: shipped[k] for k in EVALUATED_WEIGHTS if k in shipped}
    assert scored["vocoders"] == recorded_hashes(REPO / "hyperlib" / "vocoders")


def test_the_readme_shows_every_row_of_the_main_table(results):
    readme = README.read_text()
    for line in table1(results):
        assert line in readme
    hyper = results["reconstruction"]["hyper"]
    assert f"| HyperGANStrument | {hyper['l1']:.3f} | {hyper['timbre_mse']:.4f} |" in readme


def test_a_changed_figure_is_found_and_rewritten(copies, capsys):
    results_json, readme, card = copies
    r = json.loads(results_json.read_text())
    r["synthesis"]["hyper"]["fd"] = 12.3456  # a new evaluation: one figure moves
    results_json.write_text(json.dumps(r))
    args = ["report", "--results", str(results_json), "--readme", str(readme), "--card", str(card)]
    assert main([*args, "--check"]) == 1
    assert {p.name for p in stale(results_json, readme, card)} == {"results.md", "README.md", "card.md"}
    assert main(args) == 0
    assert main([*args, "--check"]) == 0
    for page in (readme, card, results_json.with_name("results.md")):
        assert "| 12.35 |" in page.read_text() and "| 28.56 |" not in page.read_text()
    assert "value: 12.35" in card.read_text()  # the Hub's model-index too
    assert "every page agrees" in capsys.readouterr().out


def test_pages_outside_the_markers_are_kept(copies):
    results_json, readme, card = copies
    readme.write_text(readme.read_text() + "\nA closing line.\n")
    new = pages(results_json, readme, card)[readme]
    assert new.endswith("\nA closing line.\n") and new.startswith("# hyperlib")
    assert publish(results_json, readme, card) == []  # every figure current: nothing written


def test_new_methods_and_references_get_rows_without_code(results):
    """Rows come from what results.json holds: a reference the evaluation adds shows up under its label."""
    row = {"l1": 0.2, "timbre_mse": 1.5, "pitch_acc_clf": 0.5, "pitch_acc_pyin": 0.75, "fd": 99.0}
    for section in ("reconstruction", "synthesis"):
        results[section]["pv_shift"] = dict(row)
        results[section]["new-method"] = dict(row)
    results["interpolation"]["new-method"] = {"fd": 101.0, "pitch_acc_clf": 0.5, "pitch_acc_pyin": 0.5}
    results["methods"]["pv_shift"] = "Phase vocoder shift"
    lines = table1(results)
    labels = [ln.split("|")[1].strip() for ln in lines[2:]]
    assert labels[:4] == ["GANStrument", "GANStrument Enc.", "HyperGANStrument-Pre", "HyperGANStrument"]
    assert "Phase vocoder shift" in labels and "new-method" in labels  # a key without a label shows as itself
    pv = next(ln for ln in lines if ln.startswith("| Phase vocoder shift |"))
    assert "| 0.200 | 1.5000 | 50.0% | 75.0% | 0.200 | 99.00 |" in pv and pv.endswith("| — | — | — |")
    assert "| 101.00 |" in next(ln for ln in lines if ln.startswith("| new-method |"))
    assert "| Phase vocoder shift |" in readme_results(results) and "| Phase vocoder shift |" in markdown(results)


def test_a_page_without_markers_is_refused_with_a_message(copies):
    results_json, readme, card = copies
    readme.write_text("# A README without a results block\n")
    with pytest.raises(ValueError, match="README.md.*results:start"):
        pages(results_json, readme, card)
    with pytest.raises(ValueError, match="results:start"):
        replace_block("<!-- results:end -->\n<!-- results:start -->\n", "results", "x")
    assert main(["report", "--results", str(results_json), "--readme", str(readme), "--card", str(card)]) == 2
