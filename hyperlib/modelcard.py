"""Write a model folder's card (``README.md``) from what its ``config.json`` recorded, with the Hub's metadata.

The card follows the Hub's conventions: what the model is, how to use it, training data and licences, the
networks and their training, evaluation, limitations, citation. The front matter carries the Hub's fields
(license, library_name, tags, pipeline_tag) and, given an evaluation's ``results.json`` (``python -m hyperlib
evaluate --split validation``), HyperGANStrument's scores in the Hub's model-index form; the evaluation section
holds the same run's main table between ``<!-- results:start -->`` and ``<!-- results:end -->``, which
``python -m hyperlib report`` rewrites (``card_with_results``).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from . import checkpoint as ckpt
from .faithful import CORRECTION_FILE, load_correction
from .evaluation.report import replace_block, table1, table1_caption
from .training.history import plot_loss_curves

LICENSE = "mit"
TAGS = ["audio", "music", "gan", "hypernetwork", "neural-sampler"]
PIPELINE_TAG = "audio-to-audio"
MODEL_NAME = "hyperlib-hyperganstrument"
EVAL_METHOD = "hyper"
"""The method whose scores the model-index reports (HyperGANStrument; the card's text compares the others)."""
EVAL_DATASET = ("timgm6mb", "TimGM6mb (held-out soundfont, velocity 100)")
"""(type, name) of the validation corpus the scores are measured on."""
EVAL_TASK = "Neural sampling: reconstruction, synthesis at another pitch, timbre interpolation"
_CLF, _PYIN = "pitch accuracy, classifier (%)", "pitch accuracy, pYIN within 50 cents (%)"
EVAL_METRICS = [  # (results.json section, key, metric type, metric name, decimals, as percent), as the README's table
    ("reconstruction", "l1", "l1", "Reconstruction log-mel L1", 3, False),
    ("reconstruction", "timbre_mse", "mse", "Reconstruction timbre MSE", 4, False),
    ("reconstruction", "pitch_acc_clf", "accuracy", f"Reconstruction {_CLF}", 1, True),
    ("reconstruction", "pitch_acc_pyin", "accuracy", f"Reconstruction {_PYIN}", 1, True),
    ("synthesis", "l1", "l1", "Synthesis log-mel L1", 3, False),
    ("synthesis", "fd", "frechet_distance", "Synthesis Frechet distance", 2, False),
    ("synthesis", "pitch_acc_clf", "accuracy", f"Synthesis {_CLF}", 1, True),
    ("synthesis", "pitch_acc_pyin", "accuracy", f"Synthesis {_PYIN}", 1, True),
    ("interpolation", "fd", "frechet_distance", "Interpolation Frechet distance", 2, False),
    ("interpolation", "pitch_acc_clf", "accuracy", f"Interpolation {_CLF}", 1, True),
    ("interpolation", "pitch_acc_pyin", "accuracy", f"Interpolation {_PYIN}", 1, True),
]
LOSS_CURVES = "loss_curves.png"
"""The card's figure: every stage's logged losses against the samples its weights have seen (``plot_loss_curves``)."""
FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
CITATION = [
    "@inproceedings{zhang2024hyperganstrument,",
    "  title     = {HyperGANStrument: Instrument Sound Synthesis and Editing with Pitch-Invariant Hypernetworks},",
    "  author    = {Zhang, Zhe and Akama, Taketo},",
    "  booktitle = {IEEE International Conference on Acoustics, Speech and Signal Processing (ICASSP)},",
    "  year      = {2024}",
    "}",
    "@inproceedings{narita2023ganstrument,",
    "  title     = {GANStrument: Adversarial Instrument Sound Synthesis with Pitch-Invariant Instance Conditioning},",
    "  author    = {Narita, Gaku and Shimizu, Junichi and Akama, Taketo},",
    "  booktitle = {IEEE International Conference on Acoustics, Speech and Signal Processing (ICASSP)},",
    "  year      = {2023}",
    "}",
]
"""The papers the card asks users to cite: the method and its baseline."""


def metadata(results: dict | None = None) -> str:
    """The card's YAML front matter (between ``---`` lines): the Hub's fields, and with ``results`` (a parsed
    validation ``results.json``) a model-index of ``EVAL_METHOD``'s scores rounded as in the README's table.

    Raises ValueError for results of another split than validation.
    """
    from huggingface_hub import EvalResult, ModelCardData

    evals = []
    if results is not None:
        if results.get("split") != "validation":
            raise ValueError(f"The card reports validation scores; these results are of the {results.get('split')!r} split.")
        evals = [EvalResult(task_type=PIPELINE_TAG, task_name=EVAL_TASK, dataset_type=EVAL_DATASET[0],
                            dataset_name=EVAL_DATASET[1], dataset_split="validation", metric_type=kind, metric_name=name,
                            metric_value=round(results[section][EVAL_METHOD][key] * (100 if pct else 1), digits))
                 for section, key, kind, name, digits, pct in EVAL_METRICS]
    data = ModelCardData(license=LICENSE, library_name="hyperlib", tags=TAGS, pipeline_tag=PIPELINE_TAG,
                         model_name=MODEL_NAME if evals else None, eval_results=evals or None)
    return f"---\n{data.to_yaml()}\n---\n"


def evaluation_section(results: dict) -> str:
    """The card's evaluation figures from a parsed validation ``results.json``: a caption naming the run and
    the main table, every method and reference as ``results.json`` holds them."""
    return "\n".join([table1_caption(results), "", *table1(results)])


def card_with_results(text: str, results: dict) -> str:
    """``text`` (a card) with its front matter and its results block rewritten from ``results`` (a parsed
    validation ``results.json``). Raises ValueError where the card has no results block or the results are of
    another split."""
    return metadata(results) + replace_block(FRONT_MATTER.sub("", text, count=1), "results",
                                             evaluation_section(results))


def write_metadata(model_dir: str | Path, results_json: str | Path) -> Path:
    """Replace the front matter of ``model_dir/README.md`` by ``metadata`` of an evaluation's ``results.json``,
    keeping the card's text; returns the card's path. Raises FileNotFoundError for a missing card or results."""
    path = Path(model_dir) / "README.md"
    text = path.read_text()
    path.write_text(metadata(json.loads(Path(results_json).read_text())) + FRONT_MATTER.sub("", text, count=1))
    return path

STAGE_TEXT = {
    "features": "f: instrument-identity classifier; f minimizes the pitch variance a refitted linear read-out of h explains",
    "generator": "G (and D): instance conditioning, L1 to the exact target + non-saturating GAN loss, R1",
    "hypernet-pre": "H: L_pre (eq. 4), p_recon = 0.2; G and f frozen (saved as H_pre, the ablation)",
    "hypernet-adv": "H and D: conditional adversarial fine-tuning (eq. 5-6), l_timbre = 20, l_recon = 200",
    "encoder": "E: ||x - G(E(x), p)||^2 + lambda ||z||^2, G frozen (the GANStrument Enc. baseline)",
}


def _stage_text(stage: str, summary: dict) -> str:
    """``STAGE_TEXT[stage]`` with the options that go beyond the paper, where used: the H stages' L_pre terms and
    the input augmentation of f and H."""
    options = summary.get("options", {})
    extra = []
    if options.get("recon_loss") == "l1":
        extra.append("l_recon as the absolute error")
    if options.get("recon_known_pitch"):
        extra.append("l_recon also at every other pitch whose true note the corpus holds")
    if options.get("envelope_weight"):
        extra.append(f"+ {options['envelope_weight']:g} x the per-frame level error in dB")
    if options.get("gradient_weight"):
        extra.append(f"+ {options['gradient_weight']:g} x the gradient difference loss (Mathieu et al. 2016)")
    if options.get("augment_p"):
        kept = "their instrument and pitch labels kept" if stage == "features" else "reconstructed at their own pitch"
        extra.append(f"{options['augment_p']:.0%} of the inputs given a noise part and maybe a second note, {kept}")
    if options.get("mix_rows"):
        extra.append(f"+ {options['mix_rows']} rows per step whose h mixes two notes' (timbre and adversarial "
                     "terms only)")
    return "; ".join([STAGE_TEXT[stage], *extra])


def _fmt_losses(losses: dict) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in losses.items())


