"""Fixtures shared by every test folder: a seeded random decoder file and the reference networks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from adain.models import Decoder, MultiLevelDecoder
from adain.pipeline import StylizationPipeline
from adain.weights import get_preset, load_decoder, load_encoder, save_decoder

REFERENCE_FILE = Path(__file__).resolve().parent / "models" / "pytorch_adain_reference.py"


@pytest.fixture(scope="session")
def decoder_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised (seeded) vgg16-hed decoder saved through the real weights code."""
    torch.manual_seed(1234)
    path = tmp_path_factory.mktemp("decoder") / "random-decoder.safetensors"
    save_decoder(Decoder(get_preset("vgg16-hed").architecture), path, "vgg16-hed")
    return path


@pytest.fixture(scope="session")
def multilevel_decoder_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded random multi-level vgg16-hed decoder with its gates open (random, std 0.5, so
    every skip changes the output), saved through the real weights code."""
    torch.manual_seed(4321)
    decoder = MultiLevelDecoder(get_preset("vgg16-hed").architecture)
    with torch.no_grad():
        for gate in decoder.gates.values():
            gate.normal_(0.0, 0.5)
    path = tmp_path_factory.mktemp("multilevel-decoder") / "random-multilevel-decoder.safetensors"
    save_decoder(decoder, path, "vgg16-hed")
    return path


def load_reference_module() -> ModuleType:
    """Import pytorch-AdaIN's reference networks by path (tests are no package under importlib mode)."""
    name = "adain_tests_pytorch_adain_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REFERENCE_FILE)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {REFERENCE_FILE}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def reference() -> ModuleType:
    return load_reference_module()


@pytest.fixture(scope="session")
def pipeline(decoder_file: Path) -> StylizationPipeline:
    """The real vgg16-hed encoder with the seeded random decoder (shared by the session: loading is the slow part)."""
    return StylizationPipeline(
        load_encoder("vgg16-hed"), load_decoder("vgg16-hed", path=decoder_file), preset="vgg16-hed"
    )


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)
