"""The five resumable training stages: f, G with D, H_pre, H (paper sec. 3.2, eq. 4-6) and the encoder E.

Each stage reads the networks of earlier stages from the model folder, trains its own, logs losses to
``<model_dir>/_train/<stage>.jsonl``, writes a resumable state to ``<model_dir>/_train/<stage>.pt``
every ``ckpt_every`` steps, and on completion writes its safetensors and a summary (steps, wall time,
final losses) into ``config.json["training"][stage]``. Under torchrun every stage runs on several processes
(``hyperlib.training.distributed``): ``batch_size`` is then the global batch, split across them.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import torch
import torch.nn.functional as F

from .. import checkpoint as ckpt
from ..config import ModelConfig, TrainConfig
from ..models import refine
from .adversary import LinearPitchAdversary
from .augment import NUM_DRAWS, augment_inputs
from .distributed import processes
from .ema import EMA
from .losses import adversarial_loss, discriminator_step, l_pre
from .stage import Stage, load_matching

STAGE_DEFAULTS = {
    "features": TrainConfig(steps=3000, batch_size=32, lr=1e-3, betas=(0.9, 0.99)),
    "generator": TrainConfig(steps=3000, batch_size=16, lr=2e-3, ema_half_life=10_000, channels_last=True),
    # H: the paper's L_pre with its reconstruction term as an absolute error, at every known pitch, and the
    # envelope loss; in the adversarial stage also the gradient difference loss (docs/training.md, "Stages in order")
    "hypernet-pre": TrainConfig(steps=1200, batch_size=8, lr=2.5e-3, betas=(0.9, 0.99), recon_known_pitch=True,
                                envelope_weight=0.1, recon_loss="l1"),
    "hypernet-adv": TrainConfig(steps=600, batch_size=8, lr=2.5e-3, timbre_weight=20.0, recon_weight=200.0,
                                recon_known_pitch=True, envelope_weight=0.1, recon_loss="l1", gradient_weight=200.0),
    "encoder": TrainConfig(steps=1500, batch_size=16, lr=1e-3, betas=(0.9, 0.99), channels_last=True),
}
TINY = dict(steps=12, batch_size=4, ckpt_every=6, log_every=1, knn_k=4, refine_steps=1)


@dataclass
class AugmentDraw:
    """The random numbers of one batch's out-of-domain inputs (``augment.augment_inputs``), this process's shard.

    rows: (B,) bool, the rows to augment (each with probability ``tc.augment_p``); u: (B, NUM_DRAWS) uniform
    numbers; texture: (B, 1, F, T) standard normal numbers; layers: (B,) corpus rows of the notes to layer.
    """

    rows: torch.Tensor
    u: torch.Tensor
    texture: torch.Tensor
    layers: torch.Tensor

    @classmethod
    def draw(cls, s: Stage) -> "AugmentDraw | None":
        """The draw for one batch, or None when ``tc.augment_p`` is 0 (nothing is drawn then, so that runs
        without augmentation keep their batches)."""
        if s.tc.augment_p <= 0:
            return None
        b = s.tc.batch_size
        return cls(s.procs.shard(torch.rand(b) < s.tc.augment_p), s.procs.shard(torch.rand(b, NUM_DRAWS)),
                   s.procs.shard(torch.randn(b, *s.bank.mels.shape[1:])), s.procs.shard(s.bank.sample(b)))

    def apply(self, s: Stage, x: torch.Tensor) -> None:
        """Augment the drawn rows of x (B, 1, F, T) in place."""
        if self.rows.any():
            r = self.rows
            x[r.to(x.device)] = augment_inputs(x[r.to(x.device)], s.bank.batch(self.layers[r], s.device),
                                               self.u[r].to(s.device), self.texture[r].to(s.device), s.audio)


def train_features(s: Stage) -> dict:
    """f: instrument cross-entropy + pitch_adv_weight * the pitch read-out's explained variance (GANStrument).

    The pitch adversary is ``LinearPitchAdversary``: a least-squares read-out of pitch from h, refitted
    on the last ``tc.adversary_queue`` features at every step, whose explained fraction f minimizes. A
    departure from GANStrument's gradient-reversed pitch classifier, which f learned to make confidently
    wrong while pitch stayed linearly decodable from h (probe 29.7% against 20.8% without it).
    With ``tc.augment_p`` a share of the inputs gets a noise part and maybe a second note (``AugmentDraw``),
    keeping its instrument and pitch labels: the adversary then sees each pitch in more timbres than the
    fonts hold.
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
        draw = AugmentDraw.draw(s)
        if draw is not None:
            draw.apply(s, x)
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


