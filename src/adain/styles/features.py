"""A style that keeps its features: what ``method="attention"`` needs of a style.

Attention-weighted AdaIN gives each content position the statistics of the style positions that
look like it, so it needs the style's features, not only their global means and standard
deviations. A :class:`StyleFeatures` is a style's statistics (every tap, as usual: every other
method uses them unchanged) plus its features at up to
:data:`~adain.ops.attention.DEFAULT_MAX_STYLE_POSITIONS` evenly spaced relu4_1 positions: at
relu4_1 the features themselves (what similarity is measured on, and relu4_1's values), at each
shallower tap that tap's features averaged over the same positions' relu4_1 cells (8x8 pixels at
relu1_1, 4x4 at relu2_1, 2x2 at relu3_1: the values the relu4_1 attention averages there). Kept
once per style, that is about 4 MB in fp16 at every tap (960 channels x 2,048 positions), small
enough for a style bank entry (``adain bank add --features``): a banked style then stays fast with
attention too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from adain.errors import ShapeError
from adain.ops.attention import DEFAULT_MAX_STYLE_POSITIONS, subsample_positions
from adain.ops.statistics import channel_mean_std
from adain.ops.taps import ADAIN_TAP, TAPS
from adain.styles.statistics import StyleStatistics, encode_style, feature_area

__all__ = [
    "FEATURE_TAPS",
    "MAX_STORED_STYLE_POSITIONS",
    "StyleFeatures",
    "compute_style_features",
    "pool_features",
    "style_features",
]

#: The taps whose features a style keeps by default: those attention acts on by default (relu4_1,
#: where the attention is measured, is always kept).
FEATURE_TAPS = TAPS

#: The tensor-file key suffix of a tap's kept features (``"relu4_1.features"``: ``(C, N)``).
FEATURES_SUFFIX = ".features"

#: Positions a stored style's features may hold at most: banks written when attention attended
#: over 4,096 positions stay readable (attention subsamples them to its own maximum,
#: :data:`~adain.ops.attention.DEFAULT_MAX_STYLE_POSITIONS`).
MAX_STORED_STYLE_POSITIONS = 4096


@dataclass(frozen=True, repr=False)
class StyleFeatures(StyleStatistics):
    """A style's statistics together with its subsampled features ``(1, C, N, 1)`` per tap: at
    relu4_1 its features at ``N`` positions, at a shallower tap that tap's features averaged over
    the same positions' relu4_1 cells (the same ``N``)."""

    features: Mapping[str, Tensor] = field(default_factory=dict)

    def to(self, device: torch.device | str) -> StyleFeatures:
        return StyleFeatures(
            {t: m.to(device) for t, m in self.means.items()},
            {t: s.to(device) for t, s in self.stds.items()},
            self.preset,
            {t: f.to(device) for t, f in self.features.items()},
        )

    def to_tensors(self) -> dict[str, Tensor]:
        """:meth:`StyleStatistics.to_tensors` plus ``"<tap>.features"``: ``(C, N)`` in fp16 (half
        the bytes; attention's softmax over N positions does not notice the rounding)."""
        tensors = super().to_tensors()
        for tap, kept in self.features.items():
            tensors[f"{tap}{FEATURES_SUFFIX}"] = kept.reshape(kept.shape[1], kept.shape[2]).half().contiguous().cpu()
        return tensors

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, Tensor], preset: str | None = None) -> StyleFeatures:
        """The inverse of :meth:`to_tensors`; each tap's features must be ``(C, N)`` with the
        width of that tap's statistics and 1 to :data:`MAX_STORED_STYLE_POSITIONS` positions, the
        same ``N`` at every tap, relu4_1 among them (its positions are the others').

        Raises:
            ShapeError: a features tensor of another shape, or of a tap without statistics.
        """
        kept = {key[: -len(FEATURES_SUFFIX)]: value for key, value in tensors.items() if key.endswith(FEATURES_SUFFIX)}
        statistics = StyleStatistics.from_tensors(
            {key: value for key, value in tensors.items() if not key.endswith(FEATURES_SUFFIX)}, preset
        )
        features = {}
        for tap, value in kept.items():
            if tap not in statistics.means:
                raise ShapeError(f"features at {tap!r}, which has no statistics")
            width = statistics.means[tap].shape[1]
            if value.dim() != 2 or value.shape[0] != width or not 1 <= value.shape[1] <= MAX_STORED_STYLE_POSITIONS:
                raise ShapeError(
                    f"{tap} features must be ({width}, N) with N from 1 to {MAX_STORED_STYLE_POSITIONS}. "
                    f"Got {tuple(value.shape)}"
                )
            features[tap] = value.float().view(1, width, value.shape[1], 1)
        if features and ADAIN_TAP not in features:
            raise ShapeError(f"features at {', '.join(features)} without relu4_1's, whose positions they are")
        counts = {value.shape[2] for value in features.values()}
        if len(counts) > 1:
            raise ShapeError(f"every tap's features must have relu4_1's positions. Got {sorted(counts)} positions")
        return cls(statistics.means, statistics.stds, statistics.preset, features)

    def __repr__(self) -> str:
        taps = ", ".join(f"{tap}: {value.shape[2]} positions" for tap, value in self.features.items())
        return f"StyleFeatures(preset={self.preset!r}, features={{{taps}}})"


