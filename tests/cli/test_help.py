"""Every command's ``--help`` documents every option and shows its default (issue 16 item 7)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from adain.cli.main import DefaultsHelpFormatter, build_parser


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases share a parser
                yield from _parsers(child)


def _options() -> list[tuple[str, argparse.ArgumentParser, argparse.Action]]:
    found = []
    for parser in _parsers(build_parser()):
        for action in parser._actions:
            if action.option_strings and action.help != argparse.SUPPRESS and action.dest != "help":
                found.append((f"{parser.prog} {action.option_strings[-1]}", parser, action))
    return found


OPTIONS = _options()


def test_every_command_is_covered() -> None:
    progs = {name.rsplit(" ", 1)[0] for name, _, _ in OPTIONS}
    assert {"adain stylize", "adain train", "adain eval", "adain serve", "adain bank add"} <= progs


@pytest.mark.parametrize(("name", "parser", "action"), OPTIONS, ids=[name for name, _, _ in OPTIONS])
def test_option_has_help_showing_its_default(
    name: str, parser: argparse.ArgumentParser, action: argparse.Action
) -> None:
    assert action.help, f"{name} has no help line"
    formatter = parser._get_formatter()
    assert isinstance(formatter, DefaultsHelpFormatter)
    shown = formatter._expand_help(action) if action.help else ""
    default = action.default
    if default is None or isinstance(default, bool) or default is argparse.SUPPRESS or default in ("", [], ()):
        return
    assert "default" in shown.lower(), f"{name}: default {default!r} not shown in {shown!r}"


def test_defaults_read_as_typed() -> None:
    parser = argparse.ArgumentParser(formatter_class=DefaultsHelpFormatter)
    parser.add_argument("--weights", default=(1.0, 2.0), help="per tap")
    parser.add_argument("--rate", default=0.5, help="of 100%%")
    parser.add_argument("--size", default=512, help="shorter side (default 512: the paper's)")
    parser.add_argument("--flag", action="store_true", help="a flag")
    text = " ".join(parser.format_help().split())
    assert "per tap (default: 1.0,2.0)" in text
    assert "of 100% (default: 0.5)" in text
    assert "(default 512: the paper's)" in text and "(default: 512)" not in text
    assert "a flag" in text and "a flag (default" not in text
