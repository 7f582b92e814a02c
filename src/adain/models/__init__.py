"""Encoders and decoders: modules only, no file I/O."""

from adain.models.affine_features import AffineFeatures
from adain.models.compact import CompactEncoder, CompactMultiLevelDecoder
from adain.models.decoder import Decoder, UpsampleConv2d, decoder_conv_shapes, fuse_upsampling
from adain.models.encoder import TAP_SCALES, EncoderArchitecture, InputNormalization, VGGEncoder
from adain.models.multilevel_decoder import SKIP_TAPS, TAP_CHANNELS, MultiLevelDecoder, decoder_input_taps
from adain.models.precision import inference_copy, native_bf16

__all__ = [
    "SKIP_TAPS",
    "TAP_CHANNELS",
    "TAP_SCALES",
    "AffineFeatures",
    "CompactEncoder",
    "CompactMultiLevelDecoder",
    "Decoder",
    "EncoderArchitecture",
    "InputNormalization",
    "MultiLevelDecoder",
    "UpsampleConv2d",
    "VGGEncoder",
    "decoder_conv_shapes",
    "decoder_input_taps",
    "fuse_upsampling",
    "inference_copy",
    "native_bf16",
]
