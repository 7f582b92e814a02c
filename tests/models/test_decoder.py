"""Decoder layout: pytorch-AdaIN's decoder.pth indices, mirrored shapes for every preset."""

from __future__ import annotations

import pytest
import torch

from adain.models import Decoder, EncoderArchitecture, decoder_conv_shapes
from adain.weights.presets import PRESETS


def test_vgg19_decoder_has_exactly_pytorch_adains_keys(reference) -> None:
    decoder = Decoder(PRESETS["vgg19"].architecture)
    expected = {f"layers.{i}.{part}" for i in reference.ADAIN_DECODER_CONV_INDICES for part in ("weight", "bias")}
    assert set(decoder.state_dict()) == expected
    theirs = reference.adain_decoder().state_dict()
    assert {f"layers.{k}": tuple(v.shape) for k, v in theirs.items()} == {
        k: tuple(v.shape) for k, v in decoder.state_dict().items()
    }


def test_vgg19_decoder_output_equals_pytorch_adains(reference) -> None:
    torch.manual_seed(0)
    theirs = reference.adain_decoder().eval()
    ours = Decoder(PRESETS["vgg19"].architecture).eval()
    ours.load_state_dict({f"layers.{k}": v for k, v in theirs.state_dict().items()})
    features = torch.randn(2, 512, 5, 3)
    with torch.no_grad():
        torch.testing.assert_close(ours(features), theirs(features), rtol=1e-4, atol=1e-5)


def test_vgg16_decoder_mirrors_the_encoder() -> None:
    shapes = decoder_conv_shapes(EncoderArchitecture("vgg16", (2, 2, 3)))
    assert shapes == [(512, 256), (256, 256), (256, 256), (256, 128), (128, 128), (128, 64), (64, 64), (64, 3)]


@pytest.mark.parametrize("layout", [(2, 2, 3), (2, 2, 4), (1, 1, 1)])
def test_decoder_upsamples_three_times_and_ends_in_rgb(layout) -> None:
    decoder = Decoder(EncoderArchitecture("t", layout))
    assert sum(isinstance(m, torch.nn.Upsample) for m in decoder.layers) == 3
    assert not isinstance(decoder.layers[-1], torch.nn.ReLU)  # unclamped output
    assert decoder(torch.randn(1, 512, 2, 3)).shape == (1, 3, 16, 24)
