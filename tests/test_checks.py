"""adain._checks: the shared argument predicates and number parsers (bool is never a number)."""

from __future__ import annotations

import math

import pytest

from adain._checks import is_int, is_number, parse_float, parse_int
from adain.errors import UsageError


class TestIsInt:
    def test_accepts_ints_within_the_bounds(self) -> None:
        assert is_int(0)
        assert is_int(-5)
        assert is_int(0, 0)
        assert is_int(51, 0, 51)
        assert is_int(10**30, 1)

    def test_bounds_are_inclusive_and_refuse_outside(self) -> None:
        assert not is_int(-1, 0)
        assert not is_int(52, 0, 51)
        assert not is_int(7, 8)
        assert is_int(-100, maximum=0)
        assert not is_int(1, maximum=0)

    @pytest.mark.parametrize("value", [True, False])
    def test_refuses_bool(self, value: bool) -> None:
        assert not is_int(value)
        assert not is_int(value, 0)

    @pytest.mark.parametrize("value", [2.0, 1.5, "3", None, math.nan])
    def test_refuses_non_ints(self, value: object) -> None:
        assert not is_int(value)


class TestIsNumber:
    def test_accepts_ints_and_floats_in_range(self) -> None:
        assert is_number(0.5, 0.0, 1.0)
        assert is_number(1, 0.0, 1.0)
        assert is_number(0.0, 0.0, 1.0)
        assert is_number(1e-12, above=0)

    def test_above_is_exclusive(self) -> None:
        assert not is_number(0, above=0)
        assert not is_number(0.0, above=0)
        assert not is_number(-1.0, above=0)

    @pytest.mark.parametrize("value", [True, False])
    def test_refuses_bool(self, value: bool) -> None:
        assert not is_number(value)
        assert not is_number(value, 0.0, 1.0)

    @pytest.mark.parametrize("value", ["1", None, [1.0]])
    def test_refuses_non_numbers(self, value: object) -> None:
        assert not is_number(value)

    def test_infinity_only_when_not_finite(self) -> None:
        assert not is_number(math.inf, above=0)
        assert is_number(math.inf, above=0, finite=False)
        assert not is_number(-math.inf, finite=True)
        assert not is_number(math.inf, 0.0, 1.0, finite=False)

    def test_nan_is_always_refused(self) -> None:
        assert not is_number(math.nan)
        assert not is_number(math.nan, finite=False)
        assert not is_number(math.nan, above=0, finite=False)

    def test_huge_int_overflows_only_when_finiteness_is_asked(self) -> None:
        # math.isfinite, as the checks it replaced; without it the bounds decide
        with pytest.raises(OverflowError):
            is_number(10**400, above=0)
        assert is_number(10**400, above=0, finite=False)
        assert not is_number(10**400, 0.0, 1.0, finite=False)


class TestParseInt:
    def test_parses_with_surrounding_spaces(self) -> None:
        assert parse_int("42", "--size") == 42
        assert parse_int(" -3 ", "--size") == -3
        assert isinstance(parse_int("7", "--size"), int)

    @pytest.mark.parametrize("text", ["1.5", "", "ten", "1e3"])
    def test_refuses_non_integers_with_the_shared_message(self, text: str) -> None:
        with pytest.raises(UsageError) as raised:
            parse_int(text, "--size")
        assert str(raised.value) == f"--size must be an integer. Got {text!r}"
        assert raised.value.__cause__ is None and raised.value.__suppress_context__

    def test_strip_drops_what_int_refuses_and_quotes_the_text_as_given(self) -> None:
        text = "\x1c12\x1f"
        with pytest.raises(UsageError, match=r"Got '\\x1c12\\x1f'"):
            parse_int(text, "size")
        assert parse_int(text, "size", strip=True) == 12
        with pytest.raises(UsageError) as raised:
            parse_int(" x ", "size", strip=True)
        assert str(raised.value) == "size must be an integer. Got ' x '"


class TestParseFloat:
    def test_parses_numbers_and_special_values(self) -> None:
        assert parse_float("0.7", "--alpha") == 0.7
        assert parse_float("3", "--alpha") == 3.0
        assert parse_float("inf", "--max-memory") == math.inf
        assert math.isnan(parse_float("nan", "--fps"))

    @pytest.mark.parametrize("text", ["strong", "", "1,5"])
    def test_refuses_non_numbers_with_the_shared_message(self, text: str) -> None:
        with pytest.raises(UsageError) as raised:
            parse_float(text, "--alpha")
        assert str(raised.value) == f"--alpha must be a number. Got {text!r}"

    def test_strip(self) -> None:
        assert parse_float("\x1d0.5\x1e", "mix", strip=True) == 0.5
        with pytest.raises(UsageError):
            parse_float("\x1d0.5\x1e", "mix")
