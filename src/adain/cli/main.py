"""``adain`` command line: one module per command, each with ``add_parser`` and ``run``.

Known failures (:class:`adain.errors.AdainError`) print one line on stderr and exit with the
error's code (2: usage, 1: failure); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import signal
import sys
import threading
import traceback

from adain._version import __version__
from adain.errors import AdainError

#: command name -> module under adain.cli (imported lazily so `adain --help` stays fast)
COMMANDS = {
    "stylize": "adain.cli.stylize",
    "weights": "adain.cli.weights",
    "train": "adain.cli.train",
    "eval": "adain.cli.eval",
    "bank": "adain.cli.bank",
    "export": "adain.cli.export",
    "bench": "adain.cli.bench",
    "video": "adain.cli.video",
    "serve": "adain.cli.serve",
    "study": "adain.cli.study",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adain", description="Fast arbitrary style transfer with AdaIN.")
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
    args = parser.parse_args(argv)
    # what was run, for manifests and reports (the caller's argv when called from Python)
    args.command_line = "adain " + shlex.join(argv)
    if not getattr(args, "command", None):
        parser.print_help()
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
