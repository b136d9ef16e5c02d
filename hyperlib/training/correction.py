"""Training of the spectral correction (``models.correction``) on pairs of ``correction_data``: resumable, logged.

Each step corrects a batch of pitch-shifted notes (``apply_mel_gain`` of the predicted log-gain, then peak
normalization, as the "faithful" method renders) and compares them with the true notes in the evaluation's terms:
the normalized log-mel L1 (``mel_weight``) plus the RMS-matched log-spectral distances at the mel and fine
resolutions (``vocoder.spectral_loss``, ``spectral_weight``). Held-out pairs (another font) are scored at every
checkpoint beside the uncorrected shift, and the weights of the checkpoint with the lowest held-out log-mel L1 are
kept. ``<out>/state.pt`` holds the resumable state, ``<out>/log.jsonl`` the losses,
``<out>/correction.safetensors`` the kept weights with the run's record.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from ..checkpoint import configs, file_sha256, record_hash, replace_atomically
from ..faithful import CORRECTION_FILE
from ..mel import LogMel, mel_filterbank
from ..models.correction import CorrectionConfig, SpectralCorrection, apply_mel_gain, mel_to_bins
from .correction_data import CorrectionPairs
from .vocoder import spectral_loss


@dataclass
class CorrectionTrainConfig:
    """Settings of ``train_correction``: Adam's learning rate ``lr`` with a linear warm-up over ``warmup_steps``,
    then constant until ``decay_from`` (None: to the end), then a cosine decay to a tenth at ``steps``; the loss
    weights (see the module docstring); ``far_weight``: the loss weight of pairs shifted by more than 12 semitones
    (the others weigh 1), where the shifters' errors are largest; ``val_every`` steps between held-out checks."""

    steps: int = 3000
    batch_size: int = 16
    lr: float = 2e-3
    warmup_steps: int = 100
    decay_from: int | None = None
    mel_weight: float = 1.0
    spectral_weight: float = 0.125
    far_weight: float = 1.0
    val_every: int = 200
    seed: int = 0
    correction: CorrectionConfig = field(default_factory=lambda: CorrectionConfig(source_channel=True))


def corrected(net: SpectralCorrection, shifted: torch.Tensor, h: torch.Tensor, src: torch.Tensor, tgt: torch.Tensor,
              source: torch.Tensor, logmel: LogMel, weights: torch.Tensor, peak_dbfs: float) -> torch.Tensor:
    """The faithful method's output for shifted notes (B, num_samples) of sources whose log-mels are ``source``
    (B, 1, n_mels, frames): the correction applied, then the peak normalized to ``peak_dbfs`` dB (differentiable)."""
    gain = net(logmel(shifted), h, src, tgt, source)
    y = apply_mel_gain(shifted, gain, logmel.cfg, weights)
    return y * (10 ** (peak_dbfs / 20) / y.abs().amax(dim=1, keepdim=True).clamp(min=1e-8))


def lr_at(tc: CorrectionTrainConfig, step: int) -> float:
    """The learning rate of step ``step`` (0-based) under ``tc``'s warm-up and decay."""
    lr = tc.lr * min(1.0, (step + 1) / tc.warmup_steps)
    if tc.decay_from is not None and step >= tc.decay_from:
        done = (step - tc.decay_from) / max(1, tc.steps - tc.decay_from)
        lr *= 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, done)))
    return lr


