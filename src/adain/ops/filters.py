"""Edge-preserving filtering: box filter and guided filter (He, Sun & Tang, ECCV 2010).

Used as post-processing: filtering the stylized image with the content image as guide removes
decoder noise and re-aligns strokes with the content's edges, while keeping them sharp.
"""

from __future__ import annotations

import torch
from torch import Tensor

from adain._checks import is_int, is_number
from adain.errors import ShapeError, UsageError

__all__ = ["box_filter", "guided_filter"]

# BT.601 luma weights (same as adain.ops.color.rgb_to_yuv's Y).
_LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def _check_radius(radius: int) -> int:
    if not is_int(radius, 0):
        raise UsageError(f"radius must be a non-negative integer. Got {radius!r}")
    return radius


def _box_sum_1d(values: Tensor, radius: int, dim: int) -> Tensor:
    """Mean over ``[i - radius, i + radius]`` clipped to the image, along ``dim``, via cumsum."""
    length = values.shape[dim]
    zero_shape = list(values.shape)
    zero_shape[dim] = 1
    cumulative = torch.cat([values.new_zeros(zero_shape), values.cumsum(dim)], dim=dim)
    positions = torch.arange(length, device=values.device)
    upper = (positions + radius + 1).clamp(max=length)
    lower = (positions - radius).clamp(min=0)
    window_sums = cumulative.index_select(dim, upper) - cumulative.index_select(dim, lower)
    counts_shape = [1] * values.dim()
    counts_shape[dim] = length
    counts = (upper - lower).to(values.dtype).view(counts_shape)
    return window_sums / counts


def box_filter(image: Tensor, radius: int) -> Tensor:
    """Mean over the ``(2 radius + 1)^2`` window around each pixel, edge-normalised.

    Near the border the window is clipped to the image and the mean is taken over the pixels
    that exist (no zero or reflect padding), so a constant image stays constant. Cost is O(1)
    per pixel whatever the radius (separable cumulative sums, accumulated in float64 so long
    rows do not lose precision).

    Args:
        image: ``(B, C, H, W)`` floating point.
        radius: non-negative integer; 0 returns the image unchanged.

    Returns:
        ``(B, C, H, W)``, dtype of ``image``.

    Raises:
        ShapeError: ``image`` is not 4-D.
        UsageError: ``radius`` is not a non-negative integer, or ``image`` is not floating point.

    Example:
        >>> box_filter(torch.tensor([[[[0.0, 3.0, 6.0, 9.0]]]]), 1).flatten().tolist()
        [1.5, 3.0, 6.0, 7.5]
    """
    if image.dim() != 4:
        raise ShapeError(f"image must be (B, C, H, W). Got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise UsageError(f"image must be a floating point tensor. Got {image.dtype}")
    radius = _check_radius(radius)
    if radius == 0:
        return image.clone()
    accumulated = image.to(torch.float64)
    return _box_sum_1d(_box_sum_1d(accumulated, radius, 2), radius, 3).to(image.dtype)


def guided_filter(guide: Tensor, source: Tensor, radius: int = 4, eps: float = 1e-2) -> Tensor:
    """Grayscale guided filter (He et al. 2010): smooths ``source`` but keeps ``guide``'s edges.

    In every window the output is a linear function of the guide, ``q = a I + b``, fitted to
    the source by ridge regression with regulariser ``eps``: where the guide varies much more
    than ``sqrt(eps)`` (an edge) the output follows the guide's edge; where it is flat the
    output is the box mean of the source. Cost is O(1) per pixel (box filters).

    Args:
        guide: ``(B or 1, 1 or 3, H, W)``; an RGB guide is reduced to its BT.601 luminance.
        source: ``(B, C, H, W)``, filtered channel by channel.
        radius: window radius (non-negative integer).
        eps: regulariser (positive); in units of guide variance, e.g. ``1e-2`` for a guide in
            ``[0, 1]`` treats intensity steps well above 0.1 as edges.

    Returns:
        ``(B, C, H, W)``, dtype of ``source``.

    Raises:
        ShapeError: shapes do not fit.
        UsageError: ``radius`` or ``eps`` is out of range, or an input is not floating point.

    Example:
        >>> guide = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0]).view(1, 1, 1, 6)
        >>> [round(v, 2) for v in guided_filter(guide, guide, radius=1, eps=1e-4).flatten().tolist()]
        [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    """
    if source.dim() != 4:
        raise ShapeError(f"source must be (B, C, H, W). Got {tuple(source.shape)}")
    batch, _, height, width = source.shape
    if (
        guide.dim() != 4
        or guide.shape[1] not in (1, 3)
        or guide.shape[0] not in (1, batch)
        or guide.shape[2:] != source.shape[2:]
    ):
        raise ShapeError(f"guide must be ({batch} or 1, 1 or 3, {height}, {width}). Got {tuple(guide.shape)}")
    if not guide.is_floating_point() or not source.is_floating_point():
        raise UsageError(f"guide and source must be floating point tensors. Got {guide.dtype}, {source.dtype}")
    radius = _check_radius(radius)
    if not is_number(eps, above=0):
        raise UsageError(f"eps must be a positive finite number. Got {eps!r}")
    dtype = torch.float64 if torch.float64 in (guide.dtype, source.dtype) else torch.float32
    guide = guide.to(dtype)
    if guide.shape[1] == 3:
        luma = torch.tensor(_LUMA_WEIGHTS, dtype=dtype, device=guide.device).view(1, 3, 1, 1)
        guide = (guide * luma).sum(dim=1, keepdim=True)
    values = source.to(dtype)
    mean_guide = box_filter(guide, radius)
    mean_source = box_filter(values, radius)
    covariance = box_filter(guide * values, radius) - mean_guide * mean_source
    variance = (box_filter(guide * guide, radius) - mean_guide * mean_guide).clamp_min(0.0)
    slope = covariance / (variance + eps)
    offset = mean_source - slope * mean_guide
    return (box_filter(slope, radius) * guide + box_filter(offset, radius)).to(source.dtype)
