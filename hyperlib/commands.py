"""The command line's building blocks: a command as a table entry, and a configuration dataclass as options.

``hyperlib.cli`` builds its parser from tables of ``Command`` (name -> help, arguments, run); ``config_options``
turns each field of a dataclass such as ``TrainConfig`` into one option, with the field's type, choices and
help (its metadata), so that a new field is written once.
"""
from __future__ import annotations

import argparse
import typing
from dataclasses import dataclass, fields
from typing import Callable, Mapping

ARGUMENT_TYPES = (int, float, str)
"""Field types that become an option of that type (bool fields become --name / --no-name, tuples nargs)."""


@dataclass(frozen=True)
class Command:
    """One subcommand: ``add_arguments(parser)`` declares its arguments; ``run(args)`` does the work and returns
    the exit status (None: 0). ``aliases``: former names, still accepted for a release."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]
    aliases: tuple[str, ...] = ()


def add_commands(sub, table: Mapping[str, Command]) -> None:
    """Add every command of ``table`` to ``sub`` (an argparse subparsers object); ``args.run`` is its ``run``."""
    for name, command in table.items():
        parser = sub.add_parser(name, help=command.help, aliases=list(command.aliases))
        command.add_arguments(parser)
        parser.set_defaults(run=command.run, command_name=name)


def _shown(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return " ".join(map(_shown, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def defaults_text(name: str, defaults: Mapping[str, object], stages: tuple = ()) -> str:
    """``"default: 3000"``, or ``"default: 3000 for features, generator; 1200 for hypernet-pre"`` where the
    configs of ``defaults`` (label -> dataclass instance) differ in field ``name``; only the labels in ``stages``
    (all when empty)."""
    by_value: dict[str, list[str]] = {}
    for label, config in defaults.items():
        if not stages or label in stages:
            by_value.setdefault(_shown(getattr(config, name)), []).append(label)
    if len(by_value) == 1:
        return f"default: {next(iter(by_value))}"
    return "default: " + "; ".join(f"{value} for {', '.join(labels)}" for value, labels in by_value.items())


def config_options(parser: argparse.ArgumentParser, cls: type, defaults: Mapping[str, object]) -> None:
    """One option per field of dataclass ``cls``: ``--field-name`` (``field_name`` in the parsed arguments).

    Its type is the field's (int, float, str; bool as ``--name`` / ``--no-name``; a tuple as that many values);
    its help is the field's metadata "help", prefixed with the "stages" that use it, followed by each default of
    ``defaults`` (label -> an instance of ``cls``); "choices" restricts a string. Every option defaults to None,
    which leaves the field to the chosen config (``config_overrides``).

    Raises TypeError for a field without a "help" or of another type (nothing to parse it with).
    """
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        help_text, stages = f.metadata.get("help"), f.metadata.get("stages", ())
        if not help_text:
            raise TypeError(f"{cls.__name__}.{f.name} has no help in its metadata; the command line needs one.")
        kind = hints[f.name]
        help_text = (f"{', '.join(stages)}: " if stages else "") + help_text
        help_text += f" ({defaults_text(f.name, defaults, stages)})".replace("%", "%%")
        flag, kw = "--" + f.name.replace("_", "-"), dict(default=None, help=help_text)
        if kind is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif kind is tuple:
            example = getattr(next(iter(defaults.values())), f.name)
            kw.update(nargs=len(example), type=type(example[0]), metavar=f.name.upper())
        elif kind in ARGUMENT_TYPES:
            kw["type"] = kind
            if f.metadata.get("choices"):
                kw["choices"] = list(f.metadata["choices"])
        else:
            raise TypeError(f"{cls.__name__}.{f.name} is a {kind}, which has no command-line form.")
        parser.add_argument(flag, **kw)


def config_overrides(args: argparse.Namespace, cls: type) -> dict:
    """The fields of ``cls`` given on the command line (``config_options``): {name: value}, tuples as tuples."""
    given = {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
