"""The live (webcam) mode: camera frames in, stylized frames out, as fast as the server can.

The page takes frames from the camera (``getUserMedia``) and posts each one, downscaled in the
browser to the live size (192 or 256 px on the shorter side), to ``POST /v1/live/{id}/frames``
(repeated HTTP requests: the same limits, pool and errors as every other request, no WebSocket).
Frames are never queued:

* the page has one frame in flight at a time and takes the camera's *current* picture only when
  the previous answer is back, so the frames the camera made meanwhile are skipped;
* on the server, a session runs one frame at a time; a frame that arrives while another of its
  session waits replaces it, and the replaced one is answered ``204`` with
  ``X-Adain-Dropped: superseded`` (latest frame wins);
* like any request, a frame is refused ``503`` (``Retry-After``) when the pool is full.

Each session keeps a :class:`~adain.video.temporal.ContentStatisticsEMA` (through the pipeline's
``content_statistics_filter``), so the normalisation of the content does not flicker from frame
to frame, as in ``adain video --temporal ema`` (afresh when a frame's ``speed`` differs from the last
one's: :mod:`adain.server.speeds`). Sessions idle for :data:`SESSION_IDLE_S` are
forgotten; at most ``workers + queue_size`` (at least 2) exist at once.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from adain.image.sizing import target_size
from adain.ops.statistics import check_alpha
from adain.pipeline.options import StylizeOptions
from adain.server.config import LIVE_MAX_SIZE, LIVE_SIZE, MIN_SIZE, ServerConfig
from adain.server.errors import ApiError
from adain.server.jobs import _number, check_fields, check_pixels, check_resized, encode_image, parse_flag
from adain.server.speeds import DEFAULT_SPEED, for_preset, parse_speed
from adain.server.styles import StyleCatalog
from adain.server.uploads import UploadedForm
from adain.video.temporal import ContentStatisticsEMA

if TYPE_CHECKING:
    from pathlib import Path

    from adain.pipeline.stylize import StylizationPipeline
    from adain.styles.statistics import StyleStatistics

__all__ = ["LIVE_FIELDS", "LiveFrame", "LiveSession", "LiveSessions", "parse_live_form", "render_live"]

#: The form fields of ``POST /v1/live/{id}/frames``.
LIVE_FIELDS = {
    "frame": "the camera frame (a file: JPEG or PNG), at the size it is to be stylized at",
    "style": "a bank style name (NAME or bank:NAME)",
    "alpha": "style strength in [0, 1] (default 1)",
    "size": f"shorter side of the answer, {MIN_SIZE} to {LIVE_MAX_SIZE} (default {LIVE_SIZE})",
    "preserve_color": "true: keep the frame's colours",
    "reset": "true: start the temporal smoothing afresh (a new camera, a cut)",
    "speed": "quality (default) or fast (the distilled students, when offered: GET /v1/info); switching restarts "
    "the temporal smoothing",
}
LIVE_FILES = frozenset({"frame"})

#: Seconds after which a session that sent nothing is forgotten.
SESSION_IDLE_S = 60.0
#: Weight of the past in the content statistics' moving average (0.7: a time constant of about three frames).
EMA_MOMENTUM = 0.7


@dataclass
class LiveFrame:
    """One frame's work: its upload, the style, the options, and which pipeline runs it (``speed``)."""

    path: Path
    style: StyleStatistics
    options: StylizeOptions
    reset: bool = False
    speed: str = DEFAULT_SPEED


@dataclass
class LiveSession:
    """One camera stream: its temporal state and the latest-frame-wins bookkeeping."""

    id: str
    ema: ContentStatisticsEMA = field(default_factory=lambda: ContentStatisticsEMA(EMA_MOMENTUM))
    last_seen: float = field(default_factory=time.monotonic)
    latest: int = 0  # the ticket of the newest frame that arrived
    frames: int = 0  # frames stylized
    dropped: int = 0  # frames superseded before they ran
    speed: str = DEFAULT_SPEED  # of the last frame: another one's content statistics are another encoder's
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one frame of the session at a time
    compute: threading.Lock = field(default_factory=threading.Lock)  # the EMA, even past a timeout

    def arrive(self) -> int:
        """A frame came in: its ticket (a later frame's ticket supersedes it)."""
        self.last_seen = time.monotonic()
        self.latest += 1
        return self.latest

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "frames": self.frames, "dropped": self.dropped}


