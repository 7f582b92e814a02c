"""Tests for adain.ops.statistics: channel statistics, AdaIN, style mixing, content-style blend."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

from adain.errors import ShapeError, UsageError
from adain.ops import adain, adain_from_statistics, blend_features, channel_mean_std, mix_statistics
from adain.ops import statistics as statistics_module

EPS = 1e-5


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _features(*shape: int, seed: int = 0, scale: float = 1.0, shift: float = 0.0, dtype=torch.float32):
    return (torch.randn(*shape, generator=_generator(seed), dtype=torch.float64) * scale + shift).to(dtype)


class TestChannelMeanStd:
    @pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
    def test_channels_last_equals_contiguous_with_gradients(self, dtype):
        features = (torch.randn(2, 5, 7, 3) * 3 + 1).to(dtype)
        plain = features.clone().requires_grad_(True)
        last = features.contiguous(memory_format=torch.channels_last).requires_grad_(True)
        assert not last.is_contiguous()
        results = [channel_mean_std(x) for x in (plain, last)]
        for a, b in zip(*results):
            assert a.dtype == b.dtype == torch.float32
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        for _x, (mean, std) in zip((plain, last), results):
            (mean.sum() + std.square().sum()).backward()
        torch.testing.assert_close(plain.grad.float(), last.grad.float(), rtol=1e-2, atol=1e-3)

    @pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
    @pytest.mark.parametrize(
        ("scale", "shift", "std_tolerance"), [(3.0, 1.0, 1e-5), (1.0, 50.0, 1e-5)], ids=["centred", "large-mean"]
    )
    def test_half_precision_channels_last_matches_float64(self, dtype, scale, shift, std_tolerance):
        """The half-precision fast path (shifted float32 sums, fused backward) against float64
        statistics of the very same half-precision values, with separate upstream gradients.

        Its variance is E[d^2] - E[d]^2 of values shifted by a first estimate of the mean, so
        even at mean / std = 50 (ReLU features sit near 1) it does not cancel."""
        features = _features(2, 6, 9, 11, scale=scale, shift=shift, dtype=dtype).contiguous(
            memory_format=torch.channels_last
        )
        fast = features.clone().requires_grad_(True)
        exact = features.double().requires_grad_(True)
        (mean, std), (mean64, std64) = channel_mean_std(fast), channel_mean_std(exact)
        assert mean.dtype == std.dtype == torch.float32
        torch.testing.assert_close(mean.double(), mean64, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(std.double(), std64, rtol=std_tolerance, atol=1e-5)
        grad_mean, grad_std = (
            torch.randn(mean.shape, generator=_generator(1)),
            torch.randn(std.shape, generator=_generator(2)),
        )
        ((mean * grad_mean).sum() + (std * grad_std).sum()).backward()
        ((mean64 * grad_mean.double()).sum() + (std64 * grad_std.double()).sum()).backward()
        assert fast.grad.dtype == dtype and fast.grad.is_contiguous(memory_format=torch.channels_last)
        largest = exact.grad.abs().max()
        torch.testing.assert_close(fast.grad.double() / largest, exact.grad / largest, rtol=0, atol=1e-2)

    @pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
    @pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels-last"])
    def test_chunked_inference_path_matches_float64(self, monkeypatch, dtype, channels_last):
        """Without gradients the statistics are summed chunk by chunk; with tiny chunks (many of
        them, the last one short) and mean / std = 1000 they still equal float64's."""
        monkeypatch.setattr(statistics_module, "STATISTICS_CHUNK_ELEMENTS", 7)
        features = _features(3, 4, 9, 13, scale=1.0, shift=1000.0 if dtype != torch.float16 else 50.0, dtype=dtype)
        if channels_last:
            features = features.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            mean, std = channel_mean_std(features)
        exact_mean, exact_std = channel_mean_std(features.double())
        assert mean.dtype == std.dtype == torch.float32 and mean.shape == std.shape == (3, 4, 1, 1)
        torch.testing.assert_close(mean.double(), exact_mean, rtol=1e-6, atol=0)
        torch.testing.assert_close(std.double(), exact_std, rtol=1e-5, atol=0)

    def test_smoke_values(self):
        features = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
        mean, std = channel_mean_std(features)
        assert mean.shape == std.shape == (1, 1, 1, 1)
        assert mean.item() == pytest.approx(2.5)
        # biased variance of 1, 2, 3, 4 is 1.25
        assert std.item() == pytest.approx(math.sqrt(1.25 + EPS))

    def test_eps_keeps_constant_map_finite(self):
        _, std = channel_mean_std(torch.full((1, 2, 4, 4), 7.0), eps=1e-4)
        assert torch.allclose(std, torch.full_like(std, 1e-2))

    def test_per_sample_per_channel(self):
        features = _features(3, 4, 5, 6)
        mean, std = channel_mean_std(features)
        assert mean.shape == (3, 4, 1, 1)
        for b in range(3):
            for c in range(4):
                values = features[b, c].double()
                assert mean[b, c].item() == pytest.approx(values.mean().item(), abs=1e-5)
                assert std[b, c].item() == pytest.approx(math.sqrt(values.var(unbiased=False).item() + EPS), abs=1e-5)

    def test_non_contiguous(self):
        features = _features(2, 3, 6, 5)
        transposed = features.transpose(2, 3)
        assert not transposed.is_contiguous()
        for got, expected in zip(channel_mean_std(transposed), channel_mean_std(transposed.contiguous())):
            assert torch.allclose(got, expected)

    def test_dtypes(self):
        assert channel_mean_std(_features(1, 2, 3, 3, dtype=torch.bfloat16))[0].dtype == torch.float32
        assert channel_mean_std(_features(1, 2, 3, 3, dtype=torch.float64))[0].dtype == torch.float64

    @pytest.mark.parametrize("shape", [(2, 3), (1, 2, 3), (1, 1, 2, 3, 4)])
    def test_bad_shape(self, shape):
        with pytest.raises(ShapeError, match=r"Got \(" + ", ".join(map(str, shape))):
            channel_mean_std(torch.zeros(shape))

    def test_gradcheck(self):
        features = _features(1, 2, 3, 3, dtype=torch.float64).requires_grad_()
        assert gradcheck(lambda x: channel_mean_std(x), (features,))


