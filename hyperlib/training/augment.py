"""Out-of-domain inputs for the H stages: corpus notes with a noise part and a second layer, in the log-mel.

Sounds from outside the soundfonts have what the corpus notes lack: a noise part (breath, bow, room, machines,
a saw), layers (two sources at once), and envelopes other than a held note. ``augment_inputs``
builds such inputs from corpus notes by summing the power of independent sources in the mel domain. The H
stages reconstruct them at their own pitch (the target is the augmented input itself, its feature h = f of
it), so that H learns to move G towards inputs G alone does not reach (paper sec. 4.3, the noisy saw).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import AudioConfig
from ..mel import denormalize_log, normalize_log

NUM_DRAWS = 8  # uniform numbers per row that ``augment_inputs`` reads (columns of ``u``)


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random parts of ``augment_inputs`` (each drawn uniformly per note).

    noise_db: the noise's peak relative to the note's peak (dB). tilt: the noise's log-magnitude slope from
    the lowest to the highest band (natural-log units; 3 is about 26 dB). bump: the largest height of a
    Gaussian resonance in the noise's spectrum (natural-log units). decay_s: the noise's decay time constant
    (seconds, drawn log-uniformly; the longest is a steady noise over the note). texture: the standard
    deviation of the noise's log-magnitude from bin to bin. layer_p: the probability of layering a second
    note. layer_db: its peak relative to the note's (dB).
    """

    noise_db: tuple[float, float] = (-30.0, 6.0)
    tilt: float = 3.0
    bump: float = 3.0
    decay_s: tuple[float, float] = (0.05, 10.0)
    texture: float = 0.5
    layer_p: float = 0.3
    layer_db: tuple[float, float] = (-12.0, 0.0)


def _between(u: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    return lo + u * (hi - lo)


def augment_inputs(x: torch.Tensor, other: torch.Tensor, u: torch.Tensor, texture: torch.Tensor,
                   audio: AudioConfig, cfg: AugmentConfig = AugmentConfig()) -> torch.Tensor:
    """Notes with a coloured, enveloped noise and (with probability ``cfg.layer_p``) a second note mixed in.

    The magnitudes add as powers (independent sources); the mix is scaled back to the note's peak.

    Args:
        x: (B, 1, F, T) normalized log-mels (``LogMel``) of the notes.
        other: (B, 1, F, T) log-mels of the notes that may be layered on them.
        u: (B, NUM_DRAWS) uniform numbers in [0, 1): the noise's level, tilt, resonance centre, height and
            width, decay, whether to layer, the layer's level.
        texture: (B, 1, F, T) standard normal numbers: the noise's fine structure.
        audio: the log-mel's settings (its normalization, hop length and sample rate).
    Returns:
        (B, 1, F, T) normalized log-mels, at most the note's peak.
    Raises:
        ValueError: ``u`` without ``NUM_DRAWS`` columns, or shapes that do not match.
    """
    if u.shape != (x.shape[0], NUM_DRAWS) or other.shape != x.shape or texture.shape != x.shape:
        raise ValueError(f"augment_inputs takes x, other and texture of one shape (B, 1, F, T) and u of shape "
                         f"(B, {NUM_DRAWS}); got {tuple(x.shape)}, {tuple(other.shape)}, {tuple(texture.shape)} "
                         f"and {tuple(u.shape)}.")
    c = u.view(*u.shape, 1, 1, 1).unbind(1)  # NUM_DRAWS tensors (B, 1, 1, 1)
    bands = torch.linspace(-1.0, 1.0, x.shape[2], device=x.device).view(1, 1, -1, 1)
    seconds = torch.arange(x.shape[3], device=x.device).view(1, 1, 1, -1) * audio.hop_length / audio.sample_rate
    lo, hi = torch.log(torch.tensor(cfg.decay_s, device=x.device))
    width = _between(c[4], 0.05, 0.5)
    noise_log = (_between(c[1], -cfg.tilt, cfg.tilt) * bands  # spectral tilt
                 + c[3] * cfg.bump * torch.exp(-0.5 * ((bands - _between(c[2], -1.0, 1.0)) / width) ** 2)
                 - seconds / torch.exp(_between(c[5], lo, hi)))  # exponential decay from the onset
    noise_log = noise_log - noise_log.amax(dim=(2, 3), keepdim=True) + cfg.texture * texture
    mag = torch.exp(denormalize_log(x, audio))
    peak = mag.amax(dim=(2, 3), keepdim=True)
    noise = torch.exp(noise_log) * peak * 10 ** (_between(c[0], *cfg.noise_db) / 20)
    layer = torch.exp(denormalize_log(other, audio))
    layer = layer / layer.amax(dim=(2, 3), keepdim=True) * peak * 10 ** (_between(c[7], *cfg.layer_db) / 20)
    power = mag ** 2 + noise ** 2 + (c[6] < cfg.layer_p) * layer ** 2
    mixed = power.sqrt() * peak / power.sqrt().amax(dim=(2, 3), keepdim=True)
    return normalize_log(torch.log(mixed.clamp(min=audio.mel_floor)), audio)
