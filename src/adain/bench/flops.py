"""Convolution FLOPs of one stylization, counted from the architecture (not measured).

A 3x3 conv from C_in to C_out channels on an H x W output costs 2 * 9 * C_in * C_out * H * W
FLOPs (a multiply and an add per weight per position). One stylization runs the encoder to
relu4_1 on the content and the decoder back to full size; a new style adds an encoder pass on
the style image. A multi-level decoder adds a 1x1 conv per skip tap (C x C at that tap's
resolution: 2 * C^2 FLOPs per position).

A preset of compact students (``fast``) is counted from its modules instead
(:meth:`~adain.models.CompactEncoder.flops`, :meth:`~adain.models.CompactMultiLevelDecoder.flops`:
the student's own convolutions, its tap projections and skips included), so its FLOP floor is the
student's, not its teacher's (:func:`network_flops`).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from adain.models import (
    TAP_CHANNELS,
    TAP_SCALES,
    CompactEncoder,
    CompactMultiLevelDecoder,
    EncoderArchitecture,
    decoder_conv_shapes,
    decoder_input_taps,
)

__all__ = ["conv3x3_flops", "decoder_flops", "encoder_flops", "network_flops", "stylization_flops"]


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


def decoder_flops(architecture: EncoderArchitecture, height: int, width: int, skip_taps: Sequence[str] = ()) -> int:
    """The decoder's convolutions; ``skip_taps``: a multi-level decoder's 1x1 skip convolutions too.

    Example:
        >>> from adain.weights.presets import get_preset
        >>> architecture = get_preset("vgg16-hed").architecture
        >>> decoder_flops(architecture, 64, 64, ["relu1_1"]) - decoder_flops(architecture, 64, 64)
        33554432
    """
    total, scale = 0, 8
    for cin, cout in decoder_conv_shapes(architecture):
        total += conv3x3_flops(cin, cout, height // scale, width // scale)
        if cout < cin and cout != 3:  # the decoder upsamples after each block's last conv
            scale //= 2
    for tap in skip_taps:
        channels, tap_scale = TAP_CHANNELS[tap], TAP_SCALES[tap]
        total += 2 * channels * channels * (height // tap_scale) * (width // tap_scale)
    return total


def stylization_flops(
    architecture: EncoderArchitecture,
    height: int,
    width: int,
    new_style: bool = False,
    style_size: tuple[int, int] | None = None,
    skip_taps: Sequence[str] = (),
) -> int:
    """Content encoder + decoder (with ``skip_taps``' 1x1 convs) (+ the style's encoder pass for a new style)."""
    total = encoder_flops(architecture, height, width) + decoder_flops(architecture, height, width, skip_taps)
    if new_style:
        style_height, style_width = style_size or (height, width)
        total += encoder_flops(architecture, style_height, style_width)
    return total


def network_flops(
    architecture: EncoderArchitecture,
    encoder: nn.Module | None,
    decoder: nn.Module | None,
    height: int,
    width: int,
    new_style: bool = False,
    style_size: tuple[int, int] | None = None,
    teacher_styles: bool = False,
) -> int:
    """:func:`stylization_flops` of these networks: a compact student (:class:`~adain.models.CompactEncoder`,
    :class:`~adain.models.CompactMultiLevelDecoder`) counts its own convolutions, any other
    encoder or decoder (or None) those of ``architecture`` (a multi-level decoder's skips included).
    ``teacher_styles``: a new style goes through ``architecture``'s encoder whatever ``encoder``
    is (a distilled preset's pipeline encodes styles with its teacher's).

    Example:
        >>> from adain.weights.presets import get_preset
        >>> architecture = get_preset("vgg16-hed").architecture
        >>> student = network_flops(architecture, CompactEncoder(), CompactMultiLevelDecoder(), 64, 64)
        >>> student == CompactEncoder().flops(64, 64) + CompactMultiLevelDecoder().flops(64, 64)
        True
        >>> network_flops(architecture, None, None, 64, 64) == stylization_flops(architecture, 64, 64)
        True
    """

    def encoded(h: int, w: int) -> int:
        return encoder.flops(h, w) if isinstance(encoder, CompactEncoder) else encoder_flops(architecture, h, w)

    if isinstance(decoder, CompactMultiLevelDecoder):
        decoded = decoder.flops(height, width)
    else:
        skip_taps = decoder_input_taps(decoder)[1:] if decoder is not None else ()
        decoded = decoder_flops(architecture, height, width, skip_taps)
    total = encoded(height, width) + decoded
    if new_style:
        style_height, style_width = style_size or (height, width)
        if teacher_styles:
            total += encoder_flops(architecture, style_height, style_width)
        else:
            total += encoded(style_height, style_width)
    return total
