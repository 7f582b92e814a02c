"""Tests for adain.ops.masks: spatial control of AdaIN with soft region masks (paper sec. 7)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

from adain.errors import ShapeError, UsageError
from adain.ops import (
    adain_from_statistics,
    channel_mean_std,
    masked_adain,
    masked_channel_mean_std,
    region_weights_from_mask,
    resize_region_weights,
)

EPS = 1e-5


def _features(*shape: int, seed: int = 0, scale: float = 1.0, shift: float = 0.0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale + shift).to(dtype)


def _stats(values: list[list[float]]) -> torch.Tensor:
    """(K, C) nested list -> (K, C, 1, 1)."""
    return torch.tensor(values).view(len(values), len(values[0]), 1, 1)


def _half_masks(batch: int, height: int, width: int) -> torch.Tensor:
    """Two hard regions: left half (region 0) and right half (region 1)."""
    left = torch.zeros(batch, 1, height, width)
    left[..., : width // 2] = 1.0
    return torch.cat([left, 1.0 - left], dim=1)


def _region_stats(features: torch.Tensor, selector: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean/std of features[0] at pixels where selector is True."""
    values = features[0][:, selector].double()
    return values.mean(dim=1), values.var(dim=1, unbiased=False).sqrt()


class TestMaskedChannelMeanStd:
    def test_smoke_values(self):
        features = torch.tensor([1.0, 2.0, 10.0, 20.0]).view(1, 1, 2, 2)
        mean, std = masked_channel_mean_std(features, torch.tensor([1.0, 1.0, 0.0, 0.0]).view(1, 1, 2, 2))
        assert mean.shape == std.shape == (1, 1, 1, 1)
        assert mean.item() == pytest.approx(1.5)
        assert std.item() == pytest.approx(math.sqrt(0.25 + EPS))

    def test_soft_weights(self):
        # values 0 and 3 with weights 1 and 0.5: mean 1.5 / 1.5 = 1, variance (1 + 0.5 * 4) / 1.5 = 2
        features = torch.tensor([0.0, 3.0]).view(1, 1, 1, 2)
        mean, std = masked_channel_mean_std(features, torch.tensor([1.0, 0.5]).view(1, 1, 1, 2), eps=0.0)
        assert mean.item() == pytest.approx(1.0)
        assert std.item() == pytest.approx(math.sqrt(2.0))

    def test_uniform_weights_equal_unweighted(self):
        features = _features(2, 3, 5, 6, seed=1)
        for scale in (1.0, 0.3):
            got = masked_channel_mean_std(features, torch.full((2, 1, 5, 6), scale))
            for g, e in zip(got, channel_mean_std(features)):
                assert torch.allclose(g, e, atol=1e-5)

    @pytest.mark.parametrize("total", [0.0, 1e-9])
    def test_empty_region_falls_back_to_unweighted(self, total):
        features = _features(2, 3, 4, 4, seed=2)
        weights = torch.zeros(2, 1, 4, 4)
        weights[0, 0, 1, 1] = total
        weights[1] = 1.0  # sample 1 has a real region
        mean, std = masked_channel_mean_std(features, weights)
        assert torch.isfinite(mean).all() and torch.isfinite(std).all()
        expected_mean, expected_std = channel_mean_std(features[:1])
        assert torch.allclose(mean[:1], expected_mean, atol=1e-6)
        assert torch.allclose(std[:1], expected_std, atol=1e-6)

    def test_batch_cardinality_and_weight_broadcast(self):
        features = _features(3, 2, 4, 5, seed=3)
        weights = torch.rand(1, 1, 4, 5, generator=torch.Generator().manual_seed(4))
        mean, std = masked_channel_mean_std(features, weights)
        assert mean.shape == (3, 2, 1, 1)
        for b in range(3):
            single = masked_channel_mean_std(features[b : b + 1], weights)
            assert torch.allclose(mean[b : b + 1], single[0]) and torch.allclose(std[b : b + 1], single[1])

    def test_non_contiguous(self):
        features = _features(1, 2, 6, 4, seed=5).transpose(2, 3)
        weights = torch.rand(1, 1, 6, 4, generator=torch.Generator().manual_seed(6)).transpose(2, 3)
        got = masked_channel_mean_std(features, weights)
        expected = masked_channel_mean_std(features.contiguous(), weights.contiguous())
        assert all(torch.allclose(g, e) for g, e in zip(got, expected))

    @pytest.mark.parametrize("shape", [(1, 2, 4, 4), (1, 1, 4, 3), (2, 1, 4, 4), (4, 4)])
    def test_bad_weight_shape(self, shape):
        with pytest.raises(ShapeError, match=r"Got \(" + ", ".join(map(str, shape))):
            masked_channel_mean_std(torch.zeros(3, 2, 4, 4), torch.ones(shape))

    def test_bad_features(self):
        with pytest.raises(ShapeError, match=r"Got \(2, 4, 4\)"):
            masked_channel_mean_std(torch.zeros(2, 4, 4), torch.ones(1, 1, 4, 4))

    def test_negative_weights(self):
        weights = torch.ones(1, 1, 2, 2)
        weights[0, 0, 0, 0] = -0.5
        with pytest.raises(UsageError, match="-0.5"):
            masked_channel_mean_std(torch.zeros(1, 1, 2, 2), weights)

    def test_gradcheck(self):
        features = _features(1, 2, 3, 3, seed=7, dtype=torch.float64).requires_grad_()
        weights = 0.1 + torch.rand(1, 1, 3, 3, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
        assert gradcheck(masked_channel_mean_std, (features, weights.requires_grad_()))


class TestRegionWeightsFromMask:
    def test_grayscale_two_regions(self):
        mask = torch.tensor([1.0, 0.0, 0.25]).view(1, 1, 1, 3)
        weights = region_weights_from_mask(mask, 2)
        assert weights.shape == (1, 2, 1, 3)
        assert weights[0, 0, 0].tolist() == [1.0, 0.0, 0.25]  # white region
        assert weights[0, 1, 0].tolist() == [0.0, 1.0, 0.75]  # black region

    def test_rgb_three_regions(self):
        pixels = [
            ((1.0, 0.0, 0.0), (1.0, 0.0, 0.0)),  # red: region 0
            ((0.0, 1.0, 0.0), (0.0, 1.0, 0.0)),  # green: region 1
            ((0.0, 0.0, 1.0), (0.0, 0.0, 1.0)),  # blue: region 2
            ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),  # black: no region (stays content)
            ((0.5, 0.0, 0.0), (0.5, 0.0, 0.0)),  # dark red: soft, half stylized
            ((0.6, 0.6, 0.0), (0.5, 0.5, 0.0)),  # yellow: split, normalised to sum 1
            ((1.0, 1.0, 1.0), (1 / 3, 1 / 3, 1 / 3)),  # white: all three equally
        ]
        mask = torch.tensor([rgb for rgb, _ in pixels]).T.reshape(1, 3, 1, len(pixels))
        weights = region_weights_from_mask(mask, 3)
        assert weights.shape == (1, 3, 1, len(pixels))
        for index, (_, expected) in enumerate(pixels):
            assert weights[0, :, 0, index].tolist() == pytest.approx(expected)

    def test_sum_at_most_one(self):
        mask = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
        weights = region_weights_from_mask(mask, 3)
        assert weights.min() >= 0 and weights.sum(dim=1).max() <= 1 + 1e-6

    def test_fewer_regions_drop_the_rest(self):
        mask = torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(1))
        assert torch.equal(region_weights_from_mask(mask, 2), region_weights_from_mask(mask, 3)[:, :2])
        assert torch.equal(region_weights_from_mask(mask[:, :1], 1), mask[:, :1])

    @pytest.mark.parametrize(("channels", "num_regions", "provided"), [(1, 3, "2"), (3, 4, "3"), (1, 0, "2")])
    def test_wrong_number_of_regions(self, channels, num_regions, provided):
        with pytest.raises(UsageError, match=rf"provides {provided} regions.*Got {num_regions}"):
            region_weights_from_mask(torch.zeros(1, channels, 2, 2), num_regions)

    @pytest.mark.parametrize("shape", [(1, 2, 4, 4), (1, 4, 4, 4), (1, 4, 4)])
    def test_bad_shape(self, shape):
        with pytest.raises(ShapeError, match=r"Got \(" + ", ".join(map(str, shape))):
            region_weights_from_mask(torch.zeros(shape), 2)

    @pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
    def test_values_outside_unit_range(self, value):
        mask = torch.zeros(1, 1, 2, 2)
        mask[0, 0, 0, 0] = value
        with pytest.raises(UsageError, match=r"\[0, 1\]"):
            region_weights_from_mask(mask, 2)

    def test_integer_mask(self):
        with pytest.raises(UsageError, match="uint8"):
            region_weights_from_mask(torch.zeros(1, 1, 2, 2, dtype=torch.uint8), 2)

    def test_batch_and_non_contiguous(self):
        mask = torch.rand(3, 3, 6, 5, generator=torch.Generator().manual_seed(2)).transpose(2, 3)
        weights = region_weights_from_mask(mask, 3)
        assert weights.shape == (3, 3, 5, 6)
        assert torch.allclose(weights, region_weights_from_mask(mask.contiguous(), 3))


