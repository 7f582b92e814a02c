"""Every case of the hostile-input corpus (``corpus.py``, ``cases_*.py``), in-process.

Asserted for every case: the expected outcome (success, or the expected typed error whose message
names the input), no warning escaping, nothing left in the output folder on a failure, and an end
well within ``CASE_SECONDS`` (a hang fails the case instead of the suite).
"""

from __future__ import annotations

import importlib.util
import re
import signal
import sys
import warnings
from pathlib import Path

import pytest

from adain.errors import AdainError


def _corpus():
    name = "adain_corpus"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("corpus.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


CORPUS = _corpus()
CASES = CORPUS.all_cases()


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 500, f"the corpus has {len(CASES)} cases; issue 15 asks for at least 500"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_case(case, tmp_path: Path) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    out.mkdir()
    given = case.make(source)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CORPUS.CASE_SECONDS)
    raised: BaseException | None = None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                case.run(given, out)
            except _Timeout:
                pytest.fail(f"{case.name}: still running after {CORPUS.CASE_SECONDS} s")
            except BaseException as error:
                raised = error
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    escaped = [f"{w.category.__name__}: {w.message}" for w in caught]
    assert not escaped, f"{case.name}: warnings escaped: {escaped}"
    if case.expect is None:
        assert raised is None, f"{case.name}: valid input refused: {type(raised).__name__}: {raised}"
        return
    if raised is None and case.may_succeed:
        return
    assert raised is not None, f"{case.name}: accepted, expected {case.expect.__name__}"
    assert isinstance(raised, AdainError), f"{case.name}: untyped {type(raised).__name__}: {raised}"
    assert isinstance(raised, case.expect), (
        f"{case.name}: {type(raised).__name__} ({raised}), expected {case.expect.__name__}"
    )
    message = str(raised)
    assert "\n" not in message.strip(), f"{case.name}: a message is one line: {message!r}"
    pattern = case.message if case.message is not None else re.escape(Path(str(given)).name)
    assert re.search(pattern, message), f"{case.name}: message {message!r} does not match {pattern!r}"
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert not left, f"{case.name}: failed but left {left}"
