"""The multi-level AdaIN decoder: the paper's mirrored decoder plus gated skips from the
AdaIN'd features of the shallower taps.

Why: the paper's decoder sees only ``AdaIN(relu4_1)`` and must *guess* the low-level statistics
of the style (relu1_1..relu3_1: stroke texture, fine contrast) from it. On styles it was not
trained on that guess is poor (measured: style loss 3x the optimization reference on unseen
styles, within it on training styles). This decoder is also given ``t_k = AdaIN(f_c^k, s^k)``,
the content's features at tap ``k`` with the style's mean and std there, for k = relu3_1,
relu2_1, relu1_1 (a configurable subset): what the style statistics say about those layers
directly, placed where the content's structure is.

Each skip enters after the decoder's upsampling to that tap's resolution, where the channel
counts match (256 / 128 / 64): ``x += conv1x1_k(t_k) * gate_k``, added to the output of the
first convolution at that resolution (before its ReLU). Adding it there rather than before that
convolution keeps the folded upsampling convolution (:func:`~adain.models.decoder.upsample_conv2d`)
and costs one 1x1 convolution; the convolutions that follow mix it spatially.

``gate_k`` is per channel and **starts at zero**: a freshly built (or ``--init``-ed) multi-level
decoder computes exactly what its plain layers compute, so it starts as the decoder it was
initialised from, and training opens each skip only as far as the loss gains by it. The gate is
folded into the 1x1 weights on every call (no extra pass over the feature map).

The layers (``layers.N``) are the plain :class:`~adain.models.Decoder`'s, with the same indices,
so a plain decoder's state dict fills them (``strict=False``) and leaves the skips and gates new.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adain.errors import ShapeError
from adain.models.affine_features import AffineFeatures, skip_conv1x1
from adain.models.decoder import (
    Decoder,
    UpsampleConv2d,
    _FoldOnTheFly,
    _fused_layers,
    fold_upsampling_weights,
    upsample_conv2d,
)
from adain.models.encoder import EncoderArchitecture

__all__ = ["SKIP_TAPS", "TAP_CHANNELS", "MultiLevelDecoder", "decoder_input_taps"]

#: The taps a multi-level decoder can take besides relu4_1, in the order the decoder meets them
#: (deepest first: one per upsampling).
SKIP_TAPS = ("relu3_1", "relu2_1", "relu1_1")

#: Channels of each tap (and of the decoder's map after the upsampling to that tap's resolution).
TAP_CHANNELS = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512}


def decoder_input_taps(decoder: nn.Module) -> tuple[str, ...]:
    """The taps a decoder's ``forward`` takes, in argument order: ``("relu4_1",)`` for the
    paper's decoder, ``("relu4_1", *skip_taps)`` for a :class:`MultiLevelDecoder` (or anything
    with an ``input_taps`` attribute, e.g. an onnxruntime stand-in)."""
    return tuple(getattr(decoder, "input_taps", ("relu4_1",)))


class MultiLevelDecoder(Decoder):
    """The paper's decoder with gated 1x1 skips from the AdaIN'd features at ``skip_taps``.

    ``forward(relu4_1, *skips)`` takes the AdaIN'd (and alpha-blended) features at
    :attr:`input_taps`, in that order, each at its tap's resolution.

    Example:
        >>> from adain.weights.presets import get_preset
        >>> architecture = get_preset("vgg16-hed").architecture
        >>> decoder = MultiLevelDecoder(architecture, skip_taps=("relu3_1", "relu2_1"))
        >>> decoder.input_taps
        ('relu4_1', 'relu3_1', 'relu2_1')
        >>> features = [torch.rand(1, 512, 2, 2), torch.rand(1, 256, 4, 4), torch.rand(1, 128, 8, 8)]
        >>> plain = Decoder(architecture)
        >>> _ = plain.load_state_dict(decoder.state_dict(), strict=False)
        >>> torch.equal(decoder(*features), plain(features[0]))   # the gates start closed
        True
    """

    def __init__(self, architecture: EncoderArchitecture, skip_taps: Sequence[str] = SKIP_TAPS) -> None:
        super().__init__(architecture)
        unknown = sorted(set(skip_taps) - set(SKIP_TAPS))
        if unknown or not skip_taps:
            raise ShapeError(f"skip taps must be a non-empty subset of {', '.join(SKIP_TAPS)}. Got {list(skip_taps)}")
        #: the skip taps, deepest first (the order ``forward`` takes them in)
        self.skip_taps = tuple(tap for tap in SKIP_TAPS if tap in skip_taps)
        self.skips = nn.ModuleDict({tap: nn.Conv2d(TAP_CHANNELS[tap], TAP_CHANNELS[tap], 1) for tap in self.skip_taps})
        self.gates = nn.ParameterDict({tap: nn.Parameter(torch.zeros(TAP_CHANNELS[tap])) for tap in self.skip_taps})

    @property
    def input_taps(self) -> tuple[str, ...]:
        return ("relu4_1", *self.skip_taps)

    def skip(self, tap: str, features: Tensor | AffineFeatures) -> Tensor:
        """``gate * conv1x1(features)`` for ``tap``, the gate folded into the 1x1 weights (and
        the AdaIN of :class:`~adain.models.AffineFeatures` too)."""
        conv, gate = self.skips[tap], self.gates[tap]
        return skip_conv1x1(features, conv.weight * gate.view(-1, 1, 1, 1), conv.bias * gate, conv.weight.dtype)

    def forward(self, features: Tensor, *skip_features: Tensor) -> Tensor:  # type: ignore[override]
        """RGB (unclamped) from the AdaIN'd features at :attr:`input_taps`, in that order."""
        if len(skip_features) != len(self.skip_taps):
            raise ShapeError(
                f"this decoder takes features at {', '.join(self.input_taps)}: got {1 + len(skip_features)} tensors"
            )
        dtype = self.layers[1].weight.dtype
        skips = dict(zip(self.skip_taps, skip_features))
        x = features.to(dtype)
        upsampled = 0  # how many upsamplings so far: the k-th reaches SKIP_TAPS[k]'s resolution
        for layer in _fused_layers(list(self.layers)):
            if isinstance(layer, _FoldOnTheFly):
                weight, bias = fold_upsampling_weights(layer.conv.weight, layer.conv.bias)
                x = upsample_conv2d(x, weight, bias, layer.reflect_pad_output)
                padded = layer.reflect_pad_output
            elif isinstance(layer, UpsampleConv2d):
                x = layer(x)
                padded = layer.reflect_pad_output
            else:
                x = layer(x)
                continue
            tap = SKIP_TAPS[upsampled]
            upsampled += 1
            if tap in skips:
                addend = self.skip(tap, skips[tap])  # AdaIN folded in when it comes as AffineFeatures
                if padded:  # the upsampling conv returned its output already reflection-padded
                    addend = F.pad(addend, (1, 1, 1, 1), mode="reflect")
                if addend.shape != x.shape:
                    raise ShapeError(
                        f"{tap} features {tuple(skips[tap].shape)} do not fit the decoder's map "
                        f"{tuple(x.shape)} at that resolution"
                    )
                # out of place: an in-place add into a view of the padded map is lost by the ONNX
                # exporter (it dropped the skip inputs), and measured no lower peak memory on 4K tiles
                x = x + addend
        return x
