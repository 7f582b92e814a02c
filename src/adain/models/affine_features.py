"""Features a decoder receives with a per-channel affine map still to apply: AdaIN, folded into a skip.

Why: AdaIN with alpha is ``scale * features + shift`` per channel (:func:`~adain.ops.adain_affine`)
and a multi-level decoder's skip begins with a 1x1 convolution, which is linear: so the map can go
into the convolution's weights, ``W diag(scale)``, and its bias, ``b + W shift``, instead of a pass
over the feature map. The skips' maps are the largest a stylization handles (the default's relu1_1
is 64 channels at full resolution; the ``fast`` preset's relu2_1 128 at half): measured on the
2-core CPU (a one-thread profile beside a training job: a share), that pass was 17% of a 1024x1024 ``fast`` stylization (61 of 348 ms at one thread).

Semantic AdaIN (``method="attention"``) adds a coarse per-position map, its local means on the
relu4_1 grid (:func:`~adain.ops.local_mean_affine`): the 1x1 convolution commutes with bilinear
resizing, so the skip convolves the coarse map (64 times fewer positions at relu1_1) and resizes
the result, instead of resizing 64 channels and combining them at full resolution (measured at
512x512 on the 2-core AMD EPYC: the full-resolution passes took attention from 1.26x plain
AdaIN's latency to 1.4-1.5x).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["AffineFeatures", "materialize", "resize_offset", "skip_conv1x1"]


class AffineFeatures(NamedTuple):
    """``scale * features + shift (+ resize(offset))``, per channel, not yet computed.

    Attributes:
        features: ``(B, C, H, W)``, the content's features at the tap.
        scale, shift: ``(B or 1, C, 1, 1)`` (float32).
        offset: ``None``, or ``(B or 1, C, h, w)`` (float32): a coarser map added after bilinear
            resizing to ``H x W``.
    """

    features: Tensor
    scale: Tensor
    shift: Tensor
    offset: Tensor | None = None

    @property
    def shape(self) -> torch.Size:
        return self.features.shape


def resize_offset(offset: Tensor, size: tuple[int, int] | torch.Size) -> Tensor:
    """A coarse offset map at ``size`` (bilinear, corners not aligned: as the pipeline resizes maps)."""
    if tuple(offset.shape[2:]) == tuple(size):
        return offset
    return F.interpolate(offset, size=tuple(size), mode="bilinear", align_corners=False)


def materialize(features: Tensor | AffineFeatures, dtype: torch.dtype | None = None) -> Tensor:
    """The features themselves (``scale * features + shift (+ resize(offset))`` in the features'
    dtype), or ``features`` as they are.

    Example:
        >>> one = torch.ones(1, 1, 1, 1)
        >>> materialize(AffineFeatures(torch.tensor([[[[1.0, 2.0]]]]), 2 * one, one)).flatten().tolist()
        [3.0, 5.0]
        >>> materialize(AffineFeatures(torch.tensor([[[[1.0, 2.0]]]]), 2 * one, one, 10 * one)).flatten().tolist()
        [13.0, 15.0]
    """
    if isinstance(features, AffineFeatures):
        half = features.features.dtype
        affine = torch.addcmul(features.shift.to(half), features.features, features.scale.to(half))
        if features.offset is not None:
            affine = affine + resize_offset(features.offset.to(half), affine.shape[2:])
        features = affine
    return features if dtype is None else features.to(dtype)


def skip_conv1x1(features: Tensor | AffineFeatures, weight: Tensor, bias: Tensor | None, dtype: torch.dtype) -> Tensor:
    """``conv1x1(features)`` with ``weight`` ``(O, C, 1, 1)`` and ``bias``, in ``dtype``; an
    :class:`AffineFeatures` has its map folded into the weights (one sample's map: a batch whose
    samples have their own maps is materialised first).

    Example:
        >>> x, weight = torch.rand(1, 3, 4, 4), torch.rand(2, 3, 1, 1)
        >>> scale, shift = torch.rand(1, 3, 1, 1), torch.rand(1, 3, 1, 1)
        >>> folded = skip_conv1x1(AffineFeatures(x, scale, shift), weight, None, torch.float32)
        >>> torch.allclose(folded, F.conv2d(scale * x + shift, weight), atol=1e-6)
        True
    """
    if isinstance(features, AffineFeatures) and features.scale.shape[0] == 1:
        folded = weight.float() * features.scale.float().view(1, -1, 1, 1)
        shift = weight.float().flatten(1) @ features.shift.float().flatten()
        bias = shift if bias is None else bias.float() + shift
        out = F.conv2d(features.features.to(dtype), folded.to(dtype), bias.to(dtype))
        if features.offset is not None:  # convolved coarse, then resized: the two commute
            coarse = F.conv2d(features.offset.float(), weight.float()).to(dtype)
            if out.is_contiguous(memory_format=torch.channels_last):  # resized and added in the map's layout
                coarse = coarse.contiguous(memory_format=torch.channels_last)
            out = out.add_(resize_offset(coarse, out.shape[2:]))
        return out
    return F.conv2d(materialize(features, dtype), weight, bias)
