"""The encoder taps AdaIN works with, named once for every layer above."""

from __future__ import annotations

__all__ = ["ADAIN_TAP", "TAPS"]

#: The VGG layers whose features the encoder returns, shallow to deep: content and style losses,
#: style statistics and the multi-level decoder's skips all use them.
TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")

#: The tap AdaIN is applied at (the paper's decoder input).
ADAIN_TAP = "relu4_1"
