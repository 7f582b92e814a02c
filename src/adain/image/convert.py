"""Any image the API accepts -> tensors, and tensors -> the output type asked for.

The pipeline takes images as tensors, Pillow images, paths or :class:`~adain.image.io.LoadedImage`;
these functions turn each into ``(1, 3, H, W)`` RGB plus an optional alpha in [0, 1] with one
error per kind of bad input, so every caller (pipeline, style bank, server) checks them alike.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Union

import torch
from PIL import Image
from torch import Tensor

from adain.errors import ShapeError, UsageError
from adain.image.io import LoadedImage, load_image, pil_to_tensors, tensor_to_pil
from adain.ops.finite import all_finite

__all__ = ["OUTPUT_TYPES", "ImageInput", "image_to_tensors", "mask_to_tensor", "to_output"]

#: An image: a tensor ``(1, 3|4, H, W)`` or ``(3|4, H, W)`` in [0, 1], a Pillow image, a path,
#: or an already loaded :class:`~adain.image.io.LoadedImage`.
ImageInput = Union[Tensor, Image.Image, str, os.PathLike, LoadedImage]  # noqa: UP007 - a runtime alias

#: What :func:`to_output` returns: a Pillow image, a numpy array or a tensor.
OUTPUT_TYPES = ("pil", "np", "pt")


def image_to_tensors(image: ImageInput, max_pixels: int | None, what: str) -> tuple[Tensor, Tensor | None]:
    """Any :data:`ImageInput` -> ``(rgb (1, 3, H, W), alpha (1, 1, H, W) or None)`` in [0, 1]."""
    if isinstance(image, LoadedImage):
        return image.rgb, image.alpha
    if isinstance(image, (str, os.PathLike)):
        loaded = load_image(Path(image), max_pixels=max_pixels)
        return loaded.rgb, loaded.alpha
    if isinstance(image, Image.Image):
        return pil_to_tensors(image)
    if isinstance(image, Tensor):
        tensor = image.unsqueeze(0) if image.dim() == 3 else image
        if tensor.dim() != 4 or tensor.shape[0] != 1 or tensor.shape[1] not in (3, 4):
            raise ShapeError(f"{what} tensor must be (3|4, H, W) or (1, 3|4, H, W) RGB(A). Got {tuple(image.shape)}")
        if not tensor.is_floating_point():
            raise UsageError(f"{what} tensor must be floating point with values in [0, 1]. Got {tensor.dtype}")
        if not all_finite(tensor):
            raise UsageError(f"{what} tensor has NaN or infinite values")
        tensor = tensor.float().clamp(0.0, 1.0)
        return tensor[:, :3], (tensor[:, 3:] if tensor.shape[1] == 4 else None)
    raise UsageError(f"{what} must be a tensor, a Pillow image or a path. Got {type(image).__name__}")


def mask_to_tensor(mask: ImageInput, max_pixels: int | None) -> Tensor:
    """A mask in any form -> ``(1, 1, H, W)`` (grayscale) or ``(1, 3, H, W)`` (RGB) in [0, 1].

    An RGB image whose three channels are equal is a grayscale mask (two regions).
    """
    if isinstance(mask, Tensor):
        tensor = mask
        if tensor.dim() == 2:
            tensor = tensor[None, None]
        elif tensor.dim() == 3:
            tensor = tensor[None]
        if tensor.dim() != 4 or tensor.shape[0] != 1 or tensor.shape[1] not in (1, 3):
            raise ShapeError(f"mask tensor must be (H, W), (1|3, H, W) or (1, 1|3, H, W). Got {tuple(mask.shape)}")
        if not tensor.is_floating_point():
            raise UsageError(f"mask tensor must be floating point with values in [0, 1]. Got {tensor.dtype}")
        rgb = tensor.float()
    else:
        rgb, _ = image_to_tensors(mask, max_pixels, "mask")
    if rgb.shape[1] == 3 and torch.equal(rgb[:, 0], rgb[:, 1]) and torch.equal(rgb[:, 1], rgb[:, 2]):
        rgb = rgb[:, :1]
    return rgb


def to_output(rgb: Tensor, alpha: Tensor | None, output_type: str) -> Any:
    """``(1, 3, H, W)`` RGB (+ alpha) in [0, 1] as :data:`OUTPUT_TYPES` ``output_type``."""
    if output_type == "pil":
        return tensor_to_pil(rgb, alpha)
    image = rgb if alpha is None else torch.cat([rgb, alpha], dim=1)
    if output_type == "np":
        return image[0].permute(1, 2, 0).float().cpu().numpy()
    return image
