"""Training: one resumable stage per network (f, G with D, H_pre, H, E)."""
from .stages import STAGES, train_stage

__all__ = ["STAGES", "train_stage"]
