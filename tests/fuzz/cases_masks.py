"""Corpus cases: image files as ``--mask`` (read once per run by ``encode_styles_once``, then turned
into region weights by the pipeline), malformed ones refused by name and valid ones of every mode
and shape routing styles as they should."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from adain_corpus import Case, _load
from PIL import Image

from adain.errors import InputImageError, UsageError

images = _load(Path(__file__).with_name("cases_images.py"))

STYLES_2 = ["bank:antimonocromatismo", "bank:abstraction"]
STYLES_3 = [*STYLES_2, "bank:aesust-0"]
CONTENT_SIZE = (16, 16)  # height, width


def _content() -> torch.Tensor:
    return torch.rand(1, 3, *CONTENT_SIZE, generator=torch.Generator().manual_seed(15))


def _run(styles: list[str]):
    def run(mask: object, out: Path) -> None:
        """What ``adain stylize content.png --style A --style B [--style C] --mask MASK --size 0`` does."""
        from adain.image.io import save_image
        from adain.pipeline import StylizeOptions
        from adain.pipeline.batch import encode_styles_once

        pipeline = images.pipeline()
        resolved = [images.bank_style(style) for style in styles]
        prepared, options = encode_styles_once(pipeline, resolved, StylizeOptions(mask=mask).check(len(styles)))
        result = pipeline(_content(), prepared, options, output_type="pt")
        save_image(result.rgb, out / "result.png")

    return run


def _cli(styles: list[str]):
    def cli(mask: object, out: Path) -> list[str]:
        content = out.parent / "content.png"
        Image.fromarray(np.full((*CONTENT_SIZE, 3), 128, np.uint8)).save(content)
        argv = ["stylize", str(content), "-o", str(out / "result.png"), "--size", "0", "--no-progress"]
        for style in styles:
            argv += ["--style", style]
        return [*argv, "--mask", str(mask)]

    return cli


def _regions(kind: str, width: int = 24, height: int = 16) -> Image.Image:
    """A mask image: ``gray`` (left white, right black), ``rgb`` (red, green, blue thirds)."""
    array = np.zeros((height, width, 3), np.uint8)
    if kind == "gray":
        array[:, : width // 2] = 255
    else:
        array[:, : width // 3, 0] = 255
        array[:, width // 3 : 2 * width // 3, 1] = 255
        array[:, 2 * width // 3 :, 2] = 255
    return Image.fromarray(array)


def _mask_file(kind: str, fmt: str, mode: str | None = None, width: int = 24, height: int = 16, **params):
    def build() -> bytes:
        image = _regions(kind, width, height)
        if mode is not None:
            image = image.convert(mode)
        return images.encode(image, fmt, **params)

    return build


def _gray16(width: int = 24, height: int = 16) -> bytes:
    values = np.zeros((height, width), np.uint16)
    values[:, : width // 2] = 65535
    return images.encode(Image.frombytes("I;16", (width, height), values.astype("<u2").tobytes()), "PNG")


def _float_tiff() -> bytes:
    values = np.zeros((16, 24), np.float32)
    values[:, :12] = 1.0
    return images.encode(Image.frombytes("F", (24, 16), values.astype("=f4").tobytes()), "TIFF")


#: Valid masks: ``name -> (file name, builder, styles)``.
VALID_MASKS = {
    "gray-png": ("mask.png", _mask_file("gray", "PNG", "L"), STYLES_2),
    "gray-as-rgb-png": ("mask-rgb-gray.png", _mask_file("gray", "PNG"), STYLES_2),
    "rgb-three-regions": ("regions.png", _mask_file("rgb", "PNG"), STYLES_3),
    "rgb-two-styles": ("regions2.png", _mask_file("rgb", "PNG"), STYLES_2),
    "one-bit": ("bits.png", _mask_file("gray", "PNG", "1"), STYLES_2),
    "rgba": ("alpha.png", _mask_file("rgb", "PNG", "RGBA"), STYLES_3),
    "la": ("gray-alpha.png", _mask_file("gray", "PNG", "LA"), STYLES_2),
    "palette": ("palette.png", _mask_file("rgb", "PNG", "P"), STYLES_3),
    "gray16": ("deep.png", _gray16, STYLES_2),
    "float-tiff": ("float.tif", _float_tiff, STYLES_2),
    "jpeg": ("mask.jpg", _mask_file("gray", "JPEG", "L"), STYLES_2),
    "jpeg-cmyk": ("print.jpg", _mask_file("rgb", "JPEG", "CMYK"), STYLES_3),
    "gif": ("mask.gif", _mask_file("rgb", "GIF", "P"), STYLES_3),
    "webp-lossless": ("mask.webp", _mask_file("gray", "WEBP", lossless=True), STYLES_2),
    "bmp": ("mask.bmp", _mask_file("gray", "BMP", "L"), STYLES_2),
    "tiff-deflate": ("mask.tif", _mask_file("rgb", "TIFF", compression="tiff_deflate"), STYLES_3),
    "one-pixel": ("dot.png", _mask_file("gray", "PNG", "L", 1, 1), STYLES_2),
    "tall-strip": ("tall.png", _mask_file("gray", "PNG", "L", 3, 100), STYLES_2),
    "wide-strip": ("wide.png", _mask_file("rgb", "PNG", None, 1000, 2), STYLES_3),
    "larger-than-content": ("large.png", _mask_file("gray", "PNG", "L", 240, 160), STYLES_2),
    "other-aspect": ("square.png", _mask_file("rgb", "PNG", None, 64, 64), STYLES_3),
}

#: A sample of the image corpus's malformed, foreign and special files, as masks.
_MALFORMED_KEYS = [key for k, key in enumerate(images.MALFORMED) if k % 3 == 0]
_FOREIGN_KEYS = ["eps-named-png", "dds-unknown-format", "tga-named-png", "pdf", "plain-text", "zeros", "svg"]
_SPECIAL_KEYS = [
    "fifo",
    "socket",
    "dev-null",
    "directory",
    "symlink-loop",
    "dangling-symlink",
    "name-too-long",
    "proc-file",
]
_CLI = {"rgb-three-regions", "gray16", "png-minus-17", "symlink-loop"}

CASES: list[Case] = []
for _key, (_name, _build, _styles) in VALID_MASKS.items():
    CASES.append(
        Case(
            f"mask-valid-{_key}",
            "mask",
            images.file(_name, _build),
            _run(_styles),
            None,
            cli=_cli(_styles) if _key in _CLI else None,
        )
    )
for _key in _MALFORMED_KEYS:
    _name, _build = images.MALFORMED[_key]
    CASES.append(
        Case(
            f"mask-{_key}",
            "mask",
            images.file(f"mask-{_name}", _build),
            _run(STYLES_2),
            InputImageError,
            cli=_cli(STYLES_2) if _key in _CLI else None,
        )
    )
for _key in _FOREIGN_KEYS:
    _name, _build = images.FOREIGN[_key]
    CASES.append(
        Case(f"mask-foreign-{_key}", "mask", images.file(f"mask-{_name}", _build), _run(STYLES_2), InputImageError)
    )
for _key in _SPECIAL_KEYS:
    _make, _expect, _message = images.SPECIAL[_key]
    CASES.append(
        Case(
            f"mask-special-{_key}",
            "mask",
            _make,
            _run(STYLES_2),
            _expect,
            message=_message,
            cli=_cli(STYLES_2) if _key in _CLI else None,
        )
    )
CASES += [
    # a grayscale mask has two regions: three styles cannot be routed by it
    Case(
        "mask-gray-for-three-styles",
        "mask",
        images.file("gray.png", _mask_file("gray", "PNG", "L")),
        _run(STYLES_3),
        UsageError,
        message="grayscale mask provides 2 regions",
    ),
    Case(
        "mask-huge-header",
        "mask",
        images.file(
            "huge-mask.png",
            images.png_replace(_mask_file("gray", "PNG", "L"), b"IHDR", images.ihdr(60_000, 60_000, color=0)),
        ),
        _run(STYLES_2),
        InputImageError,
        message=r"huge-mask\.png.*over the limit",
    ),
]
