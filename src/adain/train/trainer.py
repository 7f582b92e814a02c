"""The decoder training loop: single process or DDP (torchrun), resumable to the bit.

Objective (the paper's): content loss at relu4_1 against the AdaIN target plus style loss over
relu1_1..relu4_1, with only the decoder trained. Data are a pure function of the global sample
index (see :mod:`adain.train.data`), so a resumed or sharded run sees the same batches.
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Sampler

from adain.errors import TrainingDiverged, UsageError
from adain.models import Decoder, MultiLevelDecoder, VGGEncoder, decoder_input_taps, inference_copy
from adain.ops.losses import complexity_weights, content_loss, edge_density, style_loss, style_loss_from_statistics
from adain.ops.statistics import adain, adain_from_statistics, channel_mean_std
from adain.ops.taps import TAPS
from adain.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint, save_last_whole_step
from adain.train.config import TrainConfig
from adain.train.data import Augmentation, ImageCropSource, PairDataset, find_images, sample_rng, selection_split
from adain.train.reporting import TrainingReporter
from adain.weights import load_decoder, load_encoder, save_decoder
from adain.weights.loading import build_decoder
from adain.weights.presets import get_preset
from adain.weights.store import read_manifest

__all__ = ["Trainer", "build_training_decoder", "decoder_provenance", "export_checkpoint", "train", "training_images"]


class StepBatchSampler(Sampler[list[int]]):
    """Yields, for each step from ``start_step``, this rank's slice of the global batch indices."""

    def __init__(self, start_step: int, end_step: int, global_batch: int, rank: int, world_size: int) -> None:
        self.start_step, self.end_step = start_step, end_step
        self.global_batch, self.rank = global_batch, rank
        self.local_batch = global_batch // world_size

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step, self.end_step):
            first = step * self.global_batch + self.rank * self.local_batch
            yield list(range(first, first + self.local_batch))

    def __len__(self) -> int:
        return max(0, self.end_step - self.start_step)


def _git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[3]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _init_decoder_entry(config: TrainConfig) -> dict[str, Any] | None:
    """The manifest entry of the decoder a run started from (``--init``), if it can be read."""
    if not config.init_decoder:
        return None
    init_path = Path(config.init_decoder)
    return read_manifest(init_path.parent).get(init_path.stem) if init_path.exists() else None