def train_generator(s: Stage) -> dict:
    """G with instance conditioning: L1 to the exact target (instrument i at p_j) + non-saturating GAN loss, R1.
    With ``model.noise_inputs`` the L1 is taken of G without its noise, the GAN loss of G with it.

    With ``tc.ema_half_life`` > 0 the stage also keeps G_ema (``EMA``), saved as ``G`` for inference and the
    later stages, and saves the trained weights as ``G_raw``; warm-starting then resumes G from ``G_raw`` and
    the average from ``G``.
    """
    if s.cfg.noise_inputs and s.procs.world_size > 1:  # two forward passes per backward: not one DDP reduction
        raise ValueError("A generator with noise inputs (model.noise_inputs) trains in one process only; "
                         "run it without torchrun.")
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
            load_matching(G_ema.module, ckpt.read_weights(s.model_dir, "G"))  # new noise inputs keep G's (zero)
        s.modules["G_ema"] = G_ema.module  # saved and restored with the training state

    def step(n: int) -> dict:
        i, j, p_j, exact, h = knn_batch(s, h_all)
        z = s.procs.shard(torch.randn(s.tc.batch_size, s.cfg.z_dim, device=s.device))
        fake = G_forward(h, z, p_j)
        real = s.bank.batch(j, s.device)
        d_loss = discriminator_step(s, D_train, real, fake, p_j, h, n)
        target = s.bank.batch(exact.clamp(min=0), s.device)
        # with noise inputs the L1 scores G without its noise: a noisy note's fine structure cannot match the target
        # sample for sample, so the L1 would only teach the strengths to stay at zero; D judges the noise
        exact_fake = G_forward(h, z, p_j, noise_mode="none") if s.cfg.noise_inputs else fake
        l1 = s.procs.masked_mean((exact_fake - target).abs().mean(dim=(1, 2, 3)), exact >= 0)
        adv = adversarial_loss(D, fake, p_j, h)
        s.update("G", s.tc.l1_weight * l1 + s.tc.adv_weight * adv)
        if ema:
            G_ema.update(G, (n + 1) * s.tc.batch_size, s.tc.batch_size)
        return {"l1": l1.item(), "g_adv": adv.item(), "d_loss": d_loss}

    return s.run(step, {"G_ema": "G", "G": "G_raw", "D": "D"} if ema else {"G": "G", "D": "D"})


def hyper_batch(s: Stage, h_all: torch.Tensor, f: torch.nn.Module):
    """Paper sec. 3.2: with probability p_recon the input's own pitch (x' = x), else a KNN neighbour's (x' = x_j).

    With probability ``tc.augment_p`` a row's input is also made out-of-domain (``augment.augment_inputs``:
    a noise part and maybe a second note); such a row is reconstructed at its own pitch, its target the
    augmented input, its h = f of it.
    Returns rows i, pitch p', real x' (B, 1, F, T), h (B, h_dim), the target: the input's instrument at p'
    (B, 1, F, T), and where that target is known (B,): at the own pitch (eq. 4), or with
    ``tc.recon_known_pitch`` wherever the corpus rendered the input's instrument at p'. B is this
    process's shard of the global batch; the real x' is never augmented.
    """
    i, j, p_j, exact, h = knn_batch(s, h_all)
    own = s.procs.shard(torch.rand(s.tc.batch_size) < s.tc.p_recon)
    draw = AugmentDraw.draw(s)
    if draw is not None:
        own = own | draw.rows
    j = torch.where(own, i, j)
    target = torch.where(own, i, exact)  # exact: -1 where the corpus lacks the note
    known = target >= 0 if s.tc.recon_known_pitch else own
    x = s.bank.batch(target.clamp(min=0), s.device)
    if draw is not None and draw.rows.any():
        draw.apply(s, x)
        a = draw.rows.to(s.device)
        with torch.no_grad():
            h = h.clone()
            h[a] = f(x[a])
    return i, s.bank.pitch[j].to(s.device), s.bank.batch(j, s.device), h, x, known.float().to(s.device)


