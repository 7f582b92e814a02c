"""The onnxruntime backend: the pipeline's encoder and decoder as onnxruntime sessions.

:class:`OnnxEncoder` and :class:`OnnxDecoder` have the call signatures of the torch modules
:class:`~adain.pipeline.stylize.StylizationPipeline` uses (``encoder(image, last_tap=...) ->
{tap: features}``, ``decoder(relu4_1, *skips) -> image``), so the pipeline runs the same steps
with either backend; only the two network calls change. Everything else (resizing, padding,
AdaIN, masks, colour, filters) stays in torch on the CPU. A multi-level decoder's export takes
one input per tap; its stand-in says which in ``input_taps``, as the torch module does, so
:func:`~adain.models.decoder_input_taps` and the pipeline treat both alike.

The ONNX files come from the cache, ``$ADAIN_HOME/onnx/<preset>/<part>-<sha256[:16]>-opset<N>.onnx``
(``decoder-multilevel-...`` for a multi-level decoder), keyed by the weights' sha256 and exported
on first use; or from files the user exported with ``adain export onnx`` (:class:`OnnxBackendOptions`
``encoder_file``/``decoder_file``). Either way the file's metadata must name the same preset,
part and weights, and a decoder's graph must take the decoder's taps, or it is refused.

Execution providers are chosen by name (``cpu``, ``cuda``, ``tensorrt``, ``coreml``, ``dml`` or
onnxruntime's full names such as ``CUDAExecutionProvider``), in order of preference.

"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from adain._checks import is_int
from adain.backends.onnx_export import (
    DEFAULT_OPSET,
    METADATA_PREFIX,
    check_opset,
    decoder_kind,
    export_onnx,
    graph_input_names,
    require_module,
    weights_sha256,
)
from adain.errors import ShapeError, UsageError, WeightsError
from adain.image.sizing import crop_to, pad_to_multiple
from adain.models import TAP_CHANNELS, TAP_SCALES, Decoder, VGGEncoder, decoder_input_taps
from adain.ops.taps import TAPS, requested_taps

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "PARITY_TOLERANCE",
    "PROVIDER_ALIASES",
    "OnnxBackendOptions",
    "OnnxDecoder",
    "OnnxEncoder",
    "OnnxPipelineModel",
    "check_backend_available",
    "onnx_cache_path",
    "onnx_modules",
    "resolve_providers",
    "verify_export",
]

#: Short provider names accepted by ``--providers`` -> onnxruntime's names.
PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "dml": "DmlExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}


@dataclass(frozen=True)
class OnnxBackendOptions:
    """How the onnxruntime backend runs.

    Attributes:
        providers: execution providers in order of preference (short or full names).
        threads: onnxruntime's intra-op threads (0: its default, one per physical core).
        encoder_file, decoder_file: ONNX files exported with ``adain export onnx --part
            encoder|decoder`` to use instead of the cache.
        opset: the opset of files exported into the cache.
        cache_dir: where exported files are cached (default ``$ADAIN_HOME/onnx``).
    """

    providers: Sequence[str] = ("cpu",)
    threads: int = 0
    encoder_file: str | os.PathLike[str] | None = None
    decoder_file: str | os.PathLike[str] | None = None
    opset: int = DEFAULT_OPSET
    cache_dir: str | os.PathLike[str] | None = None


def _onnxruntime() -> Any:
    return require_module("onnxruntime", "the onnxruntime backend")


def check_backend_available(device: str | torch.device = "cpu") -> None:
    """Fail early (before any weights load) when the backend cannot run here.

    Raises:
        MissingDependencyError: onnxruntime is not installed.
        UsageError: ``device`` is not the CPU (tensors stay on the CPU; choose providers instead).
    """
    _onnxruntime()
    if torch.device(device).type != "cpu":
        raise UsageError(
            f"the onnxruntime backend takes tensors on the CPU, not {str(device)!r}; "
            "run it on a GPU with its execution providers instead (--providers cuda)"
        )


def resolve_providers(names: Sequence[str]) -> list[str]:
    """Provider names (``cpu``, ``cuda``, ``tensorrt``, ... or full names) -> onnxruntime's names.

    Raises:
        UsageError: an unknown name or a provider this onnxruntime build does not have.
        MissingDependencyError: onnxruntime is not installed.
    """
    ort = _onnxruntime()
    available = list(ort.get_available_providers())
    if not names:
        raise UsageError("give at least one execution provider, e.g. cpu")
    resolved = []
    for name in names:
        full = PROVIDER_ALIASES.get(name.strip().lower(), name.strip())
        if full not in available:
            known = ", ".join(PROVIDER_ALIASES)
            hint = (
                " (CUDA and TensorRT need the onnxruntime-gpu package and a GPU)"
                if "Cuda" in full or "Tensorrt" in full
                else ""
            )
            raise UsageError(
                f"execution provider {name!r} is not available; this onnxruntime has {', '.join(available)}{hint}; "
                f"short names: {known}"
            )
        if full not in resolved:
            resolved.append(full)
    return resolved


def onnx_cache_path(
    preset: str,
    part: str,
    weights_key: str,
    opset: int = DEFAULT_OPSET,
    cache_dir: str | os.PathLike[str] | None = None,
    decoder_kind: str = "plain",
) -> Path:
    """``<cache_dir or $ADAIN_HOME/onnx>/<preset>/<part>-<key[:16]>-opset<N>.onnx``;
    ``<part>-multilevel-<key[:16]>-...`` for a multi-level decoder (``decoder_kind``), so its
    graph (one input per tap) is never taken for a plain decoder's (one input) by name alone."""
    if cache_dir is None:
        from adain.weights import adain_home

        cache_dir = adain_home() / "onnx"
    kind = "" if decoder_kind == "plain" else f"{decoder_kind}-"
    return Path(cache_dir) / preset / f"{part}-{kind}{weights_key[:16]}-opset{opset}.onnx"


