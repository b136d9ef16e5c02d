"""Command line: ``python -m hyperlib COMMAND ...``, one entry of ``COMMANDS`` per command.

Each entry is a ``commands.Command``: its help, the function that declares its arguments and the function that
runs it. The rendering commands are named as the API's calls (``synthesize``, ``reconstruct``, ``interpolate``,
``edit``, ``morph``, ``melody``, ``export-sfz``); ``train`` takes one option per ``TrainConfig`` field
(``commands.config_options``). Errors a user can fix print ``error: ...`` and exit with status 2.
"""
from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager

import torch
from tqdm import tqdm

from .audio import AudioError, write_wav
from .commands import Command, add_commands, config_options, config_overrides
from .config import CHECK_REFINEMENT, REFINE_STEPS, TrainConfig
from .corpus import SOUNDFONTS, TRAIN_FONTS, TRAIN_VELOCITIES, WIDE_FONTS
from .deprecation import REMOVED_IN
from .hub import DEFAULT_REPO_ID, DEFAULT_REVISION, HubError, download, push
from .pitch_shift import SHIFTERS
from .sound_design.cli import COMMANDS as SOUND_DESIGN_COMMANDS, render_args
from .training.correction_data import AS_FAITHFUL
from .vocoders import DEFAULT_VOCODER, VOCODERS


# -- the paper's tasks ------------------------------------------------------------------------------------------------
def _synthesize_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input")
    p.add_argument("--pitch", type=int, required=True, help="MIDI pitch 21-108")
    render_args(p)


def _reconstruct_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input")
    p.add_argument("--pitch", type=int, default=None, help="MIDI pitch of the input (default: estimated)")
    render_args(p)


def _interpolate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+")
    p.add_argument("--weights", type=float, nargs="+", required=True, help="one weight per input")
    p.add_argument("--pitch", type=int, required=True, help="MIDI pitch 21-108")
    render_args(p)


@contextmanager
def optimize_progress(method: str):
    """A tqdm bar of "optimize"'s steps, fed by the yielded progress(step, total) callback (None for the other
    methods, which take well under a second)."""
    if method != "optimize":
        yield None
        return
    with tqdm(desc="GAN inversion by optimization", unit="step") as bar:
        def update(step: int, total: int) -> None:
            bar.total = total
            bar.update(step - bar.n)

        yield update


def _task(call):
    """A command's run for one of the paper's tasks: load the model, ``call(model, args, progress)`` -> Result,
    write it to ``--output``."""
    def run(args) -> None:
        from .sampler import HyperGANStrument

        model = HyperGANStrument.from_pretrained(args.model, vocoder=args.vocoder)
        with optimize_progress(args.method) as progress:
            r = call(model, args, progress)
        write_wav(args.output, r.audio, r.sample_rate)
        print(f"wrote {args.output} ({r.method}, MIDI {r.pitch}, {args.vocoder}, {r.timings_ms['total']:.0f} ms)")
    return run


