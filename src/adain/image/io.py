"""Reading and writing images safely.

Reading: every way a file can be bad (missing, not a regular file, empty, not an image, in a
format outside the allow-list, truncated, corrupt, too large to decode) becomes one
:class:`~adain.errors.InputImageError` that quotes the path, and every pixel format Pillow opens
(1-bit, 8/16-bit and float grayscale, palette, CMYK, with or without alpha) becomes RGB in
``[0, 1]`` with the alpha channel kept beside it. The path is stat'ed before it is opened (a FIFO
or a device is never read), only the decoders of :data:`INPUT_FORMATS` are used, and the pixel
cap is checked from the header, before any pixel is decoded, so a small file that claims to be
huge cannot exhaust memory. Pillow's warnings never reach the caller: they become the error (a
truncated file) or are dropped (damaged metadata).

Writing: the format comes from the extension; the image is encoded in memory, then written
under a temporary name in the destination directory, checked (every byte on disk: a full disk or
a file-size limit is an :class:`~adain.errors.OutputError`) and renamed, so a failure never
leaves a partial image behind.
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from torch import Tensor

from adain._files import default_mode, open_beside, publish_on_success, temporary_beside
from adain.errors import InputImageError, OutputError, ShapeError, UsageError
from adain.image import integrity

__all__ = [
    "ALPHA_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "INPUT_FORMATS",
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

#: The only decoders ever used (Pillow format names, passed to ``Image.open(formats=...)``): a
#: file in any other format is "not an image" whatever its name, and Pillow's other plugins
#: (EPS, which runs Ghostscript, among them) never see it.
INPUT_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF")
INPUT_FORMAT_NAMES = ("PNG", "JPEG", "WebP", "TIFF", "BMP", "GIF")

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


_FILE_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind_problem(path: Path, mode: int) -> InputImageError | None:
    """Why a file of this ``st_mode`` is no image file (``None``: a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return InputImageError(f"{str(path)!r} is a directory, not an image")
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
    return InputImageError(f"{str(path)!r} is {kind}, not an image file")


def _os_problem(path: Path, error: OSError) -> InputImageError:
    """An :class:`OSError` from ``stat`` or ``open`` as one clear line naming the path."""
    name = str(path)
    if error.errno == errno.ENOENT:
        return InputImageError(f"image not found: {name!r}")
    if error.errno == errno.ENOTDIR:
        return InputImageError(f"image not found: {name!r} (a part of the path is not a folder)")
    if error.errno == errno.ELOOP:
        return InputImageError(f"cannot read image {name!r}: a loop of symbolic links")
    if error.errno == errno.ENAMETOOLONG:
        return InputImageError(f"cannot read image {name!r}: the path or a name in it is too long for the file system")
    return InputImageError(f"cannot read image {name!r}: {error.strerror or error}")


def _open_regular_file(path: Path) -> tuple[int, int]:
    """``(descriptor, size)`` of ``path``, opened for reading once it is known to be a regular file.

    The path is stat'ed first (following symlinks): missing files, symlink loops, names too long,
    directories, FIFOs, devices and sockets are refused by name without being opened. It is then
    opened non-blocking (a FIFO swapped in meanwhile cannot block the open) and checked again
    on the descriptor. A regular file of size 0 is "an empty file" only if nothing can be read
    from it: a ``/proc`` or ``/sys`` file reports size 0 and has content.
    """
    try:
        status = os.stat(path)
    except OSError as error:
        raise _os_problem(path, error) from None
    except ValueError as error:  # an embedded NUL byte
        raise InputImageError(f"cannot read image {str(path)!r}: {error}") from None
    refusal = _kind_problem(path, status.st_mode)
    if refusal is not None:
        raise refusal
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        raise _os_problem(path, error) from None
    try:
        status = os.fstat(fd)
        refusal = _kind_problem(path, status.st_mode)
        if refusal is not None:
            raise refusal
        if status.st_size == 0:
            if os.read(fd, 1):
                raise InputImageError(
                    f"{str(path)!r} reports a size of 0 but has content (a /proc or /sys file?): not an image file"
                )
            raise InputImageError(f"image {str(path)!r} is an empty file")
    except OSError as error:
        os.close(fd)
        raise _os_problem(path, error) from None
    except BaseException:
        os.close(fd)
        raise
    return fd, status.st_size


def _is_truncation_warning(message: str) -> bool:
    return any(text in message for text in ("Truncated File Read", "Corrupt EXIF data", "truncated"))


def _decode(path: Path, fd: int, size: int, max_pixels: int | None) -> LoadedImage:
    """Open (header only, allow-listed decoders), check the pixel cap and the container, decode
    everything, honour EXIF orientation and convert; every failure is an :class:`InputImageError`.

    Pillow's warnings are recorded, never shown: those that mean the image itself is truncated
    (a TIFF's directory cut short: "Truncated File Read", "Corrupt EXIF data") become the error;
    the rest (a damaged EXIF block in a JPEG, a malformed MPO or APNG extra whose main image is
    fine) are dropped. Decompression-bomb warnings are errors.
    """
    name = str(path)
    with (
        _PIL_LIMIT_LOCK,
        warnings.catch_warnings(record=True) as caught,
        os.fdopen(fd, "rb", closefd=False) as file,
    ):
        warnings.simplefilter("always")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        pil_limit, load_truncated = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False  # never decode a truncated file "successfully"
        if max_pixels is not None:
            Image.MAX_IMAGE_PIXELS = None  # our own cap (checked below, same moment) replaces Pillow's
        try:
            try:
                image = Image.open(file, formats=INPUT_FORMATS)
            except UnidentifiedImageError:
                if any(_is_truncation_warning(str(w.message)) for w in caught):
                    raise InputImageError(f"cannot decode image {name!r}: it is truncated or corrupt") from None
                raise InputImageError(
                    f"{name!r} is not an image (or not in a format read here: {', '.join(INPUT_FORMAT_NAMES)})"
                ) from None
            _check_pixel_count(path, image.size, max_pixels)
            problem = integrity.problem(image.format, integrity.FileBytes(fd, size))
            if problem is not None:
                raise InputImageError(f"cannot decode image {name!r}: {problem}")
            with integrity.quiet_libtiff(image.format):
                image.load()  # full decode: a truncated file fails here, not later
            if image.format == "TIFF":
                cut = next((str(w.message) for w in caught if _is_truncation_warning(str(w.message))), None)
                if cut is not None:
                    raise InputImageError(f"cannot decode image {name!r}: it is truncated or corrupt ({cut.strip()})")
            original_mode = image.mode
            try:
                oriented = ImageOps.exif_transpose(image)
            except Exception:  # orientation is metadata: a damaged EXIF block leaves the image as stored
                oriented = image
            try:
                rgb, alpha = pil_to_tensors(oriented)
            except InputImageError as error:
                raise InputImageError(f"image {name!r}: {error}") from None
        except InputImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise InputImageError(f"image {name!r} refused as a decompression bomb: {error}") from None
        except MemoryError:
            raise InputImageError(f"image {name!r} is too large to decode in the memory available") from None
        except Exception as error:  # any decoder's failure, of any class (ValueError, NotImplementedError, ...)
            message = " ".join(str(error).split()) or type(error).__name__
            code = re.fullmatch(r"decoder error (-?\d+)", message)
            if code is not None:
                message = f"its image data is corrupt (decoder error {code.group(1)})"
            elif "truncated" in message.lower() and message != "image file is truncated":
                message = f"it is truncated ({message})"
            elif "truncated" in message.lower():
                message = "it is truncated"
            raise InputImageError(f"cannot decode image {name!r}: {message}") from None
        finally:
            Image.MAX_IMAGE_PIXELS = pil_limit
            ImageFile.LOAD_TRUNCATED_IMAGES = load_truncated
    return LoadedImage(rgb=rgb, alpha=alpha, mode=original_mode, size=(rgb.shape[3], rgb.shape[2]), path=path)


def load_image(path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read an image file as RGB in ``[0, 1]`` plus its alpha, honouring EXIF orientation.

    What is refused, each as one :class:`InputImageError` naming the file: anything that is not a
    regular file (checked with ``stat`` before opening: directories, FIFOs, devices, sockets,
    symlink loops, paths too long; a FIFO never blocks), an empty file, a format outside
    :data:`INPUT_FORMATS` (PNG, JPEG, WebP, TIFF, BMP, GIF: no other decoder is ever tried, so
    e.g. an EPS file named ``.png`` never reaches Pillow's PostScript plugin), more pixels than
    ``max_pixels`` (from the header, before any pixel is decoded), a truncated or corrupt file
    (including what Pillow itself lets pass: see :mod:`adain.image.integrity`), and any error a
    decoder raises. Pillow's warnings never escape: they become the error or are dropped.

    Args:
        path: the image file.
        max_pixels: refuse images with more pixels than this, checked from the header before
            decoding. ``None`` leaves only Pillow's own decompression-bomb guard.

    Raises:
        UsageError: ``max_pixels`` is not positive.
        InputImageError: see above.
    """
    path = Path(path)
    if max_pixels is not None and max_pixels <= 0:
        raise UsageError(f"max_pixels must be positive. Got {max_pixels!r}")
    fd, size = _open_regular_file(path)
    try:
        return _decode(path, fd, size, max_pixels)
    finally:
        os.close(fd)


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
    # Encoded in memory first: Pillow's C encoders (JPEG among them) write straight to a file's
    # descriptor and do not notice a short write (a full disk, a file-size limit), which would
    # publish a cut image as "written". Our own write below checks every byte.
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt, **options)
    except (OSError, ValueError) as error:
        raise OutputError(f"cannot write {str(path)!r}: {_reason(error)}") from None
    data = buffer.getvalue()
    try:
        temporary, handle = _open_temporary(path)
    except OSError as error:
        raise OutputError(f"cannot write {str(path)!r}: {_reason(error)}") from None
    try:  # mkstemp makes 0600; outputs get the usual mode
        with publish_on_success(temporary, path, default_mode()), handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            written = os.fstat(handle.fileno()).st_size
            if written != len(data):
                raise OSError(errno.EIO, f"short write: {written:,} of {len(data):,} bytes reached the disk")
    except (OSError, ValueError) as error:  # the temporary is already removed
        raise OutputError(f"cannot write {str(path)!r}: {_reason(error)}") from None
    return path


def _open_temporary(path: Path) -> tuple[Path, BinaryIO]:
    """:func:`~adain._files.open_beside` ``path``; for a name so long that the temporary name
    (``.<name>.XXXXXXXX.part``) is over the file system's limit while the name itself is not,
    a short temporary name instead."""
    try:
        return open_beside(path)
    except OSError as error:
        if error.errno != errno.ENAMETOOLONG:
            raise
    temporary = temporary_beside(path, prefix=".adain-output.")
    try:
        return temporary, open(temporary, "wb")  # the caller closes it
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _reason(error: BaseException) -> str:
    """An output error's cause in words: disk full and file-size limits say so."""
    number = getattr(error, "errno", None)
    if number == errno.ENOSPC:
        return "no space left on the device"
    if number == errno.EFBIG:
        return "the file is larger than this process may write (a file-size limit, ulimit -f)"
    if number == errno.ENAMETOOLONG:
        return "the path or a name in it is too long for the file system"
    if number == getattr(errno, "EDQUOT", None):
        return "the disk quota is exceeded"
    return getattr(error, "strerror", None) or str(error) or type(error).__name__
