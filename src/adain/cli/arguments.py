"""The command-line options several commands share, defined and read back in one place.

``adain stylize`` and ``adain video`` take the same stylization options
(:func:`add_stylize_arguments`, read back by :func:`options_from_args`, :func:`backend_options_from_args`
and :func:`pipeline_from_args`); ``adain video`` and ``adain eval video`` the same temporal ones
(:func:`add_temporal_arguments`, :func:`temporal_options_from_args`). Values arrive as text and are
parsed here, so a bad one is a one-line usage error (exit 2) before any weights load.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from adain._checks import parse_float, parse_int
from adain.errors import MissingWeightsError, UsageError
from adain.image.io import DEFAULT_MAX_PIXELS
from adain.image.sizing import MAX_PIXELS_LIMIT, NETWORK_MULTIPLE
from adain.ops.statistics import check_alpha
from adain.pipeline.options import DEFAULT_SIZE, StylizeOptions
from adain.pipeline.stylize import StylizationPipeline
from adain.pipeline.tiling import DEFAULT_MAX_MEMORY_MB
from adain.weights.presets import DEFAULT_PRESET

if TYPE_CHECKING:
    from adain.backends.onnx_runtime import OnnxBackendOptions
    from adain.video.temporal import TemporalOptions

__all__ = [
    "add_stylize_arguments",
    "add_temporal_arguments",
    "backend_options_from_args",
    "check_styles_fit_options",
    "optional_number",
    "options_from_args",
    "pipeline_from_args",
    "temporal_options_from_args",
]

GUIDED_FILTER_RADIUS = 4
GUIDED_FILTER_EPS = 1e-2


def add_stylize_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of one stylization (styles, strength, colour, mask, sizes, tiling, weights,
    backend), shared by ``adain stylize`` and ``adain video``; read back by :func:`options_from_args`
    and :func:`backend_options_from_args`. A command without ``--method``/``--refine`` sets
    their defaults (``decoder``, ``100``, ``0``) with ``parser.set_defaults``."""
    parser.add_argument(
        "-s",
        "--style",
        action="append",
        required=True,
        metavar="STYLE",
        help="style image, or bank:NAME for a style of the style bank (`adain bank list`); "
        "repeat to mix styles (--style-weights) or to route them with --mask",
    )
    parser.add_argument("--style-weights", metavar="W,W", help="one weight per style, e.g. 0.7,0.3 (default: equal)")
    parser.add_argument("--alpha", default="1.0", metavar="A", help="style strength in [0, 1] (default 1)")
    parser.add_argument(
        "--preserve-color",
        choices=("luminance", "match"),
        help="keep the content's colours: 'luminance' keeps its chroma after stylizing; "
        "'match' recolours the style to the content's palette first",
    )
    parser.add_argument(
        "--mask",
        metavar="FILE",
        help="route one style per region: grayscale mask white -> style 1, black -> style 2; "
        "RGB mask red/green/blue -> styles 1/2/3 (black keeps the content)",
    )
    parser.add_argument("--mask-alpha", metavar="A,A", help="one strength per mask region (default: --alpha)")
    parser.add_argument(
        "--guided-filter",
        action="store_true",
        help=f"smooth the result with a guided filter, content as guide (radius {GUIDED_FILTER_RADIUS})",
    )
    parser.add_argument(
        "--size",
        default=str(DEFAULT_SIZE),
        metavar="N",
        help=f"shrink the content's shorter side to N (never enlarged: see --upscale); 0 keeps its size "
        f"(default {DEFAULT_SIZE})",
    )
    parser.add_argument(
        "--upscale",
        action="store_true",
        help="also enlarge a content whose shorter side is under --size (enlarging invents no detail, "
        "and the time grows with the square of the size)",
    )
    parser.add_argument(
        "--max-size", default="0", metavar="N", help="cap the content's longer side at N (default: no cap)"
    )
    parser.add_argument(
        "--style-size",
        default=str(DEFAULT_SIZE),
        metavar="N",
        help=f"resize each style's shorter side to N before encoding; 0 keeps it (default {DEFAULT_SIZE})",
    )
    parser.add_argument(
        "--max-pixels",
        default=str(DEFAULT_MAX_PIXELS),
        metavar="N",
        help=f"refuse images with more pixels than N, checked before decoding (default {DEFAULT_MAX_PIXELS})",
    )
    parser.add_argument(
        "--max-memory",
        "--memory-budget",
        dest="max_memory",
        metavar="MB",
        help="memory budget per image in MB, beyond the ~300 MB the program itself takes: larger images "
        f"are stylized in overlapping tiles (default {DEFAULT_MAX_MEMORY_MB}; 0: no budget, one pass). "
        "Not with --method optimize or --refine, which need the whole image",
    )
    parser.add_argument(
        "--multiscale",
        action="store_true",
        help="coarse to fine: stylize at half size first (recursively, down to 512 px on the shorter "
        "side), then refine at full size: larger style structures on images from 1024 px up",
    )
    parser.add_argument(
        "--preset", default=DEFAULT_PRESET, help=f"encoder preset (default {DEFAULT_PRESET}; see `adain weights list`)"
    )
    parser.add_argument(
        "--decoder", metavar="FILE", help="decoder weights (.safetensors or pytorch-AdaIN .pth) instead of the preset's"
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    parser.add_argument(
        "--backend",
        choices=("auto", "torch", "onnxruntime"),
        default="auto",
        help="what runs the encoder and decoder: auto (default: the fastest way on this machine: torch bf16 "
        "where the CPU has it natively, else the fastest of torch fp32, torch fp32 channels-last and "
        "onnxruntime, measured once and cached in $ADAIN_HOME/cache/fastest-way.json; ADAIN_WAY=NAME forces "
        "one), torch, or onnxruntime (the 'onnx' extra; exported into the cache on first use)",
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="what the networks compute in: auto (default: bf16 where the CPU or GPU has it natively, "
        "about 2.5x faster than fp32 on such a CPU and within 40 dB PSNR of it; fp32 elsewhere, or what "
        "--backend auto measured fastest), fp32 or bf16 (on torch, as asked)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="compile the networks with torch.compile (the first image of each size takes 2-30 s more; "
        "measured no faster than the default bf16 path on a 2-core CPU, may help elsewhere)",
    )
    parser.add_argument(
        "--providers",
        metavar="P,P",
        help="onnxruntime execution providers in order of preference: cpu (default), cuda, tensorrt, ... or full names",
    )
    parser.add_argument(
        "--onnx-encoder",
        metavar="FILE",
        help="with --backend onnxruntime: an `adain export onnx --part encoder` file instead of the cache",
    )
    parser.add_argument(
        "--onnx-decoder",
        metavar="FILE",
        help="with --backend onnxruntime: an `adain export onnx --part decoder` file instead of the cache",
    )


def _numbers(text: str | None, option: str) -> list[float] | None:
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise UsageError(f"{option} must be comma-separated numbers, e.g. 0.7,0.3. Got {text!r}")
    return [parse_float(part, option) for part in parts]


def _non_negative_int(text: str, option: str) -> int:
    value = parse_int(text, option)
    if value < 0:
        raise UsageError(f"{option} must be >= 0. Got {text!r}")
    return value


def _side(text: str, option: str, limit: int, max_pixels: int, minimum: int = 1) -> int:
    """A size option (``--size``, ``--max-size``, ``--style-size``): an integer from 0 to ``limit``,
    the largest that can fit the pixel budget ``max_pixels`` (range-checked here, before anything
    is allocated: ``--size 1000000000`` is a usage error, not a 12-exabyte tensor); other than 0,
    at least ``minimum``."""
    value = _non_negative_int(text, option)
    if 0 < value < minimum:
        raise UsageError(f"{option} must be 0 (no change) or at least {minimum}. Got {text!r}")
    if value > limit:
        raise UsageError(
            f"{option} must be at most {limit:,} (0: no change): beyond, any image is over the pixel budget "
            f"of {max_pixels:,} pixels (--max-pixels). Got {text!r}"
        )
    return value


def _max_memory_mb(text: str | None, whole_image: bool) -> float | None:
    """``--max-memory``: MB (0: no budget); by default :data:`DEFAULT_MAX_MEMORY_MB`, except for
    optimization, which works on the whole image (an explicit budget with it is refused later)."""
    if text is None:
        return None if whole_image else DEFAULT_MAX_MEMORY_MB
    value = parse_float(text, "--max-memory")
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"--max-memory must be a number of MB >= 0 (0: no budget). Got {text!r}")
    return value or None


def _attention_temperature(args: argparse.Namespace) -> dict[str, float]:
    """``--attention-temperature``, where the command has it and it is given."""
    text = getattr(args, "attention_temperature", None)
    if text is None:
        return {}
    if args.method != "attention":
        raise UsageError("--attention-temperature needs --method attention")
    return {"attention_temperature": parse_float(text, "--attention-temperature")}


def options_from_args(args: argparse.Namespace) -> StylizeOptions:
    """The :class:`StylizeOptions` of :func:`add_stylize_arguments`' options, checked (exit 2 on a bad value)."""
    max_pixels = parse_int(args.max_pixels, "--max-pixels")
    if max_pixels <= 0:
        raise UsageError(f"--max-pixels must be positive. Got {args.max_pixels!r}")
    if max_pixels > MAX_PIXELS_LIMIT:
        raise UsageError(f"--max-pixels must be at most {MAX_PIXELS_LIMIT:,}. Got {args.max_pixels!r}")
    shorter = math.isqrt(max_pixels)
    mask_alphas = _numbers(args.mask_alpha, "--mask-alpha")
    options = StylizeOptions(
        alpha=check_alpha(parse_float(args.alpha, "--alpha"), "--alpha"),
        style_weights=_numbers(args.style_weights, "--style-weights"),
        preserve_color=args.preserve_color,
        mask=args.mask,
        mask_alphas=[check_alpha(a, "--mask-alpha") for a in mask_alphas] if mask_alphas is not None else None,
        guided_filter_radius=GUIDED_FILTER_RADIUS if args.guided_filter else None,
        guided_filter_eps=GUIDED_FILTER_EPS,
        size=_side(args.size, "--size", shorter, max_pixels),
        upscale=args.upscale,
        max_size=_side(args.max_size, "--max-size", max_pixels, max_pixels),
        style_size=_side(args.style_size, "--style-size", shorter, max_pixels, minimum=NETWORK_MULTIPLE),
        max_pixels=max_pixels,
        method=args.method,
        **_attention_temperature(args),
        iterations=_non_negative_int(args.iterations, "--iterations"),
        refine=_non_negative_int(args.refine, "--refine"),
        multiscale=args.multiscale,
    )
    options = replace(
        options,
        max_memory_mb=_max_memory_mb(args.max_memory, whole_image=options.method == "optimize" or options.refine > 0),
    )
    if args.style_weights is not None and len(args.style) == 1:
        raise UsageError(
            f"--style-weights needs several --style images; got 1 style and weights {args.style_weights!r}"
        )
    return options.check(len(args.style))


def check_styles_fit_options(options: StylizeOptions, names: list[str], styles: list[object]) -> None:
    """Refuse, before the weights load, what a resolved bank style cannot do: ``--preserve-color
    match`` recolours style images (a bank style is statistics), ``--method attention`` needs the
    style's features (kept only by ``adain bank add --features``). ``names``: as the user typed them."""
    from adain.styles.statistics import StyleStatistics

    banked = [(name, style) for name, style in zip(names, styles) if isinstance(style, StyleStatistics)]
    if options.preserve_color == "match" and banked:
        raise UsageError("--preserve-color match recolours style images; bank styles are statistics (use luminance)")
    if options.method == "attention":
        kept_none = [name for name, style in banked if not getattr(style, "features", None)]
        if kept_none:
            raise UsageError(
                f"--method attention needs the style's features, and {kept_none[0]} is a bank style added without "
                "--features (statistics only): give the style image instead, or add it to the bank with "
                "`adain bank add NAME IMAGE --features`"
            )


def backend_options_from_args(args: argparse.Namespace, options: StylizeOptions) -> OnnxBackendOptions | None:
    """``OnnxBackendOptions`` for ``--backend onnxruntime`` (checked before weights load), else ``None``."""
    onnx_flags = [
        flag
        for flag, value in (
            ("--providers", args.providers),
            ("--onnx-encoder", args.onnx_encoder),
            ("--onnx-decoder", args.onnx_decoder),
        )
        if value is not None
    ]
    if args.backend != "onnxruntime":
        if onnx_flags:
            raise UsageError(f"{onnx_flags[0]} needs --backend onnxruntime")
        return None
    if options.method == "optimize" or options.refine:
        raise UsageError("--method optimize and --refine need gradients through the encoder: use --backend torch")
    from adain.backends.onnx_runtime import OnnxBackendOptions, check_backend_available, resolve_providers

    check_backend_available(args.device)
    providers = tuple(p.strip() for p in (args.providers or "cpu").split(","))
    resolve_providers(providers)
    for flag, value in (("--onnx-encoder", args.onnx_encoder), ("--onnx-decoder", args.onnx_decoder)):
        if value is not None and not _is_file(value):
            raise MissingWeightsError(f"{flag} file not found: {value!r}")
    return OnnxBackendOptions(providers=providers, encoder_file=args.onnx_encoder, decoder_file=args.onnx_decoder)


def pipeline_from_args(
    args: argparse.Namespace, backend_options: OnnxBackendOptions | None, options: StylizeOptions | None = None
) -> StylizationPipeline:
    """The pipeline :func:`add_stylize_arguments`' options ask for (preset, decoder, device, backend,
    precision, compile), loaded once; shared by ``adain stylize`` and ``adain video``.

    ``--backend auto`` (the default) runs the fastest way measured on this machine
    (:mod:`adain.pipeline.autotune`; the first measurement says so in one line on stderr,
    ``--debug`` names the way chosen), except where only torch will do: ``--method optimize``
    and ``--refine`` (``options``) need its gradients, ``--compile`` is torch's, and an explicit
    ``--precision`` is a torch precision (as it was before ``auto``)."""
    backend = args.backend
    if backend == "auto" and options is not None and (options.method == "optimize" or options.refine):
        backend = "torch"

    def note(message: str) -> None:
        print(f"adain: {message}", file=sys.stderr, flush=True)

    pipeline = StylizationPipeline.from_preset(
        args.preset,
        decoder_path=args.decoder,
        device=args.device,
        backend=backend,
        onnx=backend_options,
        precision=args.precision,
        compile=args.compile,
        on_measure=note,
    )
    if getattr(args, "debug", False):
        how = pipeline.choice.describe() if pipeline.choice is not None else f"{pipeline.way}: asked for"
        note(f"running {how}")
    return pipeline


def _is_file(path: str | Path) -> bool:
    """``Path(path).is_file()`` that is ``False``, not an ``OSError``, for a path too long to stat."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def optional_number(text: str | None, option: str, kind: type) -> float | None:
    """An optional finite ``int`` or ``float`` option (``None`` when not given)."""
    if text is None:
        return None
    value = parse_int(text, option) if kind is int else parse_float(text, option)
    if not math.isfinite(value):
        raise UsageError(f"{option} must be finite. Got {text!r}")
    return value


def add_temporal_arguments(parser: argparse.ArgumentParser, default_mode: str | None) -> None:
    """The temporal mechanisms' options, shared by ``adain video`` and ``adain eval video``
    (``default_mode`` None: no ``--temporal``, the evaluation runs every mode)."""
    from adain.video.temporal import FLOW_METHODS, TEMPORAL_MODES, TemporalOptions

    defaults = TemporalOptions()
    if default_mode is not None:
        parser.add_argument(
            "--temporal",
            choices=TEMPORAL_MODES,
            default=default_mode,
            help="temporal consistency: none (frame by frame), ema (smoothed content statistics), flow "
            f"(optical-flow-guided blending) or both (default {default_mode}, the best measured)",
        )
    parser.add_argument(
        "--blend",
        type=float,
        default=defaults.blend,
        metavar="W",
        help=f"flow: weight of the warped previous frame where the flow is reliable (default {defaults.blend})",
    )
    parser.add_argument(
        "--ema-momentum",
        type=float,
        default=defaults.ema_momentum,
        metavar="M",
        help=f"ema: weight of the past in the moving average (default {defaults.ema_momentum})",
    )
    parser.add_argument(
        "--flow",
        choices=FLOW_METHODS,
        default=defaults.flow_method,
        help=f"optical flow of the blending (default {defaults.flow_method})",
    )
    parser.add_argument(
        "--cut-threshold",
        type=float,
        default=defaults.cut_threshold,
        metavar="D",
        help=f"colour-histogram change that counts as a scene cut, 0-1 (default {defaults.cut_threshold})",
    )


def temporal_options_from_args(args: argparse.Namespace, mode: str) -> TemporalOptions:
    """The :class:`~adain.video.temporal.TemporalOptions` of :func:`add_temporal_arguments`' options, checked."""
    from adain.video.temporal import TemporalOptions

    return TemporalOptions(
        mode=mode,
        ema_momentum=args.ema_momentum,
        blend=args.blend,
        flow_method=args.flow,
        cut_threshold=args.cut_threshold,
    ).check()