def _graph_decoder_taps(part: str | None, input_names: Sequence[str]) -> tuple[str, ...] | None:
    """The taps of the decoder a graph was exported from, read off its input names (the graph
    is the truth: a file from before ``adain.decoder_input_taps`` was recorded has none);
    ``None`` for a part without a decoder."""
    if part == "decoder":
        return tuple(input_names)
    if part == "pipeline":
        prefix = "style_mean_"
        return ("relu4_1", *(name[len(prefix) :] for name in input_names if name.startswith(prefix)))
    return None


class _OnnxRuntimeModel:
    """An onnxruntime session behind a torch-module-like face (``eval``, ``to``, ``device``).

    Tensors go in and come out on the CPU in float32; the session itself may run on any
    provider (onnxruntime copies to and from the GPU).
    """

    backend = "onnxruntime"
    part = ""

    def __init__(self, session: Any, path: Path, metadata: dict[str, str]) -> None:
        self.session = session
        self.path = path
        self.metadata = metadata
        self.device = torch.device("cpu")
        #: the graph's input names, in order
        self.input_names: list[str] = [node.name for node in session.get_inputs()]

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        providers: Sequence[str] = ("cpu",),
        threads: int = 0,
        preset: str | None = None,
        encoder_sha256: str | None = None,
        decoder_sha256: str | None = None,
        decoder_taps: Sequence[str] | None = None,
    ) -> Self:
        """Open ``path`` in an onnxruntime session and check its metadata.

        ``preset`` and the sha256 values, when given, must match the file's metadata;
        ``decoder_taps`` (a decoder's :func:`~adain.models.decoder_input_taps`), when given, the
        taps a ``decoder`` or ``pipeline`` graph takes.

        Raises:
            WeightsError: the file is missing, not a loadable ONNX model, or made for another
                part, preset, set of weights or decoder architecture.
            UsageError: an unavailable provider.
        """
        path = Path(path)
        session = _open_session(path, providers, threads)
        metadata = {
            k[len(METADATA_PREFIX) :]: v
            for k, v in session.get_modelmeta().custom_metadata_map.items()
            if k.startswith(METADATA_PREFIX)
        }
        where = repr(str(path))
        if not metadata:
            raise WeightsError(f"{where} has no adain metadata: export it with `adain export onnx --part {cls.part}`")
        if metadata.get("part") != cls.part:
            raise WeightsError(f"{where} holds the ONNX {metadata.get('part')!r} part, not the {cls.part}")
        if preset is not None and metadata.get("preset") != preset:
            raise WeightsError(f"{where} was exported for preset {metadata.get('preset')!r}, not {preset!r}")
        for component, expected in (("encoder", encoder_sha256), ("decoder", decoder_sha256)):
            found = metadata.get(f"{component}_sha256")
            if expected is not None and found != expected:
                raise WeightsError(
                    f"{where} was exported from other {component} weights (sha256 {(found or 'unknown')[:12]}, "
                    f"these are {expected[:12]}): re-export it with `adain export onnx --part {cls.part}` "
                    "and the same --preset and --decoder"
                )
        found_taps = _graph_decoder_taps(cls.part, [node.name for node in session.get_inputs()])
        if decoder_taps is not None and found_taps is not None and found_taps != tuple(decoder_taps):
            raise WeightsError(
                f"{where} takes decoder features at {', '.join(found_taps)}, but this decoder takes them at "
                f"{', '.join(decoder_taps)}: re-export it with `adain export onnx --part {cls.part}` and the same --decoder"
            )
        return cls(session, path, metadata)

    def eval(self) -> Self:
        return self

    def to(self, device: str | torch.device | None = None, *args: Any, **kwargs: Any) -> Self:
        if device is not None and not isinstance(device, torch.dtype) and torch.device(device).type != "cpu":
            raise UsageError(
                f"the onnxruntime backend takes tensors on the CPU (device {str(device)!r} asked); "
                "choose its execution providers instead, e.g. --providers cuda"
            )
        return self

    @property
    def providers(self) -> list[str]:
        """The providers the session actually uses, in order."""
        return list(self.session.get_providers())

    def _run(self, feeds: dict[str, Tensor]) -> list[np.ndarray]:
        arrays = {name: tensor.detach().to("cpu", torch.float32).contiguous().numpy() for name, tensor in feeds.items()}
        return self.session.run(None, arrays)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, providers={self.providers})"


