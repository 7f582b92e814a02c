"""Convolution + ReLU as one oneDNN call, for the CPU inference copies (:func:`~adain.models.inference_copy`).

Why: every convolution of the encoders and all but the last of the decoders is followed by a
ReLU, and a separate ReLU is one more pass over each feature map, read and written back. oneDNN
applies the ReLU to each block of the convolution's output while it is still in cache: that is
``torch.ops.mkldnn._convolution_pointwise(..., "relu", ...)``, the op torch inductor's oneDNN
conv + ReLU fusion emits. Measured on the 2-core AVX512-BF16/AMX CPU (torch 2.13, channels-last,
inference mode), unfused -> fused, the outputs bit-identical:

=======================  ===============  ===============
convolution              bf16 (ms)        fp32 (ms)
=======================  ===============  ===============
16->16 3x3, 1024x1024    24.6 -> 15.6     42.9 -> 40.1
32->128 1x1, 512x512     41.4 -> 23.9     53.2 -> 44.7
64->256 1x1, 256x256     22.2 -> 13.4     31.0 -> 27.4
=======================  ===============  ===============

A second micro-benchmark (2026-12-03, the machine busy with two training jobs, so the numbers
are noisy) at half those sizes: bf16 24.0 -> 13.6, 28.0 -> 16.0, 23.3 -> 12.1 ms; fp32
channels-last 28.0 -> 24.0, 23.5 -> 27.9 (noise), 21.4 -> 14.2 ms; fp32 NCHW 60.0 -> 47.3,
66.7 -> 59.9, 48.6 -> 36.5 ms (equal to float rounding there). Whole inference copies, median of
5 interleaved runs, unfused -> fused: bf16 vgg16-hed encoder at 256x256 111 -> 71 ms, its plain
decoder (to 256x256) 81 -> 49 ms; the compact encoder at 384x384 339 -> 228 ms (bf16), 359 ->
257 ms (fp32); the compact decoder with all three skips 444 -> 420 ms (bf16: its upsampling
convolutions keep their ReLUs apart, a skip comes between). In a profile of the ``fast`` preset
at 1024x1024 in bf16 the separate ReLU passes were about 70 ms of 310 ms.

The fused op is used only where it computes what the unfused layers compute and nothing needs
more than that output; everywhere else :func:`conv2d_relu` runs ``relu(conv2d(x))`` unfused,
silently:

* the op has no derivative (backpropagating through it gives no gradient, with only a
  warning): a call that needs a gradient (the frozen bf16 encoder copy in training, through
  which the losses reach the decoder) runs unfused;
* tracing (the ONNX exporter) and ``torch.compile`` (inductor fuses by itself) see plain
  ``conv2d`` + ``relu``;
* tensors off the CPU, oneDNN disabled (``torch.backends.mkldnn.enabled``) or missing, or an
  op that is absent or fails a one-time tiny probe in that dtype (:func:`fused_conv_relu_available`).

Only the inference copies hold :class:`FusedConvReLU` modules (swapped in by
:func:`~adain.models.inference_copy`); the training modules and the weight files keep
``Conv2d`` + ``ReLU``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FusedConvReLU", "conv2d_relu", "conv_relu", "fused_conv_relu_available"]

#: the oneDNN op in ``torch.ops.mkldnn`` (a module attribute: tests point it at a missing op)
_OP_NAME = "_convolution_pointwise"


def fused_conv_relu_available(dtype: torch.dtype) -> bool:
    """Whether this torch has the fused oneDNN conv + ReLU op and a tiny call of it in ``dtype``
    on the CPU gives what ``relu(conv2d(x))`` gives (probed once per dtype).

    Example:
        >>> isinstance(fused_conv_relu_available(torch.float32), bool)
        True
    """
    return _probe(_OP_NAME, dtype)


@functools.cache
def _probe(name: str, dtype: torch.dtype) -> bool:
    if not torch.backends.mkldnn.is_available() or not hasattr(torch.ops.mkldnn, name):
        return False
    generator = torch.Generator().manual_seed(0)
    x, weight = (torch.randn(shape, generator=generator) for shape in ((1, 8, 5, 5), (8, 8, 3, 3)))
    bias = torch.randn(8, generator=generator)
    try:
        with torch.no_grad():
            x, weight, bias = (t.to(dtype) for t in (x, weight.contiguous(memory_format=torch.channels_last), bias))
            fused = getattr(torch.ops.mkldnn, name)(x, weight, bias, [1, 1], [1, 1], [1, 1], 1, "relu", [], "")
            unfused = F.relu(F.conv2d(x, weight, bias, padding=1))
            return fused.shape == unfused.shape and torch.allclose(fused.float(), unfused.float(), atol=0.05, rtol=0.02)
    except (RuntimeError, NotImplementedError, TypeError, ValueError):  # not in this build, dtype or CPU
        return False


def _fusable(x: Tensor, weight: Tensor, bias: Tensor | None) -> bool:
    """Whether ``relu(conv2d(x, weight, bias))`` may run as the fused op now (see the module docstring)."""
    if torch.compiler.is_compiling() or torch.jit.is_tracing():
        return False
    if x.device.type != "cpu" or weight.device.type != "cpu" or x.dtype != weight.dtype:
        return False
    if torch.is_grad_enabled() and (
        x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
    ):
        return False
    return bool(torch.backends.mkldnn.enabled) and fused_conv_relu_available(x.dtype)


def conv2d_relu(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Sequence[int] = (1, 1),
    padding: Sequence[int] = (0, 0),
    dilation: Sequence[int] = (1, 1),
    groups: int = 1,
) -> Tensor:
    """``relu(conv2d(x, ...))`` (zero padding), in one oneDNN call where that is allowed (see the
    module docstring), else a convolution and an in-place ReLU on its fresh output.

    Example:
        >>> x, weight = torch.randn(1, 4, 6, 6), torch.randn(8, 4, 3, 3)
        >>> fused = conv2d_relu(x, weight, padding=(1, 1))
        >>> torch.allclose(fused, F.relu(F.conv2d(x, weight, padding=1)), atol=1e-4)
        True
    """
    stride, padding, dilation = list(stride), list(padding), list(dilation)
    if _fusable(x, weight, bias):
        op = getattr(torch.ops.mkldnn, _OP_NAME)
        return op(x, weight, bias, padding, stride, dilation, groups, "relu", [], "")
    return F.relu(F.conv2d(x, weight, bias, stride, padding, dilation, groups), inplace=True)


class FusedConvReLU(nn.Module):
    """A zero-padded convolution and its ReLU as one module: :func:`conv2d_relu` with its weights.

    For inference copies only (:func:`~adain.models.inference_copy` swaps them in): its parameters
    are frozen, and it is not a ``Conv2d`` (its output is rectified), so code that reads a
    ``Conv2d``'s weights to convolve by itself does not mistake it for one.

    Example:
        >>> conv = nn.Conv2d(4, 8, 3, padding=1)
        >>> x = torch.randn(1, 4, 6, 6)
        >>> torch.allclose(FusedConvReLU.from_conv(conv)(x), torch.relu(conv(x)), atol=1e-4)
        True
    """

    def __init__(
        self,
        weight: Tensor,
        bias: Tensor | None = None,
        stride: Sequence[int] = (1, 1),
        padding: Sequence[int] = (0, 0),
        dilation: Sequence[int] = (1, 1),
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.detach().clone(), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)
        self.stride, self.padding, self.dilation = tuple(stride), tuple(padding), tuple(dilation)
        self.groups = groups

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, weight: Tensor | None = None, bias: Tensor | None = None) -> FusedConvReLU:
        """``conv`` followed by a ReLU; ``weight`` and ``bias``, if given, instead of ``conv``'s
        (e.g. :class:`~adain.models.compact.TapProjection`'s, its fixed scale folded in)."""
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError(f"a fused convolution pads by zeros, by a given amount, not as {conv}")
        return cls(
            conv.weight if weight is None else weight,
            conv.bias if bias is None and weight is None else bias,
            conv.stride,
            conv.padding,  # type: ignore[arg-type]
            conv.dilation,
            conv.groups,
        )

    def extra_repr(self) -> str:
        out_channels, in_channels, *kernel = self.weight.shape
        return (
            f"{in_channels * self.groups}, {out_channels}, kernel_size={tuple(kernel)}, stride={self.stride}, "
            f"padding={self.padding}, groups={self.groups}, bias={self.bias is not None}, then relu"
        )

    def forward(self, x: Tensor, padding: Sequence[int] | None = None) -> Tensor:
        """``relu(conv(x))``; ``padding`` (zeros) instead of the module's own, if given."""
        padding = self.padding if padding is None else padding
        return conv2d_relu(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


def conv_relu(conv: nn.Module, x: Tensor, padding: int | None = None) -> Tensor:
    """``relu(conv(x))`` for the forwards that serve a training module and its inference copy
    alike: one fused call when ``conv`` is a :class:`FusedConvReLU` (an inference copy's), else
    ``conv`` and an in-place ReLU on its fresh output.

    ``padding``: zero padding on each side instead of the convolution's own (a
    :class:`~adain.models.VGGEncoder`'s convolutions are built unpadded and padded by the forward).

    Example:
        >>> conv = nn.Conv2d(4, 8, 3)
        >>> x = torch.randn(1, 4, 6, 6)
        >>> fused = FusedConvReLU.from_conv(conv)
        >>> torch.allclose(conv_relu(conv, x, padding=1), conv_relu(fused, x, padding=1), atol=1e-4)
        True
    """
    if isinstance(conv, FusedConvReLU):
        return conv(x, None if padding is None else (padding, padding))
    if padding is None:
        return F.relu(conv(x), inplace=True)
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"an explicit padding needs a Conv2d, not {type(conv).__name__}")
    output = F.conv2d(x, conv.weight, conv.bias, conv.stride, padding, conv.dilation, conv.groups)
    return F.relu(output, inplace=True)
