"""Spatial control: AdaIN applied separately to mask regions (Huang & Belongie 2017, sec. 7, Fig. 9).

A mask image is turned into ``K`` soft region weights (:func:`region_weights_from_mask`),
resized to the feature size (:func:`resize_region_weights`), and :func:`masked_adain` then
normalises each region with content statistics taken *over that region only* and gives it the
statistics of its own style. Pixels outside every region keep the content features.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from adain._checks import is_int
from adain.errors import ShapeError, UsageError
from adain.ops.finite import all_finite
from adain.ops.statistics import DEFAULT_EPS, _check_feature, _statistics_dtype, check_alpha

__all__ = ["masked_adain", "masked_channel_mean_std", "region_weights_from_mask", "resize_region_weights"]

#: A region whose total weight (in pixels) is below this is treated as empty: its statistics
#: fall back to the unweighted ones instead of dividing by ~0.
EMPTY_REGION_WEIGHT = 1e-6

#: Tolerance on "region weights sum to at most one per pixel" (interpolation rounding).
_REGION_SUM_TOLERANCE = 1e-4


def masked_channel_mean_std(features: Tensor, weights: Tensor, eps: float = DEFAULT_EPS) -> tuple[Tensor, Tensor]:
    """Per-channel mean and standard deviation over H x W, weighted by a soft mask.

    ``mean = sum(w x) / sum(w)``, ``std = sqrt(sum(w (x - mean)^2) / sum(w) + eps)``. When a
    sample's weight sum is ~0 (the region is absent from it), the unweighted statistics are
    returned instead, so an empty region never produces NaN.

    Args:
        features: ``(B, C, H, W)``.
        weights: ``(B or 1, 1, H, W)``, non-negative (normally in ``[0, 1]``).
        eps: added to the variance before the square root.

    Returns:
        ``(mean, std)``, each ``(B, C, 1, 1)``, float32 (float64 for float64 input).

    Raises:
        ShapeError: shapes do not fit.
        UsageError: a weight is negative or not finite.

    Example:
        >>> features = torch.tensor([1.0, 2.0, 10.0, 20.0]).view(1, 1, 2, 2)
        >>> mean, std = masked_channel_mean_std(features, torch.tensor([1.0, 1.0, 0.0, 0.0]).view(1, 1, 2, 2))
        >>> round(mean.item(), 4), round(std.item(), 4)
        (1.5, 0.5)
    """
    _check_feature(features, "features")
    batch, _, height, width = features.shape
    if (
        weights.dim() != 4
        or weights.shape[1] != 1
        or weights.shape[0] not in (1, batch)
        or weights.shape[2:]
        != (
            height,
            width,
        )
    ):
        raise ShapeError(f"weights must be ({batch} or 1, 1, {height}, {width}). Got {tuple(weights.shape)}")
    dtype = _statistics_dtype(features.dtype)
    weights = weights.to(dtype)
    if not all_finite(weights) or (weights < 0).any():
        raise UsageError(f"mask weights must be finite and non-negative. Got minimum {weights.min().item()!r}")
    values = features.to(dtype)
    total = weights.sum(dim=(2, 3), keepdim=True)
    empty = total <= EMPTY_REGION_WEIGHT
    # Empty region: weight every pixel equally (the unweighted statistics).
    weights = torch.where(empty, torch.ones_like(weights), weights)
    total = torch.where(empty, torch.full_like(total, height * width), total)
    mean = (values * weights).sum(dim=(2, 3), keepdim=True) / total
    variance = ((values - mean).square() * weights).sum(dim=(2, 3), keepdim=True) / total
    return mean, (variance + eps).sqrt()


def region_weights_from_mask(mask: Tensor, num_regions: int) -> Tensor:
    """Soft region weights from a mask image.

    * Grayscale mask (``C = 1``): two regions, 0 = white (``mask``), 1 = black (``1 - mask``).
    * RGB mask (``C = 3``): three regions, one per channel (red, green, blue). Each pixel's
      weights are divided by ``max(1, r + g + b)`` so they sum to at most one; a black pixel
      belongs to no region and stays unstylized.

    Gray (soft) values are kept, giving soft transitions between styles.

    Args:
        mask: ``(B, 1 or 3, H, W)`` in ``[0, 1]``.
        num_regions: how many regions (styles) the caller has: at most 2 for a grayscale
            mask, at most 3 for an RGB mask; regions past ``num_regions`` are dropped.

    Returns:
        ``(B, num_regions, H, W)``, non-negative, summing to at most one per pixel.

    Raises:
        ShapeError: ``mask`` is not ``(B, 1 or 3, H, W)``.
        UsageError: ``num_regions`` is not what the mask provides, or a mask value is
            outside ``[0, 1]``.

    Example:
        >>> region_weights_from_mask(torch.tensor([[[[1.0, 0.25]]]]), 2).tolist()
        [[[[1.0, 0.25]], [[0.0, 0.75]]]]
    """
    if mask.dim() != 4 or mask.shape[1] not in (1, 3):
        raise ShapeError(f"mask must be (B, 1, H, W) (grayscale) or (B, 3, H, W) (RGB). Got {tuple(mask.shape)}")
    if not mask.is_floating_point():
        raise UsageError(f"mask must be a floating point tensor with values in [0, 1]. Got {mask.dtype}")
    available = 2 if mask.shape[1] == 1 else 3
    if not is_int(num_regions, 1, available):
        kind = "grayscale" if available == 2 else "RGB"
        raise UsageError(
            f"a {kind} mask provides {available} regions, so it can route 1 to {available} styles. "
            f"Got {num_regions!r} styles"
        )
    if not all_finite(mask) or mask.min() < 0 or mask.max() > 1:
        raise UsageError(f"mask values must be in [0, 1]. Got range [{mask.min().item():.4g}, {mask.max().item():.4g}]")
    if available == 2:
        weights = torch.cat([mask, 1.0 - mask], dim=1)
    else:
        weights = mask / mask.sum(dim=1, keepdim=True).clamp_min(1.0)
    return weights[:, :num_regions]


def resize_region_weights(weights: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize region weights (e.g. to the encoder's feature size) keeping them convex.

    Shrinking uses area interpolation (each output pixel is the mean of the input pixels it
    covers, so a thin region is thinned, not dropped, and nothing leaks past its footprint);
    growing uses bilinear interpolation. Both are convex combinations of input pixels, so the
    weights stay in ``[0, 1]`` and their per-pixel sum stays at most one.

    Args:
        weights: ``(B, K, H, W)``.
        size: ``(height, width)`` of the output, both positive.

    Returns:
        ``(B, K, height, width)``.

    Raises:
        ShapeError: ``weights`` is not 4-D.
        UsageError: ``size`` is not two positive integers.

    Example:
        >>> resize_region_weights(torch.tensor([[[[1.0, 1.0, 0.0, 0.0]]]]), (1, 2)).tolist()
        [[[[1.0, 0.0]]]]
    """
    _check_feature(weights, "weights")
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)
    ):
        raise UsageError(f"size must be (height, width) with two positive integers. Got {size!r}")
    size = (int(size[0]), int(size[1]))
    if tuple(weights.shape[2:]) == size:
        return weights
    resized = weights
    shrunk = (min(size[0], weights.shape[2]), min(size[1], weights.shape[3]))
    if shrunk != tuple(weights.shape[2:]):
        resized = F.interpolate(resized, size=shrunk, mode="area")
    if shrunk != size:
        resized = F.interpolate(resized, size=size, mode="bilinear", align_corners=False)
    return resized


