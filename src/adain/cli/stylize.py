"""``adain stylize``: stylize images (files, folders, globs) with one or more styles.

Everything that can be checked without the network (option values, preset, output paths) is
checked before the weights load, so a usage error costs nothing and exits 2. Style images are
encoded once per run. In a batch a failing input is reported on one line and the others still
run; the run ends with a summary and exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from adain._checks import parse_int
from adain.cli.arguments import (
    add_stylize_arguments,
    backend_options_from_args,
    check_styles_fit_options,
    options_from_args,
    pipeline_from_args,
)
from adain.errors import AdainError, UsageError
from adain.pipeline.batch import (
    BatchJob,
    BatchReport,
    describe_error,
    encode_styles_once,
    expand_inputs,
    names_many,
    plan_outputs,
    stylize_batch,
)
from adain.pipeline.options import StylizeOptions
from adain.styles.library import resolve_style
from adain.styles.statistics import StyleInput
from adain.weights.presets import get_preset

if TYPE_CHECKING:
    from adain.backends.onnx_runtime import OnnxBackendOptions

__all__ = ["StylizePlan", "add_parser", "plan", "run"]

EPILOG = """\
examples:
  adain stylize photo.jpg --style starry.jpg -o out.png
  adain stylize photos/ 'more/*.jpg' --style a.jpg --style b.jpg --style-weights 0.7,0.3 -o stylized/
  adain stylize photo.jpg --style sky.jpg --style sea.jpg --mask mask.png --mask-alpha 1,0.6
  adain stylize photo.jpg --style starry.jpg --alpha 0.6 --preserve-color luminance --guided-filter
  adain stylize big.jpg --style starry.jpg --size 0 --max-memory 1024 --multiscale -o big_stylized.jpg

exit codes: 0 all written, 1 a failure (unreadable image, missing weights, some inputs failed),
2 a usage error (bad option value, unknown preset, unknown output extension, -o '')."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "stylize",
        help="stylize images with one or more style images",
        description="Stylize content images with AdaIN. INPUTs are image files, folders (searched recursively) "
        "and globs (quote them: 'photos/**/*.jpg').",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="content image, folder or glob")
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file for one input (format from the extension: png, jpg, webp, bmp, tiff); "
        "a folder for several (created if missing). Default: <name>_stylized.png in the current folder",
    )
    add_stylize_arguments(parser)
    parser.add_argument("--quality", default="95", metavar="Q", help="JPEG/WebP quality 1-100 (default 95)")
    parser.add_argument(
        "--method",
        choices=("decoder", "attention", "optimize"),
        default="decoder",
        help="decoder: one forward pass (default); attention: one forward pass, each region of the content "
        "taking the statistics of the style regions that look like it (style images, not bank styles); "
        "optimize: L-BFGS on the pixels for the same objective (slow, best quality)",
    )
    parser.add_argument(
        "--attention-temperature",
        default=None,
        metavar="T",
        help="with --method attention: softmax temperature of the matching (default 0.5; smaller: sharper matching; larger: closer to plain AdaIN)",
    )
    parser.add_argument(
        "--iterations", default="100", metavar="N", help="L-BFGS iterations of --method optimize (default 100)"
    )
    parser.add_argument(
        "--refine",
        default="0",
        metavar="N",
        help="after the decoder, N L-BFGS iterations from its output (default 0: off)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (it is shown only on a terminal anyway)"
    )
    parser.set_defaults(run=run)
    return parser


@dataclass
class StylizePlan:
    """What :func:`plan` checked and chose, before any weights load."""

    options: StylizeOptions
    quality: int
    jobs: list[BatchJob]
    styles: list[StyleInput]
    backend_options: OnnxBackendOptions | None


def plan(args: argparse.Namespace) -> StylizePlan:
    """Step 1 of :func:`run`: everything checkable without weights (option values, preset, inputs,
    outputs, styles' names). Every bad value is a :class:`~adain.errors.UsageError` (exit 2);
    a location that can never be written an :class:`~adain.errors.OutputError` (exit 1)."""
    options = options_from_args(args)
    if args.output is not None and not args.output.strip():
        raise UsageError(f"-o/--output must name an output file or folder. Got {args.output!r}")
    quality = parse_int(args.quality, "--quality")
    if not 1 <= quality <= 100:
        raise UsageError(f"--quality must be in [1, 100]. Got {args.quality!r}")
    get_preset(args.preset)
    many = names_many(args.inputs)
    inputs = expand_inputs(args.inputs, exclude=Path(args.output) if args.output and many else None)
    if not inputs:
        raise AdainError(f"no images found in {', '.join(repr(s) for s in args.inputs)}")
    jobs = plan_outputs(inputs, args.output, output_is_folder=many)
    resolved_styles = [resolve_style(style, args.preset, note=_note) for style in args.style]
    check_styles_fit_options(options, args.style, resolved_styles)
    backend_options = backend_options_from_args(args, options)
    return StylizePlan(options, quality, jobs, resolved_styles, backend_options)


def run(args: argparse.Namespace) -> int:
    # 1. everything checkable without weights: options, preset, inputs, outputs
    checked = plan(args)
    options, quality, jobs, resolved_styles = checked.options, checked.quality, checked.jobs, checked.styles
    backend_options = checked.backend_options

    # 2. weights (a preset without a decoder fails here, with one line)
    pipeline = pipeline_from_args(args, backend_options, options)

    # 3. styles: read once; encoded once unless "match" recolours them per content image
    # (bank:NAME styles are statistics already: no image, no encoder pass)
    styles, options = encode_styles_once(pipeline, resolved_styles, options)
    # --method optimize and --refine: a bar over the L-BFGS iterations, under the per-image bar
    # (shown when that one is: on a terminal, without --no-progress)
    show_progress = not args.no_progress and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    options = replace(options, progress=show_progress)

    # 4. the batch
    def report_failure(path: Path, error: BaseException) -> None:
        if len(jobs) > 1:  # a single input's error is the run's error (raised by _finish)
            from tqdm import tqdm

            if args.debug:
                traceback.print_exception(error)
            message = describe_error(error)
            where = "" if str(path) in message else f"{path}: "
            tqdm.write(f"adain stylize: failed: {where}{message}", file=sys.stderr)

    report = stylize_batch(
        pipeline,
        jobs,
        styles,
        options,
        quality=quality,
        max_pixels=options.max_pixels,
        progress=show_progress,
        on_failure=report_failure,
    )
    return _finish(report, len(jobs))


def _finish(report: BatchReport, total: int) -> int:
    if total == 1 and report.failures:
        raise report.failures[0][1]  # one input: its own error, with its own exit code
    if report.failures:
        raise AdainError(report.summary())
    print(f"wrote {report.written[0]}" if total == 1 else report.summary())
    return 0


def _note(message: str) -> None:
    print(f"adain stylize: note: {message}", file=sys.stderr)
