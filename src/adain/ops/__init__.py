"""Pure tensor functions: statistics, AdaIN, colour, masks, filters. No models, no I/O."""

from adain.ops.statistics import adain, adain_from_statistics, channel_mean_std, mix_statistics

__all__ = ["adain", "adain_from_statistics", "channel_mean_std", "mix_statistics"]
