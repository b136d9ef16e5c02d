"""Write a model folder's card (``README.md``) from what its ``config.json`` recorded."""
from __future__ import annotations

from pathlib import Path

from . import checkpoint as ckpt

STAGE_TEXT = {
    "features": "f: instrument-identity classifier; f minimizes the pitch variance a refitted linear read-out of h explains",
    "generator": "G (and D): instance conditioning, L1 to the exact target + non-saturating GAN loss, R1",
    "hypernet-pre": "H: L_pre (eq. 4), p_recon = 0.2; G and f frozen (saved as H_pre, the ablation)",
    "hypernet-adv": "H and D: conditional adversarial fine-tuning (eq. 5-6), l_timbre = 20, l_recon = 200",
    "encoder": "E: ||x - G(E(x), p)||^2 + lambda ||z||^2, G frozen (the GANStrument Enc. baseline)",
}


def _fmt_losses(losses: dict) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in losses.items())


def model_card(model_dir: str | Path, data: str, notes: str = "") -> str:
    """Markdown card: data, networks (parameters, file sizes), and per stage its start (new or the folder's
    previous weights), steps, batch, lr, wall time and final losses."""
    model_dir = Path(model_dir)
    cfg = ckpt.read_config(model_dir)
    model_cfg, audio_cfg = ckpt.configs(model_dir)
    rows = []
    total = 0
    for name in ckpt.NETWORKS:
        path = model_dir / f"{name}.safetensors"
        if path.is_file():
            params = sum(p.numel() for p in ckpt.build(name, model_cfg).parameters())
            size = path.stat().st_size
            total += size
            rows.append(f"| {name} | {params / 1e6:.2f} M | {size / 2**20:.1f} MiB |")
    stages = []
    trained = cfg.get("training", {})
    for stage in [k for k in STAGE_TEXT if k in trained]:
        s = trained[stage]
        start = "previous weights" if s.get("warm_start") else "H_pre" if stage == "hypernet-adv" else "new"
        stages.append(f"| {stage} | {start} | {s['steps']} | {s['batch_size']} | {s['lr']} | {s['wall_time_s'] / 60:.1f} | "
                      f"{s['device']} | {_fmt_losses(s['final_losses'])} |")
    return "\n".join([
        "---", "license: mit", "library_name: hyperlib", "tags: [audio, music, gan, hypernetwork, neural-sampler]", "---",
        "", "# hyperlib HyperGANStrument checkpoint", "",
        "All networks of HyperGANStrument (Zhang & Akama, 2024) and its baselines, trained from scratch on CPU "
        "by this repository's pipeline (`python -m hyperlib train STAGE`).", "",
        "## Data", "", data, "",
        f"Representation: {audio_cfg.sample_rate} Hz mono, {audio_cfg.num_samples} samples per note, log-mel "
        f"{audio_cfg.n_mels} x {audio_cfg.num_frames} (n_fft {audio_cfg.n_fft}, hop {audio_cfg.hop_length}, "
        f"{audio_cfg.f_min:g}-{audio_cfg.f_max:g} Hz), vocoded by hyperlib's harmonic-plus-noise vocoder at the "
        f"rendered pitch (Griffin-Lim, {audio_cfg.griffin_lim_iters} iterations, on request).",
        "", "## Networks", "", "| network | parameters | file |", "|---|---|---|", *rows,
        f"| all | | {total / 2**20:.1f} MiB |", "",
        "## Training (final losses: mean of the last 50 steps)", "",
        "| stage | started from | steps | batch | lr | wall time (min) | device | final losses |",
        "|---|---|---|---|---|---|---|---|",
        *stages, "", *[f"- **{k}**: {v}" for k, v in STAGE_TEXT.items()], "", notes, "",
        "## Limitations", "",
        "Short CPU training (hours, where the paper trained for days on GPUs), small networks and a vocoder "
        "without learned parameters: the sound is rough. Timbres far from General MIDI soundfonts (noisy "
        "sounds) are reproduced loosely. Measured quality: `docs/results/results.md`.", "",
    ])


def write_model_card(model_dir: str | Path, data: str, notes: str = "") -> Path:
    """Write ``model_dir/README.md`` (``notes``: extra markdown after the training table); returns its path."""
    path = Path(model_dir) / "README.md"
    path.write_text(model_card(model_dir, data, notes))
    return path
