"""Export the encoder, the decoder or the whole AdaIN pipeline to ONNX.

Three parts can be exported, all with dynamic batch, height and width:

``encoder``
    ``image (B, 3, H, W)`` RGB in [0, 1] -> ``relu1_1``, ``relu2_1``, ``relu3_1``, ``relu4_1``
    (the four taps, as named outputs).
``decoder``
    ``relu4_1 (B, 512, h, w)`` -> ``image (B, 3, 8h, 8w)`` (unclamped, like the torch decoder).
    A :class:`~adain.models.MultiLevelDecoder` takes one input per tap of its
    :attr:`~adain.models.MultiLevelDecoder.input_taps`, named after the tap and in that order
    (``relu4_1 (B, 512, h, w)``, ``relu3_1 (B, 256, 2h, 2w)``, ``relu2_1 (B, 128, 4h, 4w)``,
    ``relu1_1 (B, 64, 8h, 8w)``: the AdaIN'd features at each tap's resolution).
``pipeline``
    ``content (B, 3, H, W)`` in [0, 1], ``style_mean`` and ``style_std`` ``(1 or B, 512, 1, 1)``
    (the style's relu4_1 statistics, e.g. from a style bank), ``alpha (1,)`` -> ``image (B, 3,
    H, W)`` clamped to [0, 1]: encoder, AdaIN, alpha blend and decoder in one graph. With a
    multi-level decoder AdaIN runs at every tap it takes, so the graph has a
    ``style_mean_<tap>`` and ``style_std_<tap>`` ``(1 or B, C, 1, 1)`` pair for each of its skip
    taps after those four inputs (the plain graph's inputs stay a prefix of it).

The decoder and pipeline graphs record the decoder's taps as ``adain.decoder_input_taps``
(comma-separated) and its kind as ``adain.decoder_architecture`` (``plain`` or ``multilevel``).

The graphs do not pad: ``H`` and ``W`` must be multiples of 8 for the output to have the
input's size (the torch pipeline reflect-pads on the right and bottom and crops back; the
Python wrapper :class:`adain.backends.onnx_runtime.OnnxPipelineModel` does the same around the
``pipeline`` graph).

Every exported file carries its provenance as ONNX metadata (``adain.preset``, ``adain.part``,
``adain.encoder_sha256`` and/or ``adain.decoder_sha256``, ``adain.opset``, ...), so the
onnxruntime backend refuses a file made for another preset, part or set of weights. The sha256
values are of the weights themselves (:func:`weights_sha256`), not of a file: the same decoder
stored as fp16 safetensors or as a ``.pth`` has one hash.

Export uses PyTorch's TorchScript-based exporter (``dynamo=False``), which needs only the
``onnx`` package (installed with the ``onnx`` extra) and gives plain static graphs.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from adain._checks import is_int
from adain._version import __version__
from adain.errors import MissingDependencyError, OutputError, UsageError
from adain.models import TAP_CHANNELS, TAP_SCALES, Decoder, VGGEncoder, decoder_input_taps
from adain.ops.statistics import adain_from_statistics
from adain.ops.taps import TAPS
from adain.weights.store import atomic_write_bytes

__all__ = [
    "DEFAULT_OPSET",
    "MAX_OPSET",
    "METADATA_PREFIX",
    "MIN_OPSET",
    "ONNX_EXTRA_HINT",
    "ONNX_PARTS",
    "OnnxExport",
    "PipelineGraph",
    "check_opset",
    "check_part",
    "decoder_kind",
    "export_onnx",
    "graph_input_names",
    "require_module",
    "weights_sha256",
]

#: What can be exported (see the module docstring).
ONNX_PARTS = ("encoder", "decoder", "pipeline")

#: Opset 17 runs on onnxruntime >= 1.12 and TensorRT >= 8.5; 13 is the oldest with everything
#: the graphs use (reflection Pad, Resize, ReduceMean) in its current form.
DEFAULT_OPSET = 17
MIN_OPSET = 13
#: The newest opset PyTorch's TorchScript exporter writes (20 in torch 2.4 to 2.13; a constant,
#: because importing torch.onnx to ask would slow down every `adain` command).
MAX_OPSET = 20

#: Keys of the ONNX metadata written on export start with this.
METADATA_PREFIX = "adain."

ONNX_EXTRA_HINT = "pip install 'adain[onnx]'"

#: Input and output names of each part for the paper's decoder (the runtime feeds and reads by
#: name); :func:`graph_input_names` adds a multi-level decoder's skip taps.
INPUT_NAMES = {
    "encoder": ["image"],
    "decoder": ["relu4_1"],
    "pipeline": ["content", "style_mean", "style_std", "alpha"],
}
OUTPUT_NAMES = {"encoder": list(TAPS), "decoder": ["image"], "pipeline": ["image"]}


def decoder_kind(decoder: nn.Module) -> str:
    """``"plain"`` for the paper's decoder (input relu4_1 alone), else ``"multilevel"``."""
    return "plain" if decoder_input_taps(decoder) == ("relu4_1",) else "multilevel"