def masked_adain(
    content_features: Tensor,
    region_weights: Tensor,
    style_means: Tensor,
    style_stds: Tensor,
    alphas: Sequence[float],
    eps: float = DEFAULT_EPS,
    content_means: Tensor | None = None,
    content_stds: Tensor | None = None,
) -> Tensor:
    """AdaIN per region, each region with its own style statistics and strength.

    For region ``k`` with weights ``w_k``: the content statistics are taken over the region
    (:func:`masked_channel_mean_std`), or given (``content_means[k]``, ``content_stds[k]``: for a
    tile of a large image, the whole image's statistics over the whole region, so that tiles
    normalise alike; given the statistics this function computes, the result is the same),
    ``t_k`` is AdaIN to style ``k``'s statistics and
    ``blended_k = alpha_k t_k + (1 - alpha_k) content``. The output is
    ``sum_k w_k blended_k + (1 - sum_k w_k) content``, so pixels outside every region keep the
    content features exactly.

    Args:
        content_features: ``(B, C, h, w)``.
        region_weights: ``(B or 1, K, h, w)`` summing to at most one per pixel, already at the
            feature size (see :func:`resize_region_weights`).
        style_means, style_stds: ``(K, C, 1, 1)``, style ``k`` for region ``k``.
        alphas: ``K`` style strengths in ``[0, 1]``.
        eps: added to variances before square roots.
        content_means, content_stds: ``(K, C, 1, 1)`` or ``None`` (both or neither): the content
            statistics of each region, instead of those of ``content_features``.

    Returns:
        ``(B, C, h, w)`` in the dtype of ``content_features``.

    Raises:
        ShapeError: shapes do not fit.
        UsageError: an alpha is outside ``[0, 1]``, the number of alphas is not ``K``, or the
            weights are negative or sum to more than one.

    Example:
        >>> content = torch.tensor([0.0, 2.0, 0.0, 2.0]).view(1, 1, 1, 4)
        >>> weights = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]).view(1, 2, 1, 4)
        >>> out = masked_adain(content, weights, torch.tensor([10.0, -10.0]).view(2, 1, 1, 1),
        ...                    torch.tensor([1.0, 2.0]).view(2, 1, 1, 1), [1.0, 1.0])
        >>> [round(v, 3) for v in out.flatten().tolist()]
        [9.0, 11.0, -12.0, -8.0]
    """
    if (content_means is None) != (content_stds is None):
        raise UsageError("give both content_means and content_stds, or neither")
    statistics = {"style_means": style_means, "style_stds": style_stds}
    if content_means is not None and content_stds is not None:
        statistics = {"content_means": content_means, "content_stds": content_stds, **statistics}
    weights, alpha_values = _check_region_inputs(content_features, region_weights, alphas, statistics)
    dtype = weights.dtype
    content = content_features.to(dtype)
    means = style_means.to(dtype)
    stds = style_stds.to(dtype)
    output = content
    for k, alpha in enumerate(alpha_values):
        if alpha == 0.0:
            continue  # blended_k is the content: contributes nothing beyond it
        region = weights[:, k : k + 1]
        if content_means is None or content_stds is None:
            content_mean, content_std = masked_channel_mean_std(content, region, eps)
        else:
            content_mean, content_std = content_means[k : k + 1].to(dtype), content_stds[k : k + 1].to(dtype)
        transferred = (content - content_mean) / content_std * stds[k : k + 1] + means[k : k + 1]
        # w_k * blended_k - w_k * content = w_k * alpha_k * (t_k - content)
        output = output + region * alpha * (transferred - content)
    return output.to(content_features.dtype)