class TestAdainFromStatistics:
    @pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
    def test_half_precision_inference_is_within_rounding(self, dtype):
        """Without gradients a half-precision map is scaled and shifted in its own dtype (no float32
        copy): the result stays within a few roundings of float64's, as with gradients."""
        features = _features(2, 8, 16, 16, scale=2.0, shift=3.0, dtype=dtype).contiguous(
            memory_format=torch.channels_last
        )
        style_mean, style_std = torch.rand(1, 8, 1, 1, generator=_generator(3)) * 5, torch.rand(1, 8, 1, 1) + 0.1
        with torch.no_grad():
            fast = adain_from_statistics(features, style_mean, style_std)
        tracked = adain_from_statistics(features.clone().requires_grad_(True), style_mean, style_std)
        exact = adain_from_statistics(features.double(), style_mean.double(), style_std.double())
        assert fast.dtype == tracked.dtype == dtype
        unit = 2.0**-8 * float(exact.abs().max())
        for result in (fast, tracked.detach()):
            assert float((result.double() - exact).abs().max()) <= 4 * unit

    def test_smoke_values(self):
        content = torch.tensor([0.0, 2.0]).view(1, 1, 1, 2)  # mean 1, std ~1
        out = adain_from_statistics(content, torch.full((1, 1, 1, 1), 10.0), torch.full((1, 1, 1, 1), 3.0))
        assert out.flatten().tolist() == pytest.approx([7.0, 13.0], abs=1e-4)

    def test_style_batch_broadcast(self):
        content = _features(3, 2, 4, 4)
        mean, std = torch.tensor([1.0, -1.0]).view(1, 2, 1, 1), torch.tensor([2.0, 0.5]).view(1, 2, 1, 1)
        out = adain_from_statistics(content, mean, std)
        out_mean, out_std = channel_mean_std(out)
        assert torch.allclose(out_mean, mean.expand(3, -1, -1, -1), atol=1e-4)
        assert torch.allclose(out_std, std.expand(3, -1, -1, -1), atol=1e-3)

    @pytest.mark.parametrize("stat_shape", [(1, 3, 1, 1), (1, 2), (1, 2, 2, 1), (2, 2, 1, 1)])
    def test_bad_statistics_shape(self, stat_shape):
        content = torch.zeros(3, 2, 4, 4)
        with pytest.raises(ShapeError, match="Got"):
            adain_from_statistics(content, torch.zeros(stat_shape), torch.ones(1, 2, 1, 1))
        with pytest.raises(ShapeError, match="Got"):
            adain_from_statistics(content, torch.zeros(1, 2, 1, 1), torch.ones(stat_shape))


