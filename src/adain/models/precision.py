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

from adain.models.decoder import Decoder, fuse_upsampling

__all__ = ["inference_copy", "native_bf16"]

NetworkT = TypeVar("NetworkT", bound=nn.Module)


def inference_copy(network: NetworkT, dtype: torch.dtype = torch.bfloat16) -> NetworkT:
    """A frozen copy of ``network`` with floating weights in ``dtype`` and 4-D weights channels_last.

    A :class:`~adain.models.Decoder` copy also has its upsampling convolutions folded
    (:func:`~adain.models.decoder.fuse_upsampling`: the same function, half the work there).

    Buffers (e.g. the encoder's input normalisation) stay float32: they act on images before the
    first convolution. The encoder and decoder cast their inputs to their weights' dtype, so the
    copy takes the same fp32 inputs as the original and returns ``dtype`` outputs.
    """
    duplicate = copy.deepcopy(network).eval()
    if isinstance(duplicate, Decoder):
        fuse_upsampling(duplicate)
    for parameter in duplicate.parameters():
        parameter.requires_grad_(False)
        parameter.data = parameter.data.to(dtype)
        if parameter.dim() == 4:
            parameter.data = parameter.data.contiguous(memory_format=torch.channels_last)
    return duplicate


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
