"""The thin install, the wheel and the Space, each tested as a user would get it.

The wheel and Space tests build fresh virtual environments WITHOUT the system site-packages: every package is
installed into them by pip from the configured indexes (pip's download cache is shared, as pip's default). So a
dependency missing from pyproject.toml or from the Space's requirements.txt makes them fail.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import PIANO, REPO
from demos.bench import serve_app

APP_EXTRA_ONLY = ("gradio", "matplotlib", "fluidsynth", "pretty_midi")
"""Modules that ``import hyperlib`` must not load (they belong to the app, training and notebook extras)."""
INSTALL_TIMEOUT_S = 900
SPACE_STARTUP_TIMEOUT_S = 400
"""The Space's first start in a fresh venv also compiles the modules it imports (torch, gradio)."""


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def requirement_lines(path: Path) -> list[str]:
    """The requirement specifiers of a requirements file (no comments, blank lines or pip options)."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return sorted(line for line in lines if line and not line.startswith(("#", "-")))


def clean_env(**extra: str) -> dict:
    """This environment without PYTHONPATH and virtualenv settings, HF_HUB_OFFLINE=1, plus ``extra``.

    PYTHONDONTWRITEBYTECODE is dropped too: a fresh venv installed with ``--no-compile`` then compiles each module
    once, on its first import, instead of on every import.
    """
    dropped = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    return {**env, "HF_HUB_OFFLINE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


def fresh_venv(path: Path, *pip_args: str, retries: bool = True) -> Path:
    """A new virtual environment at ``path`` with ``pip install PIP_ARGS``; returns its python.

    ``--no-compile``: Python compiles the modules it imports when it imports them, not the whole of torch at
    install time (half of the install's time). ``retries=False`` (``PIP_RETRIES=0``) for an index that may be
    out of reach (a machine without internet), which pip would otherwise retry for every package.
    """
    venv.create(path, with_pip=True, system_site_packages=False)
    python = path / "bin" / "python"
    env = clean_env() if retries else clean_env(PIP_RETRIES="0")
    run = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-compile", *pip_args], env=env,
                         capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return python


# -- the core ---------------------------------------------------------------------------------------------------
def test_core_dependencies_are_what_inference_needs():
    project = pyproject()
    names = [dep.split("=")[0].split(">")[0].split("<")[0] for dep in project["dependencies"]]
    # pyrubberband: the faithful method's shifts over an octave (it runs the `rubberband` command)
    assert sorted(names) == ["huggingface_hub", "librosa", "numpy", "pyrubberband", "safetensors", "soundfile", "torch",
                             "tqdm"]
    assert "torch==2.13.0" in project["dependencies"]
    extras = project["optional-dependencies"]
    assert {"app", "train", "notebooks", "test"} <= set(extras)
    assert any(dep.startswith("gradio") for dep in extras["app"])
    assert any(dep.startswith("pyfluidsynth") for dep in extras["train"])
    assert "hyperlib[app,train]" in extras["test"]


def test_requirements_files_match_pyproject():
    project = pyproject()
    assert requirement_lines(REPO / "requirements.txt") == sorted(project["dependencies"])
    space = requirement_lines(REPO / "demos" / "requirements.txt")
    app = [dep for dep in project["optional-dependencies"]["app"] if not dep.startswith("gradio")]
    assert space == sorted(set(project["dependencies"]) | set(app))  # gradio comes from the card's sdk_version


def test_import_loads_no_app_or_training_package():
    probe = ("import json, sys, hyperlib; "
             f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {APP_EXTRA_ONLY!r})))")
    run = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=clean_env(PYTHONPATH=str(REPO)),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []


# -- the wheel ---------------------------------------------------------------------------------------------------
@pytest.mark.install
def test_wheel_in_a_fresh_venv_loads_a_model_folder_and_renders(tmp_path):
    run = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(REPO)],
                         env=clean_env(), capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("hyperlib-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "hyperlib/hub.py" in names and "hyperlib/pipeline.py" in names
    assert "hyperlib/vocoders/ddsp.safetensors" in names  # the learned vocoder's weights ship with the code
    assert not [n for n in names if n.startswith(("checkpoints/", "tests/", "demos/", "examples/"))]

    python = fresh_venv(tmp_path / "venv", str(wheel))
    work = tmp_path / "elsewhere"  # outside the repository: nothing may depend on its paths
    work.mkdir()
    out = work / "note.wav"
    render = subprocess.run([str(python.parent / "hyperlib"), "synth", str(PIANO), "--pitch", "64", "--model",
                             str(REPO / "checkpoints"), "-o", str(out)], cwd=work, env=clean_env(),
                            capture_output=True, text=True, timeout=600)
    assert render.returncode == 0, render.stderr[-3000:]
    assert out.stat().st_size > 16000 and "MIDI 64" in render.stdout

    probe = f"""
import importlib.util, json, sys
import hyperlib
from hyperlib import HyperGANStrument, hub
loaded = sorted(m for m in sys.modules if m.split('.')[0] in {APP_EXTRA_ONLY!r})
installed = [m for m in {APP_EXTRA_ONLY!r} if importlib.util.find_spec(m)]
try:
    HyperGANStrument.from_pretrained()
    error = None
except hub.ModelNotFoundError as exc:
    error = str(exc)
print(json.dumps([hyperlib.__file__, hub.bundled() is None, loaded, installed, error]))
"""
    run = subprocess.run([str(python), "-c", probe], cwd=work, env=clean_env(HF_HOME=str(tmp_path / "hf_home")),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    package, no_bundle, loaded, installed, error = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(package).is_relative_to(tmp_path / "venv") and no_bundle
    assert loaded == [] and installed == []  # the core install has no app or training package at all
    # with no checkout, the default is the Hub repo: offline and uncached, the error says what was tried
    assert "checkpoint bundled with a source checkout" in error and "HF_HUB_OFFLINE=1 is set" in error


# -- the Space ---------------------------------------------------------------------------------------------------
def space_gradio_version() -> str:
    front = (REPO / "demos" / "README.md").read_text().split("---")[1]
    fields = dict(line.split(":", 1) for line in front.strip().splitlines())
    return fields["sdk_version"].strip().strip('"')


@pytest.mark.install
def test_space_folder_runs_in_a_fresh_venv(tmp_path):
    pytest.importorskip("gradio_client")
    from gradio_client import Client, handle_file
    from test_app import assert_valid_wav

    space = tmp_path / "space"
    run = subprocess.run(["bash", str(REPO / "demos" / "make_space.sh"), str(space)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    # what a Space installs: its requirements.txt (whose extra index, PyTorch's CPU wheels, may be out of reach
    # here) and the gradio of the card's sdk_version
    python = fresh_venv(tmp_path / "venv", "-r", str(space / "requirements.txt"), f"gradio=={space_gradio_version()}",
                        retries=False)
    # the Space's own interpreter and folder; AppStartError carries the tail of its log
    with serve_app(tmp_path, ["app.py"], SPACE_STARTUP_TIMEOUT_S, clean_env(), python, space) as url:
        client = Client(url, verbose=False, analytics_enabled=False, download_files=str(tmp_path / "downloads"))
        outputs = client.predict(handle_file(str(space / "examples" / "piano_c4.aif")), 60, 1, "synthesize",
                                 api_name="/render")
        with urllib.request.urlopen(url + "config", timeout=30) as response:
            config = json.load(response)
    # the sound-design tabs found the Space's examples too (their inputs start with the violin and the handsaw)
    defaults = {(c["props"].get("value") or {}).get("orig_name") for c in config["components"] if c.get("type") == "audio"}
    assert {"piano_c4.wav", "violin.ogg", "handsaw.ogg"} <= defaults  # the AIFF piano as its playable WAV copy
    wavs = outputs[1:-1:2]
    assert len(wavs) == 5  # the four quick methods and the pitch shift
    for path in wavs:
        assert_valid_wav(path)
    assert "C4" in outputs[-1]
