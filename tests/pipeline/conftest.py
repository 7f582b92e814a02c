"""Fixtures: the real vgg16-hed encoder, a seeded random decoder saved and reloaded through the
weights API, and the pipeline built from them (shared by the whole session: loading is the slow part)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adain.models import Decoder
from adain.pipeline import StylizationPipeline
from adain.weights import get_preset, load_decoder, load_encoder, save_decoder


@pytest.fixture(scope="session")
def decoder_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(1234)
    decoder = Decoder(get_preset("vgg16-hed").architecture)
    path = tmp_path_factory.mktemp("decoder") / "random-decoder.safetensors"
    save_decoder(decoder, path, "vgg16-hed")
    return path


@pytest.fixture(scope="session")
def pipeline(decoder_file: Path) -> StylizationPipeline:
    return StylizationPipeline(load_encoder("vgg16-hed"), load_decoder("vgg16-hed", path=decoder_file), preset="vgg16-hed")


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)
