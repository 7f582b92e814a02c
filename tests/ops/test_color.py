"""Tests for adain.ops.color: BT.601 YUV and the two colour preservation modes."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck

from adain.errors import ShapeError, UsageError
from adain.ops import match_color_statistics, rgb_to_yuv, transfer_luminance, yuv_to_rgb


def _rand(*shape: int, seed: int = 0, low: float = 0.0, high: float = 1.0, dtype=torch.float32):
    values = torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (low + (high - low) * values).to(dtype)


def _color(r: float, g: float, b: float, height: int = 1, width: int = 1) -> torch.Tensor:
    return torch.tensor([r, g, b]).view(1, 3, 1, 1).expand(1, 3, height, width).contiguous()


def _mean_cov(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample RGB mean (B, 3) and biased covariance (B, 3, 3), in float64."""
    pixels = image.double().flatten(2)
    mean = pixels.mean(2)
    centered = pixels - mean.unsqueeze(2)
    return mean, centered @ centered.transpose(1, 2) / pixels.shape[2]


class TestRgbYuv:
    @pytest.mark.parametrize(
        ("rgb", "yuv"),
        [
            ((1.0, 1.0, 1.0), (1.0, 0.0, 0.0)),
            ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
            ((0.5, 0.5, 0.5), (0.5, 0.0, 0.0)),
            # BT.601: Y = 0.299 R + 0.587 G + 0.114 B; pure blue has U = Umax, pure red V = Vmax
            ((1.0, 0.0, 0.0), (0.299, -0.436 * 0.299 / 0.886, 0.615)),
            ((0.0, 0.0, 1.0), (0.114, 0.436, -0.615 * 0.114 / 0.701)),
            ((0.0, 1.0, 0.0), (0.587, -0.436 * 0.587 / 0.886, -0.615 * 0.587 / 0.701)),
        ],
    )
    def test_smoke_values(self, rgb, yuv):
        got = rgb_to_yuv(_color(*rgb)).flatten().tolist()
        assert got == pytest.approx(yuv, abs=1e-6)
        assert yuv_to_rgb(torch.tensor(yuv).view(1, 3, 1, 1)).flatten().tolist() == pytest.approx(rgb, abs=1e-6)

    def test_round_trip(self):
        image = _rand(2, 3, 7, 5, seed=1)
        assert torch.allclose(yuv_to_rgb(rgb_to_yuv(image)), image, atol=1e-6)
        image64 = image.double()
        assert torch.allclose(yuv_to_rgb(rgb_to_yuv(image64)), image64, atol=1e-12)

    def test_batch_and_non_contiguous(self):
        image = _rand(3, 3, 6, 4, seed=2).transpose(2, 3)
        assert not image.is_contiguous()
        out = rgb_to_yuv(image)
        assert out.shape == (3, 3, 4, 6)
        for b in range(3):
            assert torch.allclose(out[b : b + 1], rgb_to_yuv(image[b : b + 1].contiguous()), atol=1e-6)

    def test_dtype_preserved(self):
        assert rgb_to_yuv(_rand(1, 3, 2, 2, dtype=torch.float64)).dtype == torch.float64
        assert yuv_to_rgb(_rand(1, 3, 2, 2, dtype=torch.float16)).dtype == torch.float16

    @pytest.mark.parametrize("shape", [(1, 4, 2, 2), (1, 1, 2, 2), (3, 2, 2)])
    @pytest.mark.parametrize("function", [rgb_to_yuv, yuv_to_rgb])
    def test_bad_shape(self, function, shape):
        with pytest.raises(ShapeError, match=r"Got \(" + ", ".join(map(str, shape))):
            function(torch.zeros(shape))

    def test_integer_image(self):
        with pytest.raises(UsageError, match="torch.uint8"):
            rgb_to_yuv(torch.zeros(1, 3, 2, 2, dtype=torch.uint8))

    def test_gradcheck(self):
        image = _rand(1, 3, 2, 2, seed=3, dtype=torch.float64).requires_grad_()
        assert gradcheck(rgb_to_yuv, (image,))
        assert gradcheck(yuv_to_rgb, (image,))


