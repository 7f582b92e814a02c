"""A skip's AdaIN folded into its 1x1 convolution (adain.models.affine_features), in the decoders
and in the pipeline: the same output as AdaIN applied to the map first."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from adain.models import AffineFeatures, CompactMultiLevelDecoder
from adain.models.affine_features import materialize, skip_conv1x1
from adain.pipeline import StylizationPipeline, StylizeOptions


def _affine(channels: int, batch: int = 1, seed: int = 0) -> AffineFeatures:
    generator = torch.Generator().manual_seed(seed)
    features = torch.rand(batch, channels, 6, 7, generator=generator) * 50
    scale = torch.rand(batch, channels, 1, 1, generator=generator) + 0.1
    shift = torch.randn(batch, channels, 1, 1, generator=generator) * 10
    return AffineFeatures(features, scale, shift)


class TestSkipConv1x1:
    @pytest.mark.parametrize("bias", [True, False])
    def test_folded_equals_applied(self, bias: bool) -> None:
        affine = _affine(5)
        weight, offset = torch.randn(3, 5, 1, 1), (torch.randn(3) if bias else None)
        expected = F.conv2d(affine.scale * affine.features + affine.shift, weight, offset)
        torch.testing.assert_close(skip_conv1x1(affine, weight, offset, torch.float32), expected, rtol=1e-5, atol=1e-3)

    def test_a_coarse_offset_is_convolved_then_resized(self) -> None:
        """Semantic AdaIN's local means: the same as resizing the offset and convolving the whole map."""
        affine = _affine(5)._replace(offset=torch.randn(1, 5, 3, 4) * 10)
        weight, bias = torch.randn(3, 5, 1, 1), torch.randn(3)
        up = F.interpolate(affine.offset, size=(6, 7), mode="bilinear", align_corners=False)
        expected = F.conv2d(affine.scale * affine.features + affine.shift + up, weight, bias)
        torch.testing.assert_close(skip_conv1x1(affine, weight, bias, torch.float32), expected, rtol=1e-5, atol=1e-3)
        torch.testing.assert_close(materialize(affine), affine.scale * affine.features + affine.shift + up)
        batch = AffineFeatures(*(torch.cat([value, value]) for value in affine))  # two samples: materialised
        torch.testing.assert_close(skip_conv1x1(batch, weight, bias, torch.float32), torch.cat([expected, expected]), rtol=1e-5, atol=1e-3)  # fmt: skip

    def test_a_batch_with_a_map_per_sample_is_materialized(self) -> None:
        affine = _affine(4, batch=2)
        weight = torch.randn(2, 4, 1, 1)
        expected = F.conv2d(affine.scale * affine.features + affine.shift, weight)
        torch.testing.assert_close(skip_conv1x1(affine, weight, None, torch.float32), expected, rtol=1e-5, atol=1e-3)

    def test_plain_tensors_pass_through(self) -> None:
        x, weight = torch.rand(1, 4, 3, 3), torch.randn(2, 4, 1, 1)
        assert torch.equal(skip_conv1x1(x, weight, None, torch.float32), F.conv2d(x, weight))
        assert materialize(x) is x

    def test_bf16(self) -> None:
        affine = _affine(8)
        half = AffineFeatures(affine.features.bfloat16(), affine.scale, affine.shift)
        weight = torch.randn(4, 8, 1, 1)
        folded = skip_conv1x1(half, weight.bfloat16(), None, torch.bfloat16)
        expected = F.conv2d(affine.scale * half.features.float() + affine.shift, weight)
        assert folded.dtype == torch.bfloat16
        assert ((folded.float() - expected).abs().max() / expected.abs().max()) < 0.02


def test_compact_decoder_takes_affine_skips() -> None:
    torch.manual_seed(0)
    decoder = CompactMultiLevelDecoder(skip_taps=("relu3_1", "relu2_1")).eval()
    relu4_1 = torch.rand(1, 512, 3, 4)
    skips = [
        AffineFeatures(torch.rand(1, channels, 3 * scale, 4 * scale) * 50, *_affine(channels, seed=seed)[1:])
        for channels, scale, seed in ((256, 2, 1), (128, 4, 2))
    ]
    with torch.no_grad():
        folded = decoder(relu4_1, *skips)
        applied = decoder(relu4_1, *[materialize(skip) for skip in skips])
    torch.testing.assert_close(folded, applied, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "options", [StylizeOptions(), StylizeOptions(alpha=0.4), StylizeOptions(style_weights=[0.3, 0.7])]
)
def test_the_pipeline_folds_and_gets_the_same_image(
    multilevel_pipeline_for_folding: StylizationPipeline, options: StylizeOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = multilevel_pipeline_for_folding
    content = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(3))
    styles = [torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(s)) for s in (4, 5)]
    styles = styles if options.style_weights else styles[:1]
    seen: list[type] = []
    hook = pipeline.inference_decoder.register_forward_pre_hook(lambda module, args: seen.extend(map(type, args[1:])))
    try:
        folded = pipeline(content, styles, options, output_type="pt").rgb
    finally:
        hook.remove()
    assert pipeline.folds_skip_adain and seen and all(kind is AffineFeatures for kind in seen)
    monkeypatch.setattr(StylizationPipeline, "folds_skip_adain", property(lambda self: False))
    applied = pipeline(content, styles, options, output_type="pt").rgb
    # float rounding of 10x steeper outputs: folded, the content's mean cancels after the sum over channels
    torch.testing.assert_close(folded, applied, rtol=0, atol=2e-4)


@pytest.fixture(scope="module")
def multilevel_pipeline_for_folding(pipeline: StylizationPipeline, multilevel_decoder_file) -> StylizationPipeline:
    from adain.weights import load_decoder

    decoder = load_decoder("vgg16-hed", path=multilevel_decoder_file)
    with torch.no_grad():
        decoder.layers[-1].weight.mul_(10.0)  # outputs that span [0, 1]
    return StylizationPipeline(pipeline.encoder, decoder, preset="vgg16-hed")
