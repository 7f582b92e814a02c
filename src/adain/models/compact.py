"""Compact students of the VGG encoder and the multi-level decoder, for a fast preset.

Both work in the teacher's feature space, so everything above them (AdaIN, style statistics,
the style bank, the pipeline) is unchanged:

* :class:`CompactEncoder` is a VGG-shaped trunk with ``width`` times the teacher's channels
  (default a quarter: 16 / 32 / 64 / 128 at relu1_1..relu4_1) and a 1x1 projection (+ ReLU, as
  the teacher's taps are ReLU outputs) at each tap onto the teacher's 64 / 128 / 256 / 512
  channels. ``forward(image, last_tap=...)`` returns ``{tap: features}`` like
  :class:`~adain.models.VGGEncoder`, taking RGB in [0, 1] and normalising it in float32.
* :class:`CompactMultiLevelDecoder` takes what :class:`~adain.models.MultiLevelDecoder` takes
  (AdaIN'd relu4_1 at 512 channels plus skip taps at 256 / 128 / 64) and runs ``width`` times
  its channels inside.

Each module counts its own convolution FLOPs (:meth:`CompactEncoder.flops`,
:meth:`CompactMultiLevelDecoder.flops`) the way :mod:`adain.bench.flops` counts the teacher's:
``2 * k * k * C_in / groups * C_out`` per output position, upsampling convolutions at the
upsampled resolution (their folded form does less). At 512x512:

===================================  ======  ==========  ==============
module                               GFLOP   parameters  vs the teacher
===================================  ======  ==========  ==============
teacher encoder (vgg16-hed)          107.2   2.92 M
CompactEncoder, vgg, width 1/4       9.0     0.27 M      1/11.9
CompactEncoder, separable, 1/2       8.1     0.26 M      1/13.3
CompactEncoder, separable, 1/4       3.3     0.11 M      1/32.5
teacher multi-level decoder          113.6   3.00 M
CompactMultiLevelDecoder, 1/4        10.3    0.43 M      1/11.0
===================================  ======  ==========  ==============

Why ``kind="vgg"`` (width 1/4) is the default encoder: a depthwise-separable trunk
(``kind="separable"``: depthwise 3x3 then pointwise 1x1 for every convolution after the first)
costs far fewer FLOPs per channel, so at about the same FLOPs it can be twice as wide. A short
distillation check (``adain.train.distill``, 400 steps of 4 content + 4 style crops of 96 px,
lr 1e-3, the vgg16-hed teacher, seed 0; normalised MSE on 32 held-out crops of the selection
split; 2026-12-03) gave, relu1_1 / relu2_1 / relu3_1 / relu4_1:

* vgg, width 1/4 (9.0 GFLOP):       0.249 / 0.433 / 0.549 / 0.574
* separable, width 1/2 (8.1 GFLOP): 0.096 / 0.431 / 0.588 / 0.646

The separable student is better only at relu1_1 (twice the channels there, and its first
convolution is dense) and worse at relu3_1 and relu4_1, the taps that matter most (relu4_1 is
what AdaIN and the decoder take; the deep taps carry most of the style statistics); and a
depthwise convolution runs far below a dense one's FLOP rate on CPUs (it is memory-bound), so
its small FLOP saving would not become time. The separable kind stays for measurement.

Both students learn unit-scale quantities: the encoder's projections end in a fixed per-channel
scale and shift (the teacher's std and mean, :meth:`CompactEncoder.calibrate`), the decoder
scales each input by a fixed factor (:meth:`CompactMultiLevelDecoder.calibrate`); both are
buffers saved with the weights and set once from the first batch of a distillation.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adain.errors import ShapeError, UsageError
from adain.models.affine_features import skip_conv1x1
from adain.models.decoder import UpsampleConv2d, _FoldOnTheFly, _fused_layers, fold_upsampling_weights, upsample_conv2d
from adain.models.encoder import InputNormalization
from adain.models.fusion import conv_relu
from adain.models.multilevel_decoder import SKIP_TAPS, TAP_CHANNELS
from adain.ops.taps import requested_taps

__all__ = [
    "COMPACT_ENCODER_KINDS",
    "DEFAULT_WIDTH",
    "STUDENT_NORMALIZATION",
    "CompactEncoder",
    "CompactMultiLevelDecoder",
    "TapProjection",
    "build_compact",
    "compact_channels",
    "parameter_count",
]

#: the fraction of the teacher's channels a student has by default
DEFAULT_WIDTH = 0.25

COMPACT_ENCODER_KINDS = ("vgg", "separable")

#: a student learns from scratch: unit-scale RGB input (ImageNet mean / std), whatever the teacher's
STUDENT_NORMALIZATION = InputNormalization(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))

_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def compact_channels(width: float) -> dict[str, int]:
    """The student's channels at each tap: ``width`` times the teacher's, rounded to a multiple of
    8 (at least 8: vectorised kernels work in groups of 8 or 16 channels).

    Example:
        >>> compact_channels(0.25)
        {'relu1_1': 16, 'relu2_1': 32, 'relu3_1': 64, 'relu4_1': 128}
    """
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= 1:
        raise UsageError(f"width must be a fraction of the teacher's channels in (0, 1]. Got {width!r}")
    return {tap: max(8, round(TAP_CHANNELS[tap] * width / 8) * 8) for tap in _TAPS}


def _conv_flops(conv: nn.Conv2d, height: int, width: int) -> int:
    """``conv``'s multiply-adds times two on a ``height x width`` output."""
    kernel_h, kernel_w = conv.kernel_size
    return 2 * kernel_h * kernel_w * (conv.in_channels // conv.groups) * conv.out_channels * height * width


def parameter_count(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


class TapProjection(nn.Conv2d):
    """A 1x1 convolution onto the teacher's channels, then a fixed per-channel ``* scale + shift``.

    ``scale`` and ``shift`` are buffers (saved with the weights), set once before distillation to
    the teacher's channel std and mean (:meth:`CompactEncoder.calibrate`) and folded into the
    weights on every call. Why: vgg16-hed's taps run to the hundreds (Caffe scale); without them
    the learnt weights would have to grow by that factor, at Adam's step of about the learning
    rate per update (measured: the relu1_1 error did not move in 20 steps). With them the weights
    predict unit-scale features and the trunk and the projection learn at the same pace.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, 1)
        self.register_buffer("scale", torch.ones(out_channels))
        self.register_buffer("shift", torch.zeros(out_channels))

    def folded_weights(self) -> tuple[Tensor, Tensor]:
        """The weight and bias of the plain 1x1 convolution this projection computes, in the
        weight's dtype: ``weight * scale`` and ``bias * scale + shift``."""
        scale, shift = self.scale.to(self.weight.dtype), self.shift.to(self.weight.dtype)
        return self.weight * scale.view(-1, 1, 1, 1), self.bias * scale + shift

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, *self.folded_weights())


class CompactEncoder(nn.Module):
    """A narrow VGG trunk to relu4_1 whose taps are projected into the teacher's feature space.

    Args:
        width: fraction of the teacher's channels in the trunk (:func:`compact_channels`).
        kind: ``"vgg"`` (3x3 convolutions) or ``"separable"`` (depthwise 3x3 + pointwise 1x1 after
            the first convolution).
        convs_per_block: 3x3 convolutions in blocks 1..3 (block 4 has conv4_1 only), as in
            :class:`~adain.models.EncoderArchitecture`; vgg16's by default.
        pool_ceil_mode: the teacher's pooling (vgg16-hed rounds up), so odd sizes give the
            teacher's tap sizes.

    Example:
        >>> encoder = CompactEncoder()
        >>> {tap: tuple(f.shape) for tap, f in encoder(torch.rand(1, 3, 16, 24)).items()}
        {'relu1_1': (1, 64, 16, 24), 'relu2_1': (1, 128, 8, 12), 'relu3_1': (1, 256, 4, 6), 'relu4_1': (1, 512, 2, 3)}
    """

    def __init__(
        self,
        width: float = DEFAULT_WIDTH,
        kind: str = "vgg",
        convs_per_block: Sequence[int] = (2, 2, 3),
        pool_ceil_mode: bool = True,
    ) -> None:
        super().__init__()
        if kind not in COMPACT_ENCODER_KINDS:
            raise UsageError(f"encoder kind must be one of {', '.join(COMPACT_ENCODER_KINDS)}. Got {kind!r}")
        if len(convs_per_block) != 3 or any(
            isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in convs_per_block
        ):
            raise UsageError(f"convs per block must be three counts >= 1. Got {list(convs_per_block)}")
        self.width, self.kind = float(width), kind
        self.convs_per_block, self.pool_ceil_mode = tuple(convs_per_block), pool_ceil_mode
        self.channels = compact_channels(width)
        norm = STUDENT_NORMALIZATION
        self.register_buffer("input_scale", torch.tensor([1 / s for s in norm.std]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer(
            "input_shift", torch.tensor([m / s for m, s in zip(norm.mean, norm.std)]).view(1, 3, 1, 1), persistent=False
        )
        convs: dict[str, nn.Module] = {}
        in_channels = 3
        for block, count in enumerate((*self.convs_per_block, 1), start=1):
            out_channels = self.channels[f"relu{block}_1"]
            for index in range(1, count + 1):
                first = in_channels == 3
                convs[f"conv{block}_{index}"] = (
                    nn.Conv2d(in_channels, out_channels, 3, padding=1)
                    if kind == "vgg" or first
                    else nn.Sequential(
                        nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels),
                        nn.Conv2d(in_channels, out_channels, 1),
                    )
                )
                in_channels = out_channels
        self.convs = nn.ModuleDict(convs)
        self.projections = nn.ModuleDict({tap: TapProjection(self.channels[tap], TAP_CHANNELS[tap]) for tap in _TAPS})

    def config(self) -> dict[str, Any]:
        """The constructor's arguments (what a weights manifest records to rebuild it)."""
        return {
            "architecture": "compact-encoder",
            "width": self.width,
            "kind": self.kind,
            "convs_per_block": list(self.convs_per_block),
            "pool_ceil_mode": self.pool_ceil_mode,
        }

    def normalize_input(self, image: Tensor) -> Tensor:
        return image * self.input_scale.to(image.dtype) - self.input_shift.to(image.dtype)

    def forward(
        self, image: Tensor, last_tap: str = "relu4_1", taps: Collection[str] | None = None
    ) -> dict[str, Tensor]:
        """Teacher-space features at each tap up to ``last_tap``, or at ``taps`` only (the others'
        projections are skipped: relu1_1's, a 64-channel map at full resolution, is the costliest
        layer of a fast stylization whose decoder does not take it), for RGB ``image`` in [0, 1],
        ``(B, 3, H, W)``."""
        wanted = requested_taps(last_tap, taps)
        last_tap = wanted[-1]
        # normalised in float32, then run in the weights' dtype (a bf16 copy takes fp32 images)
        x = self.normalize_input(image.float()).to(self.projections["relu1_1"].weight.dtype)
        features: dict[str, Tensor] = {}
        previous_block = 1
        for name, conv in self.convs.items():
            block = int(name[4])
            if block != previous_block:
                x = F.max_pool2d(x, 2, 2, ceil_mode=self.pool_ceil_mode)
                previous_block = block
            # one oneDNN call each in a CPU inference copy (adain.models.fusion), the projection's
            # scale folded in once; conv then in-place ReLU otherwise
            x = conv_relu(conv, x)
            if name.endswith("_1"):
                tap = f"relu{block}_1"
                if tap in wanted:
                    features[tap] = conv_relu(self.projections[tap], x)
                if tap == last_tap:
                    break
        return features

    def relu4_1(self, image: Tensor) -> Tensor:
        return self.forward(image)["relu4_1"]

    @torch.no_grad()
    def calibrate(self, teacher_taps: dict[str, Tensor]) -> None:
        """Set each projection's output ``scale`` and ``shift`` to the teacher's channel std and mean
        over ``teacher_taps`` (a batch of the teacher's features, ``(B, C, H, W)`` per tap); a
        channel's std is floored at a hundredth of the tap's mean std (a channel that is zero on the
        batch keeps a usable scale)."""
        for tap, projection in self.projections.items():
            variance, mean = torch.var_mean(teacher_taps[tap].float(), dim=(0, 2, 3))
            std = variance.sqrt()
            projection.scale.copy_(torch.maximum(std, 0.01 * std.mean() + 1e-6))
            projection.shift.copy_(mean)

    def flops(self, height: int, width: int) -> int:
        """Convolution FLOPs of one forward pass to relu4_1 on a ``height x width`` image."""
        total = 0
        for name, conv in self.convs.items():
            scale = 2 ** (int(name[4]) - 1)
            size = (
                (-(-height // scale), -(-width // scale)) if self.pool_ceil_mode else (height // scale, width // scale)
            )
            total += sum(_conv_flops(m, *size) for m in conv.modules() if isinstance(m, nn.Conv2d))
            if name.endswith("_1"):
                total += _conv_flops(self.projections[f"relu{name[4]}_1"], *size)
        return total


class CompactMultiLevelDecoder(nn.Module):
    """The multi-level decoder's shape at ``width`` times its channels, taking the same inputs.

    ``forward(relu4_1, *skips)`` takes the AdaIN'd features at :attr:`input_taps` in that order
    (512 channels at relu4_1, 256 / 128 / 64 at relu3_1 / relu2_1 / relu1_1) and returns RGB,
    unclamped. The layers (``layers.N``: reflection pad, 3x3 conv, ReLU, nearest 2x upsample) mirror
    the teacher's; each upsampling convolution runs folded (:func:`~adain.models.decoder.upsample_conv2d`).
    Each skip is a 1x1 convolution from the tap's channels onto the decoder's, added after the
    first convolution at that resolution, as in :class:`~adain.models.MultiLevelDecoder`, without
    its gate: a student is trained from scratch, there is no decoder to start as.

    Example:
        >>> decoder = CompactMultiLevelDecoder()
        >>> features = [torch.rand(1, 512, 2, 3), torch.rand(1, 256, 4, 6), torch.rand(1, 128, 8, 12), torch.rand(1, 64, 16, 24)]
        >>> decoder.input_taps, tuple(decoder(*features).shape)
        (('relu4_1', 'relu3_1', 'relu2_1', 'relu1_1'), (1, 3, 16, 24))
    """

    def __init__(
        self,
        width: float = DEFAULT_WIDTH,
        skip_taps: Sequence[str] = SKIP_TAPS,
        convs_per_block: Sequence[int] = (2, 2, 3),
    ) -> None:
        super().__init__()
        unknown = sorted(set(skip_taps) - set(SKIP_TAPS))
        if unknown or not skip_taps:
            raise ShapeError(f"skip taps must be a non-empty subset of {', '.join(SKIP_TAPS)}. Got {list(skip_taps)}")
        if len(convs_per_block) != 3 or any(
            isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in convs_per_block
        ):
            raise UsageError(f"convs per block must be three counts >= 1. Got {list(convs_per_block)}")
        self.width, self.convs_per_block = float(width), tuple(convs_per_block)
        self.channels = compact_channels(width)
        #: the skip taps, deepest first (the order ``forward`` takes them in)
        self.skip_taps = tuple(tap for tap in SKIP_TAPS if tap in skip_taps)
        # the teacher's decoder_conv_shapes at the student's channels; upsample after each block
        c3, c2, c1 = (self.channels[tap] for tap in SKIP_TAPS)
        n3, n2, n1 = reversed(self.convs_per_block)
        shapes = [(TAP_CHANNELS["relu4_1"], c3)]
        shapes += [(c3, c3)] * (n3 - 1) + [(c3, c2)]
        shapes += [(c2, c2)] * (n2 - 1) + [(c2, c1)]
        shapes += [(c1, c1)] * (n1 - 1) + [(c1, 3)]
        upsample_after = {0, n3, n3 + n2}
        layers: list[nn.Module] = []
        for index, (in_channels, out_channels) in enumerate(shapes):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(in_channels, out_channels, 3)]
            if index < len(shapes) - 1:
                layers.append(nn.ReLU(inplace=True))
            if index in upsample_after:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        self.layers = nn.Sequential(*layers)
        self.skips = nn.ModuleDict({tap: nn.Conv2d(TAP_CHANNELS[tap], self.channels[tap], 1) for tap in self.skip_taps})
        #: a fixed factor per input tap (a buffer, saved with the weights; :meth:`calibrate`)
        self.register_buffer("input_scale", torch.ones(len(self.input_taps)))

    @property
    def input_taps(self) -> tuple[str, ...]:
        return ("relu4_1", *self.skip_taps)

    def config(self) -> dict[str, Any]:
        """The constructor's arguments (what a weights manifest records to rebuild it)."""
        return {
            "architecture": "compact-multilevel-decoder",
            "width": self.width,
            "skip_taps": list(self.skip_taps),
            "convs_per_block": list(self.convs_per_block),
        }

    @torch.no_grad()
    def calibrate(self, inputs: Sequence[Tensor]) -> None:
        """Set :attr:`input_scale` to one over each input's root mean square over a batch of the
        inputs the decoder will be trained on (the AdaIN'd teacher features at :attr:`input_taps`).

        Why: vgg16-hed's features run to the hundreds; a freshly initialised decoder would start
        with outputs far outside [0, 1] and spend its first steps shrinking its weights (measured:
        pixel L1 6.5 at the first step). Scaled to unit RMS it starts near the image range. The
        factor is folded into the first convolution's input and the skips' weights.
        """
        for index, x in enumerate(inputs):
            self.input_scale[index] = 1.0 / x.float().pow(2).mean().sqrt().clamp_min(1e-6)

    def forward(self, features: Tensor, *skip_features: Tensor) -> Tensor:
        """RGB (unclamped) from the AdaIN'd features at :attr:`input_taps`, in that order."""
        if len(skip_features) != len(self.skip_taps):
            raise ShapeError(
                f"this decoder takes features at {', '.join(self.input_taps)}: got {1 + len(skip_features)} tensors"
            )
        dtype = self.layers[1].weight.dtype
        scales = self.input_scale.to(dtype)
        skips = dict(zip(self.skip_taps, skip_features))
        x = features.to(dtype) * scales[0]
        upsampled = 0  # the k-th upsampling reaches SKIP_TAPS[k]'s resolution
        for layer in _fused_layers(list(self.layers)):
            if isinstance(layer, _FoldOnTheFly):  # folded from the trained 3x3 weights: gradients reach them
                weight, bias = fold_upsampling_weights(layer.conv.weight, layer.conv.bias)
                x = upsample_conv2d(x, weight, bias, layer.reflect_pad_output)
                padded = layer.reflect_pad_output
            elif isinstance(layer, UpsampleConv2d):  # an inference copy folded once (fuse_upsampling)
                x = layer(x)
                padded = layer.reflect_pad_output
            else:
                x = layer(x)
                continue
            tap = SKIP_TAPS[upsampled]
            upsampled += 1
            if tap in skips:
                conv, scale = self.skips[tap], scales[self.input_taps.index(tap)]
                addend = skip_conv1x1(skips[tap], conv.weight * scale, conv.bias, dtype)
                if padded:  # the upsampling conv returned its output reflection-padded already
                    addend = F.pad(addend, (1, 1, 1, 1), mode="reflect")
                if addend.shape != x.shape:
                    raise ShapeError(
                        f"{tap} features {tuple(skips[tap].shape)} do not fit the decoder's map "
                        f"{tuple(x.shape)} at that resolution"
                    )
                x = x + addend
        return x

    def flops(self, height: int, width: int) -> int:
        """Convolution FLOPs of one pass producing a ``height x width`` image (``height`` and
        ``width`` multiples of 8), the skips' 1x1 convolutions included."""
        total, scale = 0, 8
        for layer in self.layers:
            if isinstance(layer, nn.Upsample):
                scale //= 2
            elif isinstance(layer, nn.Conv2d):
                total += _conv_flops(layer, height // scale, width // scale)
        scales = {"relu3_1": 4, "relu2_1": 2, "relu1_1": 1}
        for tap, conv in self.skips.items():
            total += _conv_flops(conv, height // scales[tap], width // scales[tap])
        return total


def build_compact(config: dict[str, Any]) -> CompactEncoder | CompactMultiLevelDecoder:
    """A fresh module from its :meth:`~CompactEncoder.config` (e.g. read back from a manifest).

    Example:
        >>> build_compact(CompactMultiLevelDecoder(0.5, ["relu3_1"]).config()).input_taps
        ('relu4_1', 'relu3_1')
    """
    architecture = config.get("architecture")
    try:
        if architecture == "compact-encoder":
            return CompactEncoder(
                float(config["width"]),
                str(config.get("kind", "vgg")),
                tuple(config.get("convs_per_block", (2, 2, 3))),
                bool(config.get("pool_ceil_mode", True)),
            )
        if architecture == "compact-multilevel-decoder":
            return CompactMultiLevelDecoder(
                float(config["width"]),
                tuple(config.get("skip_taps", SKIP_TAPS)),
                tuple(config.get("convs_per_block", (2, 2, 3))),
            )
    except (UsageError, ShapeError):
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise UsageError(f"not a compact module's config ({error!r}): {config!r}") from None
    raise UsageError(f"architecture must be compact-encoder or compact-multilevel-decoder. Got {architecture!r}")
