"""inference_copy: a bf16 channels_last copy that takes the original's inputs and stays close to it."""

from __future__ import annotations

import torch

from adain.models import Decoder, VGGEncoder, inference_copy
from adain.weights import get_preset


def _relative_error(approx: torch.Tensor, exact: torch.Tensor) -> float:
    return float((approx.float() - exact).norm() / exact.norm())


class TestInferenceCopy:
    def test_weights_are_bf16_channels_last_and_buffers_stay_fp32(self) -> None:
        encoder = VGGEncoder(get_preset("vgg16-hed").architecture)
        copy = inference_copy(encoder)
        conv = copy.convs["conv2_1"].weight
        assert conv.dtype == torch.bfloat16 and conv.is_contiguous(memory_format=torch.channels_last)
        assert copy.convs["conv2_1"].bias.dtype == torch.bfloat16
        assert copy.input_shift.dtype == torch.float32 and torch.equal(copy.input_shift, encoder.input_shift)
        assert not any(p.requires_grad for p in copy.parameters())
        # the original is untouched
        assert encoder.convs["conv2_1"].weight.dtype == torch.float32
        assert encoder.convs["conv2_1"].weight.is_contiguous()

    def test_encoder_copy_takes_fp32_images_and_matches(self) -> None:
        torch.manual_seed(0)
        encoder = VGGEncoder(get_preset("vgg16-hed").architecture).eval()
        image = torch.rand(1, 3, 48, 40)
        with torch.inference_mode():
            exact, approx = encoder(image), inference_copy(encoder)(image)
        for tap in exact:
            assert approx[tap].dtype == torch.bfloat16 and approx[tap].shape == exact[tap].shape
            assert _relative_error(approx[tap], exact[tap]) < 0.03, tap

    def test_decoder_copy_takes_fp32_features_and_matches(self) -> None:
        torch.manual_seed(0)
        decoder = Decoder(get_preset("vgg16-hed").architecture).eval()
        features = torch.rand(1, 512, 6, 5)
        with torch.inference_mode():
            exact, approx = decoder(features), inference_copy(decoder)(features)
        assert approx.dtype == torch.bfloat16 and approx.shape == exact.shape == (1, 3, 48, 40)
        assert _relative_error(approx, exact) < 0.03

    def test_float32_copy_is_exact(self) -> None:
        torch.manual_seed(0)
        decoder = Decoder(get_preset("vgg16-hed").architecture).eval()
        features = torch.rand(1, 512, 4, 4)
        with torch.inference_mode():
            assert torch.allclose(inference_copy(decoder, torch.float32)(features), decoder(features), atol=1e-6)