def mix_batch(s: Stage, h_all: torch.Tensor):
    """``tc.mix_rows`` timbre mixes h = a h_i + (1 - a) h_k of two random notes, a ~ U(0, 1): the interpolation
    of paper sec. 4.3 as a training input, which the refinement otherwise meets only at inference.

    Each mix is paired as a KNN pair is (instance conditioning): a random one of its k nearest notes in h-space
    gives the pitch p and D's real note. No true note exists for a mix, so only the timbre and adversarial
    terms apply to it. Returns p (M,), real (M, 1, F, T), h (M, h_dim): this process's shard of the mixes.
    """
    n = s.tc.mix_rows
    a = torch.rand(n, 1)
    h = a * h_all[s.bank.sample(n)].cpu() + (1 - a) * h_all[s.bank.sample(n)].cpu()
    j = s.bank.neighbours_of(h)
    j, h = s.procs.shard(j), s.procs.shard(h)
    return s.bank.pitch[j].to(s.device), s.bank.batch(j, s.device), h.to(s.device)


def train_hypernet(s: Stage, adversarial: bool) -> dict:
    """H pre-training with L_pre (eq. 3-4) or adversarial fine-tuning with D (eq. 5-6); G and f frozen.

    ``tc.recon_known_pitch``, ``tc.envelope_weight`` and ``tc.augment_p`` extend L_pre beyond the paper
    (``hyper_batch``, ``losses.l_pre``): the reconstruction term at every pitch whose true note the corpus
    holds, a loss on the loudness over time, and out-of-domain inputs reconstructed at their own pitch.
    ``tc.mix_rows`` adds timbre mixes to each step (``mix_batch``); their per-row loss is added to the batch's
    mean, so that the rows with a true note keep their weight.
    """
    f, G = s.frozen("f"), s.frozen("G")
    h_all = s.features_and_knn(f)
    h_scale = h_all.std().item()
    H = s.trainable("H", ckpt.load_network(s.model_dir, "H_pre", s.cfg, s.device) if adversarial else None,
                    warm_file="H_pre")
    D = s.trainable("D", ckpt.load_network(s.model_dir, "D", s.cfg, s.device), lr=s.tc.d_lr) if adversarial else None
    H_train, D_train = s.procs.wrap(H), s.procs.wrap(D) if adversarial else None

    def step(n: int) -> dict:
        i, p, real, h, x, known = hyper_batch(s, h_all, f)
        rows = len(i)
        if s.tc.mix_rows:
            p_mix, real_mix, h_mix = mix_batch(s, h_all)
            p, real, h = torch.cat([p, p_mix]), torch.cat([real, real_mix]), torch.cat([h, h_mix])
            x, known = torch.cat([x, real_mix]), torch.cat([known, known.new_zeros(len(p_mix))])  # no target
        xs, _ = refine(G, f, H_train, h, p, s.tc.refine_steps)
        x_fine = xs[-1]
        loss, logs = l_pre(s, f, h, x, x_fine, known, h_scale)
        loss = loss * len(h) / rows  # summed over all rows, divided by the drawn rows: mixes add, not dilute
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
