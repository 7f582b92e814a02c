"""The compact students: teacher-space taps at every size, the multi-level decoder's inputs, the
folded upsampling, and FLOPs at most an eighth of the teacher's."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from adain.bench.flops import decoder_flops, encoder_flops
from adain.errors import ShapeError, UsageError
from adain.models import (
    SKIP_TAPS,
    TAP_CHANNELS,
    CompactEncoder,
    CompactMultiLevelDecoder,
    VGGEncoder,
    decoder_input_taps,
    inference_copy,
)
from adain.models.compact import build_compact, compact_channels, parameter_count
from adain.weights.presets import get_preset

ARCHITECTURE = get_preset("vgg16-hed").architecture
TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
SCALES = {"relu1_1": 1, "relu2_1": 2, "relu3_1": 4, "relu4_1": 8}


def tap_features(height: int, width: int, taps: tuple[str, ...] = ("relu4_1", *SKIP_TAPS), batch: int = 2):
    """Random features at ``taps`` for a ``height x width`` image (multiples of 8)."""
    generator = torch.Generator().manual_seed(5)
    return [
        torch.rand(batch, TAP_CHANNELS[tap], height // SCALES[tap], width // SCALES[tap], generator=generator)
        for tap in taps
    ]


class TestCompactEncoder:
    @pytest.mark.parametrize("kind", ["vgg", "separable"])
    @pytest.mark.parametrize("size", [(16, 16), (24, 40), (48, 32)])
    def test_taps_have_the_teachers_channels_and_sizes(self, kind: str, size: tuple[int, int]) -> None:
        torch.manual_seed(0)
        encoder = CompactEncoder(kind=kind).eval()
        height, width = size
        with torch.no_grad():
            taps = encoder(torch.rand(2, 3, height, width))
        assert list(taps) == list(TAPS)
        for tap, features in taps.items():
            assert features.shape == (2, TAP_CHANNELS[tap], height // SCALES[tap], width // SCALES[tap]), tap
            assert features.min() >= 0  # ReLU'd, like the teacher's taps

    def test_odd_sizes_match_the_teachers_tap_sizes(self) -> None:
        image = torch.rand(1, 3, 21, 30)
        with torch.no_grad():
            teacher = VGGEncoder(ARCHITECTURE)(image)
            student = CompactEncoder()(image)
        assert {t: f.shape for t, f in student.items()} == {t: f.shape for t, f in teacher.items()}

    def test_last_tap_stops_early(self) -> None:
        with torch.no_grad():
            taps = CompactEncoder()(torch.rand(1, 3, 16, 16), last_tap="relu2_1")
        assert list(taps) == ["relu1_1", "relu2_1"]

    def test_only_the_requested_taps_are_projected(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """``taps=``: the same features at those taps, and the others' projections never run (a fast
        decoder without relu1_1 skips its full-resolution 64-channel projection)."""
        torch.manual_seed(0)
        encoder, image = CompactEncoder().eval(), torch.rand(1, 3, 24, 16)
        with torch.no_grad():
            everything = encoder(image)
        ran: list[str] = []
        for tap, projection in encoder.projections.items():
            monkeypatch.setattr(
                projection, "forward", lambda x, p=projection, t=tap: ran.append(t) or type(p).forward(p, x)
            )
        with torch.no_grad():
            some = encoder(image, taps=("relu3_1", "relu2_1"))
        assert list(some) == ["relu2_1", "relu3_1"] and ran == ["relu2_1", "relu3_1"]
        for tap, features in some.items():
            torch.testing.assert_close(features, everything[tap])
        with pytest.raises(UsageError, match="taps must be some of"):
            encoder(image, taps=("relu5_1",))

    def test_default_channels_are_a_quarter(self) -> None:
        encoder = CompactEncoder()
        assert encoder.channels == {"relu1_1": 16, "relu2_1": 32, "relu3_1": 64, "relu4_1": 128}
        for tap, projection in encoder.projections.items():
            assert (projection.in_channels, projection.out_channels) == (encoder.channels[tap], TAP_CHANNELS[tap])
        assert list(encoder.convs) == ARCHITECTURE.conv_names()

    def test_separable_blocks_are_depthwise_then_pointwise(self) -> None:
        encoder = CompactEncoder(0.5, "separable")
        assert isinstance(encoder.convs["conv1_1"], nn.Conv2d)  # the first conv sees 3 channels: dense
        depthwise, pointwise = encoder.convs["conv2_1"]
        assert depthwise.groups == depthwise.in_channels == 32 and pointwise.kernel_size == (1, 1)
        assert pointwise.out_channels == 64

    def test_bf16_copy_takes_fp32_images_like_the_teacher(self) -> None:
        torch.manual_seed(0)
        encoder = CompactEncoder().eval()
        image = torch.rand(1, 3, 16, 16)
        encoder.calibrate({tap: torch.rand(2, c, 4, 4) * 100 for tap, c in TAP_CHANNELS.items()})
        with torch.no_grad():
            full = encoder(image)["relu4_1"]
            half = inference_copy(encoder)(image)["relu4_1"]
        assert half.dtype == torch.bfloat16
        assert torch.allclose(half.float(), full, rtol=0.05, atol=0.05 * full.abs().max().item())

    def test_calibration_puts_the_outputs_on_the_teachers_scale(self) -> None:
        """The projections' fixed scale and shift are the teacher's channel std and mean (saved with
        the weights): a fresh student's taps are then of the teacher's magnitude."""
        torch.manual_seed(0)
        encoder = CompactEncoder().eval()
        teacher = {tap: torch.rand(2, c, 4, 4) * 300 for tap, c in TAP_CHANNELS.items()}
        encoder.calibrate(teacher)
        projection = encoder.projections["relu4_1"]
        assert torch.allclose(projection.shift, teacher["relu4_1"].mean(dim=(0, 2, 3)))
        assert torch.allclose(projection.scale, teacher["relu4_1"].std(dim=(0, 2, 3)), rtol=0.05)
        assert {"projections.relu4_1.scale", "projections.relu4_1.shift"} <= set(encoder.state_dict())
        with torch.no_grad():
            student = encoder(torch.rand(2, 3, 32, 32))["relu4_1"]
        assert 50 < student.mean() < 250

    def test_decoder_calibration_scales_its_inputs_to_unit_rms(self) -> None:
        decoder = CompactMultiLevelDecoder()
        features = [f * 40 for f in tap_features(16, 16)]
        decoder.calibrate(features)
        for scale, x in zip(decoder.input_scale, features):
            assert torch.allclose((x * scale).pow(2).mean(), torch.tensor(1.0), rtol=1e-4)
        assert "input_scale" in decoder.state_dict()

    @pytest.mark.parametrize("width", [0, -0.25, 1.5, True, "0.25"])
    def test_bad_width_is_a_usage_error(self, width: object) -> None:
        with pytest.raises(UsageError, match="width"):
            CompactEncoder(width)  # type: ignore[arg-type]

    def test_bad_kind_is_a_usage_error(self) -> None:
        with pytest.raises(UsageError, match="kind"):
            CompactEncoder(kind="mobile")

    def test_channels_round_to_multiples_of_eight(self) -> None:
        assert compact_channels(0.375) == {"relu1_1": 24, "relu2_1": 48, "relu3_1": 96, "relu4_1": 192}
        assert compact_channels(0.01)["relu1_1"] == 8


class TestCompactMultiLevelDecoder:
    @pytest.mark.parametrize("size", [(16, 16), (16, 24), (40, 32)])
    def test_output_is_rgb_at_full_size(self, size: tuple[int, int]) -> None:
        torch.manual_seed(0)
        decoder = CompactMultiLevelDecoder().eval()
        with torch.no_grad():
            output = decoder(*tap_features(*size))
        assert output.shape == (2, 3, *size)

    def test_input_taps_are_the_multilevel_decoders(self) -> None:
        assert decoder_input_taps(CompactMultiLevelDecoder()) == ("relu4_1", *SKIP_TAPS)
        subset = CompactMultiLevelDecoder(skip_taps=("relu1_1", "relu3_1"))
        assert subset.input_taps == ("relu4_1", "relu3_1", "relu1_1") == decoder_input_taps(subset)
        with torch.no_grad():
            assert subset(*tap_features(16, 16, subset.input_taps)).shape == (2, 3, 16, 16)

    def test_channels_are_a_fraction_of_the_teachers(self) -> None:
        decoder = CompactMultiLevelDecoder()
        convs = [layer for layer in decoder.layers if isinstance(layer, nn.Conv2d)]
        shapes = [(conv.in_channels, conv.out_channels) for conv in convs]
        assert shapes == [(512, 64), (64, 64), (64, 64), (64, 32), (32, 32), (32, 16), (16, 16), (16, 3)]
        assert {tap: (c.in_channels, c.out_channels) for tap, c in decoder.skips.items()} == {
            "relu3_1": (256, 64),
            "relu2_1": (128, 32),
            "relu1_1": (64, 16),
        }

    def test_every_skip_changes_the_output(self) -> None:
        torch.manual_seed(0)
        decoder = CompactMultiLevelDecoder().eval()
        features = tap_features(16, 16)
        with torch.no_grad():
            base = decoder(*features)
            for index in range(1, 4):
                changed = list(features)
                changed[index] = changed[index] + 1.0
                assert not torch.allclose(decoder(*changed), base, atol=1e-5), decoder.input_taps[index]

    def test_folded_upsampling_equals_the_plain_layers(self) -> None:
        """forward (upsample + pad + conv folded into sub-pixel convs) == the layers one by one, the
        skip added after the first conv at each tap's resolution."""
        torch.manual_seed(0)
        decoder = CompactMultiLevelDecoder().eval()
        features = tap_features(16, 24)
        decoder.input_scale.copy_(torch.tensor([0.5, 2.0, 0.25, 3.0]))
        skips = {tap: f * scale for tap, f, scale in zip(SKIP_TAPS, features[1:], [2.0, 0.25, 3.0])}
        x, upsampled, after_upsample = features[0] * 0.5, 0, False
        with torch.no_grad():
            for layer in decoder.layers:
                x = layer(x)
                if isinstance(layer, nn.Upsample):
                    after_upsample = True
                elif isinstance(layer, nn.Conv2d) and after_upsample:
                    tap = SKIP_TAPS[upsampled]
                    x = x + decoder.skips[tap](skips[tap])
                    upsampled, after_upsample = upsampled + 1, False
            folded = decoder(*features)
        assert torch.allclose(folded, x, atol=1e-5, rtol=1e-4)

    def test_bf16_copy_runs(self) -> None:
        torch.manual_seed(0)
        decoder = CompactMultiLevelDecoder().eval()
        features = tap_features(16, 16)
        decoder.calibrate([f * 50 for f in features])
        with torch.no_grad():
            full = decoder(*features)
            half = inference_copy(decoder)(*features)
        assert half.dtype == torch.bfloat16
        assert (half.float() - full).abs().max() < 0.05 * full.abs().max() + 0.05

    def test_wrong_inputs_are_shape_errors(self) -> None:
        decoder = CompactMultiLevelDecoder()
        features = tap_features(16, 16)
        with pytest.raises(ShapeError, match="takes features at"):
            decoder(*features[:2])
        with pytest.raises(ShapeError, match="do not fit"):
            decoder(features[0], features[1], features[2], torch.rand(2, 64, 8, 8))
        with pytest.raises(ShapeError, match="skip taps"):
            CompactMultiLevelDecoder(skip_taps=("relu4_1",))


