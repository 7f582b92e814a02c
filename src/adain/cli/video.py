"""``adain video``: stylize a film (video file, GIF or frame folder) without flicker; and
``adain eval video``: measure the temporal mechanisms (registered under ``adain eval``).

The command only parses: the stylization options are ``adain stylize``'s
(:func:`adain.cli.stylize.add_stylize_arguments`), the work is
:class:`adain.video.stylizer.VideoStylizer`'s (shared with the web service). The input
is opened and checked, and the output location too, before the weights load: a bad file costs
nothing and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from adain._checks import parse_float, parse_int
from adain.cli.stylize import add_stylize_arguments, backend_options_from_args, options_from_args, pipeline_from_args
from adain.errors import UsageError
from adain.weights.presets import DEFAULT_PRESET

if TYPE_CHECKING:
    from adain.video.temporal import TemporalOptions

__all__ = ["add_eval_parser", "add_parser", "run", "run_eval"]

EPILOG = """\
examples:
  adain video clip.mp4 --style bank:candy -o clip_candy.mp4
  adain video clip.mp4 --style starry.jpg --alpha 0.7 --size 360 --crf 20 -o out.mkv
  adain video frames/ --fps 24 --style a.jpg --style b.jpg --style-weights 0.6,0.4 -o out.gif
  adain video clip.mp4 --style bank:candy --temporal none -o per_frame.mp4

