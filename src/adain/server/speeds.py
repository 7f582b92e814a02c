"""Quality or fast: the served preset, and the distilled one whose teacher it is, side by side.

A distilled preset (``fast``: compact students of ``vgg16-hed``, see
:mod:`adain.weights.presets`) computes its teacher's feature space, so a style's statistics (a
bank style's, an uploaded one's) serve both; one server can then offer both, and a request
chooses with its ``speed`` field (``quality``: the served preset, the default; ``fast``: the
distilled one). The fast pipeline is offered only when its weights are installed (a missing
student must not stop the server: the page then shows why it is off), and it is built on first
use, on the worker that runs that request, so a server whose clients never ask for it never loads
it. Availability is checked again while the pipeline is not built (``adain weights import`` into a
running server's cache shows up at once); a student that fails to load is reported, and the speed
is off from then on.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from adain.errors import AdainError
from adain.server.errors import ApiError
from adain.styles.statistics import StyleStatistics
from adain.weights.loading import COMPONENTS, component_status
from adain.weights.presets import PRESETS, statistics_preset

if TYPE_CHECKING:
    from pathlib import Path

    from adain.pipeline.stylize import StylizationPipeline
    from adain.styles.statistics import StyleInput

__all__ = ["DEFAULT_SPEED", "SPEEDS", "Speeds", "distilled_preset", "for_preset", "parse_speed"]

logger = logging.getLogger("adain.server")
T = TypeVar("T")

#: The ``speed`` values a request may give: ``quality`` is the served preset, ``fast`` the distilled one.
SPEEDS = ("quality", "fast")
DEFAULT_SPEED = "quality"


def distilled_preset(preset: str) -> str | None:
    """The preset distilled from ``preset`` (its ``teacher``), or None: what ``speed=fast`` runs.

    Example:
        >>> distilled_preset("vgg16-hed"), distilled_preset("vgg19"), distilled_preset("fast")
        ('fast', None, None)
    """
    return next((p.name for p in PRESETS.values() if p.teacher == preset), None)


def parse_speed(text: str | None) -> str:
    """A form's ``speed`` value: one of :data:`SPEEDS` (empty or absent: :data:`DEFAULT_SPEED`).

    Raises:
        ApiError: 400 ``bad_parameter`` for any other value.
    """
    speed = (text or "").strip().lower() or DEFAULT_SPEED
    if speed not in SPEEDS:
        raise ApiError(400, "bad_parameter", f"speed must be quality or fast (default quality). Got {text!r}")
    return speed


def for_preset(style: StyleInput, preset: str | None) -> StyleInput:
    """``style`` labelled for a pipeline of ``preset`` when it is statistics of the same feature
    space (a vgg16-hed bank style for ``fast``): the pipeline refuses statistics labelled with
    another preset, and these are its own. Kept features (``StyleFeatures``) stay."""
    if (
        isinstance(style, StyleStatistics)
        and preset is not None
        and style.preset not in (None, preset)
        and statistics_preset(style.preset) == statistics_preset(preset)
    ):
        return dataclasses.replace(style, preset=preset)
    return style


class Speeds:
    """The served pipeline (``quality``) and the fast one, built on first use.

    Args:
        quality: the served preset's pipeline (loaded at start-up).
        preset: the served preset.
        build: loads the pipeline of a preset (called once, on a worker, for the fast one).
        home: the weights cache the availability is checked in (``$ADAIN_HOME`` when None).
        enabled: False: fast is off (``adain serve --no-fast``).
    """

    def __init__(
        self,
        quality: StylizationPipeline,
        preset: str,
        build: Callable[[str], StylizationPipeline],
        home: Path | None = None,
        enabled: bool = True,
    ) -> None:
        self.quality = quality
        self.preset = preset
        self.fast_preset = distilled_preset(preset)
        self._build = build
        self._home = home
        self._enabled = enabled
        self._lock = threading.Lock()
        self._fast: StylizationPipeline | None = None
        self._failure = ""  # why the fast pipeline could not be built, once it could not

    def unavailable(self, speed: str) -> str:
        """Why ``speed`` is not on offer now, in one line for a person; ``""`` when it is."""
        if speed == DEFAULT_SPEED or self._fast is not None:
            return ""
        if not self._enabled:
            return "fast is turned off on this server (adain serve --no-fast)"
        if self.fast_preset is None:
            return f"no preset is distilled from this server's preset {self.preset!r}, so there is no fast one"
        if self._failure:
            return self._failure
        missing = [c for c in COMPONENTS if component_status(self.fast_preset, c, self._home)[0] == "missing"]
        if missing:
            return (
                f"the weights of the distilled preset {self.fast_preset!r} are not installed on this server "
                f"(missing: its {' and '.join(missing)}; adain weights import installs them)"
            )
        return ""

    def check(self, speed: str) -> None:
        """Refuse ``speed`` now (before the upload is queued) when it is not on offer.

        Raises:
            ApiError: 400 ``speed_unavailable``, saying why.
        """
        reason = self.unavailable(speed)
        if reason:
            raise ApiError(400, "speed_unavailable", f"speed {speed!r} is not available: {reason}")

    def pipeline(self, speed: str) -> StylizationPipeline:
        """The pipeline of ``speed``; the fast one is built here the first time (on a worker).

        Raises:
            ApiError: 400 ``speed_unavailable``: not on offer, or its weights failed to load
                (logged, since the error names the server's files; the speed is then off for good).
        """
        if speed == DEFAULT_SPEED:
            return self.quality
        with self._lock:  # two workers asking at once build it once
            if self._fast is None:
                self.check(speed)
                assert self.fast_preset is not None
                try:
                    self._fast = self._build(self.fast_preset)
                except AdainError as error:  # its message names files of the server: for the log only
                    logger.warning("the %s pipeline could not be loaded: %s", self.fast_preset, error)
                    self._failure = (
                        f"the weights of preset {self.fast_preset!r} failed to load ({type(error).__name__}; "
                        "see the server log)"
                    )
                    self.check(speed)
                logger.info("loaded the %s pipeline for speed=fast", self.fast_preset)
            return self._fast  # type: ignore[return-value]

    def run(self, speed: str, function: Callable[..., T], *args: Any) -> T:
        """``function(pipeline, *args)`` with the pipeline of ``speed``: a worker's job."""
        return function(self.pipeline(speed), *args)

    def public(self) -> dict[str, dict[str, Any]]:
        """``GET /v1/info``'s ``speeds``: each speed's preset, whether it is on offer and, if not, why."""
        offers = {}
        for speed, preset in (("quality", self.preset), ("fast", self.fast_preset)):
            reason = self.unavailable(speed)
            offers[speed] = {"preset": preset, "available": not reason, "reason": reason or None}
        return offers
