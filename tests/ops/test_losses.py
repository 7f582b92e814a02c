"""Tests for adain.ops.losses: content and style losses, Gram matrices, edge density, complexity weights."""

from __future__ import annotations

import math

import pytest
import torch

from adain.ops.losses import (
    complexity_weights,
    content_loss,
    edge_density,
    gram_matrix,
    style_loss,
    style_loss_from_statistics,
)
from adain.ops.taps import TAPS

EPS = 1e-5  # the variance epsilon of channel_mean_std


def _taps(batch: int = 2, seed: int = 0, scale: float = 1.0) -> dict[str, torch.Tensor]:
    """Feature maps shaped like relu1_1..relu4_1 of a 16 px image (few channels, to stay small)."""
    generator = torch.Generator().manual_seed(seed)
    shapes = {"relu1_1": (4, 16, 16), "relu2_1": (6, 8, 8), "relu3_1": (8, 4, 4), "relu4_1": (10, 2, 2)}
    return {tap: torch.rand(batch, *shape, generator=generator) * scale for tap, shape in shapes.items()}


def _hand_mean_std_loss(output: dict, style: dict, weights=(1.0, 1.0, 1.0, 1.0)) -> list[float]:
    """The paper's style loss written out with plain loops over samples and channels."""
    batch = output["relu1_1"].shape[0]
    totals = []
    for b in range(batch):
        total = 0.0
        for tap, weight in zip(TAPS, weights):
            o, s = output[tap][b].double(), style[tap][b].double()
            channels = o.shape[0]
            mean_term = std_term = 0.0
            for c in range(channels):
                o_mean, s_mean = o[c].mean().item(), s[c].mean().item()
                o_std = math.sqrt(((o[c] - o_mean) ** 2).mean().item() + EPS)
                s_std = math.sqrt(((s[c] - s_mean) ** 2).mean().item() + EPS)
                mean_term += (o_mean - s_mean) ** 2 / channels
                std_term += (o_std - s_std) ** 2 / channels
            total += weight * (mean_term + std_term)
        totals.append(total)
    return totals


class TestContentLoss:
    def test_per_sample_mse(self):
        output = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])
        target = torch.tensor([[[[1.0, 2.0], [3.0, 6.0]]], [[[1.0, -1.0], [1.0, -1.0]]]])
        loss = content_loss(output, target)
        assert loss.shape == (2,)
        assert loss.tolist() == pytest.approx([4 / 4, 4 / 4])

    def test_zero_for_identical_features_and_float32_for_bf16(self):
        features = _taps()["relu4_1"]
        assert torch.equal(content_loss(features, features.clone()), torch.zeros(2))
        assert content_loss(features.bfloat16(), features.bfloat16() + 1).dtype == torch.float32


class TestGramMatrix:
    def test_values_and_shape(self):
        features = torch.tensor([[1.0, 2.0], [0.0, 3.0]]).view(1, 2, 1, 2)  # two channels, two positions
        gram = gram_matrix(features)
        assert gram.shape == (1, 2, 2)
        # <c0, c0> = 1 + 4, <c0, c1> = 6, <c1, c1> = 9, divided by the 2 positions
        assert gram[0].tolist() == [[2.5, 3.0], [3.0, 4.5]]

    def test_matches_einsum_and_is_symmetric(self):
        features = _taps(batch=3)["relu2_1"]
        gram = gram_matrix(features)
        expected = torch.einsum("bchw,bdhw->bcd", features, features) / (8 * 8)
        torch.testing.assert_close(gram, expected)
        torch.testing.assert_close(gram, gram.transpose(1, 2))


