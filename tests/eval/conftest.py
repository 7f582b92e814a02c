"""A seeded random decoder file for evaluation tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adain.models import Decoder
from adain.weights import get_preset, save_decoder


@pytest.fixture(scope="session")
def decoder_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(4321)
    path = tmp_path_factory.mktemp("decoder") / "random-decoder.safetensors"
    save_decoder(Decoder(get_preset("vgg16-hed").architecture), path, "vgg16-hed")
    return path
