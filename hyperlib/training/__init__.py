"""Training: one resumable stage per network (issue 2, "Training")."""
from .stages import STAGES, train_stage

__all__ = ["STAGES", "train_stage"]
