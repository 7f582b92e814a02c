"""Output size rules and padding to the network's multiple of 8."""

from __future__ import annotations

import pytest
import torch

from adain.errors import InputImageError, UsageError
from adain.image.sizing import (
    MAX_PIXELS_LIMIT,
    MAX_UPSCALE,
    MIN_NETWORK_SIDE,
    checked_target_size,
    crop_to,
    pad_to_multiple,
    resize_image,
    target_size,
)


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


# -- limits (issue 15) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "height,width,size,fragment",
    [
        (2, 100_000, 512, "enlarge it 256x"),  # would be a 9.8 GB tensor
        (5000, 1, 512, "enlarge it 512x"),
        (100, 1, 512, "512x51200"),  # 26 megapixels of nothing but cost
        (1, 1, 65, "at most 64x"),
        (130, 200, 8000, "over the limit of 64,000,000 pixels"),
    ],
)
def test_checked_target_size_refuses_before_resizing(height: int, width: int, size: int, fragment: str) -> None:
    with pytest.raises(InputImageError, match=rf"'x\.png' is {width}x{height}: --size {size} .*{fragment}"):
        checked_target_size(height, width, size, max_pixels=64_000_000, name="'x.png'")


def test_checked_target_size_allows_what_fits() -> None:
    assert checked_target_size(1, 1, 64) == (64, 64)  # exactly MAX_UPSCALE
    assert checked_target_size(8, 8, 512) == (512, 512)
    assert checked_target_size(2, 100_000) == (2, 100_000)  # kept: nothing is enlarged
    assert checked_target_size(30, 40, 1) == (1, 1)
    with pytest.raises(InputImageError, match="1,600 pixels, over the limit of 1,000"):
        checked_target_size(30, 30, 40, max_pixels=1000)
    assert MAX_UPSCALE == 64 and MAX_PIXELS_LIMIT == 1_000_000_000


@pytest.mark.parametrize("height,width", [(1, 1), (3, 17), (8, 8), (15, 40), (16, 16), (37, 53)])
def test_pad_to_a_minimum_side(height: int, width: int) -> None:
    image = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(height + width))
    padded, original = pad_to_multiple(image, minimum=MIN_NETWORK_SIDE)
    assert padded.shape[-2] >= MIN_NETWORK_SIDE and padded.shape[-1] >= MIN_NETWORK_SIDE
    assert padded.shape[-2] % 8 == 0 and padded.shape[-1] % 8 == 0
    assert padded.shape[-2] - max(height, MIN_NETWORK_SIDE) < 8 and padded.shape[-1] - max(width, MIN_NETWORK_SIDE) < 8
    assert torch.equal(crop_to(padded, original), image)
