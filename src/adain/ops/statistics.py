"""Channel statistics and Adaptive Instance Normalization (Huang & Belongie, 2017, eq. 8).

AdaIN transfers style by giving each channel of the content features the mean and standard
deviation of the same channel of the style features. Everything in this module is a pure tensor
function: no models, no I/O, differentiable, works on any device.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from adain.errors import ShapeError, UsageError

__all__ = [
    "adain",
    "adain_from_statistics",
    "adain_with_content_statistics",
    "blend_features",
    "channel_mean_std",
    "channel_moments",
    "check_alpha",
    "mean_std_from_moments",
    "mix_statistics",
]

#: Added to the variance before the square root: keeps flat (constant) feature maps finite.
DEFAULT_EPS = 1e-5


def _check_feature(x: Tensor, name: str) -> None:
    if x.dim() != 4:
        raise ShapeError(f"{name} must be (B, C, H, W). Got {tuple(x.shape)}")


def _statistics_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64 (gradcheck, analysis); everything else is computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


#: elements per chunk of :func:`_chunked_sums`: a float32 chunk of 2 MB stays in the caches
#: (measured on the AMD EPYC: 2^19 beat 2^18 and 2^20 on relu1_1..relu4_1 maps, both layouts)
STATISTICS_CHUNK_ELEMENTS = 1 << 19


def _chunked_sums(
    values: Tensor, channels_last: bool, weights: Tensor | None = None, accumulate: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor, Tensor]:
    """``(shift, first, second)``: the sums ``sum w (x - shift)`` and ``sum w (x - shift)^2`` per
    sample and channel of ``(B, N, C)`` positions (``channels_last``) or ``(B, C, N)`` maps, in
    cache-sized chunks of N; ``shift`` (float32) is the first chunk's mean, ``w`` the
    ``(B, N)`` ``weights`` (None: ones). Shapes ``(B, 1, C)`` or ``(B, C, 1)``.

    Why: ``var_mean`` (or a float64 copy) over a large map is slow on CPUs (Welford's update per
    element, a full-size float32 or float64 copy first for half precision; with channels last it
    reduces over a strided dimension). Here each chunk is copied to float32 (in the cache),
    shifted (so the variance ``E[d^2] - E[d]^2`` does not cancel: relative error ~1e-7 at any
    mean / std) and summed along the positions (weighted: by a matrix product with the
    weights), which runs at the memory's speed. Chunks' sums add up in ``accumulate`` (float64
    for moments that tiles add up). Measured on the 2-core Xeon (AVX512-BF16, AMX), a 64 x 512 x
    512 relu1_1 map: 87 ms -> 5.5 ms in bf16 channels last, 48 -> ~6 ms in float32
    (``var_mean``); on the 2-core AMD EPYC the unweighted sums by a plain reduction instead of a
    product with a ones vector took 1.1-2x less (the fast preset's relu2_1 at 480x856 in bf16,
    9.0 -> 5.3 ms).
    """
    channels = values.shape[2 if channels_last else 1]
    step = max(1, STATISTICS_CHUNK_ELEMENTS // max(1, channels))
    chunks = values.split(step, dim=1 if channels_last else 2)
    weight_chunks = (
        [None] * len(chunks)
        if weights is None
        else weights.to(torch.float32).reshape(weights.shape[0], 1, -1).split(step, dim=2)
    )
    shift = chunks[0].float().mean(dim=1 if channels_last else 2, keepdim=True)
    batch = values.shape[0]
    shape = (batch, 1, channels) if channels_last else (batch, channels, 1)
    first, second = shift.new_zeros(shape, dtype=accumulate), shift.new_zeros(shape, dtype=accumulate)
    positions = 1 if channels_last else 2
    for chunk, weight in zip(chunks, weight_chunks):
        shifted = chunk.to(torch.float32, copy=True).sub_(shift)
        if weight is None:
            first += shifted.sum(positions, keepdim=True).to(accumulate)
            second += shifted.mul_(shifted).sum(positions, keepdim=True).to(accumulate)
            continue
        size = chunk.shape[positions]
        row = weight.expand(batch, 1, size)
        _add_weighted_sum(first, row, shifted, channels_last)
        _add_weighted_sum(second, row, shifted.square_(), channels_last)
    return shift, first, second


def _add_weighted_sum(total: Tensor, row: Tensor, values: Tensor, channels_last: bool) -> None:
    """``total += row @ values`` (channels last: ``(B, 1, N) @ (B, N, C)``; else
    ``values @ row^T``), in place, in ``total``'s dtype."""
    if total.dtype == values.dtype:
        if channels_last:
            total.baddbmm_(row, values)
        else:
            total.baddbmm_(values, row.transpose(1, 2))
        return
    total += (torch.bmm(row, values) if channels_last else torch.bmm(values, row.transpose(1, 2))).to(total.dtype)