class TestStyleLoss:
    def test_mean_std_equals_hand_computation(self):
        output, style = _taps(seed=0), _taps(seed=1, scale=2.0)
        loss = style_loss(output, style)
        assert loss.shape == (2,) and loss.dtype == torch.float32
        assert loss.tolist() == pytest.approx(_hand_mean_std_loss(output, style), rel=1e-5)

    def test_tap_weights_scale_and_drop_taps(self):
        output, style = _taps(seed=0), _taps(seed=1, scale=2.0)
        weights = (0.0, 2.0, 0.5, 1.0)
        loss = style_loss(output, style, tap_weights=weights)
        assert loss.tolist() == pytest.approx(_hand_mean_std_loss(output, style, weights), rel=1e-5)
        # the gram variant weights its taps the same way
        per_tap = [style_loss(output, style, "gram", tuple(float(i == j) for j in range(4))) for i in range(4)]
        weighted = sum(w * term for w, term in zip(weights, per_tap))
        torch.testing.assert_close(style_loss(output, style, "gram", weights), weighted)

    def test_zero_for_identical_features(self):
        taps = _taps(seed=3)
        copy = {tap: value.clone() for tap, value in taps.items()}
        assert torch.equal(style_loss(taps, copy), torch.zeros(2))
        assert torch.equal(style_loss(taps, copy, kind="gram"), torch.zeros(2))

    def test_style_size_may_differ_from_the_output_size(self):
        output = _taps(seed=0)
        style = {tap: torch.nn.functional.interpolate(v, scale_factor=2) for tap, v in _taps(seed=1).items()}
        assert style_loss(output, style).shape == style_loss(output, style, kind="gram").shape == (2,)

    def test_gram_variant_equals_hand_computation(self):
        output, style = _taps(seed=0), _taps(seed=1, scale=2.0)
        loss = style_loss(output, style, kind="gram")
        expected = torch.zeros(2)
        for tap in TAPS:
            o, s = output[tap].flatten(2), style[tap].flatten(2)
            positions = o.shape[2]
            difference = o @ o.transpose(1, 2) / positions - s @ s.transpose(1, 2) / positions
            expected += difference.pow(2).mean(dim=(1, 2))
        torch.testing.assert_close(loss, expected)
        assert not torch.allclose(loss, style_loss(output, style))

    def test_from_statistics_equals_from_features(self):
        from adain.ops.statistics import channel_mean_std

        output, style = _taps(seed=0), _taps(seed=1, scale=2.0)
        statistics = {tap: channel_mean_std(style[tap]) for tap in TAPS}
        from_statistics = style_loss_from_statistics(
            output, {t: m for t, (m, _) in statistics.items()}, {t: s for t, (_, s) in statistics.items()}
        )
        torch.testing.assert_close(from_statistics, style_loss(output, style))

    @pytest.mark.parametrize("kind", ["mean_std", "gram"])
    def test_gradient_reaches_the_output(self, kind):
        output = {tap: value.requires_grad_() for tap, value in _taps(seed=0).items()}
        style_loss(output, _taps(seed=1, scale=2.0), kind=kind).sum().backward()
        for tap in TAPS:
            assert output[tap].grad is not None and output[tap].grad.abs().sum() > 0, tap


def _images() -> torch.Tensor:
    """Flat gray, a single vertical edge, and a checkerboard of 2 px cells, ``(3, 3, 16, 16)``.

    (2 px, not 1: a 3x3 Sobel filter cannot see a 1 px checkerboard, the Nyquist pattern.)
    """
    flat = torch.full((3, 16, 16), 0.4)
    edge = torch.zeros(3, 16, 16)
    edge[:, :, 8:] = 1.0
    checker = ((torch.arange(16).view(1, 16) // 2 + torch.arange(16).view(16, 1) // 2) % 2).float().expand(3, 16, 16)
    return torch.stack([flat, edge, checker])


class TestEdgeDensity:
    def test_flat_is_zero_and_edges_are_positive(self):
        density = edge_density(_images())
        assert density.shape == (3,)
        assert density[0].item() == pytest.approx(0.0, abs=1e-7)
        assert density[1] > 0
        assert density[2] > density[1]  # a checkerboard is busier than one edge

    def test_depends_only_on_luminance_changes(self):
        images = _images()
        assert torch.allclose(edge_density(images + 0.3), edge_density(images), atol=1e-6)
        assert torch.allclose(edge_density(images * 0.5), edge_density(images) * 0.5, atol=1e-6)


class TestComplexityWeights:
    def test_mean_one_and_busier_content_weighs_less(self):
        images = _images()[1:]  # edge, checkerboard
        weights = complexity_weights(images, strength=1.0)
        assert weights.shape == (2,)
        assert weights.mean().item() == pytest.approx(1.0)
        assert weights[1] < 1 < weights[0]
        density = edge_density(images)
        expected = (density / density.mean()) ** -1.0
        torch.testing.assert_close(weights, expected / expected.mean())

    def test_strength_zero_is_uniform_and_negative_strength_reverses(self):
        images = _images()
        assert torch.allclose(complexity_weights(images, 0.0), torch.ones(3))
        weights = complexity_weights(images[1:], -1.0)
        assert weights[1] > 1 > weights[0] and weights.mean().item() == pytest.approx(1.0)

    def test_flat_content_stays_finite(self):
        weights = complexity_weights(_images(), strength=0.5)
        assert torch.isfinite(weights).all() and weights.mean().item() == pytest.approx(1.0)
        assert weights[0] > weights[1] > weights[2]
