"""The AdaIN decoder: the encoder mirrored, nearest upsampling, reflection-padded 3x3 convs,
no normalisation layers (they would undo the statistics AdaIN just set)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adain.models.encoder import EncoderArchitecture

__all__ = ["Decoder", "UpsampleConv2d", "decoder_conv_shapes", "fuse_upsampling"]


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
    the VGG-19 layout, so that file loads by index.
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
        return self.layers(features.to(self.layers[1].weight.dtype))


def _collapse(weight: Tensor, dim: int, parity: int) -> Tensor:
    """The 3 taps of ``weight`` along ``dim`` folded onto the 2 low-resolution pixels they read.

    After a 2x nearest upsampling, output row ``2i`` reads upsampled rows ``2i-1, 2i, 2i+1`` =
    low-resolution rows ``i-1, i, i``; output row ``2i+1`` reads ``i, i, i+1``.
    """
    first, middle, last = weight.unbind(dim)
    pair = (first, middle + last) if parity == 0 else (first + middle, last)
    return torch.stack(pair, dim)


class UpsampleConv2d(nn.Module):
    """``conv3x3(reflect_pad(upsample_nearest_2x(x)))`` computed on the low-resolution ``x``.

    Why: three of the decoder's largest convolutions run on nearest-upsampled maps, where every
    2x2 block of input pixels is one value. Each output pixel's parity (row and column) picks one
    of four 2x2 kernels over the low-resolution map (the 3x3 taps that read the same pixel are
    summed), so the four phases are one 2x2 convolution with 4x the output channels followed by a
    pixel shuffle: 16 instead of 36 multiply-adds per low-resolution pixel and channel pair, no
    upsampled or padded copy of the input. The upsampled map's reflection padding is the
    low-resolution map's replicate padding. Equal to the three layers up to float rounding
    (the summed taps); measured 2x faster per layer in bf16 on the 2-core CPU.

    ``reflect_pad_output``: return the result with a 1-pixel reflection border, what the next
    layer's ``ReflectionPad2d(1)`` would make of it (a ReLU in between commutes with the
    padding). The shuffle leaves a border anyway; filling it in place spares the padded copy.
    """

    def __init__(self, conv: nn.Conv2d, reflect_pad_output: bool = False) -> None:
        super().__init__()
        if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.padding != (0, 0) or conv.groups != 1:
            raise ValueError(f"UpsampleConv2d folds an unpadded 3x3 stride-1 convolution, not {conv}")
        weight = conv.weight.detach().float()
        # output channel groups (p, q) = (1 - row parity, 1 - column parity): with that order the
        # pixel shuffle of the (H+1, W+1) result, cropped by one pixel, puts each phase in place
        phases = [_collapse(_collapse(weight, 2, 1 - p), 3, 1 - q) for p in (0, 1) for q in (0, 1)]
        self.out_channels = conv.out_channels
        self.reflect_pad_output = reflect_pad_output
        self.weight = nn.Parameter(torch.cat(phases).to(conv.weight.dtype), requires_grad=False)
        bias = conv.bias.detach() if conv.bias is not None else torch.zeros(conv.out_channels, dtype=conv.weight.dtype)
        self.bias = nn.Parameter(bias.repeat(4), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        batch, _, height, width = x.shape
        phases = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.weight, self.bias)
        # pixel shuffle in channels-last order: (B, H+1, W+1, 2, 2, O) -> (B, 2H+2, 2W+2, O), one copy
        shuffled = (phases.permute(0, 2, 3, 1).reshape(batch, height + 1, width + 1, 2, 2, self.out_channels)
                    .permute(0, 1, 3, 2, 4, 5).reshape(batch, 2 * height + 2, 2 * width + 2, self.out_channels))  # fmt: skip
        output = shuffled.permute(0, 3, 1, 2)
        if not self.reflect_pad_output:
            return output[:, :, 1:-1, 1:-1]
        output[:, :, 0, 1:-1] = output[:, :, 2, 1:-1]
        output[:, :, -1, 1:-1] = output[:, :, -3, 1:-1]
        output[:, :, :, 0] = output[:, :, :, 2]
        output[:, :, :, -1] = output[:, :, :, -3]
        return output


def fuse_upsampling(decoder: Decoder) -> Decoder:
    """``decoder`` with each upsample + reflection pad + conv replaced by an :class:`UpsampleConv2d`.

    For inference only (the folded weights are not the trained parameters): the pipeline's
    :func:`~adain.models.inference_copy` applies it; training and weight files use the plain layout.
    """
    layers = list(decoder.layers)
    fused: list[nn.Module] = []
    i = 0
    while i < len(layers):
        window = layers[i : i + 3]
        if (len(window) == 3 and isinstance(window[0], nn.Upsample) and window[0].mode == "nearest"
                and window[0].scale_factor in (2, 2.0) and isinstance(window[1], nn.ReflectionPad2d)
                and tuple(window[1].padding) == (1, 1, 1, 1) and isinstance(window[2], nn.Conv2d)):  # fmt: skip
            after = layers[i + 3 : i + 5]  # ReLU + ReflectionPad2d(1) of the next conv: pad in place
            pad_next = (len(after) == 2 and isinstance(after[0], nn.ReLU) and isinstance(after[1], nn.ReflectionPad2d)
                        and tuple(after[1].padding) == (1, 1, 1, 1))  # fmt: skip
            fused.append(UpsampleConv2d(window[2], reflect_pad_output=pad_next))
            if pad_next:
                fused.append(nn.ReLU(inplace=True))
            i += 5 if pad_next else 3
        else:
            fused.append(layers[i])
            i += 1
    decoder.layers = nn.Sequential(*fused)
    return decoder