# -- data and training ------------------------------------------------------------------------------------------------
def _corpus_args(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group()
    source.add_argument("--fonts", nargs="*", default=TRAIN_FONTS,
                        help=f"source names (default: the train fonts, {' '.join(TRAIN_FONTS)}; known: "
                             f"{' '.join(SOUNDFONTS)})")
    source.add_argument("--wide", action="store_const", dest="fonts", const=WIDE_FONTS,
                        help=f"every training source: {' '.join(WIDE_FONTS)} (GS sound effects, drum kits, "
                             "FreePats through TiMidity++)")
    source.add_argument("--nsynth", default=None, metavar="DIR",
                        help="import an NSynth folder instead (nsynth-train, nsynth-valid or nsynth-test: "
                             "examples.json beside audio/*.wav); the other options are not used")
    p.add_argument("--synth-patches", type=int, default=0,
                   help="also render this many random DSP synthesizer patches (subtractive, FM, additive, noise)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random patches")
    p.add_argument("--workers", type=int, default=1, help="processes that render the DSP patches (default: 1)")
    p.add_argument("--programs", type=int, nargs="*", default=None,
                   help="program numbers of the melodic presets and drum kits (default: all)")
    p.add_argument("--pitches", type=int, nargs="*", default=None,
                   help="MIDI pitches, and the drum kits' keys (default: 21-108)")
    p.add_argument("--velocities", type=int, nargs="+", default=None,
                   help=f"MIDI velocities (default: {' '.join(map(str, TRAIN_VELOCITIES))}; 100 with --tiny)")
    p.add_argument("--tiny", action="store_true", help="3 presets at 7 pitches (for smoke tests)")
    p.add_argument("-o", "--output", required=True, help="corpus folder")


def _run_corpus(args) -> None:
    if args.nsynth:
        from .nsynth import import_nsynth

        print(f"{len(import_nsynth(args.nsynth, args.output).notes)} notes written to {args.output}")
        return
    from .corpus import render_corpus

    programs, pitches, velocities = args.programs, args.pitches, args.velocities or list(TRAIN_VELOCITIES)
    if args.tiny:
        programs, pitches = programs or [0, 40, 73], pitches or list(range(48, 73, 4))
        velocities = args.velocities or [100]
    corpus = render_corpus(args.output, args.fonts, programs, pitches, tuple(velocities),
                           synth_patches=args.synth_patches, seed=args.seed, workers=args.workers)
    print(f"{len(corpus.notes)} notes written to {args.output}")


def _train_args(p: argparse.ArgumentParser) -> None:
    from .training.stages import STAGE_DEFAULTS, STAGES

    p.add_argument("stage", choices=list(STAGES))
    p.add_argument("--corpus", required=True, help="corpus folder from `corpus`")
    p.add_argument("--model", default="checkpoints", help="model folder to read and write (default: checkpoints)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--tiny", action="store_true", help="a few small steps (smoke test)")
    p.add_argument("--fresh", action="store_true", help="ignore a saved training state and start over")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    config_options(p.add_argument_group("training options (TrainConfig; each stage's defaults)"), TrainConfig,
                   STAGE_DEFAULTS)


def _run_train(args) -> None:
    from .training import train_stage

    if args.threads:
        torch.set_num_threads(args.threads)
    summary = train_stage(args.stage, args.corpus, args.model, args.device, args.tiny, args.fresh,
                          **config_overrides(args, TrainConfig))
    if summary:  # under torchrun, the main process's; the loss curve and options stay in config.json
        rate = summary["samples"] / max(summary["wall_time_s"], 1e-9)
        print({**{k: v for k, v in summary.items() if k not in ("curve", "options")}, "samples_per_s": round(rate, 2)})


def _bench_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", default=None, help="corpus folder (default: a tiny one rendered from TimGM6mb)")
    p.add_argument("--model", default="checkpoints", help="model folder whose weights start the steps")
    p.add_argument("--stages", nargs="+", default=None, help="stages to time (default: all)")
    p.add_argument("--steps", type=int, default=6, help="timed steps per stage, after 2 warm-up steps (default: 6)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    p.add_argument("--compile", action="store_true", help="compile G's forward (compilation falls in the warm-up)")


def _run_bench_train(args) -> None:
    from .training.bench import bench_train, format_table

    torch.set_num_threads(args.threads)
    overrides = {"compile": True} if args.compile else {}
    print(format_table(bench_train(args.model, args.corpus, args.stages, args.steps, **overrides)))


# -- the learned vocoder and the spectral correction ------------------------------------------------------------------
def _vocoder_pairs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", required=True, help="corpus folder of the training fonts (from `corpus`)")
    p.add_argument("--model", default="checkpoints",
                   help="model folder whose mels the vocoder learns (default: checkpoints)")
    p.add_argument("--notes", type=int, default=8000, help="pairs to make (default: 8000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help=".npz file to write")


def _run_vocoder_pairs(args) -> None:
    from .training.vocoder_data import build_pairs

    pairs = build_pairs(args.corpus, args.model, args.notes, seed=args.seed)
    pairs.save(args.output)
    print(f"{len(pairs.pitch)} pairs written to {args.output}")


def _train_vocoder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pairs", required=True, help=".npz file from `vocoder-pairs`")
    p.add_argument("--out", required=True, help="folder of the run's state, log and weights (ddsp.safetensors)")
    p.add_argument("--steps", type=int, default=None, help="total steps (default: 4000)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: 1e-3)")
    p.add_argument("--init", default=None, help="a trained decoder (.safetensors) to start from (default: none)")
    p.add_argument("--consistency-passes", type=int, default=None,
                   help="gated mel-consistency passes of the decoder (default: 3; 0 trains without the gate)")
    p.add_argument("--fresh", action="store_true", help="ignore a saved training state and start over")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")


def _run_train_vocoder(args) -> None:
    from .training.vocoder import VocoderTrainConfig, train_vocoder
    from .vocoders.ddsp import DDSPConfig

    given = {k: v for k, v in (("steps", args.steps), ("lr", args.lr)) if v is not None}
    if args.consistency_passes is not None:
        given["ddsp"] = DDSPConfig(consistency_passes=args.consistency_passes)
    tc = VocoderTrainConfig(**given)
    print(f"wrote {train_vocoder(args.pairs, args.out, tc, args.fresh, args.threads, args.init)}")


def _correction_pairs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fonts", nargs="+", default=None, help="soundfonts to render (default: the training fonts)")
    p.add_argument("--model", default="checkpoints", help="model folder whose f gives h (default: checkpoints)")
    p.add_argument("--pairs", type=int, default=12000, help="pairs to make (default: 12000)")
    p.add_argument("--validation", action="store_true",
                   help="held-out pairs: pitched presets at velocity 100, sources off the evaluation's MIDI 36-96 "
                        "step 12")
    p.add_argument("--shifter", choices=(AS_FAITHFUL, *SHIFTERS), default=AS_FAITHFUL,
                   help="pitch shifter of the sources (default: the faithful method's own, the phase vocoder up to "
                        "an octave and Rubber Band beyond)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help=".npz file to write")


def _run_correction_pairs(args) -> None:
    from .training.correction_data import build_pairs

    evaluation_inputs = tuple(range(36, 97, 12))
    kw = dict(exclude_src=evaluation_inputs, velocities=(100,), pitched_only=True) if args.validation else {}
    fonts = args.fonts or (["TimGM6mb"] if args.validation else TRAIN_FONTS)
    pairs = build_pairs(fonts, args.model, args.pairs, seed=args.seed, shifter=args.shifter, **kw)
    pairs.save(args.output)
    print(f"{len(pairs)} pairs written to {args.output}")


def _train_correction_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pairs", required=True, help=".npz file from `correction-pairs`")
    p.add_argument("--val", required=True, help=".npz file from `correction-pairs --validation` (another font)")
    p.add_argument("--model", default="checkpoints", help="model folder whose f made the pairs (default: checkpoints)")
    p.add_argument("--out", required=True, help="folder of the run's state, log and weights (correction.safetensors)")
    p.add_argument("--steps", type=int, default=None, help="total steps (default: 3000)")
    p.add_argument("--decay-from", type=int, default=None,
                   help="step from which the learning rate decays (cosine, to a tenth at --steps; default: none)")
    p.add_argument("--far-weight", type=float, default=None,
                   help="loss weight of pairs shifted by more than 12 semitones (default: 1)")
    p.add_argument("--init", default=None, help="a trained correction (.safetensors) a new run starts from")
    p.add_argument("--install", action="store_true",
                   help="at the end, copy the kept weights into the model folder and record their hash")
    p.add_argument("--fresh", action="store_true", help="ignore a saved training state and start over")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")


def _run_train_correction(args) -> None:
    from .training.correction import CorrectionTrainConfig, install_correction, train_correction

    given = {k: v for k, v in (("steps", args.steps), ("decay_from", args.decay_from),
                               ("far_weight", args.far_weight)) if v is not None}
    weights = train_correction(args.pairs, args.val, args.model, args.out, CorrectionTrainConfig(**given),
                               args.fresh, args.threads, args.init)
    print(f"wrote {weights}" + (f"; installed as {install_correction(weights, args.model)}" if args.install else ""))


# -- evaluation --------------------------------------------------------------------------------------------------------
def _train_eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", required=True, help="training corpus (e.g. data/full)")
    p.add_argument("--validation", required=True, help="held-out corpus for the accuracies (e.g. data/timgm6mb)")
    p.add_argument("--model", default="checkpoints", help="model folder to write into (default: checkpoints)")
    p.add_argument("--steps", type=int, default=None, help="steps per classifier (default: 1000)")
    p.add_argument("--noadv-steps", type=int, default=600, help="steps of f_noadv (default: 600; 0 skips it)")
    p.add_argument("--skip-classifiers", action="store_true", help="train only f_noadv")
    p.add_argument("--tiny", action="store_true", help="a few steps (smoke test)")
    p.add_argument("--seed", type=int, default=0)


def _run_train_eval(args) -> None:
    from .evaluation import train_eval_classifiers, train_f_noadv

    if not args.skip_classifiers:
        train_eval_classifiers(args.corpus, args.validation, args.model, args.steps, tiny=args.tiny, seed=args.seed)
    if args.noadv_steps > 0:
        print(train_f_noadv(args.corpus, args.model, args.noadv_steps, tiny=args.tiny))


def _check_generator_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", nargs="+", default=["checkpoints"],
                   help="model folders whose f and G are scored on the same notes (default: checkpoints)")
    p.add_argument("--corpus", default="data/timgm6mb", help="held-out corpus (default: data/timgm6mb)")
    p.add_argument("--notes", type=int, default=512, help="pitched input notes (default: 512)")
    p.add_argument("--max-shift", type=int, default=12, help="largest synthesis shift in semitones (default: 12)")
    p.add_argument("--seed", type=int, default=0)


def _run_check_generator(args) -> None:
    from .training.heldout import generator_heldout

    print("| model | reconstruction L1 | synthesis L1 | notes | pairs |\n|---|---:|---:|---:|---:|")
    for model in args.model:
        r = generator_heldout(model, args.corpus, args.notes, args.max_shift, args.seed)
        print(f"| {model} | {r['reconstruction']:.4f} | {r['synthesis']:.4f} | {r['notes']} | {r['pairs']} |")


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--split", choices=["validation", "train"], default="validation")
    p.add_argument("--out", required=True, help="output folder (results.md, results.json, PNGs)")
    p.add_argument("--model", default="checkpoints", help="model folder (default: checkpoints)")
    p.add_argument("--corpus", default=None, help="corpus folder (default: data/timgm6mb for validation)")
    p.add_argument("--max-notes", type=int, default=None, help="cap on the held-out input notes")
    p.add_argument("--steps", type=int, default=REFINE_STEPS, help=f"refinement steps T (default: {REFINE_STEPS})")
    p.add_argument("--check-refinement", action=argparse.BooleanOptionalAction, default=CHECK_REFINEMENT,
                   help="keep each refinement step of the hyper methods only where it brings G closer to the input at "
                        f"the input's own pitch (default: {'on' if CHECK_REFINEMENT else 'off'})")
    p.add_argument("--workers", type=int, default=2, help="processes for the vocoder and pYIN (default: 2)")
    p.add_argument("--vocoder", choices=list(VOCODERS), default=DEFAULT_VOCODER,
                   help=f"vocoder of every method's audio (default: {DEFAULT_VOCODER}; the audio table compares all)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--audio-pairs", type=int, default=None,
                   help="notes rendered again from the soundfont for the audio distances (default: 96; 0 skips "
                        "them, as for an NSynth corpus, whose notes cannot be rendered again)")
    p.add_argument("--optimize-notes", type=int, default=None,
                   help="notes on which GAN inversion by optimization is scored beside every method (default: 24; "
                        "0 skips it)")
    p.add_argument("--examples", default="examples",
                   help="folder of the example sounds scored as real recordings (default: examples)")
    p.add_argument("--recordings", default="recordings",
                   help="folder of the real recordings and their recordings.csv (default: recordings)")
    p.add_argument("--tiny", action="store_true", help="tiny subsets (smoke test)")
    p.add_argument("--seed", type=int, default=0)


def _run_evaluate(args) -> None:
    from .evaluation import EvalConfig, evaluate
    from .evaluation.config import SPLIT_CORPORA
    from .nsynth import is_nsynth_corpus

    corpus = args.corpus or SPLIT_CORPORA[args.split]
    kw = dict(max_notes=args.max_notes, steps=args.steps, workers=args.workers, threads=args.threads, seed=args.seed,
              vocoder=args.vocoder, examples_dir=args.examples, recordings_dir=args.recordings,
              check_refinement=args.check_refinement)
    if args.audio_pairs is not None or is_nsynth_corpus(corpus):
        kw["audio_pairs"] = 0 if args.audio_pairs is None else args.audio_pairs
    if args.optimize_notes is not None:
        kw["optimize_notes"] = args.optimize_notes
    cfg = EvalConfig.tiny(**kw) if args.tiny else EvalConfig(**kw)
    evaluate(args.model, corpus, args.out, cfg, args.split)
    print(f"wrote {args.out}/results.md")


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", required=True, help="an evaluation's results.json (e.g. docs/results/results.json)")
    p.add_argument("--readme", default="README.md", help="page with a results block (default: README.md; '' skips it)")
    p.add_argument("--card", default="checkpoints/README.md",
                   help="model card with a results block (default: checkpoints/README.md; '' skips it)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 where a page differs")


def _run_report(args) -> int:
    from .evaluation.publish import publish, stale

    files = (args.results, args.readme or None, args.card or None)
    if args.check:
        differ = stale(*files)
        print("\n".join(f"differs from {args.results}: {p}" for p in differ) or "every page agrees")
        return 1 if differ else 0
    written = publish(*files)
    print("\n".join(f"wrote {p}" for p in written) or "every page was current")
    return 0


# -- the app's benchmark and the Hub -----------------------------------------------------------------------------------
def _bench_app_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clients", type=int, default=4, help="clients at once in the concurrent run (default: 4)")
    p.add_argument("--requests", type=int, default=12,
                   help="requests of the one-client run; each concurrent client sends half as many (default: 12)")
    p.add_argument("--no-in-process", action="store_true", help="skip timing the handler in this process")
    p.add_argument("--soak", type=int, default=None, metavar="N",
                   help="instead: N mixed requests, hostile uploads among them, to a local app; prints its RSS")


def _run_bench_app(args) -> int:
    """``bench-app``: the benchmark lives in the app's package (``demos.bench``), which a checkout of the repository
    has and an installed wheel has not."""
    try:
        from demos.bench import bench_app, soak
    except ModuleNotFoundError as exc:
        if exc.name != "demos":
            raise
        print("error: bench-app benchmarks the Gradio app, the package demos/ of the repository, which is not "
              "importable here: run `python -m hyperlib bench-app` in the repository's root folder.", file=sys.stderr)
        return 2
    if args.soak is not None:
        soak(args.soak)
    else:
        bench_app(args.clients, args.requests, not args.no_in_process)
    return 0


def _push_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("repo_id", help="namespace/name")
    p.add_argument("--model", default="checkpoints", help="model folder to upload (default: checkpoints)")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--message", default=None, help="commit message")


def _download_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("repo_id", nargs="?", default=DEFAULT_REPO_ID, help=f"namespace/name (default: {DEFAULT_REPO_ID})")
    p.add_argument("--revision", default=None,
                   help=f"branch, tag or commit (default: main; {DEFAULT_REVISION} for {DEFAULT_REPO_ID})")


COMMANDS: dict[str, Command] = {
    "synthesize": Command("play a sound's timbre at a MIDI pitch", _synthesize_args,
                          _task(lambda m, a, progress: m.synthesize(a.input, a.pitch, a.method, a.steps,
                                                                    progress=progress)), aliases=("synth",)),
    "reconstruct": Command("rebuild a sound at its own pitch", _reconstruct_args,
                           _task(lambda m, a, progress: m.reconstruct(a.input, a.method, a.steps, a.pitch,
                                                                      progress=progress))),
    "interpolate": Command("mix the timbres of several sounds", _interpolate_args,
                           _task(lambda m, a, progress: m.interpolate(a.inputs, a.weights, a.pitch, a.method,
                                                                      a.steps, progress=progress))),
    "corpus": Command("render the soundfont corpus (and random DSP synthesizer patches), or import NSynth",
                      _corpus_args, _run_corpus),
    "train": Command("train one stage (resumable)", _train_args, _run_train),
    "bench-train": Command("training throughput (samples/s) of every stage's step", _bench_train_args,
                           _run_bench_train),
    "vocoder-pairs": Command("true notes' audio and the model's mels of them (ddsp vocoder's data)",
                             _vocoder_pairs_args, _run_vocoder_pairs),
    "train-vocoder": Command("train the ddsp vocoder on pairs from `vocoder-pairs` (resumable)", _train_vocoder_args,
                             _run_train_vocoder),
    "correction-pairs": Command("pitch-shifted notes and the true notes at the new pitch, rendered from soundfonts "
                                "(the spectral correction's data)", _correction_pairs_args, _run_correction_pairs),
    "train-correction": Command("train the faithful method's spectral correction (resumable)",
                                _train_correction_args, _run_train_correction),
    "train-eval": Command("train the evaluation classifiers (and f without the pitch adversary)", _train_eval_args,
                          _run_train_eval),
    "check-generator": Command("held-out log-mel L1 of G alone, G(f(x), 0, p), for model folders side by side",
                               _check_generator_args, _run_check_generator),
    "evaluate": Command("score every method side by side (paper sec. 4)", _evaluate_args, _run_evaluate),
    "report": Command("write results.md, the README's table and the model card's metrics from one results.json",
                      _report_args, _run_report),
    "bench-app": Command("latency benchmark of the served app (demos/, in the repository root)", _bench_app_args, _run_bench_app),
    "push": Command("create a Hub repo and upload a model folder (weights, config, hashes, card)", _push_args,
                    lambda a: print(f"pushed {a.model}: {push(a.repo_id, a.model, a.private or None, a.message)}")),
    "download": Command("fetch a model from the Hub into the local cache and print its folder", _download_args,
                        lambda a: print(download(a.repo_id, a.revision))),
    **SOUND_DESIGN_COMMANDS,  # faders, edit, morph, melody, export-sfz
}
"""Every command: name -> ``Command`` (help, arguments, run, former names)."""


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command in ``COMMANDS``; the parsed arguments' ``run`` runs the chosen one."""
    parser = argparse.ArgumentParser(prog="python -m hyperlib", description="hyperlib neural sampler")
    add_commands(parser.add_subparsers(dest="command", required=True), COMMANDS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit status (2 for an error a user can fix, printed as ``error: ...``)."""
    args = build_parser().parse_args(argv)
    if args.command != args.command_name:
        print(f"note: `{args.command}` is deprecated and will be removed in hyperlib {REMOVED_IN}; use "
              f"`{args.command_name}`.", file=sys.stderr)
    try:
        return args.run(args) or 0
    except (AudioError, ValueError, FileNotFoundError, HubError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
