"""The public names: what ``hyperlib`` exports, the former names that still work (and warn), the command table and
the training options derived from ``TrainConfig``."""
from __future__ import annotations

import argparse
import warnings
from dataclasses import dataclass, field, fields

import numpy as np
import pytest

import hyperlib
from conftest import HANDSAW, PIANO
from hyperlib import AudioError
from hyperlib.cli import COMMANDS, build_parser, main as cli_main
from hyperlib.commands import config_options, config_overrides
from hyperlib.config import TrainConfig
from hyperlib.deprecation import renamed_keywords


# -- exports ---------------------------------------------------------------------------------------------------------
def test_every_exported_name_is_the_modules_own():
    from hyperlib.audio import AudioError as audio_error
    from hyperlib.checkpoint import CheckpointError
    from hyperlib.hub import HubError, ModelNotFoundError
    from hyperlib.pipeline import Encoded
    from hyperlib.render import Result

    assert (hyperlib.AudioError, hyperlib.CheckpointError, hyperlib.HubError, hyperlib.ModelNotFoundError,
            hyperlib.Encoded, hyperlib.Result) == (audio_error, CheckpointError, HubError, ModelNotFoundError,
                                                   Encoded, Result)
    assert all(getattr(hyperlib, name) is not None for name in hyperlib.__all__)
    # what the README tells users to catch
    assert issubclass(hyperlib.ModelNotFoundError, FileNotFoundError) and issubclass(hyperlib.AudioError, ValueError)


def test_from_pretrained_of_a_missing_folder_raises_the_exported_error(tmp_path):
    with pytest.raises(hyperlib.ModelNotFoundError):
        hyperlib.HyperGANStrument.from_pretrained(tmp_path / "no-such-model")


