"""Corpus cases: image files as content (``load_image``, what ``adain stylize`` and the server read).

Every file is built here from a table, from seeded noise (no binary fixture is committed): valid
images of every mode and format we read (they must keep working: ``expect=None``), the same
images truncated at many offsets, with corrupted chunks, CRCs, headers and dimensions, palette and
EXIF tricks, files of formats we do not read (whatever their name), and special files (FIFOs,
devices, sockets, symlink loops, names too long). The builders (:data:`VALID`, :data:`MALFORMED`,
:data:`SPECIAL`, :func:`pipeline`) are shared with ``cases_masks.py``, ``cases_styles.py``,
``cases_batch.py`` and ``cases_sizes.py``, which load this module through the corpus.
"""

from __future__ import annotations

import functools
import io
import os
import socket
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from adain_corpus import Case, seeded
from PIL import Image

from adain.errors import InputImageError
from adain.image.io import load_image

Build = Callable[[], bytes]

# -- pixels ---------------------------------------------------------------------------------------


def noise(name: str, mode: str = "RGB", width: int = 48, height: int = 32) -> Image.Image:
    """A seeded noise image of ``mode`` (smooth enough that JPEG and WebP keep some structure)."""
    rng = seeded(f"{name}:{mode}:{width}x{height}")
    if mode in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return Image.frombytes(mode, (width, height), rng.randbytes(width * height * len(mode)))
    if mode == "P":
        return noise(name, "RGB", width, height).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    if mode == "1":
        return noise(name, "L", width, height).convert("1")
    if mode == "I;16":
        return Image.frombytes("I;16", (width, height), rng.randbytes(2 * width * height))
    if mode == "I":
        values = np.frombuffer(rng.randbytes(2 * width * height), dtype="<u2").astype(np.int32)
        return Image.frombytes("I", (width, height), values.astype("=i4").tobytes())
    if mode == "F":
        values = np.frombuffer(rng.randbytes(width * height), dtype=np.uint8).astype(np.float32) / 255
        return Image.frombytes("F", (width, height), values.astype("=f4").tobytes())
    raise ValueError(mode)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def encoded(fmt: str, mode: str = "RGB", width: int = 48, height: int = 32, **params: object) -> Build:
    """A builder: seeded noise of ``mode`` encoded as ``fmt``."""

    def build() -> bytes:
        return encode(noise(f"{fmt}{sorted(params.items())}", mode, width, height), fmt, **params)

    return build


# -- PNG ------------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    if crc is None:
        crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc & 0xFFFFFFFF)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, offset = [], 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        chunks.append((kind, data[offset + 8 : offset + 8 + length]))
        offset += 12 + length
    return chunks


def png_join(chunks: list[tuple[bytes, bytes]], signature: bytes = PNG_SIGNATURE) -> bytes:
    return signature + b"".join(chunk(kind, data) for kind, data in chunks)


def ihdr(width: int, height: int, depth: int = 8, color: int = 2, interlace: int = 0) -> bytes:
    return struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace)


def raw_png(
    width: int,
    height: int,
    depth: int = 8,
    color: int = 2,
    *,
    before_idat: tuple[tuple[bytes, bytes], ...] = (),
    after_idat: tuple[tuple[bytes, bytes], ...] = (),
    data: bytes | None = None,
    seed: str = "raw",
) -> bytes:
    """A PNG written by hand (any depth and colour type, filter 0), e.g. where Pillow writes none."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    row_bytes = -(-width * channels * depth // 8)
    if data is None:
        rng = seeded(f"{seed}:{width}x{height}:{depth}:{color}")
        rows = []
        for _ in range(height):
            row = bytearray(rng.randbytes(row_bytes))
            if color == 3:  # palette indices within a 4-entry palette
                row = bytearray(b & (0x55 if depth == 1 else 0x33 if depth == 2 else 0x03) for b in row)
            rows.append(b"\0" + bytes(row))
        data = zlib.compress(b"".join(rows))
    chunks = [(b"IHDR", ihdr(width, height, depth, color)), *before_idat, (b"IDAT", data), *after_idat, (b"IEND", b"")]
    return png_join(chunks)


def adam7_png(width: int, height: int) -> bytes:
    """An interlaced (Adam7) 8-bit RGB PNG (Pillow reads these but does not write them)."""
    rng = seeded(f"adam7:{width}x{height}")
    pixels = rng.randbytes(width * height * 3)
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
    raw = bytearray()
    for x0, y0, dx, dy in passes:
        columns = range(x0, width, dx)
        if not columns:
            continue
        for y in range(y0, height, dy):
            raw += b"\0" + b"".join(pixels[3 * (y * width + x) : 3 * (y * width + x) + 3] for x in columns)
    chunks = [(b"IHDR", ihdr(width, height, interlace=1)), (b"IDAT", zlib.compress(bytes(raw))), (b"IEND", b"")]
    return png_join(chunks)


def palette_png(entries: int, transparency: int | None, width: int = 8, height: int = 8, depth: int = 8) -> bytes:
    """A palette PNG with ``entries`` PLTE entries and a tRNS of ``transparency`` entries."""
    rng = seeded(f"palette:{entries}:{transparency}")
    before = [(b"PLTE", bytes(rng.randbytes(3 * entries)))]
    if transparency is not None:
        before.append((b"tRNS", bytes(rng.randbytes(transparency))))
    rows = b"".join(b"\0" + bytes(i % max(1, min(entries, 256)) for i in range(width)) for _ in range(height))
    return raw_png(width, height, depth, 3, before_idat=tuple(before), data=zlib.compress(rows))


def png_edit(build: Build, edit: Callable[[list[tuple[bytes, bytes]]], list[tuple[bytes, bytes]]]) -> Build:
    def built() -> bytes:
        return png_join(edit(png_chunks(build())))

    return built


def png_bad_crc(build: Build, kind: bytes) -> Build:
    """The first ``kind`` chunk's CRC off by one."""

    def built() -> bytes:
        data = bytearray(build())
        offset = 8
        while True:
            length, found = struct.unpack(">I4s", data[offset : offset + 8])
            if found == kind:
                position = offset + 8 + length
                data[position + 3] ^= 0x01
                return bytes(data)
            offset += 12 + length

    return built


