"""``adain eval video``: how much each temporal mechanism reduces flicker, and what it costs.

Every clip is stylized once per temporal mode (``none`` = frame by frame, ``ema``, ``flow``,
``ema+flow``) with the same styles and options, end to end through
:class:`~adain.video.stylizer.VideoStylizer`, and scored:

- **warping error**: mean squared difference between each stylized frame and the previous
  stylized frame warped by the *input* frames' flow, over the pixels where that flow is
  reliable (:func:`~adain.video.temporal.warping_error`). The flow of the measure is
  ``dis-fine`` by default (DIS at full resolution with variational refinement), not the flow
  the ``flow`` mechanism blends with (DIS medium averaged with Farneback), so that the
  mechanism is not scored by its own estimate;
- **style loss** and **content loss**: the AdaIN losses of ``adain eval`` (mean/std at
  relu1_1..relu4_1 against the style's statistics; relu4_1 against the per-frame AdaIN target),
  averaged over frames; measured, as ``adain eval`` measures them, with a VGG encoder: a
  distilled preset's (``fast``) teacher's (``loss_encoder``), never the student that stylized;
- **frames/s**: wall time of the run, and the share the temporal mechanisms took of it.

The issue's bar, checked in the report: warping error at least 40% below ``none``, style loss
at most 10% above, time at most 1.5x.

Clips: video files (any :func:`~adain.video.io.open_video` source), ``generated:shapes``
(moving shapes over a panning texture) or ``generated:photo`` (a pan and zoom over a
photograph from ``skimage.data`` with a cut-out moving across).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import islice
from pathlib import Path

import numpy as np
import torch

from adain.errors import UsageError
from adain.eval.clips import photo_clip, shapes_clip
from adain.image.io import save_image
from adain.ops.losses import content_loss, style_loss_from_statistics
from adain.ops.statistics import adain_from_statistics, blend_features, mix_statistics
from adain.ops.taps import TAPS
from adain.pipeline.options import StylizeOptions
from adain.pipeline.stylize import StylizationPipeline
from adain.styles.statistics import StyleStatistics
from adain.video.io import open_video
from adain.video.stylizer import VideoStylizer, frame_to_tensor
from adain.video.temporal import (
    DEFAULT_TEMPORAL,
    MEASURE_FLOW,
    TEMPORAL_MODES,
    FlowMethod,
    TemporalOptions,
    input_flows,
    warp,
    warping_error,
)

__all__ = [
    "BAR",
    "GENERATED_CLIPS",
    "ModeScore",
    "VideoEvalConfig",
    "evaluate_video",
    "frame_strip",
    "load_clip",
    "ratios",
    "write_video_report",
]

#: The issue's bar, relative to frame-by-frame stylization. The time is judged by the measured
#: overhead of the temporal mechanisms (``1 + temporal seconds / network seconds``): the networks
#: do the same work in every mode, and wall times of successive runs on a shared machine differ
#: by more than the mechanisms cost (the wall-clock ratio is reported beside it).
BAR = {"warping_error_ratio_max": 0.60, "style_loss_ratio_max": 1.10, "time_ratio_max": 1.50}
GENERATED_CLIPS = ("generated:shapes", "generated:photo")


@dataclass
class VideoEvalConfig:
    """What ``adain eval video`` runs.

    Attributes:
        clips: video paths or ``generated:shapes`` / ``generated:photo``.
        out_dir: report folder.
        size: frames are stylized at this shorter side (0: as they are).
        frames: at most this many frames of each clip (from the start).
        modes: temporal modes to compare; ``none`` is always run (the reference).
        temporal: the parameters of the mechanisms (its ``mode`` is replaced per run).
        measure_flow: the flow the warping error is measured with.
        generated_aspect: width / height of generated clips.
    """

    clips: Sequence[str]
    out_dir: Path = Path("eval-video")
    size: int = 256
    frames: int = 40
    modes: Sequence[str] = TEMPORAL_MODES
    temporal: TemporalOptions = field(default_factory=TemporalOptions)
    measure_flow: FlowMethod = MEASURE_FLOW
    generated_aspect: float = 1.5

    def check(self) -> VideoEvalConfig:
        """This config, checked, with ``"none"`` (the reference) among the modes. Returns ``self``."""
        unknown = [m for m in self.modes if m not in TEMPORAL_MODES]
        if unknown:
            raise UsageError(f"unknown temporal modes {unknown}; known: {', '.join(TEMPORAL_MODES)}")
        if "none" not in self.modes:
            self.modes = ["none", *self.modes]
        if self.frames < 2:
            raise UsageError(f"a warping error needs at least 2 frames. Got frames={self.frames}")
        if not self.clips:
            raise UsageError("no clips to evaluate")
        self.temporal.check()
        return self


@dataclass
class ModeScore:
    clip: str
    mode: str
    frames: int
    width: int
    height: int
    warping_error: float
    style_loss: float
    content_loss: float
    seconds: float
    temporal_seconds: float
    scene_cuts: list[int] = field(default_factory=list)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else math.inf


def load_clip(spec: str, frames: int, size: int, aspect: float = 1.5, seed: int = 0) -> list[np.ndarray]:
    """The first ``frames`` frames of a clip (a path or one of :data:`GENERATED_CLIPS`).

    Generated clips are made at ``size`` (shorter side) directly; files keep their size (the
    stylizer resizes them).
    """
    if spec in GENERATED_CLIPS:
        height = size or 256
        width = max(8, round(height * aspect / 2) * 2)
        make = shapes_clip if spec == "generated:shapes" else photo_clip
        return make(frames, height, width, seed=seed)
    return list(islice(open_video(spec).frames(), frames))


def _style_targets(statistics: list[StyleStatistics], options: StylizeOptions) -> tuple[dict, dict]:
    """The style statistics the style loss compares with: the styles mixed by their weights."""
    weights = list(options.style_weights) if options.style_weights is not None else [1.0] * len(statistics)
    means, stds = {}, {}
    for tap in TAPS:
        means[tap], stds[tap] = mix_statistics(
            torch.cat([s.at(tap)[0] for s in statistics]), torch.cat([s.at(tap)[1] for s in statistics]), weights
        )
    return means, stds


@torch.inference_mode()
def _losses(
    scorer: StylizationPipeline,
    inputs: list[np.ndarray],
    outputs: list[np.ndarray],
    means: dict,
    stds: dict,
    alpha: float,
) -> tuple[float, float]:
    """Mean content and style loss over the frames (float32 passes of ``scorer``'s encoder)."""
    encoder = scorer.encoder
    style, content = [], []
    for frame, output in zip(inputs, outputs):
        output_taps = encoder(
            torch.from_numpy(np.ascontiguousarray(output)).permute(2, 0, 1)[None].float().to(scorer.device)
        )
        content_features = encoder(frame_to_tensor(frame).to(scorer.device))["relu4_1"]
        target = blend_features(
            content_features, adain_from_statistics(content_features, means["relu4_1"], stds["relu4_1"]), alpha
        )
        style.append(float(style_loss_from_statistics(output_taps, means, stds).mean()))
        content.append(float(content_loss(output_taps["relu4_1"], target).mean()))
    return float(np.mean(content)), float(np.mean(style))


def evaluate_video(
    pipeline: StylizationPipeline,
    styles: Sequence,
    options: StylizeOptions,
    config: VideoEvalConfig,
    progress: bool = True,
    loss_encoder: torch.nn.Module | None = None,
    loss_preset: str | None = None,
) -> tuple[list[ModeScore], dict[str, dict[str, list[np.ndarray]]]]:
    """Scores of every mode on every clip, and the frames (``{clip: {"input"|mode: frames}}``).

    ``loss_encoder`` (a VGG encoder, of preset ``loss_preset``) measures the content and style
    losses, the style targets included (a style image encoded by it; bank statistics of a
    distilled preset are its teacher's already); ``None``: the pipeline's own encoder. For a
    distilled preset pass its teacher's (:func:`~adain.eval.evaluate.loss_encoder_preset`), as
    ``adain eval video`` does: a student would grade itself."""
    from tqdm import tqdm

    config.check()
    scorer = pipeline
    if loss_encoder is not None:  # only its encoder and its style preparation are used
        scorer = StylizationPipeline(
            loss_encoder, pipeline.decoder, loss_preset or pipeline.preset, device=pipeline.device
        )
    scores: list[ModeScore] = []
    frames_by_clip: dict[str, dict[str, list[np.ndarray]]] = {}
    jobs = [(clip, mode) for clip in config.clips for mode in config.modes]
    bar = tqdm(total=len(jobs), desc="eval video", unit="run", disable=not progress)
    for clip in config.clips:
        raw = load_clip(clip, config.frames, config.size, config.generated_aspect)
        sizing = VideoStylizer(
            pipeline, styles, replace(options, size=config.size if clip not in GENERATED_CLIPS else 0)
        )
        inputs = [sizing.resize(frame) for frame in raw]
        flows = input_flows(inputs, config.measure_flow)
        if scorer is pipeline:
            targets = sizing.style_statistics(inputs[0])
        else:  # the styles as the loss encoder sees them (recoloured to the first frame for "match")
            with torch.inference_mode():
                first = frame_to_tensor(inputs[0]).to(scorer.device)
                targets = scorer.prepare_styles(list(styles), first, replace(options, method="decoder"))
        means, stds = _style_targets(targets, options)
        frames_by_clip[clip] = {"input": inputs}
        for mode in config.modes:
            stylizer = VideoStylizer(
                pipeline, styles, replace(options, size=0, max_size=0), replace(config.temporal, mode=mode)
            )
            started = time.perf_counter()
            outputs = list(stylizer.stylize_frames(inputs))
            seconds = time.perf_counter() - started
            content, style = _losses(scorer, inputs, outputs, means, stds, options.alpha)
            height, width = inputs[0].shape[:2]
            scores.append(
                ModeScore(
                    clip,
                    mode,
                    len(inputs),
                    width,
                    height,
                    warping_error(inputs, outputs, flows=flows),
                    style,
                    content,
                    seconds,
                    stylizer.timings["temporal"],
                    stylizer.scene_cuts,
                )
            )
            frames_by_clip[clip][mode] = outputs
            bar.update(1)
    bar.close()
    return scores, frames_by_clip


def ratios(scores: list[ModeScore]) -> list[dict]:
    """Each score as a row with its ratios to ``none`` on the same clip and the bar's verdicts."""
    reference = {s.clip: s for s in scores if s.mode == "none"}
    rows = []
    for s in scores:
        base = reference[s.clip]
        row = {
            **asdict(s),
            "frames_per_second": s.frames_per_second,
            "warping_error_ratio": s.warping_error / base.warping_error if base.warping_error > 0 else math.nan,
            "style_loss_ratio": s.style_loss / base.style_loss if base.style_loss > 0 else math.nan,
            "wall_time_ratio": s.seconds / base.seconds if base.seconds > 0 else math.nan,
            "time_ratio": s.seconds / (s.seconds - s.temporal_seconds) if s.seconds > s.temporal_seconds else math.inf,
            "temporal_share": s.temporal_seconds / s.seconds if s.seconds > 0 else 0.0,
        }
        row["passes_bar"] = (
            bool(
                row["warping_error_ratio"] <= BAR["warping_error_ratio_max"]
                and row["style_loss_ratio"] <= BAR["style_loss_ratio_max"]
                and row["time_ratio"] <= BAR["time_ratio_max"]
            )
            if s.mode != "none"
            else None
        )
        rows.append(row)
    return rows


def frame_strip(
    frames: dict[str, list[np.ndarray]],
    modes: Sequence[str],
    start: int,
    count: int = 4,
    gain: float = 4.0,
    method: FlowMethod = MEASURE_FLOW,
) -> np.ndarray:
    """A comparison image, ``(H, W, 3)`` float: rows ``input`` and each of ``modes`` over ``count``
    consecutive frames from ``start``; then for each mode a row of what the warping error
    measures, ``|frame_t - warp(frame_{t-1})|`` times ``gain`` with the input frames' flow, black
    where that flow is not reliable: motion that the flow follows cancels, flicker stays."""
    count = max(1, min(count, len(frames["input"]) - 1))
    start = max(1, min(start, len(frames["input"]) - count))
    flows = input_flows(frames["input"][start - 1 : start + count], method)
    rows = []

    def row(images: list[np.ndarray]) -> np.ndarray:
        pad = np.ones((images[0].shape[0], 4, 3), np.float32)
        cells = [item for image in images for item in (image, pad)][:-1]
        return np.concatenate(cells, axis=1)

    def as_float(image: np.ndarray) -> np.ndarray:
        return image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)

    for name in ["input", *modes]:
        rows.append(row([as_float(frames[name][t]) for t in range(start, start + count)]))
    for name in modes:
        clip = [as_float(f) for f in frames[name]]
        residuals = []
        for t in range(start, start + count):
            pair = flows[t - start]
            residual = np.abs(clip[t] - warp(clip[t - 1], pair.backward)) * gain
            residuals.append(np.clip(residual, 0, 1) * pair.reliable[..., None])
        rows.append(row(residuals))
    gap = np.ones((4, rows[0].shape[1], 3), np.float32)
    return np.concatenate([item for r in rows for item in (r, gap)][:-1], axis=0)


