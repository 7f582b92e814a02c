"""Reduced-precision inference copies of the networks.

On CPUs with native bf16 (AVX512-BF16, AMX) a bf16 convolution in channels_last layout runs
about twice as fast as fp32 (measured: ``adain bench``); the pipeline then runs a bf16 copy and
keeps the fp32 network for what needs full precision (gradients for L-BFGS, reference losses).
"""

from __future__ import annotations

import copy
from typing import TypeVar

import torch
from torch import nn

from adain.models.compact import CompactEncoder, CompactMultiLevelDecoder
from adain.models.decoder import Decoder, fuse_conv_relu_layers, fuse_upsampling
from adain.models.encoder import VGGEncoder
from adain.models.fusion import FusedConvReLU, fused_conv_relu_available
from adain.models.multilevel_decoder import SKIP_TAPS

__all__ = ["inference_copy", "native_bf16"]

NetworkT = TypeVar("NetworkT", bound=nn.Module)


def inference_copy(network: NetworkT, dtype: torch.dtype = torch.bfloat16) -> NetworkT:
    """A frozen copy of ``network`` with floating weights in ``dtype`` and 4-D weights channels_last.

    A decoder's copy (:class:`~adain.models.Decoder`, :class:`~adain.models.MultiLevelDecoder`,
    :class:`~adain.models.CompactMultiLevelDecoder`) also has its upsampling convolutions folded
    (:func:`~adain.models.decoder.fuse_upsampling`: the same function, half the work there).

    On the CPU, where the fused oneDNN op works in ``dtype`` (:mod:`adain.models.fusion`), each
    convolution the forward follows by a ReLU runs with it as one call (measured per layer: bf16
    37-42% less time, fp32 7-16%; bit-identical outputs channels-last, float rounding in NCHW
    fp32): an encoder's convolutions (a :class:`~adain.models.compact.TapProjection` too, its
    scale and shift folded into the weights once), a decoder's convolutions, and its upsampling
    convolutions but those a skip is added to before the ReLU (:func:`_fuse_conv_relu`). The copy
    then holds :class:`~adain.models.fusion.FusedConvReLU` modules in place of those convolutions
    (another state dict; copies are for running, not saving); a call that needs a gradient,
    tracing and ``torch.compile`` run them unfused.

    Buffers (e.g. the encoder's input normalisation) stay float32: they act on images before the
    first convolution. The encoder and decoder cast their inputs to their weights' dtype, so the
    copy takes the same fp32 inputs as the original and returns ``dtype`` outputs.
    """
    duplicate = copy.deepcopy(network).eval()
    if isinstance(duplicate, (Decoder, CompactMultiLevelDecoder)):
        fuse_upsampling(duplicate)
    on_cpu = all(parameter.device.type == "cpu" for parameter in duplicate.parameters())
    if on_cpu and fused_conv_relu_available(dtype):
        _fuse_conv_relu(duplicate)  # before the cast: a TapProjection's scale folds in at full precision
    for parameter in duplicate.parameters():
        parameter.requires_grad_(False)
        parameter.data = parameter.data.to(dtype)
        if parameter.dim() == 4:
            parameter.data = parameter.data.contiguous(memory_format=torch.channels_last)
    return duplicate


def _fuse_conv_relu(network: nn.Module) -> None:
    """Swap each convolution that ``network``'s forward follows by a ReLU for a
    :class:`~adain.models.fusion.FusedConvReLU` (in place; the forwards call
    :func:`~adain.models.fusion.conv_relu` or run the decoders' ``layers`` in order)."""
    if isinstance(network, VGGEncoder):  # every conv; the leading 1x1 (input normalisation) has no ReLU
        for name, conv in list(network.convs.items()):
            network.convs[name] = FusedConvReLU.from_conv(conv)  # type: ignore[arg-type]
    elif isinstance(network, CompactEncoder):
        for name, conv in list(network.convs.items()):
            if type(conv) is nn.Conv2d:  # a separable block (depthwise, pointwise) stays as it is
                network.convs[name] = FusedConvReLU.from_conv(conv)
        for tap, projection in list(network.projections.items()):
            with torch.no_grad():
                weight, bias = projection.folded_weights()  # type: ignore[operator]
            network.projections[tap] = FusedConvReLU.from_conv(projection, weight, bias)  # type: ignore[arg-type]
    elif isinstance(network, (Decoder, CompactMultiLevelDecoder)):
        # a multi-level decoder adds the k-th skip after the k-th upsampling conv, before its ReLU
        skip_taps = getattr(network, "skip_taps", ())
        fuse_conv_relu_layers(network, {k for k, tap in enumerate(SKIP_TAPS) if tap in skip_taps})


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively (emulated bf16 on older CPUs is slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    try:
        with open("/proc/cpuinfo") as cpuinfo:  # Linux; elsewhere fp32 unless asked for
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
