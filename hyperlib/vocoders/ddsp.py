"""Learned harmonic-plus-noise vocoder: a small network predicts DDSP's controls from the mel and the pitch.

DDSP (Engel, Hantrakul, Gu & Roberts, ICLR 2020) renders a note as additive harmonics of its f0 plus filtered
noise, with both sets of controls predicted by a decoder network and trained through the differentiable
synthesizers with a multi-resolution spectral loss. ``HarmonicNoiseVocoder`` reads those controls off the mel by
a fixed fit; here ``DDSPDecoder`` predicts them:

- **Input.** The normalized log-mel (n_mels, frames), the mel read at each harmonic's frequency k f0 (linear
  interpolation over the bands' centre frequencies; -1, silence, above ``f_max``) and the MIDI pitch.
- **Network.** A 1-D convolution over frames, then ConvNeXt blocks (depthwise convolution, layer norm,
  pointwise MLP, layer scale; as Vocos, Siuzdenko 2023, uses them on mel frames).
- **Controls.** Per frame the natural-log amplitude of each of ``harmonics`` unit sinusoids and the log gain
  of each of ``noise_bands`` triangular noise bands on the mel scale. Both are predicted as corrections to
  what the mel says at that frequency (the mel magnitude there over a unit sinusoid's or unit noise's mel
  response), so that an untrained decoder already plays the mel's spectral envelope.
- **Synthesis.** Sinusoids at the harmonics below ``f_max`` with fixed seeded start phases, amplitudes
  linearly interpolated from frames to samples; white noise shaped frame by frame in a short STFT (DDSP's
  time-varying filter).
- **Gated mel consistency.** The synthesized audio's mel is measured, the input mel divided by it, and the
  log-ratio, scaled by a gate in [0, 1] per band and frame, spread to STFT bins through the column-normalized
  filterbank and applied to the STFT with its phase kept: a Griffin-Lim magnitude projection (Griffin & Lim
  1984) started from the synthesizers' coherent phase, as ``HarmonicNoiseVocoder``'s passes, but partial. A gate
  of 1 makes the output's mel the input's; 0 keeps what the synthesizers made. A true note's mel is worth
  matching exactly; a generated one is not (the synthesizers have learned to correct it). So the gate is the
  product of a per-band, per-frame value and the probability that the mel is a true note's rather than one the
  model made. That probability comes from ``ProvenanceHead``, trained with a cross-entropy on which mel each
  training draw was; it reads the mel's frame-to-frame changes, which G smooths (mean absolute change between
  frames on the training pairs: true mels 0.021, HyperGANStrument's 0.009, GANStrument's 0.014).

Everything is differentiable, so the decoder is trained on audio (``hyperlib.training.vocoder``) with both true
mels and the mels the model itself makes as input.

``DDSPVocoder`` is the ``Vocoder`` around a trained decoder; its weights ship in the package
(``ddsp.safetensors`` beside this module) with the training's record in their metadata.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from ..checkpoint import read_safetensors, record_hash
from ..config import AudioConfig
from ..mel import denormalize_log, mel_filterbank
from .pitch import check_input

WEIGHTS = Path(__file__).with_name("ddsp.safetensors")
"""The trained decoder shipped with the package (its sha256 in ``hashes.json`` beside it, checked on loading)."""
SIGNAL_FIELDS = ("sample_rate", "num_samples", "n_fft", "win_length", "hop_length", "n_mels", "num_frames", "f_min",
                 "f_max", "mel_floor", "log_min", "log_max")
"""The ``AudioConfig`` fields that define the mel and audio a decoder was trained on (a config must match them)."""


@dataclass(frozen=True)
class DDSPConfig:
    """Shape of ``DDSPDecoder``.

    harmonics: sinusoids at most (only those below ``f_max`` sound). noise_bands: triangular bands on the mel
    scale from 0 Hz to Nyquist. channels, blocks, kernel: width, depth and depthwise kernel (frames) of the
    network. noise_n_fft: STFT size of the noise filter (samples; hop a quarter of it). consistency_passes: gated
    mel-consistency passes after synthesis (0: none, and no gate). seed: seed of the harmonics' start phases and,
    at inference, of the noise.
    """

    harmonics: int = 100
    noise_bands: int = 64
    channels: int = 128
    blocks: int = 6
    kernel: int = 7
    noise_n_fft: int = 256
    consistency_passes: int = 3
    seed: int = 0


class Controls(NamedTuple):
    """What ``DDSPDecoder.controls`` predicts for a batch of B notes of T frames.

    amplitudes: (B, harmonics, T) linear amplitudes of the harmonics (0 above ``f_max``). gains: (B, noise_bands, T)
    linear gains of the noise bands. gate: (B, n_mels, T) consistency gate in [0, 1]. true_logit: (B,) logit that
    the mel is a true note's rather than one the model made. The last two are ``None`` without consistency passes.
    """

    amplitudes: torch.Tensor
    gains: torch.Tensor
    gate: torch.Tensor | None
    true_logit: torch.Tensor | None


class ProvenanceHead(nn.Module):
    """Normalized log-mel (B, n_mels, T) -> (B,) logit that it is a true note's mel rather than one the model made.

    Two 1-D convolutions (kernel ``kernel`` frames, ``channels`` wide, GELU) over the mel's differences between
    consecutive frames, scaled by ``DIFF_SCALE`` to about unit size, averaged over frames, then a linear read-out.
    """

    DIFF_SCALE = 20.0
    """Frame-to-frame changes of the normalized log-mel are about 0.01-0.02."""

    def __init__(self, n_mels: int, channels: int = 32, kernel: int = 5):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(n_mels, channels, kernel, padding=kernel // 2), nn.GELU(),
                                 nn.Conv1d(channels, channels, kernel, padding=kernel // 2), nn.GELU())
        self.out = nn.Linear(channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(torch.diff(mel, dim=2) * self.DIFF_SCALE).mean(2))[:, 0]


class ConvNeXtBlock(nn.Module):
    """x + scale * MLP(LayerNorm(depthwise_conv(x))) on (B, C, T) frames."""

    def __init__(self, channels: int, kernel: int):
        super().__init__()
        self.dwconv = nn.Conv1d(channels, channels, kernel, padding=kernel // 2, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(nn.Linear(channels, 3 * channels), nn.GELU(), nn.Linear(3 * channels, channels))
        self.scale = nn.Parameter(torch.full((channels,), 0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(self.dwconv(x).transpose(1, 2)))
        return x + (self.scale * y).transpose(1, 2)


class DDSPDecoder(nn.Module):
    """(normalized log-mel (B, n_mels, T), MIDI pitch (B,)) -> controls -> audio (B, num_samples) (module docstring).

    ``controls(mel, pitch)`` gives ``Controls``; ``synthesize(amplitudes, gains, pitch, noise)`` renders the
    harmonics and the noise, with ``noise`` (B, num_samples) white noise; ``match_mel(audio, mel, gate)`` is one
    gated consistency pass; ``render(controls, mel, pitch, noise)`` synthesizes and runs the passes;
    ``forward(mel, pitch, noise)`` does all.
    """

    def __init__(self, audio: AudioConfig, cfg: DDSPConfig = DDSPConfig()):
        super().__init__()
        self.audio, self.cfg = audio, cfg
        sr, n_fft = audio.sample_rate, audio.n_fft
        band_hz = librosa.mel_frequencies(audio.n_mels + 2, fmin=audio.f_min, fmax=audio.f_max)[1:-1]
        # fractional band index of every whole Hz up to Nyquist (what "the mel read at a frequency" interpolates)
        self.register_buffer("band_of_hz", torch.tensor(np.interp(np.arange(sr // 2 + 1), band_hz,
                                                                  np.arange(audio.n_mels)), dtype=torch.float32))
        fb = mel_filterbank(audio)
        window = np.hanning(audio.win_length + 1)[:-1]  # periodic Hann, as torch.stft's
        bin_hz = np.fft.rfftfreq(n_fft, 1 / sr)
        # mel response of a unit sinusoid at each band's centre, and of unit-variance white noise in each band
        kernel = np.abs(np.fft.fft(window, 64 * n_fft))
        offset = np.abs(bin_hz[:, None] - band_hz[None, :]) * n_fft / sr  # (bins, n_mels) in bins
        sine = (fb * (0.5 * kernel[np.minimum(np.round(offset * 64).astype(int), 32 * n_fft)]).T).sum(1)
        noise = np.sqrt(np.pi) / 2 * np.linalg.norm(window) * fb.sum(1)
        self.register_buffer("log_sine_response", torch.tensor(np.log(sine + 1e-12), dtype=torch.float32))
        self.register_buffer("log_noise_response", torch.tensor(np.log(noise + 1e-12), dtype=torch.float32))
        edges = librosa.mel_frequencies(cfg.noise_bands + 2, fmin=0.0, fmax=sr / 2)
        self.register_buffer("noise_centre_hz", torch.tensor(edges[1:-1], dtype=torch.float32))
        noise_bin_hz = np.fft.rfftfreq(cfg.noise_n_fft, 1 / sr)
        lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
        hz = noise_bin_hz[:, None]
        tri = np.maximum(0, np.minimum((hz - lo) / (mid - lo), (hi - hz) / (hi - mid)))
        self.register_buffer("noise_filter", torch.tensor(tri, dtype=torch.float32))  # (noise bins, noise_bands)
        self.register_buffer("noise_window", torch.hann_window(cfg.noise_n_fft), persistent=False)
        self.register_buffer("mel_basis", torch.from_numpy(fb), persistent=False)
        # (bins, n_mels): a per-band log-ratio spread to bins, each bin's weights summing to 1
        self.register_buffer("band_to_bin", torch.from_numpy((fb / np.maximum(fb.sum(0, keepdims=True), 1e-12)).T),
                             persistent=False)
        self.register_buffer("window", torch.hann_window(audio.win_length), persistent=False)
        rng = np.random.default_rng(cfg.seed)
        self.register_buffer("phase0", torch.tensor(rng.uniform(0, 2 * np.pi, cfg.harmonics), dtype=torch.float32))

        c = cfg.channels
        self.inp = nn.Conv1d(audio.n_mels + cfg.harmonics + 1, c, cfg.kernel, padding=cfg.kernel // 2)
        self.blocks = nn.Sequential(*[ConvNeXtBlock(c, cfg.kernel) for _ in range(cfg.blocks)])
        self.norm = nn.LayerNorm(c)
        self.head = nn.Linear(c, cfg.harmonics + cfg.noise_bands)
        nn.init.zeros_(self.head.weight)
        with torch.no_grad():  # start from the mel's own envelope, the noise 20 dB under it
            self.head.bias.zero_()
            self.head.bias[cfg.harmonics:] = -np.log(10.0)
        if cfg.consistency_passes:
            self.gate = nn.Linear(c, audio.n_mels)
            nn.init.zeros_(self.gate.weight)  # a gate of a half times the provenance head's initial half
            nn.init.zeros_(self.gate.bias)
            self.provenance = ProvenanceHead(audio.n_mels)

    def harmonic_hz(self, pitch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) MIDI pitch -> (frequencies (B, harmonics) Hz, audible (B, harmonics) bool: below ``f_max``)."""
        f0 = 440.0 * 2.0 ** ((pitch.float() - 69.0) / 12.0)
        hz = f0[:, None] * torch.arange(1, self.cfg.harmonics + 1, device=f0.device)
        return hz, hz < min(self.audio.f_max, self.audio.sample_rate / 2) * 0.99

    def read(self, values: torch.Tensor, hz: torch.Tensor) -> torch.Tensor:
        """Per-band values (B, n_mels, T) read at frequencies (B, P) Hz by interpolation over bands: (B, P, T)."""
        idx = self.band_of_hz[hz.round().long().clamp(0, self.band_of_hz.numel() - 1)]
        lo = idx.floor().long().clamp(0, values.shape[1] - 2)
        frac = (idx - lo)[..., None]
        take = lambda i: values.gather(1, i[..., None].expand(-1, -1, values.shape[2]))  # noqa: E731
        return take(lo) * (1 - frac) + take(lo + 1) * frac

    def controls(self, mel: torch.Tensor, pitch: torch.Tensor) -> Controls:
        hz, audible = self.harmonic_hz(pitch)
        at_harmonics = torch.where(audible[..., None], self.read(mel, hz), torch.full_like(hz[..., None], -1.0))
        pitch_row = ((pitch.float() - 64.0) / 24.0)[:, None, None].expand(-1, 1, mel.shape[2])
        x = self.blocks(self.inp(torch.cat([mel, at_harmonics, pitch_row], 1)))
        features = self.norm(x.transpose(1, 2))
        out = self.head(features).transpose(1, 2)  # (B, harmonics + noise_bands, T)
        gate = true_logit = None
        if self.cfg.consistency_passes:
            true_logit = self.provenance(mel)
            gate = torch.sigmoid(self.gate(features).transpose(1, 2)) * torch.sigmoid(true_logit)[:, None, None]
        log_mel = denormalize_log(mel, self.audio)
        base_h = self.read(log_mel - self.log_sine_response[:, None], hz)
        centres = self.noise_centre_hz.clamp(max=self.audio.f_max).expand(mel.shape[0], -1)
        base_n = self.read(log_mel - self.log_noise_response[:, None], centres)
        k = self.cfg.harmonics
        amplitudes = torch.exp((base_h + out[:, :k]).clamp(-30.0, 8.0)) * audible[..., None]
        gains = torch.exp((base_n + out[:, k:]).clamp(-30.0, 8.0))
        return Controls(amplitudes, gains, gate, true_logit)

    def synthesize(self, amplitudes: torch.Tensor, gains: torch.Tensor, pitch: torch.Tensor,
                   noise: torch.Tensor) -> torch.Tensor:
        a, n_fft = self.audio, self.cfg.noise_n_fft
        hz, audible = self.harmonic_hz(pitch)
        harmonic = torch.stack([self._harmonics(amplitudes[i, :k], hz[i, :k])
                                for i, k in enumerate(audible.sum(1).tolist())])
        spec = torch.stft(noise, n_fft, n_fft // 4, window=self.noise_window, return_complex=True)
        shape = self.noise_filter @ upsample_frames(gains, a.hop_length // (n_fft // 4), spec.shape[-1])
        filtered = torch.istft(spec * shape, n_fft, n_fft // 4, window=self.noise_window, length=a.num_samples)
        return harmonic + filtered

    def _harmonics(self, amplitudes: torch.Tensor, hz: torch.Tensor) -> torch.Tensor:
        """Sum of sinusoids at ``hz`` (K,) Hz with frame amplitudes (K, T) -> (num_samples,).

        Amplitudes are interpolated linearly between frames (held after the last), computed segment by segment
        between frames as two products with the fixed sinusoids, never as a (K, num_samples) amplitude array.
        """
        a = self.audio
        frames, hop = amplitudes.shape[1], a.hop_length
        if hz.numel() == 0:
            return amplitudes.new_zeros(a.num_samples)
        with torch.no_grad():
            t = torch.arange(frames * hop, device=hz.device, dtype=torch.float32)
            sines = torch.sin(2 * np.pi * hz[:, None] / a.sample_rate * t + self.phase0[:hz.numel(), None])
            sines = sines.reshape(-1, frames, hop).transpose(0, 1)  # (T, K, hop)
            ramp = torch.arange(hop, device=hz.device, dtype=torch.float32) / hop
        ends = torch.stack([amplitudes, torch.cat([amplitudes[:, 1:], amplitudes[:, -1:]], 1)])  # (2, K, T)
        parts = torch.bmm(ends.permute(2, 0, 1), sines)  # (T, 2, hop): from each frame's and the next's amplitude
        y = (parts[:, 0] * (1 - ramp) + parts[:, 1] * ramp).reshape(-1)
        return F.pad(y, (0, a.num_samples - y.numel()))[: a.num_samples]

    def match_mel(self, audio: torch.Tensor, mel: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        """One gated mel-consistency pass (module docstring): audio (B, num_samples), normalized log-mel and gate
        (B, n_mels, T) -> (B, num_samples). The STFT is ``LogMel``'s; its last frame, which the mel drops, takes the
        gain of the one before."""
        a = self.audio
        spec = torch.stft(audio, a.n_fft, a.hop_length, a.win_length, self.window, center=True, return_complex=True)
        current = torch.log((self.mel_basis @ spec.abs()[..., :a.num_frames]).clamp(min=a.mel_floor))
        log_ratio = (denormalize_log(mel, a) - current).clamp(-10.0, 10.0)
        gain = torch.exp(self.band_to_bin @ (gate * log_ratio))
        gain = torch.cat([gain, gain[..., -1:].expand(-1, -1, spec.shape[-1] - gain.shape[-1])], -1)
        return torch.istft(spec * gain, a.n_fft, a.hop_length, a.win_length, self.window, length=a.num_samples)

    def render(self, controls: Controls, mel: torch.Tensor, pitch: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        audio = self.synthesize(controls.amplitudes, controls.gains, pitch, noise)
        for _ in range(self.cfg.consistency_passes):
            audio = self.match_mel(audio, mel, controls.gate)
        return audio

    def forward(self, mel: torch.Tensor, pitch: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.render(self.controls(mel, pitch), mel, pitch, noise)


def upsample_frames(frames: torch.Tensor, factor: int, length: int) -> torch.Tensor:
    """(B, C, T) values at steps 0, factor, 2 factor, ... -> (B, C, length) by linear interpolation, held at the end."""
    t = frames.shape[-1]
    inner = F.interpolate(frames, size=(t - 1) * factor + 1, mode="linear", align_corners=True)
    if inner.shape[-1] >= length:
        return inner[..., :length]
    return torch.cat([inner, inner[..., -1:].expand(-1, -1, length - inner.shape[-1])], -1)


def save_decoder(decoder: DDSPDecoder, path: str | Path, record: dict) -> None:
    """Write the decoder's weights with its configs and ``record`` (how it was trained) in the metadata, and their
    sha256 in ``hashes.json`` beside the file (``checkpoint.record_hash``)."""
    meta = {"ddsp": json.dumps(asdict(decoder.cfg)), "audio": json.dumps(asdict(decoder.audio)),
            "record": json.dumps(record)}
    save_file({k: v.contiguous() for k, v in decoder.state_dict().items()}, str(path), metadata=meta)
    record_hash(path)


def read_decoder_file(path: str | Path) -> tuple[dict, dict]:
    """(state dict, metadata) of a file of ``save_decoder``, after checking its sha256 against ``hashes.json`` beside
    it. Raises FileNotFoundError, CheckpointError (``checkpoint.read_safetensors``)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} is missing: train the decoder with `python -m hyperlib train-vocoder`.")
    return read_safetensors(path)


def load_decoder(path: str | Path = WEIGHTS) -> tuple[DDSPDecoder, dict]:
    """(decoder in eval mode, training record) from a file of ``save_decoder``. Raises FileNotFoundError,
    CheckpointError (a missing, incomplete or differing ``hashes.json`` beside the file)."""
    state, meta = read_decoder_file(path)
    decoder = DDSPDecoder(AudioConfig(**json.loads(meta["audio"])), DDSPConfig(**json.loads(meta["ddsp"])))
    decoder.load_state_dict(state)
    return decoder.eval(), json.loads(meta["record"])


class DDSPVocoder:
    """Normalized log-mel -> audio through the trained ``DDSPDecoder`` (module docstring).

    ``vocoder(mel, pitch)``: mel (n_mels, num_frames) normalized log-mel; pitch the MIDI pitch the mel was
    rendered at, or ``None`` to estimate it from the mel (``pitch.estimate_pitch``). Returns
    (num_samples,) float32 audio at ``cfg.sample_rate`` Hz; deterministic. Raises ValueError for a mel of the
    wrong shape, a non-finite pitch, or an ``AudioConfig`` whose ``SIGNAL_FIELDS`` differ from the decoder's;
    FileNotFoundError when the weights are missing.
    """

    def __init__(self, cfg: AudioConfig, weights: str | Path = WEIGHTS):
        self.cfg = cfg
        self.decoder, self.record = load_decoder(weights)
        trained = {f: getattr(self.decoder.audio, f) for f in SIGNAL_FIELDS}
        if trained != {f: getattr(cfg, f) for f in SIGNAL_FIELDS}:
            raise ValueError(f"The DDSP decoder in {weights} was trained for {trained}, not {cfg}.")

    @torch.no_grad()
    def __call__(self, mel: np.ndarray, pitch: float | None = None) -> np.ndarray:
        mel, pitch = check_input(mel, pitch, self.cfg)
        noise = torch.randn(1, self.cfg.num_samples, generator=torch.Generator().manual_seed(self.decoder.cfg.seed))
        audio = self.decoder(torch.from_numpy(mel)[None], torch.tensor([pitch]), noise)
        return audio[0].numpy().astype(np.float32)
