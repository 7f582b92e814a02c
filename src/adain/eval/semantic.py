"""A constructed semantic test: does each content region take the style of the style region like it?

Content: a grey photo-like square, horizontal stripes on the left half and blocky noise on the
right. Style: the same two textures, stripes in red on the top half and noise in blue on the
bottom. A method that matches by content gives the striped half red and the noisy half blue;
plain AdaIN gives every position the style's global statistics (a mix). :func:`semantic_fraction`
is the fraction of output pixels whose red-minus-blue sign agrees with their region's match:
about one half by chance, one for a perfect match.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional

__all__ = ["semantic_fraction", "semantic_pair"]

RED = (0.9, 0.15, 0.1)
BLUE = (0.1, 0.2, 0.9)


def _stripes(height: int, width: int, period: int = 8) -> Tensor:
    rows = torch.arange(height).view(height, 1).expand(height, width)
    return ((rows // (period // 2)) % 2).float()


def _blocks(height: int, width: int, cell: int = 2, seed: int = 1) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    coarse = (torch.rand(1, 1, height // cell, width // cell, generator=generator) > 0.5).float()
    return functional.interpolate(coarse, size=(height, width), mode="nearest")[0, 0]


def semantic_pair(size: int = 128) -> tuple[Tensor, Tensor]:
    """``(content, style)``, each ``(1, 3, size, size)`` in [0, 1] (``size`` even)."""
    half = size // 2
    pattern = torch.zeros(size, size)
    pattern[:, :half] = _stripes(size, half)
    pattern[:, half:] = _blocks(size, half)
    content = (0.3 + 0.4 * pattern).expand(3, size, size)[None].clone()
    red, blue = torch.tensor(RED).view(3, 1, 1), torch.tensor(BLUE).view(3, 1, 1)
    style = torch.zeros(3, size, size)
    stripes, blocks = _stripes(half, size), _blocks(half, size, seed=2)
    style[:, :half] = stripes * red + (1 - stripes) * red * 0.3
    style[:, half:] = blocks * blue + (1 - blocks) * blue * 0.3
    return content, style[None]


def semantic_fraction(stylize: Callable[[Tensor, Tensor], Tensor], size: int = 128) -> float:
    """The fraction of pixels of ``stylize(content, style)`` (``(1, 3, H, W)``) that take their
    matching region's colour: red where the content is striped, blue where it is blocky.

    Example:
        >>> content, style = semantic_pair(32)
        >>> ideal = lambda c, s: torch.cat([torch.tensor(RED).view(1, 3, 1, 1).expand(1, 3, 32, 16),
        ...                                 torch.tensor(BLUE).view(1, 3, 1, 1).expand(1, 3, 32, 16)], dim=3)
        >>> semantic_fraction(ideal, 32)
        1.0
    """
    content, style = semantic_pair(size)
    output = stylize(content, style)
    red_minus_blue = output[0, 0] - output[0, 2]
    half = size // 2
    agree = (red_minus_blue[:, :half] > 0).sum() + (red_minus_blue[:, half:] < 0).sum()
    return float(agree) / (size * size)
