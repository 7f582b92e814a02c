"""method="attention": attention-weighted AdaIN through the whole pipeline."""

from __future__ import annotations

import math

import pytest
import torch

from adain.errors import UsageError
from adain.models.affine_features import AffineFeatures, materialize
from adain.pipeline import StylizationPipeline, StylizeOptions
from adain.pipeline.attention import StyleFeatures


def test_uniform_attention_is_the_plain_decoder(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content, style = torch.rand(1, 3, 40, 48, generator=rng), torch.rand(1, 3, 56, 56, generator=rng)
    plain = pipeline(content, style, output_type="pt").rgb
    uniform = pipeline(content, style, method="attention", attention_temperature=math.inf, output_type="pt").rgb
    torch.testing.assert_close(uniform, plain, rtol=1e-4, atol=1e-4)
    sharp = pipeline(content, style, method="attention", output_type="pt").rgb
    assert sharp.shape == plain.shape and not torch.allclose(sharp, plain, atol=1e-3)


def test_mixing_alpha_and_features_kept_once(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content = torch.rand(1, 3, 32, 32, generator=rng)
    first, second = torch.rand(1, 3, 48, 48, generator=rng), torch.rand(1, 3, 40, 40, generator=rng)
    alone = pipeline(content, first, method="attention", output_type="pt").rgb
    mixed = pipeline(content, [first, second], method="attention", style_weights=[1.0, 0.0], output_type="pt").rgb
    torch.testing.assert_close(mixed, alone)
    reconstructed = pipeline(content, first, method="attention", alpha=0.0, output_type="pt").rgb
    torch.testing.assert_close(reconstructed, pipeline(content, first, alpha=0.0, output_type="pt").rgb)
    options = StylizeOptions(method="attention")
    (features,) = pipeline.prepare_styles([first], content, options)
    assert isinstance(features, StyleFeatures) and features.features["relu4_1"].shape == (1, 512, 36, 1)
    assert "positions" in repr(features) and "tensor" not in repr(features)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mask": torch.ones(32, 32)}, "a mask routes"),
        ({"refine": 5}, "does not combine with method 'attention'"),
        ({"attention_temperature": 0}, "temperature must be a positive number"),
    ],
)
def test_what_attention_refuses(pipeline: StylizationPipeline, fields: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        pipeline(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), method="attention", **fields)


def test_bank_styles_have_no_features(pipeline: StylizationPipeline) -> None:
    with pytest.raises(UsageError, match="needs the style's features"):
        pipeline(torch.rand(1, 3, 32, 32), "bank:antimonocromatismo", method="attention")


def test_every_tap_of_a_multilevel_decoder(multilevel_decoder_file, pipeline: StylizationPipeline, rng) -> None:
    """By default every tap the decoder takes follows relu4_1's attention; relu4_1 alone differs;
    uniform attention is plain AdaIN at every tap."""
    from adain.weights import load_decoder

    multilevel = StylizationPipeline(
        pipeline.encoder, load_decoder("vgg16-hed", path=multilevel_decoder_file), preset="vgg16-hed"
    )
    content, style = torch.rand(1, 3, 32, 40, generator=rng), torch.rand(1, 3, 40, 40, generator=rng)
    every = multilevel(content, style, method="attention", output_type="pt").rgb
    deep = multilevel(content, style, method="attention", attention_taps=("relu4_1",), output_type="pt").rgb
    assert every.shape == deep.shape and not torch.allclose(every, deep, atol=1e-3)
    (kept,) = multilevel.prepare_styles([style], content, StylizeOptions(method="attention"))
    assert {tap: tuple(value.shape) for tap, value in kept.features.items()} == {
        "relu4_1": (1, 512, 25, 1),
        "relu3_1": (1, 256, 25, 1),
        "relu2_1": (1, 128, 25, 1),
        "relu1_1": (1, 64, 25, 1),
    }
    uniform = multilevel(content, style, method="attention", attention_temperature=math.inf, output_type="pt").rgb
    torch.testing.assert_close(uniform, multilevel(content, style, output_type="pt").rgb, rtol=1e-4, atol=1e-4)
    with pytest.raises(UsageError, match="attention taps"):
        multilevel(content, style, method="attention", attention_taps=("relu5_1",))


def test_targets_keep_the_styles_global_statistics(multilevel_decoder_file, pipeline: StylizationPipeline, rng) -> None:
    """Semantic AdaIN redistributes the style's statistics over positions: each target's channel
    mean is the style's exactly, at every tap (what the style loss compares), and its spread near
    the style's (above it by the covariance of the content's pattern with the local means, which
    is large for random images: their relu4_1 positions attend to themselves)."""
    from adain.weights import load_decoder

    multilevel = StylizationPipeline(
        pipeline.encoder, load_decoder("vgg16-hed", path=multilevel_decoder_file), preset="vgg16-hed"
    )
    content, style = torch.rand(1, 3, 48, 64, generator=rng), torch.rand(1, 3, 64, 64, generator=rng)
    options = StylizeOptions(method="attention")
    (kept,) = multilevel.prepare_styles([style], content, options)
    features = multilevel.encoder(content, taps=multilevel.decoder_taps)
    targets = multilevel.transfer(features, [kept], options)
    plain = multilevel.transfer(features, [kept], StylizeOptions())
    for tap in multilevel.decoder_taps:
        mean, std = kept.at(tap)
        target = materialize(targets[tap]).float()  # the skips' come as maps the decoder folds in
        torch.testing.assert_close(target.mean(dim=(2, 3), keepdim=True), mean, atol=1e-3, rtol=1e-3)
        spread = target.std(dim=(2, 3), unbiased=False, keepdim=True)
        assert ((spread - std).abs() / std).median() < 0.5, tap
    assert not torch.allclose(targets["relu4_1"].float(), plain["relu4_1"].float(), atol=1e-3)
    assert isinstance(targets["relu1_1"], AffineFeatures) and targets["relu1_1"].offset.shape[2:] == (6, 8)


def test_tiles_share_the_whole_images_local_moments(multilevel_decoder_file, pipeline: StylizationPipeline) -> None:
    """In tiles, every tap's target is centred and scaled by the whole image's moments: the tiled
    result is the one-pass result, up to the seams' feathering."""
    from adain.eval.semantic import semantic_pair
    from adain.weights import load_decoder

    pipeline = StylizationPipeline(
        pipeline.encoder, load_decoder("vgg16-hed", path=multilevel_decoder_file), preset="vgg16-hed"
    )

    # two textures side by side: a tile of one of them, centred by its own local means, would lose
    # its region's style (measured: a mean difference of 0.07 where the shared moments give < 0.01)
    content, style = semantic_pair(384)[0][..., :256, :], semantic_pair(128)[1]
    whole = pipeline(content, style, method="attention", output_type="pt").rgb
    tiled = pipeline(content, style, method="attention", tile_size=192, output_type="pt").rgb
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().mean() < 0.01, (tiled - whole).abs().mean()
