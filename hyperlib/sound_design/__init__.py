"""Sound design on a loaded model: timbre faders, even morphs, melodies and SFZ export (``docs/sound_design.md``).

Built on the core (``hyperlib.pipeline``, ``hyperlib.render``, ``hyperlib.validation``), which never imports it.
``SoundDesign`` adds these tools as methods to ``hyperlib.HyperGANStrument``.
"""
from .tools import SoundDesign

__all__ = ["SoundDesign"]
