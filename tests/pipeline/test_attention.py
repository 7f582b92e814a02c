"""method="attention": attention-weighted AdaIN through the whole pipeline."""

from __future__ import annotations

import math

import pytest
import torch

from adain.errors import UsageError
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
    from adain.weights import load_decoder

    multilevel = StylizationPipeline(
        pipeline.encoder, load_decoder("vgg16-hed", path=multilevel_decoder_file), preset="vgg16-hed"
    )
    # a style small enough that attention takes every relu1_1 position (40 x 40 <= 2,048): uniform
    # attention is then plain AdaIN exactly
    content, style = torch.rand(1, 3, 32, 40, generator=rng), torch.rand(1, 3, 40, 40, generator=rng)
    deep = multilevel(content, style, method="attention", output_type="pt").rgb
    every = multilevel(
        content,
        style,
        method="attention",
        attention_taps=("relu4_1", "relu3_1", "relu2_1", "relu1_1"),
        output_type="pt",
    ).rgb
    assert every.shape == deep.shape and not torch.allclose(every, deep, atol=1e-3)
    uniform = multilevel(
        content,
        style,
        method="attention",
        attention_temperature=math.inf,
        attention_taps=("relu4_1", "relu3_1", "relu2_1", "relu1_1"),
        output_type="pt",
    ).rgb
    torch.testing.assert_close(uniform, multilevel(content, style, output_type="pt").rgb, rtol=1e-4, atol=1e-4)
    with pytest.raises(UsageError, match="attention taps"):
        multilevel(content, style, method="attention", attention_taps=("relu5_1",))