class TestTransferLuminance:
    def test_keeps_stylized_y_and_content_uv(self):
        # Moderate values keep the result inside [0, 1], so nothing is clamped.
        stylized = _rand(2, 3, 8, 8, seed=4, low=0.35, high=0.65)
        content = _rand(2, 3, 8, 8, seed=5, low=0.4, high=0.6)
        out = transfer_luminance(stylized, content)
        assert out.shape == stylized.shape
        out_yuv = rgb_to_yuv(out)
        assert torch.allclose(out_yuv[:, :1], rgb_to_yuv(stylized)[:, :1], atol=1e-5)
        assert torch.allclose(out_yuv[:, 1:], rgb_to_yuv(content)[:, 1:], atol=1e-5)

    def test_smoke_value(self):
        # Gray stylized (Y = 0.5) with a pinkish content: Y 0.5 and the content's chroma.
        out = transfer_luminance(_color(0.5, 0.5, 0.5), _color(0.6, 0.4, 0.4))
        content_yuv = rgb_to_yuv(_color(0.6, 0.4, 0.4)).flatten().tolist()
        expected = yuv_to_rgb(torch.tensor([0.5, content_yuv[1], content_yuv[2]]).view(1, 3, 1, 1))
        assert torch.allclose(out, expected, atol=1e-6)
        assert out.flatten().tolist() == pytest.approx([0.5 + 0.1402, 0.5 - 0.0598, 0.5 - 0.0598], abs=1e-4)

    def test_gray_content_gives_gray_output(self):
        out = transfer_luminance(_rand(1, 3, 6, 6, seed=6, low=0.2, high=0.8), torch.full((1, 3, 6, 6), 0.3))
        assert torch.allclose(out[:, 0], out[:, 1], atol=1e-6) and torch.allclose(out[:, 1], out[:, 2], atol=1e-6)

    def test_different_sizes(self):
        content = _color(0.6, 0.45, 0.4, 16, 12)
        stylized = _rand(1, 3, 8, 6, seed=7, low=0.4, high=0.6)
        out = transfer_luminance(stylized, content)
        assert out.shape == (1, 3, 8, 6)
        assert torch.allclose(rgb_to_yuv(out)[:, 1:], rgb_to_yuv(content)[:, 1:, :8, :6], atol=1e-5)

    def test_clamped(self):
        out = transfer_luminance(torch.ones(1, 3, 4, 4), _color(1.0, 0.0, 0.0, 4, 4))
        assert out.min() >= 0.0 and out.max() <= 1.0

    def test_batch_broadcast_content(self):
        stylized = _rand(3, 3, 5, 5, seed=8)
        content = _rand(1, 3, 5, 5, seed=9)
        out = transfer_luminance(stylized, content)
        for b in range(3):
            assert torch.allclose(out[b : b + 1], transfer_luminance(stylized[b : b + 1], content), atol=1e-6)

    def test_non_contiguous(self):
        stylized = _rand(1, 3, 6, 5, seed=10).transpose(2, 3)
        content = _rand(1, 3, 5, 12, seed=11)[..., ::2]
        assert torch.allclose(
            transfer_luminance(stylized, content), transfer_luminance(stylized.contiguous(), content.contiguous())
        )

    def test_errors(self):
        with pytest.raises(ShapeError, match=r"Got \(1, 1, 4, 4\)"):
            transfer_luminance(torch.zeros(1, 1, 4, 4), torch.zeros(1, 3, 4, 4))
        with pytest.raises(ShapeError, match=r"Got \(2, 3, 4, 4\)"):
            transfer_luminance(torch.zeros(3, 3, 4, 4), torch.zeros(2, 3, 4, 4))

    def test_gradcheck(self):
        stylized = _rand(1, 3, 3, 3, seed=12, low=0.4, high=0.6, dtype=torch.float64).requires_grad_()
        content = _rand(1, 3, 3, 3, seed=13, low=0.45, high=0.55, dtype=torch.float64).requires_grad_()
        assert gradcheck(transfer_luminance, (stylized, content))


