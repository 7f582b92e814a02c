"""Error hierarchy.

Every failure a user can cause (bad image, missing weights, bad option) is raised as an
``AdainError`` subclass with a message that quotes the offending value, so the CLI can print
one line and choose the exit code without a traceback.
"""

from __future__ import annotations

__all__ = [
    "AdainError",
    "BankError",
    "InputImageError",
    "MissingDependencyError",
    "MissingWeightsError",
    "OutputError",
    "PresetError",
    "ShapeError",
    "TrainingDiverged",
    "UsageError",
    "VideoInputError",
    "WeightsError",
    "WeightsShapeError",
]


class AdainError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with (1: a failure, 2: a usage error)."""

    exit_code = 1


class UsageError(AdainError, ValueError):
    """The caller asked for something that cannot mean anything (bad option value)."""

    exit_code = 2


class PresetError(UsageError):
    """Unknown preset name."""


class ShapeError(AdainError, ValueError):
    """A tensor or weight has the wrong shape."""


class WeightsError(AdainError):
    """Weights are corrupt, have a wrong hash or do not fit the architecture."""


class WeightsShapeError(WeightsError, ShapeError):
    """A weight tensor has the wrong shape for the architecture: a weights failure (exit 1) that is
    also a :class:`ShapeError`."""


class MissingWeightsError(WeightsError):
    """Weights that a preset needs are not in the cache (or do not exist yet)."""


class InputImageError(AdainError):
    """An input image is missing, unreadable, truncated, too large or not an image."""


class OutputError(AdainError):
    """An output cannot be written."""


class BankError(AdainError):
    """A style bank file is unreadable, or a style is missing from it."""


class VideoInputError(InputImageError):
    """A video input cannot be used: missing, unreadable, truncated, no video stream, no frames,
    or a codec this build of FFmpeg cannot decode."""


class MissingDependencyError(AdainError):
    """An optional package (an extra) is not installed."""


class TrainingDiverged(AdainError):
    """A training loss became NaN or infinite; the last good checkpoint is kept."""
