"""Training configuration: one dataclass, saved in every checkpoint so a resume is exact."""

from __future__ import annotations

import os
import stat
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from adain._checks import is_int, is_number
from adain.errors import MissingWeightsError, UsageError
from adain.weights.presets import DEFAULT_PRESET, refuse_distilled
from adain.weights.store import regular_file

__all__ = ["MAX_BATCH", "MAX_CROP", "MAX_STEPS", "MAX_ZOOM", "TrainConfig"]

#: Upper bounds of the sizes and counts: far above any real run, low enough that a typo (an extra
#: zero, ``1e9``) is refused at once instead of as an allocation that never ends.
MAX_STEPS = 10**9
MAX_BATCH = 4096
MAX_CROP = 4096
MAX_RESIZE = 16384
MAX_ZOOM = 16.0
MAX_WORKERS = 256
MAX_THREADS = 1024


@dataclass
class TrainConfig:
    content_dir: str
    style_dir: str
    run_dir: str
    preset: str = DEFAULT_PRESET
    #: "adain": the paper's objective; "reconstruction": decoder inverts the encoder (a WCT-style
    #: warm start that needs no style and converges faster).
    objective: str = "adain"
    steps: int = 10_000
    batch_size: int = 8
    crop_size: int = 256
    #: images are resized so their shorter side is this before cropping (the paper: 512).
    resize_shorter: int = 512
    learning_rate: float = 1e-4
    #: lr_t = lr / (1 + decay * t), as in the paper's released code.
    learning_rate_decay: float = 5e-5
    content_weight: float = 1.0
    style_weight: float = 10.0
    style_loss: str = "mean_std"  # or "gram"
    #: per-tap multipliers of the style loss (relu1_1..relu4_1).
    style_tap_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    #: > 0: scale each sample's style loss by (edge density / batch mean) ** -strength, so detailed
    #: content keeps more of its structure; 0 disables.
    complexity_weighting: float = 0.0
    #: style crops: zoom range and colour jitter (:class:`~adain.train.data.Augmentation`); the
    #: defaults change nothing
    style_zoom: tuple[float, float] = (1.0, 1.0)
    style_color_jitter: float = 0.0
    #: probability that a sample's style statistics (every tap, for the AdaIN target and the style
    #: loss) are interpolated with the next sample's, weight U(0, 1): styles between the training
    #: paintings, for a decoder that meets unseen ones; 0 disables (mean_std style loss only)
    style_mix: float = 0.0
    #: > 0: keep an exponential moving average of the decoder's weights (this decay per step) and
    #: export and sample it instead of the last weights, which swing with the latest batches;
    #: 0 disables
    ema_decay: float = 0.0
    #: reconstruction objective: weight of the relu4_1 feature loss beside the pixel loss.
    feature_weight: float = 1.0
    seed: int = 0
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    channels_last: bool = True
    workers: int = 0
    device: str = "cpu"
    threads: int = 0  # 0: leave torch's default
    checkpoint_every_steps: int = 200
    checkpoint_every_minutes: float = 10.0
    sample_every_steps: int = 500
    log_every_steps: int = 10
    init_decoder: str | None = None
    #: "plain": the paper's decoder; "multilevel": with gated skips from the AdaIN'd features at
    #: ``skip_taps`` (:class:`~adain.models.MultiLevelDecoder`; ``--init`` from a plain decoder
    #: fills its shared layers and leaves the gates closed)
    decoder: str = "plain"
    skip_taps: tuple[str, ...] = ("relu3_1", "relu2_1", "relu1_1")
    #: learning rate of the multi-level decoder's new parameters (skips and gates); 0: ``learning_rate``
    skip_learning_rate: float = 0.0
    #: this fraction of the content and of the style images (chosen by a hash of the file name, so
    #: the same on every machine) is held out of training as the selection split, on which
    #: checkpoints and recipes are chosen (:func:`~adain.train.data.selection_split`); 0: train on all
    selection_fraction: float = 0.0
    #: the run folder this run was forked from (``adain train --fork``): its decoder, optimiser
    #: state and step counter were the start
    fork_from: str | None = None
    cache_images: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self) -> TrainConfig:
        """This config, checked before anything is loaded (the one way options are validated). Returns ``self``.

        Every number must be of its kind, finite and in its range; each message names the option
        (``--crop-size: crop size must be ...``). Then the paths and the device (:meth:`_check_paths`).
        A distilled preset (``fast``) is refused: a decoder is trained for its teacher (vgg16-hed).
        """
        refuse_distilled(self.preset, "adain train")
        if self.objective not in ("adain", "reconstruction"):
            raise UsageError(f"objective must be adain or reconstruction. Got {self.objective!r}")
        if self.style_loss not in ("mean_std", "gram"):
            raise UsageError(f"style loss must be mean_std or gram. Got {self.style_loss!r}")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise UsageError(f"precision must be auto, fp32, bf16 or fp16. Got {self.precision!r}")
        if self.decoder not in ("plain", "multilevel"):
            raise UsageError(f"decoder must be plain or multilevel. Got {self.decoder!r}")
        self._check_ranges()
        if self.crop_size % 8:
            raise UsageError(f"--crop-size: crop size must be a multiple of 8 and at least 16. Got {self.crop_size}")
        if self.resize_shorter and self.resize_shorter < self.crop_size:
            raise UsageError(
                f"--resize-shorter ({self.resize_shorter}) must be at least the crop size ({self.crop_size})"
            )
        if self.style_mix and self.style_loss != "mean_std":
            raise UsageError("style mixing interpolates mean/std statistics: it needs --style-loss mean_std")
        if self.init_decoder and self.fork_from:
            raise UsageError("--init and --fork both give the start: choose one")
        if self.decoder == "multilevel" and (
            not self.skip_taps or not set(self.skip_taps) <= {"relu3_1", "relu2_1", "relu1_1"}
        ):
            raise UsageError(
                f"--skip-taps: skip taps must be a non-empty subset of relu3_1, relu2_1, relu1_1. "
                f"Got {list(self.skip_taps)}"
            )
        self._check_paths()
        return self

    def _check_ranges(self) -> None:
        """Every number: an integer or a finite number where one is meant, in its range."""
        for name, option, label, low, high in (
            ("steps", "--steps", "steps", 0, MAX_STEPS),
            ("batch_size", "--batch-size", "batch size", 1, MAX_BATCH),
            ("crop_size", "--crop-size", "crop size", 16, MAX_CROP),
            ("resize_shorter", "--resize-shorter", "the shorter side", 0, MAX_RESIZE),
            ("seed", "--seed", "the seed", 0, 2**63 - 1),
            ("workers", "--workers", "workers", 0, MAX_WORKERS),
            ("threads", "--threads", "threads", 0, MAX_THREADS),
            ("checkpoint_every_steps", "--checkpoint-every", "steps between checkpoints", 1, MAX_STEPS),
            ("sample_every_steps", "--sample-every", "steps between samples", 0, MAX_STEPS),
            ("log_every_steps", "--log-every", "steps between logs", 1, MAX_STEPS),
        ):
            value = getattr(self, name)
            if not is_int(value, low, high):
                raise UsageError(f"{option}: {label} must be an integer in [{low}, {high}]. Got {value!r}")
        for name, option in (
            ("learning_rate_decay", "--lr-decay"),
            ("content_weight", "--content-weight"),
            ("style_weight", "--style-weight"),
            ("complexity_weighting", "--complexity-weighting"),
            ("feature_weight", "--feature-weight"),
            ("skip_learning_rate", "--skip-lr"),
        ):
            value = getattr(self, name)
            if not is_number(value, 0.0):
                raise UsageError(f"{option} must be a finite number >= 0. Got {value!r}")
        if not is_number(self.learning_rate, above=0.0):
            raise UsageError(f"--lr must be a finite number > 0. Got {self.learning_rate!r}")
        if not is_number(self.checkpoint_every_minutes, 0.0, finite=False):
            raise UsageError(
                f"--checkpoint-minutes must be >= 0 (inf: never by time). Got {self.checkpoint_every_minutes!r}"
            )
        weights = list(self.style_tap_weights)
        if len(weights) != 4 or not all(is_number(w, 0.0) for w in weights):
            raise UsageError(
                f"--style-tap-weights: need 4 style tap weights (relu1_1..relu4_1), finite and >= 0. Got {weights}"
            )
        zoom = list(self.style_zoom)
        if len(zoom) != 2 or not all(is_number(z, above=0.0, maximum=MAX_ZOOM) for z in zoom) or zoom[0] > zoom[1]:
            raise UsageError(
                f"--style-zoom: style zoom is a range MIN,MAX with 0 < MIN <= MAX <= {MAX_ZOOM:g}. Got {zoom}"
            )
        if not is_number(self.style_color_jitter, 0.0, 1.0):
            raise UsageError(f"--style-color-jitter: colour jitter must be in [0, 1]. Got {self.style_color_jitter!r}")
        if not is_number(self.style_mix, 0.0, 1.0):
            raise UsageError(f"--style-mix: style mix must be a probability in [0, 1]. Got {self.style_mix!r}")
        if not (is_number(self.ema_decay, 0.0) and self.ema_decay < 1):
            raise UsageError(f"--ema-decay: EMA decay must be in [0, 1). Got {self.ema_decay!r}")
        if not (is_number(self.selection_fraction, 0.0) and self.selection_fraction < 1):
            raise UsageError(
                f"--selection-fraction: selection fraction must be in [0, 1). Got {self.selection_fraction!r}"
            )

    def _check_paths(self) -> None:
        """The device and every path, from ``stat``, before any weights or data are loaded: the
        data folders are folders, the run folder is not a file, ``--init`` is a readable file,
        ``--fork`` a run folder with a checkpoint."""
        from adain.pipeline.device import check_device

        try:
            check_device(self.device)
        except UsageError as error:
            raise UsageError(f"--device: {error}") from None
        if self.run_dir:
            try:
                mode = os.stat(self.run_dir).st_mode
            except (FileNotFoundError, NotADirectoryError):
                mode = None  # created when the run starts (or refused then, with the reason)
            except OSError as error:
                raise UsageError(f"--run-dir {self.run_dir}: {error.strerror or error}") from None
            if mode is not None and not stat.S_ISDIR(mode):
                raise UsageError(f"--run-dir {self.run_dir} is not a folder")
        for option, folder in (("--content", self.content_dir), ("--style", self.style_dir)):
            if folder and not os.path.isdir(folder):
                raise UsageError(f"{option} {folder} is not a folder (of training images)")
        if self.init_decoder:
            regular_file(self.init_decoder, "--init decoder file", missing=MissingWeightsError)
        if self.fork_from:
            from adain.train.checkpoint import CHECKPOINT_NAME

            if not os.path.isfile(Path(self.fork_from) / CHECKPOINT_NAME):
                raise UsageError(f"--fork: no checkpoint in {self.fork_from}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["style_tap_weights"] = list(self.style_tap_weights)
        data["style_zoom"] = list(self.style_zoom)
        data["skip_taps"] = list(self.skip_taps)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "style_tap_weights" in values:
            values["style_tap_weights"] = tuple(values["style_tap_weights"])
        if "style_zoom" in values:
            values["style_zoom"] = tuple(values["style_zoom"])
        if "skip_taps" in values:
            values["skip_taps"] = tuple(values["skip_taps"])
        return cls(**values)