def _correlated_target(batch: int, height: int, width: int, seed: int) -> torch.Tensor:
    """A content-like image: colours around 0.5 with correlated channels, well inside [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(batch, 3, height * width, generator=gen, dtype=torch.float64)
    mixing = torch.tensor([[0.06, 0.02, 0.0], [0.03, 0.05, 0.01], [-0.02, 0.01, 0.04]], dtype=torch.float64)
    center = torch.tensor([0.55, 0.45, 0.5], dtype=torch.float64).view(1, 3, 1)
    return (mixing @ noise + center).clamp(0, 1).view(batch, 3, height, width).float()


class TestMatchColorStatistics:
    def test_output_has_target_mean_and_covariance(self):
        source = _rand(1, 3, 24, 20, seed=20)  # uniform RGB: mean 0.5, covariance I / 12
        target = _correlated_target(1, 16, 18, seed=21)
        out = match_color_statistics(source, target)
        assert out.shape == source.shape and out.dtype == source.dtype
        assert out.min() > 0 and out.max() < 1, "test data should not need clamping"
        out_mean, out_cov = _mean_cov(out)
        target_mean, target_cov = _mean_cov(target)
        assert torch.allclose(out_mean, target_mean, atol=1e-5)
        assert torch.allclose(out_cov, target_cov, atol=2e-5)
        # the covariance really changed: off-diagonal terms were ~0 in the source
        assert abs(target_cov[0, 0, 1].item()) > 1e-3

    def test_smoke_values(self):
        # Two-colour source: black/white stripes; target: two reddish tones. Mean and spread
        # of each channel are matched, so the stripes become the target's two tones.
        source = torch.tensor([0.0, 1.0, 0.0, 1.0]).view(1, 1, 1, 4).expand(1, 3, 1, 4).contiguous()
        target = torch.stack([torch.tensor([0.8, 0.4, 0.3]), torch.tensor([0.6, 0.2, 0.1])], dim=1).view(1, 3, 1, 2)
        out = match_color_statistics(source, target, eps=1e-9)
        assert out[0, :, 0, 0].tolist() == pytest.approx([0.6, 0.2, 0.1], abs=1e-3)
        assert out[0, :, 0, 1].tolist() == pytest.approx([0.8, 0.4, 0.3], abs=1e-3)

    def test_constant_source_becomes_target_mean(self):
        target = _correlated_target(1, 8, 8, seed=22)
        out = match_color_statistics(torch.full((1, 3, 5, 5), 0.2), target)
        assert torch.allclose(out, target.mean(dim=(2, 3), keepdim=True).expand_as(out), atol=1e-6)
        assert torch.isfinite(out).all()

    def test_batch_cardinality(self):
        source = _rand(2, 3, 10, 10, seed=23)
        target = _correlated_target(2, 9, 7, seed=24)
        out = match_color_statistics(source, target)
        for b in range(2):
            single = match_color_statistics(source[b : b + 1], target[b : b + 1])
            assert torch.allclose(out[b : b + 1], single, atol=1e-6)
        shared = match_color_statistics(source, target[:1])
        assert torch.allclose(shared[1:], match_color_statistics(source[1:], target[:1]), atol=1e-6)

    def test_non_contiguous(self):
        source = _rand(1, 3, 8, 10, seed=25).transpose(2, 3)
        target = _correlated_target(1, 8, 16, seed=26)[..., ::2]
        expected = match_color_statistics(source.contiguous(), target.contiguous())
        assert torch.allclose(match_color_statistics(source, target), expected, atol=1e-6)

    def test_errors(self):
        with pytest.raises(ShapeError, match=r"Got \(1, 1, 4, 4\)"):
            match_color_statistics(torch.zeros(1, 1, 4, 4), torch.zeros(1, 3, 4, 4))
        with pytest.raises(ShapeError, match=r"Got \(2, 3, 4, 4\)"):
            match_color_statistics(torch.zeros(3, 3, 4, 4), torch.zeros(2, 3, 4, 4))
        with pytest.raises(UsageError, match="Got 0"):
            match_color_statistics(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), eps=0)

    def test_gradcheck(self):
        source = _rand(1, 3, 3, 3, seed=27, low=0.3, high=0.7, dtype=torch.float64).requires_grad_()
        target = _correlated_target(1, 3, 3, seed=28).double().requires_grad_()
        assert gradcheck(match_color_statistics, (source, target))
