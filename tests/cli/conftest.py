"""Fixtures for command-line tests: a seeded random decoder file (passed with --decoder), small
test images, and a helper that runs ``adain`` in-process and captures its streams."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adain.cli.main import main


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


@pytest.fixture
def adain(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """``adain(*args)`` runs the CLI in-process (no interpreter start-up per call)."""

    def run(*args: object) -> CliResult:
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:  # argparse (--help, its own usage errors)
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def make_image() -> Callable[..., Path]:
    def make(path: Path, width: int = 24, height: int = 16, seed: int = 0, mode: str = "RGB") -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).convert(mode).save(path)
        return path

    return make