def _chunked_mean_std(values: Tensor, channels_last: bool, eps: float) -> tuple[Tensor, Tensor]:
    """float32 ``(mean, std)`` per sample and channel, ``(B, C)``, of ``(B, N, C)`` positions
    (``channels_last``) or ``(B, C, N)`` maps, from :func:`_chunked_sums`."""
    count = values.shape[1 if channels_last else 2]
    channels = values.shape[2 if channels_last else 1]
    batch = values.shape[0]
    shift, first, second = _chunked_sums(values, channels_last)
    offset = first.div_(count)
    variance = second.div_(count).sub_(offset.square()).clamp_min_(0)
    return (shift + offset).reshape(batch, channels), variance.add_(eps).sqrt_().reshape(batch, channels)


def _tracing() -> bool:
    """Whether this call is being recorded into a graph (ONNX export, TorchScript or torch.compile)."""
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling()


class _HalfPrecisionMeanStd(torch.autograd.Function):
    """float32 (mean, std) over dim 1 of a ``(B, N, C)`` bf16/fp16 view, without a float32 copy.

    Why: in bf16 training the float32 copy and ``var_mean``'s backward cost more than the
    reductions themselves. Here the forward is :func:`_chunked_mean_std` (float32 sums of
    cache-sized float32 chunks) and the backward is one fused pass,
    ``grad_mean / N + grad_std * (x - mean) / (N * std)``.
    Measured on the 2-core CPU (bf16, batch 8, 128-px maps): relu1_1 forward + backward 81 -> 50 ms;
    a whole training step 5% faster at 2 threads on a quiet machine (1.19 -> 1.13 s), 11% at one
    thread beside two other training processes (2.15 -> 1.92 s; ``tools/bench_train_step.py``).
    """

    @staticmethod
    def forward(ctx, positions: Tensor, eps: float) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        mean, std = _chunked_mean_std(positions, channels_last=True, eps=eps)
        ctx.save_for_backward(positions, mean, std)
        return mean, std

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_mean: Tensor, grad_std: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        positions, mean, std = ctx.saved_tensors
        count = positions.shape[1]
        scale = grad_std / (count * std)
        shift = grad_mean / count - mean * scale
        return torch.addcmul(shift.unsqueeze(1), positions, scale.unsqueeze(1)).to(positions.dtype), None


