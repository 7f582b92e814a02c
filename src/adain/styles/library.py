"""Where style banks live and how ``bank:NAME`` is found.

Two banks per preset: the user's (``$ADAIN_HOME/bank/<preset>``, written by ``adain bank``)
and the one shipped in the package (read-only). A name is looked up in the user's bank first,
so a user can override a shipped style. A distilled preset (``fast``) computes its teacher's
features, so it has no banks of its own: it reads its teacher's (``vgg16-hed``), see
:func:`~adain.weights.presets.statistics_preset`.

One naming rule everywhere (the command line, the Python API, the server): ``bank:NAME`` is a
bank style; a bare ``NAME`` that is no file (and has no image file extension) falls back to the
bank, with a note; a name that is in no bank gets "did you mean ..." suggestions
(:func:`~adain.styles.bank.similar_names`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adain.errors import BankError, InputImageError, UsageError
from adain.image.io import DEFAULT_MAX_PIXELS, load_image
from adain.models import VGGEncoder
from adain.styles.bank import BANK_PREFIX, StyleBank, did_you_mean
from adain.styles.features import compute_style_features
from adain.styles.statistics import StyleStatistics, compute_style_statistics
from adain.weights import adain_home, load_encoder
from adain.weights.loading import shipped_path
from adain.weights.presets import statistics_preset
from adain.weights.store import file_sha256

__all__ = [
    "available_banks",
    "encode_style_image",
    "encode_style_images",
    "find_style",
    "is_bare_style_name",
    "resolve_style",
    "shipped_bank_path",
    "user_bank_path",
]


def user_bank_path(preset: str) -> Path:
    """The user's bank of ``preset``'s feature space (a distilled preset's is its teacher's)."""
    return adain_home() / "bank" / str(statistics_preset(preset))


def shipped_bank_path(preset: str) -> Path:
    """The shipped bank of ``preset``'s feature space (a distilled preset's is its teacher's)."""
    return shipped_path(f"bank-{statistics_preset(preset)}")


def _as_preset(bank: StyleBank, preset: str) -> StyleBank:
    """``bank`` (of ``preset``'s feature space) with its styles labelled ``preset``: what the
    pipeline of a distilled preset takes (its teacher's statistics are its own)."""
    if bank.preset == preset:
        return bank
    # replace() keeps what a style carries beyond its statistics (kept features, for attention)
    statistics = {name: dataclasses.replace(s, preset=preset) for name, s in bank.statistics.items()}
    return StyleBank(preset, bank.entries, statistics)


def available_banks(
    preset: str, user_path: Path | None = None, include_shipped: bool = True
) -> list[tuple[str, StyleBank]]:
    """``[(origin, bank)]`` in lookup order: the user's bank, then the shipped one (those that exist).

    A bank must hold statistics of ``preset``'s feature space (:func:`statistics_preset`); a
    distilled preset's come labelled with its own name (see :func:`_as_preset`)."""
    banks = []
    candidates = [("user", user_path or user_bank_path(preset))]
    if include_shipped:
        candidates.append(("shipped", shipped_bank_path(preset)))
    for origin, path in candidates:
        if os.path.lexists(StyleBank.paths(path)[1]):
            bank = StyleBank.load(path)
            space = statistics_preset(preset)
            if bank.preset != space:
                raise UsageError(f"bank {path} holds {bank.preset!r} statistics, not {space!r}")
            banks.append((origin, _as_preset(bank, preset)))
    return banks


#: Extensions that make a style argument an image file's name, never a bank name.
IMAGE_FILE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif"})


def find_style(name: str, preset: str, user_path: Path | None = None) -> tuple[str, StyleBank]:
    """``(origin, bank)`` of the first bank (user's, then shipped) that has ``name``.

    Raises:
        BankError: in no bank; the message suggests near names (``did you mean bank:...``).
    """
    banks = available_banks(preset, user_path)
    for origin, bank in banks:
        if name in bank:
            return origin, bank
    total = sum(len(bank) for _, bank in banks)
    hint = did_you_mean(name, (known for _, bank in banks for known in bank))
    raise BankError(f"no style {name!r} in the {preset} style banks{hint} ({total} styles; see `adain bank list`)")