class LiveSessions:
    """The open sessions, at most ``capacity``; idle ones are forgotten. Used from the event loop only."""

    def __init__(self, capacity: int, idle_s: float = SESSION_IDLE_S) -> None:
        self.capacity = max(2, capacity)
        self.idle_s = idle_s
        self._sessions: OrderedDict[str, LiveSession] = OrderedDict()

    def _prune(self) -> None:
        now = time.monotonic()
        for key in [key for key, session in self._sessions.items() if now - session.last_seen > self.idle_s]:
            if not self._sessions[key].lock.locked():
                del self._sessions[key]

    def open(self) -> LiveSession:
        """A new session.

        Raises:
            ApiError: 503 when ``capacity`` sessions are open and active.
        """
        self._prune()
        if len(self._sessions) >= self.capacity:
            raise ApiError(
                503,
                "busy",
                f"{len(self._sessions)} live sessions are open (this server's limit); retry later",
                {"Retry-After": "5"},
            )
        session = LiveSession(secrets.token_hex(16))
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> LiveSession:
        session = self._sessions.get(session_id)
        if session is None:
            raise ApiError(404, "unknown_session", "no such live session (it ended or was idle): open a new one")
        session.last_seen = time.monotonic()
        return session

    def close(self, session_id: str) -> LiveSession:
        session = self.get(session_id)
        del self._sessions[session_id]
        return session

    def __len__(self) -> int:
        return len(self._sessions)


def parse_live_form(form: UploadedForm, catalog: StyleCatalog, config: ServerConfig) -> LiveFrame:
    """Check a frame's form completely (no model runs).

    Raises:
        ApiError: 400 for a missing, unknown or bad field.
        BankError: an unknown style (400 ``unknown_style``).
    """
    check_fields(form, LIVE_FIELDS, LIVE_FILES)
    frame = form.file("frame")
    if frame is None:
        raise ApiError(400, "missing_parameter", "no frame: send the camera picture as the file field 'frame'")
    name = (form.text("style") or "").strip()
    if not name:
        raise ApiError(400, "missing_parameter", "no style: give 'style' (a bank style name)")
    largest = min(LIVE_MAX_SIZE, config.limits.max_size)
    size = _number(form, "size", min(LIVE_SIZE, largest), int)
    if not MIN_SIZE <= size <= largest:
        raise ApiError(
            400, "bad_parameter", f"size must be an integer from {MIN_SIZE} to {largest} in live mode. Got {size}"
        )
    options = StylizeOptions(
        alpha=check_alpha(_number(form, "alpha", 1.0), "alpha"),
        preserve_color="luminance" if parse_flag(form, "preserve_color") else None,
        size=size,
        upscale=True,  # the answer has the size asked for, whatever the camera sends
        max_size=2 * size,
        max_pixels=config.limits.max_pixels,
    )
    options.check(1)
    return LiveFrame(
        frame.path, catalog.statistics(name), options, parse_flag(form, "reset"), parse_speed(form.text("speed"))
    )


def render_live(pipeline: StylizationPipeline, session: LiveSession, frame: LiveFrame, max_pixels: int) -> bytes:
    """The worker's part: pixel-check the frame, stylize it with the session's smoothing, JPEG.

    A frame of another speed than the last one restarts the smoothing: the average would mix two
    encoders' content statistics (the student's approximate its teacher's, not exactly)."""
    image_size = check_pixels(frame.path, "frame", max_pixels)
    if image_size is not None:  # an unreadable file: the pipeline's loader says what is wrong with it
        width, height = image_size
        check_resized(
            "frame",
            image_size,
            target_size(height, width, frame.options.size, frame.options.max_size, upscale=frame.options.upscale),
            max_pixels,
        )
    with session.compute:
        if frame.reset or frame.speed != session.speed:
            session.ema.reset()
        session.speed = frame.speed
        style = for_preset(frame.style, pipeline.preset)
        result = pipeline(frame.path, [style], frame.options, content_statistics_filter=session.ema)
    return encode_image(result.image, "jpeg")