def png_replace(build: Build, kind: bytes, data: bytes) -> Build:
    return png_edit(build, lambda chunks: [(k, data if k == kind else d) for k, d in chunks])


def png_drop(build: Build, kind: bytes) -> Build:
    return png_edit(build, lambda chunks: [(k, d) for k, d in chunks if k != kind])


def png_insert(build: Build, after: bytes, kind: bytes, data: bytes) -> Build:
    def edit(chunks: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        out = []
        for k, d in chunks:
            out.append((k, d))
            if k == after:
                out.append((kind, data))
        return out

    return png_edit(build, edit)


# -- JPEG -----------------------------------------------------------------------------------------


def jpeg_find(data: bytes, marker: int) -> int:
    """The offset of the first segment with ``marker`` (before the first scan)."""
    offset = 2
    while offset < len(data):
        if data[offset] != 0xFF:
            raise ValueError("not at a marker")
        found = data[offset + 1]
        if found == marker:
            return offset
        if found == 0xDA:
            break
        offset += 2 + struct.unpack(">H", data[offset + 2 : offset + 4])[0]
    raise ValueError(f"no marker {marker:#x}")


def jpeg_set_frame(build: Build, width: int | None = None, height: int | None = None, precision: int | None = None):
    """Rewrite the frame header (SOF) of a JPEG: its size or sample precision, nothing else."""

    def built() -> bytes:
        data = bytearray(build())
        for marker in (0xC0, 0xC1, 0xC2):
            try:
                offset = jpeg_find(bytes(data), marker)
                break
            except ValueError:
                continue
        if precision is not None:
            data[offset + 4] = precision
        if height is not None:
            data[offset + 5 : offset + 7] = struct.pack(">H", height)
        if width is not None:
            data[offset + 7 : offset + 9] = struct.pack(">H", width)
        return bytes(data)

    return built


def jpeg_drop(build: Build, marker: int) -> Build:
    def built() -> bytes:
        data = build()
        offset = jpeg_find(data, marker)
        length = struct.unpack(">H", data[offset + 2 : offset + 4])[0]
        return data[:offset] + data[offset + 2 + length :]

    return built


def jpeg_with_app1(build: Build, payload: bytes) -> Build:
    """An APP1 (EXIF) segment with ``payload`` inserted right after SOI."""

    def built() -> bytes:
        data = build()
        return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]

    return built


def jpeg_patch_segment(build: Build, marker: int, position: int, value: int) -> Build:
    """Byte ``position`` of segment ``marker``'s payload set to ``value``."""

    def built() -> bytes:
        data = bytearray(build())
        data[jpeg_find(bytes(data), marker) + 4 + position] = value
        return bytes(data)

    return built


def exif_bytes(orientation: int | None = None, garbage: bytes = b"") -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    return exif.tobytes() + garbage


# -- other formats --------------------------------------------------------------------------------


def patched(build: Build, offset: int, value: bytes) -> Build:
    """``value`` written over the bytes at ``offset`` (negative: from the end)."""

    def built() -> bytes:
        data = bytearray(build())
        start = offset if offset >= 0 else len(data) + offset
        data[start : start + len(value)] = value
        return bytes(data)

    return built


def cut(build: Build, keep: float | None = None, minus: int | None = None) -> Build:
    """The file truncated to a fraction ``keep`` of its length, or ``minus`` bytes short."""

    def built() -> bytes:
        data = build()
        end = len(data) - minus if minus is not None else max(1, int(len(data) * keep))
        return data[:end]

    return built


def tiff_set_tag(build: Build, tag: int, value: int) -> Build:
    """The first IFD's entry ``tag`` (a SHORT or LONG stored inline) set to ``value``."""

    def built() -> bytes:
        data = bytearray(build())
        order = "<" if data[:2] == b"II" else ">"
        (ifd,) = struct.unpack(order + "I", data[4:8])
        (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
        for k in range(count):
            entry = ifd + 2 + 12 * k
            found, kind = struct.unpack(order + "HH", data[entry : entry + 4])
            if found == tag:
                if kind == 3:
                    data[entry + 8 : entry + 12] = struct.pack(order + "HH", value & 0xFFFF, 0)
                else:
                    data[entry + 8 : entry + 12] = struct.pack(order + "I", value & 0xFFFFFFFF)
                return bytes(data)
        raise ValueError(f"no tag {tag}")

    return built


def bmp_top_down() -> bytes:
    """A top-down BMP (negative height: valid, rows stored first to last)."""
    image = noise("bmp-top-down", "RGB", 20, 12)
    data = bytearray(encode(image, "BMP"))
    offset = struct.unpack("<I", data[10:14])[0]
    row = -(-20 * 3 // 4) * 4
    rows = [data[offset + k * row : offset + (k + 1) * row] for k in range(12)]
    data[offset:] = b"".join(reversed(rows))
    data[22:26] = struct.pack("<i", -12)
    return bytes(data)


def gif_animated() -> bytes:
    frames = [noise(f"gif-frame-{k}", "P", 24, 16) for k in range(3)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)


def webp_animated() -> bytes:
    frames = [noise(f"webp-frame-{k}", "RGB", 24, 16) for k in range(2)]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=50)


def apng() -> bytes:
    frames = [noise(f"apng-frame-{k}", "RGB", 24, 16) for k in range(2)]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=50)