def channel_mean_std(features: Tensor, eps: float = DEFAULT_EPS) -> tuple[Tensor, Tensor]:
    """Per-sample, per-channel mean and standard deviation over H x W.

    Computed in float32 even for bf16/fp16 inputs, because the variance of large activations
    loses too many digits in half precision to be a useful style statistic (float64 inputs stay
    float64).

    Args:
        features: ``(B, C, H, W)``.
        eps: added to the (biased) variance before the square root.

    Returns:
        ``(mean, std)``, each ``(B, C, 1, 1)`` in float32 (float64 for float64 input).

    Raises:
        ShapeError: ``features`` is not 4-D.

    Example:
        >>> mean, std = channel_mean_std(torch.ones(1, 2, 3, 3))
        >>> mean.flatten().tolist(), std.flatten().tolist()
        ([1.0, 1.0], [0.0031622776...])
    """
    _check_feature(features, "features")
    b, c, h, w = features.shape
    dtype = _statistics_dtype(features.dtype)
    channels_last = features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous()
    if dtype == torch.float32 and not (features.requires_grad and torch.is_grad_enabled()) and not _tracing():
        # inference: chunked sums (several times faster than var_mean, and no less accurate); a
        # traced graph (ONNX export) takes var_mean, whose graph does not depend on the map's size
        values = features.permute(0, 2, 3, 1).reshape(b, h * w, c) if channels_last else features.reshape(b, c, h * w)
        mean, std = _chunked_mean_std(values, channels_last, eps)
        return mean.view(b, c, 1, 1), std.view(b, c, 1, 1)
    if channels_last:
        # channels-last maps (the fast path's layout) reduce over positions as a (B, H*W, C)
        # view: no transposed copy, contiguous channel vectors (measured 1.2-2x faster with the
        # backward pass, where training spends most of its statistics time)
        positions = features.permute(0, 2, 3, 1).reshape(b, h * w, c)
        if features.dtype in (torch.bfloat16, torch.float16):
            mean, std = _HalfPrecisionMeanStd.apply(positions, eps)
            return mean.view(b, c, 1, 1), std.view(b, c, 1, 1)
        variance, mean = torch.var_mean(positions.to(dtype), dim=1, unbiased=False)
    else:
        variance, mean = torch.var_mean(features.to(dtype).flatten(2), dim=2, unbiased=False)
    return mean.view(b, c, 1, 1), (variance + eps).sqrt().view(b, c, 1, 1)


def adain_from_statistics(
    content_features: Tensor,
    style_mean: Tensor,
    style_std: Tensor,
    eps: float = DEFAULT_EPS,
) -> Tensor:
    """``style_std * (content - content_mean) / content_std + style_mean``.

    Taking statistics (not style features) lets a style bank skip the style encoder.

    Args:
        content_features: ``(B, C, H, W)``.
        style_mean, style_std: ``(B or 1, C, 1, 1)``.
        eps: added to the content variance before the square root.

    Returns:
        ``(B, C, H, W)`` in the dtype of ``content_features``.

    Raises:
        ShapeError: a shape does not fit.

    Example:
        >>> out = adain_from_statistics(torch.tensor([[[[0.0, 2.0]]]]),
        ...                             torch.full((1, 1, 1, 1), 10.0), torch.full((1, 1, 1, 1), 3.0))
        >>> [round(v, 3) for v in out.flatten().tolist()]
        [7.0, 13.0]
    """
    _check_feature(content_features, "content_features")
    _check_statistics(content_features, ("style_mean", style_mean), ("style_std", style_std))
    content_mean, content_std = channel_mean_std(content_features, eps)
    return adain_with_content_statistics(content_features, content_mean, content_std, style_mean, style_std)


def _check_statistics(features: Tensor, *named: tuple[str, Tensor]) -> None:
    batch, channels = features.shape[:2]
    for name, stat in named:
        if stat.dim() != 4 or stat.shape[1] != channels or stat.shape[2:] != (1, 1) or stat.shape[0] not in (1, batch):
            raise ShapeError(f"{name} must be ({batch} or 1, {channels}, 1, 1). Got {tuple(stat.shape)}")


