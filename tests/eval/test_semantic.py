"""The constructed semantic test, with the shipped default decoder: plain AdaIN mixes the regions,
attention-weighted AdaIN at every tap gives each region its match (issue 18's bar: at least 80%)."""

from __future__ import annotations

import pytest
import torch

from adain.eval.semantic import semantic_fraction, semantic_pair
from adain.pipeline import StylizationPipeline, StylizeOptions

EVERY_TAP = ("relu4_1", "relu3_1", "relu2_1", "relu1_1")


@pytest.fixture(scope="module")
def shipped() -> StylizationPipeline:
    return StylizationPipeline.from_preset(precision="fp32")


def test_the_pair_is_two_textures_in_two_colours() -> None:
    content, style = semantic_pair(64)
    assert content.shape == style.shape == (1, 3, 64, 64)
    assert torch.equal(content[:, 0], content[:, 2])  # grey
    assert style[0, 0, :32].mean() > style[0, 2, :32].mean() and style[0, 2, 32:].mean() > style[0, 0, 32:].mean()


def test_plain_adain_mixes_attention_matches(shipped: StylizationPipeline) -> None:
    plain = semantic_fraction(lambda c, s: shipped(c, s, output_type="pt").rgb)
    options = StylizeOptions(method="attention", attention_taps=EVERY_TAP, attention_temperature=0.05)
    attention = semantic_fraction(lambda c, s: shipped(c, s, options, output_type="pt").rgb)
    assert 0.35 < plain < 0.65, plain
    assert attention >= 0.8, attention