def decoder_provenance(
    config: TrainConfig, step: int, sessions: list[dict[str, Any]], forked_from: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What a decoder's manifest entry says about how it was trained.

    ``sessions`` holds, per start or resume of the run, its command line, the commit of the code
    and the step it started at; ``forked_from`` (``--fork``) the source run's folder, step,
    config and, nested, its own origin.
    """
    commands = [session["command"] for session in sessions if session.get("command")]
    # a fine-tuned decoder carries the provenance of the one it started from
    init_entry = _init_decoder_entry(config)
    commits = list(dict.fromkeys(session["commit"] for session in sessions if session.get("commit")))
    return dict(
        steps=step,
        objective=config.objective,
        crop_size=config.crop_size,
        batch_size=config.batch_size,
        resize_shorter=config.resize_shorter,
        content_data=config.content_dir,
        style_data=config.style_dir,
        style_weight=config.style_weight,
        content_weight=config.content_weight,
        learning_rate=config.learning_rate,
        init_decoder=config.init_decoder,
        fork_from=config.fork_from,
        exported_weights=f"moving average, decay {config.ema_decay:g}" if config.ema_decay else "last step",
        command=" && ".join(commands) if commands else None,
        commit=commits[0] if commits else None,
        commits=commits,
        sessions=sessions,
        init_decoder_entry=init_entry,
        forked_from=forked_from,
        licence="MIT",
        source="trained with adain train",
        decoder_kind=config.decoder,
        selection_fraction=config.selection_fraction,
    )


def build_training_decoder(config: TrainConfig) -> Decoder:
    """A fresh decoder of the run's architecture (``config.decoder``, ``config.skip_taps``)."""
    return build_decoder(config.preset, config.decoder, config.skip_taps)


def training_pairs(config: Any) -> PairDataset:
    """The (content crop, style crop) pairs a training or distillation run draws from: the training
    part of both folders (the selection split held out), style crops zoomed and colour-jittered.
    ``config``: a :class:`TrainConfig` or a distillation config (the same data fields)."""
    content = ImageCropSource(
        training_images(config.content_dir, config.selection_fraction),
        config.crop_size,
        config.resize_shorter,
        config.cache_images,
    )
    style = ImageCropSource(
        training_images(config.style_dir, config.selection_fraction),
        config.crop_size,
        config.resize_shorter,
        config.cache_images,
        Augmentation(tuple(config.style_zoom), config.style_color_jitter),
    )
    return PairDataset(content, style, config.seed, length=2**62)


def training_images(folder: str, fraction: float) -> list[Path]:
    """The images of ``folder`` a run trains on: all but the selection split (``fraction``)."""
    files = find_images(folder)
    if not fraction:
        return files
    training, _ = selection_split(files, fraction)
    if not training:
        raise UsageError(
            f"every image under {folder} falls in the selection split ({fraction:g}): add images or lower "
            "--selection-fraction"
        )
    return training


def _initial_decoder(config: TrainConfig) -> Decoder:
    """The run's decoder at step 0: fresh, or ``--init``'s weights. A plain decoder initialises a
    multi-level run's shared layers (skips fresh, gates closed: it starts as that decoder)."""
    decoder = build_training_decoder(config)
    if not config.init_decoder:
        return decoder
    start = load_decoder(config.preset, Path(config.init_decoder))
    if isinstance(start, MultiLevelDecoder) and not isinstance(decoder, MultiLevelDecoder):
        raise UsageError(f"--init {config.init_decoder} is a multi-level decoder: train it with --decoder multilevel")
    if isinstance(start, MultiLevelDecoder) and start.skip_taps != decoder.skip_taps:
        raise UsageError(
            f"--init {config.init_decoder} has skips at {', '.join(start.skip_taps)}, not at "
            f"{', '.join(decoder.skip_taps)} (--skip-taps)"
        )
    result = decoder.load_state_dict(start.state_dict(), strict=False)
    leftover = [key for key in result.missing_keys if not key.startswith(("skips.", "gates."))]
    if leftover or result.unexpected_keys:
        raise UsageError(
            f"--init {config.init_decoder} does not fit the decoder: missing {leftover[:3]}, "
            f"unexpected {result.unexpected_keys[:3]}"
        )
    return decoder


def export_checkpoint(checkpoint: Path, path: Path) -> Path:
    """The decoder of a training checkpoint as fp16 safetensors with its provenance (no data needed)."""
    state = load_checkpoint(checkpoint)
    config = TrainConfig.from_dict(state["config"])
    decoder = build_training_decoder(config)
    decoder.load_state_dict(state["ema"] if state.get("ema") is not None else state["decoder"])
    provenance = decoder_provenance(
        config, int(state["step"]), list(state.get("sessions", [])), state.get("forked_from")
    )
    save_decoder(decoder, path, config.preset, **provenance)
    return path


class Trainer:
    def __init__(self, config: TrainConfig, progress: bool = True) -> None:
        config.check()
        get_preset(config.preset)
        self.config = config
        self.progress = progress
        self.run_dir = Path(config.run_dir)
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        #: whether this trainer started the process group (and so ends it in :meth:`close`)
        self._owns_process_group = False
        if self.distributed and not dist.is_initialized():
            backend = "nccl" if config.device.startswith("cuda") else "gloo"
            dist.init_process_group(backend)
            self._owns_process_group = True
        try:
            self._setup(config, progress)
        except BaseException:
            self.close()
            raise

    def _setup(self, config: TrainConfig, progress: bool) -> None:
        self.rank = dist.get_rank() if self.distributed else 0
        self.world_size = dist.get_world_size() if self.distributed else 1
        if config.batch_size % self.world_size:
            raise UsageError(f"batch size {config.batch_size} must be divisible by the {self.world_size} processes")
        device = config.device
        if device.startswith("cuda") and self.distributed:
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
            torch.cuda.set_device(device)
        self.device = torch.device(device)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.precision = config.precision
        if self.precision == "auto":
            # emulated bf16 (CPUs without AVX512-BF16/AMX) measured 10-150x slower than fp32 here
            from adain.models.precision import native_bf16

            self.precision = "fp16" if self.device.type == "cuda" else ("bf16" if native_bf16(self.device) else "fp32")
        self.memory_format = torch.channels_last if config.channels_last else torch.contiguous_format

        # data first: a bad folder fails fast, on every rank, before anything is written
        self.dataset = training_pairs(config)
        #: fixed pairs (negative indices, never trained on) for the sample grids
        self.preview = [self.dataset[-(i + 1)] for i in range(4)]

        torch.manual_seed(config.seed)
        self.encoder: VGGEncoder = load_encoder(config.preset, progress=progress and self.rank == 0)
        self.encoder.to(self.device, memory_format=self.memory_format)
        if self.precision in ("bf16", "fp16"):
            # the encoder is frozen: a half-precision copy computes what autocast would, without
            # casting its weights on each of the three passes per step (measured 20-30% faster
            # steps on the 2-core CPU, bf16, 128-px crops, batch 8)
            self.encoder = inference_copy(self.encoder, torch.bfloat16 if self.precision == "bf16" else torch.float16)
        self.decoder: nn.Module = _initial_decoder(config)
        self.decoder_taps = decoder_input_taps(self.decoder)
        self.decoder.to(self.device, memory_format=self.memory_format).train()
        self.optimizer = torch.optim.Adam(self._parameter_groups(), lr=config.learning_rate)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == "fp16" and self.device.type == "cuda")
        self.step = 0
        self.history: list[dict[str, float]] = []
        #: how this run was made, one entry per start or resume (command, commit, start step)
        self.sessions: list[dict[str, Any]] = []
        #: where a forked run started (:meth:`fork`); None for a run of its own
        self.forked_from: dict[str, Any] | None = None
        #: float32 moving average of the decoder's weights (``config.ema_decay``): what is exported
        self.ema: dict[str, Tensor] | None = self._ema_start() if config.ema_decay else None
        self.model: nn.Module = self.decoder
        self.reporter = TrainingReporter(self.run_dir, enabled=self.rank == 0)

    def _parameter_groups(self) -> list[dict[str, Any]]:
        """One Adam group, or two when the multi-level decoder's new parameters (skips, gates) get
        their own rate (``skip_learning_rate``); each keeps its ``base_lr`` for the decay schedule."""
        config = self.config
        named = list(self.decoder.named_parameters())
        new = [p for name, p in named if name.startswith(("skips.", "gates."))]
        if not config.skip_learning_rate or not new:
            return [{"params": [p for _, p in named], "base_lr": config.learning_rate}]
        shared = [p for name, p in named if not name.startswith(("skips.", "gates."))]
        return [
            {"params": shared, "base_lr": config.learning_rate},
            {"params": new, "base_lr": config.skip_learning_rate, "lr": config.skip_learning_rate},
        ]

    def close(self) -> None:
        """End the process group this trainer started (DDP); a no-op otherwise, and when repeated."""
        if self._owns_process_group and dist.is_initialized():
            dist.destroy_process_group()
        self._owns_process_group = False

    # -- checkpoints -------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / CHECKPOINT_NAME

    def state_dict(self) -> dict[str, Any]:
        return {
            "decoder": self.decoder.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "config": self.config.to_dict(),
            "history": self.history,
            "sessions": self.sessions,
            "forked_from": self.forked_from,
            "ema": self.ema,
            "skipped_images": sorted(str(p) for p in self.dataset.content.skipped | self.dataset.style.skipped),
        }

    def record_session(self, command: str | None) -> None:
        """Note who started or resumed the run (kept in the checkpoint, shown in the manifest)."""
        self.sessions.append(
            {
                "command": command,
                "commit": _git_commit(),
                "start_step": self.step,
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        )

    def resume(self) -> bool:
        """Load the run folder's checkpoint if there is one; returns whether it did."""
        if not self.checkpoint_path.exists():
            return False
        self._load_state(load_checkpoint(self.checkpoint_path))
        return True

    def fork(self) -> None:
        """Start from the checkpoint of the run ``config.fork_from``, with this run's config.

        Why: changing a recipe midway (a larger crop, another augmentation, other loss weights)
        from ``--init`` loses the optimiser state, and the restart disturbs the first few hundred
        steps; a fork keeps the decoder, the Adam moments, the step counter (so the learning-rate
        schedule and the data stream go on) and the source's history and sessions. A fork with an
        unchanged config is the same as a resume of the source (tested).
        """
        source = Path(str(self.config.fork_from)) / CHECKPOINT_NAME
        if not source.exists():
            raise UsageError(f"--fork: no checkpoint in {self.config.fork_from}")
        if source.resolve() == self.checkpoint_path.resolve():
            raise UsageError("--fork needs another run folder than --run-dir (to continue a run, use --resume)")
        state = load_checkpoint(source)
        source_config = TrainConfig.from_dict(state["config"])
        if (source_config.decoder, tuple(source_config.skip_taps)) != (
            self.config.decoder,
            tuple(self.config.skip_taps),
        ):
            raise UsageError(
                f"--fork: {self.config.fork_from} trains a {source_config.decoder} decoder; this run's is "
                f"{self.config.decoder} (start a multi-level run from a plain one with --init)"
            )
        if source_config.preset != self.config.preset:
            raise UsageError(
                f"--fork: {self.config.fork_from} trains a decoder for {source_config.preset}, not {self.config.preset}"
            )
        self._load_state(state)
        self.forked_from = {
            "run_dir": str(self.config.fork_from),
            "step": self.step,
            "config": state["config"],
            "init_decoder_entry": _init_decoder_entry(source_config),
            "forked_from": state.get("forked_from"),
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.decoder.load_state_dict(state["decoder"])
        saved_groups = len(state["optimizer"]["param_groups"])
        if saved_groups != len(self.optimizer.param_groups):
            raise UsageError(
                f"the checkpoint's optimiser has {saved_groups} parameter group(s), this run "
                f"{len(self.optimizer.param_groups)}: --skip-lr on or off changes them; start from the "
                "decoder with --init instead"
            )
        self.optimizer.load_state_dict(state["optimizer"])
        # the rates are this run's (a fork may change --lr or --skip-lr); loading restored the saved ones
        rates = (self.config.learning_rate, self.config.skip_learning_rate)
        for group, rate in zip(self.optimizer.param_groups, rates):
            group["base_lr"] = rate
        if self.scaler.is_enabled() and state.get("scaler"):  # none saved by a run in another --precision
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self._saved_step = self.step  # on disk already: a Ctrl-C before the next step saves nothing
        torch.set_rng_state(state["rng_cpu"])
        if state.get("rng_cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        self.history = list(state.get("history", []))
        self.sessions = list(state.get("sessions", [])) + self.sessions
        self.forked_from = state.get("forked_from")
        if self.config.ema_decay:  # a fork that turns the average on starts it at the source's weights
            saved = state.get("ema")
            self.ema = {k: v.to(self.device) for k, v in saved.items()} if saved is not None else self._ema_start()
        else:
            self.ema = None

    def _ema_start(self) -> dict[str, Tensor]:
        return {name: value.detach().float().clone() for name, value in self.decoder.state_dict().items()}

    def _update_ema(self) -> None:
        assert self.ema is not None
        current = self.decoder.state_dict()
        with torch.no_grad():
            for name, average in self.ema.items():
                average.lerp_(current[name].float(), 1.0 - self.config.ema_decay)

    def exported_decoder(self) -> nn.Module:
        """The decoder that is exported and sampled: the moving average when on, else the last weights."""
        if self.ema is None:
            return self.decoder
        decoder = build_training_decoder(self.config).to(self.device, memory_format=self.memory_format)
        decoder.load_state_dict(self.ema)
        return decoder

    def save(self) -> None:
        self._saved_step = self.step
        if self.rank == 0:
            save_checkpoint(self.checkpoint_path, self.state_dict())
            self.reporter.plot_history(self.history)

    def export_decoder(self, path: Path | None = None, command: str | None = None) -> Path:
        """fp16 safetensors of the current decoder with a manifest entry saying how it was made."""
        path = path or self.run_dir / "decoder.safetensors"
        sessions = self.sessions + (
            [{"command": command, "commit": _git_commit(), "start_step": self.step}] if command else []
        )
        save_decoder(
            self.exported_decoder(),
            path,
            self.config.preset,
            **decoder_provenance(self.config, self.step, sessions, self.forked_from),
        )
        return path

    # -- one step ------------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def compute_losses(self, content: Tensor, style: Tensor) -> dict[str, Tensor]:
        """Per-batch mean losses (``loss`` is what is minimised)."""
        config = self.config
        with self._autocast():
            with torch.no_grad():
                content_taps = self.encoder(content, last_tap="relu4_1")
                if config.objective == "adain":
                    style_taps = self.encoder(style)
                    style_statistics = {tap: channel_mean_std(style_taps[tap]) for tap in TAPS}
                    if config.style_mix:
                        style_statistics = self._mix_style_statistics(style_statistics)
                    # AdaIN at every tap the decoder takes (relu4_1; a multi-level decoder's skips too)
                    targets = [
                        adain_from_statistics(content_taps[tap], *style_statistics[tap]) for tap in self.decoder_taps
                    ]
                else:
                    targets = [content_taps[tap] for tap in self.decoder_taps]
                target = targets[0]
            output = self.model(*[t.to(memory_format=self.memory_format) for t in targets])
            output_taps = self.encoder(output)
        losses: dict[str, Tensor] = {}
        losses["content"] = content_loss(output_taps["relu4_1"], target).mean()
        if config.objective == "adain":
            if config.style_loss == "mean_std":
                per_sample = style_loss_from_statistics(
                    output_taps,
                    {tap: m for tap, (m, _) in style_statistics.items()},
                    {tap: s for tap, (_, s) in style_statistics.items()},
                    config.style_tap_weights,
                )
            else:
                per_sample = style_loss(output_taps, style_taps, config.style_loss, config.style_tap_weights)
            if config.complexity_weighting:
                per_sample = per_sample * self._complexity_weights(content)
            losses["style"] = per_sample.mean()
            losses["loss"] = config.content_weight * losses["content"] + config.style_weight * losses["style"]
        else:
            losses["pixel"] = (output.float() - content).pow(2).mean()
            losses["loss"] = losses["pixel"] + config.feature_weight * losses["content"]
        return losses

    def _mix_style_statistics(self, statistics: dict[str, tuple[Tensor, Tensor]]) -> dict[str, tuple[Tensor, Tensor]]:
        """Each sample's (mean, std) per tap, with probability ``style_mix`` interpolated towards
        the next sample's in the local batch by a weight drawn from U(0, 1).

        The draws are a function of (seed, step, rank), like the data's, so a resumed or forked run
        mixes exactly as an uninterrupted one. Under DDP the partner is the next sample on the
        same rank, so mixing runs differ from a one-process run of the same global batch.
        """
        batch = statistics["relu4_1"][0].shape[0]
        generator = torch.Generator().manual_seed(
            sample_rng(self.config.seed, self.step, f"style-mix:{self.rank}").getrandbits(63)
        )
        chosen = torch.rand(batch, generator=generator) < self.config.style_mix
        weight = (torch.rand(batch, generator=generator) * chosen).view(batch, 1, 1, 1).to(self.device)
        partner = torch.arange(1, batch + 1, device=self.device) % batch
        return {
            tap: (torch.lerp(mean, mean[partner], weight), torch.lerp(std, std[partner], weight))
            for tap, (mean, std) in statistics.items()
        }

    def _complexity_weights(self, content: Tensor) -> Tensor:
        """:func:`complexity_weights` normalised over the global batch, so DDP matches one process."""
        if not self.distributed:
            return complexity_weights(content, self.config.complexity_weighting)
        density = edge_density(content).clamp_min(1e-6)
        weights = (density / self._global_mean(density)).pow(-self.config.complexity_weighting)
        return weights / self._global_mean(weights)

    def _global_mean(self, values: Tensor) -> Tensor:
        """Mean of ``values`` over every rank's local batch (equal local batch sizes)."""
        total = values.detach().float().mean()
        dist.all_reduce(total)
        return total / self.world_size

    def _reduce(self, losses: dict[str, Tensor]) -> dict[str, float]:
        values = torch.stack([v.detach().float() for v in losses.values()])
        if self.distributed:
            dist.all_reduce(values)
            values /= self.world_size
        return dict(zip(losses, values.tolist()))

    def train_step(self, content: Tensor, style: Tensor) -> dict[str, float]:
        config = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = group.get("base_lr", config.learning_rate) / (1.0 + config.learning_rate_decay * self.step)
        content = content.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        style = style.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        losses = self.compute_losses(content, style)
        reduced = self._reduce(losses)
        if not all(math.isfinite(v) for v in reduced.values()):
            raise TrainingDiverged(
                f"loss is not finite at step {self.step} ({reduced}); the last good checkpoint "
                f"{self.checkpoint_path} is kept (lower the learning rate or the style weight)"
            )
        self._updating = True  # the weights change in place from here: a Ctrl-C now leaves no checkpointable state
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(losses["loss"]).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            self._update_ema()
        self.step += 1
        self._updating = False
        return reduced

    # -- the loop ------------------------------------------------------------------------------
    def fit(self) -> None:
        from tqdm import tqdm

        config = self.config
        if self.distributed:
            self.model = nn.parallel.DistributedDataParallel(
                self.decoder, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if config.cache_images and config.workers > 0:
            # decode every image once before the workers fork, so they share one copy
            for source in (self.dataset.content, self.dataset.style):
                for position in range(len(source.files)):
                    source._load(position)
        sampler = StepBatchSampler(self.step, config.steps, config.batch_size, self.rank, self.world_size)
        loader = DataLoader(
            self.dataset,
            batch_sampler=sampler,
            num_workers=config.workers,
            persistent_workers=False,
            pin_memory=self.device.type == "cuda",
        )
        bar = tqdm(
            total=config.steps,
            initial=self.step,
            disable=not self.progress or self.rank != 0,
            desc="train",
            unit="step",
            dynamic_ncols=True,
        )
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
                if self.step % config.log_every_steps == 0:
                    # a resumed run's first window may hold fewer than log_every_steps steps
                    averaged = {k: v / running_steps for k, v in running.items()}
                    running, running_steps = {}, 0
                    averaged["step"] = self.step
                    averaged["lr"] = self.optimizer.param_groups[0]["lr"]
                    self.history.append(averaged)
                    self.reporter.log_scalars(self.step, averaged)
                if self.rank == 0 and config.sample_every_steps and self.step % config.sample_every_steps == 0:
                    self.write_samples()
                due = time.monotonic() - last_save >= config.checkpoint_every_minutes * 60
                if self.step % config.checkpoint_every_steps == 0 or due or self.step == config.steps:
                    self.save()
                    last_save = time.monotonic()
        except KeyboardInterrupt:  # Ctrl-C (or SIGTERM, see adain.cli.main): keep the steps done so far
            self._save_on_interrupt()
            raise
        finally:
            bar.close()
            self.reporter.close()
        skipped = self.dataset.content.skipped | self.dataset.style.skipped
        if skipped and self.rank == 0:
            print(
                f"adain train: skipped {len(skipped)} unreadable image(s), e.g. {sorted(skipped)[0]}", file=sys.stderr
            )

    def _save_on_interrupt(self) -> None:
        """Checkpoint the last whole step (:func:`~adain.train.checkpoint.save_last_whole_step`), on rank 0."""
        if self.rank == 0:
            save_last_whole_step(self, "adain train")

    @torch.no_grad()
    def write_samples(self) -> Path:
        """A grid of fixed preview pairs: content | style | output, one row each."""
        decoder = self.exported_decoder()
        decoder.eval()
        contents = torch.stack([c for c, _ in self.preview]).to(self.device)
        styles = torch.stack([s for _, s in self.preview]).to(self.device)
        with self._autocast():
            content_taps = self.encoder(contents, last_tap="relu4_1")
            if self.config.objective == "adain":
                style_taps = self.encoder(styles)
                targets = [adain(content_taps[tap], style_taps[tap]) for tap in self.decoder_taps]
            else:
                targets = [content_taps[tap] for tap in self.decoder_taps]
            outputs = decoder(*targets).float().clamp(0, 1)
        decoder.train()
        return self.reporter.write_grid(self.step, contents, styles, outputs)


def train(config: TrainConfig, resume: bool = True, progress: bool = True) -> Trainer:
    trainer = Trainer(config, progress=progress)
    try:
        if not (resume and trainer.resume()) and config.fork_from:
            trainer.fork()
        trainer.fit()
    finally:
        trainer.close()
    return trainer