def tiff_pages() -> bytes:
    pages = [noise(f"tiff-page-{k}", "RGB", 24, 16) for k in range(2)]
    return encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def gif_header(width: int, height: int, flags: int = 0x80) -> Build:
    """A GIF of a real 8x8 image whose logical screen and frame claim ``width`` x ``height``."""

    def built() -> bytes:
        data = bytearray(encode(noise("gif-dims", "P", 8, 8), "GIF"))
        data[6:10] = struct.pack("<HH", width, height)
        descriptor = data.index(b"\x2c")
        data[descriptor + 5 : descriptor + 9] = struct.pack("<HH", width, height)
        return bytes(data)

    return built


def smooth_jpeg(width: int, height: int) -> Build:
    """A JPEG of a smooth gradient (photo-like density: few bits per block)."""

    def build() -> bytes:
        x = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
        y = np.linspace(0, 255, height, dtype=np.float32)[:, None, None]
        array = np.concatenate([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2).astype(np.uint8)
        return encode(Image.fromarray(array), "JPEG")

    return build


def const(data: bytes) -> Build:
    return lambda: data


def dds_unknown_format() -> bytes:
    """A DDS header whose pixel format is a FourCC nobody knows (Pillow: NotImplementedError)."""
    header = bytearray(124)
    struct.pack_into("<IIII", header, 0, 124, 0x1007, 16, 16)
    struct.pack_into("<II4s", header, 72, 32, 0x4, b"ZZZZ")
    return b"DDS " + bytes(header) + bytes(256)


EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\n%%EndComments\n"
    b"/Times-Roman findfont 12 scalefont setfont 0 0 moveto (hello) show showpage\n%%EOF\n"
)

# -- the tables -----------------------------------------------------------------------------------

#: Valid inputs: ``name -> (file name, builder)``. Each must load (and stylize) without complaint.
VALID: dict[str, tuple[str, Build]] = {
    "png-rgb": ("rgb.png", encoded("PNG")),
    "png-rgba": ("rgba.png", encoded("PNG", "RGBA")),
    "png-l": ("gray.png", encoded("PNG", "L")),
    "png-la": ("gray-alpha.png", encoded("PNG", "LA")),
    "png-p": ("palette.png", encoded("PNG", "P")),
    "png-p-trns-index": ("palette-key.png", encoded("PNG", "P", transparency=3)),
    "png-p-trns-short": ("palette-trns.png", const(palette_png(16, 5))),
    "png-p-trns-full": ("palette-trns-full.png", const(palette_png(4, 4))),
    "png-1bit": ("bits.png", encoded("PNG", "1")),
    "png-i16": ("deep.png", encoded("PNG", "I;16")),
    "tiff-i32": ("int.tif", encoded("TIFF", "I")),
    "png-rgb16": ("rgb16.png", const(raw_png(12, 8, 16, 2))),
    "png-rgba16": ("rgba16.png", const(raw_png(12, 8, 16, 6))),
    "png-la16": ("la16.png", const(raw_png(12, 8, 16, 4))),
    "png-gray2": ("gray2.png", const(raw_png(12, 8, 2, 0))),
    "png-gray4": ("gray4.png", const(raw_png(12, 8, 4, 0))),
    "png-palette1": ("palette1.png", const(raw_png(12, 8, 1, 3, before_idat=((b"PLTE", bytes(range(12))),)))),
    "png-interlaced": ("adam7.png", const(adam7_png(19, 13))),
    "png-optimized": ("optimized.png", encoded("PNG", optimize=True)),
    "png-1x1": ("dot.png", encoded("PNG", width=1, height=1)),
    "png-text-chunks": ("text.png", png_insert(encoded("PNG"), b"IHDR", b"tEXt", b"Comment\0hello")),
    "png-exif-garbage": ("exif.png", png_insert(encoded("PNG"), b"IHDR", b"eXIf", b"MM\0*garbage-exif")),
    "png-exif-orientation": ("rotated.png", encoded("PNG", exif=exif_bytes(6))),
    "png-after-iend": ("trailing.png", lambda: encoded("PNG")() + b"trailing bytes after IEND"),
    "png-apng": ("animated.png", apng),
    "png-split-idat": (
        "split.png",
        png_edit(
            encoded("PNG"),
            lambda c: [x for k, d in c for x in ([(k, d[:40]), (k, d[40:])] if k == b"IDAT" else [(k, d)])],
        ),
    ),
    "jpeg-rgb": ("photo.jpg", encoded("JPEG", quality=90)),
    "jpeg-l": ("gray.jpg", encoded("JPEG", "L")),
    "jpeg-cmyk": ("print.jpg", encoded("JPEG", "CMYK")),
    "jpeg-progressive": ("progressive.jpg", encoded("JPEG", progressive=True)),
    "jpeg-optimized": ("optimized.jpg", encoded("JPEG", optimize=True)),
    "jpeg-444": ("full-chroma.jpg", encoded("JPEG", subsampling=0)),
    "jpeg-422": ("half-chroma.jpg", encoded("JPEG", subsampling=1)),
    "jpeg-odd-size": ("odd.jpg", encoded("JPEG", width=17, height=13)),
    "jpeg-1x1": ("dot.jpg", encoded("JPEG", width=1, height=1)),
    "jpeg-restart-markers": ("restarts.jpg", encoded("JPEG", restart_marker_blocks=1)),
    "jpeg-exif-orientation": ("phone.jpg", encoded("JPEG", exif=exif_bytes(6))),
    "jpeg-exif-garbage": ("exif-garbage.jpg", jpeg_with_app1(encoded("JPEG"), b"Exif\0\0" + b"\xde\xad" * 40)),
    "jpeg-exif-truncated-ifd": (
        "exif-cut.jpg",
        jpeg_with_app1(encoded("JPEG"), b"Exif\0\0II*\0\x08\0\0\0\x05\0\x12\x01\x03\0"),
    ),
    "jpeg-exif-bad-offset": (
        "exif-offset.jpg",
        jpeg_with_app1(encoded("JPEG"), b"Exif\0\0II*\0\xff\xff\xff\x7f"),
    ),
    "jpeg-comment": ("comment.jpg", encoded("JPEG", comment=b"a comment")),
    "jpeg-icc": ("icc.jpg", encoded("JPEG", icc_profile=b"not really a profile" * 4)),
    "jpeg-trailing": ("trailing.jpg", lambda: encoded("JPEG")() + b"\0" * 64),
    "gif-p": ("palette.gif", encoded("GIF", "P")),
    "gif-transparent": ("transparent.gif", encoded("GIF", "P", transparency=2)),
    "gif-animated": ("animated.gif", gif_animated),
    "gif-from-l": ("gray.gif", encoded("GIF", "L")),
    "gif-1x1": ("dot.gif", encoded("GIF", "P", width=1, height=1)),
    "gif-not-interlaced": ("flat.gif", encoded("GIF", "P", interlace=False)),
    "tiff-rgb": ("raw.tif", encoded("TIFF")),
    "tiff-deflate": ("deflate.tif", encoded("TIFF", compression="tiff_deflate")),
    "tiff-lzw": ("lzw.tif", encoded("TIFF", compression="tiff_lzw")),
    "tiff-packbits": ("packbits.tif", encoded("TIFF", compression="packbits")),
    "tiff-jpeg": ("jpeg.tif", encoded("TIFF", compression="jpeg")),
    "tiff-l": ("gray.tif", encoded("TIFF", "L")),
    "tiff-i16": ("deep.tif", encoded("TIFF", "I;16")),
    "tiff-float": ("float.tif", encoded("TIFF", "F")),
    "tiff-cmyk": ("print.tif", encoded("TIFF", "CMYK")),
    "tiff-rgba": ("alpha.tif", encoded("TIFF", "RGBA")),
    "tiff-la": ("gray-alpha.tif", encoded("TIFF", "LA")),
    "tiff-1bit-group4": ("fax.tif", encoded("TIFF", "1", compression="group4")),
    "tiff-pages": ("pages.tif", tiff_pages),
    "bmp-rgb": ("rgb.bmp", encoded("BMP")),
    "bmp-l": ("gray.bmp", encoded("BMP", "L")),
    "bmp-p": ("palette.bmp", encoded("BMP", "P")),
    "bmp-1bit": ("bits.bmp", encoded("BMP", "1")),
    "bmp-rgba": ("alpha.bmp", encoded("BMP", "RGBA")),
    "bmp-top-down": ("top-down.bmp", bmp_top_down),
    "bmp-odd-width": ("odd.bmp", encoded("BMP", width=13, height=7)),
    "webp-lossy": ("photo.webp", encoded("WEBP", quality=80)),
    "webp-lossless": ("lossless.webp", encoded("WEBP", lossless=True)),
    "webp-rgba": ("alpha.webp", encoded("WEBP", "RGBA")),
    "webp-rgba-lossless": ("alpha-lossless.webp", encoded("WEBP", "RGBA", lossless=True)),
    "webp-animated": ("animated.webp", webp_animated),
    "webp-1x1": ("dot.webp", encoded("WEBP", width=1, height=1)),
    # no DHT: decoders use the standard Huffman tables (as for Motion-JPEG frames), which are the
    # ones Pillow encoded with: the image is whole
    "jpeg-no-dht-standard-tables": (
        "no-dht.jpg",
        jpeg_drop(jpeg_drop(jpeg_drop(jpeg_drop(encoded("JPEG"), 0xC4), 0xC4), 0xC4), 0xC4),
    ),
    # a strip's byte count overstated: the strip itself is whole, and read until the image is
    "tiff-strip-bytes-overstated": ("strip-bytes.tif", tiff_set_tag(encoded("TIFF"), 279, 0x7FFFFFFF)),
}