def adain_with_content_statistics(
    content_features: Tensor,
    content_mean: Tensor,
    content_std: Tensor,
    style_mean: Tensor,
    style_std: Tensor,
) -> Tensor:
    """AdaIN with the content's statistics given: ``style_std * (content - content_mean) / content_std + style_mean``.

    :func:`adain_from_statistics` takes the content statistics from the features it is given.
    A tile of a large image must instead be normalised with the statistics of the *whole*
    image (:func:`channel_mean_std` of its full feature map), or every tile would get its own
    colours and contrast and the seams would show.

    Args:
        content_features: ``(B, C, H, W)``.
        content_mean, content_std: ``(B or 1, C, 1, 1)``, e.g. from :func:`channel_mean_std`
            (which adds ``eps`` to the variance, so the std is positive).
        style_mean, style_std: ``(B or 1, C, 1, 1)``.

    Returns:
        ``(B, C, H, W)`` in the dtype of ``content_features`` (computed in the statistics'
        dtype, float32 for half-precision features).

    Raises:
        ShapeError: a shape does not fit.

    Example:
        >>> content = torch.tensor([[[[0.0, 2.0]]]])
        >>> one = torch.ones(1, 1, 1, 1)
        >>> adain_with_content_statistics(content, one, 2 * one, 10 * one, 3 * one).flatten().tolist()
        [8.5, 11.5]
    """
    _check_feature(content_features, "content_features")
    _check_statistics(
        content_features,
        ("content_mean", content_mean),
        ("content_std", content_std),
        ("style_mean", style_mean),
        ("style_std", style_std),
    )
    dtype = torch.promote_types(_statistics_dtype(content_features.dtype), content_mean.dtype)
    # one multiply-add per element: scale = style_std / content_std, shift = style_mean - mean * scale
    scale, shift = adain_affine(*(t.to(dtype) for t in (content_mean, content_std, style_mean, style_std)))
    if content_features.dtype != dtype and not (torch.is_grad_enabled() and content_features.requires_grad):
        # half-precision inference: in the features' dtype, no float32 copy of the map (the
        # rounding of scale and shift is that of the half-precision result itself)
        half = content_features.dtype
        return torch.addcmul(shift.to(half), content_features, scale.to(half))
    return torch.addcmul(shift, content_features.to(dtype), scale).to(content_features.dtype)


def adain_affine(
    content_mean: Tensor, content_std: Tensor, style_mean: Tensor, style_std: Tensor, alpha: float = 1.0
) -> tuple[Tensor, Tensor]:
    """AdaIN blended with the content (:func:`blend_features`) as the per-channel affine map it
    is: ``(scale, shift)`` such that the result is ``scale * content + shift``.

    Why: ``alpha * (style_std * (f - content_mean) / content_std + style_mean) + (1 - alpha) * f``
    is linear in ``f`` per channel, so a decoder whose next operation is linear (a skip's 1x1
    convolution) can take the map into its weights (:class:`~adain.models.AffineFeatures`)
    instead of a pass over the features.

    Args:
        content_mean, content_std, style_mean, style_std: ``(B or 1, C, 1, 1)``.
        alpha: the style's strength in [0, 1].

    Example:
        >>> one = torch.ones(1, 1, 1, 1)
        >>> scale, shift = adain_affine(one, 2 * one, 10 * one, 3 * one, alpha=0.5)
        >>> scale.item(), shift.item()  # 0.5 * (1.5 f + 8.5) + 0.5 f
        (1.25, 4.25)
    """
    scale = style_std / content_std
    shift = style_mean - content_mean * scale
    if alpha == 1.0:
        return scale, shift
    return alpha * scale + (1.0 - alpha), alpha * shift


def adain(content_features: Tensor, style_features: Tensor, eps: float = DEFAULT_EPS) -> Tensor:
    """AdaIN of content features to the channel statistics of style features.

    Args:
        content_features: ``(B, C, H, W)``.
        style_features: ``(B or 1, C, H', W')``; spatial size may differ from the content's.
        eps: added to both variances before the square root.

    Returns:
        ``(B, C, H, W)`` whose per-channel mean/std equal the style's.

    Raises:
        ShapeError: a shape does not fit.

    Example:
        >>> out = adain(torch.randn(1, 4, 8, 8), 3 * torch.randn(1, 4, 5, 5) + 2)
        >>> out.shape
        torch.Size([1, 4, 8, 8])
    """
    _check_feature(style_features, "style_features")
    style_mean, style_std = channel_mean_std(style_features, eps)
    return adain_from_statistics(content_features, style_mean, style_std, eps)


