"""Reading and writing images safely.

Reading: every way a file can be bad (missing, empty, not an image, truncated, too large to
decode) becomes one :class:`~adain.errors.InputImageError` that quotes the path, and every pixel
format Pillow opens (1-bit, 8/16-bit and float grayscale, palette, CMYK, with or without alpha)
becomes RGB in ``[0, 1]`` with the alpha channel kept beside it. The pixel cap is checked from the
header, before any pixel is decoded, so a small file that claims to be huge cannot exhaust memory.

Writing: the format comes from the extension, and the file is written under a temporary name in
the destination directory and then renamed, so a failure never leaves a partial image behind.
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from adain._files import default_mode, open_beside, publish_on_success
from adain.errors import InputImageError, OutputError, ShapeError, UsageError

__all__ = [
    "ALPHA_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "OUTPUT_FORMATS",
    "LoadedImage",
    "load_image",
    "output_format",
    "pil_to_tensors",
    "save_image",
    "tensor_to_pil",
]

#: Default pixel cap for inputs (64 megapixels, e.g. 8000 x 8000): above it an image is refused
#: before decoding. Change it with ``max_pixels`` (``--max-pixels`` on the command line).
DEFAULT_MAX_PIXELS = 64_000_000

#: output extension -> Pillow format name
OUTPUT_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}

#: Pillow formats that can store an alpha channel (others get the RGB only).
ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}

# Pillow's decompression-bomb limit is a module global; raising it for one call must not race
# with another thread's call.
_PIL_LIMIT_LOCK = threading.Lock()


@dataclass
class LoadedImage:
    """An image read from disk (or converted from Pillow), ready for the network.

    Attributes:
        rgb: ``(1, 3, H, W)`` float32 in ``[0, 1]``.
        alpha: ``(1, 1, H, W)`` float32 in ``[0, 1]``, or ``None`` when the image is opaque.
        mode: the Pillow mode of the file before conversion (``"RGB"``, ``"I;16"``, ``"CMYK"``...).
        size: ``(width, height)`` after EXIF orientation, i.e. the size of ``rgb``.
        path: where it was read from, if it was read from a file.
    """

    rgb: Tensor
    alpha: Tensor | None
    mode: str
    size: tuple[int, int]
    path: Path | None = None


def _gray_to_unit(array: np.ndarray, mode: str) -> np.ndarray:
    """A single-channel array of any Pillow depth -> float32 in [0, 1] (no 8-bit clipping)."""
    if mode.startswith("I;16"):
        return array.astype(np.float32) / 65535.0
    if mode == "I":
        # 32-bit integer images are in practice 16-bit data (PNG/TIFF): scale like I;16.
        return np.clip(array.astype(np.float32) / 65535.0, 0.0, 1.0)
    if mode == "F":
        values = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(values.max()) if values.size else 0.0
        # Float images are normally in [0, 1]; larger values mean 8- or 16-bit data stored as float.
        scale = 1.0 if peak <= 1.0 else 255.0 if peak <= 255.0 else 65535.0 if peak <= 65535.0 else peak
        return np.clip(values / scale, 0.0, 1.0)
    return array.astype(np.float32) / 255.0


def pil_to_tensors(image: Image.Image) -> tuple[Tensor, Tensor | None]:
    """Any Pillow image -> ``(rgb (1, 3, H, W), alpha (1, 1, H, W) or None)``, float32 in [0, 1].

    Grayscale of any depth is replicated to three channels; 16-bit data keeps its full range
    (scaled by 65535, where ``Image.convert("L")`` would clip it at 255); palette images with a
    transparent colour, LA, PA and RGBA keep their alpha.

    Example:
        >>> rgb, alpha = pil_to_tensors(Image.new("LA", (4, 2), (255, 128)))
        >>> rgb.shape, alpha.shape, rgb.max().item(), round(alpha.max().item(), 3)
        (torch.Size([1, 3, 2, 4]), torch.Size([1, 1, 2, 4]), 1.0, 0.502)
    """
    mode = image.mode
    alpha: np.ndarray | None = None
    if mode == "P":
        has_alpha = "transparency" in image.info or (image.palette is not None and image.palette.mode == "RGBA")
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif mode in ("PA", "RGBa", "La"):
        image = image.convert("RGBA")
    elif mode == "1":
        image = image.convert("L")
    mode = image.mode
    if mode in ("L", "I", "F") or mode.startswith("I;16"):
        gray = _gray_to_unit(np.asarray(image), mode)
        rgb = np.repeat(gray[:, :, None], 3, axis=2)
    elif mode == "LA":
        array = np.asarray(image).astype(np.float32) / 255.0
        rgb, alpha = np.repeat(array[:, :, :1], 3, axis=2), array[:, :, 1]
    elif mode == "RGBA":
        array = np.asarray(image).astype(np.float32) / 255.0
        rgb, alpha = array[:, :, :3], array[:, :, 3]
    else:
        try:
            converted = image if mode == "RGB" else image.convert("RGB")
        except ValueError as error:
            raise InputImageError(f"cannot convert image mode {mode!r} to RGB: {error}") from None
        rgb = np.asarray(converted).astype(np.float32) / 255.0
    rgb_tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).unsqueeze(0).contiguous()
    alpha_tensor = None if alpha is None else torch.from_numpy(np.ascontiguousarray(alpha))[None, None].contiguous()
    return rgb_tensor, alpha_tensor


def _check_pixel_count(path: Path, size: tuple[int, int], max_pixels: int | None) -> None:
    width, height = size
    if max_pixels is not None and width * height > max_pixels:
        raise InputImageError(
            f"image {str(path)!r} is {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} pixels (raise it with --max-pixels)"
        )


def _open_checked(path: Path, max_pixels: int | None) -> Image.Image:
    """Open (header only), check the pixel cap, then decode everything (catches truncation)."""
    with _PIL_LIMIT_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        pil_limit = Image.MAX_IMAGE_PIXELS
        if max_pixels is not None:
            Image.MAX_IMAGE_PIXELS = None  # our own cap (checked below, same moment) replaces Pillow's
        try:
            image = Image.open(path)
            _check_pixel_count(path, image.size, max_pixels)
            image.load()  # full decode: a truncated file fails here, not later
            return image
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise InputImageError(f"image {str(path)!r} refused as a decompression bomb: {error}") from None
        except UnidentifiedImageError:
            raise InputImageError(f"{str(path)!r} is not an image (or not a format Pillow reads)") from None
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as error:
            message = str(error) or type(error).__name__
            raise InputImageError(f"cannot decode image {str(path)!r}: {message}") from None
        finally:
            Image.MAX_IMAGE_PIXELS = pil_limit


def load_image(path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read an image file as RGB in ``[0, 1]`` plus its alpha, honouring EXIF orientation.

    Args:
        path: the image file.
        max_pixels: refuse images with more pixels than this, checked from the header before
            decoding. ``None`` leaves only Pillow's own decompression-bomb guard.

    Raises:
        InputImageError: missing, empty, not an image, truncated, too large, or an unusable mode.
    """
    path = Path(path)
    if max_pixels is not None and max_pixels <= 0:
        raise UsageError(f"max_pixels must be positive. Got {max_pixels!r}")
    if not path.exists():
        raise InputImageError(f"image not found: {str(path)!r}")
    if path.is_dir():
        raise InputImageError(f"{str(path)!r} is a directory, not an image")
    try:
        if path.stat().st_size == 0:
            raise InputImageError(f"image {str(path)!r} is an empty file")
    except OSError as error:
        raise InputImageError(f"cannot read image {str(path)!r}: {error.strerror or error}") from None
    image = _open_checked(path, max_pixels)
    original_mode = image.mode
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:
        pass
    rgb, alpha = pil_to_tensors(image)
    return LoadedImage(rgb=rgb, alpha=alpha, mode=original_mode, size=(rgb.shape[3], rgb.shape[2]), path=path)


