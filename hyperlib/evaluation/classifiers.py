"""Evaluation networks, independent of the model under test (paper sec. 4.2).

- ``eval_family``: a 16-way General MIDI family classifier on log-mels. Its penultimate features
  (``features``, 64-d) give the timbre MSE (reconstruction) and the Frechet distance (synthesis,
  interpolation), as the paper's "pre-trained instrument category classifier".
- ``eval_pitch``: an 88-way pitch classifier (MIDI 21-108) on log-mels, trained on pitched notes only.

Both are small CNNs (``ConvTrunk``) trained on the training corpus only, with light augmentation
(Gaussian noise and a random level offset in the normalized log-mel space), and scored on the
held-out validation corpus. Files in the model folder: ``eval_family.safetensors``,
``eval_pitch.safetensors`` and ``eval_config.json`` (architecture, training summary, held-out
accuracies). The same command can also train ``f_noadv.safetensors``: f without the pitch adversary,
for the disentanglement probe.
"""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn
from tqdm import tqdm

from .. import checkpoint as ckpt
from ..config import MAX_PITCH, MIN_PITCH
from ..corpus import GM_FAMILIES, Corpus, load_corpus
from ..models.layers import ConvTrunk

EVAL_CONFIG = "eval_config.json"
TRAIN_HINT = ("train them with `python -m hyperlib train-eval --corpus data/full --validation data/timgm6mb "
              "--model {model}`")


@dataclass
class ClassifierConfig:
    """One evaluation classifier: architecture and schedule.

    channels: ConvTrunk channels (5 blocks: 128 x 128 -> 4 x 4). feat_dim: penultimate width.
    steps / batch_size / lr: Adam with a linear warm-up and cosine decay. noise_std: std of the Gaussian
    noise added to the normalized log-mel; level_jitter: half-width of a uniform offset added to it
    (0.05 is about +-3.5 dB).
    """

    num_classes: int
    channels: tuple = (8, 16, 32, 48, 64)
    feat_dim: int = 64
    steps: int = 1000
    batch_size: int = 32
    lr: float = 2e-3
    noise_std: float = 0.03
    level_jitter: float = 0.05
    seed: int = 0