outputs: .mp4/.m4v/.mov/.mkv (H.264, audio copied), .gif, or a folder (PNG frames).
exit codes: 0 written, 1 a failure (unreadable or truncated input, no video stream, no frames,
unsupported codec, missing weights), 2 a usage error (bad option value, unknown output extension).
Nothing is written on a failure or on Ctrl-C."""


def _temporal_arguments(parser: argparse.ArgumentParser, default_mode: str | None) -> None:
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


def _temporal_options(args: argparse.Namespace, mode: str) -> TemporalOptions:
    from adain.video.temporal import TemporalOptions

    return TemporalOptions(
        mode=mode,
        ema_momentum=args.ema_momentum,
        blend=args.blend,
        flow_method=args.flow,
        cut_threshold=args.cut_threshold,
    ).check()


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from adain.video.io import DEFAULT_CRF
    from adain.video.temporal import DEFAULT_TEMPORAL

    parser = subparsers.add_parser(
        "video",
        help="stylize a video file, GIF or frame folder, without flicker",
        description="Stylize a film with AdaIN: frame rate and audio kept, style statistics computed once, frames tied "
        "together over time (--temporal).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "input", metavar="IN", help="video file (mp4, mkv, mov, webm, avi...), GIF, or folder of frames"
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output: .mp4/.m4v/.mov/.mkv (H.264), .gif, or a folder for PNG frames "
        "(default: <name>_stylized.mp4, .gif for a GIF, a folder for a folder)",
    )
    add_stylize_arguments(parser)
    _temporal_arguments(parser, DEFAULT_TEMPORAL)
    parser.add_argument(
        "--crf",
        default=str(DEFAULT_CRF),
        metavar="Q",
        help=f"H.264 quality: 0 lossless .. 51 worst; 18 looks lossless (default {DEFAULT_CRF})",
    )
    parser.add_argument(
        "--fps", metavar="F", help="frame rate: of a frame folder (default 25), or to override the source's"
    )
    parser.add_argument("--no-audio", action="store_true", help="do not copy the audio track")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (it is shown only on a terminal anyway)"
    )
    # one forward pass per frame: L-BFGS (minutes a frame) is not offered for video
    parser.set_defaults(run=run, method="decoder", iterations="100", refine="0")
    return parser


def _default_output(source: Path) -> Path:
    if source.is_dir():
        return Path(f"{source.resolve().name}_stylized")
    return Path(f"{source.stem}_stylized{'.gif' if source.suffix.lower() == '.gif' else '.mp4'}")


def _parse_number(text: str | None, option: str, kind: type) -> float | None:
    if text is None:
        return None
    value = parse_int(text, option) if kind is int else parse_float(text, option)
    if not math.isfinite(value):
        raise UsageError(f"{option} must be finite. Got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from adain.styles.library import resolve_style
    from adain.styles.statistics import StyleStatistics
    from adain.video.io import check_output, check_output_location, open_video
    from adain.video.stylizer import VideoStylizer
    from adain.weights.presets import get_preset

    # 1. everything checkable without weights: options, the output, the input (decoded up to its first frame)
    options = options_from_args(args)
    temporal = _temporal_options(args, args.temporal)
    crf = int(_parse_number(args.crf, "--crf", int) or 0)
    fps = _parse_number(args.fps, "--fps", float)
    get_preset(args.preset)
    source_path = Path(args.input)
    output = Path(args.output) if args.output else _default_output(source_path)
    check_output_location(output)
    if output.resolve() == source_path.resolve():
        raise UsageError(f"the output {str(output)!r} is the input")
    styles = [resolve_style(style, args.preset) for style in args.style]
    if options.preserve_color == "match" and any(isinstance(style, StyleStatistics) for style in styles):
        raise UsageError("--preserve-color match recolours style images; bank styles are statistics (use luminance)")
    backend_options = backend_options_from_args(args, options)
    source = open_video(source_path, fps=fps)
    check_output(output, fps or source.info.fps, crf)

    # 2. weights, then the film (style statistics once, at the first frame)
    pipeline = pipeline_from_args(args, backend_options)
    stylizer = VideoStylizer(pipeline, styles, options, temporal)
    report = stylizer.stylize_video(
        source, output, crf=crf, fps=fps, keep_audio=not args.no_audio, progress=False if args.no_progress else None
    )
    for note in report.notes:
        print(f"adain video: note: {note}", file=sys.stderr)
    print(report.summary())
    return 0


# -- adain eval video -------------------------------------------------------------------------


def add_eval_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``adain eval video`` (``subparsers`` is ``adain eval``'s)."""
    from adain.eval.video import GENERATED_CLIPS
    from adain.video.temporal import FLOW_METHODS, MEASURE_FLOW, TEMPORAL_MODES

    parser = subparsers.add_parser(
        "video",
        help="measure flicker (warping error), style and content losses and frames/s of each temporal mode",
        description="Stylize clips once per temporal mode and compare with frame-by-frame stylization. "
        "Writes results.json, results.md and a frame strip PNG per clip.",
    )
    parser.add_argument(
        "clips",
        nargs="*",
        default=list(GENERATED_CLIPS),
        metavar="CLIP",
        help=f"video files, GIFs, frame folders, or {' / '.join(GENERATED_CLIPS)} (default: both generated)",
    )
    parser.add_argument(
        "-s",
        "--style",
        action="append",
        metavar="STYLE",
        help="style image or bank:NAME (default bank:candy); repeat to mix (--style-weights)",
    )
    parser.add_argument("--style-weights", metavar="W,W", help="one weight per style")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--size", type=int, default=256, help="shorter side the frames are stylized at (default 256)")
    parser.add_argument("--frames", type=int, default=40, help="frames of each clip, from its start (default 40)")
    parser.add_argument(
        "--modes",
        default=",".join(TEMPORAL_MODES),
        help=f"temporal modes to compare (default {','.join(TEMPORAL_MODES)})",
    )
    _temporal_arguments(parser, None)
    parser.add_argument(
        "--measure-flow",
        choices=FLOW_METHODS,
        default=MEASURE_FLOW,
        help=f"the flow the warping error is measured with (default {MEASURE_FLOW}: not the blending's own)",
    )
    parser.add_argument("--preset", default=DEFAULT_PRESET)
    parser.add_argument("--decoder", type=Path, help="decoder file (default: the preset's)")
    parser.add_argument("-o", "--out", type=Path, default=Path("eval-video"), help="report folder (default eval-video)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    parser.set_defaults(run=run_eval)
    return parser


def run_eval(args: argparse.Namespace) -> int:
    import torch

    from adain.eval.video import VideoEvalConfig, evaluate_video, ratios, write_video_report
    from adain.pipeline.options import StylizeOptions
    from adain.pipeline.stylize import StylizationPipeline
    from adain.styles.library import resolve_style

    if args.threads:
        torch.set_num_threads(args.threads)
    style_specs = args.style or ["bank:candy"]
    weights = [float(w) for w in args.style_weights.split(",")] if args.style_weights else None
    options = StylizeOptions(alpha=args.alpha, style_weights=weights, style_size=512)
    config = VideoEvalConfig(
        clips=args.clips,
        out_dir=args.out,
        size=args.size,
        frames=args.frames,
        modes=[m.strip() for m in args.modes.split(",") if m.strip()],
        temporal=_temporal_options(args, "none"),
        measure_flow=args.measure_flow,
    ).check()
    styles = [resolve_style(style, args.preset) for style in style_specs]
    pipeline = StylizationPipeline.from_preset(args.preset, decoder_path=args.decoder)
    scores, frames = evaluate_video(pipeline, styles, options, config, progress=args.progress)
    header = {
        "command": getattr(args, "command_line", "adain eval video"),
        "styles": ", ".join(style_specs),
        "decoder": str(args.decoder) if args.decoder else f"{args.preset} default",
        "precision": getattr(pipeline, "precision", "fp32"),
        "temporal": {
            "blend": args.blend,
            "ema_momentum": args.ema_momentum,
            "flow": args.flow,
            "cut_threshold": args.cut_threshold,
        },
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
    }
    paths = write_video_report(scores, frames, config.out_dir, header)
    for row in ratios(scores):
        print(
            f"{Path(row['clip']).name:<18} {row['mode']:<9} warping error {row['warping_error']:.5f} ({row['warping_error_ratio']:.2f}x)  "
            f"style {row['style_loss']:.1f} ({row['style_loss_ratio']:.2f}x)  {row['frames_per_second']:.2f} frames/s "
            f"(time {row['time_ratio']:.2f}x, wall clock {row['wall_time_ratio']:.2f}x)"
        )
    print(f"report: {paths['markdown']}")
    return 0