def graph_input_names(part: str, decoder_taps: tuple[str, ...] = ("relu4_1",)) -> list[str]:
    """The input names of ``part``'s graph for a decoder taking ``decoder_taps``.

    A multi-level decoder's skip taps come after the plain graph's inputs, so a file exported
    from the paper's decoder keeps the names (and order) it always had.
    """
    skips = [tap for tap in decoder_taps if tap != "relu4_1"]
    if part == "decoder":
        return ["relu4_1", *skips]
    if part == "pipeline":
        return [*INPUT_NAMES["pipeline"], *(f"style_{which}_{tap}" for tap in skips for which in ("mean", "std"))]
    return list(INPUT_NAMES[part])


def require_module(name: str, purpose: str) -> ModuleType:
    """Import the optional package ``name`` or raise a one-line error naming the extra to install.

    Raises:
        MissingDependencyError: ``name`` cannot be imported.
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        raise MissingDependencyError(
            f"{purpose} needs the optional package {name!r} (the 'onnx' extra): {ONNX_EXTRA_HINT}"
        ) from None


def check_part(part: str) -> str:
    if part not in ONNX_PARTS:
        raise UsageError(f"unknown ONNX part {part!r}; expected one of {', '.join(ONNX_PARTS)}")
    return part


def check_opset(opset: int) -> int:
    if not is_int(opset, MIN_OPSET, MAX_OPSET):
        raise UsageError(f"opset must be an integer in [{MIN_OPSET}, {MAX_OPSET}]. Got {opset!r}")
    return opset


def weights_sha256(module: nn.Module) -> str:
    """sha256 of a module's weights: every persistent tensor as float32, in name order.

    Independent of how the weights were stored (fp16 safetensors, fp32 ``.pth``) and of the
    module's current dtype, so an ONNX file can name the exact weights it was exported from.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        data = tensor.detach().to("cpu", torch.float32).contiguous()
        digest.update(f"{name}:{tuple(data.shape)};".encode())
        digest.update(data.numpy().tobytes())
    return digest.hexdigest()


