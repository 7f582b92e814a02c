"""Is an encoded image whole? Checks of the container that Pillow's decoders let pass.

Pillow decodes what it can and stops: a PNG cut short after its last image data (no IEND, or a
damaged CRC in the IDAT chunks, which it does not verify), a GIF cut before its trailer, and a
JPEG whose frame header promises more pixels than its scans hold (libjpeg fills the rest with
grey and warns, and Pillow keeps that warning to itself) all decode "successfully". These walks
find them from the file's structure alone, reading it once by offset (:func:`os.pread`: the
position of the file Pillow reads is untouched), through a small window so memory stays flat
however large the file is.

Each check returns ``None`` for a whole file or one short sentence saying what is wrong; the
caller (:func:`adain.image.io.load_image`) puts the file's name in front. The checks never refuse
what a conforming decoder must read: the JPEG bound is a *lower* bound on the bits any encoder
needs (one Huffman code for every block's DC and at least one for its AC coefficients, with the
file's own tables), so a real image is never below it.

Also here: :func:`silence_libtiff`, which stops libtiff (used by Pillow for compressed TIFF) from
printing its warnings and errors on the process's stderr; the errors still reach Python as
Pillow's exceptions.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import struct
import sys
import tempfile
import zlib
from collections.abc import Iterator

__all__ = ["FileBytes", "gif_problem", "jpeg_problem", "png_problem", "problem", "quiet_libtiff", "silence_libtiff"]

#: How much of the file a check holds in memory at once.
WINDOW_BYTES = 1 << 20

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class FileBytes:
    """Random access to an open file's bytes by offset, through a window of :data:`WINDOW_BYTES`.

    Reads with :func:`os.pread`, so the file's own position (which Pillow uses) never moves.
    """

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.size = fd, size
        self._start, self._window = 0, b""

    def get(self, offset: int, count: int) -> bytes:
        """Up to ``count`` bytes from ``offset`` (fewer at the end of the file)."""
        if offset < 0 or count <= 0 or offset >= self.size:
            return b""
        end = offset + count
        if not (self._start <= offset and end <= self._start + len(self._window)):
            self._start, self._window = offset, self._pread(offset, max(count, WINDOW_BYTES))
        return self._window[offset - self._start : end - self._start]

    def byte(self, offset: int) -> int:
        """The byte at ``offset``, or ``-1`` past the end."""
        data = self.get(offset, 1)
        return data[0] if data else -1

    def _pread(self, offset: int, count: int) -> bytes:
        parts, done = [], 0
        while done < count:
            part = os.pread(self.fd, count - done, offset + done)
            if not part:
                break
            parts.append(part)
            done += len(part)
        return b"".join(parts)


def problem(image_format: str | None, data: FileBytes) -> str | None:
    """What is wrong with a file Pillow opened as ``image_format`` (``None``: nothing found).

    PNG, JPEG (and MPO, a JPEG with more images after the first) and GIF are checked; the other
    formats' decoders report truncation themselves (TIFF, BMP, WebP).
    """
    if image_format == "PNG":
        return png_problem(data)
    if image_format in ("JPEG", "MPO"):
        return jpeg_problem(data)
    if image_format == "GIF":
        return gif_problem(data)
    return None


# -- PNG ----------------------------------------------------------------------------------------


def png_problem(data: FileBytes) -> str | None:
    """Every chunk complete with a correct CRC, up to and including IEND (what follows IEND is
    ignored), and a palette image's palette present and whole (Pillow would read a palette image
    without one as grey, and a PLTE of 5 bytes as if it were 3)."""
    if data.get(0, 8) != PNG_SIGNATURE:
        return "it does not start with the PNG signature"
    offset = 8
    color_type, palette = None, False
    while True:
        header = data.get(offset, 8)
        if len(header) < 8:
            return "it is truncated (it ends before its IEND chunk)"
        length, kind = struct.unpack(">I4s", header)
        name = kind.decode("latin-1")
        if not kind.isalpha():
            return f"it is corrupt (a chunk at byte {offset} has the invalid type {name!r})"
        if length > 0x7FFFFFFF:
            return f"it is corrupt (chunk {name} at byte {offset} claims {length:,} bytes)"
        crc = zlib.crc32(kind)
        position, remaining = offset + 8, length
        while remaining:
            block = data.get(position, min(remaining, WINDOW_BYTES))
            if not block:
                return f"it is truncated (its {name} chunk at byte {offset} ends past the end of the file)"
            crc = zlib.crc32(block, crc)
            position += len(block)
            remaining -= len(block)
        stored = data.get(position, 4)
        if len(stored) < 4:
            return f"it is truncated (its {name} chunk at byte {offset} ends past the end of the file)"
        if struct.unpack(">I", stored)[0] != crc:
            return f"it is corrupt (chunk {name} at byte {offset} fails its CRC check)"
        if kind == b"IHDR" and length == 13:
            color_type = data.byte(offset + 8 + 9)
        elif kind == b"PLTE":
            if length == 0 or length % 3 or length > 3 * 256:
                return f"it is corrupt (its palette is {length} bytes: not 1 to 256 colours of 3 bytes)"
            palette = True
        elif kind == b"IDAT" and color_type == 3 and not palette:
            return "it is corrupt (a palette image without a palette: no PLTE chunk before its image data)"
        if kind == b"IEND":
            return None
        offset = position + 4


# -- GIF ----------------------------------------------------------------------------------------


def _skip_sub_blocks(data: FileBytes, offset: int) -> int:
    """The offset after a chain of GIF data sub-blocks, or ``-1`` when the file ends inside it."""
    while True:
        length = data.byte(offset)
        if length < 0:
            return -1
        offset += 1
        if length == 0:
            return offset
        offset += length
        if offset > data.size:
            return -1


def gif_problem(data: FileBytes) -> str | None:
    """Every block complete, up to the trailer (``;``). Unknown bytes between blocks end the
    walk without complaint, as decoders skip them."""
    header = data.get(0, 13)
    if len(header) < 13 or header[:3] != b"GIF":
        return "it is truncated (its header is incomplete)"
    offset = 13
    if header[10] & 0x80:
        offset += 3 * (2 ** ((header[10] & 7) + 1))
    truncated = "it is truncated (it ends before its trailer)"
    while True:
        kind = data.byte(offset)
        if kind < 0:
            return truncated
        if kind == 0x3B:  # trailer
            return None
        if kind == 0x21:  # extension: label, then sub-blocks
            offset = _skip_sub_blocks(data, offset + 2)
        elif kind == 0x2C:  # image: descriptor (10 bytes), local colour table, LZW code size, sub-blocks
            descriptor = data.get(offset, 10)
            if len(descriptor) < 10:
                return truncated
            offset += 10
            if descriptor[9] & 0x80:
                offset += 3 * (2 ** ((descriptor[9] & 7) + 1))
            offset = _skip_sub_blocks(data, offset + 1)
        else:
            return None
        if offset < 0:
            return truncated


# -- JPEG ---------------------------------------------------------------------------------------

#: Start-of-frame markers of Huffman-coded DCT frames: sequential (baseline, extended) and progressive.
_SEQUENTIAL_FRAMES = {0xC0, 0xC1}
_PROGRESSIVE_FRAMES = {0xC2}
#: Every start-of-frame marker (the others: lossless, hierarchical, arithmetic coding).
_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _huffman_costs(segment: bytes) -> dict[tuple[int, int], int] | None:
    """A DHT segment -> ``{(class, id): fewest bits one symbol of the table costs}`` (its code
    plus the extra bits it announces), or ``None`` when the segment is malformed."""
    costs: dict[tuple[int, int], int] = {}
    offset = 0
    while offset < len(segment):
        if offset + 17 > len(segment):
            return None
        table_class, table_id = segment[offset] >> 4, segment[offset] & 15
        counts = segment[offset + 1 : offset + 17]
        total = sum(counts)
        symbols = segment[offset + 17 : offset + 17 + total]
        if len(symbols) < total:
            return None
        best, index = None, 0
        for length, count in enumerate(counts, start=1):
            for symbol in symbols[index : index + count]:
                extra = symbol & 15 if table_class else min(symbol, 16)
                best = length + extra if best is None else min(best, length + extra)
            index += count
        if best is not None:
            costs[(table_class, table_id)] = best
        offset += 17 + total
    return costs


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _scan_end(data: FileBytes, offset: int) -> int:
    """The offset of the marker that ends the entropy-coded data starting at ``offset`` (restart
    markers and stuffed ``FF 00`` belong to the data), or ``-1`` when the file ends first."""
    while offset < data.size:
        block = data.get(offset, WINDOW_BYTES)
        index = block.find(b"\xff")
        while index >= 0:
            following = data.byte(offset + index + 1)
            if following < 0:
                return -1
            if following != 0x00 and not 0xD0 <= following <= 0xD7 and following != 0xFF:
                return offset + index
            index = block.find(b"\xff", index + 1)
        offset += len(block)
    return -1


def _scan_bits_needed(
    frame: tuple[int, int, int, dict[int, tuple[int, int]]],
    scan: bytes,
    costs: dict[tuple[int, int], int],
) -> int:
    """The fewest bits the scan (its SOS header ``scan``) can be coded in: every block of its
    components needs a DC code, and in a sequential frame at least one AC code."""
    marker, width, height, components = frame
    count = scan[0] if scan else 0
    if len(scan) < 1 + 2 * count + 3 or width == 0 or height == 0:
        return 0
    start, _end, approximation = scan[1 + 2 * count], scan[2 + 2 * count], scan[3 + 2 * count] >> 4
    progressive = marker in _PROGRESSIVE_FRAMES
    if progressive and (start != 0 or approximation != 0):
        return 0  # AC and refinement scans can code many blocks in one symbol (EOB runs)
    h_max = max(h for h, _ in components.values())
    v_max = max(v for _, v in components.values())
    mcus = _ceil_div(width, 8 * h_max) * _ceil_div(height, 8 * v_max)
    bits = 0
    for k in range(count):
        component, tables = scan[1 + 2 * k], scan[2 + 2 * k]
        if component not in components:
            return 0
        h, v = components[component]
        if count == 1:  # non-interleaved: the component's own blocks
            blocks = _ceil_div(_ceil_div(width * h, h_max), 8) * _ceil_div(_ceil_div(height * v, v_max), 8)
        else:
            blocks = mcus * h * v
        per_block = costs.get((0, tables >> 4), 1)
        if not progressive:
            per_block += costs.get((1, tables & 15), 1)
        bits += blocks * per_block
    return bits


def jpeg_problem(data: FileBytes) -> str | None:
    """Segments complete up to the end-of-image marker, and every scan's data at least as long as
    the blocks its frame header promises need (see the module docstring)."""
    if data.get(0, 2) != b"\xff\xd8":
        return "it does not start with a JPEG start-of-image marker"
    truncated = "it is truncated (it ends before its end-of-image marker)"
    offset = 2
    frame: tuple[int, int, int, dict[int, tuple[int, int]]] | None = None
    costs: dict[tuple[int, int], int] = {}
    while True:
        if data.byte(offset) != 0xFF:  # bytes between segments: decoders skip to the next marker
            found = data.get(offset, WINDOW_BYTES).find(b"\xff")
            if found < 0:
                if offset >= data.size:
                    return truncated
                offset += WINDOW_BYTES
                continue
            offset += found
        marker = data.byte(offset + 1)
        if marker < 0:
            return truncated
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker == 0xD9:  # end of image
            return None
        if marker in (0x00, 0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            offset += 2
            continue
        header = data.get(offset + 2, 2)
        if len(header) < 2:
            return truncated
        length = struct.unpack(">H", header)[0]
        if length < 2:
            return f"it is corrupt (a segment at byte {offset} has length {length})"
        segment = data.get(offset + 4, length - 2)
        if len(segment) < length - 2:
            return truncated
        if marker in _FRAMES and len(segment) >= 6:
            height, width, count = struct.unpack(">HHB", segment[1:6])
            components = {
                segment[6 + 3 * k]: (max(1, segment[7 + 3 * k] >> 4), max(1, segment[7 + 3 * k] & 15))
                for k in range(count)
                if 8 + 3 * k < len(segment)
            }
            frame = (marker, width, height, components) if components else None
        elif marker == 0xC4:
            tables = _huffman_costs(segment)
            if tables is None:
                return f"it is corrupt (a malformed Huffman table at byte {offset})"
            costs.update(tables)
        offset += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data follows, up to the next marker
            end = _scan_end(data, offset)
            if end < 0:
                return truncated
            if frame is not None and frame[0] in _SEQUENTIAL_FRAMES | _PROGRESSIVE_FRAMES:
                needed = _scan_bits_needed(frame, segment, costs)
                if (end - offset) * 8 < needed:
                    return (
                        f"it is truncated or corrupt (its header promises {frame[1]}x{frame[2]} pixels, "
                        f"which need at least {-(-needed // 8):,} bytes of image data; it has {end - offset:,})"
                    )
            offset = end


# -- libtiff's messages -------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def silence_libtiff() -> bool:
    """Stop every libtiff loaded in this process from printing warnings and errors on stderr.

    Pillow decodes compressed TIFF with libtiff and leaves libtiff's default handlers in place,
    which write lines such as ``JPEGLib: Quantization table 0x00 was not defined.`` straight to
    file descriptor 2, past Python. Setting both handlers to none silences them (the failure
    itself still reaches Python as Pillow's exception). Linux only (the libraries are found in
    ``/proc/self/maps``); returns whether any libtiff was silenced.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        from PIL import _imaging  # noqa: F401 - loads Pillow's libtiff

        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "libtiff" in line and line.split()[-1].startswith("/")}
    except (OSError, ImportError):
        return False
    silenced = False
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
            for name in ("TIFFSetErrorHandler", "TIFFSetWarningHandler"):
                function = getattr(library, name)
                function.restype = ctypes.c_void_p
                function.argtypes = [ctypes.c_void_p]
                function(None)
            silenced = True
        except (OSError, AttributeError):
            continue
    return silenced


@contextlib.contextmanager
def quiet_libtiff(image_format: str | None) -> Iterator[None]:
    """Around decoding a TIFF: libtiff silenced (:func:`silence_libtiff`), or where that is not
    possible, file descriptor 2 sent to a temporary file for the duration (what libtiff wrote
    there is dropped). Other formats: nothing is changed."""
    if image_format != "TIFF" or silence_libtiff():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
