"""A style as AdaIN sees it, and how it is computed from an image.

AdaIN needs only the per-channel mean and standard deviation of a style's features at each tap,
so a style encoded once (or stored in a style bank) is applied without its image again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

import torch
from torch import Tensor

from adain.errors import InputImageError, ShapeError
from adain.image.convert import ImageInput
from adain.image.sizing import NETWORK_MULTIPLE, resize_image, target_size
from adain.ops.statistics import channel_mean_std
from adain.ops.taps import ADAIN_TAP, TAPS

__all__ = [
    "StyleInput",
    "StyleStatistics",
    "compute_style_statistics",
    "encode_style",
    "feature_area",
    "resize_style",
]


@dataclass(frozen=True, repr=False)
class StyleStatistics:
    """A style as AdaIN sees it: per-tap channel means and standard deviations of its features.

    ``means[tap]`` and ``stds[tap]`` are ``(1, C, 1, 1)`` float32 for the taps relu1_1..relu4_1
    (relu4_1 is required: stylization uses it; the others describe the style for losses and
    style banks). ``preset`` names the encoder they came from: statistics of one encoder mean
    nothing to another, so the pipeline refuses a mismatch.

    Build from stored tensors with :meth:`from_tensors` (the inverse of :meth:`to_tensors`),
    e.g. a safetensors file of a style bank.
    """

    means: Mapping[str, Tensor]
    stds: Mapping[str, Tensor]
    preset: str | None = None

    def __repr__(self) -> str:
        """Taps, channels and preset, no numbers: ``StyleStatistics(relu1_1:64, relu4_1:512, preset='vgg16-hed')``."""
        taps = ", ".join(f"{tap}:{int(mean.shape[1])}" for tap, mean in self.means.items())  # (1, C, 1, 1)
        return f"{type(self).__name__}({taps}, preset={self.preset!r})"

    def __post_init__(self) -> None:
        if set(self.means) != set(self.stds):
            raise ShapeError(
                f"means and stds must have the same taps. Got {sorted(self.means)} and {sorted(self.stds)}"
            )
        if ADAIN_TAP not in self.means:
            raise ShapeError(f"style statistics need {ADAIN_TAP!r}. Got taps {sorted(self.means)}")
        unknown = sorted(set(self.means) - set(TAPS))
        if unknown:
            raise ShapeError(f"unknown taps {unknown}; known taps: {', '.join(TAPS)}")
        means, stds = {}, {}
        for tap in (t for t in TAPS if t in self.means):
            means[tap] = self._as_statistic(self.means[tap], f"means[{tap!r}]")
            stds[tap] = self._as_statistic(self.stds[tap], f"stds[{tap!r}]")
            if means[tap].shape != stds[tap].shape:
                raise ShapeError(
                    f"{tap}: mean {tuple(means[tap].shape)} and std {tuple(stds[tap].shape)} differ in shape"
                )
            if not (torch.isfinite(means[tap]).all() and torch.isfinite(stds[tap]).all()) or (stds[tap] < 0).any():
                raise ShapeError(f"{tap}: statistics must be finite and the stds non-negative")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "stds", stds)

    @staticmethod
    def _as_statistic(value: Tensor, name: str) -> Tensor:
        """``(C,)``, ``(1, C)`` or ``(1, C, 1, 1)`` -> ``(1, C, 1, 1)`` float32."""
        if not isinstance(value, Tensor):
            raise ShapeError(f"{name} must be a tensor. Got {type(value).__name__}")
        if (
            value.dim() == 1
            or (value.dim() == 2 and value.shape[0] == 1)
            or (value.dim() == 4 and value.shape[0] == 1 and value.shape[2:] == (1, 1))
        ):
            return value.detach().float().reshape(1, -1, 1, 1)
        raise ShapeError(f"{name} must be (C,), (1, C) or (1, C, 1, 1). Got {tuple(value.shape)}")

    @property
    def taps(self) -> tuple[str, ...]:
        return tuple(self.means)

    def at(self, tap: str = ADAIN_TAP) -> tuple[Tensor, Tensor]:
        """``(mean, std)`` at ``tap``, each ``(1, C, 1, 1)``."""
        if tap not in self.means:
            raise ShapeError(f"these style statistics have no {tap!r}; they have {', '.join(self.means)}")
        return self.means[tap], self.stds[tap]

    def to(self, device: torch.device | str) -> StyleStatistics:
        return StyleStatistics(
            {t: m.to(device) for t, m in self.means.items()},
            {t: s.to(device) for t, s in self.stds.items()},
            self.preset,
        )

    def to_tensors(self) -> dict[str, Tensor]:
        """Flat ``{"relu4_1.mean": (C,), "relu4_1.std": (C,), ...}`` (e.g. for safetensors)."""
        tensors = {}
        for tap in self.means:
            tensors[f"{tap}.mean"] = self.means[tap].flatten().contiguous().cpu()
            tensors[f"{tap}.std"] = self.stds[tap].flatten().contiguous().cpu()
        return tensors

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, Tensor], preset: str | None = None) -> StyleStatistics:
        """The inverse of :meth:`to_tensors`: keys ``"<tap>.mean"`` and ``"<tap>.std"``."""
        means, stds = {}, {}
        for key, value in tensors.items():
            tap, _, kind = key.rpartition(".")
            if kind == "mean":
                means[tap] = value
            elif kind == "std":
                stds[tap] = value
            else:
                raise ShapeError(f"unexpected key {key!r}: style statistics keys are '<tap>.mean' and '<tap>.std'")
        return cls(means, stds, preset)


#: A style: an image, or the statistics of one (see :meth:`~adain.pipeline.stylize.StylizationPipeline.style_statistics`).
StyleInput = Union[ImageInput, StyleStatistics]  # noqa: UP007 - a runtime alias


def resize_style(rgb: Tensor, size: int) -> Tensor:
    """A style image ``(1, 3, H, W)`` with its shorter side resized to ``size`` (0: unchanged)."""
    return resize_image(rgb, target_size(rgb.shape[2], rgb.shape[3], size=size))


@torch.inference_mode()
def encode_style(encoder: Any, style_rgb: Tensor, size: int = 0) -> dict[str, Tensor]:
    """A style image's features at every tap, resized as the pipeline resizes styles.

    Args:
        encoder: the preset's encoder (its device is used).
        style_rgb: ``(1, 3, H, W)`` in [0, 1].
        size: resize the shorter side to this first (0: keep).

    Raises:
        InputImageError: the image is smaller than 8 pixels on a side (nothing left at relu4_1).
    """
    rgb = resize_style(style_rgb, size)
    height, width = rgb.shape[-2:]
    if min(height, width) < NETWORK_MULTIPLE:
        raise InputImageError(
            f"style image is {width}x{height} pixels; it must be at least {NETWORK_MULTIPLE} pixels on each side"
        )
    return encoder(rgb.to(network_device(encoder)))


@torch.inference_mode()
def compute_style_statistics(
    encoder: Any, style_rgb: Tensor, preset: str | None = None, size: int = 0
) -> tuple[StyleStatistics, int]:
    """A style image's statistics at every tap, exactly as the pipeline computes them.

    Args:
        encoder: the preset's encoder (its device is used).
        style_rgb: ``(1, 3, H, W)`` in [0, 1].
        preset: recorded in the statistics.
        size: resize the shorter side to this first (0: keep).

    Returns:
        ``(statistics, area)``: ``area`` is the number of relu4_1 positions the statistics were
        taken over (to pool several images' statistics by weight).

    Raises:
        InputImageError: the image is smaller than 8 pixels on a side (nothing left at relu4_1).
    """
    features = encode_style(encoder, style_rgb, size)
    means, stds = {}, {}
    for tap in TAPS:
        means[tap], stds[tap] = channel_mean_std(features[tap])
    return StyleStatistics(means, stds, preset), feature_area(features)


def feature_area(features: Mapping[str, Tensor]) -> int:
    """The number of relu4_1 positions of an encoding: the weight of its statistics when pooled."""
    return features[ADAIN_TAP].shape[2] * features[ADAIN_TAP].shape[3]


def network_device(network: Any) -> torch.device:
    """Where a network takes its input: an onnxruntime stand-in says so, a torch module has parameters."""
    device = getattr(network, "device", None)
    return device if isinstance(device, torch.device) else next(network.parameters()).device
