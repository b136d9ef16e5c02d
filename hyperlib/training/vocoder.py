"""Training of the learned vocoder (``hyperlib.vocoders.ddsp``) on pairs of ``vocoder_data``: resumable, logged.

Each step draws ``batch_size`` pairs and, for each, one of its mels (``VocoderTrainConfig.sources``: the true
mel or one the model made); the decoder renders it through its synthesizers and the loss compares the audio with
the true note (``spectral_loss``), plus ``provenance_weight`` times the binary cross-entropy of the decoder's
provenance head, which learns which of the mels are true. The state is saved to ``<out>/state.pt`` every
``ckpt_every`` steps and a run resumes from it; ``<out>/log.jsonl`` holds the losses and, at every checkpoint,
the distances on held-out pairs; ``<out>/ddsp.safetensors`` is written at the end with the run's record. A run
can start from a trained decoder (``init``): after G changes, or to add the consistency gate to a decoder
trained without it.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..config import AudioConfig, TrainConfig
from ..mel import mel_filterbank
from ..vocoders.ddsp import DDSPConfig, DDSPDecoder, read_decoder_file, save_decoder
from .vocoder_data import MEL_SOURCES, VocoderPairs

FLOOR_DB = 80.0
"""Magnitudes are floored this far under the reference's peak, as in the evaluation's audio distances."""
RESOLUTIONS = ((4096, 256, False), (1024, 128, True), (1024, 128, False), (256, 64, False))
"""(n_fft, hop, through the mel filterbank) of each term of ``spectral_loss``: the evaluation's fine and mel
resolutions, the mel STFT without the filterbank, and a short one for attacks."""


@dataclass
class VocoderTrainConfig:
    """Settings of ``train_vocoder``.

    sources: probability of each mel of ``MEL_SOURCES`` as a step's input. lr: AdamW's peak learning rate (linear
    warm-up over ``warmup_steps``, then cosine decay to a tenth at ``steps``, as ``TrainConfig.lr_factor``).
    provenance_weight: weight of the provenance head's cross-entropy (with consistency passes). holdout: pairs kept
    out of training, ``val_pairs`` of them scored at every checkpoint, from HyperGANStrument's mel and from the true
    mel, with the provenance head's accuracy on both.
    """

    steps: int = 4000
    batch_size: int = 8
    lr: float = 1e-3
    warmup_steps: int = 100
    sources: dict = field(default_factory=lambda: {"true": 0.3, "hyper": 0.5, "gan": 0.2})
    provenance_weight: float = 1.0
    holdout: int = 256
    val_pairs: int = 64
    ckpt_every: int = 200
    seed: int = 0
    ddsp: DDSPConfig = DDSPConfig()


def spectral_loss(audio: torch.Tensor, reference: torch.Tensor, mel_basis: torch.Tensor,
                  per_resolution: bool = False) -> torch.Tensor | dict:
    """Mean L1 of floored natural-log STFT magnitudes over ``RESOLUTIONS``, after matching each note's RMS.

    audio, reference: (B, num_samples). mel_basis: (n_mels, 513) filterbank for the 1024-point mel term. This is
    the evaluation's ``metrics.log_spectral_l1`` (at its mel and fine resolutions) in torch, differentiable in
    ``audio``. Returns the mean over resolutions, or with ``per_resolution`` a dict "n_fft/hop[/mel]" -> (B,) values.
    """
    rms = lambda y: y.pow(2).mean(1, keepdim=True).sqrt()  # noqa: E731
    audio = audio * (rms(reference) / rms(audio).clamp(min=1e-8))
    terms = {}
    for n_fft, hop, mel in RESOLUTIONS:
        window = torch.hann_window(n_fft, device=audio.device)
        mags = [torch.stft(y, n_fft, hop, window=window, pad_mode="constant", return_complex=True).abs()
                for y in (audio, reference)]
        if mel:
            mags = [mel_basis @ m for m in mags]
        floor = mags[1].amax((1, 2), keepdim=True) * 10 ** (-FLOOR_DB / 20)
        a, b = (torch.log(torch.maximum(m, floor)) for m in mags)
        terms[f"{n_fft}/{hop}{'/mel' if mel else ''}"] = (a - b).abs().mean((1, 2))
    return terms if per_resolution else torch.stack([t.mean() for t in terms.values()]).mean()


def train_vocoder(pairs_path: str | Path, out_dir: str | Path, tc: VocoderTrainConfig = VocoderTrainConfig(),
                  fresh: bool = False, threads: int | None = None, init: str | Path | None = None) -> Path:
    """Train (or resume) the DDSP decoder on ``pairs_path``; returns the path of the weights written at the end.

    init: a decoder file (``save_decoder``) whose weights a new run starts from; the gate and provenance heads, when
    that decoder has none, start from their initialization. Its record is kept in the new one, and the samples add up.
    Raises FileNotFoundError for a missing pairs or init file, ValueError for ``sources`` naming a mel the pairs
    lack or an ``init`` decoder of another shape.
    """
    if threads:
        torch.set_num_threads(threads)
    if set(tc.sources) - set(MEL_SOURCES):
        raise ValueError(f"sources must be among {MEL_SOURCES}, got {sorted(tc.sources)}.")
    pairs = VocoderPairs.load(pairs_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state_path, log_path = out / "state.pt", out / "log.jsonl"
    if fresh:
        state_path.unlink(missing_ok=True)
        log_path.unlink(missing_ok=True)
    audio_cfg = AudioConfig()
    rng = np.random.default_rng(tc.seed)
    order = rng.permutation(len(pairs.pitch))
    held, train = order[:tc.holdout], order[tc.holdout:]
    torch.manual_seed(tc.seed)
    decoder = DDSPDecoder(audio_cfg, tc.ddsp)
    start = None
    if init is not None:
        start = _load_init(decoder, init)
    opt = torch.optim.AdamW(decoder.parameters(), lr=tc.lr, weight_decay=0.0)
    step, seconds = 0, 0.0
    if state_path.is_file():
        state = torch.load(state_path, weights_only=False)
        decoder.load_state_dict(state["decoder"])
        opt.load_state_dict(state["opt"])
        step, seconds = state["step"], state["seconds"]
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
    basis = torch.from_numpy(mel_filterbank(audio_cfg))
    names, probs = list(tc.sources), np.array(list(tc.sources.values()), float)
    source_index = [MEL_SOURCES.index(n) for n in names]

    def batch(rows: np.ndarray, kinds: np.ndarray):
        mels = torch.from_numpy(pairs.mels[kinds, rows].astype(np.float32))
        return mels, torch.from_numpy(pairs.pitch[rows]).float(), torch.from_numpy(pairs.audio[rows])

    schedule = TrainConfig(steps=tc.steps, lr_schedule="cosine", warmup_steps=tc.warmup_steps, lr_final_mult=0.1)

    def lr_at(s: int) -> float:
        return tc.lr * schedule.lr_factor(s)

    def render(mel, pitch, noise):
        """(audio (B, num_samples), provenance logit (B,) or None)."""
        controls = decoder.controls(mel, pitch)
        return decoder.render(controls, mel, pitch, noise), controls.true_logit

    @torch.no_grad()
    def validate() -> dict:
        decoder.eval()
        rows, val = held[:tc.val_pairs], {}
        for source in ("hyper", "true"):
            mel, pitch, ref = batch(rows, np.full(len(rows), MEL_SOURCES.index(source)))
            gen = torch.Generator().manual_seed(tc.seed)
            y, logit = render(mel, pitch, torch.randn(ref.shape, generator=gen))
            val[source] = {k: float(v.mean()) for k, v in spectral_loss(y, ref, basis, per_resolution=True).items()}
            if logit is not None:
                val[source]["provenance_accuracy"] = float(((logit > 0) == (source == "true")).float().mean())
        decoder.train()
        return val

    def save_state() -> None:
        torch.save({"decoder": decoder.state_dict(), "opt": opt.state_dict(), "step": step, "seconds": seconds,
                    "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()}, state_path)

    decoder.train()
    bar = tqdm(total=tc.steps, initial=step, desc="train the DDSP vocoder", unit="step")
    with open(log_path, "a") as log:
        while step < tc.steps:
            t0 = time.perf_counter()
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            rows = rng.choice(train, tc.batch_size)
            kinds = np.array(source_index)[rng.choice(len(names), tc.batch_size, p=probs / probs.sum())]
            mel, pitch, ref = batch(rows, kinds)
            y, logit = render(mel, pitch, torch.randn(ref.shape))
            loss = spectral_loss(y, ref, basis)
            if logit is not None:
                is_true = torch.from_numpy(kinds == MEL_SOURCES.index("true")).float()
                loss = loss + tc.provenance_weight * F.binary_cross_entropy_with_logits(logit, is_true)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(decoder.parameters(), 1.0)
            opt.step()
            step += 1
            seconds += time.perf_counter() - t0
            record = {"step": step, "loss": round(loss.item(), 5), "lr": lr_at(step - 1)}
            if step % tc.ckpt_every == 0 or step == tc.steps:
                record["val"] = validate()
                save_state()
            log.write(json.dumps(record) + "\n")
            log.flush()
            bar.update(1)
            bar.set_postfix(loss=f"{record['loss']:.3f}")
    bar.close()
    weights = out / "ddsp.safetensors"
    final = json.loads(log_path.read_text().strip().splitlines()[-1]).get("val", {})
    record = {"date": date.today().isoformat(), "model_hashes": pairs.model_hashes, "steps": step,
              "samples": step * tc.batch_size, "seconds": round(seconds, 1), "threads": torch.get_num_threads(),
              "pairs": len(pairs.pitch), "heldout_pairs": tc.holdout,
              "config": {**asdict(tc), "ddsp": asdict(tc.ddsp)}, "heldout_val": final}
    if start is not None:
        record["init"] = start
        record["samples_total"] = record["samples"] + start.get("samples_total", start["samples"])
    save_decoder(decoder, weights, record)
    return weights


def _load_init(decoder: DDSPDecoder, path: str | Path) -> dict:
    """Copy the weights of the decoder file ``path`` into ``decoder``; returns that file's training record."""
    state, meta = read_decoder_file(path)
    own = decoder.state_dict()
    missing = set(own) - set(state)
    if (set(state) - set(own) or any(not k.startswith(("gate.", "provenance.")) for k in missing)
            or any(state[k].shape != own[k].shape for k in state)):
        raise ValueError(f"The decoder in {path} has another shape ({json.loads(meta['ddsp'])}) than the one "
                         f"to train ({asdict(decoder.cfg)}).")
    decoder.load_state_dict(state, strict=False)
    return json.loads(meta["record"])