def train_correction(pairs_path: str | Path, val_path: str | Path, model_dir: str | Path, out_dir: str | Path,
                     tc: CorrectionTrainConfig = CorrectionTrainConfig(), fresh: bool = False,
                     threads: int | None = None, init: str | Path | None = None) -> Path:
    """Train (or resume) the correction on ``pairs_path``, checked on ``val_path``; returns the weights file.

    model_dir: the model folder whose f made the pairs' h (its audio settings are used). init: a trained correction
    (``correction.safetensors``) a new run starts from; its first convolution's weights for an input channel it
    lacked (``source_channel``) start at zero, so the run starts as that correction. Raises FileNotFoundError for
    missing pairs, ValueError for pairs made with another f than the folder's or an ``init`` of another shape.
    """
    if threads:
        torch.set_num_threads(threads)
    pairs, val = CorrectionPairs.load(pairs_path), CorrectionPairs.load(val_path)
    model_cfg, audio_cfg = configs(model_dir)
    f_hash = file_sha256(Path(model_dir) / "f.safetensors")
    if {pairs.model_f, val.model_f} != {f_hash}:
        raise ValueError(f"The pairs were made with another f than {model_dir}'s: make them again.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state_path, log_path, weights_path = out / "state.pt", out / "log.jsonl", out / "correction.safetensors"
    if fresh:
        for p in (state_path, log_path):
            p.unlink(missing_ok=True)
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    net = SpectralCorrection(model_cfg.h_dim, audio_cfg.n_mels, tc.correction)
    start = None  # the record of the correction the run started from
    if init is not None:
        if not state_path.is_file():
            _start_from(net, init)
        with safe_open(str(init), "pt") as f:
            start = json.loads(f.metadata().get("record", "{}"))
    opt = torch.optim.Adam(net.parameters(), lr=tc.lr)
    logmel, weights = LogMel(audio_cfg), mel_to_bins(audio_cfg)
    basis = torch.from_numpy(mel_filterbank(audio_cfg))
    step, seconds, best = 0, 0.0, {"mel_l1": float("inf")}
    if state_path.is_file():
        state = torch.load(state_path, weights_only=False)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        step, seconds, best = state["step"], state["seconds"], state["best"]
        rng.bit_generator.state = state["rng"]

    def tensors(p: CorrectionPairs, rows):
        return (torch.from_numpy(p.shifted[rows]), torch.from_numpy(p.target[rows]), torch.from_numpy(p.h[rows]),
                torch.from_numpy(p.src[rows]).long(), torch.from_numpy(p.tgt[rows]).long(),
                torch.from_numpy(p.source[rows].astype(np.float32)).unsqueeze(1))

    def loss_terms(y, target):
        mel_l1 = (logmel(y) - logmel(target)).abs().mean(dim=(1, 2, 3))
        spec = spectral_loss(y, target, basis, per_resolution=True)
        return mel_l1, spec

    @torch.no_grad()
    def validate() -> dict:
        net.eval()
        scores = {"mel_l1": [], "fine": [], "mel_l1_shift": [], "fine_shift": []}
        for s in range(0, len(val), 64):
            shifted, target, h, src, tgt, source = tensors(val, np.arange(s, min(s + 64, len(val))))
            for key, y in (("", corrected(net, shifted, h, src, tgt, source, logmel, weights, audio_cfg.peak_dbfs)),
                           ("_shift", shifted)):
                mel_l1, spec = loss_terms(y, target)
                scores["mel_l1" + key].append(mel_l1)
                scores["fine" + key].append(spec["4096/256"])
        net.train()
        return {k: round(float(torch.cat(v).mean()), 5) for k, v in scores.items()}

    def save_state() -> None:
        replace_atomically(state_path, lambda tmp: torch.save(
            {"net": net.state_dict(), "opt": opt.state_dict(), "step": step, "seconds": seconds, "best": best,
             "rng": rng.bit_generator.state}, tmp))

    def save_weights(val_scores: dict) -> None:
        record = {"date": date.today().isoformat(), "step": step, "samples": step * tc.batch_size,
                  "seconds": round(seconds, 1), "threads": torch.get_num_threads(), "pairs": len(pairs),
                  "val_pairs": len(val), "shifter": pairs.shifter, "model_f": f_hash, "heldout": val_scores,
                  "train_config": {k: v for k, v in asdict(tc).items() if k != "correction"}}
        if start is not None:
            record["init"] = start
            record["samples_total"] = record["samples"] + start.get("samples_total", start.get("samples", 0))
        meta = {"correction": json.dumps(tc.correction.to_dict()), "record": json.dumps(record)}
        state = {k: v.contiguous() for k, v in net.state_dict().items()}
        replace_atomically(weights_path, lambda tmp: save_file(state, str(tmp), metadata=meta))

    net.train()
    bar = tqdm(total=tc.steps, initial=step, desc="train the spectral correction", unit="step")
    with open(log_path, "a") as log:
        while step < tc.steps:
            t0 = time.perf_counter()
            for g in opt.param_groups:
                g["lr"] = lr_at(tc, step)
            shifted, target, h, src, tgt, source = tensors(pairs, rng.integers(len(pairs), size=tc.batch_size))
            y = corrected(net, shifted, h, src, tgt, source, logmel, weights, audio_cfg.peak_dbfs)
            mel_l1, spec = loss_terms(y, target)
            per_pair = tc.mel_weight * mel_l1 + tc.spectral_weight * torch.stack(list(spec.values())).mean(dim=0)
            far = (tgt - src).abs() > 12
            w = torch.where(far, tc.far_weight, 1.0)
            loss = (w * per_pair).sum() / w.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            step += 1
            seconds += time.perf_counter() - t0
            record = {"step": step, "loss": round(loss.item(), 5), "mel_l1": round(mel_l1.mean().item(), 5)}
            if step % tc.val_every == 0 or step == tc.steps:
                record["val"] = scores = validate()
                if scores["mel_l1"] < best["mel_l1"]:
                    best = scores
                    save_weights(scores)
                save_state()
            log.write(json.dumps(record) + "\n")
            log.flush()
            bar.update(1)
            bar.set_postfix(loss=f"{record['loss']:.3f}")
    bar.close()
    return weights_path


def _start_from(net: SpectralCorrection, path: str | Path) -> None:
    """Copy a trained correction's weights into ``net``; input channels ``net`` has beyond them start at zero."""
    state = load_file(str(path))  # a run's own output, before it is installed (and hash-checked) in a model folder
    own = net.state_dict()
    for key, value in state.items():
        if key not in own:
            raise ValueError(f"The correction in {path} has a weight {key!r} the one to train lacks.")
        if own[key].shape == value.shape:
            own[key] = value
        elif own[key].dim() == 4 and own[key].shape[1] > value.shape[1] and own[key].shape[0] == value.shape[0]:
            own[key] = torch.cat([value, torch.zeros_like(own[key][:, value.shape[1]:])], dim=1)
        else:
            raise ValueError(f"The correction in {path} has another shape of {key!r}: {tuple(value.shape)}.")
    net.load_state_dict(own)


def install_correction(weights: str | Path, model_dir: str | Path) -> Path:
    """Copy a trained correction (``train_correction``'s weights) into a model folder as ``correction.safetensors``
    and record its sha256 in the folder's ``hashes.json``; returns the installed file."""
    target = Path(model_dir) / CORRECTION_FILE
    data = Path(weights).read_bytes()
    replace_atomically(target, lambda tmp: Path(tmp).write_bytes(data))
    record_hash(target)
    return target
