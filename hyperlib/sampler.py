"""``HyperGANStrument``: the public model class, the paper's three tasks plus the sound-design tools.

    model = HyperGANStrument.from_pretrained()
    r = model.synthesize("piano.wav", pitch=64, method="hyper")
    r = model.edit("piano.wav", faders={0: 1.5}, pitch=60)
"""
from __future__ import annotations

from .pipeline import Pipeline
from .sound_design import SoundDesign


class HyperGANStrument(SoundDesign, Pipeline):
    """HyperGANStrument (Zhang & Akama 2024, sec. 3) with the GANStrument and GANStrument Enc. baselines.

    Loading: ``from_pretrained``. The paper's tasks: ``synthesize``, ``reconstruct``, ``interpolate``, and
    ``synthesize_pitches`` / ``synthesize_methods`` for one sound at several pitches or by several methods. Building
    blocks: ``prepare`` (the front end), ``encode`` (a sound -> ``Encoded``), ``render_code``, ``mel``,
    ``estimate_pitch``, ``get_vocoder`` / ``use_vocoder``; these come from ``hyperlib.pipeline.Pipeline`` (see it for
    the networks, the vocoder and the errors raised). Sound design: ``edit``, ``morph``, ``melody``, ``export_sfz``
    and ``load_faders``, from ``hyperlib.sound_design.SoundDesign``. Every call that renders one note returns a
    ``Result``, every call that renders several a list of Results. The reference is ``docs/api.md``.
    """
