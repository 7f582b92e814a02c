"""Fixtures: the real vgg16-hed encoder, a seeded random decoder saved and reloaded through the
weights API, and the pipeline built from them (shared by the whole session: loading is the slow part)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adain.pipeline import StylizationPipeline
from adain.weights import load_decoder, load_encoder


@pytest.fixture(scope="session")
def pipeline(decoder_file: Path) -> StylizationPipeline:
    return StylizationPipeline(load_encoder("vgg16-hed"), load_decoder("vgg16-hed", path=decoder_file), preset="vgg16-hed")


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)