def _check_region_inputs(
    content_features: Tensor, region_weights: Tensor, alphas: Sequence[float], statistics: dict[str, Tensor]
) -> tuple[Tensor, list[float]]:
    """Validate the inputs of a per-region AdaIN; returns the weights (statistics dtype) and alphas.

    Raises:
        ShapeError: ``region_weights`` is not ``(B or 1, K, h, w)`` or a statistic not ``(K, C, 1, 1)``.
        UsageError: wrong number of alphas, an alpha outside ``[0, 1]``, or weights negative, not
            finite or summing to more than one.
    """
    _check_feature(content_features, "content_features")
    batch, channels, height, width = content_features.shape
    if (
        region_weights.dim() != 4
        or region_weights.shape[0] not in (1, batch)
        or region_weights.shape[2:] != (height, width)
    ):
        raise ShapeError(
            f"region_weights must be ({batch} or 1, K, {height}, {width}) (resize them with "
            f"resize_region_weights). Got {tuple(region_weights.shape)}"
        )
    regions = region_weights.shape[1]
    for name, stat in statistics.items():
        if stat.shape != (regions, channels, 1, 1):
            raise ShapeError(
                f"{name} must be ({regions}, {channels}, 1, 1), one row per region. Got {tuple(stat.shape)}"
            )
    alphas = list(alphas)
    if len(alphas) != regions:
        raise UsageError(f"need one alpha per region ({regions}). Got {len(alphas)}: {alphas!r}")
    alpha_values = [check_alpha(a, f"alpha of region {k}") for k, a in enumerate(alphas)]
    weights = region_weights.to(_statistics_dtype(content_features.dtype))
    if not all_finite(weights) or (weights < 0).any():
        raise UsageError(f"region weights must be finite and non-negative. Got minimum {weights.min().item()!r}")
    largest_sum = weights.sum(dim=1).max().item()
    if largest_sum > 1.0 + _REGION_SUM_TOLERANCE:
        raise UsageError(f"region weights must sum to at most 1 per pixel. Got a sum of {largest_sum:.4g}")
    return weights, alpha_values