class OnnxEncoder(_OnnxRuntimeModel):
    """The encoder in onnxruntime: ``encoder(image (B, 3, H, W) in [0, 1]) -> {tap: features}``."""

    part = "encoder"

    def __call__(
        self, image: Tensor, last_tap: str = "relu4_1", taps: Collection[str] | None = None
    ) -> dict[str, Tensor]:
        """Features at each tap up to ``last_tap`` or at ``taps``, like the torch encoder (the
        pipeline asks for ``last_tap="relu3_1"`` when it re-encodes a tile's window for a
        multi-level decoder's skips). The graph computes all four taps either way: a graph per
        set of taps would save work on those calls at the cost of more files and sessions."""
        wanted = requested_taps(last_tap, taps)
        outputs = self._run({"image": image})
        features = dict(zip(TAPS, (torch.from_numpy(o) for o in outputs)))
        return {tap: features[tap] for tap in wanted}

    def relu4_1(self, image: Tensor) -> Tensor:
        return self(image)["relu4_1"]


class OnnxDecoder(_OnnxRuntimeModel):
    """The decoder in onnxruntime: ``decoder(relu4_1 (B, 512, h, w), *skips) -> image (B, 3, 8h, 8w)``.

    A plain decoder's graph takes ``relu4_1`` alone; a multi-level decoder's takes the features
    at each of its :attr:`input_taps`, positionally in that order, as the torch module does.
    """

    part = "decoder"

    @property
    def input_taps(self) -> tuple[str, ...]:
        """The taps the graph takes, in argument order (its input names)."""
        return tuple(self.input_names)

    def __call__(self, *features: Tensor) -> Tensor:
        """RGB (unclamped) from the features at :attr:`input_taps`, in that order."""
        if len(features) != len(self.input_names):
            raise ShapeError(
                f"this decoder takes features at {', '.join(self.input_taps)}: got {len(features)} tensors"
            )
        return torch.from_numpy(self._run(dict(zip(self.input_names, features)))[0])


