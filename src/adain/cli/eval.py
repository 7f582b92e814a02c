"""``adain eval``: score a decoder against L-BFGS on content/style pairs (JSON, Markdown, PNG grid);
``adain eval video``: flicker, losses and speed of each temporal mode."""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adain.cli.arguments import add_temporal_arguments, temporal_options_from_args
from adain.cli.video import add_flow_max_side_argument, with_flow_max_side
from adain.weights.presets import DEFAULT_PRESET

DEFAULT_PAIRS = Path("../shared/data/val")

#: ``--methods``: pipeline methods scored beside the decoder, as the method ``decoder-NAME``, and
#: the :class:`~adain.pipeline.options.StylizeOptions` fields that make them
EXTRA_METHODS: dict[str, dict[str, Any]] = {
    "attention": {"method": "attention"},  # at StylizeOptions' default attention temperature
    "multiscale": {"multiscale": True},
}


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"values must be >= 0, got {text!r}")
    return values


def _methods(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
    unknown = [name for name in names if name not in EXTRA_METHODS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown method(s) {', '.join(unknown)}; known: {', '.join(EXTRA_METHODS)} (got {text!r})"
        )
    return names


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="measure a decoder: AdaIN losses, SSIM and time against L-BFGS on content/style pairs",
        description="Score a decoder against the optimization reference. Writes results.json, results.md and grid PNGs.",
    )
    parser.add_argument(
        "--preset",
        default=DEFAULT_PRESET,
        help="encoder preset (see `adain weights list`); a distilled one (fast) stylizes with its students and is "
        "scored with its teacher's encoder",
    )
    parser.add_argument("--decoder", type=Path, help="decoder file (default: the preset's)")
    parser.add_argument(
        "--pairs",
        type=Path,
        default=DEFAULT_PAIRS,
        help="folder with content/ and style/ (content i goes with style i)",
    )
    parser.add_argument(
        "--sizes", type=_ints, default=(256, 512), help="shorter sides to evaluate at (default 256,512)"
    )
    parser.add_argument(
        "--lbfgs-iterations", type=int, default=100, help="iterations of the optimization reference (0: no reference)"
    )
    parser.add_argument(
        "--refine",
        type=_ints,
        default=(10, 30),
        help="refinement iterations from the decoder output to report ('' for none)",
    )
    parser.add_argument(
        "--multiscale",
        action="store_true",
        help="also report decoder-multiscale: the decoder coarse to fine (differs from decoder at sizes >= 1024)",
    )
    parser.add_argument(
        "--methods",
        type=_methods,
        default=(),
        metavar="M,M",
        help=f"also report these pipeline methods, each as decoder-M: {', '.join(EXTRA_METHODS)} "
        "(attention: --method attention at its default temperature; multiscale: as --multiscale)",
    )
    parser.add_argument("--optimize-sizes", type=_ints, help="sizes at which L-BFGS runs (default: all; it is slow)")
    parser.add_argument("--content-weight", type=float, default=1.0, help="the objective's content weight (relu4_1)")
    parser.add_argument(
        "--style-weight", type=float, default=10.0, help="the objective's style weight (mean/std, 4 taps)"
    )
    parser.add_argument("--limit", type=int, help="only the first N pairs")
    parser.add_argument("--cache", type=Path, help="cache L-BFGS outputs here (default: $ADAIN_HOME/eval-cache)")
    parser.add_argument("-o", "--out", type=Path, default=Path("eval-output"), help="report folder")
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="fp32",
        help="what the decoder pass runs in (default fp32, the reference; L-BFGS always runs fp32)",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        default=None,
        help="no progress bars (over the pairs and the L-BFGS iterations; shown only on a terminal anyway)",
    )
    parser.set_defaults(run=run)
    # `adain eval video ...`: its own options and run (adain eval alone is unchanged)
    add_video_parser(parser.add_subparsers(dest="eval_command", metavar="{video}", title="other evaluations"))