def mix_statistics(means: Tensor, stds: Tensor, weights: Tensor | list[float]) -> tuple[Tensor, Tensor]:
    """Convex combination of several styles' statistics (the paper's style interpolation).

    Mixing the statistics and then applying AdaIN once equals the paper's weighted sum of
    AdaIN outputs, since AdaIN is affine in (mean, std) for a fixed content.

    Args:
        means, stds: ``(K, C, 1, 1)``, one row per style.
        weights: ``K`` non-negative numbers; normalised to sum to one.

    Returns:
        ``(mean, std)``, each ``(1, C, 1, 1)``.

    Raises:
        ShapeError: shapes do not fit or the number of weights is not ``K``.
        UsageError: a weight is negative or not finite, or all weights are zero.

    Example:
        >>> mean, std = mix_statistics(torch.tensor([0.0, 4.0]).view(2, 1, 1, 1),
        ...                            torch.tensor([1.0, 3.0]).view(2, 1, 1, 1), [1, 3])
        >>> mean.item(), std.item()
        (3.0, 2.5)
    """
    if means.shape != stds.shape or means.dim() != 4:
        raise ShapeError(f"means and stds must both be (K, C, 1, 1). Got {tuple(means.shape)}, {tuple(stds.shape)}")
    dtype = _statistics_dtype(means.dtype)
    weights_tensor = torch.as_tensor(weights, dtype=dtype, device=means.device).flatten()
    if weights_tensor.numel() != means.shape[0]:
        raise ShapeError(f"need one weight per style ({means.shape[0]}). Got {weights_tensor.numel()}")
    if (weights_tensor < 0).any() or not torch.isfinite(weights_tensor).all() or weights_tensor.sum() <= 0:
        raise UsageError(f"style weights must be finite, non-negative and not all zero. Got {weights_tensor.tolist()}")
    weights_tensor = (weights_tensor / weights_tensor.sum()).view(-1, 1, 1, 1)
    mean = (means.to(dtype) * weights_tensor).sum(0, keepdim=True)
    std = (stds.to(dtype) * weights_tensor).sum(0, keepdim=True)
    return mean, std


def blend_features(content_features: Tensor, stylized_features: Tensor, alpha: float) -> Tensor:
    """``alpha * stylized + (1 - alpha) * content``: the paper's content-style trade-off (sec. 7).

    Blending happens in feature space, before the decoder: ``alpha = 0`` reconstructs the
    content, ``alpha = 1`` is full stylization. Both ends are returned exactly (no rounding).

    Args:
        content_features: ``(B, C, H, W)``.
        stylized_features: ``(B, C, H, W)``, typically ``adain(content_features, style)``.
        alpha: style strength in ``[0, 1]``.

    Returns:
        ``(B, C, H, W)`` in the promoted dtype of the two inputs.

    Raises:
        ShapeError: the two inputs do not have the same 4-D shape.
        UsageError: ``alpha`` is not a finite number in ``[0, 1]``.

    Example:
        >>> blend_features(torch.zeros(1, 1, 1, 2), torch.full((1, 1, 1, 2), 4.0), 0.25).flatten().tolist()
        [1.0, 1.0]
    """
    _check_feature(content_features, "content_features")
    if stylized_features.shape != content_features.shape:
        raise ShapeError(
            f"stylized_features must have the shape of content_features {tuple(content_features.shape)}. "
            f"Got {tuple(stylized_features.shape)}"
        )
    alpha = check_alpha(alpha)
    dtype = torch.promote_types(content_features.dtype, stylized_features.dtype)
    if alpha == 0.0:
        return content_features.to(dtype, copy=True)
    if alpha == 1.0:
        return stylized_features.to(dtype, copy=True)
    return alpha * stylized_features.to(dtype) + (1.0 - alpha) * content_features.to(dtype)


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """Validate a style strength: a finite real number in ``[0, 1]``; returns it as ``float``.

    Raises:
        UsageError: ``alpha`` is not a number, not finite or outside ``[0, 1]``.

    Example:
        >>> check_alpha(0.5)
        0.5
    """
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a number in [0, 1]. Got {alpha!r}") from None
    if isinstance(alpha, bool) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise UsageError(f"{name} must be a finite number in [0, 1]. Got {alpha!r}")
    return value


