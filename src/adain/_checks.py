"""Argument checks shared by every layer: is a value a whole number or a number in a range, and
parsing a number the user typed. The predicates return ``bool`` rather than raise, so each caller
keeps its own message (tests match them); the parsers raise :class:`~adain.errors.UsageError` with
the one wording the command line and the server share. A leaf module: it imports only
:mod:`adain.errors` and the standard library, so ``adain.ops`` and everything above may use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from adain.errors import UsageError

__all__ = ["is_int", "is_number", "parse_float", "parse_int"]


def is_int(value: object, minimum: int | None = None, maximum: int | None = None) -> bool:
    """``value`` is an ``int`` in ``[minimum, maximum]`` (a missing bound: no limit that side).

    A ``bool`` is never an int here, although Python makes it one: ``size=True`` is a mistake,
    not the size 1. Floats are refused even when whole (``2.0``): a count comes from an integer.

    Example:
        >>> is_int(3, 0), is_int(True, 0), is_int(2.0), is_int(52, 0, 51)
        (True, False, False, False)
    """
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)


def is_number(
    value: object,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    above: float | None = None,
    finite: bool = True,
) -> bool:
    """``value`` is an ``int`` or ``float`` (never a ``bool``) in ``[minimum, maximum]`` and ``> above``.

    NaN is always refused (it is no number in any range: every comparison with it is false);
    infinities are refused unless ``finite=False``, which a budget allows (``inf``: no limit).
    The finiteness test is :func:`math.isfinite`, so an int too large for a float raises
    :class:`OverflowError` when ``finite`` holds, as the checks this replaced did.

    Example:
        >>> is_number(0.5, 0.0, 1.0), is_number(False, 0.0), is_number(float("inf"), above=0)
        (True, False, False)
        >>> is_number(float("inf"), above=0, finite=False), is_number(float("nan"), finite=False)
        (True, False)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if (finite and not math.isfinite(value)) or (isinstance(value, float) and math.isnan(value)):
        return False
    return (
        (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
        and (above is None or value > above)
    )


def _parse(text: str, name: str, kind: Callable[[str], float], what: str, strip: bool) -> float:
    try:
        return kind(text.strip() if strip else text)
    except ValueError:
        raise UsageError(f"{name} must be {what}. Got {text!r}") from None


def parse_int(text: str, name: str, *, strip: bool = False) -> int:
    """``int(text)``; text that is no integer is a :class:`UsageError` naming ``name`` and quoting ``text``.

    ``strip=True`` parses ``text.strip()`` (a form field): :meth:`str.strip` also drops the
    separators ``\\x1c``-``\\x1f``, which :class:`int` refuses, so the two are not the same. The
    message quotes ``text`` as given either way.

    Example:
        >>> parse_int(" 12 ", "--size")
        12
        >>> parse_int("1.5", "--size")
        Traceback (most recent call last):
        adain.errors.UsageError: --size must be an integer. Got '1.5'
    """
    return int(_parse(text, name, int, "an integer", strip))


def parse_float(text: str, name: str, *, strip: bool = False) -> float:
    """``float(text)``; text that is no number is a :class:`UsageError` naming ``name`` and quoting ``text``.

    ``nan`` and ``inf`` parse (callers that need finite numbers check that, with their own
    message). ``strip`` as in :func:`parse_int`.

    Example:
        >>> parse_float("0.7", "--alpha")
        0.7
        >>> parse_float("strong", "--alpha")
        Traceback (most recent call last):
        adain.errors.UsageError: --alpha must be a number. Got 'strong'
    """
    return _parse(text, name, float, "a number", strip)