class OnnxPipelineModel(_OnnxRuntimeModel):
    """A ``pipeline`` export: content + style statistics + alpha -> stylized image, any size.

    The graph needs sides that are multiples of 8; this wrapper reflect-pads the content on the
    right and bottom and crops the result back, exactly as the torch pipeline does.

    The export of a multi-level decoder's pipeline AdaINs every tap the decoder takes
    (:attr:`input_taps`), so it also needs the style's statistics at the skip taps
    (``skip_statistics``, e.g. ``{tap: style.at(tap) for tap in model.input_taps[1:]}``).
    """

    part = "pipeline"

    @property
    def input_taps(self) -> tuple[str, ...]:
        """The taps the graph's decoder takes (relu4_1 first), each AdaIN'd to the style."""
        return _graph_decoder_taps(self.part, self.input_names) or ("relu4_1",)

    def __call__(
        self,
        content: Tensor,
        style_mean: Tensor,
        style_std: Tensor,
        alpha: float | Tensor = 1.0,
        skip_statistics: Mapping[str, tuple[Tensor, Tensor]] | None = None,
    ) -> Tensor:
        """``content (B, 3, H, W)`` in [0, 1], ``style_mean/std (1|B, 512, 1, 1)`` (relu4_1) and,
        for a multi-level decoder, ``skip_statistics`` ``{tap: (mean, std)}`` at each of its skip
        taps -> ``(B, 3, H, W)`` in [0, 1].

        Raises:
            UsageError: ``skip_statistics`` lacks a skip tap of the graph.
        """
        skips = self.input_taps[1:]
        skip_statistics = skip_statistics or {}
        missing = [tap for tap in skips if tap not in skip_statistics]
        if missing:
            raise UsageError(
                f"this pipeline graph's decoder takes the style's statistics at {', '.join(self.input_taps)}: "
                f"give skip_statistics for {', '.join(missing)}"
            )
        padded, size = pad_to_multiple(content)
        alpha_tensor = torch.as_tensor(alpha, dtype=torch.float32).reshape(1)
        feeds = {
            "content": padded,
            "style_mean": style_mean.reshape(-1, 512, 1, 1),
            "style_std": style_std.reshape(-1, 512, 1, 1),
            "alpha": alpha_tensor,
        }
        for tap in skips:
            mean, std = skip_statistics[tap]
            feeds[f"style_mean_{tap}"] = mean.reshape(-1, TAP_CHANNELS[tap], 1, 1)
            feeds[f"style_std_{tap}"] = std.reshape(-1, TAP_CHANNELS[tap], 1, 1)
        return crop_to(torch.from_numpy(self._run(feeds)[0]), size)


def _open_session(path: Path, providers: Sequence[str], threads: int) -> Any:
    ort = _onnxruntime()
    resolved = resolve_providers(providers)
    if not path.is_file():
        raise WeightsError(f"ONNX file not found: {str(path)!r}")
    if not is_int(threads, 0):
        raise UsageError(f"threads must be an integer >= 0 (0: onnxruntime's default). Got {threads!r}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # errors only: no provider-fallback chatter on stderr
    # no CPU arena: it keeps every size of activation it ever allocated, so a 4K image in tiles
    # peaked at 3.2 GB of RSS (the tiling budget models torch's allocator, which returns memory)
    options.enable_cpu_mem_arena = False
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=resolved)
    except Exception as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise WeightsError(f"cannot load ONNX file {str(path)!r}: {message}") from None
    missing = [p for p in resolved if p not in session.get_providers()]
    if missing:
        raise UsageError(f"execution provider(s) {', '.join(missing)} could not start (is a GPU visible?)")
    return session


def _cached_file(
    part: str,
    encoder: VGGEncoder,
    decoder: Decoder,
    preset: str,
    options: OnnxBackendOptions,
    encoder_sha256: str,
    decoder_sha256: str,
) -> Path:
    """The cached export of ``part`` for these weights, exporting it on first use."""
    key = encoder_sha256 if part == "encoder" else decoder_sha256
    kind = decoder_kind(decoder) if part == "decoder" else "plain"
    path = onnx_cache_path(preset, part, key, options.opset, options.cache_dir, decoder_kind=kind)
    if not path.is_file():
        export_onnx(
            part,
            path,
            preset,
            encoder=encoder if part == "encoder" else None,
            decoder=decoder if part == "decoder" else None,
            opset=options.opset,
        )
    return path


def onnx_modules(
    encoder: VGGEncoder, decoder: Decoder, preset: str, options: OnnxBackendOptions | None = None
) -> tuple[OnnxEncoder, OnnxDecoder]:
    """onnxruntime stand-ins for ``encoder`` and ``decoder`` (checked to hold the same weights).

    Files named in ``options`` are used as they are; the others come from the cache (exported
    on first use). A cached file that cannot be loaded or does not match is exported again.
    ``decoder`` may be a :class:`~adain.models.MultiLevelDecoder`: its stand-in takes the same
    taps (``input_taps``).

    Raises:
        MissingDependencyError: onnxruntime (or, to export, onnx) is not installed.
        WeightsError: a user's file is for another preset, part, set of weights or decoder
            architecture.
        UsageError: an unavailable provider or a bad option.
    """
    options = options or OnnxBackendOptions()
    check_opset(options.opset)
    _onnxruntime()
    resolve_providers(options.providers)  # fail on a bad provider before any export
    hashes = {"encoder_sha256": weights_sha256(encoder), "decoder_sha256": weights_sha256(decoder)}
    loaded: dict[str, Any] = {}
    for part, cls, user_file in (
        ("encoder", OnnxEncoder, options.encoder_file),
        ("decoder", OnnxDecoder, options.decoder_file),
    ):
        check: dict[str, Any] = {"preset": preset, f"{part}_sha256": hashes[f"{part}_sha256"]}
        if part == "decoder":
            check["decoder_taps"] = decoder_input_taps(decoder)
        if user_file is not None:
            loaded[part] = cls.load(user_file, options.providers, options.threads, **check)
            continue
        path = _cached_file(part, encoder, decoder, preset, options, **hashes)
        try:
            loaded[part] = cls.load(path, options.providers, options.threads, **check)
        except WeightsError:  # a damaged or stale cache entry: export again, once
            path.unlink(missing_ok=True)
            path = _cached_file(part, encoder, decoder, preset, options, **hashes)
            loaded[part] = cls.load(path, options.providers, options.threads, **check)
    return loaded["encoder"], loaded["decoder"]


