"""Configuration dataclasses. Every checkpoint records its own copy in ``config.json``."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields


def _from_dict(cls, d: dict):
    """Build dataclass ``cls`` from ``d``, ignoring unknown keys (forward compatibility)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


def _whole(section: str, name: str, value, lo: int, hi: int) -> None:
    """Raise ValueError naming ``section.name`` unless ``value`` is a whole number (not a bool) in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{section}.{name} = {value!r} is not accepted: a whole number from {lo} to {hi}.")


def _real(section: str, name: str, value, lo: float, hi: float, open_lo: bool = False) -> None:
    """Raise ValueError naming ``section.name`` unless ``value`` is a finite number in [lo, hi] ((lo, hi] with
    ``open_lo``)."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
          and (value > lo if open_lo else value >= lo) and value <= hi)
    if not ok:
        raise ValueError(f"{section}.{name} = {value!r} is not accepted: a finite number "
                         f"{'above' if open_lo else 'from'} {lo} {'and at most' if open_lo else 'to'} {hi}.")


MIN_PITCH, MAX_PITCH = 21, 108
"""The MIDI range every network is trained on (A0 to C8, the 88 keys of a piano)."""
MAX_STEPS = 10
"""Most hypernetwork refinement steps T accepted at inference."""
REFINE_STEPS = 1
"""Default hypernetwork refinement steps T at inference: on held-out notes T = 1 gives nearly all of the
gain of T = 3 (timbre error 0.61 -> 0.43 vs 0.41, log-mel L1 equal) for a third of the extra time."""
CHECK_REFINEMENT = False
"""Whether the hyper methods check each refinement step against the input (``models.checked_refine``) by default.
Off: on held-out notes the check lowers synthesis FD (28.56 -> 27.70) and the real recordings' mean timbre error
(39.40 -> 38.81) but raises the synthesis log-mel L1 in every shift group (0.1302 -> 0.1307) and doubles the time of
a synthesized note (docs/experiments.md, "The refinement checked against the input")."""