class _EncoderGraph(nn.Module):
    """The encoder with its taps as a tuple (ONNX outputs are positional)."""

    def __init__(self, encoder: VGGEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        taps = self.encoder(image)
        return tuple(taps[tap] for tap in TAPS)


class PipelineGraph(nn.Module):
    """Content image + style statistics + alpha -> stylized image in [0, 1].

    The same computation as :class:`~adain.pipeline.stylize.StylizationPipeline` for one style
    (steps 3 to 6 and the clamp of step 7), with ``alpha`` as a tensor so one graph serves
    every strength. No padding: height and width must be multiples of 8.

    AdaIN and the blend run at every tap the decoder takes (:attr:`input_taps`), as the torch
    pipeline does: relu4_1 with ``style_mean``/``style_std``, a multi-level decoder's skip taps
    with the ``skip_statistics`` that follow ``alpha``, a ``(mean, std)`` pair per skip tap in
    the decoder's order.
    """

    def __init__(self, encoder: VGGEncoder, decoder: Decoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.input_taps = decoder_input_taps(decoder)

    def forward(
        self, content: Tensor, style_mean: Tensor, style_std: Tensor, alpha: Tensor, *skip_statistics: Tensor
    ) -> Tensor:
        """``content (B, 3, H, W)``, ``style_mean/std (1|B, 512, 1, 1)``, ``alpha (1,)``, then
        ``mean, std (1|B, C, 1, 1)`` per skip tap -> ``(B, 3, H, W)``."""
        skips = self.input_taps[1:]
        if len(skip_statistics) != 2 * len(skips):
            raise UsageError(
                f"this decoder takes the style's statistics at {', '.join(self.input_taps)}: give a mean "
                f"and a std for each of {', '.join(skips) or 'no skip tap'}"
            )
        statistics = {"relu4_1": (style_mean, style_std)}
        statistics.update({tap: (skip_statistics[2 * k], skip_statistics[2 * k + 1]) for k, tap in enumerate(skips)})
        encoded = self.encoder(content)
        blended = []
        for tap in self.input_taps:
            features = encoded[tap]
            target = adain_from_statistics(features, *statistics[tap])
            blended.append(alpha * target + (1.0 - alpha) * features)
        return self.decoder(*blended).clamp(0.0, 1.0)


@dataclass(frozen=True)
class OnnxExport:
    """What :func:`export_onnx` wrote."""

    path: Path
    part: str
    preset: str
    opset: int
    metadata: dict[str, str] = field(default_factory=dict)


def _graph_and_inputs(
    part: str, encoder: VGGEncoder | None, decoder: Decoder | None
) -> tuple[nn.Module, tuple[Tensor, ...]]:
    """The module to trace for ``part`` and example inputs (small, sides multiples of 8)."""
    height, width = 64, 48
    if part in ("encoder", "pipeline") and encoder is None:
        raise UsageError(f"exporting the {part} needs an encoder")
    if part in ("decoder", "pipeline") and decoder is None:
        raise UsageError(f"exporting the {part} needs a decoder")
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, height, width, generator=generator)
    if part == "encoder":
        return _EncoderGraph(encoder), (image,)  # type: ignore[arg-type]
    taps = decoder_input_taps(decoder)  # type: ignore[arg-type]
    if part == "decoder":
        # each tap at its own resolution (relu4_1 at 1/8 ... relu1_1 at 1/1), as the decoder meets them
        features = tuple(
            torch.rand(1, TAP_CHANNELS[tap], height // TAP_SCALES[tap], width // TAP_SCALES[tap], generator=generator)
            for tap in taps
        )
        return decoder, features  # type: ignore[return-value]
    statistics = (torch.rand(1, 512, 1, 1), torch.rand(1, 512, 1, 1) + 0.5, torch.tensor([0.8]))
    skip_statistics = tuple(
        tensor
        for tap in taps[1:]
        for tensor in (torch.rand(1, TAP_CHANNELS[tap], 1, 1), torch.rand(1, TAP_CHANNELS[tap], 1, 1) + 0.5)
    )
    return PipelineGraph(encoder, decoder), (image, *statistics, *skip_statistics)  # type: ignore[arg-type]


def _dynamic_axes(part: str, decoder_taps: tuple[str, ...] = ("relu4_1",)) -> dict[str, dict[int, str]]:
    spatial = {0: "batch", 2: "height", 3: "width"}
    if part == "encoder":
        return {"image": spatial, **{tap: {0: "batch", 2: f"{tap}_height", 3: f"{tap}_width"} for tap in TAPS}}
    if part == "decoder":
        # relu4_1 keeps the plain graph's axis names; a skip tap's are named after it
        skips = {tap: {0: "batch", 2: f"{tap}_height", 3: f"{tap}_width"} for tap in decoder_taps if tap != "relu4_1"}
        return {
            "relu4_1": {0: "batch", 2: "feature_height", 3: "feature_width"},
            **skips,
            "image": {0: "batch", 2: "height", 3: "width"},
        }
    style_batch = {
        name: {0: "style_batch"} for name in graph_input_names(part, decoder_taps) if name.startswith("style_")
    }
    return {"content": spatial, **style_batch, "image": spatial}


def _export_bytes(
    graph: nn.Module, inputs: tuple[Tensor, ...], part: str, opset: int, decoder_taps: tuple[str, ...] = ("relu4_1",)
) -> bytes:
    """Trace ``graph`` on CPU in fp32 and return the ONNX model's bytes."""
    buffer = io.BytesIO()
    kwargs: dict[str, Any] = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter: needs no onnxscript, gives static graphs
    with warnings.catch_warnings():
        # the exporter's deprecation and constant-folding notes mean nothing to a user of `adain export`
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            inputs,
            buffer,
            input_names=graph_input_names(part, decoder_taps),
            output_names=OUTPUT_NAMES[part],
            dynamic_axes=_dynamic_axes(part, decoder_taps),
            opset_version=opset,
            do_constant_folding=True,
            **kwargs,
        )
    return buffer.getvalue()


def export_onnx(
    part: str,
    path: str | os.PathLike[str],
    preset: str,
    encoder: VGGEncoder | None = None,
    decoder: Decoder | None = None,
    opset: int = DEFAULT_OPSET,
    extra_metadata: Mapping[str, str] | None = None,
) -> OnnxExport:
    """Export ``part`` of a preset's networks to ``path`` (written atomically) with its metadata.

    Args:
        part: ``"encoder"``, ``"decoder"`` or ``"pipeline"`` (see the module docstring).
        path: the ``.onnx`` file to write; its folder is created if missing.
        preset: the preset the networks belong to (recorded, and checked by the runtime).
        encoder, decoder: the torch modules (the ones ``part`` needs); exported in fp32 on CPU,
            the modules themselves are left untouched. ``decoder`` may be the paper's
            :class:`~adain.models.Decoder` or a :class:`~adain.models.MultiLevelDecoder` (one
            graph input per tap it takes; see the module docstring).
        opset: the ONNX opset, in [:data:`MIN_OPSET`, :data:`MAX_OPSET`].
        extra_metadata: more ``key: value`` strings to record (keys get the ``adain.`` prefix).

    Raises:
        UsageError: unknown part or opset out of range.
        MissingDependencyError: the ``onnx`` package is not installed.
        OutputError: ``path`` cannot be written (nothing is left behind).
    """
    check_part(part)
    check_opset(opset)
    onnx = require_module("onnx", "ONNX export")
    path = Path(path)
    # trace copies in fp32 on CPU: the caller's modules keep their device, dtype and mode
    encoder_copy = _cpu_fp32_copy(encoder) if part in ("encoder", "pipeline") and encoder is not None else None
    decoder_copy = _cpu_fp32_copy(decoder) if part in ("decoder", "pipeline") and decoder is not None else None
    graph, inputs = _graph_and_inputs(part, encoder_copy, decoder_copy)  # type: ignore[arg-type]
    metadata = {
        "format_version": "1",
        "preset": preset,
        "part": part,
        "opset": str(opset),
        "size_multiple": "8",
        "adain_version": __version__,
        "torch_version": torch.__version__,
    }
    if encoder_copy is not None:
        metadata["encoder_sha256"] = weights_sha256(encoder_copy)
    decoder_taps: tuple[str, ...] = ("relu4_1",)
    if decoder_copy is not None:
        decoder_taps = decoder_input_taps(decoder_copy)
        metadata["decoder_sha256"] = weights_sha256(decoder_copy)
        metadata["decoder_architecture"] = decoder_kind(decoder_copy)
        metadata["decoder_input_taps"] = ",".join(decoder_taps)
    metadata.update(extra_metadata or {})
    with torch.no_grad():
        model = onnx.load_from_string(_export_bytes(graph, inputs, part, opset, decoder_taps))
    model.doc_string = f"adain {part} of preset {preset} (see adain.backends.onnx_export)"
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_PREFIX + key, str(value)
    _atomic_write(path, model.SerializeToString())
    return OnnxExport(path=path, part=part, preset=preset, opset=opset, metadata=metadata)


def _cpu_fp32_copy(module: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(module).to("cpu", torch.float32).eval()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path`` and rename it: never a partial file."""
    try:
        atomic_write_bytes(path, data)
    except OSError as error:
        raise OutputError(f"cannot write {str(path)!r}: {error.strerror or error}") from None
