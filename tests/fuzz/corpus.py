"""The hostile-input corpus: one table of cases, each with the input it builds and the outcome expected.

A case builds its input from a seed (no binary fixtures are committed), hands it to the library entry
point the CLI and the server use, and states what must happen: success, or one typed
:class:`~adain.errors.AdainError` whose message names the input. ``test_corpus.py`` runs every case
in-process and asserts, besides the outcome: no warning escapes, nothing is written on a failure, and
the case ends well within :data:`CASE_SECONDS`. ``test_corpus_cli.py`` runs a fixed sample of the
cases that say how (``cli``) through the real ``adain`` command in subprocesses.

To add cases: a ``cases_<area>.py`` file beside this one with a list ``CASES`` of :class:`Case`;
:func:`all_cases` finds it. Keep each case's build cheap (milliseconds): the corpus runs in
``make test``.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: A case that takes longer than this (in-process) fails: hostile input must be refused quickly.
CASE_SECONDS = 20


@dataclass(frozen=True)
class Case:
    """One hostile (or valid) input and what must happen to it.

    Attributes:
        name: unique; the test id.
        area: what the input is (``image``, ``mask``, ``style``, ``batch``, ``bank``, ``weights``,
            ``video``, ``options``, ...), for reading the table and choosing samples.
        make: ``make(folder) -> path``: writes the input into ``folder`` (empty, the case's own) and
            returns what to hand over (usually the file's path).
        run: ``run(input, out_folder)``: the library entry point, e.g. ``load_image(input)``. Outputs,
            if any, go under ``out_folder``, which must stay empty when the case fails.
        expect: the :class:`~adain.errors.AdainError` subclass that must be raised, or ``None``: the
            input is valid and ``run`` must succeed.
        message: a regular expression the error message must contain; default: the input's file
            name (a message must say which input it is about).
        cli: ``cli(input, out_folder) -> argv`` (after ``adain``) to run the same input through the
            real command, or ``None`` (not in the CLI sample).
        exit_code: the CLI's expected exit code; default from ``expect``: 0 for success, 2 for a
            :class:`~adain.errors.UsageError`, 1 for any other failure.
        may_succeed: damage that a decoder may tolerate (a flipped byte inside a frame): success
            is fine, and a failure must still be ``expect`` with its message.
    """

    name: str
    area: str
    make: Callable[[Path], Any]
    run: Callable[[Any, Path], Any]
    expect: type[BaseException] | None
    message: str | None = None
    cli: Callable[[Any, Path], Sequence[str]] | None = None
    exit_code: int | None = None
    may_succeed: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)

    def expected_exit_code(self) -> int:
        if self.exit_code is not None:
            return self.exit_code
        if self.expect is None:
            return 0
        from adain.errors import UsageError

        return 2 if issubclass(self.expect, UsageError) else 1


def seeded(name: str) -> random.Random:
    """A random generator seeded by the case's name: every run builds the same bytes."""
    return random.Random(f"adain-corpus:{name}")


# the cases files import Case and seeded from here by this name (``from adain_corpus import Case``)
sys.modules.setdefault("adain_corpus", sys.modules[__name__])


def _load(path: Path) -> Any:
    module_name = f"adain_corpus_{path.stem}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def all_cases() -> list[Case]:
    """Every ``cases_*.py`` file's ``CASES``, in file order; names must be unique."""
    cases: list[Case] = []
    for path in sorted(HERE.glob("cases_*.py")):
        cases.extend(_load(path).CASES)
    names = [case.name for case in cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"corpus case names must be unique: {duplicates}")
    return cases