class TestAdain:
    def test_output_has_style_statistics(self):
        content = _features(2, 8, 12, 10, seed=1, scale=0.5, shift=-1.0)
        style = _features(2, 8, 7, 9, seed=2, scale=3.0, shift=2.0)
        out = adain(content, style)
        assert out.shape == content.shape
        out_mean, out_std = channel_mean_std(out)
        style_mean, style_std = channel_mean_std(style)
        assert torch.allclose(out_mean, style_mean, atol=1e-4)
        assert torch.allclose(out_std, style_std, rtol=1e-3)

    def test_keeps_content_structure(self):
        """AdaIN is a per-channel positive affine map: the normalised content is unchanged."""
        content = _features(1, 3, 6, 6, seed=3)
        out = adain(content, _features(1, 3, 5, 5, seed=4, scale=2.0))
        normalise = lambda x: (x - x.mean((2, 3), keepdim=True)) / x.std((2, 3), keepdim=True)  # noqa: E731
        assert torch.allclose(normalise(out), normalise(content), atol=1e-3)

    def test_batch_cardinality(self):
        content = _features(3, 4, 6, 6, seed=5)
        style = _features(3, 4, 5, 5, seed=6, scale=2.0, shift=1.0)
        out = adain(content, style)
        for b in range(3):
            assert torch.allclose(out[b : b + 1], adain(content[b : b + 1], style[b : b + 1]), atol=1e-5)
        shared = adain(content, style[:1])
        assert torch.allclose(shared[2:3], adain(content[2:3], style[:1]), atol=1e-5)

    def test_non_contiguous(self):
        content = _features(2, 3, 6, 8, seed=7).transpose(2, 3)
        style = _features(2, 3, 6, 8, seed=8)[..., ::2]
        assert not content.is_contiguous() and not style.is_contiguous()
        assert torch.allclose(adain(content, style), adain(content.contiguous(), style.contiguous()), atol=1e-6)

    def test_dtype_preserved(self):
        out = adain(_features(1, 2, 4, 4, dtype=torch.bfloat16), _features(1, 2, 4, 4, seed=1, dtype=torch.bfloat16))
        assert out.dtype == torch.bfloat16

    def test_channel_mismatch(self):
        with pytest.raises(ShapeError, match=r"Got \(1, 3, 1, 1\)"):
            adain(torch.zeros(1, 4, 5, 5), torch.zeros(1, 3, 5, 5))

    def test_bad_style_rank(self):
        with pytest.raises(ShapeError, match=r"Got \(3, 5, 5\)"):
            adain(torch.zeros(1, 3, 5, 5), torch.zeros(3, 5, 5))

    def test_gradcheck(self):
        content = _features(1, 2, 3, 3, seed=9, dtype=torch.float64).requires_grad_()
        style = _features(1, 2, 3, 2, seed=10, dtype=torch.float64).requires_grad_()
        assert gradcheck(adain, (content, style))


