"""What a server instance is allowed to do: its models, where it keeps state, and its limits.

Every limit exists so that one client (or many) cannot take the machine down: uploads are
capped in bytes while they stream in, images in pixels before they are decoded, outputs in size,
requests in time, and work in a pool of fixed size with a bounded queue (beyond it: 503).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from adain._checks import is_int, is_number
from adain.errors import UsageError
from adain.image.sizing import NETWORK_MULTIPLE
from adain.pipeline.options import DEFAULT_SIZE
from adain.weights.presets import DEFAULT_PRESET

__all__ = [
    "LIVE_MAX_SIZE",
    "LIVE_SIZE",
    "MIN_SIZE",
    "PREVIEW_SIZE",
    "STYLE_PREVIEW_SIZE",
    "ServerConfig",
    "ServerLimits",
]

#: The page's low-resolution preview while a control moves (shorter side, pixels): about a
#: seventh of the pixels of a 512 render, so previews keep up with a moving slider on a CPU.
PREVIEW_SIZE = 192

#: The swatch of each style in the page's style grid (pixels, square), rendered by the decoder.
STYLE_PREVIEW_SIZE = 96

#: The live (webcam) mode's frame size (shorter side) by default, and the largest a client may ask:
#: each frame is one full stylization, so the size sets the frame rate.
LIVE_SIZE = 192
LIVE_MAX_SIZE = 256

#: The smallest output side (pixels) a request may ask for or an image may come to after resizing:
#: relu4_1 is at 1/8 of the resolution and the networks reflect-pad it by one pixel, which takes
#: two pixels there. Below this the encoder or the decoder would fail.
MIN_SIZE = 2 * NETWORK_MULTIPLE


@dataclass
class ServerLimits:
    """Per-request and whole-server limits.

    Attributes:
        max_upload_mb: largest request body (all files together), in MB; a larger one is
            answered 413 as soon as its ``Content-Length`` or its streamed bytes pass it.
        max_pixels: largest uploaded image (width x height), checked from its header before
            any pixel is decoded (413 beyond it).
        max_size: largest output shorter side a request may ask for (``size``), at least
            :data:`MIN_SIZE`.
        request_timeout_s: a request's whole budget: reading its upload, waiting in the queue
            and being stylized (408 for a slow upload, 504 beyond it otherwise).
        workers: stylizations that run at once (threads sharing the loaded models).
        queue_size: requests that may wait for a worker; beyond ``workers + queue_size``
            admitted requests the server answers 503 with ``Retry-After``.
        max_parts: most form fields and files one request may have.
        header_timeout_s: a connection's request line and headers must arrive within this
            many seconds of its first byte (or of its opening); a slower one is closed (408).
    """

    max_upload_mb: float = 20.0
    max_pixels: int = 16_000_000
    max_size: int = 1024
    request_timeout_s: float = 60.0
    workers: int = 1
    queue_size: int = 8
    max_parts: int = 16
    header_timeout_s: float = 10.0

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def check(self) -> ServerLimits:
        """Raise :class:`UsageError` quoting the first limit that cannot mean anything."""
        for name in ("max_upload_mb", "request_timeout_s", "header_timeout_s"):
            value = getattr(self, name)
            if not is_number(value, above=0):
                raise UsageError(f"{name} must be a positive number. Got {value!r}")
        for name, lowest in (
            ("max_pixels", 64),
            ("max_size", MIN_SIZE),
            ("workers", 1),
            ("queue_size", 0),
            ("max_parts", 1),
        ):
            value = getattr(self, name)
            if not is_int(value, lowest):
                raise UsageError(f"{name} must be an integer >= {lowest}. Got {value!r}")
        return self


@dataclass
class ServerConfig:
    """One server: which models it loads and where it keeps its state.

    Attributes:
        preset: encoder preset; the decoder is the preset's default unless ``decoder`` is given.
        decoder: a decoder weights file instead of the preset's (chosen by the operator).
        device: torch device of the models.
        precision: what the networks compute in: ``"auto"`` (bf16 where the hardware has it
            natively), ``"fp32"`` or ``"bf16"`` (:meth:`StylizationPipeline.from_preset`).
        home: weights cache (``$ADAIN_HOME`` when ``None``).
        user_bank: the bank ``POST /v1/styles`` adds to (default: the user's bank of the preset,
            the one ``adain bank`` writes and ``bank:NAME`` reads first).
        study_db: SQLite file of the A/B study's trials (default ``$ADAIN_HOME/study.sqlite``).
        study_config: JSON file of the study's configurations and styles (default: built in).
        study_content: a folder of content images for the study (default: scikit-image's
            example photos).
        temp_parent: where the server creates its own temporary folder for uploads (default:
            the system's); uploads are written nowhere else and removed after each request.
        default_size: output shorter side when a request gives none.
        preview_size: the page's preview size (shorter side) while a control moves.
        style_size: style images (uploaded with a request or to the bank) are encoded at this
            shorter side, as ``adain stylize`` and ``adain bank add`` do (the paper's 512).
        preview_cache: where the style previews are kept (default
            ``$ADAIN_HOME/cache/previews``); keyed by each style's statistics and the decoder's
            weights, so a new decoder or a changed style gets a new preview.
        style_preview_size: the side of a style preview (square), pixels.
        preview_warmup: render the missing style previews in a background thread after start-up
            (pausing while a stylization runs); ``False``: only when the page asks for one.
        fast: also offer the preset distilled from ``preset`` (``fast`` for vgg16-hed) to requests
            that send ``speed=fast``, when its weights are installed; loaded on first use
            (:mod:`adain.server.speeds`). ``False``: quality only (``adain serve --no-fast``).
        limits: :class:`ServerLimits`.
    """

    preset: str = DEFAULT_PRESET
    decoder: Path | None = None
    device: str = "cpu"
    precision: str = "auto"
    home: Path | None = None
    user_bank: Path | None = None
    study_db: Path | None = None
    study_config: Path | None = None
    study_content: Path | None = None
    temp_parent: Path | None = None
    default_size: int = DEFAULT_SIZE
    preview_size: int = PREVIEW_SIZE
    style_size: int = DEFAULT_SIZE
    preview_cache: Path | None = None
    style_preview_size: int = STYLE_PREVIEW_SIZE
    preview_warmup: bool = True
    fast: bool = True
    limits: ServerLimits = field(default_factory=ServerLimits)
