"""The AdaIN decoder: the encoder mirrored, nearest upsampling, reflection-padded 3x3 convs,
no normalisation layers (they would undo the statistics AdaIN just set)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adain.models.encoder import EncoderArchitecture
from adain.models.fusion import FusedConvReLU, conv2d_relu

__all__ = [
    "Decoder",
    "UpsampleConv2d",
    "decoder_conv_shapes",
    "fold_upsampling_weights",
    "fuse_conv_relu_layers",
    "fuse_upsampling",
    "upsample_conv2d",
]


def decoder_conv_shapes(architecture: EncoderArchitecture) -> list[tuple[int, int]]:
    """``(in, out)`` channels of each decoder conv, mirroring ``architecture``.

    For the paper's VGG-19 this is its decoder exactly: 512->256, up, 3x 256->256, 256->128, up,
    128->128, 128->64, up, 64->64, 64->3.
    """
    convs_3, convs_2, convs_1 = reversed(architecture.convs_per_block)
    shapes = [(512, 256)]
    shapes += [(256, 256)] * (convs_3 - 1) + [(256, 128)]
    shapes += [(128, 128)] * (convs_2 - 1) + [(128, 64)]
    shapes += [(64, 64)] * (convs_1 - 1) + [(64, 3)]
    return shapes


class Decoder(nn.Module):
    """Maps relu4_1 features back to an RGB image (unclamped; the pipeline clamps to [0, 1]).

    Built as one ``nn.Sequential`` whose layer indices match pytorch-AdaIN's ``decoder.pth`` for
    the VGG-19 layout, so that file loads by index. The forward pass computes each upsample +
    pad + conv as one sub-pixel convolution (:func:`upsample_conv2d`), with the same parameters.
    """

    def __init__(self, architecture: EncoderArchitecture) -> None:
        super().__init__()
        shapes = decoder_conv_shapes(architecture)
        # upsample after the conv that leaves each block (512->256, 256->128, 128->64)
        upsample_after = {i for i, (cin, cout) in enumerate(shapes) if cout < cin and cout != 3}
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(shapes):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
            if i < len(shapes) - 1:
                layers.append(nn.ReLU(inplace=True))
            if i in upsample_after:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        self.layers = nn.Sequential(*layers)

    def forward(self, features: Tensor) -> Tensor:
        """Runs in the weights' dtype (a bf16 :func:`~adain.models.inference_copy` takes fp32 features)."""
        x = features.to(self.layers[1].weight.dtype)
        for layer in _fused_layers(list(self.layers)):
            if isinstance(layer, _FoldOnTheFly):
                # folded from the trained 3x3 weights on every call: gradients reach them
                weight, bias = fold_upsampling_weights(layer.conv.weight, layer.conv.bias)
                x = upsample_conv2d(x, weight, bias, layer.reflect_pad_output)
            else:
                x = layer(x)
        return x


def _collapse(weight: Tensor, dim: int, parity: int) -> Tensor:
    """The 3 taps of ``weight`` along ``dim`` folded onto the 2 low-resolution pixels they read.

    After a 2x nearest upsampling, output row ``2i`` reads upsampled rows ``2i-1, 2i, 2i+1`` =
    low-resolution rows ``i-1, i, i``; output row ``2i+1`` reads ``i, i, i+1``.
    """
    first, middle, last = weight.unbind(dim)
    pair = (first, middle + last) if parity == 0 else (first + middle, last)
    return torch.stack(pair, dim)


def fold_upsampling_weights(weight: Tensor, bias: Tensor | None) -> tuple[Tensor, Tensor]:
    """The 2x2 sub-pixel kernels ``(4*O, I, 2, 2)`` and bias ``(4*O,)`` of a 3x3 ``(O, I, 3, 3)``
    convolution that follows a 2x nearest upsampling (see :func:`upsample_conv2d`).

    Each output pixel's row and column parity picks one of four 2x2 kernels over the
    low-resolution map (the 3x3 taps that read the same pixel are summed). Output channel group
    ``(p, q)`` holds parity ``(1 - p, 1 - q)``: in that order the pixel shuffle of the
    ``(H+1, W+1)`` result, cropped by one pixel, puts each phase in place.
    """
    phases = [_collapse(_collapse(weight, 2, 1 - p), 3, 1 - q) for p in (0, 1) for q in (0, 1)]
    if bias is None:
        bias = weight.new_zeros(weight.shape[0])
    return torch.cat(phases), bias.repeat(4)


