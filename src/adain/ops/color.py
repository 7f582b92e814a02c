"""Colour spaces and colour preservation for style transfer.

Two ways to keep the content image's colours (Gatys et al. 2016, "Preserving color in neural
artistic style transfer"):

* ``transfer_luminance``: stylize, then keep only the stylized luminance and put the content's
  chroma back (mode "luminance").
* ``match_color_statistics``: before stylizing, recolour the style image so its RGB mean and
  covariance equal the content's (mode "match").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from adain.errors import ShapeError, UsageError

__all__ = ["match_color_statistics", "rgb_to_yuv", "transfer_luminance", "yuv_to_rgb"]

# BT.601 analogue YUV: Y = Wr R + Wg G + Wb B, U = Umax (B - Y) / (1 - Wb), V = Vmax (R - Y) / (1 - Wr).
_WR, _WB = 0.299, 0.114
_WG = 1.0 - _WR - _WB
_UMAX, _VMAX = 0.436, 0.615
_RGB_TO_YUV = torch.tensor(
    [
        [_WR, _WG, _WB],
        [-_UMAX * _WR / (1 - _WB), -_UMAX * _WG / (1 - _WB), _UMAX],
        [_VMAX, -_VMAX * _WG / (1 - _WR), -_VMAX * _WB / (1 - _WR)],
    ],
    dtype=torch.float64,
)
# Exact inverse (not the rounded textbook coefficients), so rgb -> yuv -> rgb round-trips.
_YUV_TO_RGB = torch.linalg.inv(_RGB_TO_YUV)


def _check_rgb(image: Tensor, name: str) -> None:
    if image.dim() != 4 or image.shape[1] != 3:
        raise ShapeError(f"{name} must be (B, 3, H, W). Got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise UsageError(f"{name} must be a floating point tensor with values in [0, 1]. Got {image.dtype}")


def _apply_matrix(matrix: Tensor, image: Tensor) -> Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(device=image.device, dtype=image.dtype), image)


def rgb_to_yuv(image: Tensor) -> Tensor:
    """RGB to BT.601 YUV (Y in ``[0, 1]``, U in ``[-0.436, 0.436]``, V in ``[-0.615, 0.615]``).

    Args:
        image: ``(B, 3, H, W)`` RGB in ``[0, 1]``.

    Returns:
        ``(B, 3, H, W)``: channels Y, U, V.

    Raises:
        ShapeError: not ``(B, 3, H, W)``.
        UsageError: not a floating point tensor.

    Example:
        >>> yuv = rgb_to_yuv(torch.tensor([1.0, 1.0, 1.0]).view(1, 3, 1, 1))
        >>> [round(v, 6) + 0.0 for v in yuv.flatten().tolist()]
        [1.0, 0.0, 0.0]
    """
    _check_rgb(image, "image")
    return _apply_matrix(_RGB_TO_YUV, image)


def yuv_to_rgb(image: Tensor) -> Tensor:
    """BT.601 YUV to RGB; the exact inverse of :func:`rgb_to_yuv` (no clamping).

    Args:
        image: ``(B, 3, H, W)``: channels Y, U, V.

    Returns:
        ``(B, 3, H, W)`` RGB.

    Raises:
        ShapeError: not ``(B, 3, H, W)``.
        UsageError: not a floating point tensor.

    Example:
        >>> rgb = yuv_to_rgb(torch.tensor([0.5, 0.0, 0.0]).view(1, 3, 1, 1))
        >>> [round(v, 6) for v in rgb.flatten().tolist()]
        [0.5, 0.5, 0.5]
    """
    _check_rgb(image, "image")
    return _apply_matrix(_YUV_TO_RGB, image)


def _check_batch_pair(first: Tensor, second: Tensor, first_name: str, second_name: str) -> None:
    if second.shape[0] not in (1, first.shape[0]):
        raise ShapeError(
            f"{second_name} must have batch size 1 or that of {first_name} ({first.shape[0]}). "
            f"Got {tuple(second.shape)}"
        )


def transfer_luminance(stylized: Tensor, content: Tensor) -> Tensor:
    """Colour preservation "luminance": stylized Y with the content's U and V.

    The style then changes only brightness patterns (strokes, texture), never hue. The content's
    chroma is resized (bilinear, antialiased) to the stylized size when they differ, e.g. when
    the decoder output was cropped to a multiple of 8.

    Args:
        stylized: ``(B, 3, H, W)`` RGB in ``[0, 1]``.
        content: ``(B or 1, 3, H', W')`` RGB in ``[0, 1]``.

    Returns:
        ``(B, 3, H, W)`` RGB clamped to ``[0, 1]``, dtype of ``stylized``.

    Raises:
        ShapeError: a shape does not fit.
        UsageError: an input is not a floating point tensor.

    Example:
        >>> gray = torch.full((1, 3, 2, 2), 0.5)
        >>> pink = torch.tensor([0.6, 0.4, 0.4]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
        >>> yuv = rgb_to_yuv(transfer_luminance(gray, pink))
        >>> yuv.shape, round(yuv[0, 0, 0, 0].item(), 4), torch.allclose(yuv[:, 1:], rgb_to_yuv(pink)[:, 1:, :2, :2])
        (torch.Size([1, 3, 2, 2]), 0.5, True)
    """
    _check_rgb(stylized, "stylized")
    _check_rgb(content, "content")
    _check_batch_pair(stylized, content, "stylized", "content")
    luminance = rgb_to_yuv(stylized)[:, :1]
    chroma = rgb_to_yuv(content.to(stylized.dtype))[:, 1:]
    if chroma.shape[-2:] != luminance.shape[-2:]:
        chroma = F.interpolate(chroma, size=luminance.shape[-2:], mode="bilinear", align_corners=False, antialias=True)
    chroma = chroma.expand(luminance.shape[0], -1, -1, -1)
    return yuv_to_rgb(torch.cat([luminance, chroma], dim=1)).clamp(0.0, 1.0)


def _mean_covariance(pixels: Tensor) -> tuple[Tensor, Tensor]:
    """``pixels (B, 3, N)`` -> mean ``(B, 3, 1)``, biased covariance ``(B, 3, 3)``."""
    mean = pixels.mean(dim=2, keepdim=True)
    centered = pixels - mean
    return mean, centered @ centered.transpose(1, 2) / pixels.shape[2]


def _symmetric_power(matrix: Tensor, power: float) -> Tensor:
    """``matrix ** power`` for symmetric positive definite ``(B, 3, 3)`` via eigendecomposition."""
    eigenvalues, eigenvectors = torch.linalg.eigh(matrix)
    return eigenvectors @ torch.diag_embed(eigenvalues.pow(power)) @ eigenvectors.transpose(1, 2)


def match_color_statistics(source: Tensor, target: Tensor, eps: float = 1e-5) -> Tensor:
    """Colour preservation "match": recolour ``source`` to ``target``'s RGB mean and covariance.

    Gatys et al. (2016): ``x' = A (x - mu_s) + mu_t`` with ``A = Cov_t^(1/2) Cov_s^(-1/2)``
    (symmetric matrix square roots), applied to the style image before stylization so that the
    stylized result inherits the content's palette. Computed in float64: covariances of images
    with little colour variation are nearly singular.

    Args:
        source: ``(B, 3, H, W)`` RGB in ``[0, 1]`` (the style image).
        target: ``(B or 1, 3, H', W')`` RGB in ``[0, 1]`` (the content image); any size.
        eps: added to the diagonal of both covariances (regularises flat images).

    Returns:
        ``(B, 3, H, W)`` RGB clamped to ``[0, 1]``, dtype of ``source``.

    Raises:
        ShapeError: a shape does not fit.
        UsageError: an input is not floating point, or ``eps`` is not positive.

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> style = torch.rand(1, 3, 8, 8, generator=gen)
        >>> content = 0.4 + 0.2 * torch.rand(1, 3, 6, 6, generator=gen)
        >>> out = match_color_statistics(style, content)
        >>> torch.allclose(out.mean(dim=(2, 3)), content.mean(dim=(2, 3)), atol=1e-4)
        True
    """
    _check_rgb(source, "source")
    _check_rgb(target, "target")
    _check_batch_pair(source, target, "source", "target")
    if not eps > 0:
        raise UsageError(f"eps must be positive. Got {eps!r}")
    batch, _, height, width = source.shape
    source_pixels = source.to(torch.float64).flatten(2)
    target_pixels = target.to(torch.float64).flatten(2)
    identity = torch.eye(3, dtype=torch.float64, device=source.device)
    source_mean, source_cov = _mean_covariance(source_pixels)
    target_mean, target_cov = _mean_covariance(target_pixels)
    transform = _symmetric_power(target_cov + eps * identity, 0.5) @ _symmetric_power(source_cov + eps * identity, -0.5)
    matched = transform @ (source_pixels - source_mean) + target_mean
    return matched.view(batch, 3, height, width).clamp(0.0, 1.0).to(source.dtype)