class MelClassifier(nn.Module):
    """log-mel (B, 1, 128, 128) -> logits (B, num_classes); ``features(x)`` -> penultimate (B, feat_dim)."""

    def __init__(self, cfg: ClassifierConfig):
        super().__init__()
        self.cfg = cfg
        self.trunk = ConvTrunk(tuple(cfg.channels))
        self.to_feat = nn.Sequential(nn.Linear(ConvTrunk.out_features(tuple(cfg.channels)), cfg.feat_dim),
                                     nn.LeakyReLU(0.2))
        self.head = nn.Linear(cfg.feat_dim, cfg.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_feat(self.trunk(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass
class EvalClassifiers:
    """The loaded evaluation networks (eval mode) and ``eval_config.json``."""

    family: MelClassifier
    pitch: MelClassifier
    meta: dict
    min_pitch: int = MIN_PITCH

    @torch.no_grad()
    def score(self, x: torch.Tensor, batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
        """x (B, 1, 128, 128) -> (family features (B, feat_dim) float32, predicted MIDI pitch (B,) int)."""
        feats, pitches = [], []
        for s in range(0, x.shape[0], batch_size):
            xb = x[s : s + batch_size].float()
            feats.append(self.family.features(xb).numpy())
            pitches.append(self.pitch(xb).argmax(1).numpy() + self.min_pitch)
        if not feats:
            return np.zeros((0, self.family.cfg.feat_dim), np.float32), np.zeros(0, int)
        return np.concatenate(feats), np.concatenate(pitches)


def _targets(corpus: Corpus, task: str) -> tuple[np.ndarray, np.ndarray]:
    """(row indices, class labels) of ``task``: "family" (every note, 16 classes) or "pitch" (pitched notes, MIDI - 21)."""
    if task == "family":
        return np.arange(len(corpus.notes)), corpus.column("family")
    rows = np.flatnonzero(corpus.column("pitched"))
    return rows, corpus.column("pitch")[rows] - MIN_PITCH


def _augment(x: torch.Tensor, cfg: ClassifierConfig) -> torch.Tensor:
    level = (torch.rand(x.shape[0], 1, 1, 1) * 2 - 1) * cfg.level_jitter
    return x + level + cfg.noise_std * torch.randn_like(x)


@torch.no_grad()
def accuracy(model: MelClassifier, mels: np.ndarray, rows: np.ndarray, labels: np.ndarray,
             batch_size: int = 256) -> float:
    """Top-1 accuracy of ``model`` on ``mels[rows]`` ((N, 128, 128) float16) against ``labels``."""
    model.eval()
    hits = 0
    for s in range(0, len(rows), batch_size):
        x = torch.from_numpy(np.asarray(mels[rows[s : s + batch_size]], dtype=np.float32)).unsqueeze(1)
        hits += int((model(x).argmax(1).numpy() == labels[s : s + batch_size]).sum())
    return hits / max(len(rows), 1)


def train_classifier(task: str, train: Corpus, cfg: ClassifierConfig, desc: str | None = None) -> tuple[MelClassifier, dict]:
    """Train one evaluation classifier on ``train`` (its mels stay float16 in memory).

    task: "family" or "pitch". Returns (model in eval mode, summary with steps, wall time, final loss
    and accuracy over the last 50 batches).
    """
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    rows, labels = _targets(train, task)
    if len(rows) == 0:
        raise ValueError(f"The training corpus has no notes for the {task} classifier.")
    mels = torch.from_numpy(train.mels)
    y_all = torch.from_numpy(labels).long()
    model = MelClassifier(cfg).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    warmup = max(1, min(50, cfg.steps // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, cfg.steps) / cfg.steps)))
    recent: list[tuple[float, float]] = []
    t0 = time.time()
    bar = tqdm(range(cfg.steps), desc=desc or f"eval_{task}", unit="step")
    for _ in bar:
        pick = rng.integers(0, len(rows), cfg.batch_size)
        x = _augment(mels[rows[pick]].float().unsqueeze(1), cfg)
        y = y_all[pick]
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        recent = (recent + [(loss.item(), (logits.argmax(1) == y).float().mean().item())])[-50:]
        bar.set_postfix(loss=f"{recent[-1][0]:.3g}", acc=f"{np.mean([a for _, a in recent]):.2f}")
    model.eval()
    return model, {"steps": cfg.steps, "batch_size": cfg.batch_size, "lr": cfg.lr,
                   "wall_time_s": round(time.time() - t0, 1), "train_notes": int(len(rows)),
                   "final_loss": round(float(np.mean([l for l, _ in recent])), 4),
                   "final_batch_accuracy": round(float(np.mean([a for _, a in recent])), 4)}


def read_eval_config(model_dir: str | Path) -> dict:
    path = Path(model_dir) / EVAL_CONFIG
    return json.loads(path.read_text()) if path.is_file() else {}


def _write_eval_config(model_dir: str | Path, cfg: dict) -> None:
    (Path(model_dir) / EVAL_CONFIG).write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def train_eval_classifiers(corpus_dir, validation_dir, model_dir, steps: int | None = None,
                           batch_size: int = 32, tiny: bool = False, seed: int = 0) -> dict:
    """Train ``eval_family`` and ``eval_pitch`` on ``corpus_dir``; score them on ``validation_dir``.

    Writes ``<model_dir>/eval_family.safetensors``, ``eval_pitch.safetensors`` and the ``family`` /
    ``pitch`` sections of ``eval_config.json`` (architecture, training summary, held-out accuracy on
    the validation corpus: family over all notes, pitch over its pitched notes). ``tiny``: a few steps
    (smoke tests). Returns the updated eval config.
    """
    train, val = load_corpus(corpus_dir), load_corpus(validation_dir)
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    meta = read_eval_config(model_dir)
    meta["audio"] = asdict(train.audio_config)
    meta["train_corpus"], meta["validation_corpus"] = str(corpus_dir), str(validation_dir)
    for task, classes in (("family", len(GM_FAMILIES)), ("pitch", MAX_PITCH - MIN_PITCH + 1)):
        cfg = ClassifierConfig(num_classes=classes, seed=seed, batch_size=batch_size,
                               steps=steps if steps is not None else (8 if tiny else ClassifierConfig.steps))
        model, summary = train_classifier(task, train, cfg)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()},
                  str(model_dir / f"eval_{task}.safetensors"))
        ckpt.record_hash(model_dir / f"eval_{task}.safetensors")
        rows, labels = _targets(val, task)
        summary["heldout_accuracy"] = round(accuracy(model, val.mels, rows, labels), 4)
        summary["heldout_notes"] = int(len(rows))
        meta[task] = {"config": asdict(cfg), "training": summary,
                      "classes": list(GM_FAMILIES) if task == "family" else [MIN_PITCH, MAX_PITCH]}
        print(f"eval_{task}: held-out accuracy {summary['heldout_accuracy']:.3f} on {len(rows)} notes "
              f"of {validation_dir}")
    _write_eval_config(model_dir, meta)
    return meta


def load_eval_classifiers(model_dir: str | Path) -> EvalClassifiers:
    """Load ``eval_family`` and ``eval_pitch`` from ``model_dir``.

    Raises FileNotFoundError naming the command that trains them.
    """
    model_dir = Path(model_dir)
    meta = read_eval_config(model_dir)
    nets = {}
    for task in ("family", "pitch"):
        path = model_dir / f"eval_{task}.safetensors"
        if not path.is_file() or task not in meta:
            raise FileNotFoundError(f"{path} (or its section in {model_dir / EVAL_CONFIG}) is missing: "
                                    + TRAIN_HINT.format(model=model_dir) + ".")
        c = dict(meta[task]["config"])
        c["channels"] = tuple(c["channels"])
        net = MelClassifier(ClassifierConfig(**c))
        net.load_state_dict(ckpt.read_safetensors(path)[0])
        nets[task] = net.eval().requires_grad_(False)
    return EvalClassifiers(nets["family"], nets["pitch"], meta)


def train_f_noadv(corpus_dir, model_dir, steps: int = 600, tiny: bool = False, fresh: bool = False,
                  device: str = "cpu", **overrides) -> dict:
    """f trained without the pitch adversary (pitch_adv_weight = 0), for the disentanglement probe.

    Trains the ``features`` stage in ``<model_dir>/_train/f_noadv/`` (a scratch model folder with the
    model's own config.json, so the real ``f`` is never touched; resumable), then copies its weights to
    ``<model_dir>/f_noadv.safetensors`` and records the summary in ``eval_config.json["f_noadv"]``.
    ``overrides``: other TrainConfig fields (lr, warm_start, ...), to follow the recipe of the real f.
    """
    from ..training import train_stage

    model_dir = Path(model_dir)
    cfg = ckpt.read_config(model_dir)
    if "model" not in cfg:
        raise FileNotFoundError(f"{model_dir / 'config.json'} is missing: train the model first "
                                "(`python -m hyperlib train features ...`).")
    work = model_dir / "_train" / "f_noadv"
    if fresh or not (work / "config.json").is_file():
        ckpt.write_config(work, {"model": cfg["model"], "audio": cfg.get("audio", {})})
    overrides = {**overrides, "pitch_adv_weight": 0.0}
    if not tiny:
        overrides["steps"] = steps
    summary = train_stage("features", corpus_dir, work, device, tiny, fresh, **overrides)
    shutil.copyfile(work / "f.safetensors", model_dir / "f_noadv.safetensors")
    ckpt.record_hash(model_dir / "f_noadv.safetensors")
    meta = read_eval_config(model_dir)
    meta["f_noadv"] = {**summary, "pitch_adv_weight": 0.0}
    _write_eval_config(model_dir, meta)
    return summary
