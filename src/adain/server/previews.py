"""A small preview of every bank style, for the page's style grid, rendered by our own decoder.

A bank style is only statistics (channel means and stds of its features); the artwork itself is
not in the bank, and the page never shows it. A preview is the stylization of one fixed,
generated content pattern (:func:`preview_pattern`: sky, sun, hills, a house, stripes; drawn with
numpy, no image file) with the style's statistics, rendered at twice
:data:`~adain.server.config.STYLE_PREVIEW_SIZE` and downscaled to it: what the style does to a
picture, by the decoder this server runs.

Previews are rendered once and kept on disk (``$ADAIN_HOME/cache/previews`` or
``ServerConfig.preview_cache``) under a key of everything they depend on: the style's statistics
(the bank's contents), the decoder's weights (sha256 of its tensors), the precision, the pattern's
version and the size. A style changed in the bank, or another decoder, gets a new preview; an
unchanged one is read back. Rendering is lazy (the first request for a preview renders it) and,
in ``adain serve``, also ahead of time in one background thread that starts after the server
does and pauses while a stylization runs (:meth:`StylePreviews.start_warmup`), so start-up never
waits for previews.

A style a person uploads (``POST /v1/styles``) shows a thumbnail of their own image instead (a
centre crop of its first image, kept under the same folder, keyed by the pooled statistics it was
added with).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import numpy as np
from PIL import Image, ImageOps

if TYPE_CHECKING:
    from adain.pipeline.stylize import StylizationPipeline
    from adain.server.styles import StyleCatalog
    from adain.styles.statistics import StyleStatistics

__all__ = ["PATTERN_VERSION", "StylePreviews", "preview_pattern", "statistics_digest", "weights_digest"]

logger = logging.getLogger("adain.server")

#: Bumped whenever :func:`preview_pattern` draws something else (it is part of every preview's key).
PATTERN_VERSION = 1
JPEG_QUALITY = 88
#: Previews are rendered at this multiple of their size and downscaled: the decoder paints its
#: strokes at a scale of its own, and at 96 px the pattern would be little more than strokes.
RENDER_SCALE = 2
#: How long the warm-up thread waits between checks while the server is stylizing (seconds).
WARMUP_PAUSE_S = 0.25


def preview_pattern(size: int) -> np.ndarray:
    """The fixed content of every preview: ``(size, size, 3)`` uint8, the same on every machine.

    A small landscape with the structures a style shows itself on: a smooth sky (gradients), a
    sun (a disc), two ridges of hills (curves), a house (straight edges, a dark door), a striped
    field (high frequencies) and a little seeded noise (texture).

    Example:
        >>> a, b = preview_pattern(64), preview_pattern(64)
        >>> a.shape, a.dtype.name, bool((a == b).all())
        ((64, 64, 3), 'uint8', True)
    """
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / max(1, size - 1)
    sky = np.stack([0.55 + 0.4 * y, 0.75 + 0.2 * y, 0.98 - 0.1 * y], -1)
    image = sky.copy()
    sun = (x - 0.72) ** 2 + (y - 0.24) ** 2 < 0.11**2
    image[sun] = (1.0, 0.82, 0.35)
    far = y > 0.52 + 0.06 * np.sin(x * 7.0 + 0.5)
    image[far] = np.stack([0.35 + 0.1 * x, 0.5 + 0.1 * y, 0.45 + 0.0 * x], -1)[far]
    near = y > 0.66 + 0.05 * np.sin(x * 11.0 + 2.0)
    image[near] = np.stack([0.3 + 0.2 * y, 0.62 - 0.2 * y, 0.2 + 0.0 * x], -1)[near]
    stripes = near & (np.sin((x * 9.0 + y * 26.0) * np.pi) > 0.3)
    image[stripes] = image[stripes] * 0.7 + np.array([0.35, 0.28, 0.05]) * 0.3
    wall = (x > 0.14) & (x < 0.42) & (y > 0.5) & (y < 0.78)
    image[wall] = (0.92, 0.88, 0.8)
    roof = (y <= 0.5) & (y > 0.34) & (np.abs(x - 0.28) < (y - 0.34) * 1.1)
    image[roof] = (0.72, 0.2, 0.16)
    door = (x > 0.25) & (x < 0.31) & (y > 0.64) & (y < 0.78)
    image[door] = (0.22, 0.14, 0.1)
    window = (x > 0.34) & (x < 0.39) & (y > 0.56) & (y < 0.62)
    image[window] = (0.3, 0.45, 0.7)
    noise = np.random.default_rng(20261202).normal(0.0, 0.025, image.shape).astype(np.float32)
    return ((image + noise).clip(0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def statistics_digest(statistics: StyleStatistics) -> str:
    """sha256 of a style's statistics (every tap, its preset): a style's identity in the bank."""
    digest = hashlib.sha256(str(statistics.preset).encode())
    for tap in sorted(statistics.means):
        digest.update(tap.encode())
        for tensor in (statistics.means[tap], statistics.stds[tap]):
            digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def weights_digest(module: object) -> str:
    """sha256 of a network's weights (names, shapes and values of its state dict)."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():  # type: ignore[attr-defined]
        value = tensor.detach().cpu()
        digest.update(f"{name}:{tuple(value.shape)}".encode())
        digest.update((value.float() if value.is_floating_point() else value).contiguous().numpy().tobytes())
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".preview-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


