"""Presets, conversion, download, cache and manifest of weights."""

from adain.weights.loading import import_weights, load_decoder, load_encoder, prepare, save_decoder
from adain.weights.presets import DEFAULT_PRESET, PRESETS, Preset, WeightSource, get_preset, list_presets
from adain.weights.store import adain_home

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "Preset",
    "WeightSource",
    "adain_home",
    "get_preset",
    "import_weights",
    "list_presets",
    "load_decoder",
    "load_encoder",
    "prepare",
    "save_decoder",
]
