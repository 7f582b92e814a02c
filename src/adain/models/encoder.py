"""VGG encoders cut at relu4_1, returning the four AdaIN taps by name.

One class covers every preset: a preset differs only in its block layout, its padding, an
optional leading 1x1 convolution (the paper's normalised VGG-19 folds its input
normalisation into one) and its input normalisation. Every encoder takes RGB in [0, 1].
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adain.models.fusion import conv_relu
from adain.ops.taps import requested_taps

__all__ = ["TAP_SCALES", "EncoderArchitecture", "InputNormalization", "VGGEncoder"]

#: The layers AdaIN reads: style statistics at all four, content and AdaIN at the last.

#: Each tap's downsampling: an image padded to a multiple of 8 gives ``(H / s, W / s)`` there.
TAP_SCALES = {"relu1_1": 1, "relu2_1": 2, "relu3_1": 4, "relu4_1": 8}


@dataclass(frozen=True)
class InputNormalization:
    """Maps RGB in [0, 1] to what the network was trained on: ``(x[order] * scale - mean) / std``."""

    channel_order: tuple[int, int, int] = (0, 1, 2)
    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class EncoderArchitecture:
    """Convolutions per block up to relu4_1 (the first conv of block 4 ends the encoder)."""

    name: str
    #: number of 3x3 convs in blocks 1..3; block 4 contributes only conv4_1.
    convs_per_block: tuple[int, int, int] = (2, 2, 3)
    padding_mode: str = "zeros"  # "zeros" or "reflect"
    leading_1x1: bool = False
    pool_ceil_mode: bool = False
    normalization: InputNormalization = field(default_factory=InputNormalization)

    def conv_names(self) -> list[str]:
        names = [f"conv{block + 1}_{i + 1}" for block, n in enumerate(self.convs_per_block) for i in range(n)]
        return [*names, "conv4_1"]

    def conv_shapes(self) -> dict[str, tuple[int, int]]:
        """``{conv name: (in_channels, out_channels)}``."""
        widths = (64, 128, 256, 512)
        shapes, in_channels = {}, 3
        for name in self.conv_names():
            out_channels = widths[int(name[4]) - 1]
            shapes[name] = (in_channels, out_channels)
            in_channels = out_channels
        return shapes


class VGGEncoder(nn.Module):
    """A VGG trunk to relu4_1. ``forward`` returns ``{tap: features}`` for :data:`TAPS`."""

    def __init__(self, architecture: EncoderArchitecture) -> None:
        super().__init__()
        self.architecture = architecture
        norm = architecture.normalization
        scale = torch.tensor([norm.scale / s for s in norm.std]).view(1, 3, 1, 1)
        shift = torch.tensor([m / s for m, s in zip(norm.mean, norm.std)]).view(1, 3, 1, 1)
        self.register_buffer("input_scale", scale, persistent=False)
        self.register_buffer("input_shift", shift, persistent=False)
        self.channel_order = list(norm.channel_order)
        self.input_1x1 = nn.Conv2d(3, 3, 1) if architecture.leading_1x1 else None
        self.convs = nn.ModuleDict(
            {name: nn.Conv2d(cin, cout, 3) for name, (cin, cout) in architecture.conv_shapes().items()}
        )
        self.requires_grad_(False)

    def normalize_input(self, image: Tensor) -> Tensor:
        return image[:, self.channel_order] * self.input_scale.to(image.dtype) - self.input_shift.to(image.dtype)

    def forward(
        self, image: Tensor, last_tap: str = "relu4_1", taps: Collection[str] | None = None
    ) -> dict[str, Tensor]:
        """Features at each tap up to ``last_tap`` (or at ``taps`` only, up to the deepest of them:
        :func:`~adain.ops.taps.requested_taps`) for RGB ``image`` in [0, 1], ``(B, 3, H, W)``."""
        wanted = requested_taps(last_tap, taps)
        last_tap = wanted[-1]
        # normalised in float32 (on the 0-255 scale bf16 would round the mean away), then run in
        # the weights' dtype: a bf16 copy of the encoder (``inference_copy``) takes fp32 images
        x = self.normalize_input(image.float()).to(self.convs["conv1_1"].weight.dtype)
        if self.input_1x1 is not None:
            x = self.input_1x1(x)
        zero_padding = self.architecture.padding_mode == "zeros"
        features: dict[str, Tensor] = {}
        previous_block = 1
        for name, conv in self.convs.items():
            block = int(name[4])
            if block != previous_block:
                x = F.max_pool2d(x, 2, 2, ceil_mode=self.architecture.pool_ceil_mode)
                previous_block = block
            # relu(conv(x)) in one oneDNN call in a CPU inference copy (adain.models.fusion); the
            # ReLU runs in place on the fresh conv output otherwise (taps keep earlier tensors)
            if zero_padding:  # the convolution pads by itself: no padded copy of x
                x = conv_relu(conv, x, padding=1)
            else:
                x = conv_relu(conv, F.pad(x, (1, 1, 1, 1), mode="reflect"))
            if name.endswith("_1"):
                if f"relu{block}_1" in wanted:
                    features[f"relu{block}_1"] = x
                if f"relu{block}_1" == last_tap:
                    break
        return features

    def relu4_1(self, image: Tensor) -> Tensor:
        return self.forward(image)["relu4_1"]
