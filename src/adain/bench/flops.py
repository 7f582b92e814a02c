"""Convolution FLOPs of one stylization, counted from the architecture (not measured).

A 3x3 conv from C_in to C_out channels on an H x W output costs 2 * 9 * C_in * C_out * H * W
FLOPs (a multiply and an add per weight per position). One stylization runs the encoder to
relu4_1 on the content and the decoder back to full size; a new style adds an encoder pass on
the style image.
"""

from __future__ import annotations

from adain.models import EncoderArchitecture, decoder_conv_shapes

__all__ = ["conv3x3_flops", "decoder_flops", "encoder_flops", "stylization_flops"]


def conv3x3_flops(in_channels: int, out_channels: int, height: int, width: int) -> int:
    return 2 * 9 * in_channels * out_channels * height * width


def encoder_flops(architecture: EncoderArchitecture, height: int, width: int) -> int:
    total = 0
    for name, (cin, cout) in architecture.conv_shapes().items():
        scale = 2 ** (int(name[4]) - 1)
        total += conv3x3_flops(cin, cout, -(-height // scale), -(-width // scale))
    if architecture.leading_1x1:
        total += 2 * 3 * 3 * height * width
    return total


def decoder_flops(architecture: EncoderArchitecture, height: int, width: int) -> int:
    total, scale = 0, 8
    for cin, cout in decoder_conv_shapes(architecture):
        total += conv3x3_flops(cin, cout, height // scale, width // scale)
        if cout < cin and cout != 3:  # the decoder upsamples after each block's last conv
            scale //= 2
    return total


def stylization_flops(architecture: EncoderArchitecture, height: int, width: int, new_style: bool = False,
                      style_size: tuple[int, int] | None = None) -> int:  # fmt: skip
    """Content encoder + decoder (+ the style's encoder pass for a new style)."""
    total = encoder_flops(architecture, height, width) + decoder_flops(architecture, height, width)
    if new_style:
        style_height, style_width = style_size or (height, width)
        total += encoder_flops(architecture, style_height, style_width)
    return total
