"""The sound-design methods of ``hyperlib.HyperGANStrument``: edit, morph, melody, export_sfz (and load_faders)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ..audio import AudioInput
from ..config import REFINE_STEPS
from ..deprecation import renamed_keywords
from ..render import Result
from .faders import Faders, edit, model_faders
from .melody import render_melody
from .morph import MorphResults, morph
from .sfz import export_sfz


class SoundDesign:
    """Sound-design methods for a ``hyperlib.pipeline.Pipeline`` (mixed into ``hyperlib.HyperGANStrument``).

    ``faders`` holds the timbre faders once ``load_faders`` (or the first ``edit``) has read them.
    """

    faders: Faders | None = None

    def load_faders(self, path: str | os.PathLike | None = None) -> Faders:
        """Load timbre faders (``hyperlib.sound_design.faders.Faders``) from a file or folder (default: the model
        folder).

        Raises FileNotFoundError naming the command that builds ``faders.safetensors``.
        """
        self.faders = model_faders(self, path)
        return self.faders

    def edit(self, sound: AudioInput, faders: dict, pitch: int | None = None, method: str = "hyper",
             steps: int = REFINE_STEPS) -> Result:
        """The sound's timbre moved along the timbre faders, {index: value in std}, at MIDI ``pitch``.

        See ``hyperlib.sound_design.faders.edit``; all-zero faders equal ``synthesize``. Raises FileNotFoundError
        when the model folder has no ``faders.safetensors``.
        """
        return edit(self, sound, faders, pitch, method, steps, self.faders or self.load_faders())

    @renamed_keywords(refine_steps="steps")
    def morph(self, sounds: Sequence[AudioInput], nodes: int = 9, pitch: int = 60, even: bool = True,
              method: str = "hyper", steps: int = REFINE_STEPS, iterations: int = 8) -> MorphResults:
        """A morph of ``nodes`` notes between 2 sounds (or a nodes x nodes mesh between 4), SOM-evened.

        See ``hyperlib.sound_design.morph.morph``; returns a list of Results (a list of lists for a mesh) with
        ``.path`` (step-size spread before/after). ``refine_steps=`` is the deprecated name of ``steps=``.
        """
        return morph(self, sounds, nodes, pitch, even, method, steps, iterations)

    def melody(self, sound: AudioInput, notes, method: str = "hyper", steps: int = REFINE_STEPS,
               release_s: float = 0.15) -> Result:
        """A melody (notes list, "60:0:0.5,..." string or .mid path) in the sound's timbre, as one ``Result``
        (``audio`` at ``sample_rate`` 16000; ``mel`` and ``pitch`` None).

        See ``hyperlib.sound_design.melody.render_melody``.
        """
        return render_melody(self, sound, notes, method, steps, release_s)

    def export_sfz(self, sound: AudioInput, out_dir: str | os.PathLike, low: int = 36, high: int = 84,
                   every: int = 3, method: str = "hyper", steps: int = REFINE_STEPS, name: str = "hyperlib") -> Path:
        """Write an SFZ instrument of the sound's timbre over MIDI ``low``-``high``; returns the .sfz path.

        See ``hyperlib.sound_design.sfz.export_sfz``.
        """
        return export_sfz(self, sound, out_dir, low, high, every, method, steps, name)
