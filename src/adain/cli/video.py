"""``adain video``: stylize a film (video file, GIF or frame folder) without flicker.

The command only parses: the stylization options are ``adain stylize``'s
(:func:`adain.cli.arguments.add_stylize_arguments`), the work is
:class:`adain.video.stylizer.VideoStylizer`'s (shared with the web service). The input
is opened and checked, and the output location too, before the weights load: a bad file costs
nothing and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from adain.cli.arguments import (
    add_stylize_arguments,
    add_temporal_arguments,
    backend_options_from_args,
    check_styles_fit_options,
    optional_number,
    options_from_args,
    pipeline_from_args,
    temporal_options_from_args,
)
from adain.errors import UsageError

if TYPE_CHECKING:
    from adain.video.temporal import TemporalOptions

__all__ = ["add_flow_max_side_argument", "add_parser", "run", "with_flow_max_side"]

EPILOG = """\
examples:
  adain video clip.mp4 --style bank:candy -o clip_candy.mp4
  adain video clip.mp4 --style starry.jpg --alpha 0.7 --size 360 --crf 20 -o out.mkv
  adain video frames/ --fps 24 --style a.jpg --style b.jpg --style-weights 0.6,0.4 -o out.gif
  adain video clip.mp4 --style bank:candy --temporal none -o per_frame.mp4
  adain video clip.mp4 --style starry.jpg --method attention -o clip_semantic.mp4

outputs: .mp4/.m4v/.mov/.mkv (H.264, audio copied), .gif, or a folder (PNG frames).
exit codes: 0 written, 1 a failure (unreadable or truncated input, no video stream, no frames,
unsupported codec, missing weights), 2 a usage error (bad option value, unknown output extension).
Nothing is written on a failure or on Ctrl-C."""


def add_flow_max_side_argument(parser: argparse.ArgumentParser) -> None:
    """``--flow-max-side N``, for ``adain video`` and ``adain eval video`` (beside the shared
    temporal options: the evaluation must be able to measure what the command runs)."""
    from adain.video.temporal import DEFAULT_FLOW_MAX_SIDE

    parser.add_argument(
        "--flow-max-side",
        default=str(DEFAULT_FLOW_MAX_SIDE),
        metavar="N",
        help="flow: compute the optical flow on frames shrunk to at most N px on the longer side, then scale it "
        f"back (faster; 0: full resolution; default {DEFAULT_FLOW_MAX_SIDE})",
    )


def with_flow_max_side(temporal: TemporalOptions, args: argparse.Namespace) -> TemporalOptions:
    """``temporal`` with ``--flow-max-side``, checked (a bad value is a UsageError, exit code 2)."""
    from adain.video.temporal import DIS_MIN_SIDE, check_flow_max_side

    value = optional_number(args.flow_max_side, "--flow-max-side", int)
    try:
        check_flow_max_side(value)
    except UsageError:
        raise UsageError(
            f"--flow-max-side must be 0 (full resolution) or at least {DIS_MIN_SIDE} px. Got {args.flow_max_side!r}"
        ) from None
    return dataclasses.replace(temporal, flow_max_side=value).check()


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
    parser.add_argument(
        "--method",
        choices=("decoder", "attention"),
        default="decoder",
        help="decoder: plain AdaIN, one forward pass a frame (default); attention: one forward pass a frame, each "
        "region taking the statistics of the style regions that look like it (style images, or bank styles added "
        "with `adain bank add --features`; the style's features are encoded once)",
    )
    parser.add_argument(
        "--attention-temperature",
        default=None,
        metavar="T",
        help="with --method attention: softmax temperature of the matching (default 0.5; smaller: sharper matching; "
        "larger: closer to plain AdaIN)",
    )
    add_temporal_arguments(parser, DEFAULT_TEMPORAL)
    add_flow_max_side_argument(parser)
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
    # one forward pass per frame: L-BFGS (--method optimize, --refine: minutes a frame) is not offered for video
    parser.set_defaults(run=run, iterations="100", refine="0")
    return parser


def _default_output(source: Path) -> Path:
    if source.is_dir():
        return Path(f"{source.resolve().name}_stylized")
    return Path(f"{source.stem}_stylized{'.gif' if source.suffix.lower() == '.gif' else '.mp4'}")


def run(args: argparse.Namespace) -> int:
    from adain.styles.library import resolve_style
    from adain.video.io import check_output, check_output_location, open_video
    from adain.video.stylizer import VideoStylizer
    from adain.weights.presets import get_preset

    # 1. everything checkable without weights: options, the output, the input (decoded up to its first frame)
    options = options_from_args(args)
    temporal = with_flow_max_side(temporal_options_from_args(args, args.temporal), args)
    crf = int(optional_number(args.crf, "--crf", int) or 0)
    fps = optional_number(args.fps, "--fps", float)
    get_preset(args.preset)
    source_path = Path(args.input)
    output = Path(args.output) if args.output else _default_output(source_path)
    check_output_location(output)
    if output.resolve() == source_path.resolve():
        raise UsageError(f"the output {str(output)!r} is the input")
    styles = [resolve_style(style, args.preset, note=_note) for style in args.style]
    check_styles_fit_options(options, args.style, styles)
    backend_options = backend_options_from_args(args, options)
    source = open_video(source_path, fps=fps)
    check_output(output, fps or source.info.fps, crf)

    # 2. weights, then the film (style statistics, or features for attention, once, at the first frame)
    pipeline = pipeline_from_args(args, backend_options, options)
    stylizer = VideoStylizer(pipeline, styles, options, temporal)
    report = stylizer.stylize_video(
        source, output, crf=crf, fps=fps, keep_audio=not args.no_audio, progress=False if args.no_progress else None
    )
    for note in report.notes:
        print(f"adain video: note: {note}", file=sys.stderr)
    print(report.summary())
    return 0


def _note(message: str) -> None:
    print(f"adain video: note: {message}", file=sys.stderr)