def style_features(
    features: Mapping[str, Tensor],
    preset: str | None,
    taps: Sequence[str] = FEATURE_TAPS,
    max_style_positions: int = DEFAULT_MAX_STYLE_POSITIONS,
) -> StyleFeatures:
    """A style image's encoder features (``{tap: (1, C, h, w)}``) -> its :class:`StyleFeatures`,
    keeping relu4_1 and ``taps`` (each shallower tap pooled onto relu4_1's grid).

    Example:
        >>> taps = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512}
        >>> encoded = {tap: torch.rand(1, width, 64 // 2 ** k, 64 // 2 ** k) for k, (tap, width) in enumerate(taps.items())}
        >>> style_features(encoded, "vgg16-hed", max_style_positions=16)
        StyleFeatures(preset='vgg16-hed', features={relu4_1: 16 positions, relu3_1: 16 positions, relu2_1: 16 positions, relu1_1: 16 positions})
    """
    means, stds = {}, {}
    for tap in TAPS:
        means[tap], stds[tap] = channel_mean_std(features[tap])
    grid = features[ADAIN_TAP].shape[2:]
    kept = {}
    for tap in (ADAIN_TAP, *(tap for tap in reversed(TAPS) if tap in taps and tap != ADAIN_TAP)):
        values = features[tap].float()
        if values.shape[2:] != grid:  # each relu4_1 cell's average: what its position stands for
            values = torch.nn.functional.adaptive_avg_pool2d(values, grid)
        kept[tap] = subsample_positions(values, max_style_positions).unsqueeze(-1)
    return StyleFeatures(means, stds, preset, kept)


@torch.inference_mode()
def compute_style_features(
    encoder: Any, style_rgb: Tensor, preset: str | None = None, size: int = 0, taps: Sequence[str] = FEATURE_TAPS
) -> tuple[StyleFeatures, int]:
    """:func:`~adain.styles.statistics.compute_style_statistics` that keeps the features at
    ``taps`` too (as the pipeline encodes a style image for ``method="attention"``)."""
    features = encode_style(encoder, style_rgb, size)
    return style_features(features, preset, taps), feature_area(features)


def pool_features(pooled: StyleStatistics, items: Sequence[StyleStatistics]) -> StyleStatistics:
    """Several images' features as one style: ``pooled`` (their pooled statistics) with the
    positions of every image's features at the taps all of them keep, subsampled evenly to
    :data:`DEFAULT_MAX_STYLE_POSITIONS` (the same positions at every tap); ``pooled`` unchanged
    when some image keeps none."""
    if not items or not all(isinstance(item, StyleFeatures) and item.features for item in items):
        return pooled
    taps = [tap for tap in items[0].features if all(tap in item.features for item in items)]  # type: ignore[attr-defined]
    if ADAIN_TAP not in taps:
        return pooled
    features = {}
    for tap in taps:
        together = torch.cat([item.features[tap].float() for item in items], dim=2)  # type: ignore[attr-defined]
        features[tap] = subsample_positions(together, DEFAULT_MAX_STYLE_POSITIONS).unsqueeze(-1)
    return StyleFeatures(pooled.means, pooled.stds, pooled.preset, features)