class TestMixStatistics:
    @pytest.fixture
    def statistics(self):
        means = torch.tensor([[1.0, 2.0], [5.0, -2.0]]).view(2, 2, 1, 1)
        stds = torch.tensor([[1.0, 3.0], [2.0, 1.0]]).view(2, 2, 1, 1)
        return means, stds

    def test_one_hot_is_single_style(self, statistics):
        means, stds = statistics
        mean, std = mix_statistics(means, stds, [1.0, 0.0])
        assert torch.equal(mean, means[:1]) and torch.equal(std, stds[:1])
        mean, std = mix_statistics(means, stds, [0.0, 1.0])
        assert torch.equal(mean, means[1:]) and torch.equal(std, stds[1:])

    def test_equal_weights_average(self, statistics):
        means, stds = statistics
        mean, std = mix_statistics(means, stds, [0.5, 0.5])
        assert mean.flatten().tolist() == pytest.approx([3.0, 0.0])
        assert std.flatten().tolist() == pytest.approx([1.5, 2.0])

    def test_weights_normalised(self, statistics):
        means, stds = statistics
        for got, expected in zip(mix_statistics(means, stds, [2.0, 2.0]), mix_statistics(means, stds, [0.5, 0.5])):
            assert torch.allclose(got, expected)
        mean, _ = mix_statistics(means, stds, torch.tensor([1.0, 3.0]))
        assert mean.flatten().tolist() == pytest.approx([4.0, -1.0])

    def test_mixed_adain_equals_weighted_adain_outputs(self):
        """The paper interpolates AdaIN outputs; mixing statistics first is the same thing."""
        content = _features(1, 3, 5, 5, seed=11)
        styles = [_features(1, 3, 4, 4, seed=12 + k, scale=1.0 + k, shift=k) for k in range(3)]
        stats = [channel_mean_std(s) for s in styles]
        means, stds = torch.cat([m for m, _ in stats]), torch.cat([s for _, s in stats])
        weights = [0.2, 0.3, 0.5]
        mixed = adain_from_statistics(content, *mix_statistics(means, stds, weights))
        expected = sum(w * adain(content, s) for w, s in zip(weights, styles))
        assert torch.allclose(mixed, expected, atol=1e-5)

    @pytest.mark.parametrize("weights", [[-1.0, 2.0], [0.0, 0.0], [float("nan"), 1.0], [float("inf"), 1.0]])
    def test_bad_weights(self, statistics, weights):
        with pytest.raises(UsageError, match="Got"):
            mix_statistics(*statistics, weights)

    def test_weight_count(self, statistics):
        with pytest.raises(ShapeError, match="Got 3"):
            mix_statistics(*statistics, [1.0, 1.0, 1.0])

    def test_shape_mismatch(self, statistics):
        means, stds = statistics
        with pytest.raises(ShapeError, match="Got"):
            mix_statistics(means, stds[:1], [1.0, 1.0])


class TestBlendFeatures:
    def test_ends_are_exact(self):
        content = _features(2, 3, 4, 4, seed=20)
        stylized = adain(content, _features(2, 3, 4, 4, seed=21, scale=4.0, shift=3.0))
        assert torch.equal(blend_features(content, stylized, 0.0), content)
        assert torch.equal(blend_features(content, stylized, 1.0), stylized)
        assert torch.equal(blend_features(content, stylized, 0), content)

    def test_result_is_a_new_tensor(self):
        content = torch.zeros(1, 1, 2, 2)
        out = blend_features(content, torch.ones(1, 1, 2, 2), 0.0)
        out += 1
        assert torch.equal(content, torch.zeros(1, 1, 2, 2))

    def test_smoke_value(self):
        out = blend_features(torch.zeros(1, 2, 1, 1), torch.tensor([4.0, -8.0]).view(1, 2, 1, 1), 0.25)
        assert out.flatten().tolist() == [1.0, -2.0]

    @pytest.mark.parametrize("alpha", [-0.1, 1.1, float("nan"), float("inf"), "strong", None])
    def test_bad_alpha(self, alpha):
        with pytest.raises(UsageError, match="Got"):
            blend_features(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2), alpha)

    def test_shape_mismatch(self):
        with pytest.raises(ShapeError, match=r"Got \(1, 1, 2, 3\)"):
            blend_features(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 3), 0.5)
        with pytest.raises(ShapeError, match=r"Got \(2, 2\)"):
            blend_features(torch.zeros(2, 2), torch.ones(2, 2), 0.5)

    def test_batch_and_non_contiguous(self):
        content = _features(3, 2, 4, 5, seed=22).transpose(2, 3)
        stylized = _features(3, 2, 5, 4, seed=23)
        out = blend_features(content, stylized, 0.3)
        assert out.shape == (3, 2, 5, 4)
        assert torch.allclose(out, 0.3 * stylized + 0.7 * content.contiguous())

    def test_gradcheck(self):
        content = _features(1, 2, 2, 2, seed=24, dtype=torch.float64).requires_grad_()
        stylized = _features(1, 2, 2, 2, seed=25, dtype=torch.float64).requires_grad_()
        assert gradcheck(lambda c, s: blend_features(c, s, 0.4), (content, stylized))