def is_bare_style_name(style: str) -> bool:
    """A style argument that may name a bank style without ``bank:``: one path component with no
    image file extension (``candy``, ``starry-night-google``; not ``candy.jpg`` or ``art/candy``).

    Example:
        >>> is_bare_style_name("candy"), is_bare_style_name("candy.jpg"), is_bare_style_name("art/candy")
        (True, False, False)
    """
    return (
        bool(style)
        and "/" not in style
        and os.sep not in style
        and style not in (".", "..")
        and Path(style).suffix.lower() not in IMAGE_FILE_SUFFIXES
    )


def resolve_style(
    style: str, preset: str, user_path: Path | None = None, note: Callable[[str], None] | None = None
) -> StyleStatistics | str:
    """``bank:NAME`` -> its statistics; an image path is returned unchanged.

    A bare name that is no file (:func:`is_bare_style_name`) is looked up in the banks, and
    ``note`` (e.g. a printer to stderr) is told: typing ``candy`` for ``bank:candy`` works, and
    the user learns the exact spelling. A file of that name always wins.

    Raises:
        BankError: ``bank:NAME`` in no bank (with "did you mean" suggestions).
        InputImageError: a bare name that is neither a file nor a bank style.
    """
    if style.startswith(BANK_PREFIX):
        name = style[len(BANK_PREFIX) :]
        return find_style(name, preset, user_path)[1].get(name)
    if not is_bare_style_name(style) or os.path.lexists(style):
        return style
    banks = available_banks(preset, user_path)
    for _, bank in banks:
        if style in bank:
            if note is not None:
                note(f"{style!r} is no file: using the bank style {BANK_PREFIX}{style}")
            return bank.get(style)
    hint = did_you_mean(style, (known for _, bank in banks for known in bank))
    raise InputImageError(
        f"style {style!r} is neither an image file nor a style in the {preset} style banks{hint} "
        "(`adain bank list` lists them)"
    )


def _check_encodes_its_banks(preset: str) -> None:
    """A distilled preset's banks are its teacher's: their statistics are the teacher encoder's
    (exact), not the student's approximation of them, so the student adds none."""
    space = statistics_preset(preset)
    if space != preset:
        raise UsageError(
            f"preset {preset!r} uses the {space} style banks, whose statistics come from {space}'s encoder: "
            f"add styles with preset {space} ({preset} reads them)"
        )


def encode_style_image(
    encoder: VGGEncoder,
    path: Path,
    preset: str,
    style_size: int = 0,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    file_name: str | None = None,
    features: bool = False,
) -> tuple[StyleStatistics, int, dict[str, Any]]:
    """One image's statistics (as ``adain stylize`` computes them), its relu4_1 area (to pool
    several images by weight) and its bank record (``file_name`` names it there; default: the
    path's name). ``features``: keep its features at up to 2,048 relu4_1 positions too
    (:class:`~adain.styles.features.StyleFeatures`, for ``method="attention"``).

    Raises:
        UsageError: ``preset`` is a distilled one (see :func:`_check_encodes_its_banks`).
    """
    _check_encodes_its_banks(preset)
    loaded = load_image(path, max_pixels=max_pixels)
    encode = compute_style_features if features else compute_style_statistics
    statistics, area = encode(encoder, loaded.rgb, preset, style_size)
    record = {
        "file": file_name or Path(path).name,
        "sha256": file_sha256(path),
        "width": loaded.rgb.shape[3],
        "height": loaded.rgb.shape[2],
    }
    return statistics, area, record


def encode_style_images(
    preset: str, images: list[Path], style_size: int = 0, progress: bool = False, features: bool = False
) -> list[tuple[StyleStatistics, int, dict[str, Any]]]:
    """:func:`encode_style_image` for each image, with the preset's encoder loaded once."""
    from tqdm import tqdm

    _check_encodes_its_banks(preset)
    encoder = load_encoder(preset)
    return [
        encode_style_image(encoder, path, preset, style_size, features=features)
        for path in tqdm(images, desc="encode styles", unit="image", disable=not progress)
    ]