def model_card(model_dir: str | Path, data: str, notes: str = "", results: dict | None = None) -> str:
    """Markdown card in the Hub's conventions: the Hub's metadata (``metadata(results)``), what the model is, how to
    use it, ``data`` (the training data and their licences), networks (parameters, file sizes), per stage its start
    (new or the folder's previous weights), steps, batch, lr, wall time and final losses, then ``notes``, the
    evaluation (``evaluation_section(results)`` between the results markers; a pointer to the command without
    ``results``), limitations and citation. Raises ValueError for results of another split than validation."""
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
    correction = load_correction(model_dir, model_cfg.h_dim, audio_cfg)
    if correction is not None:
        size = (model_dir / CORRECTION_FILE).stat().st_size
        total += size
        rows.append(f"| correction (faithful method) | {sum(p.numel() for p in correction.parameters()) / 1e6:.2f} M "
                    f"| {size / 2**20:.1f} MiB |")
    stages = []
    trained = cfg.get("training", {})
    curves = [f"![Loss curves]({LOSS_CURVES})", ""] if (model_dir / LOSS_CURVES).is_file() else []
    for stage in [k for k in STAGE_TEXT if k in trained]:
        s = trained[stage]
        samples = s.get("samples_total", s["steps"] * s["batch_size"])
        continued = s.get("warm_start") or samples > s.get("samples", samples)  # warm-started, or continuing an earlier run
        start = "previous weights" if continued else "H_pre" if stage == "hypernet-adv" else "new"
        threads = s.get("torch_threads", 0) * s.get("processes", 1)
        cpu_h = f"{s.get('wall_time_total_s', s['wall_time_s']) * threads / 3600:.2f}" if threads and s["device"] == "cpu" else "—"
        stages.append(f"| {stage} | {start} | {s['steps']} | {s['batch_size']} | {s['lr']} | {s['wall_time_s'] / 60:.1f} | "
                      f"{samples:,} | {cpu_h} | {s['device']} | {_fmt_losses(s['final_losses'])} |")
    if results is not None:
        evaluation = ["## Evaluation", "",
                      "Scored on a held-out soundfont the networks never heard, with networks trained apart from "
                      "them (a 16-family classifier and an 88-pitch classifier); the full report, with synthesis "
                      "by shift size, loudness over time, audio distances per vocoder, real recordings, cost and "
                      "the pitch probe, is `docs/results/results.md` in the repository, and what the figures mean "
                      "is in `docs/evaluation.md`.", "",
                      "<!-- results:start -->", evaluation_section(results), "<!-- results:end -->", ""]
    else:
        evaluation = ["## Evaluation", "", "Not evaluated yet: `python -m hyperlib evaluate --split validation`.", ""]
    return metadata(results) + "\n".join([
        "", "# hyperlib HyperGANStrument checkpoint", "",
        "All networks of HyperGANStrument (Zhang & Akama, 2024) and its baselines, trained from scratch on CPU "
        "by this repository's pipeline (`python -m hyperlib train STAGE`): the feature extractor f, the "
        "generator G and its discriminator D, the hypernetwork H (and H_pre, before its adversarial stage) and "
        "the encoder E of the GANStrument Enc. baseline. Given one short sound, they rebuild it, play its timbre "
        "at any MIDI pitch 21-108 and mix timbres; the `ddsp` vocoder that turns their log-mels into audio ships "
        "inside the `hyperlib` package. The folder also holds the spectral correction of the faithful method, which "
        "plays the input's own audio at another pitch: a pitch shift (a phase vocoder; over an octave, Rubber Band "
        "with its formants kept) whose colour a small network, reading f's h and the two pitches, corrects "
        "(`docs/faithful.md` in the repository).", "",
        "## How to use", "",
        "```bash", "pip install torch==2.13.0 .      # in a checkout of the hyperlib repository", "```", "",
        "```python", "from hyperlib import HyperGANStrument", "",
        "model = HyperGANStrument.from_pretrained()        # this checkpoint (or a folder or a Hub repo id)",
        "r = model.synthesize(\"piano.wav\", pitch=64)      # the input's timbre at MIDI 64",
        "r.audio, r.sample_rate                            # float32 mono waveform, 16000 Hz", "```", "",
        "`python -m hyperlib synthesize piano.wav --pitch 64 -o out.wav` does the same from the command line.", "",
        "## Training data and licences", "", data, "",
        f"Representation: {audio_cfg.sample_rate} Hz mono, {audio_cfg.num_samples} samples per note, log-mel "
        f"{audio_cfg.n_mels} x {audio_cfg.num_frames} (n_fft {audio_cfg.n_fft}, hop {audio_cfg.hop_length}, "
        f"{audio_cfg.f_min:g}-{audio_cfg.f_max:g} Hz), vocoded at the rendered pitch by hyperlib's `ddsp` vocoder, a "
        "small harmonic-plus-noise decoder trained on this checkpoint's own mels (the harmonic-plus-noise vocoder "
        f"fitted to the mel, or Griffin-Lim with {audio_cfg.griffin_lim_iters} iterations, on request).",
        "", "## Networks", "", "| network | parameters | file |", "|---|---|---|", *rows,
        f"| all | | {total / 2**20:.1f} MiB |", "",
        "## Training (final losses: mean of the last 50 steps)", "",
        "The last run of each stage: its start, steps, batch, learning rate, wall time and final losses; samples "
        "seen and CPU hours (wall time x torch threads x processes) are summed over the runs that trained the weights, warm "
        "starts included, as far as they were recorded (a warm start from weights whose summary kept no totals "
        "counts only their last run).", "",
        "| stage | started from | steps | batch | lr | wall time (min) | samples (all runs) | CPU hours (all runs) "
        "| device | final losses |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *stages, "", *curves, *[f"- **{k}**: {_stage_text(k, trained.get(k, {}))}" for k in STAGE_TEXT], "", notes, "",
        *evaluation,
        "## Limitations", "",
        "Short CPU training (hours, where the paper trained for days on GPUs), small networks and a small vocoder "
        "trained on CPU: the sound is rough. The `ddsp` vocoder is tuned to this checkpoint's G: retrain it when G "
        "or H change. Timbres far from General MIDI soundfonts (noisy sounds, glides, speech) are reproduced "
        "loosely: on such sounds H's refinement is about even with GANStrument's, not the help the paper shows. "
        "One fixed pitch per note; inputs are cut to their first 1.024 s.", "",
        "## Citation", "", "```bibtex", *CITATION, "```", "",
    ])


def write_model_card(model_dir: str | Path, data: str, notes: str = "", results: dict | None = None) -> Path:
    """Write ``model_dir/README.md`` and its ``loss_curves.png`` where a stage kept a curve (``notes``: extra markdown after the training table; ``results``: a parsed
    validation ``results.json`` for the model-index); returns its path."""
    model_dir = Path(model_dir)
    plot_loss_curves(ckpt.read_config(model_dir).get("training", {}), model_dir / LOSS_CURVES)
    path = model_dir / "README.md"
    path.write_text(model_card(model_dir, data, notes, results))
    return path
