"""AdaIN with given content statistics (what a tile of a large image is normalised with)."""

from __future__ import annotations

import pytest
import torch

from adain.errors import ShapeError, UsageError
from adain.ops.masks import masked_adain, masked_channel_mean_std, region_weights_from_mask
from adain.ops.statistics import (
    adain_from_statistics,
    adain_with_content_statistics,
    channel_mean_std,
)


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


class TestAdainWithContentStatistics:
    def test_own_statistics_give_adain_from_statistics_exactly(self, generator: torch.Generator) -> None:
        content = torch.randn(2, 5, 7, 6, generator=generator) * 3 + 1
        style_mean, style_std = (
            torch.randn(1, 5, 1, 1, generator=generator),
            torch.rand(1, 5, 1, 1, generator=generator) + 0.5,
        )
        mean, std = channel_mean_std(content)
        assert torch.equal(
            adain_with_content_statistics(content, mean, std, style_mean, style_std),
            adain_from_statistics(content, style_mean, style_std),
        )

    def test_a_tile_normalised_with_the_whole_images_statistics_is_that_images_crop(
        self, generator: torch.Generator
    ) -> None:
        whole = torch.randn(1, 4, 10, 12, generator=generator)
        style_mean, style_std = (
            torch.randn(1, 4, 1, 1, generator=generator),
            torch.rand(1, 4, 1, 1, generator=generator),
        )
        mean, std = channel_mean_std(whole)
        tile = adain_with_content_statistics(whole[..., 2:7, 3:9], mean, std, style_mean, style_std)
        assert torch.allclose(tile, adain_from_statistics(whole, style_mean, style_std)[..., 2:7, 3:9], atol=1e-6)
        # while the tile's own statistics give something else
        assert not torch.allclose(tile, adain_from_statistics(whole[..., 2:7, 3:9], style_mean, style_std), atol=1e-2)

    def test_dtype_and_gradients(self, generator: torch.Generator) -> None:
        content = torch.randn(1, 3, 4, 4, generator=generator).bfloat16()
        one = torch.ones(1, 3, 1, 1)
        assert adain_with_content_statistics(content, 0 * one, one, one, one).dtype == torch.bfloat16
        inputs = [torch.randn(1, 2, 3, 3, dtype=torch.float64, generator=generator, requires_grad=True)]
        inputs += [
            torch.rand(1, 2, 1, 1, dtype=torch.float64, generator=generator, requires_grad=True) + 0.5 for _ in range(4)
        ]
        assert torch.autograd.gradcheck(adain_with_content_statistics, inputs)

    @pytest.mark.parametrize("bad", ["content_mean", "content_std", "style_mean", "style_std"])
    def test_shapes_are_checked(self, bad: str) -> None:
        stats = {name: torch.ones(1, 3, 1, 1) for name in ("content_mean", "content_std", "style_mean", "style_std")}
        stats[bad] = torch.ones(1, 4, 1, 1)
        with pytest.raises(ShapeError, match=f"{bad} must be \\(2 or 1, 3, 1, 1\\)"):
            adain_with_content_statistics(torch.zeros(2, 3, 4, 4), **stats)
        with pytest.raises(ShapeError, match="content_features must be"):
            adain_with_content_statistics(torch.zeros(3, 4, 4), *stats.values())


class TestMaskedAdainWithContentStatistics:
    """masked_adain with each region's content statistics given (a tile of a large image)."""

    def _case(self, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        content = torch.randn(1, 4, 6, 8, generator=generator)
        mask = torch.rand(1, 3, 6, 8, generator=generator)
        weights = region_weights_from_mask(mask, 3)
        style_means = torch.randn(3, 4, 1, 1, generator=generator)
        style_stds = torch.rand(3, 4, 1, 1, generator=generator) + 0.2
        return content, weights, style_means, style_stds

    def test_region_statistics_give_masked_adain_exactly(self, generator: torch.Generator) -> None:
        content, weights, style_means, style_stds = self._case(generator)
        pairs = [masked_channel_mean_std(content, weights[:, k : k + 1]) for k in range(3)]
        means, stds = torch.cat([m for m, _ in pairs]), torch.cat([s for _, s in pairs])
        alphas = [1.0, 0.0, 0.4]
        assert torch.equal(
            masked_adain(content, weights, style_means, style_stds, alphas, content_means=means, content_stds=stds),
            masked_adain(content, weights, style_means, style_stds, alphas),
        )

    def test_errors(self, generator: torch.Generator) -> None:
        content, weights, style_means, style_stds = self._case(generator)
        means, stds = torch.zeros(3, 4, 1, 1), torch.ones(3, 4, 1, 1)
        with pytest.raises(UsageError, match="one alpha per region"):
            masked_adain(content, weights, style_means, style_stds, [1.0], content_means=means, content_stds=stds)
        with pytest.raises(UsageError, match="alpha of region 1"):
            masked_adain(
                content, weights, style_means, style_stds, [1.0, 2.0, 0.0], content_means=means, content_stds=stds
            )
        with pytest.raises(UsageError, match="at most 1 per pixel"):
            masked_adain(
                content, weights * 3, style_means, style_stds, [1.0] * 3, content_means=means, content_stds=stds
            )
        with pytest.raises(ShapeError, match="content_means must be \\(3, 4, 1, 1\\)"):
            masked_adain(
                content, weights, style_means, style_stds, [1.0] * 3, content_means=means[:2], content_stds=stds
            )
        with pytest.raises(ShapeError, match="region_weights must be"):
            masked_adain(
                content, weights[..., :4], style_means, style_stds, [1.0] * 3, content_means=means, content_stds=stds
            )
