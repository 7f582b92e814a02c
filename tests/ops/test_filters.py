"""Tests for adain.ops.filters: O(1) box filter and the guided filter (He et al. 2010)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from adain.errors import ShapeError, UsageError
from adain.ops import box_filter, guided_filter, rgb_to_yuv


def _rand(*shape: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


def _naive_box(image: torch.Tensor, radius: int) -> torch.Tensor:
    """Reference: mean over the window clipped to the image, pixel by pixel."""
    _, _, height, width = image.shape
    out = torch.empty_like(image)
    for i in range(height):
        for j in range(width):
            window = image[:, :, max(i - radius, 0) : i + radius + 1, max(j - radius, 0) : j + radius + 1]
            out[:, :, i, j] = window.mean(dim=(2, 3))
    return out


def _step(height: int = 16, width: int = 16, edge: int = 8) -> torch.Tensor:
    image = torch.zeros(1, 1, height, width)
    image[..., edge:] = 1.0
    return image


class TestBoxFilter:
    def test_smoke_values(self):
        image = torch.zeros(1, 1, 3, 3)
        image[0, 0, 1, 1] = 9.0
        out = box_filter(image, 1)[0, 0]
        # corner windows have 4 pixels, edge windows 6, the centre window 9
        expected = torch.tensor([[9 / 4, 9 / 6, 9 / 4], [9 / 6, 1.0, 9 / 6], [9 / 4, 9 / 6, 9 / 4]])
        assert torch.allclose(out, expected)

    def test_one_dimensional(self):
        out = box_filter(torch.tensor([0.0, 3.0, 6.0, 9.0]).view(1, 1, 1, 4), 1)
        assert out.flatten().tolist() == [1.5, 3.0, 6.0, 7.5]

    @pytest.mark.parametrize("radius", [1, 2, 3, 10])
    def test_matches_naive_window_mean(self, radius):
        image = _rand(2, 3, 7, 9, seed=radius)
        assert torch.allclose(box_filter(image, radius), _naive_box(image, radius), atol=1e-6)

    def test_constant_stays_constant(self):
        image = torch.full((1, 2, 9, 7), 0.37)
        assert torch.allclose(box_filter(image, 3), image, atol=1e-7)

    def test_radius_zero_is_identity(self):
        image = _rand(1, 1, 4, 4)
        out = box_filter(image, 0)
        assert torch.equal(out, image) and out is not image

    def test_precision_on_long_rows(self):
        image = _rand(1, 1, 2, 20000, seed=1)
        out = box_filter(image, 2)
        expected = F.avg_pool2d(image.double(), (1, 5), stride=1)  # interior windows: full 5 wide over both rows
        expected = expected.mean(dim=2, keepdim=True).expand(-1, -1, 2, -1)
        assert torch.allclose(out[..., 2:-2].double(), expected, atol=1e-6)

    def test_batch_and_non_contiguous(self):
        image = _rand(3, 2, 6, 5, seed=2).transpose(2, 3)
        out = box_filter(image, 2)
        for b in range(3):
            assert torch.allclose(out[b : b + 1], _naive_box(image[b : b + 1].contiguous(), 2), atol=1e-6)

    def test_dtype_preserved(self):
        assert box_filter(_rand(1, 1, 4, 4, dtype=torch.float16), 1).dtype == torch.float16

    @pytest.mark.parametrize("radius", [-1, 1.5, True, "2"])
    def test_bad_radius(self, radius):
        with pytest.raises(UsageError, match="Got"):
            box_filter(torch.zeros(1, 1, 4, 4), radius)

    def test_bad_image(self):
        with pytest.raises(ShapeError, match=r"Got \(4, 4\)"):
            box_filter(torch.zeros(4, 4), 1)
        with pytest.raises(UsageError, match="int64"):
            box_filter(torch.zeros(1, 1, 4, 4, dtype=torch.int64), 1)

    def test_gradcheck(self):
        image = _rand(1, 2, 4, 5, seed=3, dtype=torch.float64).requires_grad_()
        assert gradcheck(lambda x: box_filter(x, 1), (image,))


class TestGuidedFilter:
    def test_constant_source_is_constant(self):
        guide = _rand(1, 3, 12, 12, seed=10)
        source = torch.full((1, 2, 12, 12), 0.6)
        assert torch.allclose(guided_filter(guide, source, radius=3, eps=1e-3), source, atol=1e-5)

    def test_preserves_guide_edge_better_than_box_blur(self):
        guide = _step()
        noise = 0.05 * torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(11))
        source = guide + noise
        radius = 3
        guided = guided_filter(guide, source, radius=radius, eps=1e-2)
        blurred = box_filter(source, radius)
        band = slice(8 - radius - 1, 8 + radius + 1)  # the columns the box blur smears
        guided_error = (guided - guide)[..., band].abs().mean()
        blurred_error = (blurred - guide)[..., band].abs().mean()
        assert guided_error < 0.2 * blurred_error
        # and it still smooths: away from the edge the noise is reduced
        assert (guided - guide)[..., :4].std() < 0.5 * noise[..., :4].std()

    def test_small_eps_returns_the_guide(self):
        guide = _rand(1, 1, 10, 10, seed=12, dtype=torch.float64)
        assert torch.allclose(guided_filter(guide, guide, radius=2, eps=1e-10), guide, atol=1e-4)
        step = _step()
        assert torch.allclose(guided_filter(step, step, radius=2, eps=1e-8), step, atol=1e-4)

    def test_large_eps_is_double_box_blur(self):
        guide = _rand(1, 1, 9, 9, seed=13, dtype=torch.float64)
        source = _rand(1, 2, 9, 9, seed=14, dtype=torch.float64)
        expected = box_filter(box_filter(source, 2), 2)
        assert torch.allclose(guided_filter(guide, source, radius=2, eps=1e8), expected, atol=1e-6)

    def test_smoke_values(self):
        # Guide 0/1 step, source a constant 2 on the left and 5 on the right: with a small eps
        # every window fits q = 3 I + 2 exactly, so the step is reproduced without blur.
        guide = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0], dtype=torch.float64).view(1, 1, 1, 6)
        source = 3 * guide + 2
        assert guided_filter(guide, source, radius=1, eps=1e-9).flatten().tolist() == pytest.approx(
            [2, 2, 2, 5, 5, 5], abs=1e-4
        )

    def test_rgb_guide_uses_luminance(self):
        guide = _rand(2, 3, 8, 8, seed=15)
        source = _rand(2, 3, 8, 8, seed=16)
        luminance = rgb_to_yuv(guide)[:, :1]
        assert torch.allclose(guided_filter(guide, source), guided_filter(luminance, source), atol=1e-5)

    def test_channel_wise_and_batch(self):
        guide = _rand(3, 1, 8, 7, seed=17)
        source = _rand(3, 2, 8, 7, seed=18)
        out = guided_filter(guide, source, radius=2)
        assert out.shape == source.shape
        for b in range(3):
            for c in range(2):
                single = guided_filter(guide[b : b + 1], source[b : b + 1, c : c + 1], radius=2)
                assert torch.allclose(out[b : b + 1, c : c + 1], single, atol=1e-6)
        shared = guided_filter(guide[:1], source, radius=2)
        assert torch.allclose(shared[2:], guided_filter(guide[:1], source[2:], radius=2), atol=1e-6)

    def test_non_contiguous(self):
        guide = _rand(1, 3, 8, 6, seed=19).transpose(2, 3)
        source = _rand(1, 3, 6, 16, seed=20)[..., ::2]
        expected = guided_filter(guide.contiguous(), source.contiguous(), radius=2)
        assert torch.allclose(guided_filter(guide, source, radius=2), expected, atol=1e-6)

    def test_dtype_preserved(self):
        out = guided_filter(_rand(1, 1, 6, 6, dtype=torch.float16), _rand(1, 3, 6, 6, seed=1, dtype=torch.float16))
        assert out.dtype == torch.float16

    @pytest.mark.parametrize("guide_shape", [(1, 1, 8, 7), (1, 2, 8, 8), (2, 1, 8, 8), (1, 8, 8)])
    def test_bad_guide_shape(self, guide_shape):
        with pytest.raises(ShapeError, match=r"Got \(" + ", ".join(map(str, guide_shape))):
            guided_filter(torch.zeros(guide_shape), torch.zeros(3, 3, 8, 8))

    def test_bad_source_shape(self):
        with pytest.raises(ShapeError, match=r"Got \(3, 8, 8\)"):
            guided_filter(torch.zeros(1, 1, 8, 8), torch.zeros(3, 8, 8))

    @pytest.mark.parametrize("eps", [0.0, -1.0, float("nan"), float("inf"), "small"])
    def test_bad_eps(self, eps):
        with pytest.raises(UsageError, match="Got"):
            guided_filter(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4), eps=eps)

    def test_bad_radius(self):
        with pytest.raises(UsageError, match="Got -2"):
            guided_filter(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4), radius=-2)

    def test_gradcheck(self):
        guide = _rand(1, 1, 5, 5, seed=21, dtype=torch.float64).requires_grad_()
        source = _rand(1, 2, 5, 5, seed=22, dtype=torch.float64).requires_grad_()
        assert gradcheck(lambda g, s: guided_filter(g, s, radius=1, eps=1e-2), (guide, source))
