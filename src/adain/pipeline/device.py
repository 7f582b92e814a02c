"""Which device and precision the pipeline runs on: checked before any weights are loaded."""

from __future__ import annotations

import torch

from adain.errors import UsageError
from adain.models.precision import native_bf16

__all__ = ["BACKENDS", "PRECISIONS", "check_device", "resolve_precision"]

#: What runs the encoder and decoder (see :meth:`~adain.pipeline.stylize.StylizationPipeline.from_preset`);
#: "auto": the fastest way measured on this machine (:mod:`adain.pipeline.autotune`)
BACKENDS = ("auto", "torch", "onnxruntime")
#: "auto": bf16 where the hardware runs it natively (CPUs with AVX512-BF16/AMX, CUDA GPUs with
#: bf16), fp32 elsewhere and on onnxruntime
PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: torch.device, backend: str = "torch") -> str:
    """``"fp32"`` or ``"bf16"``: what ``precision`` (:data:`PRECISIONS`) means on ``device``."""
    if precision == "auto":
        return "bf16" if backend == "torch" and native_bf16(device) else "fp32"
    return precision


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device`` that is there; a :class:`UsageError` otherwise."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise UsageError(f"unknown device {device!r}: {error}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {str(device)!r} is not available (no CUDA GPU visible to torch)")
    if resolved.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise UsageError(f"device {str(device)!r} is not available")
    return resolved