def channel_moments(features: Tensor, weights: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """float64 ``(weight sum, weighted sum, weighted sum of squares)`` of each channel over H x W.

    Why: moments add up. A large image encoded window by window (tiling) gets the statistics of
    the whole image at every tap by summing its windows' moments over their cores, without
    keeping the full-resolution maps; :func:`mean_std_from_moments` turns the sums into what
    :func:`channel_mean_std` (or, weighted, ``masked_channel_mean_std``) computes, up to float
    rounding (float64 sums: the variance's cancellation is harmless).

    Args:
        features: ``(B, C, H, W)``.
        weights: ``(B or 1, 1, H, W)`` non-negative (a soft region); ``None``: every position 1.

    Returns:
        ``(total (B, 1, 1, 1), first (B, C, 1, 1), second (B, C, 1, 1))``, float64.

    Example:
        >>> total, first, second = channel_moments(torch.tensor([1.0, 3.0]).view(1, 1, 1, 2))
        >>> total.item(), first.item(), second.item()
        (2.0, 4.0, 10.0)
    """
    _check_feature(features, "features")
    b, c, h, w = features.shape
    if weights is not None and (weights.dim() != 4 or weights.shape[1] != 1 or weights.shape[2:] != features.shape[2:]):
        raise ShapeError(f"weights must be (B or 1, 1, {h}, {w}). Got {tuple(weights.shape)}")
    if features.dtype != torch.float64 and not (features.requires_grad and torch.is_grad_enabled()) and not _tracing():
        # inference (tiling): float32 chunks summed by matrix products into float64, shifted and
        # shifted back (:func:`_chunked_sums`), several times faster than a float64 copy of the map
        channels_last = features.stride(1) == 1 and c > 1
        values = features.permute(0, 2, 3, 1).reshape(b, h * w, c) if channels_last else features.reshape(b, c, h * w)
        shift, first, second = _chunked_sums(values, channels_last, weights, accumulate=torch.float64)
        shift = shift.to(torch.float64).reshape(b, c, 1, 1)
        first, second = first.reshape(b, c, 1, 1), second.reshape(b, c, 1, 1)
        if weights is None:
            total = first.new_full((b, 1, 1, 1), float(h * w))
        else:
            total = weights.to(torch.float64).sum((2, 3), keepdim=True).expand(b, 1, 1, 1).clone()
        # sum w x = first + shift * total; sum w x^2 = second + 2 shift first + shift^2 total
        return total, first + shift * total, second + shift * (2 * first + shift * total)
    values = features.to(torch.float64)
    if weights is None:
        total = values.new_full((b, 1, 1, 1), float(h * w))
        return total, values.sum((2, 3), keepdim=True), values.square().sum((2, 3), keepdim=True)
    weights = weights.to(torch.float64)
    weighted = values * weights
    total = weights.sum((2, 3), keepdim=True).repeat(b // weights.shape[0], 1, 1, 1)
    return total, weighted.sum((2, 3), keepdim=True), (weighted * values).sum((2, 3), keepdim=True)


def mean_std_from_moments(
    total: Tensor, first: Tensor, second: Tensor, eps: float = DEFAULT_EPS
) -> tuple[Tensor, Tensor]:
    """``(mean, std)`` in float32 from summed :func:`channel_moments`: ``std = sqrt(var + eps)``,
    the biased variance, as :func:`channel_mean_std` defines it.

    Example:
        >>> mean, std = mean_std_from_moments(*channel_moments(torch.tensor([1.0, 3.0]).view(1, 1, 1, 2)), eps=0.0)
        >>> mean.item(), std.item()
        (2.0, 1.0)
    """
    mean = first / total
    variance = (second / total - mean.square()).clamp_min(0)
    return mean.float(), (variance + eps).sqrt().float()
