"""The Gradio app of hyperlib: ``python -m demos.app`` from the repository root, or an assembled Hugging Face Space
(``make_space.sh``), whose ``app.py`` starts it.

Modules: ``app`` (the page, the "Play a sound" and "Interpolate" tabs, ``main``), ``ab_test``,
``sound_design_tabs`` and ``keyboard_tab`` (the other tabs), ``app_common`` (what the tabs share),
``request_limits`` (the budgets and the time limit of a request), ``mel_image`` (the log-mel pictures) and
``bench`` (the latency benchmark, ``python -m hyperlib bench-app``). The app builds on the ``hyperlib`` package;
of ``hyperlib``, only the ``bench-app`` command imports it.
"""
from __future__ import annotations

import os
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before any module of the app imports gradio

ROOT = Path(__file__).resolve().parent.parent
"""The folder that holds this package: the repository, or an assembled Space. The example sounds the app offers are
in its ``examples/``."""
EXAMPLES_DIR = ROOT / "examples"