_TRUNCATIONS = {
    "png": ("cut.png", encoded("PNG")),
    "jpeg": ("cut.jpg", encoded("JPEG")),
    "jpeg-progressive": ("cut-progressive.jpg", encoded("JPEG", progressive=True)),
    "gif": ("cut.gif", encoded("GIF", "P")),
    "tiff": ("cut.tif", encoded("TIFF")),
    "tiff-deflate": ("cut-deflate.tif", encoded("TIFF", compression="tiff_deflate")),
    "bmp": ("cut.bmp", encoded("BMP")),
    "webp": ("cut.webp", encoded("WEBP")),
    "webp-lossless": ("cut-lossless.webp", encoded("WEBP", lossless=True)),
}
_KEEP = (0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.97)
_MINUS = (1, 2, 5, 12, 17)

#: Malformed inputs: ``name -> (file name, builder)``; each must be one InputImageError naming the file.
MALFORMED: dict[str, tuple[str, Build]] = {}
for _kind, (_name, _build) in _TRUNCATIONS.items():
    for _keep in _KEEP:
        MALFORMED[f"{_kind}-keep-{int(_keep * 100)}pct"] = (_name, cut(_build, keep=_keep))
    for _minus in _MINUS:
        MALFORMED[f"{_kind}-minus-{_minus}"] = (_name, cut(_build, minus=_minus))