@dataclass(frozen=True)
class AudioConfig:
    """Audio representation: 16 kHz mono notes of 1.024 s and their normalized log-mel.

    sample_rate: Hz. num_samples: one note (16384 = 1.024 s at 16 kHz).
    The log-mel has ``n_mels`` bands from ``f_min`` to ``f_max`` Hz and ``num_frames`` frames of
    ``hop_length`` samples; log(clamp(m, mel_floor)) is mapped affinely so that
    [log_min, log_max] -> [-1, 1].
    """

    sample_rate: int = 16000
    num_samples: int = 16384
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 128
    n_mels: int = 128
    num_frames: int = 128
    f_min: float = 20.0
    f_max: float = 8000.0
    mel_floor: float = 1e-5
    log_min: float = -11.5129  # log(1e-5)
    log_max: float = 4.5
    peak_dbfs: float = -1.0  # level normalization target (dB full scale)
    onset_top_db: float = 40.0  # onset = first frame within this many dB of the peak
    preroll_s: float = 0.005  # kept before the detected onset (seconds)
    griffin_lim_iters: int = 16  # 32 lowers the log-mel L1 of a round trip by only 2% (0.0262 vs 0.0268) at twice the time

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the five networks (f, G, D, H, E; paper sec. 3).

    h_dim: timbre feature h. z_dim: latent z. w_dim: mapping output w.
    gen_channels: generator channels at resolutions 4, 8, 16, 32, 64, 128.
    num_pitches: MIDI 21-108 (88 classes). hyper_layers: how many of G's last modulated
    convolutions H refines. hyper_rank: rank of each predicted offset Delta_l.
    noise_inputs: G adds per-pixel noise after each modulated convolution, scaled by a learned per-layer strength
    (StyleGAN2 sec. 2; zero-initialized, so a G trained without them loads and renders as before).
    """

    h_dim: int = 128
    z_dim: int = 32
    w_dim: int = 256
    pitch_embed_dim: int = 64
    mapping_layers: int = 4
    gen_channels: tuple = (128, 128, 128, 64, 32, 16)
    disc_channels: tuple = (16, 32, 64, 128, 256)
    feat_channels: tuple = (16, 32, 64, 128, 256)
    enc_channels: tuple = (16, 32, 64, 128, 256)
    num_instruments: int = 128
    num_pitches: int = MAX_PITCH - MIN_PITCH + 1
    min_pitch: int = MIN_PITCH
    hyper_hidden: int = 512
    hyper_layers: int = 6
    hyper_rank: int = 4
    noise_inputs: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """The config of a ``config.json``'s ``model`` section (unknown keys ignored), validated field by field.

        Raises ValueError naming the field (``model.h_dim = -5 ...``) and what it accepts: widths are whole
        numbers from 1 to ``MAX_WIDTH``, channel lists have their default length (the networks are built for a
        128 x 128 log-mel), the pitch range lies within MIDI 0-127.
        """
        if not isinstance(d, dict):
            raise ValueError(f"model = {d!r} is not accepted: a mapping of field names to values.")
        d = dict(d)
        defaults = cls()
        for k in ("gen_channels", "disc_channels", "feat_channels", "enc_channels"):
            if k in d:
                size = len(getattr(defaults, k))
                if not isinstance(d[k], (list, tuple)) or len(d[k]) != size:
                    raise ValueError(f"model.{k} = {d[k]!r} is not accepted: a list of {size} whole numbers.")
                for value in d[k]:
                    _whole("model", k, value, 1, MAX_WIDTH)
                d[k] = tuple(d[k])
        cfg = _from_dict(cls, d)
        for k in ("h_dim", "z_dim", "w_dim", "pitch_embed_dim", "num_instruments", "hyper_hidden"):
            _whole("model", k, getattr(cfg, k), 1, MAX_WIDTH)
        _whole("model", "mapping_layers", cfg.mapping_layers, 1, 16)
        _whole("model", "hyper_rank", cfg.hyper_rank, 1, 64)
        _whole("model", "hyper_layers", cfg.hyper_layers, 1, 2 * len(cfg.gen_channels) - 1)
        _whole("model", "min_pitch", cfg.min_pitch, 0, 127)
        _whole("model", "num_pitches", cfg.num_pitches, 1, 128 - cfg.min_pitch)
        if not isinstance(cfg.noise_inputs, bool):
            raise ValueError(f"model.noise_inputs = {cfg.noise_inputs!r} is not accepted: true or false.")
        return cfg


MAX_WIDTH = 4096
"""Largest width (features, channels, hidden units) a ``config.json`` may give a network."""


def audio_config_from_dict(d: dict) -> AudioConfig:
    """The config of a ``config.json``'s ``audio`` section (unknown keys ignored), validated field by field.

    Raises ValueError naming the field (``audio.sample_rate = 0 ...``) and what it accepts.
    """
    if not isinstance(d, dict):
        raise ValueError(f"audio = {d!r} is not accepted: a mapping of field names to values.")
    cfg = _from_dict(AudioConfig, d)
    _whole("audio", "sample_rate", cfg.sample_rate, 1000, 192000)
    _whole("audio", "num_samples", cfg.num_samples, 256, 10 * cfg.sample_rate)
    _whole("audio", "n_fft", cfg.n_fft, 16, 16384)
    _whole("audio", "win_length", cfg.win_length, 1, cfg.n_fft)
    _whole("audio", "hop_length", cfg.hop_length, 1, cfg.n_fft)
    _whole("audio", "n_mels", cfg.n_mels, 1, 512)
    _whole("audio", "num_frames", cfg.num_frames, 1, 4096)
    _whole("audio", "griffin_lim_iters", cfg.griffin_lim_iters, 0, 1024)
    _real("audio", "f_max", cfg.f_max, 0, cfg.sample_rate / 2, open_lo=True)
    _real("audio", "f_min", cfg.f_min, 0, cfg.f_max)
    _real("audio", "mel_floor", cfg.mel_floor, 0, 1, open_lo=True)
    _real("audio", "log_min", cfg.log_min, -100, 100)
    _real("audio", "log_max", cfg.log_max, cfg.log_min, 100, open_lo=True)
    _real("audio", "peak_dbfs", cfg.peak_dbfs, -100, 0)
    _real("audio", "onset_top_db", cfg.onset_top_db, 0, 200, open_lo=True)
    _real("audio", "preroll_s", cfg.preroll_s, 0, 1)
    return cfg


H_STAGES = ("hypernet-pre", "hypernet-adv")
"""The training stages of the hypernetworks H_pre and H (``hyperlib.training.stages.STAGES``)."""


def _field(default, help: str, stages: tuple = (), choices: tuple = ()):
    """A ``TrainConfig`` field with its description: ``help`` (units included) becomes the ``train`` command's
    option help; ``stages``: the training stages that use it (empty: all); ``choices``: the accepted strings."""
    return field(default=default, metadata={"help": help, "stages": stages, "choices": choices})


@dataclass
class TrainConfig:
    """One training stage's schedule and losses (paper sec. 3.2 and eq. 4-6 for H).

    Each field says what it is, in which unit and for which stages in its metadata (``fields(TrainConfig)``,
    keys "help", "stages", "choices"); ``python -m hyperlib train --help`` shows the same text, with each stage's
    default (``hyperlib.training.stages.STAGE_DEFAULTS``), as one option per field.
    """

    steps: int = _field(1000, "optimizer steps")
    batch_size: int = _field(16, "notes per step (under torchrun the global batch, split across the processes)")
    lr: float = _field(2e-3, "Adam learning rate, the peak of the schedule")
    lr_schedule: str = _field("constant", "learning-rate schedule after the warm-up: constant, or cosine from lr "
                              "down to lr * lr_final_mult at the last step", choices=("constant", "cosine"))
    warmup_steps: int = _field(0, "steps of the linear learning-rate warm-up")
    lr_final_mult: float = _field(0.1, "cosine schedule: the last step's learning rate as a fraction of lr")
    betas: tuple = _field((0.0, 0.99), "Adam's two betas")
    ckpt_every: int = _field(200, "steps between resumable states")
    log_every: int = _field(20, "steps between log lines")
    knn_k: int = _field(10, "neighbours of each note for instance conditioning")
    seed: int = _field(0, "seed of the batches and noise (give another to continue a run on new batches)")
    grad_clip: float = _field(10.0, "largest gradient norm per network and step")
    warm_start: bool = _field(False, "start from the model folder's current weights of this stage's networks")
    d_lr: float = _field(2e-4, "learning rate of D (D's layers have PyTorch's default init scale)",
                         stages=("generator", "hypernet-adv"))
    mapping_lr_mult: float = _field(0.01, "learning rate of G's mapping network as a fraction of lr",
                                    stages=("generator",))
    style_lr_mult: float = _field(0.05, "learning rate of G's style layers as a fraction of lr", stages=("generator",))
    l1_weight: float = _field(1.0, "weight of the log-mel L1 loss of G", stages=("generator",))
    adv_weight: float = _field(0.05, "weight of G's adversarial loss", stages=("generator",))
    r1_gamma: float = _field(1.0, "weight of D's R1 gradient penalty", stages=("generator", "hypernet-adv"))
    r1_every: int = _field(16, "lazy R1 (StyleGAN2): the penalty every r1_every D steps, weighted r1_every times",
                           stages=("generator", "hypernet-adv"))
    ema_half_life: float = _field(0.0, "half-life in samples of G's weight average (StyleGAN2's G_ema, saved as G; "
                                  "the raw weights as G_raw), 0 for none", stages=("generator",))
    channels_last: bool = _field(False, "the stage's networks in PyTorch's channels-last memory layout (the same "
                                 "arithmetic; faster plain convolutions on CPU, slower grouped ones)")
    compile: bool = _field(False, "compile G's forward with torch.compile (minutes of compilation, then faster "
                           "steps; for long runs)", stages=("generator",))
    max_minutes: float = _field(0.0, "stop after this many minutes of wall time and write the weights of the step "
                                "reached; run it again without --fresh to go on (0: no limit)")
    pitch_adv_weight: float = _field(10.0, "weight of the pitch read-out's explained variance in f's loss",
                                     stages=("features",))
    adversary_queue: int = _field(2048, "recent h the closed-form pitch adversary is fitted on",
                                  stages=("features",))
    adversary_ridge: float = _field(1e-3, "the pitch read-out's ridge, relative to h's mean variance (smaller sees "
                                    "weaker directions)", stages=("features",))
    p_recon: float = _field(0.2, "probability of reconstructing the input at its own pitch rather than a "
                            "neighbour's (paper sec. 3.2)", stages=H_STAGES)
    timbre_weight: float = _field(1.0, "weight of l_timbre, f's squared error of the refined note against h",
                                  stages=H_STAGES)
    recon_weight: float = _field(100.0, "weight of l_recon", stages=H_STAGES)
    recon_loss: str = _field("l2", "l_recon as the paper's squared error (l2) or the absolute error (l1)",
                             stages=H_STAGES, choices=("l2", "l1"))
    refine_steps: int = _field(2, "refinement steps T of H during training", stages=H_STAGES)
    recon_known_pitch: bool = _field(False, "the reconstruction loss at every pitch whose true note the corpus "
                                     "holds, not only the input's own (off: the paper's L_pre)", stages=H_STAGES)
    envelope_weight: float = _field(0.0, "weight per dB of the loudness-over-time error, where the true note is "
                                    "known (0: the paper's loss)", stages=H_STAGES)
    gradient_weight: float = _field(0.0, "weight of the gradient difference loss, the sharpness of the mel's "
                                    "changes over time and frequency against the true note's", stages=H_STAGES)
    augment_p: float = _field(0.0, "share of the inputs made out-of-domain, a noise part and maybe a second note "
                              "added (H reconstructs them at their own pitch; f keeps their labels)",
                              stages=("features",) + H_STAGES)
    mix_rows: int = _field(0, "extra rows per step whose timbre feature h mixes two random notes' (timbre "
                           "interpolation as a training input; timbre and adversarial terms only)", stages=H_STAGES)
    z_weight: float = _field(0.01, "weight lambda of the mean squared latent ||z||^2 in E's loss",
                             stages=("encoder",))

    def lr_factor(self, step: int) -> float:
        """Multiplier of every group's learning rate at 0-based ``step``: linear warm-up, then the schedule.

        Raises ValueError for an unknown ``lr_schedule``."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.lr_schedule == "constant":
            return 1.0
        if self.lr_schedule == "cosine":
            t = min((step - self.warmup_steps) / max(self.steps - self.warmup_steps - 1, 1), 1.0)
            return self.lr_final_mult + (1 - self.lr_final_mult) * 0.5 * (1 + math.cos(math.pi * t))
        raise ValueError(f"Unknown lr_schedule {self.lr_schedule!r}; use 'constant' or 'cosine'.")
