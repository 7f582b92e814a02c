"""local_mean_adain: AdaIN whose mean follows per-position local means, the style's statistics kept."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck

from adain.errors import ShapeError, UsageError
from adain.ops.local_mean_adain import LOCAL_MEAN_VARIANCE_SHARE, local_mean_adain, local_mean_moments
from adain.ops.statistics import adain_from_statistics, channel_mean_std


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _style(generator: torch.Generator, channels: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(1, channels, 1, 1, generator=generator) * 3, torch.rand(
        1, channels, 1, 1, generator=generator
    ) + 1


class TestLocalMeanMoments:
    def test_mean_and_variance_over_positions(self, generator: torch.Generator) -> None:
        means = torch.randn(2, 3, 4, 5, generator=generator)
        centre, variance = local_mean_moments(means)
        assert centre.shape == variance.shape == (2, 3, 1, 1)
        torch.testing.assert_close(variance, means.var(dim=(2, 3), unbiased=False, keepdim=True))
        with pytest.raises(ShapeError, match="local_means"):
            local_mean_moments(means[0])


class TestLocalMeanAdain:
    def test_constant_local_means_are_plain_adain(self, generator: torch.Generator) -> None:
        content = torch.randn(2, 4, 6, 7, generator=generator)
        mean, std = _style(generator)
        constant = torch.full((2, 4, 3, 3), 5.0)
        out = local_mean_adain(content, constant, mean, std)
        torch.testing.assert_close(out, adain_from_statistics(content, mean, std), rtol=1e-4, atol=1e-4)

    def test_the_styles_global_statistics_are_kept(self, generator: torch.Generator) -> None:
        """Local means uncorrelated with the content's pattern: the target's channel mean and std
        are the style's, as plain AdaIN's, while its mean moves by region."""
        content = torch.randn(1, 4, 32, 32, generator=generator)
        mean, std = _style(generator)
        local = torch.zeros(1, 4, 32, 32)
        local[..., :16] = 1.0  # left half one region, right half the other
        out = local_mean_adain(content, local, mean, std)
        out_mean, out_std = channel_mean_std(out)
        torch.testing.assert_close(out_mean, mean, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(out_std, std, atol=0.05 * std.max().item(), rtol=0.05)
        assert (out[..., :16].mean(dim=(2, 3)) > out[..., 16:].mean(dim=(2, 3))).all()

    def test_the_local_means_take_at_most_their_share_of_the_variance(self, generator: torch.Generator) -> None:
        content = torch.randn(1, 2, 8, 8, generator=generator)
        mean, std = torch.zeros(1, 2, 1, 1), torch.ones(1, 2, 1, 1)
        local = torch.zeros(1, 2, 8, 8)
        local[..., :4] = 100.0  # far more spread between regions than the style has
        out = local_mean_adain(content, local, mean, std)
        between = out[..., :4].mean() - out[..., 4:].mean()
        assert between == pytest.approx(2 * LOCAL_MEAN_VARIANCE_SHARE**0.5, rel=0.2)  # +-sqrt(share) around 0
        assert out.std() < 1.3
        flat = local_mean_adain(content, local, mean, std, share=0.0)
        torch.testing.assert_close(flat, adain_from_statistics(content, mean, std), rtol=1e-4, atol=1e-4)

    def test_coarse_local_means_are_resized(self, generator: torch.Generator) -> None:
        content = torch.randn(1, 3, 16, 16, generator=generator)
        mean, std = _style(generator, 3)
        coarse = torch.randn(1, 3, 2, 2, generator=generator)
        fine = torch.nn.functional.interpolate(coarse, size=(16, 16), mode="bilinear", align_corners=False)
        moments = local_mean_moments(coarse)
        torch.testing.assert_close(
            local_mean_adain(content, coarse, mean, std), local_mean_adain(content, fine, mean, std, moments=moments)
        )

    def test_a_tile_with_the_whole_images_statistics_and_moments_equals_the_whole_image(self, generator) -> None:
        content = torch.randn(1, 4, 12, 14, generator=generator)
        local = torch.randn(1, 4, 12, 14, generator=generator)
        mean, std = _style(generator)
        whole = local_mean_adain(content, local, mean, std)
        tile = local_mean_adain(
            content[..., 3:9, 2:10],
            local[..., 3:9, 2:10],
            mean,
            std,
            content_statistics=channel_mean_std(content),
            moments=local_mean_moments(local),
        )
        torch.testing.assert_close(tile, whole[..., 3:9, 2:10])
        alone = local_mean_adain(content[..., 3:9, 2:10], local[..., 3:9, 2:10], mean, std)
        assert not torch.allclose(alone, whole[..., 3:9, 2:10])

    def test_gradients_and_bf16(self, generator: torch.Generator) -> None:
        content = torch.randn(1, 2, 3, 3, generator=generator, dtype=torch.float64, requires_grad=True)
        local = torch.randn(1, 2, 3, 3, generator=generator, dtype=torch.float64, requires_grad=True)
        mean = torch.randn(1, 2, 1, 1, dtype=torch.float64, generator=generator, requires_grad=True)
        std = (torch.rand(1, 2, 1, 1, dtype=torch.float64, generator=generator) + 1).requires_grad_()
        assert gradcheck(local_mean_adain, (content, local, mean, std))
        content, local = torch.randn(1, 4, 8, 8, generator=generator), torch.randn(1, 4, 2, 2, generator=generator)
        mean, std = _style(generator)
        low = local_mean_adain(content.bfloat16(), local, mean, std)
        assert low.dtype == torch.bfloat16
        torch.testing.assert_close(
            low.float(), local_mean_adain(content.bfloat16().float(), local, mean, std), rtol=0.02, atol=0.05
        )

    def test_errors(self) -> None:
        content, mean, std = torch.zeros(1, 4, 3, 3), torch.zeros(1, 4, 1, 1), torch.ones(1, 4, 1, 1)
        with pytest.raises(UsageError, match="share"):
            local_mean_adain(content, content, mean, std, share=1.5)
        with pytest.raises(ShapeError, match="local_means must be"):
            local_mean_adain(content, torch.zeros(1, 3, 3, 3), mean, std)
        with pytest.raises(ShapeError, match="style_std"):
            local_mean_adain(content, content, mean, torch.ones(1, 4))
        with pytest.raises(ShapeError, match="content_features and local_means"):
            local_mean_adain(content[0], content, mean, std)
