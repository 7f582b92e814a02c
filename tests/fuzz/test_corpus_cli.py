"""A fixed sample of the corpus through the real ``adain`` command (subprocesses).

Every case with a ``cli`` argv is a candidate; :data:`SAMPLE_SIZE` of them are run, chosen by a
fixed seed among those, with every area represented. Asserted: the exit code, stderr is one line
of ours (no traceback, no "internal error", no warning line), and nothing written on a failure.
"""

from __future__ import annotations

import importlib.util
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest


def _corpus():
    name = "adain_corpus"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("corpus.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


CORPUS = _corpus()
SAMPLE_SIZE = 30


def _sample() -> list:
    candidates = [case for case in CORPUS.all_cases() if case.cli is not None]
    by_area: dict[str, list] = {}
    for case in candidates:
        by_area.setdefault(case.area, []).append(case)
    chosen = [random.Random(area).choice(cases) for area, cases in sorted(by_area.items())]
    rest = [case for case in candidates if case not in chosen]
    random.Random(15).shuffle(rest)
    return sorted(chosen + rest[: max(0, SAMPLE_SIZE - len(chosen))], key=lambda case: case.name)


@pytest.mark.parametrize("case", _sample(), ids=lambda case: case.name)
def test_cli_case(case, tmp_path: Path) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    out.mkdir()
    given = case.make(source)
    argv = [sys.executable, "-m", "adain", *map(str, case.cli(given, out))]
    environment = {**os.environ, "PYTHONWARNINGS": "default"}  # a warning would show on stderr
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, check=False, env=environment, cwd=tmp_path
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == case.expected_exit_code(), f"{case.name}: exit {result.returncode}: {result.stderr}"
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    if case.expect is not None:
        assert len(lines) == 1 and lines[0].startswith("adain"), f"{case.name}: stderr is not one line of ours: {lines}"
        left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
        assert not left, f"{case.name}: failed but left {left}"
    else:
        assert not [line for line in lines if "Warning" in line], result.stderr
