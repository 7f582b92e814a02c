"""Training configuration: one dataclass, saved in every checkpoint so a resume is exact."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from adain.errors import UsageError
from adain.weights.presets import DEFAULT_PRESET

__all__ = ["TrainConfig"]


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
        """This config, checked before anything is loaded (the one way options are validated). Returns ``self``."""
        if self.objective not in ("adain", "reconstruction"):
            raise UsageError(f"objective must be adain or reconstruction. Got {self.objective!r}")
        if self.style_loss not in ("mean_std", "gram"):
            raise UsageError(f"style loss must be mean_std or gram. Got {self.style_loss!r}")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise UsageError(f"precision must be auto, fp32, bf16 or fp16. Got {self.precision!r}")
        if self.crop_size < 16 or self.crop_size % 8:
            raise UsageError(f"crop size must be a multiple of 8 and at least 16. Got {self.crop_size}")
        if self.resize_shorter and self.resize_shorter < self.crop_size:
            raise UsageError(
                f"--resize-shorter ({self.resize_shorter}) must be at least the crop size ({self.crop_size})"
            )
        if self.batch_size < 1 or self.steps < 0:
            raise UsageError(f"batch size and steps must be positive. Got {self.batch_size}, {self.steps}")
        if len(self.style_zoom) != 2:
            raise UsageError(f"style zoom is a range MIN,MAX. Got {list(self.style_zoom)}")
        if not 0 <= self.style_mix <= 1:
            raise UsageError(f"style mix must be a probability in [0, 1]. Got {self.style_mix}")
        if self.style_mix and self.style_loss != "mean_std":
            raise UsageError("style mixing interpolates mean/std statistics: it needs --style-loss mean_std")
        if not 0 <= self.ema_decay < 1:
            raise UsageError(f"EMA decay must be in [0, 1). Got {self.ema_decay}")
        if self.init_decoder and self.fork_from:
            raise UsageError("--init and --fork both give the start: choose one")
        if self.decoder not in ("plain", "multilevel"):
            raise UsageError(f"decoder must be plain or multilevel. Got {self.decoder!r}")
        if self.decoder == "multilevel" and (
            not self.skip_taps or not set(self.skip_taps) <= {"relu3_1", "relu2_1", "relu1_1"}
        ):
            raise UsageError(
                f"skip taps must be a non-empty subset of relu3_1, relu2_1, relu1_1. Got {list(self.skip_taps)}"
            )
        if not 0 <= self.selection_fraction < 1:
            raise UsageError(f"selection fraction must be in [0, 1). Got {self.selection_fraction}")
        if self.skip_learning_rate < 0:
            raise UsageError(f"skip learning rate must be >= 0. Got {self.skip_learning_rate}")
        if len(self.style_tap_weights) != 4:
            raise UsageError(f"need 4 style tap weights (relu1_1..relu4_1). Got {list(self.style_tap_weights)}")
        return self

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
