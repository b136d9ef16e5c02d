"""The GAN losses the stages share: D's logistic loss with lazy R1, G's and H's non-saturating loss, L_pre.

Paper sec. 3.2, eq. 4-6; the logistic losses and R1 (Mescheder et al. 2018) as in StyleGAN2.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..mel import frame_levels_db
from .stage import Stage

RECON_LOSSES = {"l2": "recon_mse", "l1": "recon_l1"}  # l_pre's reconstruction error -> its name in the log


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


def adversarial_loss(D, fake, pitch, h) -> torch.Tensor:
    """The generator's non-saturating loss softplus(-D(fake)); D's own weights get no gradient from it."""
    D.requires_grad_(False)
    try:
        return F.softplus(-D(fake, pitch, h)).mean()
    finally:
        D.requires_grad_(True)


def gradient_difference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Image gradient difference loss of Mathieu et al. 2016 (alpha = 1) of log-mels x, y (B, 1, F, T) -> (B,).

    The mean of ||dx| - |dy|| over the frame-to-frame and band-to-band differences d, each axis averaged
    on its own and the two summed: it asks for onsets, decays and harmonics as sharp as the target's,
    which a pixel-wise error alone leaves blurred where the output is uncertain.
    """

    def diff_error(axis: int) -> torch.Tensor:
        return (x.diff(dim=axis).abs() - y.diff(dim=axis).abs()).abs().mean(dim=(1, 2, 3))

    return diff_error(-1) + diff_error(-2)


def l_pre(s: Stage, f, h, x, x_fine, known, h_scale: float) -> tuple[torch.Tensor, dict]:
    """L_pre = l_timbre ||h - f(x_fine)||^2 + l_recon ||x - x_fine||^2 (eq. 4) [+ l_env |level(x_fine) - level(x)|]
    [+ l_grad gradient_difference(x_fine, x)].

    x, x_fine: (B, 1, F, T) target and refined log-mels; h: (B, h_dim). ``known`` (B,) is 1 where the target
    x is the true note at x_fine's pitch (the input itself at its own pitch), 0 where it is not known: the
    reconstruction and envelope terms count only there. The envelope term is the mean absolute difference
    of ``frame_levels_db`` over frames (dB), weighted ``tc.envelope_weight`` (0: the paper's L_pre). The
    timbre and reconstruction terms are means over their elements; h is divided by ``h_scale`` (the
    corpus std of h) so that the paper's weights balance the two terms whatever the scale f learned.
    ``tc.recon_loss`` "l1" takes |x - x_fine| for the reconstruction term instead of its square (logged as
    ``recon_l1`` rather than ``recon_mse``). ``tc.gradient_weight`` > 0 adds ``gradient_difference`` where
    the target is known (logged as ``grad_diff``).

    Raises:
        ValueError: a ``tc.recon_loss`` other than those of ``RECON_LOSSES``.
    """
    if s.tc.recon_loss not in RECON_LOSSES:
        raise ValueError(f"Unknown recon_loss {s.tc.recon_loss!r}; use one of {', '.join(RECON_LOSSES)}.")
    timbre = ((h - f(x_fine)) / h_scale).square().mean(dim=1)
    error = x - x_fine
    recon = (error.square() if s.tc.recon_loss == "l2" else error.abs()).mean(dim=(1, 2, 3)) * known
    loss = s.tc.timbre_weight * timbre + s.tc.recon_weight * recon
    n_known = known.sum().clamp(min=1)
    logs = {"timbre_mse": timbre.mean().item(), RECON_LOSSES[s.tc.recon_loss]: (recon.sum() / n_known).item()}
    if s.tc.envelope_weight > 0:
        level_error = (frame_levels_db(x_fine, s.audio) - frame_levels_db(x, s.audio)).abs().mean(dim=1) * known
        loss = loss + s.tc.envelope_weight * level_error
        logs["level_db"] = (level_error.sum() / n_known).item()
    if s.tc.gradient_weight > 0:
        grad_error = gradient_difference(x_fine, x) * known
        loss = loss + s.tc.gradient_weight * grad_error
        logs["grad_diff"] = (grad_error.sum() / n_known).item()
    return loss.mean(), logs