_PNG = encoded("PNG")
MALFORMED.update(
    {
        "png-bad-signature": ("sig.png", patched(_PNG, 1, b"PNX")),
        "png-bad-crc-ihdr": ("crc-ihdr.png", png_bad_crc(_PNG, b"IHDR")),
        "png-bad-crc-idat": ("crc-idat.png", png_bad_crc(_PNG, b"IDAT")),
        "png-bad-crc-iend": ("crc-iend.png", png_bad_crc(_PNG, b"IEND")),
        "png-bad-crc-text": ("crc-text.png", png_bad_crc(png_insert(_PNG, b"IHDR", b"tEXt", b"a\0b"), b"tEXt")),
        "png-no-iend": ("no-iend.png", png_drop(_PNG, b"IEND")),
        "png-no-idat": ("no-idat.png", png_drop(_PNG, b"IDAT")),
        "png-no-ihdr": ("no-ihdr.png", png_drop(_PNG, b"IHDR")),
        "png-ihdr-short": ("ihdr-short.png", png_replace(_PNG, b"IHDR", ihdr(48, 32)[:9])),
        "png-depth-3": ("depth3.png", png_replace(_PNG, b"IHDR", ihdr(48, 32, depth=3))),
        "png-color-type-5": ("color5.png", png_replace(_PNG, b"IHDR", ihdr(48, 32, color=5))),
        "png-rgb-depth-4": ("rgb4.png", png_replace(_PNG, b"IHDR", ihdr(48, 32, depth=4, color=2))),
        "png-width-0": ("width0.png", png_replace(_PNG, b"IHDR", ihdr(0, 32))),
        "png-height-0": ("height0.png", png_replace(_PNG, b"IHDR", ihdr(48, 0))),
        "png-width-2g": ("width2g.png", png_replace(_PNG, b"IHDR", ihdr(2**31 - 1, 32))),
        "png-huge": ("huge.png", png_replace(_PNG, b"IHDR", ihdr(100_000, 100_000))),
        "png-just-over-cap": ("over.png", png_replace(_PNG, b"IHDR", ihdr(8001, 8000))),
        "png-claims-larger": ("larger.png", png_replace(_PNG, b"IHDR", ihdr(480, 320))),
        "png-interlace-7": ("interlace7.png", png_replace(_PNG, b"IHDR", ihdr(48, 32, interlace=7))),
        "png-idat-garbage": ("idat-garbage.png", png_replace(_PNG, b"IDAT", b"\x78\x9c" + b"\xff" * 200)),
        "png-idat-not-zlib": ("idat-raw.png", png_replace(_PNG, b"IDAT", bytes(range(256)) * 4)),
        "png-idat-stream-cut": (
            "idat-cut.png",
            png_edit(_PNG, lambda c: [(k, d[: len(d) // 2] if k == b"IDAT" else d) for k, d in c]),
        ),
        "png-idat-empty": ("idat-empty.png", png_replace(_PNG, b"IDAT", b"")),
        "png-chunk-length-huge": ("length.png", lambda: _PNG()[:33] + b"\xff\xff\xff\xf0IDAT" + _PNG()[41:]),
        "png-chunk-type-binary": ("type.png", png_insert(_PNG, b"IHDR", b"\x00\x01\x02\x03", b"xx")),
        "png-signature-only": ("signature.png", const(PNG_SIGNATURE)),
        "png-palette-missing": ("no-plte.png", const(raw_png(8, 8, 8, 3))),
        "png-palette-trns-longer": ("trns-long.png", const(palette_png(4, 300))),
        "png-palette-257": ("plte257.png", const(palette_png(257, None))),
        "png-palette-not-3": ("plte-odd.png", lambda: raw_png(8, 8, 8, 3, before_idat=((b"PLTE", b"\1\2\3\4\5"),))),
        "png-rgb-trns-wrong": ("rgb-trns.png", png_insert(_PNG, b"IHDR", b"tRNS", b"\0\1\0")),
        "png-16bit-data-short": ("short16.png", const(raw_png(12, 8, 16, 2, data=zlib.compress(b"\0" * 40)))),
    }
)

_JPEG = encoded("JPEG")
MALFORMED.update(
    {
        "jpeg-sof-promises-640x480": ("promise.jpg", jpeg_set_frame(encoded("JPEG", width=64, height=48), 640, 480)),
        "jpeg-sof-promises-20x": ("promise20.jpg", jpeg_set_frame(encoded("JPEG", width=64, height=48), 1280, 960)),
        "jpeg-smooth-promises-10x": ("promise-smooth.jpg", jpeg_set_frame(smooth_jpeg(64, 48), 640, 480)),
        "jpeg-progressive-promises-more": (
            "promise-progressive.jpg",
            jpeg_set_frame(encoded("JPEG", width=64, height=48, progressive=True), 640, 480),
        ),
        "jpeg-sof-width-0": ("width0.jpg", jpeg_set_frame(_JPEG, width=0)),
        "jpeg-sof-height-0": ("height0.jpg", jpeg_set_frame(_JPEG, height=0)),
        "jpeg-huge": ("huge.jpg", jpeg_set_frame(_JPEG, 65535, 65535)),
        "jpeg-precision-3": ("precision.jpg", jpeg_set_frame(_JPEG, precision=3)),
        "jpeg-no-sos": ("no-sos.jpg", lambda: _JPEG()[: jpeg_find(_JPEG(), 0xDA)] + b"\xff\xd9"),
        "jpeg-no-sof": ("no-sof.jpg", jpeg_drop(_JPEG, 0xC0)),
        "jpeg-dht-counts-overflow": ("dht.jpg", jpeg_patch_segment(_JPEG, 0xC4, 1, 0xFF)),
        "jpeg-dqt-bad-id": ("dqt.jpg", jpeg_patch_segment(_JPEG, 0xDB, 0, 0x07)),
        "jpeg-sof-components-0": ("components.jpg", jpeg_patch_segment(_JPEG, 0xC0, 5, 0)),
        "jpeg-sof-sampling-0": ("sampling.jpg", jpeg_patch_segment(_JPEG, 0xC0, 7, 0x00)),
        "jpeg-soi-only": ("soi.jpg", const(b"\xff\xd8")),
        "jpeg-soi-eoi": ("soi-eoi.jpg", const(b"\xff\xd8\xff\xd9")),
        "jpeg-segment-length-1": ("length1.jpg", lambda: _JPEG()[:4] + b"\x00\x01" + _JPEG()[6:]),
        "jpeg-segment-past-end": ("past-end.jpg", lambda: _JPEG()[:2] + b"\xff\xe1\xff\xff" + b"Exif\0\0"),
        "jpeg-garbage-after-soi": ("garbage.jpg", lambda: b"\xff\xd8\xff" + seeded("jpeg-garbage").randbytes(400)),
        "gif-width-0": ("width0.gif", gif_header(0, 8)),
        "gif-huge": ("huge.gif", gif_header(65535, 65535)),
        "gif-bad-version": ("version.gif", patched(encoded("GIF", "P"), 3, b"12a")),
        "gif-lzw-size-12": ("lzw.gif", lambda: _gif_lzw_size(12)),
        "gif-no-image": ("empty.gif", lambda: encoded("GIF", "P")()[: 13 + 3 * 16] + b";"),
        "gif-color-table-missing": ("no-table.gif", lambda: encoded("GIF", "P")()[:13] + b"\x2c"),
        "gif-data-garbage": ("garbage.gif", lambda: _gif_garbage()),
        "tiff-bad-magic": ("magic.tif", patched(encoded("TIFF"), 2, b"\x2b\x00")),
        "tiff-ifd-past-end": ("ifd.tif", patched(encoded("TIFF"), 4, struct.pack("<I", 10_000_000))),
        "tiff-strip-past-end": ("strip.tif", tiff_set_tag(encoded("TIFF"), 273, 10_000_000)),
        "tiff-compression-unknown": ("compression.tif", tiff_set_tag(encoded("TIFF"), 259, 12345)),
        "tiff-bits-per-sample-3": ("bits.tif", tiff_set_tag(encoded("TIFF", "L"), 258, 3)),
        "tiff-width-0": ("width0.tif", tiff_set_tag(encoded("TIFF"), 256, 0)),
        "tiff-huge": ("huge.tif", tiff_set_tag(tiff_set_tag(encoded("TIFF"), 256, 100_000), 257, 100_000)),
        "tiff-photometric-99": ("photometric.tif", tiff_set_tag(encoded("TIFF"), 262, 99)),
        "tiff-entries-ffff": ("entries.tif", lambda: _tiff_entry_count(0xFFFF)),
        "tiff-deflate-garbage": (
            "deflate-garbage.tif",
            lambda: _tiff_garble_strip(encoded("TIFF", compression="tiff_deflate")()),
        ),
        "tiff-jpeg-garbage": ("jpeg-garbage.tif", lambda: _tiff_garble_strip(encoded("TIFF", compression="jpeg")())),
        "bmp-header-size-0": ("header.bmp", patched(encoded("BMP"), 14, struct.pack("<I", 0))),
        "bmp-bpp-7": ("bpp.bmp", patched(encoded("BMP"), 28, struct.pack("<H", 7))),
        "bmp-width-0": ("width0.bmp", patched(encoded("BMP"), 18, struct.pack("<i", 0))),
        "bmp-huge": ("huge.bmp", patched(encoded("BMP"), 18, struct.pack("<ii", 100_000, 100_000))),
        "bmp-offset-past-end": ("offset.bmp", patched(encoded("BMP"), 10, struct.pack("<I", 10_000_000))),
        "bmp-compression-99": ("compression.bmp", patched(encoded("BMP"), 30, struct.pack("<I", 99))),
        "bmp-rle8-garbage": (
            "rle.bmp",
            patched(patched(encoded("BMP", "P"), 30, struct.pack("<I", 1)), -300, b"\0\2" * 150),
        ),
        "bmp-colors-used-huge": ("colors.bmp", patched(encoded("BMP", "P"), 46, struct.pack("<I", 0x7FFFFFFF))),
        "webp-riff-size-huge": ("riff.webp", patched(encoded("WEBP"), 4, struct.pack("<I", 0x7FFFFFF0))),
        "webp-bad-fourcc": ("fourcc.webp", patched(encoded("WEBP"), 12, b"VP9 ")),
        "webp-vp8-garbage": ("vp8.webp", patched(encoded("WEBP"), 20, b"\xff" * 16)),
        "webp-lossless-garbage": ("vp8l.webp", patched(encoded("WEBP", lossless=True), 21, b"\xff" * 16)),
        "webp-chunk-size-huge": ("chunk.webp", patched(encoded("WEBP"), 16, struct.pack("<I", 0x7FFFFFF0))),
        "webp-vp8x-huge-canvas": ("canvas.webp", lambda: _webp_vp8x(16_000_000, 16_000_000)),
    }
)

#: Files of formats we do not read, or not images at all (whatever their name): InputImageError.
FOREIGN: dict[str, tuple[str, Build]] = {
    "eps-named-png": ("drawing.png", const(EPS)),
    "eps-pillow-named-png": ("pillow-eps.png", encoded("EPS")),
    "postscript-named-jpg": ("drawing.jpg", const(b"%!PS-Adobe-3.0\n0 0 moveto showpage\n")),
    "eps-binary-header-named-png": (
        "binary-eps.png",
        const(b"\xc5\xd0\xd3\xc6" + struct.pack("<IIIIII", 30, len(EPS), 0, 0, 0, 0) + b"\xff\xff" + EPS),
    ),
    "dds-unknown-format": ("texture.png", const(dds_unknown_format())),
    "dds-pillow": ("texture.dds", encoded("DDS")),
    "tga": ("image.tga", encoded("TGA")),
    "tga-named-png": ("tga.png", encoded("TGA")),
    "ppm": ("image.ppm", encoded("PPM")),
    "pcx": ("image.png", encoded("PCX")),
    "sgi": ("sgi.png", encoded("SGI")),
    "ico": ("icon.png", encoded("ICO", width=32, height=32)),
    "qoi": ("qoi.png", encoded("QOI")),
    "im": ("im.png", const((b"Image type: RGB image\r\nImage size (x*y): 16*16\r\n").ljust(512, b"\x1a") + bytes(768))),
    "spider": ("spider.png", encoded("SPIDER", "F")),
    "jpeg2000": ("j2k.jpg", encoded("JPEG2000")),
    "pdf": ("document.png", encoded("PDF")),
    "xbm": ("bitmap.png", encoded("XBM", "1")),
    "msp": ("msp.png", encoded("MSP", "1")),
    "dib": ("dib.png", encoded("DIB")),
    "icns": ("icns.png", const(b"icns\0\0\0\x18ic07\0\0\0\x10" + PNG_SIGNATURE)),
    "avif": ("photo.png", encoded("AVIF")),
    "psd-header": ("layers.png", const(b"8BPS\0\1" + bytes(6) + struct.pack(">HIIHH", 3, 16, 16, 8, 3) + bytes(64))),
    "svg": ("vector.png", const(b'<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"/>')),
    "html": ("page.png", const(b"<!doctype html><html><body>not an image</body></html>\n")),
    "zip": ("archive.png", const(b"PK\x03\x04" + bytes(26) + b"x" * 40)),
    "elf": ("program.png", const(b"\x7fELF\x02\x01\x01" + bytes(57))),
    "plain-text": ("notes.png", const(b"hello, not an image\n")),
    "one-byte": ("byte.png", const(b"\x89")),
    "zeros": ("zeros.png", const(bytes(4096))),
    "random": ("random.png", lambda: seeded("random-bytes").randbytes(4096)),
    "gif8-only": ("gif8.gif", const(b"GIF8")),
    "riff-only": ("riff.webp", const(b"RIFF\x04\0\0\0WEBP")),
    "tiff-header-only": ("header.tif", const(b"II*\0\x08\0\0\0")),
    "bmp-header-only": ("header.bmp", const(b"BM" + bytes(12))),
}


def _gif_lzw_size(size: int) -> bytes:
    data = bytearray(encode(noise("gif-lzw", "P", 8, 8), "GIF"))
    descriptor = data.index(b"\x2c")
    flags = data[descriptor + 9]
    table = 3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0
    data[descriptor + 10 + table] = size
    return bytes(data)


def _gif_garbage() -> bytes:
    data = bytearray(encode(noise("gif-garbage", "P", 8, 8), "GIF"))
    descriptor = data.index(b"\x2c")
    flags = data[descriptor + 9]
    start = descriptor + 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0) + 1
    data[start + 1 : len(data) - 2] = b"\xff" * (len(data) - 3 - start)
    return bytes(data)


def _tiff_entry_count(count: int) -> bytes:
    data = bytearray(encode(noise("tiff-entries", "RGB", 8, 8), "TIFF"))
    (ifd,) = struct.unpack("<I", data[4:8])
    data[ifd : ifd + 2] = struct.pack("<H", count)
    return bytes(data)


def _tiff_garble_strip(data: bytes) -> bytes:
    """The first strip's bytes (after its first four) replaced by noise."""
    from PIL import TiffImagePlugin

    image = Image.open(io.BytesIO(data))
    assert isinstance(image, TiffImagePlugin.TiffImageFile)
    offset, length = image.tag_v2[273][0], image.tag_v2[279][0]
    garbled = bytearray(data)
    garbled[offset + 4 : offset + length] = seeded("tiff-garble").randbytes(length - 4)
    return bytes(garbled)


def _webp_vp8x(width: int, height: int) -> bytes:
    payload = struct.pack("<I", 0)[:4] + struct.pack("<I", width - 1)[:3] + struct.pack("<I", height - 1)[:3]
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


# -- special files --------------------------------------------------------------------------------


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.png"
    os.mkfifo(path)
    return path


def _socket(folder: Path) -> Path:
    path = folder / "socket.png"
    here = os.getcwd()
    os.chdir(folder)  # a relative name: AF_UNIX paths are limited to ~108 bytes
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind(path.name)
    finally:
        os.chdir(here)
    return path


def _symlink(name: str, target: str | Path) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.symlink_to(target)
        return path

    return make


def _loop_pair(folder: Path) -> Path:
    (folder / "a.png").symlink_to(folder / "b.png")
    (folder / "b.png").symlink_to(folder / "a.png")
    return folder / "a.png"


def _self_loop(folder: Path) -> Path:
    path = folder / "loop.png"
    path.symlink_to(path)
    return path


def _directory(folder: Path) -> Path:
    path = folder / "folder.png"
    path.mkdir()
    return path


def _long_name(folder: Path) -> Path:
    return folder / ("n" * 300 + ".png")


def _long_path(folder: Path) -> Path:
    return folder.joinpath(*["d" * 200] * 25, "deep.png")


def _not_a_folder(folder: Path) -> Path:
    (folder / "file.png").write_bytes(encode(noise("file"), "PNG"))
    return folder / "file.png" / "inner.png"


def _sparse(folder: Path) -> Path:
    path = folder / "sparse.png"
    with open(path, "wb") as handle:
        handle.write(encode(noise("sparse"), "PNG")[:33])  # signature and IHDR, then a gigabyte of zeros
        handle.truncate(1 << 30)
    return path


def _missing(folder: Path) -> Path:
    return folder / "missing.png"


def _nul(folder: Path) -> str:
    return str(folder / "nul\0byte.png")


def _valid_symlink(folder: Path) -> Path:
    (folder / "real.png").write_bytes(encode(noise("real"), "PNG"))
    (folder / "link.png").symlink_to(folder / "real.png")
    return folder / "link.png"


def _hardlink(folder: Path) -> Path:
    (folder / "original.png").write_bytes(encode(noise("hard"), "PNG"))
    os.link(folder / "original.png", folder / "hard.png")
    return folder / "hard.png"


def _odd_name(folder: Path) -> Path:
    path = folder / "sp ace ünï 'quote'.png"
    path.write_bytes(encode(noise("odd"), "PNG"))
    return path


def _fixed(path: str) -> Callable[[Path], Path]:
    return lambda folder: Path(path)


#: Special paths: ``name -> (make(folder) -> path, expected error or None, message pattern or None)``.
SPECIAL: dict[str, tuple[Callable[[Path], object], type[BaseException] | None, str | None]] = {
    "fifo": (_fifo, InputImageError, r"pipe\.png.*FIFO"),
    "socket": (_socket, InputImageError, r"socket\.png.*socket"),
    "dev-null": (_fixed("/dev/null"), InputImageError, r"/dev/null.*character device"),
    "dev-zero-link": (_symlink("zero.png", "/dev/zero"), InputImageError, r"zero\.png.*character device"),
    "fifo-link": (lambda f: _symlink("via.png", _fifo(f))(f), InputImageError, r"via\.png.*FIFO"),
    "directory": (_directory, InputImageError, r"folder\.png.*directory"),
    "symlink-loop": (_self_loop, InputImageError, r"loop\.png.*loop of symbolic links"),
    "symlink-loop-pair": (_loop_pair, InputImageError, r"a\.png.*loop of symbolic links"),
    "dangling-symlink": (_symlink("dangling.png", "/nonexistent/target.png"), InputImageError, r"not found.*dangling"),
    "missing": (_missing, InputImageError, r"not found.*missing\.png"),
    "name-too-long": (_long_name, InputImageError, r"n{300}\.png.*too long"),
    "path-too-long": (_long_path, InputImageError, r"deep\.png.*too long"),
    "not-a-folder": (_not_a_folder, InputImageError, r"inner\.png.*not a folder"),
    "nul-byte": (_nul, InputImageError, r"nul\\x00byte\.png"),
    "proc-file": (_fixed("/proc/self/status"), InputImageError, r"/proc/self/status.*size of 0 but has content"),
    "proc-cmdline": (_fixed("/proc/self/cmdline"), InputImageError, r"cmdline.*size of 0 but has content"),
    "sparse-gigabyte": (_sparse, InputImageError, r"sparse\.png"),
    "valid-symlink": (_valid_symlink, None, None),
    "valid-hardlink": (_hardlink, None, None),
    "valid-odd-name": (_odd_name, None, None),
}

# -- running ----------------------------------------------------------------------------------------


def file(name: str, build: Build) -> Callable[[Path], Path]:
    """``make``: write ``build()`` as ``folder/name``."""

    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(build())
        return path

    return make


@functools.lru_cache(maxsize=1)
def pipeline():
    """The default preset's pipeline (shipped decoder), loaded once for every case that stylizes."""
    from adain.pipeline import StylizationPipeline

    return StylizationPipeline.from_preset()


@functools.cache
def bank_style(name: str):
    """A ``bank:NAME`` style's statistics, resolved once (reading the bank is not what a case tests)."""
    return pipeline().resolve_bank_style(name)


def stylize_cli(path: object, out: Path, *extra: str) -> list[str]:
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
        *extra,
    ]


def _load(path: object, out: Path) -> None:
    load_image(path)  # type: ignore[arg-type]


def _stylize(path: object, out: Path) -> None:
    """What ``adain stylize FILE -o out/result.png --size 64`` does with one content image."""
    from adain.image.io import save_image
    from adain.pipeline import StylizeOptions

    loaded = load_image(path)  # type: ignore[arg-type]
    result = pipeline()(loaded, bank_style("bank:antimonocromatismo"), StylizeOptions(size=64), output_type="pt")
    save_image(result.rgb, out / "result.png", alpha=result.transparency)


#: valid content images also stylized (and written) in-process, not only loaded
_STYLIZED = {
    "png-rgba",
    "png-i16",
    "png-la",
    "jpeg-cmyk",
    "tiff-float",
    "gif-transparent",
    "webp-rgba",
    "bmp-1bit",
    "png-1x1",
}
#: cases also run through the real command (the CLI sample picks among every file's)
_CLI = {
    "png-p-trns-short", "jpeg-exif-garbage", "tiff-jpeg", "png-minus-1", "gif-minus-1", "tiff-deflate-minus-1",
    "png-palette-trns-longer", "jpeg-sof-promises-640x480", "eps-named-png", "dds-unknown-format", "fifo",
    "symlink-loop", "name-too-long", "proc-file",
}  # fmt: skip

CASES: list[Case] = []
for _key, (_name, _build) in VALID.items():
    CASES.append(
        Case(
            f"image-valid-{_key}",
            "image",
            file(_name, _build),
            _stylize if _key in _STYLIZED else _load,
            None,
            cli=stylize_cli if _key in _CLI else None,
        )
    )
for _key, (_name, _build) in {**MALFORMED, **FOREIGN}.items():
    CASES.append(
        Case(
            f"image-{_key}",
            "image",
            file(_name, _build),
            _load,
            InputImageError,
            cli=stylize_cli if _key in _CLI else None,
        )
    )
for _key, (_make, _expect, _message) in SPECIAL.items():
    CASES.append(
        Case(
            f"image-special-{_key}",
            "image",
            _make,
            _load,
            _expect,
            message=_message,
            cli=stylize_cli if _key in _CLI else None,
        )
    )
CASES += [
    Case("image-valid-png", "image", file("ok.png", encoded("PNG", width=40, height=30)), _load, None, cli=stylize_cli),
    Case("image-empty", "image", file("empty.png", const(b"")), _load, InputImageError, cli=stylize_cli),
    Case(
        "image-text",
        "image",
        file("notes.png", const(b"hello, not an image\n")),
        _load,
        InputImageError,
        cli=stylize_cli,
    ),
    Case(
        "image-png-cut-17",
        "image",
        file("cut.png", cut(encoded("PNG", width=64, height=64), minus=17)),
        _load,
        InputImageError,
        cli=stylize_cli,
    ),
]
