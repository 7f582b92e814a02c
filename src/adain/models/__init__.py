"""Encoders and decoders: modules only, no file I/O."""

from adain.models.decoder import Decoder, UpsampleConv2d, decoder_conv_shapes, fuse_upsampling
from adain.models.encoder import TAPS, EncoderArchitecture, InputNormalization, VGGEncoder
from adain.models.precision import inference_copy

__all__ = ["TAPS", "Decoder", "UpsampleConv2d", "fuse_upsampling", "EncoderArchitecture", "InputNormalization", "VGGEncoder", "decoder_conv_shapes", "inference_copy"]
