"""``adain train``: train a decoder for an encoder preset on content and style folders.

Every option is checked before any data, weights or checkpoint is read (:meth:`TrainConfig.check`:
numbers in range and finite, known choices, folders that are folders, an ``--init`` file that is a
file, a ``--fork`` with a checkpoint, an ``--export`` that can be a decoder file): usage errors
exit 2, a missing ``--init`` file 1, each one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from adain.cli.main import path_argument
from adain.train.config import TrainConfig


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _text(text: str) -> str:
    """A path or name that must not be empty (``--init ''`` would silently mean no ``--init``)."""
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _taps(text: str) -> tuple[str, ...]:
    taps = tuple(tap.strip() for tap in text.split(",") if tap.strip())
    allowed = ("relu3_1", "relu2_1", "relu1_1")
    if not taps or any(tap not in allowed for tap in taps):
        raise argparse.ArgumentTypeError(f"expected taps among {', '.join(allowed)}, comma-separated; got {text!r}")
    return taps


#: the ``train`` sub-parser, kept to write the command line that reproduces a run


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a decoder on content and style folders (resumable; DDP under torchrun)",
        description="Train an AdaIN decoder. Under torchrun the same command trains with DDP.",
    )
    defaults = TrainConfig("", "", "")
    parser.add_argument(
        "--content", type=_text, help="folder of content images (recursive; jpg, png, webp); required to train"
    )
    parser.add_argument("--style", type=_text, help="folder of style images (recursive); required to train")
    parser.add_argument(
        "--run-dir", required=True, type=path_argument, help="checkpoints, logs, curves and samples go here"
    )
    parser.add_argument("--preset", default=defaults.preset, help="encoder preset (see `adain weights list`)")
    parser.add_argument(
        "--objective",
        choices=["adain", "reconstruction"],
        default=defaults.objective,
        help="adain: the paper's objective; reconstruction: warm start inverting the encoder",
    )
    parser.add_argument(
        "--steps", type=int, default=defaults.steps, help="total steps (a resumed run continues to this)"
    )
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="global batch size")
    parser.add_argument(
        "--crop-size", type=int, default=defaults.crop_size, help="side of the square training crops, in pixels"
    )
    parser.add_argument(
        "--resize-shorter",
        type=int,
        default=defaults.resize_shorter,
        help="shorter side images are resized to before cropping",
    )
    parser.add_argument("--lr", type=float, default=defaults.learning_rate, help="Adam learning rate")
    parser.add_argument(
        "--lr-decay", type=float, default=defaults.learning_rate_decay, help="learning rate / (1 + decay * step)"
    )
    parser.add_argument(
        "--content-weight", type=float, default=defaults.content_weight, help="weight of the relu4_1 content loss"
    )
    parser.add_argument(
        "--style-weight", type=float, default=defaults.style_weight, help="weight of the style loss (all taps)"
    )
    parser.add_argument(
        "--style-loss",
        choices=["mean_std", "gram"],
        default=defaults.style_loss,
        help="mean_std: the paper's (channel means and stds per tap); gram: Gram matrices",
    )
    parser.add_argument(
        "--style-tap-weights",
        type=_floats,
        default=defaults.style_tap_weights,
        help="relu1_1..relu4_1 multipliers, e.g. 1,1,1,1",
    )
    parser.add_argument(
        "--complexity-weighting",
        type=float,
        default=defaults.complexity_weighting,
        help="weight each sample's style loss by (edge density)^-S; 0 disables",
    )
    parser.add_argument(
        "--style-zoom",
        type=_floats,
        default=defaults.style_zoom,
        metavar="MIN,MAX",
        help="style crops cut from crop*zoom squares, zoom log-uniform in MIN,MAX (default 1,1: none)",
    )
    parser.add_argument(
        "--style-color-jitter",
        type=float,
        default=defaults.style_color_jitter,
        metavar="J",
        help="style crops: contrast and saturation x exp(U(-J,J)), hue rotated by U(-J,J)*pi (default 0)",
    )
    parser.add_argument(
        "--style-mix",
        type=float,
        default=defaults.style_mix,
        metavar="P",
        help="with probability P interpolate a sample's style statistics with another's in the batch, "
        "weight U(0,1) (default 0)",
    )
    parser.add_argument(
        "--ema-decay",
        type=float,
        default=defaults.ema_decay,
        metavar="D",
        help="export and sample a moving average of the weights, decay D per step (e.g. 0.999; default 0: "
        "the last weights)",
    )
    parser.add_argument(
        "--feature-weight",
        type=float,
        default=defaults.feature_weight,
        help="reconstruction objective: weight of the relu4_1 feature loss",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seeds the crops, the order and the weights")
    parser.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16", "fp16"],
        default=None,
        help=f"auto: bf16 autocast on a CPU with native bf16 (else fp32), fp16 with a grad scaler on CUDA "
        f"(default: {defaults.precision}; with --resume: the run's, and another one is used from there on, with a note)",
    )
    parser.add_argument(
        "--no-channels-last",
        dest="channels_last",
        action="store_false",
        help="keep activations NCHW (channels-last is faster on most CPUs)",
    )
    parser.add_argument("--workers", type=int, default=defaults.workers, help="data loading processes")
    parser.add_argument("--device", default=defaults.device, help="cpu, cuda, cuda:N or mps")
    parser.add_argument("--threads", type=int, default=defaults.threads, help="torch threads (0: default)")
    parser.add_argument(
        "--checkpoint-every", type=int, default=defaults.checkpoint_every_steps, help="save a checkpoint every N steps"
    )
    parser.add_argument(
        "--checkpoint-minutes",
        type=float,
        default=defaults.checkpoint_every_minutes,
        help="and at least every M minutes",
    )
    parser.add_argument(
        "--sample-every", type=int, default=defaults.sample_every_steps, help="steps between sample grids"
    )
    parser.add_argument("--log-every", type=int, default=defaults.log_every_steps, help="steps between loss log lines")
    parser.add_argument(
        "--init",
        dest="init_decoder",
        type=_text,
        help="fine-tune from this decoder (safetensors or .pth); a plain "
        "decoder initialises a multi-level one's shared layers (gates closed)",
    )
    parser.add_argument(
        "--decoder",
        choices=["plain", "multilevel"],
        default=defaults.decoder,
        help="plain: the paper's decoder (relu4_1 in); multilevel: plus gated skips from the AdaIN'd "
        "features at --skip-taps",
    )
    parser.add_argument(
        "--skip-taps",
        type=_taps,
        default=defaults.skip_taps,
        metavar="TAPS",
        help="multilevel: the taps that feed skips, comma-separated (default relu3_1,relu2_1,relu1_1)",
    )
    parser.add_argument(
        "--skip-lr",
        dest="skip_learning_rate",
        type=float,
        default=defaults.skip_learning_rate,
        help="multilevel: learning rate of the skips and gates (default 0: --lr)",
    )
    parser.add_argument(
        "--selection-fraction",
        type=float,
        default=defaults.selection_fraction,
        metavar="F",
        help="hold this fraction of the content and style images out of training (by file-name hash): "
        "the selection split to choose checkpoints on (default 0: train on all)",
    )
    parser.add_argument(
        "--fork",
        type=path_argument,
        metavar="RUN_DIR",
        help="start from RUN_DIR's checkpoint (decoder, optimiser state, step) with this command's "
        "options, in a new --run-dir: to change a recipe midway without a restart",
    )
    parser.add_argument(
        "--no-cache-images",
        dest="cache_images",
        action="store_false",
        help="decode images on every use instead of keeping them in memory",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from RUN_DIR/checkpoint.pt (config taken from it; --steps may extend it)",
    )
    parser.add_argument("--export", type=path_argument, help="also write the final decoder (fp16 safetensors) here")
    parser.add_argument(
        "--export-only",
        action="store_true",
        help="write RUN_DIR's latest checkpoint as a decoder to --export and stop (no data needed; "
        "safe while the run goes on)",
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(run=run)


def _check_export(path: Path | None) -> None:
    """``--export``: a ``.safetensors`` name (what is written is one) that is not a folder; checked
    before a run, not after hours of training."""
    from adain.errors import OutputError, UsageError

    if path is None:
        return
    if path.suffix != ".safetensors":
        raise UsageError(f"--export writes a decoder as safetensors: give FILE.safetensors. Got {str(path)!r}")
    if os.path.isdir(path):
        raise OutputError(f"cannot write --export {str(path)!r}: it is a folder")
    parent = next((p for p in path.parents if os.path.lexists(p)), None)
    if parent is not None and not os.path.isdir(parent):
        raise OutputError(f"cannot write --export {str(path)!r}: {parent} is not a folder")


def run(args: argparse.Namespace) -> int:
    _check_export(args.export)
    if args.export_only:
        return _export_only(args)
    if not args.content or not args.style:
        from adain.errors import UsageError

        raise UsageError("adain train needs --content and --style folders")
    from adain.errors import UsageError
    from adain.train.checkpoint import CHECKPOINT_NAME, load_checkpoint
    from adain.train.trainer import Trainer

    config = TrainConfig(
        content_dir=args.content,
        style_dir=args.style,
        run_dir=str(args.run_dir),
        preset=args.preset,
        objective=args.objective,
        steps=args.steps,
        batch_size=args.batch_size,
        crop_size=args.crop_size,
        resize_shorter=args.resize_shorter,
        learning_rate=args.lr,
        learning_rate_decay=args.lr_decay,
        content_weight=args.content_weight,
        style_weight=args.style_weight,
        style_loss=args.style_loss,
        style_tap_weights=tuple(args.style_tap_weights),
        complexity_weighting=args.complexity_weighting,
        style_zoom=tuple(args.style_zoom),
        style_color_jitter=args.style_color_jitter,
        style_mix=args.style_mix,
        ema_decay=args.ema_decay,
        feature_weight=args.feature_weight,
        seed=args.seed,
        precision=args.precision or "auto",  # None: not given (kept from the run on --resume)
        channels_last=args.channels_last,
        workers=args.workers,
        device=args.device,
        threads=args.threads,
        checkpoint_every_steps=args.checkpoint_every,
        checkpoint_every_minutes=args.checkpoint_minutes,
        sample_every_steps=args.sample_every,
        log_every_steps=args.log_every,
        init_decoder=args.init_decoder,
        fork_from=str(args.fork) if args.fork else None,
        decoder=args.decoder,
        skip_taps=tuple(args.skip_taps),
        skip_learning_rate=args.skip_learning_rate,
        selection_fraction=args.selection_fraction,
        cache_images=args.cache_images,
    ).check()
    checkpoint = Path(args.run_dir) / CHECKPOINT_NAME
    if args.resume and args.fork:
        raise UsageError("--resume continues RUN_DIR's run and --fork starts a new one from another: choose one")
    if args.resume:
        if not os.path.lexists(checkpoint):
            raise UsageError(f"--resume: no checkpoint in {args.run_dir}")
        saved = _saved_config(checkpoint, load_checkpoint(checkpoint))
        # the run's identity (data, objective, weights) comes from the checkpoint; only how long
        # and how it runs may change on resume
        for name in (
            "steps",
            "workers",
            "device",
            "threads",
            "checkpoint_every_steps",
            "checkpoint_every_minutes",
            "sample_every_steps",
            "log_every_steps",
            "content_dir",
            "style_dir",
        ):
            setattr(saved, name, getattr(config, name))
        if args.precision is not None and args.precision != saved.precision:
            # how it runs, not what it learns: honoured from here on, and said (the checkpoint records it)
            print(
                f"adain train: note: the run so far used --precision {saved.precision}; it continues in "
                f"{args.precision} (bit-exact resumption needs the same precision)",
                file=sys.stderr,
            )
            saved.precision = args.precision
        config = saved
    elif os.path.lexists(checkpoint):
        raise UsageError(
            f"{args.run_dir} already holds a checkpoint: pass --resume to continue it or choose another --run-dir"
        )
    trainer = Trainer(config, progress=args.progress)
    try:
        if args.resume:
            trainer.resume()
        elif config.fork_from:
            trainer.fork()
        trainer.record_session(args.command_line)
        trainer.fit()
    finally:
        trainer.close()  # ends the DDP process group on every rank, also after an error
    if trainer.rank == 0:
        exported = trainer.export_decoder()
        if args.export:
            trainer.export_decoder(args.export)
        print(f"trained to step {trainer.step}; decoder: {args.export or exported}")
    return 0


def _export_only(args: argparse.Namespace) -> int:
    from adain.errors import UsageError
    from adain.train.checkpoint import CHECKPOINT_NAME, load_checkpoint
    from adain.train.trainer import export_checkpoint

    if args.export is None:
        raise UsageError("--export-only needs --export FILE")
    checkpoint = Path(args.run_dir) / CHECKPOINT_NAME
    if not os.path.lexists(checkpoint):
        raise UsageError(f"no checkpoint in {args.run_dir}")
    _saved_config(checkpoint, load_checkpoint(checkpoint))  # refused in one line if it is not a run's
    try:
        exported = export_checkpoint(checkpoint, args.export)
    except (KeyError, TypeError, ValueError, RuntimeError) as error:  # load_state_dict's refusals included
        raise _not_a_run(checkpoint, error) from None
    print(f"decoder: {exported}")
    return 0


def _not_a_run(checkpoint: Path, error: BaseException) -> Exception:
    from adain.errors import WeightsError

    if isinstance(error, KeyError):
        reason = f"no {error.args[0]!r} in it"
    else:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return WeightsError(f"cannot read checkpoint {checkpoint}: it is not a checkpoint of adain train ({reason})")


def _saved_config(checkpoint: Path, state: dict) -> TrainConfig:
    """The config a checkpoint was written with; one that has none (or a broken one) is refused."""
    try:
        config = state["config"]
        if not isinstance(config, dict):
            raise TypeError(f"its config is a {type(config).__name__}")
        return TrainConfig.from_dict(config)
    except (KeyError, TypeError, ValueError) as error:
        raise _not_a_run(checkpoint, error) from None
