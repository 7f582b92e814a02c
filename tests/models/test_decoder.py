"""Decoder layout: pytorch-AdaIN's decoder.pth indices, mirrored shapes for every preset."""

from __future__ import annotations

import copy

import pytest
import torch

from adain.models import Decoder, EncoderArchitecture, UpsampleConv2d, decoder_conv_shapes, fuse_upsampling
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


class TestUpsampleConv2d:
    """The folded upsample + reflection pad + conv equals the three layers it replaces."""

    @staticmethod
    def _reference(conv: torch.nn.Conv2d, features: torch.Tensor) -> torch.Tensor:
        upsampled = torch.nn.functional.interpolate(features, scale_factor=2, mode="nearest")
        return conv(torch.nn.functional.pad(upsampled, (1, 1, 1, 1), mode="reflect"))

    @pytest.mark.parametrize("size", [(1, 1), (1, 4), (3, 5), (8, 8)])
    def test_equals_upsample_pad_conv(self, size: tuple[int, int]) -> None:
        torch.manual_seed(0)
        conv = torch.nn.Conv2d(6, 5, 3)
        features = torch.randn(2, 6, *size)
        with torch.no_grad():
            torch.testing.assert_close(
                UpsampleConv2d(conv)(features), self._reference(conv, features), rtol=1e-5, atol=1e-5
            )

    def test_reflect_padded_output_is_what_the_next_pad_makes(self) -> None:
        torch.manual_seed(1)
        conv = torch.nn.Conv2d(4, 3, 3)
        features = torch.randn(1, 4, 5, 6)
        with torch.no_grad():
            expected = torch.nn.functional.pad(self._reference(conv, features), (1, 1, 1, 1), mode="reflect")
            padded = UpsampleConv2d(conv, reflect_pad_output=True)(features)
        assert padded.shape == (1, 3, 12, 14)
        torch.testing.assert_close(padded, expected, rtol=1e-5, atol=1e-5)

    def test_channels_last_bf16(self) -> None:
        torch.manual_seed(2)
        conv = torch.nn.Conv2d(16, 8, 3)
        features = torch.randn(1, 16, 7, 9)
        fused = UpsampleConv2d(conv).to(torch.bfloat16, memory_format=torch.channels_last)
        with torch.no_grad():
            out = fused(features.to(torch.bfloat16).contiguous(memory_format=torch.channels_last))
            expected = self._reference(conv, features)
        assert out.dtype == torch.bfloat16
        assert float((out.float() - expected).norm() / expected.norm()) < 0.01

    def test_rejects_what_it_cannot_fold(self) -> None:
        with pytest.raises(ValueError):
            UpsampleConv2d(torch.nn.Conv2d(3, 3, 3, padding=1))
        with pytest.raises(ValueError):
            UpsampleConv2d(torch.nn.Conv2d(3, 3, 5))


@pytest.mark.parametrize("layout", [(2, 2, 3), (2, 2, 4), (1, 1, 1)])
def test_fused_decoder_equals_the_decoder(layout) -> None:
    torch.manual_seed(0)
    decoder = Decoder(EncoderArchitecture("t", layout)).eval()
    fused = fuse_upsampling(copy.deepcopy(decoder))
    assert not any(isinstance(m, (torch.nn.Upsample,)) for m in fused.layers)
    assert sum(isinstance(m, UpsampleConv2d) for m in fused.layers) == 3
    # each fused layer followed by a conv spares that conv's padding layer
    pads = sum(isinstance(m, torch.nn.ReflectionPad2d) for m in fused.layers)
    spared = sum(m.reflect_pad_output for m in fused.layers if isinstance(m, UpsampleConv2d))
    assert spared == (0 if layout == (1, 1, 1) else 3)  # (1, 1, 1): each fused conv is followed by an upsampling
    assert pads + 3 + spared == len(decoder_conv_shapes(EncoderArchitecture("t", layout)))
    features = torch.randn(2, 512, 3, 4)
    with torch.no_grad():
        torch.testing.assert_close(fused(features), decoder(features), rtol=1e-4, atol=1e-5)
    # the decoder's own parameters (what weight files hold) are untouched
    assert set(decoder.state_dict()) == {k for k in Decoder(EncoderArchitecture("t", layout)).state_dict()}


def test_decoder_forward_and_gradients_equal_the_plain_layers() -> None:
    """Training runs the folded forward: its loss and weight gradients are the plain layers'."""
    torch.manual_seed(3)
    decoder = Decoder(EncoderArchitecture("t", (2, 2, 3)))
    features = torch.randn(2, 512, 3, 5)
    folded_loss = decoder(features).square().mean()
    folded_loss.backward()
    folded_grads = [p.grad.clone() for p in decoder.parameters()]
    decoder.zero_grad()
    plain_loss = decoder.layers(features).square().mean()
    plain_loss.backward()
    torch.testing.assert_close(folded_loss, plain_loss, rtol=1e-5, atol=1e-7)
    for folded, plain in zip(folded_grads, (p.grad for p in decoder.parameters())):
        torch.testing.assert_close(folded, plain, rtol=1e-4, atol=1e-7)
