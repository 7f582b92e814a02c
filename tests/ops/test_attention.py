"""attention_adain: per-position style statistics weighted by feature similarity."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

from adain.errors import ShapeError, UsageError
from adain.ops.attention import (
    BF16_SCORES_MIN_TEMPERATURE,
    attention_adain,
    attention_weighted_means,
    subsample_positions,
)
from adain.ops.statistics import adain, channel_mean_std


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _two_regions(generator: torch.Generator, height: int, width: int, split: float, vertical: bool) -> tuple:
    """Features of two textures (A: channels 0-3 active, B: channels 4-7) with A on the first
    ``split`` of the width (or height); returns the map and the boolean mask of region A."""
    features = torch.rand(1, 8, height, width, generator=generator) * 0.1
    mask = torch.zeros(height, width, dtype=torch.bool)
    if vertical:
        mask[:, : round(width * split)] = True
    else:
        mask[: round(height * split)] = True
    features[:, :4] += (torch.rand(1, 4, height, width, generator=generator) + 1.0) * mask
    features[:, 4:] += (torch.rand(1, 4, height, width, generator=generator) + 1.0) * ~mask
    return features, mask


class TestSubsamplePositions:
    def test_keeps_everything_under_the_limit(self) -> None:
        features = torch.arange(12.0).view(1, 2, 2, 3)
        assert torch.equal(subsample_positions(features, 6), features.flatten(2))

    def test_evenly_spaced_and_deterministic(self) -> None:
        features = torch.arange(100.0).view(1, 1, 10, 10)
        picked = subsample_positions(features, 5)
        assert picked.flatten().tolist() == [0.0, 25.0, 50.0, 74.0, 99.0]
        assert torch.equal(picked, subsample_positions(features, 5))


class TestAttentionAdain:
    def test_uniform_attention_is_plain_adain(self, generator: torch.Generator) -> None:
        content = torch.randn(2, 6, 5, 7, generator=generator)
        style = torch.randn(2, 6, 4, 4, generator=generator) * 3 + 1
        torch.testing.assert_close(attention_adain(content, style, temperature=math.inf), adain(content, style))
        # a very soft softmax over every position computes the same statistics the slow way
        torch.testing.assert_close(attention_adain(content, style, temperature=1e6), adain(content, style), rtol=1e-4,
                                   atol=1e-4)  # fmt: skip

    def test_a_style_of_one_repeated_patch_gives_plain_adain(self, generator: torch.Generator) -> None:
        content = torch.randn(1, 4, 6, 6, generator=generator)
        patch = torch.randn(1, 4, 1, 1, generator=generator)
        style = patch.expand(1, 4, 5, 5).contiguous()
        torch.testing.assert_close(attention_adain(content, style), adain(content, style), rtol=1e-4, atol=1e-4)

    def test_regions_take_the_statistics_of_the_matching_style_region(self, generator: torch.Generator) -> None:
        """Texture A covers 3/4 of the content but 1/4 of the style: plain AdaIN's global
        statistics mix the regions up; attention gives each region its match's mean."""
        content, content_a = _two_regions(generator, 12, 16, 0.75, vertical=True)
        style, style_a = _two_regions(generator, 16, 12, 0.25, vertical=False)
        style = style * 4 + 2
        out, plain = attention_adain(content, style), adain(content, style)
        for region_content, region_style in ((content_a, style_a), (~content_a, ~style_a)):
            target = style[0][:, region_style].mean(dim=1)
            attention_error = (out[0][:, region_content].mean(dim=1) - target).abs().mean()
            plain_error = (plain[0][:, region_content].mean(dim=1) - target).abs().mean()
            assert attention_error < 0.5 * plain_error, (attention_error, plain_error)

    def test_chunks_and_subsampling_bound_memory_without_changing_small_results(self, generator) -> None:
        content = torch.randn(1, 8, 9, 11, generator=generator)
        style = torch.randn(1, 8, 7, 6, generator=generator)
        whole = attention_adain(content, style)
        chunked = attention_adain(content, style, chunk_elements=42 * 5)  # 5 content positions at a time
        torch.testing.assert_close(chunked, whole)
        assert attention_adain(content, style, max_style_positions=10).shape == content.shape

    def test_keys_choose_what_similarity_is_measured_on(self, generator: torch.Generator) -> None:
        content = torch.randn(1, 4, 6, 6, generator=generator)
        style = torch.randn(1, 4, 5, 5, generator=generator)
        same = attention_adain(content, style, content_keys=content, style_keys=style)
        torch.testing.assert_close(same, attention_adain(content, style))
        other = attention_adain(content, style, content_keys=torch.randn(1, 3, 6, 6, generator=generator),
                                style_keys=torch.randn(1, 3, 5, 5, generator=generator))  # fmt: skip
        assert not torch.allclose(other, same)

    def test_one_style_for_a_batch_and_output_statistics(self, generator: torch.Generator) -> None:
        content = torch.randn(3, 4, 6, 6, generator=generator)
        style = torch.randn(1, 4, 5, 5, generator=generator) * 2
        out = attention_adain(content, style)
        assert out.shape == content.shape and torch.isfinite(out).all()
        for k in range(3):
            torch.testing.assert_close(out[k : k + 1], attention_adain(content[k : k + 1], style))
        mean, _ = channel_mean_std(out)
        assert mean.abs().max() < style.abs().max() * 2

    def test_gradients(self, generator: torch.Generator) -> None:
        content = torch.randn(1, 3, 3, 3, generator=generator, dtype=torch.float64, requires_grad=True)
        style = torch.randn(1, 3, 3, 2, generator=generator, dtype=torch.float64, requires_grad=True)
        assert gradcheck(lambda c, s: attention_adain(c, s, temperature=0.5), (content, style))

    def test_bf16_in_bf16_out_close_to_fp32(self, generator: torch.Generator) -> None:
        content = torch.randn(1, 8, 8, 8, generator=generator)
        style = torch.randn(1, 8, 6, 6, generator=generator)
        low = attention_adain(content.bfloat16(), style.bfloat16())
        assert low.dtype == torch.bfloat16
        torch.testing.assert_close(low.float(), attention_adain(content, style), rtol=0.05, atol=0.1)

    def test_bf16_scores_at_the_pipelines_temperature(self, generator: torch.Generator) -> None:
        """From BF16_SCORES_MIN_TEMPERATURE up the scores are bf16 products: still close to fp32."""
        content = torch.randn(1, 16, 12, 12, generator=generator).relu() * 5
        style = torch.randn(1, 16, 10, 10, generator=generator).relu() * 5
        assert BF16_SCORES_MIN_TEMPERATURE <= 0.5
        low = attention_adain(content.bfloat16(), style.bfloat16(), temperature=0.5)
        exact = attention_adain(content.bfloat16().float(), style.bfloat16().float(), temperature=0.5)
        assert ((low.float() - exact).abs().max() / exact.abs().max()) < 0.02

    def test_errors(self) -> None:
        content, style = torch.zeros(1, 4, 3, 3), torch.zeros(1, 4, 3, 3)
        with pytest.raises(UsageError, match="temperature"):
            attention_adain(content, style, temperature=0)
        with pytest.raises(UsageError, match="temperature"):
            attention_adain(content, style, temperature=float("nan"))
        with pytest.raises(UsageError, match="max_style_positions"):
            attention_adain(content, style, max_style_positions=0)
        with pytest.raises(UsageError, match="both"):
            attention_adain(content, style, content_keys=content)
        with pytest.raises(ShapeError, match="style_features"):
            attention_adain(content, torch.zeros(1, 5, 3, 3))
        with pytest.raises(ShapeError, match="content_features"):
            attention_adain(content[0], style)
        with pytest.raises(ShapeError, match="style_keys"):
            attention_adain(content, style, content_keys=content, style_keys=torch.zeros(1, 2, 3, 3))


