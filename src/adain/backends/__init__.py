"""Runtimes other than torch for the encoder and decoder, behind the torch modules' interface.

The pipeline runs the same steps on every backend; only the two network calls change. A backend
provides stand-ins with the call signatures of the torch modules (``encoder(image, last_tap=...)
-> {tap: features}``, ``decoder(relu4_1, *skips) -> image``, ``input_taps``), so the pipeline asks
this package for them by name and never names a backend's classes. Today: ``"onnxruntime"``
(:mod:`adain.backends.onnx_runtime`, with the exporter in :mod:`adain.backends.onnx_export`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from adain.errors import UsageError

__all__ = ["RUNTIME_BACKENDS", "check_runtime_backend", "runtime_networks"]

#: The backends this package provides (``"torch"`` is the modules themselves).
RUNTIME_BACKENDS = ("onnxruntime",)


def check_runtime_backend(backend: str, device: torch.device) -> None:
    """Fail before any weights are loaded when ``backend`` cannot run here.

    Raises:
        UsageError: an unknown backend, or a device it cannot use.
        MissingDependencyError: the backend's package is not installed.
    """
    if backend not in RUNTIME_BACKENDS:
        raise UsageError(f"unknown runtime backend {backend!r}; expected one of {', '.join(RUNTIME_BACKENDS)}")
    from adain.backends.onnx_runtime import check_backend_available

    check_backend_available(device)


def runtime_networks(
    backend: str, encoder: nn.Module, decoder: nn.Module, preset: str, options: Any = None, home: Path | None = None
) -> tuple[Any, Any]:
    """``(encoder, decoder)`` stand-ins running the torch modules' weights on ``backend``.

    ``options``: the backend's options (for onnxruntime an
    :class:`~adain.backends.onnx_runtime.OnnxBackendOptions`; ``None``: its defaults, with the
    export cache under ``<home>/onnx`` when ``home`` is given).
    """
    check_runtime_backend(backend, torch.device("cpu"))
    from adain.backends.onnx_runtime import OnnxBackendOptions, onnx_modules

    options = options or OnnxBackendOptions()
    if options.cache_dir is None and home is not None:
        options = replace(options, cache_dir=Path(home) / "onnx")
    return onnx_modules(encoder, decoder, preset, options)