def _to_uint8_hwc(image: Tensor, channels: int, name: str) -> np.ndarray:
    """``(1, C, H, W)`` or ``(C, H, W)`` in [0, 1] -> ``(H, W, C)`` uint8 (rounded, clamped)."""
    if image.dim() == 4:
        if image.shape[0] != 1:
            raise ShapeError(f"{name} must hold one image, (1, {channels}, H, W). Got {tuple(image.shape)}")
        image = image[0]
    if image.dim() != 3 or image.shape[0] != channels:
        raise ShapeError(f"{name} must be ({channels}, H, W) or (1, {channels}, H, W). Got {tuple(image.shape)}")
    array = image.detach().float().clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).cpu()
    return array.permute(1, 2, 0).numpy()


def tensor_to_pil(rgb: Tensor, alpha: Tensor | None = None) -> Image.Image:
    """RGB ``(1, 3, H, W)`` (and alpha ``(1, 1, H, W)``) in [0, 1] -> an 8-bit RGB or RGBA image."""
    rgb_array = _to_uint8_hwc(rgb, 3, "rgb")
    if alpha is None:
        return Image.fromarray(rgb_array)
    alpha_array = _to_uint8_hwc(alpha, 1, "alpha")
    if alpha_array.shape[:2] != rgb_array.shape[:2]:
        raise ShapeError(
            f"alpha is {alpha_array.shape[1]}x{alpha_array.shape[0]}, rgb is {rgb_array.shape[1]}x{rgb_array.shape[0]}"
        )
    return Image.fromarray(np.concatenate([rgb_array, alpha_array], axis=2))


