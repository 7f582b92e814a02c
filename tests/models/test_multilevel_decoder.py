"""The multi-level decoder: starts as the plain decoder, takes every tap, folds, trains its gates."""

from __future__ import annotations

import pytest
import torch

from adain.errors import ShapeError
from adain.models import SKIP_TAPS, TAP_CHANNELS, Decoder, MultiLevelDecoder, decoder_input_taps, inference_copy
from adain.weights.presets import PRESETS

ARCHITECTURE = PRESETS["vgg16-hed"].architecture


def tap_features(
    height: int = 3, width: int = 5, batch: int = 2, taps: tuple[str, ...] = ("relu4_1", *SKIP_TAPS)
) -> list[torch.Tensor]:
    scale = {"relu4_1": 1, "relu3_1": 2, "relu2_1": 4, "relu1_1": 8}
    generator = torch.Generator().manual_seed(3)
    return [
        torch.rand(batch, TAP_CHANNELS[tap], height * scale[tap], width * scale[tap], generator=generator) * 5
        for tap in taps
    ]


def opened(decoder: MultiLevelDecoder, seed: int = 0) -> MultiLevelDecoder:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for gate in decoder.gates.values():
            gate.copy_(torch.randn(gate.shape, generator=generator) * 0.5)
    return decoder


class TestMultiLevelDecoder:
    def test_closed_gates_compute_the_plain_decoder(self) -> None:
        torch.manual_seed(0)
        plain = Decoder(ARCHITECTURE).eval()
        multilevel = MultiLevelDecoder(ARCHITECTURE).eval()
        multilevel.load_state_dict(plain.state_dict(), strict=False)  # the plain file's layers, skips left fresh
        features = tap_features()
        with torch.no_grad():
            assert torch.equal(multilevel(*features), plain(features[0]))

    def test_open_gates_use_every_skip(self) -> None:
        torch.manual_seed(0)
        decoder = opened(MultiLevelDecoder(ARCHITECTURE)).eval()
        features = tap_features()
        with torch.no_grad():
            base = decoder(*features)
            for index in range(1, 4):
                changed = list(features)
                changed[index] = changed[index] + 1.0
                assert not torch.allclose(decoder(*changed), base, atol=1e-4), decoder.input_taps[index]

    def test_input_taps_follow_the_config_deepest_first(self) -> None:
        decoder = MultiLevelDecoder(ARCHITECTURE, skip_taps=("relu1_1", "relu3_1"))
        assert decoder.input_taps == ("relu4_1", "relu3_1", "relu1_1") == decoder_input_taps(decoder)
        assert decoder_input_taps(Decoder(ARCHITECTURE)) == ("relu4_1",)
        assert set(decoder.state_dict()) - set(Decoder(ARCHITECTURE).state_dict()) == {
            "skips.relu3_1.weight",
            "skips.relu3_1.bias",
            "skips.relu1_1.weight",
            "skips.relu1_1.bias",
            "gates.relu3_1",
            "gates.relu1_1",
        }
        features = tap_features(taps=decoder.input_taps)
        with torch.no_grad():
            assert decoder(*features).shape == (2, 3, 24, 40)

    @pytest.mark.parametrize("taps", [(), ("relu4_1",), ("relu5_1",)])
    def test_unknown_or_no_skip_taps_are_refused(self, taps: tuple[str, ...]) -> None:
        with pytest.raises(ShapeError, match="skip taps"):
            MultiLevelDecoder(ARCHITECTURE, skip_taps=taps)

    def test_wrong_inputs_are_shape_errors(self) -> None:
        decoder = MultiLevelDecoder(ARCHITECTURE)
        features = tap_features()
        with pytest.raises(ShapeError, match="relu4_1, relu3_1, relu2_1, relu1_1"):
            decoder(features[0])
        with pytest.raises(ShapeError, match="relu2_1"):
            decoder(features[0], features[1], features[2][..., :-2, :], features[3])

    def test_folded_inference_copies_compute_the_same(self) -> None:
        torch.manual_seed(1)
        decoder = opened(MultiLevelDecoder(ARCHITECTURE)).eval()
        features = tap_features()
        with torch.no_grad():
            reference = decoder(*features)
            fp32 = inference_copy(decoder, torch.float32)(*features)
            bf16 = inference_copy(decoder)(*features).float()
        torch.testing.assert_close(fp32, reference, rtol=1e-4, atol=1e-5)
        assert (bf16 - reference).abs().max() < 0.05 * reference.abs().max()

    def test_gradients_open_the_gates(self) -> None:
        """At closed gates the gates get gradient (so training can open them); the 1x1 convs do not yet."""
        torch.manual_seed(2)
        decoder = MultiLevelDecoder(ARCHITECTURE)
        decoder(*tap_features()).square().mean().backward()
        for tap in SKIP_TAPS:
            assert decoder.gates[tap].grad is not None and decoder.gates[tap].grad.abs().sum() > 0
            assert decoder.skips[tap].weight.grad.abs().sum() == 0
        opened(decoder)
        decoder.zero_grad()
        decoder(*tap_features()).square().mean().backward()
        assert all(decoder.skips[tap].weight.grad.abs().sum() > 0 for tap in SKIP_TAPS)