def run(args: argparse.Namespace) -> int:
    import torch

    from adain.eval.evaluate import EvalConfig, evaluate, loss_encoder_preset, summarize, write_report
    from adain.eval.semantic import semantic_fraction
    from adain.pipeline.optimize import ObjectiveWeights
    from adain.pipeline.options import StylizeOptions
    from adain.pipeline.stylize import StylizationPipeline
    from adain.weights import adain_home, load_encoder, prepare
    from adain.weights.store import file_sha256

    if args.threads:
        torch.set_num_threads(args.threads)
    pipeline = StylizationPipeline.from_preset(args.preset, decoder_path=args.decoder, precision=args.precision)
    # the losses are measured in the teacher's feature space for a distilled preset (fast): a
    # student graded by its own encoder would grade itself; the stylization is the preset's own
    scoring = loss_encoder_preset(args.preset)
    loss_encoder = pipeline.encoder if scoring == args.preset else load_encoder(scoring, progress=False)
    loss_encoder_file = prepare(scoring, ("encoder",), progress=False)["encoder"]
    # the report names the weights it scored, the preset's default included (already prepared by from_preset)
    decoder_path = args.decoder or prepare(args.preset, ("decoder",), progress=False)["decoder"]
    encoder_path = prepare(args.preset, ("encoder",), progress=False)["encoder"]
    config = EvalConfig(
        pairs_dir=args.pairs,
        out_dir=args.out,
        sizes=args.sizes,
        lbfgs_iterations=args.lbfgs_iterations,
        refine_iterations=args.refine,
        optimize_sizes=args.optimize_sizes,
        weights=ObjectiveWeights(args.content_weight, args.style_weight),
        cache_dir=args.cache or adain_home() / "eval-cache",
        limit=args.limit,
    )

    def stylize(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return pipeline(content, style, StylizeOptions(), output_type="pt").rgb

    def stylizer(options: StylizeOptions) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        return lambda content, style: pipeline(content, style, options, output_type="pt").rgb

    names = ("multiscale", *args.methods) if args.multiscale else args.methods
    extra_methods = {
        f"decoder-{name}": stylizer(StylizeOptions(**EXTRA_METHODS[name])) for name in dict.fromkeys(names)
    }
    # the L-BFGS outputs depend on the loss encoder only: fast's are its teacher's, from one cache
    encoder_hash = file_sha256(loss_encoder_file)
    scores, images = evaluate(
        loss_encoder,
        stylize,
        config,
        encoder_id=encoder_hash,
        progress=args.progress,
        extra_methods=extra_methods,
    )
    # the constructed two-region test (adain.eval.semantic): does each region take its match's style?
    semantic = {
        method: round(semantic_fraction(function), 4)
        for method, function in {"decoder": stylize, **extra_methods}.items()
    }
    header = {
        "command": args.command_line,
        "preset": args.preset,
        "decoder": str(decoder_path),
        "decoder_sha256": file_sha256(decoder_path),
        # the encoder that stylized (fast's student; the scoring one is loss_encoder)
        "encoder": str(encoder_path),
        "encoder_sha256": file_sha256(encoder_path),
        # which encoder scored (content and style losses, L-BFGS): the preset's, or a distilled one's teacher's
        "loss_encoder": scoring,
        "loss_encoder_sha256": encoder_hash,
        "date": time.strftime("%Y-%m-%d"),
        "precision": pipeline.precision,
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        # fraction of pixels taking the matching region's style (0.5: chance; plain AdaIN about that)
        "semantic_fraction": semantic,
    }
    paths = write_report(scores, images, config, header)
    for row in summarize(scores):
        print(
            f"{row['size']:>5} {row['method']:<18} content {row['content_loss']:8.1f}  style {row['style_loss']:8.1f}  "
            f"ssim {row['ssim']:.3f}  {row['seconds']:.2f}s"
        )
    print(
        "semantic test (pixels taking their region's match): " + ", ".join(f"{m} {v:.0%}" for m, v in semantic.items())
    )
    print(f"report: {paths['markdown']}")
    return 0


# -- adain eval video: the temporal mechanisms --------------------------------------------------


def add_video_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
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
    parser.add_argument("--alpha", type=float, default=1.0, help="style strength in [0, 1]")
    parser.add_argument("--size", type=int, default=256, help="shorter side the frames are stylized at (default 256)")
    parser.add_argument("--frames", type=int, default=40, help="frames of each clip, from its start (default 40)")
    parser.add_argument(
        "--modes",
        default=",".join(TEMPORAL_MODES),
        help=f"temporal modes to compare (default {','.join(TEMPORAL_MODES)})",
    )
    add_temporal_arguments(parser, None)
    add_flow_max_side_argument(parser)
    parser.add_argument(
        "--measure-flow",
        choices=FLOW_METHODS,
        default=MEASURE_FLOW,
        help=f"the flow the warping error is measured with (default {MEASURE_FLOW}: not the blending's own)",
    )
    parser.add_argument("--preset", default=DEFAULT_PRESET, help="encoder preset (see `adain weights list`)")
    parser.add_argument("--decoder", type=Path, help="decoder file (default: the preset's)")
    parser.add_argument("-o", "--out", type=Path, default=Path("eval-video"), help="report folder (default eval-video)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(run=run_video)
    return parser


def run_video(args: argparse.Namespace) -> int:
    import torch

    from adain.eval.evaluate import loss_encoder_preset
    from adain.eval.video import VideoEvalConfig, evaluate_video, ratios, write_video_report
    from adain.pipeline.options import StylizeOptions
    from adain.pipeline.stylize import StylizationPipeline
    from adain.styles.library import resolve_style
    from adain.weights import load_encoder

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
        temporal=with_flow_max_side(temporal_options_from_args(args, "none"), args),
        measure_flow=args.measure_flow,
    ).check()
    styles = [resolve_style(style, args.preset) for style in style_specs]
    pipeline = StylizationPipeline.from_preset(args.preset, decoder_path=args.decoder)
    # the losses in the teacher's feature space for a distilled preset (fast), as `adain eval`
    # (a VGG preset's: its own encoder, None)
    scoring = loss_encoder_preset(args.preset)
    loss_encoder = None if scoring == args.preset else load_encoder(scoring, progress=False)
    scores, frames = evaluate_video(
        pipeline, styles, options, config, progress=args.progress, loss_encoder=loss_encoder, loss_preset=scoring
    )
    header = {
        "command": getattr(args, "command_line", "adain eval video"),
        "styles": ", ".join(style_specs),
        "decoder": str(args.decoder) if args.decoder else f"{args.preset} default",
        "precision": getattr(pipeline, "precision", "fp32"),
        "preset": args.preset,
        "loss_encoder": scoring,
        "temporal": {
            "blend": args.blend,
            "ema_momentum": args.ema_momentum,
            "flow": args.flow,
            "cut_threshold": args.cut_threshold,
            "flow_max_side": config.temporal.flow_max_side,
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
