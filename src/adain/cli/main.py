"""``adain`` command line: one module per command, each with ``add_parser`` and ``run``.

Known failures (:class:`adain.errors.AdainError`) print one line on stderr and exit with the
error's code (2: usage, 1: failure); ``--debug`` shows the traceback instead. An argument argparse
refuses (an unknown option, a bad choice, a value its type refuses) is a usage error too: one line
``adain CMD: error: ...`` and exit 2, without argparse's usage block (``--help`` shows that).
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import NoReturn

from adain._version import __version__
from adain.errors import AdainError, UsageError

__all__ = ["COMMANDS", "ArgumentParser", "CommandLineError", "Terminated", "build_parser", "main", "path_argument"]

#: command name -> module under adain.cli (imported lazily so `adain --help` stays fast)
COMMANDS = {
    "stylize": "adain.cli.stylize",
    "weights": "adain.cli.weights",
    "train": "adain.cli.train",
    "distill": "adain.cli.distill",
    "eval": "adain.cli.eval",
    "bank": "adain.cli.bank",
    "export": "adain.cli.export",
    "bench": "adain.cli.bench",
    "video": "adain.cli.video",
    "serve": "adain.cli.serve",
    "study": "adain.cli.study",
}


class CommandLineError(UsageError):
    """An argument argparse refused; ``prog`` is the (sub)command that refused it (``adain bank add``)."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, but a refused argument raises :class:`CommandLineError` (a
    :class:`~adain.errors.UsageError`) instead of printing the usage and exiting: :func:`main` prints
    it as one line, a caller of :func:`build_parser` gets a typed error. Every sub-parser is one too
    (``add_subparsers`` makes its parsers of the parent's class)."""

    def error(self, message: str) -> NoReturn:
        raise CommandLineError(message, self.prog)


def path_argument(text: str) -> Path:
    """argparse ``type`` of a path argument: refuses the empty string (``Path("")`` would be the
    current folder) and a NUL character (no path has one)."""
    if not text:
        raise argparse.ArgumentTypeError("a path must not be empty")
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"a path cannot hold a NUL character. Got {text!r}")
    return Path(text)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="adain", description="Fast arbitrary style transfer with AdaIN.")
    parser.add_argument("--version", action="version", version=f"adain {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS.values():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        module.add_parser(subparsers)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, like Ctrl-C: every ``finally`` and ``with`` that
    removes a temporary file runs (Python's default for SIGTERM ends the process without them)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    if argv == ["--version"]:  # answered before any command module (and torch) is imported
        print(f"adain {__version__}")
        return 0
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except CommandLineError as error:  # one line, exit 2: argparse's own contract, without the usage block
        print(f"{error.prog}: error: {error} (see `{error.prog} --help`)", file=sys.stderr)
        raise SystemExit(2) from None
    # what was run, for manifests and reports (the caller's argv when called from Python)
    args.command_line = "adain " + shlex.join(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        print("adain: error: no command given (see `adain --help`)", file=sys.stderr)
        return 2
    # not in a thread, nor when embedded in a program with a SIGTERM handler of its own
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return int(args.run(args) or 0)
    except AdainError as error:
        if args.debug:
            traceback.print_exc()
        print(f"adain {args.command}: error: {error}", file=sys.stderr)
        return error.exit_code
    except Terminated:
        print(f"adain {args.command}: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"adain {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # an unexpected bug: still one line unless --debug
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"adain {args.command}: internal error: {type(error).__name__}: {error} (run with --debug for details)",
                file=sys.stderr,
            )
        return 1


if __name__ == "__main__":
    sys.exit(main())
