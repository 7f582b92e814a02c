"""Pure tensor functions: statistics, AdaIN, colour, masks, filters. No models, no I/O."""

from adain.ops.attention import attention_adain, attention_weighted_means
from adain.ops.color import match_color_statistics, rgb_to_yuv, transfer_luminance, yuv_to_rgb
from adain.ops.filters import box_filter, guided_filter
from adain.ops.local_mean_adain import local_mean_adain, local_mean_affine, local_mean_moments
from adain.ops.masks import masked_adain, masked_channel_mean_std, region_weights_from_mask, resize_region_weights
from adain.ops.statistics import (
    adain,
    adain_affine,
    adain_from_statistics,
    blend_features,
    channel_mean_std,
    check_alpha,
    mix_statistics,
)
from adain.ops.taps import ADAIN_TAP, TAPS

__all__ = [
    "ADAIN_TAP",
    "TAPS",
    "adain",
    "adain_affine",
    "adain_from_statistics",
    "attention_adain",
    "attention_weighted_means",
    "blend_features",
    "box_filter",
    "channel_mean_std",
    "check_alpha",
    "guided_filter",
    "local_mean_adain",
    "local_mean_affine",
    "local_mean_moments",
    "masked_adain",
    "masked_channel_mean_std",
    "match_color_statistics",
    "mix_statistics",
    "region_weights_from_mask",
    "resize_region_weights",
    "rgb_to_yuv",
    "transfer_luminance",
    "yuv_to_rgb",
]
