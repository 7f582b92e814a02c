"""``method="attention"``: the decoder fed attention-weighted AdaIN (:func:`adain.ops.attention_adain`).

Attention needs the style's features, not only their statistics, so a style given as an image is
encoded into a :class:`StyleFeatures`: its statistics (every tap, as usual) plus its features at the
taps attention acts on, subsampled to at most ``max_style_positions`` (evenly spaced, kept once per
style, a few MB). A style given as statistics alone (a bank style) cannot be attended to: the
pipeline says so in one line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from adain.errors import UsageError
from adain.ops.attention import DEFAULT_MAX_STYLE_POSITIONS, attention_adain, subsample_positions
from adain.ops.statistics import channel_mean_std
from adain.ops.taps import ADAIN_TAP, TAPS
from adain.styles.statistics import StyleStatistics

__all__ = ["ATTENTION_TAPS", "ATTENTION_TEMPERATURE", "StyleFeatures", "attention_targets", "style_features"]

#: The taps attention acts on by default; the multi-level decoder's shallower taps get plain AdaIN.
ATTENTION_TAPS = (ADAIN_TAP,)
#: The pipeline's temperature at relu4_1, chosen on the selection split (24 held-out pairs, 256 px,
#: the shipped decoder, 2026-12-03): content 1.02x and style 0.97x plain AdaIN's at 0.5, where 0.2
#: gave 1.08x / 1.02x. Sharper temperatures (0.05) match regions better but cost content.
ATTENTION_TEMPERATURE = 0.5


@dataclass(frozen=True)
class StyleFeatures(StyleStatistics):
    """A style's statistics together with its subsampled features ``(1, C, N, 1)`` per tap."""

    features: Mapping[str, Tensor] = field(default_factory=dict)

    def to(self, device: torch.device | str) -> StyleFeatures:
        return StyleFeatures(
            {t: m.to(device) for t, m in self.means.items()},
            {t: s.to(device) for t, s in self.stds.items()},
            self.preset,
            {t: f.to(device) for t, f in self.features.items()},
        )

    def __repr__(self) -> str:
        taps = ", ".join(f"{tap}: {value.shape[2]} positions" for tap, value in self.features.items())
        return f"StyleFeatures(preset={self.preset!r}, features={{{taps}}})"


def style_features(
    features: Mapping[str, Tensor],
    preset: str | None,
    taps: Sequence[str] = ATTENTION_TAPS,
    max_style_positions: int = DEFAULT_MAX_STYLE_POSITIONS,
) -> StyleFeatures:
    """A style image's encoder features (``{tap: (1, C, h, w)}``) -> its :class:`StyleFeatures`."""
    means, stds = {}, {}
    for tap in TAPS:
        means[tap], stds[tap] = channel_mean_std(features[tap])
    kept = {tap: subsample_positions(features[tap].float(), max_style_positions).unsqueeze(-1) for tap in taps}
    return StyleFeatures(means, stds, preset, kept)


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
            "(a bank style, or precomputed statistics): give the style image instead"
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
