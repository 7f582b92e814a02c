"""Fixtures for model tests: the reference networks of tests/models/pytorch_adain_reference.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REFERENCE_FILE = Path(__file__).resolve().parent / "pytorch_adain_reference.py"


def load_reference_module() -> ModuleType:
    """Import the reference file by path (tests are not a package under --import-mode=importlib)."""
    name = "adain_tests_pytorch_adain_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REFERENCE_FILE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def reference() -> ModuleType:
    return load_reference_module()
