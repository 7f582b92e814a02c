"""The encoder taps AdaIN works with, named once for every layer above."""

from __future__ import annotations

from collections.abc import Collection

from adain.errors import UsageError

__all__ = ["ADAIN_TAP", "TAPS", "requested_taps"]

#: The VGG layers whose features the encoder returns, shallow to deep: content and style losses,
#: style statistics and the multi-level decoder's skips all use them.
TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")

#: The tap AdaIN is applied at (the paper's decoder input).
ADAIN_TAP = "relu4_1"


def requested_taps(last_tap: str = ADAIN_TAP, taps: Collection[str] | None = None) -> tuple[str, ...]:
    """The taps an encoder call returns, shallow to deep: ``taps`` when given (an encoder may then
    skip the work of the others, e.g. a compact encoder's projection onto a tap nobody reads),
    else every tap up to ``last_tap``.

    Example:
        >>> requested_taps("relu2_1"), requested_taps(taps={"relu4_1", "relu2_1"})
        (('relu1_1', 'relu2_1'), ('relu2_1', 'relu4_1'))
    """
    if last_tap not in TAPS:
        raise UsageError(f"unknown tap {last_tap!r}; taps: {', '.join(TAPS)}")
    if taps is None:
        return TAPS[: TAPS.index(last_tap) + 1]
    unknown = sorted(set(taps) - set(TAPS))
    if unknown or not taps:
        raise UsageError(f"taps must be some of {', '.join(TAPS)}. Got {sorted(taps)}")
    return tuple(tap for tap in TAPS if tap in taps)