class TestFlops:
    def test_each_student_is_at_most_an_eighth_of_its_teacher_at_512(self) -> None:
        teacher_encoder = encoder_flops(ARCHITECTURE, 512, 512)
        teacher_decoder = decoder_flops(ARCHITECTURE, 512, 512, SKIP_TAPS)
        for kind in ("vgg", "separable"):
            assert CompactEncoder(kind=kind).flops(512, 512) * 8 <= teacher_encoder, kind
        assert CompactMultiLevelDecoder().flops(512, 512) * 8 <= teacher_decoder

    @pytest.mark.parametrize("kind", ["vgg", "separable"])
    def test_encoder_count_matches_torchs_flop_counter(self, kind: str) -> None:
        with torch.device("meta"):
            encoder = CompactEncoder(kind=kind)
            with FlopCounterMode(display=False) as counter:
                encoder(torch.rand(1, 3, 40, 24))
        assert counter.get_total_flops() == encoder.flops(40, 24)

    def test_decoder_count_is_its_plain_layers_plus_the_skips(self) -> None:
        """Counted as adain.bench.flops counts the teacher: each conv at its output resolution
        (unfolded: the layers run one by one), plus the 1x1 skips."""
        with torch.device("meta"):
            decoder = CompactMultiLevelDecoder()
            with FlopCounterMode(display=False) as counter:
                decoder.layers(torch.rand(1, 512, 5, 3))
        skips = sum(
            2 * c.in_channels * c.out_channels * (40 // SCALES[t]) * (24 // SCALES[t]) for t, c in decoder.skips.items()
        )
        assert counter.get_total_flops() + skips == decoder.flops(40, 24)

    def test_students_are_small(self) -> None:
        assert parameter_count(CompactEncoder()) < parameter_count(VGGEncoder(ARCHITECTURE)) / 8
        # fp16 files of both students together under 3 MB
        assert 2 * (parameter_count(CompactEncoder()) + parameter_count(CompactMultiLevelDecoder())) < 3e6


def test_config_rebuilds_the_module() -> None:
    for module in (CompactEncoder(0.5, "separable"), CompactMultiLevelDecoder(0.375, ("relu2_1",))):
        rebuilt = build_compact(module.config())
        assert type(rebuilt) is type(module) and rebuilt.config() == module.config()
        assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {
            k: v.shape for k, v in module.state_dict().items()
        }
    with pytest.raises(UsageError, match="architecture"):
        build_compact({"architecture": "decoder-for-vgg16"})
    with pytest.raises(UsageError, match="config"):
        build_compact({"architecture": "compact-encoder"})