class TestAttentionAdainContentStatistics:
    def test_a_tile_with_the_whole_images_statistics_equals_the_whole_image_there(self, generator) -> None:
        content = torch.randn(1, 6, 10, 12, generator=generator)
        style = torch.randn(1, 6, 5, 5, generator=generator)
        whole = attention_adain(content, style)
        statistics = channel_mean_std(content)
        tile = attention_adain(content[..., 2:7, 3:9], style, content_statistics=statistics)
        torch.testing.assert_close(tile, whole[..., 2:7, 3:9])


class TestAttentionWeightedMeans:
    def test_uniform_attention_is_the_values_mean(self, generator: torch.Generator) -> None:
        keys, style = torch.randn(2, 4, 5, 6, generator=generator), torch.randn(1, 4, 3, 4, generator=generator)
        values = torch.randn(1, 7, 3, 4, generator=generator)
        means = attention_weighted_means(keys, style, values, temperature=math.inf)
        assert means.shape == (2, 7, 5, 6)
        torch.testing.assert_close(means, values.mean(dim=(2, 3), keepdim=True).expand(2, 7, 5, 6))
        soft = attention_weighted_means(keys, style, values, temperature=1e6)
        torch.testing.assert_close(soft, means, rtol=1e-4, atol=1e-4)

    def test_the_softmax_of_cosines_by_hand(self, generator: torch.Generator) -> None:
        """``softmax(cos(q, k) / T) v`` on channel-normalised keys, computed here without chunks."""
        content = torch.randn(1, 4, 6, 6, generator=generator)
        style = torch.randn(1, 4, 5, 5, generator=generator)
        means = attention_weighted_means(content, style, style, temperature=0.5)
        weights = torch.softmax(
            torch.einsum("kc,ks->cs", _unit(content), _unit(style)) / 0.5, dim=1
        )  # (content positions, style positions), by hand
        torch.testing.assert_close(means.flatten(2)[0], (weights @ style.flatten(2)[0].T).T)

    def test_regions_take_the_values_of_the_matching_style_region(self, generator: torch.Generator) -> None:
        """Keys of two textures; values of another width (a shallower tap's, say): each content
        region gets its matching style region's values, where uniform attention mixes them."""
        content, content_a = _two_regions(generator, 12, 16, 0.75, vertical=True)
        style, style_a = _two_regions(generator, 16, 12, 0.25, vertical=False)
        values = torch.stack([style_a.float() * 10.0, style_a.float() * -3.0])[None]  # 10 / -3 in region A, 0 in B
        means = attention_weighted_means(content, style, values, temperature=0.05)
        assert means[0, 0][content_a].mean() > 9.0 and means[0, 0][~content_a].mean() < 1.0
        assert means[0, 1][content_a].mean() < -2.7

    def test_chunks_subsampling_and_a_bands_statistics(self, generator: torch.Generator) -> None:
        content = torch.randn(1, 8, 9, 11, generator=generator)
        style, values = torch.randn(1, 8, 7, 6, generator=generator), torch.randn(1, 3, 7, 6, generator=generator)
        whole = attention_weighted_means(content, style, values)
        torch.testing.assert_close(attention_weighted_means(content, style, values, chunk_elements=42 * 5), whole)
        assert attention_weighted_means(content, style, values, max_style_positions=10).shape == (1, 3, 9, 11)
        band = attention_weighted_means(content[:, :, 3:6], style, values, content_statistics=channel_mean_std(content))
        torch.testing.assert_close(band, whole[:, :, 3:6])
        assert not torch.allclose(attention_weighted_means(content[:, :, 3:6], style, values), whole[:, :, 3:6])

    def test_gradients_and_bf16(self, generator: torch.Generator) -> None:
        content = torch.randn(1, 3, 3, 3, generator=generator, dtype=torch.float64, requires_grad=True)
        style = torch.randn(1, 3, 3, 2, generator=generator, dtype=torch.float64, requires_grad=True)
        values = torch.randn(1, 2, 3, 2, generator=generator, dtype=torch.float64, requires_grad=True)
        assert gradcheck(lambda c, s, v: attention_weighted_means(c, s, v, temperature=0.5), (content, style, values))
        content, style = (
            torch.randn(1, 16, 12, 12, generator=generator).relu(),
            torch.randn(1, 16, 10, 10, generator=generator).relu(),
        )
        values = torch.rand(1, 5, 10, 10, generator=generator) * 4
        low = attention_weighted_means(content.bfloat16(), style.bfloat16(), values.bfloat16(), temperature=0.2)
        exact = attention_weighted_means(content.bfloat16().float(), style.bfloat16().float(), values.bfloat16().float(), temperature=0.2)  # fmt: skip
        assert low.dtype == torch.float32 and (low - exact).abs().max() < 0.05 * exact.abs().max()

    def test_errors(self) -> None:
        keys, values = torch.zeros(1, 4, 3, 3), torch.zeros(1, 2, 3, 3)
        with pytest.raises(UsageError, match="temperature"):
            attention_weighted_means(keys, keys, values, temperature=-1)
        with pytest.raises(UsageError, match="max_style_positions"):
            attention_weighted_means(keys, keys, values, max_style_positions=0)
        with pytest.raises(ShapeError, match="style_keys"):
            attention_weighted_means(keys, torch.zeros(1, 5, 3, 3), values)
        with pytest.raises(ShapeError, match="style_values"):
            attention_weighted_means(keys, keys, torch.zeros(1, 2, 3, 4))
        with pytest.raises(ShapeError, match="content_keys"):
            attention_weighted_means(keys[0], keys, values)


def _unit(features: torch.Tensor) -> torch.Tensor:
    """``(1, C, H, W)`` -> ``(C, H*W)``: channel-normalised, each position of unit length."""
    mean, std = channel_mean_std(features)
    flat = ((features - mean) / std).flatten(2)[0]
    return flat / flat.norm(dim=0, keepdim=True)