def upsample_conv2d(
    x: Tensor, folded_weight: Tensor, folded_bias: Tensor, reflect_pad_output: bool = False, relu: bool = False
) -> Tensor:
    """``conv3x3(reflect_pad(upsample_nearest_2x(x)))`` computed on the low-resolution ``x``.

    Why: three of the decoder's largest convolutions run on nearest-upsampled maps, where every
    2x2 block of input pixels is one value. The four output phases are one 2x2 convolution with
    4x the output channels (:func:`fold_upsampling_weights`) followed by a pixel shuffle: 16
    instead of 36 multiply-adds per low-resolution pixel and channel pair, and no upsampled or
    padded copy of the input. The upsampled map's reflection padding is the low-resolution map's
    replicate padding. Equal to the three layers up to float rounding (the summed taps);
    measured 2x faster per layer in bf16 on the 2-core CPU; in training the decoder's forward +
    backward pass is 25% faster, a whole step (three encoder passes too) about 3%.

    ``reflect_pad_output``: return the result with a 1-pixel reflection border, what the next
    layer's ``ReflectionPad2d(1)`` would make of it (a ReLU in between commutes with the
    padding). The shuffle leaves a border anyway; filling it in place spares the padded copy.

    ``relu``: the ReLU that follows, applied by the convolution of the phases
    (:func:`~adain.models.fusion.conv2d_relu`: one fused call where it can be); it commutes with
    the shuffle and the border. For inference copies (:func:`fuse_conv_relu_layers`).
    """
    batch, _, height, width = x.shape
    channels = folded_weight.shape[0] // 4
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    phases = conv2d_relu(padded, folded_weight, folded_bias) if relu else F.conv2d(padded, folded_weight, folded_bias)
    # pixel shuffle in channels-last order: (B, H+1, W+1, 2, 2, O) -> (B, 2H+2, 2W+2, O), one copy
    shuffled = (
        phases.permute(0, 2, 3, 1)
        .reshape(batch, height + 1, width + 1, 2, 2, channels)
        .permute(0, 1, 3, 2, 4, 5)
        .reshape(batch, 2 * height + 2, 2 * width + 2, channels)
    )
    output = shuffled.permute(0, 3, 1, 2)
    if not reflect_pad_output:
        return output[:, :, 1:-1, 1:-1]
    return reflect_border_(output)


def reflect_border_(padded: Tensor) -> Tensor:
    """Fill the 1-pixel border of ``padded`` (in place) with the reflection of its interior: what
    ``ReflectionPad2d(1)`` of the interior gives, without a padded copy."""
    padded[:, :, 0, 1:-1] = padded[:, :, 2, 1:-1]
    padded[:, :, -1, 1:-1] = padded[:, :, -3, 1:-1]
    padded[:, :, :, 0] = padded[:, :, :, 2]
    padded[:, :, :, -1] = padded[:, :, :, -3]
    return padded