def write_video_report(
    scores: list[ModeScore],
    frames: dict[str, dict[str, list[np.ndarray]]],
    out_dir: Path,
    header: dict[str, object],
    strip_modes: Sequence[str] = ("none", DEFAULT_TEMPORAL),
) -> dict[str, Path]:
    """``results.json``, ``results.md`` and a frame strip PNG per clip in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = ratios(scores)
    paths = {"json": out_dir / "results.json", "markdown": out_dir / "results.md"}
    paths["json"].write_text(json.dumps({**header, "bar": BAR, "results": rows}, indent=2, default=str) + "\n")
    lines = [
        "# adain eval video",
        "",
        *(f"- {k}: {v}" for k, v in header.items()),
        "",
        (
            "Bar (vs none): warping error <= 0.60x, style loss <= 1.10x, time <= 1.50x (1 + the mechanisms' measured "
            "overhead; the wall-clock ratio of the runs is beside it)."
        ),
        "",
        (
            "| clip | frames | mode | warping error | vs none | style loss | vs none | content loss | frames/s | time "
            "(overhead) | wall-clock vs none | bar |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        verdict = "" if r["passes_bar"] is None else ("pass" if r["passes_bar"] else "fail")
        lines.append(
            f"| {r['clip']} | {r['frames']} ({r['width']}x{r['height']}) | {r['mode']} | {r['warping_error']:.5f} | "
            f"{r['warping_error_ratio']:.2f} | {r['style_loss']:.3f} | {r['style_loss_ratio']:.2f} | "
            f"{r['content_loss']:.3f} | {r['frames_per_second']:.2f} | {r['time_ratio']:.2f} | "
            f"{r['wall_time_ratio']:.2f} | {verdict} |"
        )
    lines += [
        "",
        (
            "Warping error: mean squared difference (RGB in [0, 1]) between each stylized frame and the previous one "
            "warped by the input frames' optical flow, on pixels where forward and backward flow agree; pairs "
            "across a scene cut are left out."
        ),
        "",
    ]
    available = [m for m in strip_modes if any(s.mode == m for s in scores)]
    for index, (clip, clip_frames) in enumerate(frames.items()):
        name = f"strip_{index}.png"
        strip = frame_strip(clip_frames, available, start=len(clip_frames["input"]) // 2)
        paths[f"strip-{index}"] = out_dir / name
        save_image(torch.from_numpy(strip).permute(2, 0, 1)[None], out_dir / name)
        lines.append(
            f"![{clip}]({name}) rows: input, {', '.join(available)}; then, for each, the difference to the previous "
            "frame warped by the input's flow (x4; black: flow not reliable): flicker shows there."
        )
    paths["markdown"].write_text("\n".join(lines) + "\n")
    return paths
