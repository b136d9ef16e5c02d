"""Evaluation (paper sec. 4): independent evaluation classifiers, metrics,
the ``evaluate`` run and its report.

    python -m hyperlib train-eval --corpus data/full --validation data/timgm6mb --model checkpoints
    python -m hyperlib evaluate --split validation --out results/
"""
from .classifiers import (EvalClassifiers, MelClassifier, load_eval_classifiers, train_eval_classifiers,
                          train_f_noadv)
from .config import EvalConfig
from .evaluator import Evaluator
from .run import evaluate

__all__ = ["EvalClassifiers", "EvalConfig", "Evaluator", "MelClassifier", "evaluate", "load_eval_classifiers",
           "train_eval_classifiers", "train_f_noadv"]
