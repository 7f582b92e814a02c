"""Channel statistics and Adaptive Instance Normalization (Huang & Belongie, 2017, eq. 8)."""

from __future__ import annotations

import torch
from torch import Tensor

from adain.errors import ShapeError

__all__ = ["channel_mean_std", "adain", "adain_from_statistics", "mix_statistics"]

#: Added to the variance before the square root: keeps flat (constant) feature maps finite.
DEFAULT_EPS = 1e-5


def _check_feature(x: Tensor, name: str) -> None:
    if x.dim() != 4:
        raise ShapeError(f"{name} must be (B, C, H, W). Got {tuple(x.shape)}")


def channel_mean_std(features: Tensor, eps: float = DEFAULT_EPS) -> tuple[Tensor, Tensor]:
    """Per-sample, per-channel mean and standard deviation over H x W.

    Computed in float32 even for bf16 inputs, because the variance of large activations loses
    too many digits in bf16 to be a useful style statistic.

    Args:
        features: ``(B, C, H, W)``.
        eps: added to the (biased) variance before the square root.

    Returns:
        ``(mean, std)``, each ``(B, C, 1, 1)`` in float32.

    Example:
        >>> mean, std = channel_mean_std(torch.ones(1, 2, 3, 3))
        >>> mean.flatten().tolist(), std.flatten().tolist()
        ([1.0, 1.0], [0.0031622776...])
    """
    _check_feature(features, "features")
    flat = features.float().flatten(2)
    variance = flat.var(dim=2, unbiased=False)
    mean = flat.mean(dim=2)
    b, c = mean.shape
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
    """
    _check_feature(content_features, "content_features")
    channels = content_features.shape[1]
    for name, stat in (("style_mean", style_mean), ("style_std", style_std)):
        if stat.dim() != 4 or stat.shape[1] != channels or stat.shape[2:] != (1, 1):
            raise ShapeError(f"{name} must be (B, {channels}, 1, 1). Got {tuple(stat.shape)}")
    content_mean, content_std = channel_mean_std(content_features, eps)
    normalized = (content_features.float() - content_mean) / content_std
    return (normalized * style_std + style_mean).to(content_features.dtype)


def adain(content_features: Tensor, style_features: Tensor, eps: float = DEFAULT_EPS) -> Tensor:
    """AdaIN of content features to the channel statistics of style features.

    Args:
        content_features: ``(B, C, H, W)``.
        style_features: ``(B or 1, C, H', W')``; spatial size may differ from the content's.

    Example:
        >>> out = adain(torch.randn(1, 4, 8, 8), 3 * torch.randn(1, 4, 5, 5) + 2)
        >>> out.shape
        torch.Size([1, 4, 8, 8])
    """
    _check_feature(style_features, "style_features")
    style_mean, style_std = channel_mean_std(style_features, eps)
    return adain_from_statistics(content_features, style_mean, style_std, eps)


def mix_statistics(
    means: Tensor, stds: Tensor, weights: Tensor | list[float]
) -> tuple[Tensor, Tensor]:
    """Convex combination of several styles' statistics (the paper's style interpolation).

    Mixing the statistics and then applying AdaIN once equals the paper's weighted sum of
    AdaIN outputs, since AdaIN is affine in (mean, std) for a fixed content.

    Args:
        means, stds: ``(K, C, 1, 1)``, one row per style.
        weights: ``K`` non-negative numbers; normalised to sum to one.

    Returns:
        ``(mean, std)``, each ``(1, C, 1, 1)``.
    """
    weights_tensor = torch.as_tensor(weights, dtype=torch.float32, device=means.device).flatten()
    if means.shape != stds.shape or means.dim() != 4:
        raise ShapeError(f"means and stds must both be (K, C, 1, 1). Got {tuple(means.shape)}, {tuple(stds.shape)}")
    if weights_tensor.numel() != means.shape[0]:
        raise ShapeError(f"need one weight per style ({means.shape[0]}). Got {weights_tensor.numel()}")
    if (weights_tensor < 0).any() or not torch.isfinite(weights_tensor).all() or weights_tensor.sum() <= 0:
        raise ValueError(f"style weights must be finite, non-negative and not all zero. Got {weights_tensor.tolist()}")
    weights_tensor = (weights_tensor / weights_tensor.sum()).view(-1, 1, 1, 1)
    return (means.float() * weights_tensor).sum(0, keepdim=True), (stds.float() * weights_tensor).sum(0, keepdim=True)
