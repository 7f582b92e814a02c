"""Output size, resizing, and padding to what the network can take.

The encoder halves the resolution three times before relu4_1 and the decoder doubles it three
times, so only sides that are multiples of 8 come back at their own size. Images are therefore
reflect-padded on the right and bottom to a multiple of 8 before encoding and the decoded image
is cropped back, which gives exactly the requested output size for any input size.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from adain.errors import ShapeError, UsageError

__all__ = ["NETWORK_MULTIPLE", "crop_to", "pad_to_multiple", "resize_image", "target_size"]

#: Sides must be multiples of this (three 2x poolings in the encoder, three 2x upsamplings back).
NETWORK_MULTIPLE = 8


def target_size(height: int, width: int, size: int = 0, max_size: int = 0) -> tuple[int, int]:
    """The ``(height, width)`` an image is resized to, keeping its aspect ratio.

    Args:
        height, width: the image's size.
        size: the shorter side becomes ``size`` (``0`` keeps the original size).
        max_size: then the longer side is capped at ``max_size`` (``0``: no cap).

    Raises:
        UsageError: a negative size.

    Example:
        >>> target_size(53, 37, size=20)
        (29, 20)
        >>> target_size(53, 37, max_size=30)
        (30, 21)
        >>> target_size(53, 37)
        (53, 37)
    """
    if size < 0 or max_size < 0:
        raise UsageError(f"size and max_size must be >= 0 (0: no change). Got size={size}, max_size={max_size}")
    if height <= 0 or width <= 0:
        raise ShapeError(f"image must have a positive size. Got {height}x{width} (height x width)")
    new_height, new_width = float(height), float(width)
    if size:
        scale = size / min(height, width)
        new_height, new_width = height * scale, width * scale
    if max_size and max(new_height, new_width) > max_size:
        scale = max_size / max(new_height, new_width)
        new_height, new_width = new_height * scale, new_width * scale
    return max(1, round(new_height)), max(1, round(new_width))


def resize_image(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize ``(B, C, H, W)`` to ``size = (height, width)``: bilinear, antialiased when shrinking.

    Returns the input unchanged when it already has that size.
    """
    if image.dim() != 4:
        raise ShapeError(f"image must be (B, C, H, W). Got {tuple(image.shape)}")
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)


def pad_to_multiple(image: Tensor, multiple: int = NETWORK_MULTIPLE) -> tuple[Tensor, tuple[int, int]]:
    """Pad ``(B, C, H, W)`` on the right and bottom so both sides are multiples of ``multiple``.

    Reflection padding keeps the border statistics natural (zeros would add a dark frame that
    the decoder paints); sides too short to reflect that far are replicated instead.

    Returns:
        ``(padded, (H, W))``: the original size, for :func:`crop_to`.

    Example:
        >>> import torch
        >>> padded, original = pad_to_multiple(torch.rand(1, 3, 37, 53))
        >>> tuple(padded.shape), original
        ((1, 3, 40, 56), (37, 53))
    """
    if image.dim() != 4:
        raise ShapeError(f"image must be (B, C, H, W). Got {tuple(image.shape)}")
    height, width = image.shape[-2:]
    pad_bottom, pad_right = -height % multiple, -width % multiple
    if pad_bottom or pad_right:
        mode = "reflect" if pad_bottom < height and pad_right < width else "replicate"
        image = F.pad(image, (0, pad_right, 0, pad_bottom), mode=mode)
    return image, (height, width)


def crop_to(image: Tensor, size: tuple[int, int]) -> Tensor:
    """The top-left ``size = (height, width)`` of ``(B, C, H', W')`` (undoes :func:`pad_to_multiple`)."""
    height, width = size
    if image.shape[-2] < height or image.shape[-1] < width:
        raise ShapeError(f"cannot crop {tuple(image.shape[-2:])} to {size}: the image is smaller")
    return image[..., :height, :width]
