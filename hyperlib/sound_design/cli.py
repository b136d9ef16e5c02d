"""Sound-design subcommands: ``faders``, ``edit``, ``morph``, ``melody``, ``export-sfz``.

    python -m hyperlib faders --corpus data/full --model checkpoints --doc docs/faders.md
    python -m hyperlib edit examples/piano_c4.aif --fader 0=1.5 --fader 3=-2 --pitch 60 -o edited.wav
    python -m hyperlib morph examples/piano_c4.aif examples/handsaw.ogg --nodes 9 --pitch 60 -o morph.wav
    python -m hyperlib melody examples/violin.ogg --notes "60:0:0.5,64:0.5:0.5,67:1:1" -o tune.wav
    python -m hyperlib melody examples/violin.ogg --midi tune.mid -o tune.wav
    python -m hyperlib export-sfz examples/violin.ogg --low 36 --high 84 --every 3 -o out/violin
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..audio import write_wav
from ..commands import Command
from ..config import REFINE_STEPS
from ..hub import MODEL_HELP
from ..pipeline import Pipeline
from ..validation import METHODS
from ..vocoders import DEFAULT_VOCODER, VOCODERS
from .faders import edit
from .melody import render_melody
from .morph import join, morph
from .sfz import export_sfz


def render_args(p: argparse.ArgumentParser, output_help: str = "output WAV path") -> None:
    """The options of every command that renders notes: method, steps, model, vocoder, output."""
    p.add_argument("--method", choices=METHODS, default="hyper",
                   help="inversion method (default: hyper; optimize: GAN inversion by optimization, a few seconds "
                        "per input)")
    p.add_argument("--steps", type=int, default=REFINE_STEPS,
                   help=f"hypernetwork refinement steps T (default: {REFINE_STEPS})")
    p.add_argument("--model", default=None, help=MODEL_HELP)
    p.add_argument("--vocoder", choices=list(VOCODERS), default=DEFAULT_VOCODER,
                   help=f"mel-to-audio vocoder (default: {DEFAULT_VOCODER})")
    p.add_argument("-o", "--output", required=True, help=output_help)


def _fader(text: str) -> tuple[int, float]:
    try:
        k, v = text.split("=")
        return int(k), float(v)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"write a fader as INDEX=VALUE (e.g. 0=1.5), got {text!r}") from exc


def _faders_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", required=True, help="training corpus folder (e.g. data/full)")
    p.add_argument("--model", default="checkpoints", help="model folder to read and write (default: checkpoints)")
    p.add_argument("--components", type=int, default=8, help="principal directions kept (default: 8)")
    p.add_argument("--timbres", type=int, default=8, help="corpus timbres measured (default: 8)")
    p.add_argument("--pitch", type=int, default=60, help="MIDI pitch of the measurement (default: 60)")
    p.add_argument("--steps", type=int, default=REFINE_STEPS,
                   help=f"refinement steps of the measurement (default: {REFINE_STEPS})")
    p.add_argument("--max-notes", type=int, default=None, help="PCA on this many random notes (default: all)")
    p.add_argument("--no-compare", action="store_true", help="skip the h-versus-w comparison")
    p.add_argument("--doc", default=None, help="also write the Markdown report here (e.g. docs/faders.md)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")


def _run_faders(args) -> None:
    import torch

    from .fader_build import build_and_measure

    torch.set_num_threads(max(1, args.threads))
    report = build_and_measure(args.model, args.corpus, args.components, args.timbres, args.pitch, args.steps,
                               args.max_notes, not args.no_compare, args.doc)
    for k, label in report["labels"].items():
        print(f"fader {k}: {label}")


def _edit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input")
    p.add_argument("--fader", type=_fader, action="append", default=[], help="INDEX=VALUE in std (repeatable)")
    p.add_argument("--pitch", type=int, default=None, help="MIDI pitch (default: the input's, estimated)")
    render_args(p)


def _run_edit(args) -> None:
    r = edit(_model(args), args.input, dict(args.fader), args.pitch, args.method, args.steps)
    write_wav(args.output, r.audio, r.sample_rate)
    print(f"wrote {args.output} ({r.method}, MIDI {r.pitch}, faders {dict(args.fader)})")


def _morph_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs=2)
    p.add_argument("--nodes", type=int, default=9, help="notes in the morph, ends included (default: 9)")
    p.add_argument("--pitch", type=int, default=60, help="MIDI pitch (default: 60)")
    p.add_argument("--linear", action="store_true", help="keep the straight path (no SOM)")
    p.add_argument("--iterations", type=int, default=8, help="SOM iterations (default: 8)")
    p.add_argument("--note-seconds", type=float, default=0.5, help="seconds of each note in the WAV (default: 0.5)")
    render_args(p)


def _run_morph(args) -> None:
    res = morph(_model(args), args.inputs, args.nodes, args.pitch, not args.linear, args.method, args.steps,
                args.iterations)
    write_wav(args.output, join(res, args.note_seconds), res[0].sample_rate)
    print(f"wrote {args.output} ({len(res)} notes); {res.path.summary()}")


def _melody_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--notes", help='"pitch:start_s:duration_s[:velocity],...", e.g. "60:0:0.5,64:0.5:0.5"')
    src.add_argument("--midi", help="a MIDI file")
    p.add_argument("--release", type=float, default=0.15, help="release fade in seconds (default: 0.15)")
    render_args(p)


def _run_melody(args) -> None:
    tune = render_melody(_model(args), args.input, args.notes if args.notes else args.midi, args.method, args.steps,
                         args.release)
    write_wav(args.output, tune.audio, tune.sample_rate)
    print(f"wrote {args.output} ({len(tune.audio) / tune.sample_rate:.2f} s)")


def _export_sfz_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input")
    p.add_argument("--low", type=int, default=36, help="lowest MIDI key (default: 36)")
    p.add_argument("--high", type=int, default=84, help="highest MIDI key (default: 84)")
    p.add_argument("--every", type=int, default=3, help="sample every n-th key (default: 3)")
    p.add_argument("--name", default=None, help="instrument name (default: the input's file name)")
    render_args(p, "output folder (the .sfz and samples/)")


def _run_export_sfz(args) -> None:
    name = args.name or Path(args.input).stem
    path = export_sfz(_model(args), args.input, args.output, args.low, args.high, args.every, args.method, args.steps,
                      name)
    print(f"wrote {path}")


def _model(args) -> Pipeline:
    return Pipeline.from_pretrained(args.model, vocoder=args.vocoder)


COMMANDS: dict[str, Command] = {
    "faders": Command("build the timbre faders (PCA of h) and measure what they do", _faders_args, _run_faders),
    "edit": Command("move a sound along the timbre faders", _edit_args, _run_edit),
    "morph": Command("an evenly spaced morph between 2 sounds (joined into one WAV)", _morph_args, _run_morph),
    "melody": Command("play a melody (note list or MIDI file) with a sound's timbre", _melody_args, _run_melody),
    "export-sfz": Command("render the timbre across the keyboard as an SFZ instrument", _export_sfz_args,
                          _run_export_sfz),
}
"""The sound-design commands: name -> ``Command``; errors propagate (the CLI turns them into messages)."""
