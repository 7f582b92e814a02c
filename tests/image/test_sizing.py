"""Output size rules and padding to the network's multiple of 8."""

from __future__ import annotations

import pytest
import torch

from adain.errors import UsageError
from adain.image.sizing import crop_to, pad_to_multiple, resize_image, target_size


@pytest.mark.parametrize(
    "height,width,size,max_size,expected",
    [
        (53, 37, 0, 0, (53, 37)),  # 0 keeps the original
        (53, 37, 20, 0, (29, 20)),  # shorter side -> 20
        (37, 53, 20, 0, (20, 29)),
        (53, 37, 0, 30, (30, 21)),  # longer side capped
        (53, 37, 0, 100, (53, 37)),  # a cap above the size changes nothing (no upscaling)
        (100, 200, 50, 80, (40, 80)),  # size first, then the cap
        (10, 10, 64, 0, (64, 64)),  # size also enlarges
        (1000, 1, 0, 10, (10, 1)),  # never below one pixel
    ],
)
def test_target_size(height: int, width: int, size: int, max_size: int, expected: tuple[int, int]) -> None:
    assert target_size(height, width, size, max_size) == expected


def test_negative_sizes_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="-1"):
        target_size(10, 10, size=-1)
    with pytest.raises(UsageError, match="-5"):
        target_size(10, 10, max_size=-5)


@pytest.mark.parametrize("height,width", [(37, 53), (8, 8), (1, 1), (3, 17), (64, 9)])
def test_pad_then_crop_is_identity(height: int, width: int) -> None:
    image = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(height * width))
    padded, original = pad_to_multiple(image)
    assert padded.shape[-2] % 8 == 0 and padded.shape[-1] % 8 == 0
    assert padded.shape[-2] - height < 8 and padded.shape[-1] - width < 8
    assert original == (height, width)
    assert torch.equal(crop_to(padded, original), image)


def test_padding_reflects() -> None:
    image = torch.arange(6.0).view(1, 1, 1, 6).expand(1, 1, 8, 6)
    padded, _ = pad_to_multiple(image)
    assert padded[0, 0, 0].tolist() == [0, 1, 2, 3, 4, 5, 4, 3]


def test_resize_image() -> None:
    image = torch.rand(1, 3, 20, 30)
    assert resize_image(image, (20, 30)) is image
    assert resize_image(image, (7, 11)).shape == (1, 3, 7, 11)
    flat = torch.full((1, 3, 20, 30), 0.3)
    assert torch.allclose(resize_image(flat, (9, 13)), torch.full((1, 3, 9, 13), 0.3))
