"""Generator G(h, z, p; theta): StyleGAN2-style synthesis of a log-mel (Karras et al. 2020).

The weights of the modulated convolutions can be refined per sample by the hypernetwork:
theta_hat_l = theta_l * (1 + Delta_l) (HyperGANStrument eq. 2, HyperStyle), Delta_l of shape
(B, C_out, C_in) broadcast over the kernel taps.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import AudioConfig, ModelConfig
from .harmonics import harmonic_template
from .layers import normalize_h, pitch_index


class MappingNetwork(nn.Module):
    """[embed(h), embed(pitch), z] -> w (B, w_dim). h: (B, h_dim); pitch: (B,) MIDI; z: (B, z_dim)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed_h = nn.Linear(cfg.h_dim, cfg.w_dim // 2)
        self.embed_pitch = nn.Embedding(cfg.num_pitches, cfg.pitch_embed_dim)
        layers, d = [], cfg.w_dim // 2 + cfg.pitch_embed_dim + cfg.z_dim
        for _ in range(cfg.mapping_layers):
            layers += [nn.Linear(d, cfg.w_dim), nn.LeakyReLU(0.2)]
            d = cfg.w_dim
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor, z: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        p = self.embed_pitch(pitch_index(pitch, self.cfg.min_pitch, self.cfg.num_pitches))
        return self.net(torch.cat([normalize_h(self.embed_h(h)), p, z], dim=1))


class ModulatedConv2d(nn.Module):
    """Modulated convolution with weight demodulation (StyleGAN2 sec. 2.2).

    forward(x, w, delta=None, noise=None): x (B, C_in, H, W), w (B, w_dim), delta (B, C_out, C_in) or None,
    noise (B or 1, 1, H', W') or None -> (B, C_out, H', W') (H' = 2H with ``upsample``). With a delta the effective
    weight is theta_hat = theta * (1 + delta), one per sample, applied as one grouped convolution over the batch
    (for one note a plain convolution: refinement then costs what G costs). With delta = 0 the output is
    G's to float rounding. With ``noise_input`` the layer adds ``noise`` scaled by its learned ``noise_strength``
    (zero-initialized) before the bias (StyleGAN2's noise inputs).
    """

    def __init__(self, c_in: int, c_out: int, w_dim: int, kernel: int = 3, demodulate: bool = True,
                 upsample: bool = False, activate: bool = True, noise_input: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.affine = nn.Linear(w_dim, c_in)
        nn.init.ones_(self.affine.bias)
        self.gain = 1 / math.sqrt(c_in * kernel * kernel)
        self.demodulate, self.upsample, self.activate, self.padding = demodulate, upsample, activate, kernel // 2
        self.noise_strength = nn.Parameter(torch.zeros([])) if noise_input else None

    @property
    def shape(self) -> tuple[int, int]:
        """(C_out, C_in): the shape of this layer's offset Delta."""
        return tuple(self.weight.shape[:2])

    def forward(self, x: torch.Tensor, w: torch.Tensor, delta: torch.Tensor | None = None,
                noise: torch.Tensor | None = None) -> torch.Tensor:
        b, c_in = x.shape[:2]
        style = self.affine(w)  # (B, C_in)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = x * style[:, :, None, None]
        theta = self.weight * self.gain
        if delta is None:
            y = F.conv2d(x, theta, padding=self.padding)
            theta_hat = theta[None]
        else:  # sample b convolved with its own theta_hat[b]: groups = B over the batch folded into channels
            theta_hat = theta[None] * (1 + delta[..., None, None])  # (B, C_out, C_in, k, k)
            y = F.conv2d(x.reshape(1, b * c_in, *x.shape[2:]), theta_hat.flatten(0, 1), padding=self.padding, groups=b)
            y = y.reshape(b, -1, *y.shape[2:])
        if self.demodulate:
            sq = (theta_hat.square().sum(dim=(3, 4)) * style[:, None, :].square()).sum(dim=2)  # (B, C_out)
            y = y * torch.rsqrt(sq + 1e-8)[:, :, None, None]
        if self.noise_strength is not None and noise is not None:
            y = y + noise * self.noise_strength
        y = y + self.bias[None, :, None, None]
        return F.leaky_relu(y, 0.2) * math.sqrt(2) if self.activate else y


def tuned_layer_shapes(cfg: ModelConfig) -> list[tuple[int, int]]:
    """(C_out, C_in) of the last ``cfg.hyper_layers`` modulated 3x3 convolutions of ``Generator(cfg)``, the layers
    the hypernetwork refines, from the channel widths alone (no generator is built)."""
    ch = cfg.gen_channels
    convs = [(ch[0], ch[0])] + [shape for c_prev, c in zip(ch[:-1], ch[1:]) for shape in ((c, c_prev), (c, c))]
    return convs[-cfg.hyper_layers:]


class Generator(nn.Module):
    """G(h, z, p; theta) -> log-mel (B, 1, 128, 128).

    ``mapping`` on [h, pitch, z] -> w; ``synthesis`` from a learned 4x4 constant through modulated 3x3
    convolutions (two per resolution, the first upsampling) to 128x128, with skip connections
    through modulated 1x1 ``to_mel`` layers (StyleGAN2 "skip" architecture). z is 0 at inference.
    Each resolution also adds the pitch's harmonic comb (``harmonic_template``, pooled to that
    resolution along frequency, constant over time) through a zero-initialized 1x1 convolution after
    its upsampling convolution; ``audio`` gives the mel grid of that comb. With ``cfg.noise_inputs`` every 3x3
    convolution adds per-pixel noise with a learned strength (StyleGAN2 sec. 2), so that G can draw the random
    fine structure of a noisy sound: fresh Gaussian noise in training mode, and in eval mode a fixed draw kept
    in the weights (``noise_const<i>``, StyleGAN2-ADA's "const" noise), so that inference stays deterministic.

    forward(h, z, pitch, deltas=None, noise_mode=None) = synthesis(mapping(h, z, pitch), pitch, deltas, noise_mode):
    h (B, h_dim), z (B, z_dim) or None (zeros), pitch (B,) MIDI 21-108, deltas: list of (B, C_out, C_in) offsets for
    the tuned layers (``tuned_shapes``; or None), noise_mode as in ``noise``. As in StyleGAN2-ADA, ``mapping`` and
    ``synthesis`` can be called on their own (e.g. to render an edited w).
    """

    def __init__(self, cfg: ModelConfig, audio: AudioConfig | None = None):
        super().__init__()
        self.cfg = cfg
        ch = cfg.gen_channels
        self.mapping = MappingNetwork(cfg)
        self.register_buffer("harmonics", harmonic_template(audio or AudioConfig(), cfg.min_pitch, cfg.num_pitches),
                             persistent=False)
        self.harmonic_in = nn.ModuleList([nn.Conv2d(1, c, 1) for c in ch[1:]])
        for conv in self.harmonic_in:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        self.const = nn.Parameter(torch.randn(ch[0], 4, 4))
        noise = cfg.noise_inputs
        self.convs = nn.ModuleList([ModulatedConv2d(ch[0], ch[0], cfg.w_dim, noise_input=noise)])
        self.to_mels = nn.ModuleList([ModulatedConv2d(ch[0], 1, cfg.w_dim, 1, demodulate=False, activate=False)])
        for c_prev, c in zip(ch[:-1], ch[1:]):
            self.convs.append(ModulatedConv2d(c_prev, c, cfg.w_dim, upsample=True, noise_input=noise))
            self.convs.append(ModulatedConv2d(c, c, cfg.w_dim, noise_input=noise))
            self.to_mels.append(ModulatedConv2d(c, 1, cfg.w_dim, 1, demodulate=False, activate=False))
        self.num_tuned = cfg.hyper_layers
        if noise:
            draw = torch.Generator().manual_seed(0)
            for i in range(len(self.convs)):
                res = 4 * 2 ** ((i + 1) // 2)  # convs[0] at 4x4, then an upsampling and a plain one per resolution
                self.register_buffer(f"noise_const{i}", torch.randn(1, 1, res, res, generator=draw))

    @property
    def tuned_shapes(self) -> list[tuple[int, int]]:
        """(C_out, C_in) of the last ``hyper_layers`` modulated 3x3 convolutions, the ones H refines."""
        return [conv.shape for conv in self.convs[-self.num_tuned:]]

    def forward(self, h: torch.Tensor, z: torch.Tensor | None, pitch: torch.Tensor,
                deltas: list[torch.Tensor] | None = None, noise_mode: str | None = None) -> torch.Tensor:
        if z is None:
            z = h.new_zeros(h.shape[0], self.cfg.z_dim)
        return self.synthesis(self.mapping(h, z, pitch), pitch, deltas, noise_mode)

    def noise(self, i: int, batch: int, mode: str | None = None) -> torch.Tensor | None:
        """The noise input of ``convs[i]`` under ``mode`` (StyleGAN2-ADA's noise modes): "random", (B, 1, R, R) fresh
        Gaussian noise; "const", the fixed (1, 1, R, R) ``noise_const<i>``; "none", no noise; None, "random" in
        training mode and "const" in eval mode. None without ``cfg.noise_inputs``. Raises ValueError for another
        mode."""
        if mode not in (None, "random", "const", "none"):
            raise ValueError(f"noise mode {mode!r} is not one of random, const, none.")
        if not self.cfg.noise_inputs or mode == "none":
            return None
        const = getattr(self, f"noise_const{i}")
        if mode == "const" or (mode is None and not self.training):
            return const
        return torch.randn(batch, *const.shape[1:], device=const.device, dtype=const.dtype)

    def synthesis(self, w: torch.Tensor, pitch: torch.Tensor, deltas: list[torch.Tensor] | None = None,
                  noise_mode: str | None = None) -> torch.Tensor:
        """The synthesis network: w (B, w_dim), pitch (B,) MIDI (its harmonic comb), optional offsets ``deltas``
        (one (B, C_out, C_in) per tuned layer), the noise inputs' ``noise_mode`` (``noise``) -> normalized log-mel
        (B, 1, 128, 128)."""
        b = w.shape[0]
        per_conv = [None] * len(self.convs)
        if deltas is not None:
            per_conv[-self.num_tuned:] = deltas
        x = self.const[None].expand(b, -1, -1, -1)
        x = self.convs[0](x, w, per_conv[0], self.noise(0, b, noise_mode))
        img = self.to_mels[0](x, w)
        comb = self.harmonics[pitch_index(pitch, self.cfg.min_pitch, self.cfg.num_pitches)][:, None, :, None]
        for i, to_mel in enumerate(self.to_mels[1:]):
            up, same = 1 + 2 * i, 2 + 2 * i
            x = self.convs[up](x, w, per_conv[up], self.noise(up, b, noise_mode))
            x = x + self.harmonic_in[i](F.adaptive_avg_pool2d(comb, (x.shape[2], 1)))
            x = self.convs[same](x, w, per_conv[same], self.noise(same, b, noise_mode))
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False) + to_mel(x, w)
        return img