class TestResizeRegionWeights:
    def test_shrink_is_area_average(self):
        weights = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]).view(1, 1, 2, 4)
        assert resize_region_weights(weights, (1, 2)).flatten().tolist() == [0.75, 0.0]

    def test_grow_is_bilinear(self):
        weights = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2)
        assert resize_region_weights(weights, (1, 4)).flatten().tolist() == pytest.approx([0.0, 0.25, 0.75, 1.0])

    @pytest.mark.parametrize("size", [(4, 20), (20, 4), (5, 7), (16, 16)])
    def test_keeps_weights_convex(self, size):
        mask = torch.rand(2, 3, 12, 10, generator=torch.Generator().manual_seed(3))
        weights = region_weights_from_mask(mask, 3)
        resized = resize_region_weights(weights, size)
        assert resized.shape == (2, 3, *size)
        assert resized.min() >= 0 and resized.sum(dim=1).max() <= 1 + 1e-5

    def test_same_size_is_identity(self):
        weights = torch.rand(1, 2, 4, 4)
        assert torch.equal(resize_region_weights(weights, (4, 4)), weights)

    @pytest.mark.parametrize("size", [(0, 4), (4,), (4.0, 4), "4x4", (-1, 2)])
    def test_bad_size(self, size):
        with pytest.raises(UsageError, match="Got"):
            resize_region_weights(torch.zeros(1, 1, 4, 4), size)

    def test_bad_shape(self):
        with pytest.raises(ShapeError, match=r"Got \(4, 4\)"):
            resize_region_weights(torch.zeros(4, 4), (2, 2))


