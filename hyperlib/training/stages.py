"""The five resumable training stages: f, G with D, H_pre, H (paper sec. 3.2, eq. 4-6) and the encoder E.

Each stage reads the networks of earlier stages from the model folder, trains its own, logs losses to
``<model_dir>/_train/<stage>.jsonl``, writes a resumable state to ``<model_dir>/_train/<stage>.pt``
every ``ckpt_every`` steps, and on completion writes its safetensors and a summary (steps, wall time,
final losses) into ``config.json["training"][stage]``. Under torchrun every stage runs on several processes
(``hyperlib.training.distributed``): ``batch_size`` is then the global batch, split across them.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .. import checkpoint as ckpt
from ..config import ModelConfig, TrainConfig
from ..corpus import load_corpus
from ..models import refine
from . import history
from .adversary import LinearPitchAdversary
from .data import NoteBank
from .distributed import Processes, processes
from .ema import EMA

STAGE_DEFAULTS = {
    "features": TrainConfig(steps=3000, batch_size=32, lr=1e-3, betas=(0.9, 0.99)),
    "generator": TrainConfig(steps=3000, batch_size=16, lr=2e-3, ema_half_life=10_000, channels_last=True),
    "hypernet-pre": TrainConfig(steps=1200, batch_size=8, lr=2.5e-3, betas=(0.9, 0.99)),
    "hypernet-adv": TrainConfig(steps=600, batch_size=8, lr=2.5e-3, timbre_weight=20.0, recon_weight=200.0),
    "encoder": TrainConfig(steps=1500, batch_size=16, lr=1e-3, betas=(0.9, 0.99), channels_last=True),
}
TINY = dict(steps=12, batch_size=4, ckpt_every=6, log_every=1, knn_k=4, refine_steps=1)


class Stage:
    """Shared machinery of a stage: data, devices, optimizers, resumable state, logging.

    ``procs``: this process among the run's (``Processes``); only the main process writes files."""

    def __init__(self, name: str, corpus_dir, model_dir, tc: TrainConfig, device: str | torch.device, fresh: bool,
                 model_config: ModelConfig | None = None, procs: Processes = Processes()):
        procs.check_batch(tc.batch_size)
        self.name, self.tc, self.device, self.procs = name, tc, torch.device(device), procs
        self.model_dir = Path(model_dir)
        self.train_dir = self.model_dir / "_train"
        self.train_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(tc.seed)
        corpus = load_corpus(corpus_dir)
        self.manifest = Path(corpus_dir) / "manifest.csv"
        self.bank = NoteBank(corpus, tc.seed)
        self.audio = corpus.audio_config
        cfg = ckpt.read_config(self.model_dir)
        if "model" not in cfg:
            model_config = replace(model_config or ModelConfig(), num_instruments=self.bank.num_instruments)
            cfg = {"model": model_config.to_dict(),
                   "audio": asdict(corpus.audio_config)}
            self._write_config(cfg)
        elif name == "features" and cfg["model"]["num_instruments"] != self.bank.num_instruments:
            cfg["model"]["num_instruments"] = self.bank.num_instruments  # a new corpus: f gets a new instrument head
            self._write_config(cfg)
        self.cfg = ModelConfig.from_dict(cfg["model"])
        self.state_path = self.train_dir / f"{name}.pt"
        self.log_path = self.train_dir / f"{name}.jsonl"
        if fresh and procs.main:
            self.state_path.unlink(missing_ok=True)
            self.log_path.unlink(missing_ok=True)
        procs.barrier()  # the other processes read config.json and the state after the main one wrote them
        self.modules: dict[str, torch.nn.Module] = {}
        self.optims: dict[str, torch.optim.Optimizer] = {}

    def _write_config(self, cfg: dict) -> None:
        if self.procs.main:
            ckpt.write_config(self.model_dir, cfg)

    def frozen(self, name: str) -> torch.nn.Module:
        """A network of an earlier stage, in eval mode with gradients off."""
        return self._layout(ckpt.load_network(self.model_dir, name, self.cfg, self.device).requires_grad_(False))

    def _layout(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` in the channels-last memory layout where ``tc.channels_last`` (convolutions follow their
        weights' layout; the arithmetic is the same)."""
        return module.to(memory_format=torch.channels_last) if self.tc.channels_last else module

    def trainable(self, name: str, init: torch.nn.Module | None = None, warm_file: str | None = None,
                  lr: float | None = None) -> torch.nn.Module:
        """A network to train: ``init``, else a new one, which with ``tc.warm_start`` takes the weights of
        ``<model_dir>/<warm_file or name>.safetensors`` where that exists (parameters the file lacks keep
        their initialization, and so do those whose shape changed, such as f's instrument head on a new
        corpus). ``lr``: its Adam learning rate (default ``tc.lr``); G's parameters are grouped by
        ``generator_param_groups``."""
        module = init or ckpt.build(name, self.cfg, self.audio)
        warm = self.model_dir / f"{warm_file or name}.safetensors"
        if init is None and self.tc.warm_start and warm.is_file():
            own = module.state_dict()
            weights = {k: v for k, v in ckpt.read_weights(self.model_dir, warm_file or name).items()
                       if k in own and own[k].shape == v.shape}
            missing, _ = module.load_state_dict(weights, strict=False)
            if self.procs.main:
                tqdm.write(f"{self.name}: {name} warm-started from {warm.name}; new parameters: {missing or 'none'}")
        module = self._layout(module.to(self.device).train().requires_grad_(True))
        self.modules[name] = module
        lr = lr or self.tc.lr
        params = generator_param_groups(module, lr, self.tc) if name == "G" else module.parameters()
        self.optims[name] = torch.optim.Adam(params, lr=lr, betas=tuple(self.tc.betas))
        for group in self.optims[name].param_groups:
            group["base_lr"] = group["lr"]  # the schedule scales this (restored with the optimizer on resume)
        return module

    def features_and_knn(self, f: torch.nn.Module) -> torch.Tensor:
        """h = f(x) of every corpus row (N, h_dim) on the device, and the bank's KNN table built from it.

        h is cached in ``_train/`` under the hash of ``f.safetensors`` and the corpus's manifest, as
        computing it for a large corpus takes minutes on a CPU and three stages need the same h."""
        key = ckpt.file_sha256(self.model_dir / "f.safetensors")[:16] + ckpt.file_sha256(self.manifest)[:16]
        cache = self.train_dir / f"h_{key}.pt"
        if cache.is_file():
            h = torch.load(cache, weights_only=True)
        elif self.procs.main:
            h = self.bank.features(f, self.device)
            torch.save(h, cache.with_suffix(".tmp"))
            cache.with_suffix(".tmp").replace(cache)
        self.procs.barrier()  # the main process computes and caches h, the others read it
        if not self.procs.main:
            h = torch.load(cache, weights_only=True)
        self.bank.build_knn(h, self.tc.knn_k)
        return h.to(self.device)

    def run(self, step_fn: Callable[[int], dict], save_names: dict[str, str]) -> dict:
        """Run ``step_fn`` from the saved step to ``tc.steps``; save ``save_names`` (module -> file) at the end."""
        start, elapsed = 0, 0.0
        # totals of the runs this one continues (a warm start), kept in the state so that a resumed run keeps them
        recorded = ckpt.read_config(self.model_dir).get("training", {}).get(self.name, {}) if self.tc.warm_start else {}
        self.before = {"samples_total": recorded.get("samples_total", recorded.get("steps", 0) * recorded.get("batch_size", 0)),
                       "wall_time_total_s": recorded.get("wall_time_total_s", recorded.get("wall_time_s", 0.0)),
                       "curve": recorded.get("curve"),
                       "log_offset": self.log_path.stat().st_size if self.log_path.is_file() else 0}
        if self.state_path.is_file():
            state = torch.load(self.state_path, map_location=self.device, weights_only=True)
            for k, m in self.modules.items():
                m.load_state_dict(state["modules"][k])
            for k, o in self.optims.items():
                o.load_state_dict(state["optims"][k])
            start, elapsed = state["step"], state["elapsed"]
            self.before = json.loads(state.get("before", json.dumps(self.before)))
            self.bank.rng.bit_generator.state = json.loads(state["rng"])
            torch.manual_seed(self.tc.seed + start)
        t0 = time.time() - elapsed
        main = self.procs.main
        bar = tqdm(range(start, self.tc.steps), desc=self.name, initial=start, total=self.tc.steps, unit="step",
                   disable=not main)
        with open(self.log_path, "a") if main else contextlib.nullcontext() as log:
            for step in bar:
                for optim in self.optims.values():
                    for group in optim.param_groups:
                        group["lr"] = group["base_lr"] * self.tc.lr_factor(step)
                losses = step_fn(step)
                if (step + 1) % self.tc.log_every == 0:
                    losses = self.procs.mean(losses)
                    if main:
                        log.write(json.dumps({"step": step + 1, "time_s": round(time.time() - t0, 2), **losses}) + "\n")
                        log.flush()
                        bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()})
                if main and ((step + 1) % self.tc.ckpt_every == 0 or step + 1 == self.tc.steps):
                    self._save_state(step + 1, time.time() - t0)
        summary = self._finish(save_names, t0) if main else {}
        self.procs.barrier()  # every process returns once the files are written
        return summary

    def _finish(self, save_names: dict[str, str], t0: float) -> dict:
        """Write the networks, their hashes and the stage summary; return the summary."""
        final = self._final_losses()
        for module_name, file_name in save_names.items():
            ckpt.save_network(self.model_dir, file_name, self.modules[module_name])
        ckpt.write_hashes(self.model_dir)  # sha256 of every safetensors file, checked by load_network
        cfg = ckpt.read_config(self.model_dir)
        wall, samples = time.time() - t0, self.tc.steps * self.tc.batch_size
        summary = {"steps": self.tc.steps, "batch_size": self.tc.batch_size, "lr": self.tc.lr,
                   "wall_time_s": round(wall, 1), "device": str(self.device), "torch_threads": torch.get_num_threads(),
                   "processes": self.procs.world_size,
                   "notes": len(self.bank), "warm_start": self.tc.warm_start, "final_losses": final,
                   "samples": samples,
                   "samples_total": self.before["samples_total"] + samples,
                   "wall_time_total_s": round(self.before["wall_time_total_s"] + wall, 1),
                   "options": asdict(self.tc),
                   "curve": history.extend_curve(self.before.get("curve"), history.read_log(self.log_path, self.before.get("log_offset", 0)),
                                                 self.before["samples_total"], self.tc.batch_size)}
        cfg.setdefault("training", {})[self.name] = summary
        ckpt.write_config(self.model_dir, cfg)
        return summary

    def _final_losses(self, last: int = 50) -> dict:
        """Mean of each logged loss over the run's last ``last`` steps, read from the log (so also when a
        resumed run had nothing left to train)."""
        if not self.log_path.is_file():
            return {}
        rows = [json.loads(line) for line in self.log_path.read_text().splitlines()[-last:] if line.strip()]
        rows = [r for r in rows if r["step"] > rows[-1]["step"] - last]
        keys = [k for k in (rows[0] if rows else {}) if k not in ("step", "time_s")]
        return {k: round(sum(r[k] for r in rows) / len(rows), 5) for k in keys}

    def _save_state(self, step: int, elapsed: float) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        torch.save({"step": step, "elapsed": elapsed, "rng": json.dumps(self.bank.rng.bit_generator.state),
                    "before": json.dumps(self.before),
                    "modules": {k: m.state_dict() for k, m in self.modules.items()},
                    "optims": {k: o.state_dict() for k, o in self.optims.items()}}, tmp)
        tmp.replace(self.state_path)

    def update(self, name: str, loss: torch.Tensor) -> None:
        opt = self.optims[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], self.tc.grad_clip)
        opt.step()


def generator_param_groups(G: torch.nn.Module, lr: float, tc: TrainConfig) -> list[dict]:
    """Adam groups for G, after StyleGAN2's learning-rate equalization: the modulated convolutions' weights
    and the constant input are stored at unit scale (runtime gain) and take ``lr``; the mapping network
    takes ``lr * tc.mapping_lr_mult`` (StyleGAN2: 0.01); the other layers (style affines, to_mel biases,
    harmonic inputs), at PyTorch's default init scale, take ``lr * tc.style_lr_mult``."""
    groups = {"unit": [], "mapping": [], "other": []}
    for name, p in G.named_parameters():
        unit = name == "const" or (name.endswith(".weight") and name.startswith(("convs.", "to_mels.")))
        groups["unit" if unit else "mapping" if name.startswith("mapping.") else "other"].append(p)
    mult = {"unit": 1.0, "mapping": tc.mapping_lr_mult, "other": tc.style_lr_mult}
    return [{"params": ps, "lr": lr * mult[k]} for k, ps in groups.items() if ps]


def r1_penalty(D: torch.nn.Module, real: torch.Tensor, pitch: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """R1 = E ||grad_x D(x_real)||^2 (Mescheder et al. 2018)."""
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(real, pitch, h).sum(), real, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3)).mean()


def discriminator_step(s: Stage, D, real, fake, pitch, h, step: int) -> float:
    """Non-saturating logistic D loss softplus(D(fake)) + softplus(-D(real)), lazy R1 every r1_every steps.

    Fake and real go through D as one batch (D has no batch statistics, so the scores are the same)."""
    fake_score, real_score = D(torch.cat([fake.detach(), real]), pitch.repeat(2), h.repeat(2, 1)).chunk(2)
    loss = F.softplus(fake_score).mean() + F.softplus(-real_score).mean()
    if step % s.tc.r1_every == 0:
        loss = loss + s.tc.r1_gamma / 2 * r1_penalty(D, real, pitch, h) * s.tc.r1_every
    s.update("D", loss)
    return loss.item()


def train_features(s: Stage) -> dict:
    """f: instrument cross-entropy + pitch_adv_weight * the pitch read-out's explained variance (GANStrument).

    The pitch adversary is ``LinearPitchAdversary``: a least-squares read-out of pitch from h, refitted
    on the last ``tc.adversary_queue`` features at every step, whose explained fraction f minimizes. A
    departure from GANStrument's gradient-reversed pitch classifier, which f learned to make confidently
    wrong while pitch stayed linearly decodable from h (probe 29.7% against 20.8% without it).
    """
    f = s.trainable("f")
    f_train = s.procs.wrap(f)
    mels, pitch, inst = s.bank, s.bank.pitch, s.bank.instrument
    adversary = LinearPitchAdversary(s.cfg.num_pitches, s.tc.adversary_queue, s.tc.adversary_ridge, s.procs.gather)
    with torch.no_grad():  # fill the queue before the first step (also on resume; every process alike)
        for _ in range(0, s.tc.adversary_queue, 256):
            i = mels.sample(256)
            adversary.push(f(mels.batch(i, s.device)), (pitch[i] - s.cfg.min_pitch).to(s.device))

    def step(_: int) -> dict:
        i = s.procs.shard(mels.sample(s.tc.batch_size))
        x = mels.batch(i, s.device)
        noise = torch.randn((s.tc.batch_size, *x.shape[1:]), dtype=x.dtype, device=x.device)
        x = x + 0.02 * s.procs.shard(noise)  # light noise: robustness to vocoded / real inputs
        h = f_train(x)
        explained, r2 = adversary(h, (pitch[i] - s.cfg.min_pitch).to(s.device))
        inst_logits = f.instrument_head(h)
        ce_inst = F.cross_entropy(inst_logits, inst[i].to(s.device))
        s.update("f", ce_inst + s.tc.pitch_adv_weight * explained)
        return {"ce_instrument": ce_inst.item(), "pitch_explained": explained.item(), "pitch_r2_queue": r2,
                "acc_instrument": (inst_logits.argmax(1).cpu() == inst[i]).float().mean().item()}

    return s.run(step, {"f": "f"})


def knn_batch(s: Stage, h_all: torch.Tensor):
    """Instance-conditioning batch: rows i, KNN rows j, their pitches p_j, exact targets (i's instrument at p_j),
    and h_i; the global batch's pairs, this process's shard of them."""
    i = s.bank.sample(s.tc.batch_size)
    j = s.bank.neighbours(i)
    p_j = s.bank.pitch[j]
    exact = s.bank.exact(i, p_j)
    i, j, p_j, exact = (s.procs.shard(t) for t in (i, j, p_j, exact))
    return i, j, p_j.to(s.device), exact, h_all[i]


def adversarial_loss(D, fake, pitch, h) -> torch.Tensor:
    """The generator's non-saturating loss softplus(-D(fake)); D's own weights get no gradient from it."""
    D.requires_grad_(False)
    try:
        return F.softplus(-D(fake, pitch, h)).mean()
    finally:
        D.requires_grad_(True)


def train_generator(s: Stage) -> dict:
    """G with instance conditioning: L1 to the exact target (instrument i at p_j) + non-saturating GAN loss, R1.

    With ``tc.ema_half_life`` > 0 the stage also keeps G_ema (``EMA``), saved as ``G`` for inference and the
    later stages, and saves the trained weights as ``G_raw``; warm-starting then resumes G from ``G_raw`` and
    the average from ``G``.
    """
    h_all = s.features_and_knn(s.frozen("f"))
    ema = s.tc.ema_half_life > 0
    resume_raw = ema and s.tc.warm_start and (s.model_dir / "G_raw.safetensors").is_file()
    G = s.trainable("G", warm_file="G_raw" if resume_raw else "G")
    D = s.trainable("D", lr=s.tc.d_lr)
    G_forward = s.procs.wrap(G)
    G_forward = torch.compile(G_forward) if s.tc.compile else G_forward  # DDP under compile: graphs split at buckets
    D_train = s.procs.wrap(D)
    if ema:
        G_ema = EMA(G, s.tc.ema_half_life, rampup=None if resume_raw else 0.05)  # a continued run keeps its average
        if resume_raw:
            G_ema.module.load_state_dict(ckpt.read_weights(s.model_dir, "G"))
        s.modules["G_ema"] = G_ema.module  # saved and restored with the training state

    def step(n: int) -> dict:
        i, j, p_j, exact, h = knn_batch(s, h_all)
        z = s.procs.shard(torch.randn(s.tc.batch_size, s.cfg.z_dim, device=s.device))
        fake = G_forward(h, z, p_j)
        real = s.bank.batch(j, s.device)
        d_loss = discriminator_step(s, D_train, real, fake, p_j, h, n)
        target = s.bank.batch(exact.clamp(min=0), s.device)
        l1 = s.procs.masked_mean((fake - target).abs().mean(dim=(1, 2, 3)), exact >= 0)
        adv = adversarial_loss(D, fake, p_j, h)
        s.update("G", s.tc.l1_weight * l1 + s.tc.adv_weight * adv)
        if ema:
            G_ema.update(G, (n + 1) * s.tc.batch_size, s.tc.batch_size)
        return {"l1": l1.item(), "g_adv": adv.item(), "d_loss": d_loss}

    return s.run(step, {"G_ema": "G", "G": "G_raw", "D": "D"} if ema else {"G": "G", "D": "D"})


def hyper_batch(s: Stage, h_all: torch.Tensor):
    """Paper sec. 3.2: with probability p_recon the input's own pitch (x' = x), else a KNN neighbour's (x' = x_j).

    Returns rows i, pitch p', real x' (B, 1, F, T), target x (B, 1, F, T), h (B, h_dim), own-pitch mask (B,),
    B this process's shard of the global batch.
    """
    i, j, p_j, _, h = knn_batch(s, h_all)
    own = s.procs.shard(torch.rand(s.tc.batch_size) < s.tc.p_recon)
    j = torch.where(own, i, j)
    return i, s.bank.pitch[j].to(s.device), s.bank.batch(j, s.device), s.bank.batch(i, s.device), h, own.to(s.device)


def l_pre(s: Stage, f, h, x, x_fine, own, h_scale: float) -> tuple[torch.Tensor, dict]:
    """L_pre = l_timbre ||h - f(x_fine)||^2 + l_recon ||x - x_fine||^2, l_recon only where the own pitch is used (eq. 4).

    Both terms are means over their elements; h is divided by ``h_scale`` (the corpus std of h) so that
    the paper's weights balance the two terms whatever the scale f learned.
    """
    timbre = ((h - f(x_fine)) / h_scale).square().mean(dim=1)
    recon = (x - x_fine).square().mean(dim=(1, 2, 3)) * own
    loss = (s.tc.timbre_weight * timbre + s.tc.recon_weight * recon).mean()
    return loss, {"timbre_mse": timbre.mean().item(),
                  "recon_mse": (recon.sum() / own.sum().clamp(min=1)).item()}


def train_hypernet(s: Stage, adversarial: bool) -> dict:
    """H pre-training with L_pre (eq. 3-4) or adversarial fine-tuning with D (eq. 5-6); G and f frozen."""
    f, G = s.frozen("f"), s.frozen("G")
    h_all = s.features_and_knn(f)
    h_scale = h_all.std().item()
    H = s.trainable("H", ckpt.load_network(s.model_dir, "H_pre", s.cfg, s.device) if adversarial else None,
                    warm_file="H_pre")
    D = s.trainable("D", ckpt.load_network(s.model_dir, "D", s.cfg, s.device), lr=s.tc.d_lr) if adversarial else None
    H_train, D_train = s.procs.wrap(H), s.procs.wrap(D) if adversarial else None

    def step(n: int) -> dict:
        i, p, real, x, h, own = hyper_batch(s, h_all)
        xs, _ = refine(G, f, H_train, h, p, s.tc.refine_steps)
        x_fine = xs[-1]
        loss, logs = l_pre(s, f, h, x, x_fine, own, h_scale)
        if adversarial:
            logs["d_loss"] = discriminator_step(s, D_train, real, x_fine, p, h, n)
            adv = adversarial_loss(D, x_fine, p, h)
            loss = loss + adv
            logs["h_adv"] = adv.item()
        s.update("H", loss)
        return {"l_pre": loss.item(), **logs}

    return s.run(step, {"H": "H" if adversarial else "H_pre"})


def train_encoder(s: Stage) -> dict:
    """E baseline: ||x - G(E(x), p)||^2 + lambda ||z||^2 with G frozen (paper sec. 4.2)."""
    G = s.frozen("G")
    E = s.procs.wrap(s.trainable("E"))

    def step(_: int) -> dict:
        i = s.procs.shard(s.bank.sample(s.tc.batch_size))
        x = s.bank.batch(i, s.device)
        h, z = E(x)
        recon = (x - G(h, z, s.bank.pitch[i].to(s.device))).square().mean()
        z_norm = z.square().mean()
        s.update("E", recon + s.tc.z_weight * z_norm)
        return {"recon_mse": recon.item(), "z_sq": z_norm.item()}

    return s.run(step, {"E": "E"})


STAGES: dict[str, Callable[[Stage], dict]] = {
    "features": train_features,
    "generator": train_generator,
    "hypernet-pre": lambda s: train_hypernet(s, adversarial=False),
    "hypernet-adv": lambda s: train_hypernet(s, adversarial=True),
    "encoder": train_encoder,
}


def train_stage(stage: str, corpus_dir, model_dir, device: str = "cpu", tiny: bool = False,
                fresh: bool = False, model_config: ModelConfig | None = None, **overrides) -> dict:
    """Train one stage; resumes from ``<model_dir>/_train/<stage>.pt`` unless ``fresh``.

    Args:
        stage: one of ``STAGES``. corpus_dir: a folder from ``render_corpus``. model_dir: the model folder.
        device: "cpu" or "cuda". tiny: a few steps on small batches (smoke tests).
        model_config: network sizes for a new model folder (default ``ModelConfig()``).
        overrides: TrainConfig fields (steps, batch_size, lr, ...).
    Under torchrun (``WORLD_SIZE`` > 1) each process runs this with the same arguments: ``batch_size`` is the
    global batch, split across the processes, and the process group spans the call
    (``hyperlib.training.distributed``).
    Returns:
        The stage summary written to config.json (steps, wall time, final losses); {} in the processes other
        than the main one.
    Raises:
        ValueError: unknown stage, or a batch size not divisible by the number of processes.
        FileNotFoundError: an earlier stage's network is missing.
    """
    if stage not in STAGES:
        raise ValueError(f"Unknown stage {stage!r}; stages in order: {', '.join(STAGES)}.")
    tc = replace(STAGE_DEFAULTS[stage], **{**(TINY if tiny else {}), **overrides})
    with processes(device) as (procs, where):
        return STAGES[stage](Stage(stage, corpus_dir, model_dir, tc, where, fresh, model_config, procs))
