"""Where style banks live and how ``bank:NAME`` is found.

Two banks per preset: the user's (``$ADAIN_HOME/bank/<preset>``, written by ``adain bank``)
and the one shipped in the package (read-only). A name is looked up in the user's bank first,
so a user can override a shipped style.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from adain.errors import BankError, UsageError
from adain.image.io import DEFAULT_MAX_PIXELS, load_image
from adain.models import VGGEncoder
from adain.styles.bank import BANK_PREFIX, StyleBank
from adain.styles.statistics import StyleStatistics, compute_style_statistics
from adain.weights import adain_home, load_encoder
from adain.weights.loading import shipped_path
from adain.weights.store import file_sha256

__all__ = [
    "available_banks",
    "encode_style_image",
    "encode_style_images",
    "find_style",
    "resolve_style",
    "shipped_bank_path",
    "user_bank_path",
]


def user_bank_path(preset: str) -> Path:
    return adain_home() / "bank" / preset


def shipped_bank_path(preset: str) -> Path:
    return shipped_path(f"bank-{preset}")


def available_banks(
    preset: str, user_path: Path | None = None, include_shipped: bool = True
) -> list[tuple[str, StyleBank]]:
    """``[(origin, bank)]`` in lookup order: the user's bank, then the shipped one (those that exist)."""
    banks = []
    candidates = [("user", user_path or user_bank_path(preset))]
    if include_shipped:
        candidates.append(("shipped", shipped_bank_path(preset)))
    for origin, path in candidates:
        if os.path.lexists(StyleBank.paths(path)[1]):
            bank = StyleBank.load(path)
            if bank.preset != preset:
                raise UsageError(f"bank {path} holds {bank.preset!r} statistics, not {preset!r}")
            banks.append((origin, bank))
    return banks


def find_style(name: str, preset: str, user_path: Path | None = None) -> tuple[str, StyleBank]:
    banks = available_banks(preset, user_path)
    for origin, bank in banks:
        if name in bank:
            return origin, bank
    total = sum(len(bank) for _, bank in banks)
    raise BankError(f"no style {name!r} in the {preset} style banks ({total} styles; see `adain bank list`)")


def resolve_style(style: str, preset: str, user_path: Path | None = None) -> StyleStatistics | str:
    """``bank:NAME`` -> its statistics; anything else is returned unchanged (an image path)."""
    if not style.startswith(BANK_PREFIX):
        return style
    name = style[len(BANK_PREFIX) :]
    return find_style(name, preset, user_path)[1].get(name)


def encode_style_image(
    encoder: VGGEncoder,
    path: Path,
    preset: str,
    style_size: int = 0,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    file_name: str | None = None,
) -> tuple[StyleStatistics, int, dict[str, Any]]:
    """One image's statistics (as ``adain stylize`` computes them), its relu4_1 area (to pool
    several images by weight) and its bank record (``file_name`` names it there; default: the
    path's name)."""
    loaded = load_image(path, max_pixels=max_pixels)
    statistics, area = compute_style_statistics(encoder, loaded.rgb, preset, style_size)
    record = {
        "file": file_name or Path(path).name,
        "sha256": file_sha256(path),
        "width": loaded.rgb.shape[3],
        "height": loaded.rgb.shape[2],
    }
    return statistics, area, record


def encode_style_images(
    preset: str, images: list[Path], style_size: int = 0, progress: bool = False
) -> list[tuple[StyleStatistics, int, dict[str, Any]]]:
    """:func:`encode_style_image` for each image, with the preset's encoder loaded once."""
    from tqdm import tqdm

    encoder = load_encoder(preset)
    return [
        encode_style_image(encoder, path, preset, style_size)
        for path in tqdm(images, desc="encode styles", unit="image", disable=not progress)
    ]