class TestMaskedAdain:
    STYLE_MEANS = _stats([[5.0, -3.0, 0.5], [-4.0, 2.0, 10.0]])
    STYLE_STDS = _stats([[0.5, 2.0, 1.0], [3.0, 0.25, 4.0]])

    def test_smoke_values(self):
        content = torch.tensor([0.0, 2.0, 0.0, 2.0]).view(1, 1, 1, 4)
        weights = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]).view(1, 2, 1, 4)
        out = masked_adain(content, weights, _stats([[10.0], [-10.0]]), _stats([[1.0], [2.0]]), [1.0, 1.0])
        assert out.flatten().tolist() == pytest.approx([9.0, 11.0, -12.0, -8.0], abs=1e-4)

    def test_hard_mask_routes_styles_to_regions(self):
        content = _features(1, 3, 8, 10, seed=10)
        weights = _half_masks(1, 8, 10)
        out = masked_adain(content, weights, self.STYLE_MEANS, self.STYLE_STDS, [1.0, 1.0])
        for k in range(2):
            mean, std = _region_stats(out, weights[0, k] > 0.5)
            assert torch.allclose(mean, self.STYLE_MEANS[k].flatten().double(), atol=1e-4)
            assert torch.allclose(std, self.STYLE_STDS[k].flatten().double(), atol=1e-3)

    def test_region_uses_its_own_content_statistics(self):
        """Each half is normalised by its own statistics, not those of the whole image."""
        content = torch.cat([_features(1, 3, 6, 4, seed=11, shift=-5.0), _features(1, 3, 6, 4, seed=12, scale=4.0)], 3)
        weights = _half_masks(1, 6, 8)
        out = masked_adain(content, weights, self.STYLE_MEANS, self.STYLE_STDS, [1.0, 1.0])
        left = adain_from_statistics(content[..., :4], self.STYLE_MEANS[:1], self.STYLE_STDS[:1])
        right = adain_from_statistics(content[..., 4:], self.STYLE_MEANS[1:], self.STYLE_STDS[1:])
        assert torch.allclose(out, torch.cat([left, right], dim=3), atol=1e-4)

    def test_full_single_region_is_plain_adain(self):
        content = _features(2, 3, 5, 5, seed=13)
        out = masked_adain(content, torch.ones(1, 1, 5, 5), self.STYLE_MEANS[:1], self.STYLE_STDS[:1], [1.0])
        assert torch.allclose(out, adain_from_statistics(content, self.STYLE_MEANS[:1], self.STYLE_STDS[:1]), atol=1e-5)

    def test_soft_edge_is_intermediate(self):
        content = _features(1, 3, 6, 6, seed=14)
        hard = _half_masks(1, 6, 6)
        soft = hard.clone()
        soft[..., 2:4] = 0.5  # a soft band of two columns between the regions
        out = masked_adain(content, soft, self.STYLE_MEANS, self.STYLE_STDS, [1.0, 1.0])
        only_a = masked_adain(content, soft[:, :1], self.STYLE_MEANS[:1], self.STYLE_STDS[:1], [1.0])
        only_b = masked_adain(content, soft[:, 1:], self.STYLE_MEANS[1:], self.STYLE_STDS[1:], [1.0])
        # Each region alone fills its (1 - w) remainder with content; both together share the pixel.
        assert torch.allclose(out, only_a + only_b - content, atol=1e-4)
        band = out[..., 2:4]
        t_a = 2 * only_a[..., 2:4] - content[..., 2:4]
        t_b = 2 * only_b[..., 2:4] - content[..., 2:4]
        assert torch.allclose(band, 0.5 * t_a + 0.5 * t_b, atol=1e-4)
        low, high = torch.minimum(t_a, t_b), torch.maximum(t_a, t_b)
        assert ((band >= low - 1e-5) & (band <= high + 1e-5)).all()

    def test_black_rgb_pixel_stays_content(self):
        mask = torch.zeros(1, 3, 4, 6)
        mask[:, 0, :, :2] = 1.0  # red
        mask[:, 1, :, 2:4] = 1.0  # green; columns 4:6 stay black
        weights = region_weights_from_mask(mask, 2)
        content = _features(1, 3, 4, 6, seed=15)
        out = masked_adain(content, weights, self.STYLE_MEANS, self.STYLE_STDS, [1.0, 1.0])
        assert torch.equal(out[..., 4:], content[..., 4:])
        assert not torch.allclose(out[..., :4], content[..., :4])

    def test_alphas(self):
        content = _features(1, 3, 6, 6, seed=16)
        weights = _half_masks(1, 6, 6)
        assert torch.equal(masked_adain(content, weights, self.STYLE_MEANS, self.STYLE_STDS, [0.0, 0.0]), content)
        full = masked_adain(content, weights, self.STYLE_MEANS, self.STYLE_STDS, [1.0, 1.0])
        out = masked_adain(content, weights, self.STYLE_MEANS, self.STYLE_STDS, [0.0, 0.25])
        assert torch.equal(out[..., :3], content[..., :3])
        assert torch.allclose(out[..., 3:], 0.25 * full[..., 3:] + 0.75 * content[..., 3:], atol=1e-5)

    def test_empty_region_is_harmless(self):
        content = _features(1, 3, 4, 4, seed=17)
        weights = torch.cat([torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)], dim=1)
        out = masked_adain(content, weights, self.STYLE_MEANS, self.STYLE_STDS, [1.0, 1.0])
        assert torch.isfinite(out).all()
        expected = adain_from_statistics(content, self.STYLE_MEANS[:1], self.STYLE_STDS[:1])
        assert torch.allclose(out, expected, atol=1e-5)

    def test_batch_cardinality(self):
        content = _features(3, 3, 6, 6, seed=18)
        weights = region_weights_from_mask(torch.rand(3, 1, 6, 6, generator=torch.Generator().manual_seed(19)), 2)
        out = masked_adain(content, weights, self.STYLE_MEANS, self.STYLE_STDS, [1.0, 0.5])
        for b in range(3):
            single = masked_adain(content[b : b + 1], weights[b : b + 1], self.STYLE_MEANS, self.STYLE_STDS, [1.0, 0.5])
            assert torch.allclose(out[b : b + 1], single, atol=1e-5)
        shared = masked_adain(content, weights[:1], self.STYLE_MEANS, self.STYLE_STDS, [1.0, 0.5])
        last = masked_adain(content[2:], weights[:1], self.STYLE_MEANS, self.STYLE_STDS, [1.0, 0.5])
        assert torch.allclose(shared[2:], last)

    def test_non_contiguous(self):
        content = _features(1, 3, 8, 6, seed=20).transpose(2, 3)
        weights = _half_masks(1, 8, 6).transpose(2, 3)
        got = masked_adain(content, weights, self.STYLE_MEANS, self.STYLE_STDS, [1.0, 0.7])
        expected = masked_adain(
            content.contiguous(), weights.contiguous(), self.STYLE_MEANS, self.STYLE_STDS, [1.0, 0.7]
        )
        assert torch.allclose(got, expected, atol=1e-6)

    def test_end_to_end_with_mask_image(self):
        """Mask at image size -> region weights -> feature size -> masked AdaIN."""
        mask = torch.zeros(1, 1, 32, 32)
        mask[..., :16] = 1.0
        weights = resize_region_weights(region_weights_from_mask(mask, 2), (4, 4))
        content = _features(1, 3, 4, 4, seed=21)
        out = masked_adain(content, weights, self.STYLE_MEANS, self.STYLE_STDS, [1.0, 1.0])
        for k, columns in enumerate((slice(0, 2), slice(2, 4))):
            selector = torch.zeros(4, 4, dtype=torch.bool)
            selector[:, columns] = True
            mean, _ = _region_stats(out, selector)
            assert torch.allclose(mean, self.STYLE_MEANS[k].flatten().double(), atol=1e-4)

    def test_dtype_preserved(self):
        content = _features(1, 3, 4, 4, seed=22, dtype=torch.bfloat16)
        out = masked_adain(content, _half_masks(1, 4, 4), self.STYLE_MEANS, self.STYLE_STDS, [1.0, 1.0])
        assert out.dtype == torch.bfloat16

    def test_shape_errors(self):
        content = torch.zeros(2, 3, 4, 4)
        weights = _half_masks(2, 4, 4)
        with pytest.raises(ShapeError, match=r"resize_region_weights.*Got \(2, 2, 8, 8\)"):
            masked_adain(content, _half_masks(2, 8, 8), self.STYLE_MEANS, self.STYLE_STDS, [1.0, 1.0])
        with pytest.raises(ShapeError, match=r"Got \(3, 2, 4, 4\)"):
            masked_adain(content, _half_masks(3, 4, 4), self.STYLE_MEANS, self.STYLE_STDS, [1.0, 1.0])
        with pytest.raises(ShapeError, match=r"Got \(1, 3, 1, 1\)"):
            masked_adain(content, weights, self.STYLE_MEANS[:1], self.STYLE_STDS, [1.0, 1.0])
        with pytest.raises(ShapeError, match=r"Got \(2, 2, 1, 1\)"):
            masked_adain(content, weights, self.STYLE_MEANS, self.STYLE_STDS[:, :2], [1.0, 1.0])
        with pytest.raises(ShapeError, match=r"Got \(3, 4, 4\)"):
            masked_adain(content[0], weights, self.STYLE_MEANS, self.STYLE_STDS, [1.0, 1.0])

    @pytest.mark.parametrize("alphas", [[1.0], [1.0, 1.0, 1.0], [1.0, 1.5], [-0.1, 1.0], [float("nan"), 1.0]])
    def test_bad_alphas(self, alphas):
        with pytest.raises(UsageError, match="Got"):
            masked_adain(torch.zeros(1, 3, 4, 4), _half_masks(1, 4, 4), self.STYLE_MEANS, self.STYLE_STDS, alphas)

    def test_bad_weights(self):
        with pytest.raises(UsageError, match="sum of 2"):
            masked_adain(torch.zeros(1, 3, 4, 4), torch.ones(1, 2, 4, 4), self.STYLE_MEANS, self.STYLE_STDS, [1.0, 1.0])
        negative = _half_masks(1, 4, 4)
        negative[0, 0, 0, 0] = -1.0
        with pytest.raises(UsageError, match="-1.0"):
            masked_adain(torch.zeros(1, 3, 4, 4), negative, self.STYLE_MEANS, self.STYLE_STDS, [1.0, 1.0])

    def test_gradcheck(self):
        content = _features(1, 2, 3, 3, seed=23, dtype=torch.float64).requires_grad_()
        mask = torch.rand(1, 1, 3, 3, generator=torch.Generator().manual_seed(24), dtype=torch.float64)
        weights = torch.cat([mask, 1 - mask], dim=1).requires_grad_()
        means = _stats([[1.0, -1.0], [0.5, 2.0]]).double().requires_grad_()
        stds = _stats([[2.0, 0.5], [1.0, 3.0]]).double().requires_grad_()
        assert gradcheck(lambda c, w, m, s: masked_adain(c, w, m, s, [1.0, 0.6]), (content, weights, means, stds))
