"""``adain --version`` and ``import adain`` answer without importing torch (the package's
public names load on first use, PEP 562)."""

from __future__ import annotations

import subprocess
import sys

from adain._version import __version__


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)


def test_version_without_torch() -> None:
    code = "import sys; from adain.cli.main import main; main(['--version']); print('torch' in sys.modules)"
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["adain", __version__, "False"]


def test_import_adain_is_lazy_and_its_names_resolve() -> None:
    code = (
        "import sys, adain; lazy = 'torch' not in sys.modules; "
        "from adain import StylizationPipeline, StyleStatistics; "
        "print(lazy, StylizationPipeline.__module__, StyleStatistics.__module__, 'StylizeOptions' in dir(adain))"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "adain.pipeline.stylize", "adain.styles.statistics", "True"]