# -- one name per idea, and the former names ------------------------------------------------------------------------
def deprecated(call):
    """call()'s value, checking that it warned once with a DeprecationWarning naming the new name."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = call()
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(messages) == 1 and "deprecated" in messages[0] and "use" in messages[0], messages
    assert caught[0].filename == __file__  # the warning points at the caller's line
    return value, messages[0]


def test_prepare_takes_a_sound_or_a_prepared_note(model):
    note = model.prepare(PIANO)
    assert model.prepare(note) is note
    np.testing.assert_array_equal(model.synthesize(note, 67, "gan").audio, model.synthesize(PIANO, 67, "gan").audio)
    code = model.encode(note, "hyper")
    assert code.audio is note
    np.testing.assert_array_equal(code.h.numpy(), model.encode(PIANO, "hyper").h.numpy())
    for bad in (np.zeros(100, np.float32), note.astype(np.float64), np.full_like(note, np.nan)):
        with pytest.raises(AudioError, match="prepared note"):
            model.synthesize(bad, 60, "gan")


def test_former_names_warn_and_give_the_same(model):
    note = model.prepare(PIANO)
    loaded, message = deprecated(lambda: model.load(PIANO))
    assert "prepare" in message
    np.testing.assert_array_equal(loaded, note)
    code, message = deprecated(lambda: model.encode_note(note, "gan"))
    assert "encode" in message
    np.testing.assert_array_equal(code.h.numpy(), model.encode(note, "gan").h.numpy())

    results = model.synthesize_pitches(note, [55, 67], "gan")
    assert [r.pitch for r in results] == [55, 67] and all(isinstance(r, hyperlib.Result) for r in results)
    audios, message = deprecated(lambda: model.render_pitches(note, [55, 67], "gan"))
    assert "synthesize_pitches" in message and sorted(audios) == [55, 67]
    for r in results:
        np.testing.assert_array_equal(audios[r.pitch], r.audio)

    results = model.synthesize_methods(note, 60, ["gan", "hyper"])
    assert [r.method for r in results] == ["gan", "hyper"]
    (x, old), message = deprecated(lambda: model.render_methods(note, 60, ["gan", "hyper"]))
    assert "synthesize_methods" in message
    np.testing.assert_array_equal(x, model.mel(note)[0, 0].numpy())
    for a, b in zip(old, results):
        np.testing.assert_array_equal(a.audio, b.audio)


def test_rendering_calls_return_results(model):
    tune = model.melody(PIANO, "60:0:0.3,64:0.3:0.3", "gan", steps=0)
    assert isinstance(tune, hyperlib.Result) and tune.pitch is None and tune.sample_rate == 16000
    (audio, sr), _ = deprecated(lambda: tuple(tune))  # the former (audio, sample_rate) pair, for a release
    assert audio is tune.audio and sr == tune.sample_rate
    assert isinstance(model.synthesize(PIANO, 60, "gan"), hyperlib.Result)


@pytest.mark.slow
def test_morph_takes_steps_and_the_former_refine_steps(model):
    kw = dict(nodes=2, pitch=60, even=False, method="hyper")
    new = model.morph([PIANO, HANDSAW], steps=0, **kw)
    old, message = deprecated(lambda: model.morph([PIANO, HANDSAW], refine_steps=0, **kw))
    assert "steps=" in message
    for a, b in zip(new, old):
        np.testing.assert_array_equal(a.audio, b.audio)
    one = model.morph([PIANO, HANDSAW], steps=1, **kw)
    assert any(not np.array_equal(a.audio, b.audio) for a, b in zip(new, one))  # steps reaches the renderer


def test_a_renamed_keyword_given_twice_is_refused():
    @renamed_keywords(old="new")
    def f(new=0):
        return new

    assert deprecated(lambda: f(old=3))[0] == 3 and f(new=4) == 4
    with pytest.raises(TypeError, match="both old= and new="):
        f(old=1, new=2)


# -- the command table ------------------------------------------------------------------------------------------------
def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_table_is_every_command():
    parsers = subcommands(build_parser())
    aliases = {alias for command in COMMANDS.values() for alias in command.aliases}
    assert set(parsers) == set(COMMANDS) | aliases
    api_verbs = {"synthesize", "reconstruct", "interpolate", "edit", "morph", "melody", "export-sfz"}
    assert api_verbs | {"train", "evaluate", "push", "download"} <= set(COMMANDS)
    for name, command in COMMANDS.items():
        assert command.help and parsers[name].get_default("run") is command.run, name
    assert parsers["synth"] is parsers["synthesize"]


def test_every_command_shows_its_help(capsys):
    for name in COMMANDS:
        with pytest.raises(SystemExit) as info:
            build_parser().parse_args([name, "--help"])
        assert info.value.code == 0
        assert f"python -m hyperlib {name}" in capsys.readouterr().out


def test_the_former_command_name_still_works_and_says_so(tmp_path, capsys):
    out = tmp_path / "out.wav"
    assert cli_main(["synth", str(tmp_path / "missing.wav"), "--pitch", "64", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "`synth` is deprecated" in err and "`synthesize`" in err and "error:" in err
    assert cli_main(["synthesize", str(tmp_path / "missing.wav"), "--pitch", "64", "-o", str(out)]) == 2
    assert "deprecated" not in capsys.readouterr().err


# -- training options from TrainConfig --------------------------------------------------------------------------------
def train_parser() -> argparse.ArgumentParser:
    return subcommands(build_parser())["train"]


def test_every_train_config_field_is_an_option():
    options = {s for a in train_parser()._actions for s in a.option_strings}
    for f in fields(TrainConfig):
        assert "--" + f.name.replace("_", "-") in options, f.name
        assert f.metadata["help"], f.name


def test_train_options_reach_the_config():
    from hyperlib.training.stages import STAGES

    parse = build_parser().parse_args
    args = parse(["train", "hypernet-adv", "--corpus", "c", "--mix-rows", "3", "--betas", "0.5", "0.9",
                  "--no-recon-known-pitch", "--warm-start", "--recon-loss", "l2", "--max-minutes", "1.5"])
    assert config_overrides(args, TrainConfig) == dict(mix_rows=3, betas=(0.5, 0.9), recon_known_pitch=False,
                                                       warm_start=True, recon_loss="l2", max_minutes=1.5)
    assert config_overrides(parse(["train", "encoder", "--corpus", "c"]), TrainConfig) == {}
    with pytest.raises(SystemExit):
        parse(["train", "encoder", "--corpus", "c", "--recon-loss", "l3"])
    stages = {s for f in fields(TrainConfig) for s in f.metadata["stages"]}
    assert stages <= set(STAGES)


def test_the_help_shows_each_stages_default(capsys):
    from hyperlib.training.stages import STAGE_DEFAULTS

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    hyper = (STAGE_DEFAULTS["hypernet-pre"].recon_weight, STAGE_DEFAULTS["hypernet-adv"].recon_weight)
    assert f"(default: {hyper[0]:g} for hypernet-pre; {hyper[1]:g} for hypernet-adv)" in text


def test_a_new_field_is_written_once():
    @dataclass
    class Config:
        rate: float = field(default=1.0, metadata={"help": "a rate in Hz"})
        label: str = field(default="a", metadata={"help": "a label", "choices": ("a", "b")})

    parser = argparse.ArgumentParser()
    config_options(parser, Config, {"x": Config(), "y": Config(rate=2.0)})
    args = parser.parse_args(["--rate", "3", "--label", "b"])
    assert config_overrides(args, Config) == {"rate": 3.0, "label": "b"}
    assert "a rate in Hz (default: 1 for x; 2 for y)" in " ".join(parser.format_help().split())

    @dataclass
    class Undocumented:
        rate: float = 1.0

    with pytest.raises(TypeError, match="no help"):
        config_options(argparse.ArgumentParser(), Undocumented, {"x": Undocumented()})
