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

    Reconstruction, synthesis and interpolation come from ``hyperlib.pipeline.Pipeline`` (see it for the
    networks, the vocoder and the errors raised); ``edit``, ``morph``, ``melody``, ``export_sfz`` and
    ``load_faders`` from ``hyperlib.sound_design.SoundDesign``. ``from_pretrained`` returns this class.
    """
