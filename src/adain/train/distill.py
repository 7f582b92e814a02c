"""Distilling the compact students (:mod:`adain.models.compact`) from the preset's networks.

Both are plain regression on random crops of the content and style images (the selection split
held out, as in ``adain train``), with the teacher frozen:

* **encoder**: the student's projected taps regress the teacher encoder's taps on content and
  style crops alike, each channel's squared error divided by a running estimate of the teacher's
  variance of that channel (floored at a hundredth of the tap's mean variance, so a channel
  that is nearly always zero cannot dominate). A normalised error of 1 is what predicting each
  channel's mean would score.
* **decoder**: the student decoder gets exactly what the teacher decoder gets (the teacher
  encoder's features of the content, AdaIN'd with the style's statistics at every tap the
  teacher decoder takes) and regresses the teacher decoder's output (pixel L1 or L2); the usual
  content and style losses through the teacher encoder can be added (weights 0 by default).

A run is resumable to the bit: the data are a function of the sample index
(:mod:`adain.train.data`), and the checkpoint (written atomically) holds the student, the Adam
state, the step, the running variances, the moving average and the RNG state. The run folder
gets ``losses.jsonl`` (one line per logged step), ``loss_curve.png``, TensorBoard scalars and,
for the decoder, sample grids (content | teacher | student).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from adain._checks import is_int, is_number
from adain._files import write_bytes_atomically
from adain.errors import TrainingDiverged, UsageError
from adain.models import decoder_input_taps, inference_copy, native_bf16
from adain.models.compact import (
    COMPACT_ENCODER_KINDS,
    DEFAULT_WIDTH,
    CompactEncoder,
    CompactMultiLevelDecoder,
    build_compact,
    compact_channels,
)
from adain.models.multilevel_decoder import SKIP_TAPS
from adain.ops.losses import content_loss, style_loss_from_statistics
from adain.ops.statistics import adain_from_statistics, channel_mean_std
from adain.ops.taps import TAPS
from adain.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint, save_last_whole_step
from adain.train.data import Augmentation
from adain.train.reporting import TrainingReporter
from adain.train.trainer import StepBatchSampler, _git_commit, training_pairs
from adain.weights import load_decoder, load_encoder
from adain.weights.loading import component_status
from adain.weights.presets import DEFAULT_PRESET, get_preset, refuse_distilled
from adain.weights.store import check_state_dict, file_sha256, load_component, read_manifest, save_component

__all__ = [
    "DISTILL_TARGETS",
    "DistillConfig",
    "Distiller",
    "export_distill_checkpoint",
    "load_student",
    "tap_statistics_error",
]

DISTILL_TARGETS = ("encoder", "decoder")

LOSS_LOG_NAME = "losses.jsonl"


@dataclass
class DistillConfig:
    """One distillation run; saved in its checkpoint so a resume is exact."""

    target: str  # "encoder" or "decoder"
    content_dir: str
    style_dir: str
    run_dir: str
    preset: str = DEFAULT_PRESET
    #: decoder: the teacher decoder's file; None: the preset's decoder
    teacher_decoder: str | None = None
    #: decoder: the student's skip taps, a subset of the teacher decoder's; None: the teacher's.
    #: Fewer is faster: relu1_1 is a 64-channel map at full resolution to encode, normalise and
    #: convolve, and the teacher's relu1_1 gates are its smallest
    skip_taps: tuple[str, ...] | None = None
    #: decoder: an exported compact encoder whose content taps (AdaIN'd with the teacher's style
    #: statistics, as a bank holds them) the student decoder gets instead of the teacher's, so it
    #: learns to decode what the fast preset gives it at inference; the target stays the teacher
    #: pipeline's output. None: the teacher encoder's taps (a first phase needs no student encoder)
    student_encoder: str | None = None
    width: float = DEFAULT_WIDTH
    #: encoder: "vgg" or "separable" (:class:`~adain.models.CompactEncoder`)
    kind: str = "vgg"
    steps: int = 20_000
    #: content crops and style crops per step, each (the encoder regresses both)
    batch_size: int = 8
    crop_size: int = 128
    resize_shorter: int = 256
    learning_rate: float = 1e-3
    #: lr_t = lr / (1 + decay * t)
    learning_rate_decay: float = 1e-4
    #: decoder: "l1" or "l2" against the teacher decoder's output
    pixel_loss: str = "l1"
    #: decoder: weights of the content loss (relu4_1 against the AdaIN target) and the style loss
    #: (mean / std at every tap) through the teacher encoder; 0 skips that encoder pass
    content_weight: float = 0.0
    style_weight: float = 0.0
    #: encoder: how fast the running per-channel variance of the teacher's taps follows each batch
    variance_momentum: float = 0.01
    #: > 0: export a moving average of the student's weights (this decay per step)
    ema_decay: float = 0.0
    #: start from this exported student (e.g. a decoder's last phase, with content and style
    #: losses on, from the pixel-loss phase's export); None: fresh and calibrated
    init_student: str | None = None
    selection_fraction: float = 0.1
    style_zoom: tuple[float, float] = (1.0, 1.0)
    style_color_jitter: float = 0.0
    seed: int = 0
    precision: str = "auto"  # auto | fp32 | bf16
    device: str = "cpu"
    threads: int = 0
    checkpoint_every_steps: int = 200
    checkpoint_every_minutes: float = 10.0
    log_every_steps: int = 10
    sample_every_steps: int = 500
    cache_images: bool = True

    def check(self) -> DistillConfig:
        """This config, checked before anything is loaded. Returns ``self``."""
        choices = {
            "target": (self.target, DISTILL_TARGETS),
            "kind": (self.kind, COMPACT_ENCODER_KINDS),
            "pixel loss": (self.pixel_loss, ("l1", "l2")),
            "precision": (self.precision, ("auto", "fp32", "bf16")),
        }
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                raise UsageError(f"{name} must be one of {', '.join(allowed)}. Got {value!r}")
        get_preset(self.preset)
        refuse_distilled(self.preset, "adain distill")  # fast is what distillation makes, not a teacher
        compact_channels(self.width)
        if self.init_student and not Path(self.init_student).is_file():
            raise UsageError(f"--init: no student file {self.init_student!r}")
        if self.target == "encoder" and (self.teacher_decoder or self.skip_taps is not None or self.student_encoder):
            raise UsageError(
                "a teacher decoder, skip taps and a student encoder are for decoder distillation, not the encoder's"
            )
        if self.student_encoder and not Path(self.student_encoder).is_file():
            raise UsageError(f"--student-encoder: no file {self.student_encoder!r}")
        if self.skip_taps is not None:
            unknown = sorted(set(self.skip_taps) - set(SKIP_TAPS))
            if unknown or not self.skip_taps:
                raise UsageError(f"skip taps must be some of {', '.join(SKIP_TAPS)}. Got {list(self.skip_taps)}")
        if not is_int(self.crop_size, 16) or self.crop_size % 8:
            raise UsageError(f"crop size must be a multiple of 8 and at least 16. Got {self.crop_size}")
        if not is_int(self.resize_shorter) or (self.resize_shorter and self.resize_shorter < self.crop_size):
            raise UsageError(
                f"resize shorter ({self.resize_shorter}) must be at least the crop size ({self.crop_size})"
            )
        counts = {
            "batch size": (self.batch_size, 1),
            "steps": (self.steps, 0),
            "checkpoint every": (self.checkpoint_every_steps, 1),
            "log every": (self.log_every_steps, 1),
            "sample every": (self.sample_every_steps, 0),
            "threads": (self.threads, 0),
        }
        for name, (value, minimum) in counts.items():
            if not is_int(value, minimum):
                raise UsageError(f"{name} must be an integer >= {minimum}. Got {value!r}")
        if not is_number(self.learning_rate, above=0):
            raise UsageError(f"learning rate must be > 0. Got {self.learning_rate!r}")
        for name, value in (
            ("learning rate decay", self.learning_rate_decay),
            ("content weight", self.content_weight),
            ("style weight", self.style_weight),
            ("checkpoint minutes", self.checkpoint_every_minutes),
        ):
            if not is_number(value, 0):
                raise UsageError(f"{name} must be a number >= 0. Got {value!r}")
        if not is_number(self.variance_momentum, above=0, maximum=1):
            raise UsageError(f"variance momentum must be in (0, 1]. Got {self.variance_momentum!r}")
        if not is_number(self.ema_decay, 0) or self.ema_decay >= 1:
            raise UsageError(f"EMA decay must be in [0, 1). Got {self.ema_decay!r}")
        if not is_number(self.selection_fraction, 0) or self.selection_fraction >= 1:
            raise UsageError(f"selection fraction must be in [0, 1). Got {self.selection_fraction!r}")
        Augmentation(tuple(self.style_zoom), self.style_color_jitter).check()
        return self

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["style_zoom"] = list(self.style_zoom)
        if self.skip_taps is not None:
            data["skip_taps"] = list(self.skip_taps)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DistillConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("style_zoom", "skip_taps"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**values)


class Distiller:
    """One distillation run: ``Distiller(config).fit()``; :meth:`resume` first to continue one."""

    def __init__(self, config: DistillConfig, progress: bool = True) -> None:
        self.config = config.check()
        self.progress = progress
        self.run_dir = Path(config.run_dir)
        self.device = torch.device(config.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.precision = config.precision
        if self.precision == "auto":  # emulated bf16 is slower than fp32 (see adain.models.precision)
            self.precision = "bf16" if native_bf16(self.device) else "fp32"
        # data first: a bad folder fails before anything is loaded or written
        self.dataset = training_pairs(config)
        #: fixed pairs (negative indices, never trained on) for the decoder's sample grids
        self.preview = [self.dataset[-(i + 1)] for i in range(4)] if config.target == "decoder" else []

        torch.manual_seed(config.seed)
        self.teacher_encoder = self._frozen(load_encoder(config.preset, progress=progress))
        self.teacher_decoder: nn.Module | None = None
        if config.target == "decoder":
            path = Path(config.teacher_decoder) if config.teacher_decoder else None
            self.teacher_decoder = self._frozen(load_decoder(config.preset, path, progress=progress))
        self.student_encoder: nn.Module | None = None
        if config.student_encoder:
            encoder = load_student(Path(config.student_encoder))
            if not isinstance(encoder, CompactEncoder):
                raise UsageError(f"--student-encoder {config.student_encoder} is not a compact encoder")
            self.student_encoder = self._frozen(encoder)
        self.student = self._fresh_student().to(self.device, memory_format=torch.channels_last).train()
        # input and output scales from step 0's batch (a resumed run then loads the checkpoint's)
        if config.init_student:
            self._load_initial_student(Path(config.init_student))
        elif isinstance(self.student, CompactEncoder):
            self.student.calibrate(self._teacher_taps(0))
        else:
            content, style = self._batch(0)
            inputs, statistics = self.decoder_inputs(content, style)
            self.student.calibrate(self.student_inputs(inputs, content, statistics))
        self.optimizer = torch.optim.Adam(self.student.parameters(), lr=config.learning_rate)
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.sessions: list[dict[str, Any]] = []
        #: encoder: running per-channel variance of the teacher's taps (float32)
        self.variance: dict[str, Tensor] = {}
        self.ema: dict[str, Tensor] | None = self._ema_start() if config.ema_decay else None
        #: the teacher's preset and files (with their sha256), for the checkpoint and the manifest
        self.teacher = self._teacher_provenance()
        self.reporter = TrainingReporter(self.run_dir)

    def _frozen(self, network: nn.Module) -> nn.Module:
        network = network.to(self.device, memory_format=torch.channels_last).eval().requires_grad_(False)
        # a bf16 copy computes what autocast would without casting the weights on every pass
        return inference_copy(network) if self.precision == "bf16" else network

    def _fresh_student(self) -> CompactEncoder | CompactMultiLevelDecoder:
        """An encoder of the run's width and kind, or a decoder taking what the teacher decoder takes."""
        if self.teacher_decoder is None:
            return CompactEncoder(self.config.width, self.config.kind)
        taps = decoder_input_taps(self.teacher_decoder)
        if len(taps) < 2:
            raise UsageError("the teacher decoder takes relu4_1 only: a compact student is multi-level")
        skip_taps = self.config.skip_taps or taps[1:]
        missing = [tap for tap in skip_taps if tap not in taps]
        if missing:
            raise UsageError(f"skip taps {', '.join(missing)}: the teacher decoder takes {', '.join(taps[1:])} only")
        return CompactMultiLevelDecoder(self.config.width, skip_taps)

    def student_inputs(
        self, inputs: list[Tensor], content: Tensor, statistics: dict[str, tuple[Tensor, Tensor]]
    ) -> list[Tensor]:
        """The student decoder's inputs: the teacher decoder's ``inputs`` at the student's taps (it
        may take fewer), or, with a student encoder, that encoder's taps of ``content`` AdaIN'd with
        the style's ``statistics`` (the teacher's, as a bank holds them)."""
        assert self.teacher_decoder is not None
        taps = self.student.input_taps
        if self.student_encoder is None:
            by_tap = dict(zip(decoder_input_taps(self.teacher_decoder), inputs))
            return [by_tap[tap] for tap in taps]
        with torch.no_grad(), self._autocast():
            content_taps = self.student_encoder(content.to(self.device).contiguous(memory_format=torch.channels_last))
            student = [adain_from_statistics(content_taps[tap], *statistics[tap]) for tap in taps]
        return [x.contiguous(memory_format=torch.channels_last) for x in student]

    def _load_initial_student(self, path: Path) -> None:
        start = load_student(path)
        if start.config() != self.student.config():
            raise UsageError(
                f"--init {path} is a {start.config()}, not the {self.student.config()} this run distils "
                "(the same target, width, kind and taps)"
            )
        self.student.load_state_dict(start.state_dict())

    def _batch(self, step: int) -> tuple[Tensor, Tensor]:
        """Step ``step``'s (content, style) crops, as the data loader gives them."""
        indices = range(step * self.config.batch_size, (step + 1) * self.config.batch_size)
        content, style = (torch.stack(crops) for crops in zip(*(self.dataset[i] for i in indices)))
        content, style = (x.to(self.device).contiguous(memory_format=torch.channels_last) for x in (content, style))
        return content, style

    def _teacher_taps(self, step: int) -> dict[str, Tensor]:
        """The teacher encoder's taps of step ``step``'s batch (content and style crops)."""
        with torch.no_grad(), self._autocast():
            return self.teacher_encoder(torch.cat(self._batch(step)))

    # -- checkpoints ---------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / CHECKPOINT_NAME

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": "distill",
            "student": self.student.state_dict(),
            "student_config": self.student.config(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "rng_cpu": torch.get_rng_state(),
            "variance": self.variance,
            "ema": self.ema,
            "config": self.config.to_dict(),
            "history": self.history,
            "sessions": self.sessions,
            "teacher": self.teacher,
        }

    def resume(self) -> bool:
        """Load the run folder's checkpoint if there is one; returns whether it did."""
        if not self.checkpoint_path.exists():
            return False
        state = load_checkpoint(self.checkpoint_path)
        if state.get("kind") != "distill" or state["config"].get("target") != self.config.target:
            raise UsageError(f"{self.checkpoint_path} is not a checkpoint of {self.config.target} distillation")
        self.student.load_state_dict(state["student"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        torch.set_rng_state(state["rng_cpu"])
        self.variance = {tap: v.to(self.device) for tap, v in state["variance"].items()}
        saved_ema = state.get("ema")
        self.ema = {k: v.to(self.device) for k, v in saved_ema.items()} if saved_ema is not None else self.ema
        self.history = list(state["history"])
        self.sessions = list(state["sessions"]) + self.sessions
        return True

    def record_session(self, command: str | None) -> None:
        """Note who started or resumed the run (kept in the checkpoint, shown in the manifest)."""
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.sessions.append({"command": command, "commit": _git_commit(), "start_step": self.step, "started": started})

    def save(self) -> None:
        save_checkpoint(self.checkpoint_path, self.state_dict())
        self._saved_step = self.step
        self.reporter.plot_history(self.history)

    def _teacher_provenance(self) -> dict[str, Any]:
        """Which networks the student learns from: the preset, and the files with their sha256."""
        _, encoder_file = component_status(self.config.preset, "encoder")
        teacher: dict[str, Any] = {
            "preset": self.config.preset,
            "encoder_sha256": file_sha256(encoder_file) if encoder_file else None,
        }
        if self.config.target == "decoder":
            decoder_file = self.config.teacher_decoder or component_status(self.config.preset, "decoder")[1]
            teacher["decoder"] = str(decoder_file) if decoder_file else None
            teacher["decoder_sha256"] = file_sha256(decoder_file) if decoder_file else None
            if self.config.student_encoder:
                teacher["student_encoder"] = self.config.student_encoder
                teacher["student_encoder_sha256"] = file_sha256(self.config.student_encoder)
        return teacher

    # -- one step ------------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def compute_losses(self, content: Tensor, style: Tensor) -> dict[str, Tensor]:
        """Batch mean losses; ``loss`` is what is minimised."""
        if self.config.target == "encoder":
            return self._encoder_losses(torch.cat([content, style]))
        return self._decoder_losses(content, style)

    def _encoder_losses(self, images: Tensor) -> dict[str, Tensor]:
        with self._autocast():
            with torch.no_grad():
                targets = self.teacher_encoder(images)
            outputs = self.student(images)
        losses: dict[str, Tensor] = {}
        for tap in TAPS:
            target = targets[tap].float()
            with torch.no_grad():
                batch_variance = target.var(dim=(0, 2, 3))
                previous = self.variance.get(tap)
                momentum = self.config.variance_momentum
                self.variance[tap] = batch_variance if previous is None else previous.lerp(batch_variance, momentum)
                variance = torch.maximum(self.variance[tap], 0.01 * self.variance[tap].mean() + 1e-12)
            error = (outputs[tap].float() - target).pow(2) / variance.view(1, -1, 1, 1)
            losses[tap] = error.mean()
        losses["loss"] = torch.stack([losses[tap] for tap in TAPS]).mean()
        return losses

    def decoder_inputs(self, content: Tensor, style: Tensor) -> tuple[list[Tensor], dict[str, tuple[Tensor, Tensor]]]:
        """What the teacher decoder gets: the content's taps AdaIN'd with the style's statistics."""
        assert self.teacher_decoder is not None
        with torch.no_grad(), self._autocast():
            content_taps = self.teacher_encoder(content)
            style_taps = self.teacher_encoder(style)
            statistics = {tap: channel_mean_std(style_taps[tap]) for tap in TAPS}
            taps = decoder_input_taps(self.teacher_decoder)
            inputs = [adain_from_statistics(content_taps[tap], *statistics[tap]) for tap in taps]
        return [x.contiguous(memory_format=torch.channels_last) for x in inputs], statistics

    def _decoder_losses(self, content: Tensor, style: Tensor) -> dict[str, Tensor]:
        assert self.teacher_decoder is not None
        config = self.config
        inputs, statistics = self.decoder_inputs(content, style)
        with self._autocast():
            with torch.no_grad():
                target = self.teacher_decoder(*inputs).float()
            output = self.student(*self.student_inputs(inputs, content, statistics))
        difference = output.float() - target
        losses = {"pixel": difference.abs().mean() if config.pixel_loss == "l1" else difference.pow(2).mean()}
        total = losses["pixel"]
        if config.content_weight or config.style_weight:
            with self._autocast():
                output_taps = self.teacher_encoder(output)
            losses["content"] = content_loss(output_taps["relu4_1"], inputs[0]).mean()
            means = {tap: m.float() for tap, (m, _) in statistics.items()}
            stds = {tap: s.float() for tap, (_, s) in statistics.items()}
            losses["style"] = style_loss_from_statistics(output_taps, means, stds).mean()
            total = total + config.content_weight * losses["content"] + config.style_weight * losses["style"]
        losses["loss"] = total
        return losses

    def train_step(self, content: Tensor, style: Tensor) -> dict[str, float]:
        config = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = config.learning_rate / (1.0 + config.learning_rate_decay * self.step)
        content = content.to(self.device).contiguous(memory_format=torch.channels_last)
        style = style.to(self.device).contiguous(memory_format=torch.channels_last)
        losses = self.compute_losses(content, style)
        values = {key: float(value.detach()) for key, value in losses.items()}
        if not all(math.isfinite(v) for v in values.values()):
            raise TrainingDiverged(
                f"loss is not finite at step {self.step} ({values}); the last good checkpoint "
                f"{self.checkpoint_path} is kept (lower the learning rate)"
            )
        self.optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        self._updating = True  # the weights change in place from here: an interrupt now leaves no whole step
        self.optimizer.step()
        if self.ema is not None:
            with torch.no_grad():
                current = self.student.state_dict()
                for name, average in self.ema.items():
                    average.lerp_(current[name].float(), 1.0 - config.ema_decay)
        self.step += 1
        self._updating = False
        return values

    def _ema_start(self) -> dict[str, Tensor]:
        return {name: value.detach().float().clone() for name, value in self.student.state_dict().items()}

    # -- the loop ------------------------------------------------------------------------------
    def fit(self) -> None:
        from tqdm import tqdm

        config = self.config
        sampler = StepBatchSampler(self.step, config.steps, config.batch_size, 0, 1)
        loader = DataLoader(self.dataset, batch_sampler=sampler, num_workers=0)
        bar = tqdm(
            total=config.steps,
            initial=self.step,
            disable=not self.progress,
            desc=f"distill {config.target}",
            unit="step",
            dynamic_ncols=True,
        )
        # the log holds what the checkpoint holds: lines written after it (before a crash) go
        lines = "".join(json.dumps(entry) + "\n" for entry in self.history)
        write_bytes_atomically(self.run_dir / LOSS_LOG_NAME, lines.encode())
        last_save = time.monotonic()
        running: dict[str, float] = {}
        running_steps = 0
        try:
            for content, style in loader:
                values = self.train_step(content, style)
                for key, value in values.items():
                    running[key] = running.get(key, 0.0) + value
                running_steps += 1
                bar.update(1)
                bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()})
                if self.step % config.log_every_steps == 0 or self.step == config.steps:
                    self._log({k: v / running_steps for k, v in running.items()})
                    running, running_steps = {}, 0
                if config.sample_every_steps and self.step % config.sample_every_steps == 0:
                    self.write_samples()
                due = time.monotonic() - last_save >= config.checkpoint_every_minutes * 60
                if self.step % config.checkpoint_every_steps == 0 or due or self.step == config.steps:
                    self.save()
                    last_save = time.monotonic()
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (adain.cli.main raises it as one): keep the steps done
            self._save_on_interrupt()
            raise
        finally:
            bar.close()
            self.reporter.close()

    def _save_on_interrupt(self) -> None:
        """Checkpoint the last whole step, as ``adain train`` does (:func:`save_last_whole_step`)."""
        save_last_whole_step(self, "adain distill")

    def _log(self, averaged: dict[str, float]) -> None:
        entry = {**averaged, "step": self.step, "lr": self.optimizer.param_groups[0]["lr"]}
        self.history.append(entry)
        self.reporter.log_scalars(self.step, entry)
        with open(self.run_dir / LOSS_LOG_NAME, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")

    @torch.no_grad()
    def write_samples(self) -> Path | None:
        """Decoder runs: a grid of fixed preview pairs, content | teacher | student, one row each."""
        if self.teacher_decoder is None:
            return None
        contents = torch.stack([c for c, _ in self.preview]).to(self.device)
        styles = torch.stack([s for _, s in self.preview]).to(self.device)
        inputs, statistics = self.decoder_inputs(contents, styles)
        student = self.exported_student().eval()
        with self._autocast():
            teacher_output = self.teacher_decoder(*inputs).float().clamp(0, 1)
            student_output = student(*self.student_inputs(inputs, contents, statistics)).float().clamp(0, 1)
        self.student.train()
        return self.reporter.write_grid(self.step, contents, teacher_output, student_output)

    # -- export --------------------------------------------------------------------------------
    def exported_student(self) -> nn.Module:
        """The moving average when on, else the last weights."""
        if self.ema is None:
            return self.student
        student = build_compact(self.student.config()).to(self.device)
        student.load_state_dict(self.ema)
        return student

    def export(self, path: Path | None = None, command: str | None = None) -> Path:
        """fp16 safetensors of the student with a manifest entry saying how it was made."""
        path = Path(path or self.run_dir / f"compact-{self.config.target}.safetensors")
        sessions = self.sessions + ([{"command": command, "commit": _git_commit()}] if command else [])
        state = {k: v.detach().float() for k, v in self.exported_student().state_dict().items()}
        run = {key: value for key, value in self.state_dict().items() if key in _RUN_RECORD}
        return _save_student(path, state, run | {"sessions": sessions})


#: what a manifest entry is made from, in a checkpoint: the run's config, the student's, the
#: teacher's files, the step, the losses and the sessions
_RUN_RECORD = ("config", "student_config", "teacher", "step", "history", "sessions")


def _save_student(path: Path, student_state: dict[str, Tensor], run: dict[str, Any]) -> Path:
    config = DistillConfig.from_dict(run["config"])
    commands = [session["command"] for session in run["sessions"] if session.get("command")]
    commits = list(dict.fromkeys(session["commit"] for session in run["sessions"] if session.get("commit")))
    entry = {
        **run["student_config"],
        "preset": config.preset,
        "component": config.target,
        "teacher": run["teacher"],
        "steps": run["step"],
        "content_data": config.content_dir,
        "style_data": config.style_dir,
        "selection_fraction": config.selection_fraction,
        "crop_size": config.crop_size,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "init_student": config.init_student,
        "init_student_entry": _entry_of(config.init_student),
        "pixel_loss": config.pixel_loss if config.target == "decoder" else None,
        "content_weight": config.content_weight if config.target == "decoder" else None,
        "style_weight": config.style_weight if config.target == "decoder" else None,
        "final_losses": run["history"][-1] if run["history"] else None,
        "exported_weights": f"moving average, decay {config.ema_decay:g}" if config.ema_decay else "last step",
        "command": " && ".join(commands) if commands else None,
        "commit": commits[0] if commits else None,
        "commits": commits,
        "sessions": run["sessions"],
        "licence": "MIT",
        "source": "distilled with adain distill",
    }
    save_component(path, student_state, entry, dtype=torch.float16)
    return path


def _entry_of(path: str | None) -> dict[str, Any] | None:
    """The manifest entry of the student a run started from (``--init``), if it can be read."""
    if not path or not Path(path).exists():
        return None
    return read_manifest(Path(path).parent).get(Path(path).stem)


def export_distill_checkpoint(checkpoint: Path, path: Path, target: str | None = None) -> Path:
    """The student of a distillation checkpoint (of ``target``, when given) as fp16 safetensors with
    its provenance (no data, no teacher needed; safe while the run goes on: the checkpoint is
    replaced atomically)."""
    state = load_checkpoint(checkpoint)
    if state.get("kind") != "distill" or (target is not None and state["config"].get("target") != target):
        raise UsageError(f"{checkpoint} is not a checkpoint of {target or 'encoder or decoder'} distillation")
    student = state["ema"] if state.get("ema") is not None else state["student"]
    return _save_student(Path(path), {k: v.float() for k, v in student.items()}, state)


def load_student(path: Path) -> CompactEncoder | CompactMultiLevelDecoder:
    """A compact encoder or decoder saved by :meth:`Distiller.export`, in eval mode (float32)."""
    path = Path(path)
    state = load_component(path)
    entry = read_manifest(path.parent).get(path.stem)
    if entry is None:
        raise UsageError(f"{path} has no entry in {path.parent / 'manifest.json'}: it does not say what it is")
    student = build_compact(entry)
    check_state_dict(state, student.state_dict(), f"compact weights {path}")
    student.load_state_dict({k: v.float() for k, v in state.items()})
    return student.eval()


@torch.no_grad()
def tap_statistics_error(teacher: nn.Module, student: nn.Module, images: Tensor) -> dict[str, dict[str, float]]:
    """How far the student's style statistics are from the teacher's, per tap: the relative error
    ``|student - teacher| / |teacher|`` (norms over the batch and channels) of the channel means
    and of the channel standard deviations, as a style bank would store them."""
    teacher_taps, student_taps = teacher(images), student(images)
    errors = {}
    for tap in TAPS:
        (teacher_mean, teacher_std), (student_mean, student_std) = (
            channel_mean_std(teacher_taps[tap].float()),
            channel_mean_std(student_taps[tap].float()),
        )
        errors[tap] = {
            "mean": float((student_mean - teacher_mean).norm() / teacher_mean.norm().clamp_min(1e-12)),
            "std": float((student_std - teacher_std).norm() / teacher_std.norm().clamp_min(1e-12)),
        }
    return errors