#: :func:`verify_export` accepts an export whose outputs differ from PyTorch's by at most this,
#: relative to the larger of 1 and the largest output magnitude (fp32 on the CPU gives ~1e-7).
PARITY_TOLERANCE = 1e-4


def verify_export(
    path: str | os.PathLike[str],
    encoder: VGGEncoder | None = None,
    decoder: Decoder | None = None,
    providers: Sequence[str] = ("cpu",),
    size: tuple[int, int] = (40, 56),
) -> float:
    """Run an exported file and the torch modules on one random input; the largest difference.

    The difference is ``max |onnx - torch| / max(1, max |torch|)`` over every output (the
    encoder's taps reach the hundreds, images stay in [0, 1]). The file's ``adain.part``
    metadata says which modules it needs (on the CPU, in float32). A multi-level decoder's
    export is fed random features (or, for the ``pipeline``, style statistics) at every tap.
    ``size`` must be multiples of 8.

    Raises:
        WeightsError: the file cannot be loaded, is not an adain export, or its graph does not
            take the decoder's taps.
        MissingDependencyError: onnxruntime is not installed.
    """
    from adain.backends.onnx_export import PipelineGraph

    session = _open_session(Path(path), providers, 0)
    part = session.get_modelmeta().custom_metadata_map.get(METADATA_PREFIX + "part")
    generator = torch.Generator().manual_seed(0)
    height, width = size
    image = torch.rand(1, 3, height, width, generator=generator)
    taps = decoder_input_taps(decoder) if decoder is not None else ("relu4_1",)
    if part in ("decoder", "pipeline") and decoder is not None:
        found = [node.name for node in session.get_inputs()]
        if found != graph_input_names(part, taps):
            raise WeightsError(
                f"cannot verify {str(path)!r}: its inputs are {', '.join(found)}, but a {part} graph of "
                f"this decoder takes {', '.join(graph_input_names(part, taps))}"
            )
    with torch.no_grad():
        if part == "encoder" and encoder is not None:
            reference = list(encoder(image).values())
            feeds = {"image": image}
        elif part == "decoder" and decoder is not None:
            features = [
                torch.relu(
                    torch.randn(
                        1, TAP_CHANNELS[tap], height // TAP_SCALES[tap], width // TAP_SCALES[tap], generator=generator
                    )
                )
                * 4
                for tap in taps
            ]
            reference, feeds = [decoder(*features)], dict(zip(taps, features))
        elif part == "pipeline" and encoder is not None and decoder is not None:
            statistics = []  # relu4_1's mean and std, then each skip tap's, as the graph's inputs
            for tap in taps:
                channels = TAP_CHANNELS[tap]
                statistics += [
                    torch.rand(1, channels, 1, 1, generator=generator) * 4,
                    torch.rand(1, channels, 1, 1, generator=generator) * 4 + 0.1,
                ]
            alpha = torch.tensor([0.8])
            reference = [PipelineGraph(encoder, decoder)(image, *statistics[:2], alpha, *statistics[2:])]
            names = graph_input_names(part, taps)
            feeds = dict(zip(names, [image, *statistics[:2], alpha, *statistics[2:]]))
        else:
            raise WeightsError(
                f"cannot verify {str(path)!r}: its part is {part!r} and the modules it needs were not given"
            )
    outputs = session.run(None, {name: tensor.numpy() for name, tensor in feeds.items()})
    difference = 0.0
    for output, expected in zip(outputs, reference):
        if tuple(output.shape) != tuple(expected.shape):
            raise WeightsError(
                f"{str(path)!r} gives shape {tuple(output.shape)} where PyTorch gives {tuple(expected.shape)}"
            )
        scale = max(1.0, float(expected.abs().max()))
        difference = max(difference, float((torch.from_numpy(output) - expected).abs().max()) / scale)
    return difference