def _float64_moments(
    features: torch.Tensor, weights: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The moments by definition, in float64."""
    values = features.double()
    w = torch.ones_like(values[:, :1]) if weights is None else weights.double().expand(values.shape[0], 1, -1, -1)
    return (
        w.sum((2, 3), keepdim=True),
        (w * values).sum((2, 3), keepdim=True),
        (w * values**2).sum((2, 3), keepdim=True),
    )


class TestChannelMoments:
    """The float64 sums tiles add up for the whole image's statistics."""

    @pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
    @pytest.mark.parametrize("channels_last", [False, True])
    @pytest.mark.parametrize("weighted", [False, True])
    def test_equal_the_float64_sums(self, dtype: torch.dtype, channels_last: bool, weighted: bool) -> None:
        generator = torch.Generator().manual_seed(0)
        features = (torch.randn(2, 48, 90, 70, generator=generator) * 3 + 10).relu()
        if channels_last:
            features = features.to(memory_format=torch.channels_last)
        # a core cut from a window's map: strided, not contiguous in either layout
        core = features.to(dtype)[..., 5:85, 3:66]
        weights = torch.rand(1, 1, 80, 63, generator=generator) if weighted else None
        for value, expected in zip(statistics_module.channel_moments(core, weights), _float64_moments(core, weights)):
            assert value.dtype == torch.float64 and value.shape == expected.shape
            assert ((value - expected).abs() / expected.abs().clamp_min(1e-12)).max() < 1e-6

    def test_many_chunks_and_a_large_mean(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # the sums are shifted per call: a mean 1000x the spread keeps its variance
        monkeypatch.setattr(statistics_module, "STATISTICS_CHUNK_ELEMENTS", 64)
        features = 1000 + torch.randn(1, 4, 40, 40, generator=torch.Generator().manual_seed(1))
        mean, std = statistics_module.mean_std_from_moments(*statistics_module.channel_moments(features))
        expected_mean, expected_std = statistics_module.mean_std_from_moments(*_float64_moments(features))
        torch.testing.assert_close(mean, expected_mean, rtol=1e-7, atol=0)
        torch.testing.assert_close(std, expected_std, rtol=1e-4, atol=0)

    def test_float64_and_autograd_take_the_exact_sums(self) -> None:
        features = torch.rand(1, 3, 5, 5, dtype=torch.float64, requires_grad=True)
        _total, first, second = statistics_module.channel_moments(features)
        assert torch.equal(first, features.sum((2, 3), keepdim=True))
        second.sum().backward()
        assert features.grad is not None

    def test_weights_must_match_the_map(self) -> None:
        with pytest.raises(ShapeError, match=r"weights must be \(B or 1, 1, 4, 4\)"):
            statistics_module.channel_moments(torch.rand(1, 2, 4, 4), torch.rand(1, 1, 4, 5))


class TestAdainAffine:
    """AdaIN blended with the content, as the per-channel map a decoder can fold."""

    @pytest.mark.parametrize("alpha", [1.0, 0.7, 0.0])
    def test_is_adain_blended_with_the_content(self, alpha: float) -> None:
        generator = torch.Generator().manual_seed(0)
        features = torch.rand(2, 4, 5, 6, generator=generator) * 20
        content_mean, content_std = channel_mean_std(features)
        style_mean = torch.randn(2, 4, 1, 1, generator=generator)
        style_std = torch.rand(2, 4, 1, 1, generator=generator) + 0.5
        scale, shift = statistics_module.adain_affine(content_mean, content_std, style_mean, style_std, alpha)
        target = statistics_module.adain_with_content_statistics(
            features, content_mean, content_std, style_mean, style_std
        )
        expected = blend_features(features, target, alpha)
        torch.testing.assert_close(scale * features + shift, expected, rtol=1e-5, atol=1e-4)

    def test_alpha_zero_is_the_identity(self) -> None:
        one = torch.ones(1, 3, 1, 1)
        scale, shift = statistics_module.adain_affine(one, 2 * one, 5 * one, 3 * one, alpha=0.0)
        assert torch.equal(scale, one) and torch.equal(shift, 0 * one)
