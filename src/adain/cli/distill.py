"""``adain distill encoder|decoder``: distil a compact student from the preset's encoder or decoder.

Option values arrive as text and are checked before anything loads, so a bad one is a one-line
usage error (exit 2). ``--resume`` continues a run as it was configured: it takes the data
folders, the width and the recipe from the checkpoint; only how long and how it runs may change.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adain._checks import parse_float, parse_int
from adain.errors import UsageError
from adain.train.distill import DISTILL_TARGETS, DistillConfig

__all__ = ["add_parser", "run"]

EPILOG = """\
examples:
  adain distill encoder --content ../shared/data/content --style ../shared/data/style \\
      --run-dir runs/compact-encoder --steps 20000
  adain distill decoder --teacher-decoder src/adain/weights/shipped/vgg16-hed-decoder.safetensors \\
      --content ../shared/data/content --style ../shared/data/style --run-dir runs/compact-decoder --steps 20000
  adain distill encoder --run-dir runs/compact-encoder --resume --steps 40000
  adain distill encoder --run-dir runs/compact-encoder --export encoder.safetensors --export-only

The run folder gets checkpoint.pt, losses.jsonl, loss_curve.png, TensorBoard scalars, sample grids
(decoder) and, at the end, compact-<target>.safetensors (fp16) with its manifest entry.
exit codes: 0 done, 1 a failure, 2 a usage error."""


def _zoom(text: str, name: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise UsageError(f"{name} must be MIN,MAX. Got {text!r}")
    low, high = (parse_float(part, name) for part in parts)
    return low, high


#: flag -> (config field, parser of its text, metavar, help, the targets that take it)
OPTIONS: dict[str, tuple[str, Callable[[str, str], Any], str, str, tuple[str, ...]]] = {
    "--content": ("content_dir", lambda t, n: t, "DIR", "folder of content images (recursive)", DISTILL_TARGETS),
    "--style": ("style_dir", lambda t, n: t, "DIR", "folder of style images (recursive)", DISTILL_TARGETS),
    "--preset": ("preset", lambda t, n: t, "NAME", "the teacher's preset", DISTILL_TARGETS),
    "--teacher-decoder": (
        "teacher_decoder",
        lambda t, n: t,
        "FILE",
        "the teacher decoder (default: the preset's); the student takes its taps unless --skip-taps",
        ("decoder",),
    ),
    "--skip-taps": (
        "skip_taps",
        lambda t, n: tuple(part.strip() for part in t.split(",") if part.strip()),
        "TAPS",
        "the student's skip taps, comma-separated, some of the teacher decoder's (default: all of them)",
        ("decoder",),
    ),
    "--student-encoder": (
        "student_encoder",
        lambda t, n: t,
        "FILE",
        "an exported compact encoder: the student decoder learns from its content taps, as the fast preset "
        "runs (default: the teacher encoder's taps)",
        ("decoder",),
    ),
    "--width": (
        "width",
        parse_float,
        "W",
        "fraction of the teacher's channels, (0, 1]",
        DISTILL_TARGETS,
    ),
    "--kind": (
        "kind",
        lambda t, n: t,
        "KIND",
        "vgg (3x3 convs) or separable (depthwise 3x3 + pointwise 1x1)",
        ("encoder",),
    ),
    "--steps": ("steps", parse_int, "N", "total steps (a resumed run continues to this)", DISTILL_TARGETS),
    "--batch-size": (
        "batch_size",
        parse_int,
        "B",
        "content and style crops per step, each",
        DISTILL_TARGETS,
    ),
    "--crop-size": ("crop_size", parse_int, "PX", "crop side, a multiple of 8", DISTILL_TARGETS),
    "--resize-shorter": (
        "resize_shorter",
        parse_int,
        "PX",
        "shorter side images are resized to before cropping",
        DISTILL_TARGETS,
    ),
    "--lr": ("learning_rate", parse_float, "LR", "Adam learning rate", DISTILL_TARGETS),
    "--lr-decay": ("learning_rate_decay", parse_float, "D", "lr / (1 + D * step)", DISTILL_TARGETS),
    "--pixel-loss": (
        "pixel_loss",
        lambda t, n: t,
        "LOSS",
        "l1 or l2 against the teacher's output",
        ("decoder",),
    ),
    "--content-weight": (
        "content_weight",
        parse_float,
        "W",
        "weight of the content loss through the teacher encoder",
        ("decoder",),
    ),
    "--style-weight": (
        "style_weight",
        parse_float,
        "W",
        "weight of the style loss through the teacher encoder",
        ("decoder",),
    ),
    "--variance-momentum": (
        "variance_momentum",
        parse_float,
        "M",
        "how fast the running per-channel variance of the teacher's taps follows each batch",
        ("encoder",),
    ),
    "--ema-decay": (
        "ema_decay",
        parse_float,
        "D",
        "export a moving average of the weights, decay D per step; 0: off",
        DISTILL_TARGETS,
    ),
    "--selection-fraction": (
        "selection_fraction",
        parse_float,
        "F",
        "hold this fraction of the images out (by file-name hash), as adain train does",
        DISTILL_TARGETS,
    ),
    "--style-zoom": (
        "style_zoom",
        _zoom,
        "MIN,MAX",
        "style crops zoomed log-uniformly in MIN,MAX",
        DISTILL_TARGETS,
    ),
    "--style-color-jitter": (
        "style_color_jitter",
        parse_float,
        "J",
        "style crops' colour jitter",
        DISTILL_TARGETS,
    ),
    "--init": (
        "init_student",
        lambda t, n: t,
        "FILE",
        "start from this exported student of the same shape, e.g. a last phase with --content-weight "
        "and --style-weight from the pixel-loss phase's export",
        DISTILL_TARGETS,
    ),
    "--seed": ("seed", parse_int, "N", "seed of the data and the initial weights", DISTILL_TARGETS),
    "--precision": (
        "precision",
        lambda t, n: t,
        "P",
        "auto (bf16 where native, else fp32), fp32 or bf16",
        DISTILL_TARGETS,
    ),
    "--device": ("device", lambda t, n: t, "DEVICE", "torch device", DISTILL_TARGETS),
    "--threads": ("threads", parse_int, "N", "torch threads; 0: torch's choice", DISTILL_TARGETS),
    "--checkpoint-every": (
        "checkpoint_every_steps",
        parse_int,
        "N",
        "steps between checkpoints",
        DISTILL_TARGETS,
    ),
    "--checkpoint-minutes": (
        "checkpoint_every_minutes",
        parse_float,
        "M",
        "also checkpoint after this many minutes",
        DISTILL_TARGETS,
    ),
    "--log-every": ("log_every_steps", parse_int, "N", "steps per losses.jsonl line", DISTILL_TARGETS),
    "--sample-every": (
        "sample_every_steps",
        parse_int,
        "N",
        "steps between sample grids; 0: none",
        ("decoder",),
    ),
}

#: what a resumed run may change: how long and how it runs, and where the data are now
RESUMABLE = {
    "steps",
    "content_dir",
    "style_dir",
    "device",
    "threads",
    "checkpoint_every_steps",
    "checkpoint_every_minutes",
    "log_every_steps",
    "sample_every_steps",
    "cache_images",
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "distill",
        help="distil a compact encoder or decoder from the preset's (for a fast preset)",
        description="Distil a compact student (a fraction of the channels) from the preset's encoder or decoder.",
    )
    targets = parser.add_subparsers(dest="distill_target", metavar="TARGET", required=True)
    helps = {
        "encoder": "regress the teacher encoder's taps (per-channel normalised MSE) on content and style crops",
        "decoder": "regress the teacher decoder's output given the same AdaIN'd inputs",
    }
    for target in DISTILL_TARGETS:
        sub = targets.add_parser(
            target,
            help=helps[target],
            description=f"Distil a compact {target}: {helps[target]}.",
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("--run-dir", metavar="DIR", help="checkpoint, logs, curves and samples go here (required)")
        defaults = DistillConfig(target, "", "", "")
        for flag, (field, _, metavar, text, takers) in OPTIONS.items():
            if target in takers:
                default = getattr(defaults, field)
                shown = ",".join(f"{v:g}" for v in default) if isinstance(default, tuple) else default
                shown = f"{shown:g}" if isinstance(shown, float) else shown
                suffix = (
                    f" (default {shown})" if default is not None and field not in ("content_dir", "style_dir") else ""
                )
                sub.add_argument(flag, metavar=metavar, help=text + suffix)
        sub.add_argument(
            "--no-cache-images",
            dest="cache_images",
            action="store_const",
            const=False,
            default=None,
            help="decode images on every use instead of keeping them in memory",
        )
        sub.add_argument("--resume", action="store_true", help="continue RUN_DIR's run (its options kept)")
        sub.add_argument("--export", metavar="FILE", help="also write the final student (fp16 safetensors) here")
        sub.add_argument(
            "--export-only",
            action="store_true",
            help="write RUN_DIR's latest checkpoint to --export and stop (no data needed; safe while the run goes on)",
        )
        sub.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
        sub.set_defaults(run=run)


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields the command line set, parsed (an unparsable value is a usage error)."""
    values: dict[str, Any] = {}
    for flag, (field, parse, *_) in OPTIONS.items():
        text = getattr(args, field_attribute(flag), None)
        if text is not None:
            values[field] = parse(text, flag)
    if args.cache_images is not None:
        values["cache_images"] = args.cache_images
    return values