def output_format(path: str | os.PathLike[str]) -> str:
    """The Pillow format for an output path's extension.

    Raises:
        UsageError: the extension is not one of :data:`OUTPUT_FORMATS`.

    Example:
        >>> output_format("out/cat.JPG")
        'JPEG'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        known = ", ".join(sorted(OUTPUT_FORMATS))
        raise UsageError(f"unknown output extension {suffix or '(none)'!r} in {str(path)!r}; use one of {known}")
    return OUTPUT_FORMATS[suffix]


def save_image(
    rgb: Tensor,
    path: str | os.PathLike[str],
    alpha: Tensor | None = None,
    quality: int = 95,
) -> Path:
    """Write an image atomically; the format comes from the extension.

    The image is written to a temporary file in the destination directory (created if missing)
    and renamed over ``path`` only when complete, so readers never see a partial file and a
    failure leaves nothing behind.

    Args:
        rgb: ``(1, 3, H, W)`` or ``(3, H, W)`` in ``[0, 1]`` (clamped, rounded to 8 bits).
        path: destination; ``.png``, ``.jpg``/``.jpeg``, ``.webp``, ``.bmp``, ``.tif``/``.tiff``.
        alpha: ``(1, 1, H, W)`` in ``[0, 1]``; stored for PNG, WebP and TIFF, dropped otherwise.
        quality: JPEG and WebP quality (1-100).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        UsageError: unknown extension or quality out of range.
        OutputError: the destination cannot be written.
    """
    path = Path(path)
    fmt = output_format(path)
    if not 1 <= quality <= 100:
        raise UsageError(f"quality must be in [1, 100]. Got {quality!r}")
    image = tensor_to_pil(rgb, alpha if fmt in ALPHA_FORMATS else None)
    options: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    if fmt == "TIFF":
        options["compression"] = "tiff_deflate"
    try:
        temporary, handle = open_beside(path)
    except OSError as error:
        raise OutputError(f"cannot write {str(path)!r}: {error.strerror or error}") from None
    try:  # mkstemp makes 0600; outputs get the usual mode
        with publish_on_success(temporary, path, default_mode()), handle:
            image.save(handle, format=fmt, **options)
            handle.flush()
            os.fsync(handle.fileno())
    except (OSError, ValueError) as error:  # the temporary is already removed
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise OutputError(f"cannot write {str(path)!r}: {reason}") from None
    return path