class StylePreviews:
    """The previews of one server's styles: rendered on demand or ahead of time, kept on disk.

    Args:
        pipeline: the server's pipeline (its decoder renders the previews).
        catalog: the server's styles.
        folder: the cache folder; previews that cannot be written there are kept in memory.
        size: a preview's side in pixels.
        busy: ``busy()`` is true while the server is stylizing (the warm-up thread waits).
    """

    def __init__(
        self,
        pipeline: StylizationPipeline,
        catalog: StyleCatalog,
        folder: Path,
        size: int,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.pipeline, self.catalog, self.folder, self.size, self.busy = pipeline, catalog, Path(folder), size, busy
        self._render_lock = threading.Lock()
        self._lock = threading.Lock()
        self._decoder_digest: str | None = None
        self._digests: tuple[object, dict[str, str]] = (None, {})
        self._memory: dict[str, bytes] = {}
        self._write_failed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rendered = 0  # previews this instance rendered (the rest came from the cache)

    # -- keys ---------------------------------------------------------------------------------------

    @property
    def decoder_digest(self) -> str:
        with self._lock:
            if self._decoder_digest is None:
                self._decoder_digest = weights_digest(self.pipeline.decoder)
            return self._decoder_digest

    def digests(self) -> dict[str, str]:
        """``{style name: statistics digest}`` of the styles as the catalog resolves them (the user's
        bank first), recomputed when a bank file changes."""
        banks = self.catalog.banks()
        with self._lock:
            if self._digests[0] is banks:
                return self._digests[1]
        digests: dict[str, str] = {}
        for _, bank in banks:
            for name in bank:
                if name not in digests:
                    digests[name] = statistics_digest(bank.get(name))
        with self._lock:
            self._digests = (banks, digests)
        return digests

    def preview_path(self, digest: str) -> Path:
        key = hashlib.sha256(
            f"{PATTERN_VERSION}:{self.size}:{RENDER_SCALE}:{self.pipeline.precision}:{self.decoder_digest}:{digest}".encode()
        ).hexdigest()
        return self.folder / "rendered" / f"{key[:40]}.jpg"

    def thumbnail_path(self, digest: str) -> Path:
        return self.folder / "thumbnails" / f"{digest[:40]}-{self.size}.jpg"

    def url(self, name: str) -> str | None:
        """The page's address of ``name``'s preview; its ``v`` changes with what it shows (so a
        browser may keep it for good)."""
        digest = self.digests().get(name)
        return None if digest is None else f"/v1/styles/{quote(name, safe='')}/preview?v={digest[:16]}"

    # -- images -------------------------------------------------------------------------------------

    def _read(self, path: Path) -> bytes | None:
        with self._lock:
            if str(path) in self._memory:
                return self._memory[str(path)]
        try:
            return path.read_bytes()
        except OSError:
            return None

    def _keep(self, path: Path, data: bytes) -> None:
        try:
            _write_atomically(path, data)
            return
        except OSError as error:
            if not self._write_failed:
                logger.warning("style previews are kept in memory only: cannot write %s (%s)", path.parent, error)
                self._write_failed = True
        with self._lock:
            self._memory[str(path)] = data

    def image(self, name: str) -> tuple[bytes, str] | None:
        """``(JPEG bytes, "thumbnail" or "rendered")`` of ``name``, rendering it if it is not cached;
        ``None`` for a name that is no style."""
        digest = self.digests().get(name)
        if digest is None:
            return None
        thumbnail = self._read(self.thumbnail_path(digest))
        if thumbnail is not None:
            return thumbnail, "thumbnail"
        path = self.preview_path(digest)
        cached = self._read(path)
        if cached is not None:
            return cached, "rendered"
        with self._render_lock:  # one render at a time; a second request for it finds it then
            cached = self._read(path)
            if cached is None:
                cached = self._render(name)
                self._keep(path, cached)
                self.rendered += 1
        return cached, "rendered"

    def _render(self, name: str) -> bytes:
        from adain.pipeline.options import StylizeOptions

        side = self.size * RENDER_SCALE
        pattern = Image.fromarray(preview_pattern(side))
        options = StylizeOptions(size=side, max_size=side)
        result = self.pipeline(pattern, [self.catalog.statistics(name)], options)
        return _jpeg(result.image.convert("RGB").resize((self.size, self.size), Image.Resampling.LANCZOS))

    def save_thumbnail(self, name: str, image_path: Path) -> None:
        """Keep a thumbnail of an uploaded style image for ``name`` (as the bank holds it now)."""
        digest = self.digests().get(name)
        if digest is None:
            return
        try:
            with Image.open(image_path) as image:
                image.draft("RGB", (self.size * 2, self.size * 2))
                thumbnail = ImageOps.fit(ImageOps.exif_transpose(image).convert("RGB"), (self.size, self.size))
        except Exception as error:  # the style was added already; a missing thumbnail falls back to a render
            logger.warning("no thumbnail for style %r: %s", name, error)
            return
        self._keep(self.thumbnail_path(digest), _jpeg(thumbnail))

    # -- ahead of time ------------------------------------------------------------------------------

    def missing(self) -> list[str]:
        """The styles that have neither a thumbnail nor a cached preview yet."""
        return [
            name
            for name, digest in self.digests().items()
            if self._read(self.thumbnail_path(digest)) is None and self._read(self.preview_path(digest)) is None
        ]

    def start_warmup(self) -> None:
        """Render the missing previews in a background thread (a no-op while one runs)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._warm_up, name="adain-previews", daemon=True)
        self._thread.start()

    def _warm_up(self) -> None:
        try:
            for name in self.missing():
                while self.busy() and not self._stop.is_set():
                    time.sleep(WARMUP_PAUSE_S)
                if self._stop.is_set():
                    return
                self.image(name)
        except Exception:  # never fatal: the page asks again, and a request renders it then
            logger.exception("rendering the style previews ahead of time failed")

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
