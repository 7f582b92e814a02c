"""Corpus cases: image files (and names) as ``--style``: read and encoded once per run by
``encode_styles_once`` with the command line's defaults (memory budget included). Malformed files
are refused by name; valid ones of every mode are encoded; sizes out of bounds (a 1-pixel side
enlarged hundreds of times, a style whose one-pass encoding would not fit the memory budget, a
style under 8 pixels) are refused before anything is resized."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from adain_corpus import Case, _load
from PIL import Image

from adain.errors import AdainError, BankError, InputImageError

images = _load(Path(__file__).with_name("cases_images.py"))


def _run(style_size: int = 64):
    def run(style: object, out: Path) -> None:
        """What ``adain stylize ... --style STYLE --style-size N`` does with the style, before any content."""
        from adain.pipeline import StylizeOptions
        from adain.pipeline.batch import encode_styles_once
        from adain.pipeline.tiling import DEFAULT_MAX_MEMORY_MB

        options = StylizeOptions(style_size=style_size, max_memory_mb=DEFAULT_MAX_MEMORY_MB).check()
        prepared, _ = encode_styles_once(images.pipeline(), [str(style)], options)
        assert len(prepared) == 1

    return run


def _cli(style_size: int = 64):
    def cli(style: object, out: Path) -> list[str]:
        content = out.parent / "content.png"
        Image.fromarray(np.full((16, 24, 3), 100, np.uint8)).save(content)
        return [
            "stylize",
            str(content),
            "--style",
            str(style),
            "--style-size",
            str(style_size),
            "--size",
            "0",
            "-o",
            str(out / "result.png"),
            "--no-progress",
        ]

    return cli


def _gray(width: int, height: int, fmt: str = "PNG") -> images.Build:
    return lambda: images.encode(Image.new("L", (width, height), 90), fmt)


def _name(value: str):
    return lambda folder: value


#: Sizes: ``name -> (file name, builder, style size, expected, message)``.
SIZES = {
    "7x7-kept": ("tiny.png", _gray(7, 7), 0, InputImageError, r"tiny\.png.*7x7.*at least 8"),
    "8x8-kept": ("eight.png", _gray(8, 8), 0, None, None),
    "1x1-to-8": ("dot.png", _gray(1, 1), 8, None, None),
    "1x1-to-64": ("dot64.png", _gray(1, 1), 64, None, None),
    "1x1-to-65": ("dot65.png", _gray(1, 1), 65, InputImageError, r"dot65\.png.*enlarge it 65x"),
    "1x1-to-512": ("dot512.png", _gray(1, 1), 512, InputImageError, r"dot512\.png.*enlarge it 512x"),
    "1x100-to-512": ("strip.png", _gray(1, 100), 512, InputImageError, r"strip\.png.*1x100.*enlarge"),
    "100000x2-to-512": ("wide.png", _gray(100_000, 2), 512, InputImageError, r"wide\.png.*100000x2.*enlarge"),
    "2x100000-kept": ("narrow.png", _gray(2, 100_000), 0, InputImageError, r"narrow\.png.*2x100000.*at least 8"),
    "16x16-to-8000": ("small.png", _gray(16, 16), 8000, InputImageError, r"small\.png.*enlarge it 500x"),
    "200x200-to-8000": ("big.png", _gray(200, 200), 8000, InputImageError, r"big\.png.*8000x8000.*memory budget"),
    "300x200-to-2000": ("photo.png", _gray(300, 200), 2000, InputImageError, r"photo\.png.*3000x2000.*memory budget"),
    "jpeg-8x8-kept": ("eight.jpg", _gray(8, 8, "JPEG"), 0, None, None),
}

_VALID_KEYS = [
    "png-rgb", "png-rgba", "png-la", "png-p-trns-short", "png-i16", "png-rgb16", "png-interlaced", "png-1bit",
    "jpeg-cmyk", "jpeg-progressive", "jpeg-exif-orientation", "jpeg-exif-garbage", "jpeg-no-dht-standard-tables",
    "gif-animated", "gif-transparent", "tiff-float", "tiff-i16", "tiff-jpeg", "tiff-la", "bmp-rgba", "bmp-top-down",
    "webp-lossless", "webp-animated", "png-apng",
]  # fmt: skip
_MALFORMED_KEYS = [key for k, key in enumerate(images.MALFORMED) if k % 3 == 1]
_FOREIGN_KEYS = ["eps-named-png", "eps-pillow-named-png", "dds-unknown-format", "psd-header", "jpeg2000", "html", "qoi"]
_SPECIAL_KEYS = ["fifo", "dev-zero-link", "directory", "symlink-loop-pair", "missing", "path-too-long", "proc-cmdline"]
_CLI = {"jpeg-exif-garbage", "png-keep-90pct", "eps-named-png", "fifo", "200x200-to-8000"}

CASES: list[Case] = []
for _key in _VALID_KEYS:
    _file_name, _build = images.VALID[_key]
    CASES.append(
        Case(
            f"style-valid-{_key}",
            "style",
            images.file(f"style-{_file_name}", _build),
            _run(),
            None,
            cli=_cli() if _key in _CLI else None,
        )
    )
for _key in _MALFORMED_KEYS:
    _file_name, _build = images.MALFORMED[_key]
    CASES.append(
        Case(
            f"style-{_key}",
            "style",
            images.file(f"style-{_file_name}", _build),
            _run(),
            InputImageError,
            cli=_cli() if _key in _CLI else None,
        )
    )
for _key in _FOREIGN_KEYS:
    _file_name, _build = images.FOREIGN[_key]
    CASES.append(
        Case(
            f"style-foreign-{_key}",
            "style",
            images.file(f"style-{_file_name}", _build),
            _run(),
            InputImageError,
            cli=_cli() if _key in _CLI else None,
        )
    )
for _key in _SPECIAL_KEYS:
    _make, _expect, _message = images.SPECIAL[_key]
    CASES.append(
        Case(
            f"style-special-{_key}",
            "style",
            _make,
            _run(),
            _expect,
            message=_message,
            cli=_cli() if _key in _CLI else None,
        )
    )
for _key, (_file_name, _build, _size, _expect, _message) in SIZES.items():
    CASES.append(
        Case(
            f"style-size-{_key}",
            "style",
            images.file(_file_name, _build),
            _run(_size),
            _expect,
            message=_message,
            cli=_cli(_size) if _key in _CLI else None,
        )
    )
CASES += [
    Case("style-bank-unknown", "style", _name("bank:nope"), _run(), BankError, message="nope"),
    Case("style-bank-traversal", "style", _name("bank:../../evil"), _run(), AdainError, message="evil"),
    Case("style-bank-newline", "style", _name("bank:a\nb"), _run(), AdainError, message=r"a\\nb"),
]
