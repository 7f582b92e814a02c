"""Output size, resizing, and padding to what the network can take.

The encoder halves the resolution three times before relu4_1 and the decoder doubles it three
times, so only sides that are multiples of 8 come back at their own size. Images are therefore
reflect-padded on the right and bottom to a multiple of 8 before encoding and the decoded image
is cropped back, which gives exactly the requested output size for any input size. Images
smaller than :data:`MIN_NETWORK_SIDE` on a side are padded up to it (the deepest layers need two
positions to reflect-pad), so even a 1x1 output works.

Resizing has limits, checked from the sizes alone before anything is resized or allocated
(:func:`checked_target_size`): an image is never enlarged more than :data:`MAX_UPSCALE` times on
a side (a 1-pixel side is not blown up to thousands: a 1x100 strip at ``--size 512`` would be
512x51200), and the resized image must fit the pixel budget (``max_pixels``, at most
:data:`MAX_PIXELS_LIMIT`). A 100000x2 image at ``--size 512`` is refused at once instead of
asking for a 9 GB tensor.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from adain.errors import InputImageError, ShapeError, UsageError

__all__ = [
    "MAX_PIXELS_LIMIT",
    "MAX_UPSCALE",
    "MIN_NETWORK_SIDE",
    "NETWORK_MULTIPLE",
    "checked_target_size",
    "crop_to",
    "pad_to_multiple",
    "resize_image",
    "target_size",
]

#: Sides must be multiples of this (three 2x poolings in the encoder, three 2x upsamplings back).
NETWORK_MULTIPLE = 8

#: The smallest side the networks take: two positions at relu4_1, where the next layers
#: reflect-pad by one. Smaller images are padded up to it (:func:`pad_to_multiple`'s ``minimum``).
MIN_NETWORK_SIDE = 2 * NETWORK_MULTIPLE

#: An image is never enlarged more than this many times on a side: beyond, resizing invents
#: nothing but cost (a 1-pixel side is not blown up to thousands), and the request is refused.
#: 64x still takes an 8x8 icon to the default 512.
MAX_UPSCALE = 64

#: The most pixels any image may have after resizing, whatever ``max_pixels`` allows (one
#: gigapixel: 12 GB as a float32 RGB tensor, before any activation). ``max_pixels`` options
#: above it are usage errors.
MAX_PIXELS_LIMIT = 1_000_000_000


def target_size(height: int, width: int, size: int = 0, max_size: int = 0, *, upscale: bool = True) -> tuple[int, int]:
    """The ``(height, width)`` an image is resized to, keeping its aspect ratio.

    Args:
        height, width: the image's size.
        size: the shorter side becomes ``size`` (``0`` keeps the original size).
        max_size: then the longer side is capped at ``max_size`` (``0``: no cap).
        upscale: ``False`` makes ``size`` a cap: a shorter side already at most ``size`` is
            kept (enlarging a small photo invents no detail and costs time with the square of
            the size; the CLI, the server and the video stylizer ask for it only with
            ``--upscale``). Evaluation and style images, which need an exact size, keep ``True``.

    Raises:
        UsageError: a negative size.

    Example:
        >>> target_size(53, 37, size=20)
        (29, 20)
        >>> target_size(53, 37, max_size=30)
        (30, 21)
        >>> target_size(53, 37)
        (53, 37)
        >>> target_size(192, 256, size=512, upscale=False)  # never enlarged unless asked
        (192, 256)
        >>> target_size(1080, 1920, size=512, upscale=False)
        (512, 910)
    """
    if size < 0 or max_size < 0:
        raise UsageError(f"size and max_size must be >= 0 (0: no change). Got size={size}, max_size={max_size}")
    if height <= 0 or width <= 0:
        raise ShapeError(f"image must have a positive size. Got {height}x{width} (height x width)")
    new_height, new_width = float(height), float(width)
    if size and (upscale or size < min(height, width)):
        scale = size / min(height, width)
        new_height, new_width = height * scale, width * scale
    if max_size and max(new_height, new_width) > max_size:
        scale = max_size / max(new_height, new_width)
        new_height, new_width = new_height * scale, new_width * scale
    return max(1, round(new_height)), max(1, round(new_width))


def checked_target_size(
    height: int,
    width: int,
    size: int = 0,
    max_size: int = 0,
    *,
    upscale: bool = True,
    max_pixels: int | None = None,
    name: str = "the image",
    option: str = "--size",
) -> tuple[int, int]:
    """:func:`target_size`, refused before anything is resized when the result is out of bounds.

    Refused: enlarging a side more than :data:`MAX_UPSCALE` times, and more pixels after resizing
    than ``max_pixels`` (``None``: :data:`MAX_PIXELS_LIMIT`; never more than that).

    Args:
        name: the image in the message (e.g. its path, quoted).
        option: the option that asked for the size, for the message's advice.

    Raises:
        InputImageError: the image cannot be resized so; the message names it and gives sizes.
        UsageError: a negative size.

    Example:
        >>> checked_target_size(30, 40, size=64)
        (64, 85)
        >>> checked_target_size(2, 100_000, size=512, name="'strip.png'")
        Traceback (most recent call last):
        adain.errors.InputImageError: 'strip.png' is 100000x2: --size 512 would enlarge it 256x, to 25600000x512 (at most 64x); use a smaller --size, or 0 to keep its size
    """
    new_height, new_width = target_size(height, width, size, max_size, upscale=upscale)
    scale = max(new_height / height, new_width / width)
    wanted = f"{option} {size}" if size else "the size asked for"
    if scale > MAX_UPSCALE:
        raise InputImageError(
            f"{name} is {width}x{height}: {wanted} would enlarge it {scale:.0f}x, to {new_width}x{new_height} "
            f"(at most {MAX_UPSCALE}x); use a smaller {option}, or 0 to keep its size"
        )
    budget = MAX_PIXELS_LIMIT if max_pixels is None else min(max_pixels, MAX_PIXELS_LIMIT)
    if new_height * new_width > budget:
        raise InputImageError(
            f"{name} is {width}x{height}: {wanted} would make it {new_width}x{new_height} = "
            f"{new_height * new_width:,} pixels, over the limit of {budget:,} pixels; use a smaller {option} "
            "or --max-size"
        )
    return new_height, new_width


def resize_image(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize ``(B, C, H, W)`` to ``size = (height, width)``: bilinear, antialiased when shrinking.

    Returns the input unchanged when it already has that size.
    """
    if image.dim() != 4:
        raise ShapeError(f"image must be (B, C, H, W). Got {tuple(image.shape)}")
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)


def pad_to_multiple(
    image: Tensor, multiple: int = NETWORK_MULTIPLE, minimum: int = 0
) -> tuple[Tensor, tuple[int, int]]:
    """Pad ``(B, C, H, W)`` on the right and bottom so both sides are multiples of ``multiple``
    and at least ``minimum`` (the pipeline passes :data:`MIN_NETWORK_SIDE` for whole images).

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
    pad_bottom = max(minimum - height, 0) + -max(minimum, height) % multiple
    pad_right = max(minimum - width, 0) + -max(minimum, width) % multiple
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
