from __future__ import annotations

import pytest
import torch

from adain.ops.finite import all_finite


class TestAllFinite:
    @pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
    @pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
    def test_a_bad_value_anywhere(self, dtype: torch.dtype, bad: float) -> None:
        x = torch.rand(2, 3, 17, 19).to(dtype)
        assert all_finite(x)
        x[1, 2, 16, 0] = bad
        assert not all_finite(x)
        assert not all_finite(x.to(memory_format=torch.channels_last)[..., :-1])

    def test_plus_and_minus_infinity_together(self) -> None:
        assert not all_finite(torch.tensor([float("inf"), float("-inf")]))  # the sum is NaN

    def test_values_whose_sum_overflows_are_finite(self) -> None:
        assert all_finite(torch.full((4,), 60000.0, dtype=torch.float16))
        assert all_finite(torch.tensor([3e38, 3e38, -3e38]))

    def test_empty_and_integer_tensors(self) -> None:
        assert all_finite(torch.empty(0)) and all_finite(torch.tensor([1, 2])) and all_finite(torch.tensor([True]))

    def test_agrees_with_isfinite(self) -> None:
        generator = torch.Generator().manual_seed(0)
        for _ in range(50):
            x = torch.randn(64, generator=generator) * 1e38
            if torch.rand(1, generator=generator) < 0.5:
                x[torch.randint(64, (1,), generator=generator)] = float("nan")
            assert all_finite(x) == bool(torch.isfinite(x).all())
