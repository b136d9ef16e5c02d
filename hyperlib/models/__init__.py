"""The five networks of HyperGANStrument: f, G, D, H and the baseline encoder E."""
from .discriminator import Discriminator
from .encoder import Encoder
from .features import FeatureExtractor
from .generator import Generator, tuned_layer_shapes
from .hypernet import HyperNetwork, checked_refine, kept_steps, refine, take_steps

__all__ = ["Discriminator", "Encoder", "FeatureExtractor", "Generator", "HyperNetwork", "checked_refine", "kept_steps",
           "refine", "take_steps", "tuned_layer_shapes"]
