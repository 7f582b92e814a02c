"""Encoders and decoders: modules only, no file I/O."""

from adain.models.decoder import Decoder, decoder_conv_shapes
from adain.models.encoder import TAPS, EncoderArchitecture, InputNormalization, VGGEncoder
from adain.models.precision import inference_copy

__all__ = ["TAPS", "Decoder", "EncoderArchitecture", "InputNormalization", "VGGEncoder", "decoder_conv_shapes", "inference_copy"]
