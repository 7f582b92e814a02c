"""``method="attention"``: semantic AdaIN, the decoder fed targets whose means follow attention.

Each content position attends, at relu4_1 (whose features are semantic), over the style positions
that look like it (:func:`~adain.ops.attention.attention_weighted_means`); the same attention
averages every decoder tap's style values (each shallower tap's features pooled onto the relu4_1
grid), so every tap gets per-position local means from one semantic match, and
:func:`~adain.ops.local_mean_adain.local_mean_adain` redistributes the style's statistics by them
(the global mean and spread stay the style's: the style loss does not pay for the match).

Why every tap from relu4_1's attention (measured on the selection split, 24 held-out pairs at
256 px, the shipped decoder, 2026-12-04; the constructed semantic test is
:mod:`adain.eval.semantic`, where plain AdaIN matches 45% of pixels):

* relu4_1 alone with its local mean and spread (the first version, temperature 0.5): 41%: the
  multi-level decoder's shallow skips carry the colour, and they kept the global statistics;
* every tap attending with its own features (temperature 0.05): 90% but a style loss many times
  plain AdaIN's (shallow features match on edges, not on what a region is);
* relu4_1's attention at every tap, local means and spreads: 92% at temperature 0.1, style 2.3x;
* the same, the statistics kept global (this module): temperature 0.1: 93%, content 1.06x,
  style 0.89x; **0.2 (default): 89%, content 1.02x, style 0.92x**; 0.3: 82%, 1.01x, 0.95x.

Attention needs the style's features, not only their statistics, so a style given as an image is
encoded into a :class:`~adain.styles.features.StyleFeatures` (statistics plus the features kept at
up to ``max_style_positions`` positions, a few MB); a bank style keeps them when it was added with
``adain bank add --features``; a style given as statistics alone cannot be attended to: the
pipeline says so in one line.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from adain.errors import UsageError
from adain.ops.attention import DEFAULT_CHUNK_ELEMENTS, attention_weighted_means
from adain.ops.local_mean_adain import local_mean_affine
from adain.ops.statistics import adain_affine
from adain.ops.taps import ADAIN_TAP
from adain.styles.features import FEATURE_TAPS, StyleFeatures, style_features
from adain.styles.statistics import StyleStatistics

__all__ = [
    "ATTENTION_TAPS",
    "ATTENTION_TEMPERATURE",
    "StyleFeatures",
    "attention_affines",
    "attention_local_means",
    "local_mean_moments_by_rows",
    "style_features",
]

#: The taps whose targets follow the attention by default: every tap the decoder takes.
ATTENTION_TAPS = FEATURE_TAPS
#: The softmax temperature, chosen on the selection split (see the module's measurements).
ATTENTION_TEMPERATURE = 0.2

#: One style's ``{tap: (mean, variance)}`` of its local means over the whole image (tiles share them)
Moments = dict[str, tuple[Tensor, Tensor]]


def _check_features(styles: Sequence[StyleStatistics]) -> None:
    missing = [k + 1 for k, style in enumerate(styles) if ADAIN_TAP not in getattr(style, "features", {})]
    if missing:
        raise UsageError(
            f"method 'attention' needs the style's features, and style {missing[0]} has only statistics "
            "(a bank style added without --features, or precomputed statistics): give the style image instead, "
            "or add it to the bank with `adain bank add NAME IMAGE --features`"
        )


def attended_taps(style: StyleStatistics, taps: Sequence[str]) -> list[str]:
    """Those of ``taps`` whose values ``style`` keeps, relu4_1 first (a bank style added with
    relu4_1's features only, before 2026-12-04, gets attention there alone)."""
    kept = getattr(style, "features", {})
    return [tap for tap in (ADAIN_TAP, *(t for t in taps if t != ADAIN_TAP)) if tap in taps and tap in kept]


def attention_local_means(
    content_relu4_1: Tensor,
    style: StyleFeatures,
    taps: Sequence[str],
    temperature: float,
    content_statistics: tuple[Tensor, Tensor] | None = None,
) -> dict[str, Tensor]:
    """``{tap: (B, C, h, w)}``: each relu4_1 position's attention-weighted style mean at every tap
    of ``taps`` the style keeps (on relu4_1's grid), from one attention at relu4_1, whose content
    features are normalised with ``content_statistics`` (the whole image's; default: their own)."""
    taps = attended_taps(style, taps)
    if not taps:
        return {}
    values = torch.cat([style.features[tap] for tap in taps], dim=1)
    means = attention_weighted_means(
        content_relu4_1,
        style.features[ADAIN_TAP],
        values,
        temperature=temperature,
        content_statistics=content_statistics,
    )
    widths = [style.features[tap].shape[1] for tap in taps]
    return dict(zip(taps, torch.split(means, widths, dim=1)))


def local_mean_moments_by_rows(
    content_relu4_1: Tensor,
    styles: Sequence[StyleStatistics],
    taps: Sequence[str],
    temperature: float,
    content_statistics: tuple[Tensor, Tensor],
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> list[Moments]:
    """Per style, the whole image's moments of its local means (what each tile is centred and
    scaled by), computed over bands of relu4_1 rows so that a 4K image's local means (960 channels
    at every relu4_1 position) are never held whole."""
    _check_features(styles)
    height, width = content_relu4_1.shape[2:]
    rows = max(1, chunk_elements // max(1, 1024 * width))
    moments = []
    for style in styles:
        sums: dict[str, Tensor] = {}  # per tap: (2, B, C, 1, 1), the sums of the means and of their squares
        for top in range(0, height, rows):
            band = attention_local_means(
                content_relu4_1[:, :, top : top + rows], style, taps, temperature, content_statistics
            )
            for tap, means in band.items():
                both = torch.stack([means.sum(dim=(2, 3), keepdim=True), means.square().sum(dim=(2, 3), keepdim=True)])
                sums[tap] = both if tap not in sums else sums[tap] + both
        style_moments = {}
        for tap, (first, second) in sums.items():
            mean = first / (height * width)
            style_moments[tap] = mean, (second / (height * width) - mean.square()).clamp_min(0.0)
        moments.append(style_moments)
    return moments


#: One tap's target as the map it is: ``scale * content + shift + resize(offset)`` (offset may be None)
Affine = tuple[Tensor, Tensor, "Tensor | None"]


def attention_affines(
    content_features: dict[str, Tensor],
    styles: Sequence[StyleStatistics],
    taps: Sequence[str],
    weights: Sequence[float] | None,
    content_statistics: dict[str, tuple[Tensor, Tensor]],
    temperature: float,
    moments: Sequence[Moments] | None = None,
) -> dict[str, Affine]:
    """The attention targets at ``taps`` as ``{tap: (scale, shift, offset)}``
    (:func:`~adain.ops.local_mean_adain.local_mean_affine`), each style's mixed by ``weights``
    (normalised to sum one: the maps are linear, so mixing them mixes the targets); a tap a style
    keeps no values for gets that style's plain AdaIN map (no offset). ``moments``: per style,
    the whole image's (:func:`local_mean_moments_by_rows`), for a tile; default: those of the
    local means computed here."""
    _check_features(styles)
    weights = [1.0] * len(styles) if weights is None else [float(w) for w in weights]
    total = sum(weights)
    mixed: dict[str, list] = {}
    for index, (style, weight) in enumerate(zip(styles, weights)):
        local = attention_local_means(
            content_features[ADAIN_TAP], style, taps, temperature, content_statistics[ADAIN_TAP]
        )
        for tap in taps:
            mean, std = (value.to(content_features[tap].device) for value in style.at(tap))
            if tap in local:
                moment = None if moments is None else moments[index][tap]
                scale, shift, offset = local_mean_affine(*content_statistics[tap], local[tap], mean, std, moment)
            else:
                (scale, shift), offset = adain_affine(*content_statistics[tap], mean, std), None
            share = weight / total
            parts = [scale * share, shift * share, None if offset is None else offset * share]
            if tap not in mixed:
                mixed[tap] = parts
                continue
            for k, part in enumerate(parts):
                if part is not None:
                    mixed[tap][k] = part if mixed[tap][k] is None else mixed[tap][k] + part
    return {tap: (scale, shift, offset) for tap, (scale, shift, offset) in mixed.items()}
