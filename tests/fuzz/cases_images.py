"""Corpus cases: image files as content (``load_image``, what ``adain stylize`` and the server read)."""

from __future__ import annotations

import io
from pathlib import Path

from adain_corpus import Case
from PIL import Image

from adain.errors import InputImageError
from adain.image.io import load_image


def _png(width: int, height: int, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), 128 if mode == "L" else (200, 100, 50)).save(buffer, format="PNG")
    return buffer.getvalue()


def _file(name: str, data: bytes):
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return make


def _load(path: Path, out: Path) -> None:
    load_image(path)


def _stylize_cli(path: Path, out: Path) -> list[str]:
    return [
        "stylize",
        str(path),
        "--style",
        "bank:antimonocromatismo",
        "-o",
        str(out / "result.png"),
        "--size",
        "64",
        "--no-progress",
    ]


CASES = [
    Case("image-valid-png", "image", _file("ok.png", _png(40, 30)), _load, None, cli=_stylize_cli),
    Case("image-empty", "image", _file("empty.png", b""), _load, InputImageError, cli=_stylize_cli),
    Case("image-text", "image", _file("notes.png", b"hello, not an image\n"), _load, InputImageError, cli=_stylize_cli),
    Case("image-png-cut-17", "image", _file("cut.png", _png(64, 64)[:-17]), _load, InputImageError, cli=_stylize_cli),
]
