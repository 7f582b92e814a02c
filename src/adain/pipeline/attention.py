"""``method="attention"``: the decoder fed attention-weighted AdaIN (:func:`adain.ops.attention_adain`).

Attention needs the style's features, not only their statistics, so a style given as an image is
encoded into a :class:`~adain.styles.features.StyleFeatures`: its statistics (every tap, as usual)
plus its features at the taps attention acts on, subsampled to at most ``max_style_positions``
(evenly spaced, kept once per style, a few MB). A bank style keeps them when it was added with
``adain bank add --features``; a style given as statistics alone cannot be attended to: the
pipeline says so in one line.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from adain.errors import UsageError
from adain.ops.attention import attention_adain
from adain.styles.features import FEATURE_TAPS, StyleFeatures, style_features
from adain.styles.statistics import StyleStatistics

__all__ = ["ATTENTION_TAPS", "ATTENTION_TEMPERATURE", "StyleFeatures", "attention_targets", "style_features"]

#: The taps attention acts on by default; the multi-level decoder's shallower taps get plain AdaIN.
ATTENTION_TAPS = FEATURE_TAPS
#: The pipeline's temperature at relu4_1, chosen on the selection split (24 held-out pairs, 256 px,
#: the shipped decoder, 2026-12-03): content 1.02x and style 0.97x plain AdaIN's at 0.5, where 0.2
#: gave 1.08x / 1.02x. Sharper temperatures (0.05) match regions better but cost content.
ATTENTION_TEMPERATURE = 0.5


def attention_targets(
    content: Tensor,
    styles: Sequence[StyleStatistics],
    tap: str,
    weights: Sequence[float] | None,
    content_statistics: tuple[Tensor, Tensor],
    temperature: float,
) -> Tensor:
    """The attention-weighted AdaIN target at ``tap``: each style's, mixed by ``weights`` (sum one)."""
    missing = [k + 1 for k, style in enumerate(styles) if tap not in getattr(style, "features", {})]
    if missing:
        raise UsageError(
            f"method 'attention' needs the style's features, and style {missing[0]} has only statistics "
            "(a bank style added without --features, or precomputed statistics): give the style image instead, "
            "or add it to the bank with `adain bank add NAME IMAGE --features`"
        )
    weights = [1.0] * len(styles) if weights is None else [float(w) for w in weights]
    total = sum(weights)
    target = None
    for style, weight in zip(styles, weights):
        one = attention_adain(
            content, style.features[tap], temperature=temperature, content_statistics=content_statistics
        )
        target = one * (weight / total) if target is None else target + one * (weight / total)
    return target