class UpsampleConv2d(nn.Module):
    """:func:`upsample_conv2d` with its kernels folded once, from a trained 3x3 convolution.

    For inference copies (:func:`fuse_upsampling`); the folded weights are not the trained
    parameters, so training and weight files keep the plain layout. ``relu``: the ReLU that
    follows it runs with its convolution (set by :func:`fuse_conv_relu_layers`).
    """

    def __init__(self, conv: nn.Conv2d, reflect_pad_output: bool = False) -> None:
        super().__init__()
        _check_foldable(conv)
        weight, bias = fold_upsampling_weights(
            conv.weight.detach().float(), None if conv.bias is None else conv.bias.detach().float()
        )
        self.reflect_pad_output = reflect_pad_output
        self.relu = False
        self.weight = nn.Parameter(weight.to(conv.weight.dtype), requires_grad=False)
        self.bias = nn.Parameter(bias.to(conv.weight.dtype), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        return upsample_conv2d(x, self.weight, self.bias, self.reflect_pad_output, self.relu)

    def extra_repr(self) -> str:
        return f"reflect_pad_output={self.reflect_pad_output}, relu={self.relu}"


def _check_foldable(conv: nn.Conv2d) -> None:
    if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.padding != (0, 0) or conv.groups != 1:
        raise ValueError(f"an upsampling convolution folds an unpadded 3x3 stride-1 convolution, not {conv}")


class _FoldOnTheFly:
    """A plan entry of :func:`_fused_layers`: this conv runs through :func:`upsample_conv2d`."""

    def __init__(self, conv: nn.Conv2d, reflect_pad_output: bool) -> None:
        self.conv, self.reflect_pad_output = conv, reflect_pad_output


def _fused_layers(layers: list[nn.Module]) -> list[nn.Module | _FoldOnTheFly]:
    """``layers`` with each nearest 2x upsample + ``ReflectionPad2d(1)`` + 3x3 conv as one entry
    (and the next conv's ``ReLU`` + ``ReflectionPad2d(1)`` as the ReLU alone: padded in place)."""
    plan: list[nn.Module | _FoldOnTheFly] = []
    i = 0
    while i < len(layers):
        window = layers[i : i + 3]
        if (
            len(window) == 3
            and isinstance(window[0], nn.Upsample)
            and window[0].mode == "nearest"
            and window[0].scale_factor in (2, 2.0)
            and isinstance(window[1], nn.ReflectionPad2d)
            and tuple(window[1].padding) == (1, 1, 1, 1)
            and isinstance(window[2], nn.Conv2d)
        ):
            _check_foldable(window[2])
            after = layers[i + 3 : i + 5]
            pad_next = (
                len(after) == 2
                and isinstance(after[0], nn.ReLU)
                and isinstance(after[1], nn.ReflectionPad2d)
                and tuple(after[1].padding) == (1, 1, 1, 1)
            )
            plan.append(_FoldOnTheFly(window[2], pad_next))
            if pad_next:
                plan.append(after[0])
            i += 5 if pad_next else 3
        else:
            plan.append(layers[i])
            i += 1
    return plan


DecoderT = TypeVar("DecoderT", bound=nn.Module)


def fuse_upsampling(decoder: DecoderT) -> DecoderT:
    """``decoder`` (changed in place) with its upsampling convolutions folded once into
    :class:`UpsampleConv2d` layers: for inference copies (:func:`~adain.models.inference_copy`).

    Any decoder whose forward runs its ``layers`` through :func:`_fused_layers` (:class:`Decoder`,
    :class:`~adain.models.MultiLevelDecoder`, :class:`~adain.models.CompactMultiLevelDecoder`)."""
    decoder.layers = nn.Sequential(
        *(
            UpsampleConv2d(entry.conv, entry.reflect_pad_output) if isinstance(entry, _FoldOnTheFly) else entry
            for entry in _fused_layers(list(decoder.layers))
        )
    )
    return decoder


def fuse_conv_relu_layers(decoder: DecoderT, unfused_upsamplings: Collection[int] = ()) -> DecoderT:
    """``decoder`` (changed in place) with each ``Conv2d`` + ``ReLU`` pair of its ``layers`` as one
    :class:`~adain.models.fusion.FusedConvReLU` and each :class:`UpsampleConv2d` + ``ReLU`` as the
    upsampling convolution with its ``relu`` set: one oneDNN call each on CPUs (measured: see
    :mod:`adain.models.fusion`). For inference copies (:func:`~adain.models.inference_copy`),
    after :func:`fuse_upsampling`.

    ``unfused_upsamplings``: the upsamplings (0 for the first) whose convolution keeps its ReLU
    apart: a multi-level decoder adds a skip between the two.

    Example:
        >>> from adain.weights.presets import get_preset
        >>> decoder = fuse_upsampling(Decoder(get_preset("vgg16-hed").architecture))
        >>> fused = fuse_conv_relu_layers(decoder)
        >>> [type(layer).__name__ for layer in fused.layers][:5]
        ['ReflectionPad2d', 'FusedConvReLU', 'UpsampleConv2d', 'FusedConvReLU', 'ReflectionPad2d']
        >>> sum(isinstance(layer, nn.ReLU) for layer in fused.layers)
        0
    """
    layers: list[nn.Module] = list(decoder.layers)  # type: ignore[arg-type]
    fused: list[nn.Module] = []
    upsampled = 0
    i = 0
    while i < len(layers):
        layer = layers[i]
        relu_next = i + 1 < len(layers) and isinstance(layers[i + 1], nn.ReLU)
        if isinstance(layer, UpsampleConv2d):
            fuse = relu_next and upsampled not in unfused_upsamplings
            upsampled += 1
            if fuse:
                layer.relu = True
        elif isinstance(layer, nn.Upsample):
            raise ValueError("fuse the upsampling convolutions first (fuse_upsampling)")
        else:
            fuse = relu_next and type(layer) is nn.Conv2d and layer.padding_mode == "zeros"
            if fuse:
                layer = FusedConvReLU.from_conv(layer)  # type: ignore[arg-type]
        fused.append(layer)
        i += 2 if fuse else 1
    decoder.layers = nn.Sequential(*fused)
    return decoder
