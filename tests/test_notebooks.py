"""The teaching notebooks run top to bottom without error.

Each notebook in ``notebooks/`` is executed with nbclient in a fresh ``python3`` kernel (the Python running
pytest), with ``notebooks/`` as the working directory, ``HF_HUB_OFFLINE=1``, ``MPLBACKEND=Agg`` and
``OMP_NUM_THREADS=1``. The notebooks load ``HyperGANStrument.from_pretrained()``: the bundled
``checkpoints/`` or the folder named by ``HYPERLIB_CHECKPOINT`` (skipped when it has no trained networks).
Each takes well under two minutes on a 2-core CPU.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import ipykernel  # noqa: F401  (the kernel the notebooks run in)
import ipywidgets  # noqa: F401
import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT_S = 300
NOTEBOOK_TIMEOUT_S = 600
NETWORK_FILES = ("f", "G", "E", "H", "H_pre")


def _model_dir() -> Path:
    return Path(os.environ.get("HYPERLIB_CHECKPOINT", ROOT / "checkpoints"))


def test_all_four_notebooks_exist():
    names = [p.stem for p in NOTEBOOKS]
    assert names == ["01_inversion", "02_hypernetwork_refinement", "03_interpolation_piano_saw",
                     "04_encoder_vs_hypernetwork"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, monkeypatch):
    missing = [n for n in NETWORK_FILES if not (_model_dir() / f"{n}.safetensors").is_file()]
    if missing:
        pytest.skip(f"no trained model in {_model_dir()} (missing {', '.join(missing)}); "
                    "set HYPERLIB_CHECKPOINT to a model folder")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    # One torch thread: the ops are small, and two threads on a busy 2-core machine ran 10-15x slower.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    # nbclient runs in its own process: an event loop left by other tests (Playwright's) can stall it here.
    script = (
        "import sys, nbclient, nbformat\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        f"nbclient.NotebookClient(nb, timeout={CELL_TIMEOUT_S}, kernel_name='python3', allow_errors=False,\n"
        "    resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script, str(path), str(NOTEBOOK_DIR)], capture_output=True,
                          text=True, timeout=NOTEBOOK_TIMEOUT_S)
    print(f"{path.name}: executed in {time.perf_counter() - t0:.1f} s")
    assert proc.returncode == 0, f"{path.name} raised:\n{proc.stderr[-3000:]}"


def test_ab_quiz_logic():
    """The blind A/B quiz of notebook 04: shuffled order, reveal, tally, end of quiz."""
    sys.path.insert(0, str(NOTEBOOK_DIR))
    try:
        from _helpers import ABQuiz
    finally:
        sys.path.remove(str(NOTEBOOK_DIR))
    beep = (0.5 * np.sin(np.arange(1600) * 0.1)).astype(np.float32)
    trials = [{"name": f"note {i}", "a": ("hyper", beep), "b": ("gan", beep), "reference": beep} for i in range(6)]
    quiz = ABQuiz(trials, seed=0)
    orders = [(t["A"][0], t["B"][0]) for t in quiz.trials]
    assert {o for o in orders} == {("hyper", "gan"), ("gan", "hyper")}  # both orders occur with this seed
    quiz.button_a.click()  # what a click on "A is better" does
    assert quiz.tally[orders[0][0]] == 1 and quiz.index == 1 and orders[0][0] in quiz.feedback.value
    for _ in range(5):
        quiz.answer("B")
    assert quiz.done and sum(quiz.tally.values()) == 6 and quiz.button_a.disabled
    quiz.answer("A")  # ignored after the end
    assert sum(quiz.tally.values()) == 6
    with pytest.raises(ValueError):
        quiz.answer("C")