def field_attribute(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _config(args: argparse.Namespace, target: str, run_dir: Path) -> DistillConfig:
    from adain.train.checkpoint import CHECKPOINT_NAME, load_checkpoint

    given = _given(args)
    checkpoint = run_dir / CHECKPOINT_NAME
    if not args.resume:
        if checkpoint.exists():
            raise UsageError(
                f"{run_dir} already holds a checkpoint: pass --resume to continue it or choose another --run-dir"
            )
        if "content_dir" not in given or "style_dir" not in given:
            raise UsageError(f"adain distill {target} needs --content and --style folders")
        return DistillConfig(target=target, run_dir=str(run_dir), **given).check()
    if not checkpoint.exists():
        raise UsageError(f"--resume: no checkpoint in {run_dir}")
    state = load_checkpoint(checkpoint)
    if state.get("kind") != "distill" or state["config"].get("target") != target:
        raise UsageError(f"--resume: {checkpoint} is not a checkpoint of {target} distillation")
    saved = DistillConfig.from_dict(state["config"])
    for field, value in given.items():
        if field not in RESUMABLE and value != getattr(saved, field):
            raise UsageError(
                f"--resume continues the run as configured: {field} was {getattr(saved, field)!r} (start a new "
                "run to change it)"
            )
        setattr(saved, field, value)
    saved.run_dir = str(run_dir)
    return saved.check()


def run(args: argparse.Namespace) -> int:
    target = args.distill_target
    if not args.run_dir:
        raise UsageError(f"adain distill {target} needs --run-dir DIR")
    run_dir = Path(args.run_dir)
    if args.export_only:
        return _export_only(args, run_dir)
    if args.export is not None and not args.export.endswith(".safetensors"):
        raise UsageError(f"--export must name a .safetensors file. Got {args.export!r}")
    config = _config(args, target, run_dir)
    from adain.train.distill import Distiller

    distiller = Distiller(config, progress=args.progress)
    if args.resume:
        distiller.resume()
    distiller.record_session(args.command_line)
    distiller.fit()
    exported = distiller.export()
    if args.export:
        distiller.export(Path(args.export))
    print(f"distilled to step {distiller.step}; student: {args.export or exported}")
    return 0


def _export_only(args: argparse.Namespace, run_dir: Path) -> int:
    from adain.train.checkpoint import CHECKPOINT_NAME
    from adain.train.distill import export_distill_checkpoint

    if args.export is None:
        raise UsageError("--export-only needs --export FILE")
    if not args.export.endswith(".safetensors"):
        raise UsageError(f"--export must name a .safetensors file. Got {args.export!r}")
    checkpoint = run_dir / CHECKPOINT_NAME
    if not checkpoint.exists():
        raise UsageError(f"no checkpoint in {run_dir}")
    print(f"student: {export_distill_checkpoint(checkpoint, Path(args.export), args.distill_target)}")
    return 0
