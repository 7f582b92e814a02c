"""Stylizing a video: frames through the stylization pipeline, tied together over time.

:class:`VideoStylizer` is what the command line and the web service share: it takes a loaded
:class:`~adain.pipeline.stylize.StylizationPipeline`, the styles and the per-frame
:class:`~adain.pipeline.stylize.StylizeOptions`, computes the style statistics once (on the first
frame, for colour "match"; with ``method="attention"`` the styles' subsampled features too, by the
pipeline's own :meth:`~adain.pipeline.stylize.StylizationPipeline.prepare_styles`), and turns input
frames into stylized frames with the temporal mechanisms of :mod:`adain.video.temporal` (the
smoothed content statistics feed attention's normalisation as they feed plain AdaIN's).
:meth:`VideoStylizer.stylize_video` runs a whole file: decode, stylize, encode with the source's
frame rate and audio, progress with frames/s and ETA, atomic output.

Example (``stylize_video("clip.mp4", "out.mp4")`` does the same for a file):
    >>> import numpy as np
    >>> pipeline = StylizationPipeline.from_preset()
    >>> stylizer = VideoStylizer(pipeline, "bank:antimonocromatismo", temporal="ema")
    >>> frames = [np.full((48, 64, 3), 100 + 10 * k, dtype=np.uint8) for k in range(3)]
    >>> [frame.shape for frame in stylizer.stylize_frames(frames)]
    [(48, 64, 3), (48, 64, 3), (48, 64, 3)]
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from adain.image.io import load_image
from adain.image.sizing import target_size
from adain.pipeline.options import StylizeOptions
from adain.pipeline.stylize import StylizationPipeline
from adain.styles.statistics import StyleInput, StyleStatistics
from adain.video.io import DEFAULT_CRF, VideoSource, check_output_location, open_video, open_video_writer
from adain.video.temporal import TemporalOptions, TemporalState

__all__ = ["FrameCallback", "VideoReport", "VideoStylizer", "frame_to_tensor", "tensor_to_frame"]

#: ``on_frame(frames_done, frames_total_or_None)`` after each frame is written.
FrameCallback = Callable[[int, "int | None"], None]


@dataclass
class VideoReport:
    """What :meth:`VideoStylizer.stylize_video` did."""

    output: Path
    frames: int
    width: int
    height: int
    fps: Fraction
    seconds: float
    scene_cuts: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: where the seconds went: ``networks`` (encoder, AdaIN, decoder), ``temporal`` (optical flow,
    #: warping, cut detection, smoothing) and ``input/output`` (decoding, colour conversion,
    #: encoding, muxing: the rest)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")

    def time_shares(self) -> str:
        """``networks 61%, temporal 24%, input/output 15%`` (empty without timings)."""
        if not self.timings or self.seconds <= 0:
            return ""
        return ", ".join(f"{name} {seconds / self.seconds:.0%}" for name, seconds in self.timings.items())

    def summary(self) -> str:
        cuts = (
            f", {len(self.scene_cuts)} scene cut{'s' if len(self.scene_cuts) != 1 else ''}" if self.scene_cuts else ""
        )
        return (
            f"wrote {self.output} ({self.frames} frames, {self.width}x{self.height}, {float(self.fps):.3g} fps; "
            f"{self.frames_per_second:.2f} frames/s{cuts})"
            + (f"; time: {shares}" if (shares := self.time_shares()) else "")
        )


def frame_to_tensor(frame: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(1, 3, H, W)`` float32 in [0, 1]."""
    return (
        torch.from_numpy(np.array(frame, dtype=np.uint8)).permute(2, 0, 1)[None].float().div_(255.0)
    )  # a copy: frames may be read-only


def tensor_to_frame(rgb: torch.Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` in [0, 1] -> ``(H, W, 3)`` float32 numpy."""
    return rgb[0].detach().float().clamp(0.0, 1.0).permute(1, 2, 0).cpu().numpy()


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    return (np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class VideoStylizer:
    """Stylizes frames one after another with temporal consistency.

    Args:
        pipeline: the loaded pipeline.
        styles: style images or :class:`StyleStatistics` (encoded once, at the first frame);
            with ``method="attention"``, which needs their features, images or statistics that kept
            them (:class:`~adain.styles.features.StyleFeatures`).
        options: per-frame options. ``size``/``max_size`` set the output resolution (rounded
            down to even sizes, which H.264 needs; 0 keeps the source's); everything else
            (alpha, style weights, colour, mask, method, tiling, multi-scale...) applies to each frame.
        temporal: :class:`TemporalOptions` or a mode name (``"none"``, ``"ema"``, ``"flow"``,
            ``"ema+flow"``).

    Call :meth:`reset` between clips (or use :meth:`stylize_frames`, which does).
    """

    def __init__(
        self,
        pipeline: StylizationPipeline,
        styles: StyleInput | Sequence[StyleInput],
        options: StylizeOptions | None = None,
        temporal: TemporalOptions | str | None = None,
    ):
        self.pipeline = pipeline
        self.styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
        self.options = options or StylizeOptions()
        self.styles = pipeline.check_inputs(self.styles, self.options)  # bank:NAME -> statistics
        temporal = TemporalOptions(mode=temporal) if isinstance(temporal, str) else (temporal or TemporalOptions())
        self.temporal = temporal.check()
        if isinstance(self.options.mask, (str, os.PathLike)):
            self.options = replace(self.options, mask=load_image(self.options.mask, max_pixels=self.options.max_pixels))
        self._statistics: list[StyleStatistics] | None = None
        self._frame_options = replace(
            self.options,
            size=0,
            max_size=0,
            style_size=0,
            preserve_color=None if self.options.preserve_color == "match" else self.options.preserve_color,
        )
        self.state = TemporalState(self.temporal)
        #: seconds spent in the networks and in the temporal mechanisms (flow, cuts) so far
        self.timings = {"stylize": 0.0, "temporal": 0.0}

    def frame_size(self, height: int, width: int) -> tuple[int, int]:
        """The output ``(height, width)`` for a source of that size: ``size``/``max_size``
        applied, rounded down to even numbers (at least 2)."""
        new_height, new_width = target_size(
            height, width, self.options.size, self.options.max_size, upscale=self.options.upscale
        )
        return max(2, new_height // 2 * 2), max(2, new_width // 2 * 2)

    def reset(self) -> None:
        """Forget the previous frames (a new clip); the style statistics are kept."""
        self.state = TemporalState(self.temporal)

    def style_statistics(self, first_frame: np.ndarray) -> list[StyleStatistics]:
        """The styles' statistics, computed once (recoloured to ``first_frame`` for "match"); for
        ``method="attention"``, :class:`~adain.styles.features.StyleFeatures` (statistics and
        subsampled features), as the pipeline prepares them for one image."""
        if self._statistics is None:
            with torch.inference_mode():
                self._statistics = self.pipeline.prepare_styles(
                    self.styles, frame_to_tensor(first_frame).to(self.pipeline.device), self.options
                )
        return self._statistics

    def resize(self, frame: np.ndarray) -> np.ndarray:
        """A source frame at the output size (area averaging when shrinking)."""
        import cv2

        height, width = self.frame_size(*frame.shape[:2])
        if (height, width) == frame.shape[:2]:
            return frame
        shrinking = height * width < frame.shape[0] * frame.shape[1]
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)

    def stylize_frame(self, frame: np.ndarray) -> np.ndarray:
        """The next frame of the clip (``(H, W, 3)`` uint8, any size) -> its stylization at the
        output size, ``(h, w, 3)`` float32 in [0, 1]."""
        frame = self.resize(frame)
        statistics = self.style_statistics(frame)
        started = time.perf_counter()
        self.state.begin_frame(frame)
        between = time.perf_counter()
        result = self.pipeline(
            frame_to_tensor(frame),
            statistics,
            self._frame_options,
            output_type="pt",
            content_statistics_filter=self.state.statistics_filter,
        )
        stylized = tensor_to_frame(result.rgb)
        done = time.perf_counter()
        output = self.state.end_frame(frame, stylized)
        self.timings["stylize"] += done - between
        self.timings["temporal"] += (between - started) + (time.perf_counter() - done)
        return output

    def stylize_frames(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Stylize a clip's frames in order (the temporal state starts afresh)."""
        self.reset()
        for frame in frames:
            yield self.stylize_frame(frame)

    @property
    def scene_cuts(self) -> list[int]:
        """Frame indices where a new shot was found in the current clip."""
        return list(self.state.scene_cuts)

    def stylize_video(
        self,
        source: str | os.PathLike[str] | VideoSource,
        output: str | os.PathLike[str],
        *,
        crf: int = DEFAULT_CRF,
        fps: float | Fraction | None = None,
        keep_audio: bool = True,
        progress: bool | None = None,
        on_frame: FrameCallback | None = None,
    ) -> VideoReport:
        """Stylize a whole clip into ``output`` (H.264 file, GIF or frame folder).

        Args:
            source: a path (video file, GIF, frame folder) or an opened :class:`VideoSource`.
            output: where to write; see :func:`~adain.video.io.open_video_writer`.
            crf: H.264 quality.
            fps: the output frame rate (default: the source's; frame folders: 25).
            keep_audio: copy the source's audio into a video output.
            progress: a tqdm bar on stderr with frames/s and ETA (``None``: only on a terminal).
            on_frame: called after each frame as ``on_frame(done, total)``.

        Raises:
            VideoInputError: the source cannot be read (found before any output exists).
            UsageError, OutputError: the output cannot be written. Nothing is left behind on
            any error or on KeyboardInterrupt.
        """
        from tqdm import tqdm

        check_output_location(output)
        video = source if isinstance(source, VideoSource) else open_video(source)
        info = video.info
        rate = info.fps if fps is None else Fraction(fps).limit_denominator(1001)
        height, width = self.frame_size(info.height, info.width)
        self.reset()
        before = dict(self.timings)
        started = time.perf_counter()
        bar = tqdm(
            total=info.frame_count,
            desc="stylizing",
            unit="frame",
            file=sys.stderr,
            dynamic_ncols=True,
            disable=(None if progress is None else not progress),
        )
        try:
            with open_video_writer(output, rate, crf=crf, audio_from=info if keep_audio else None) as writer:
                for frame in video.frames():
                    writer.write(_to_uint8(self.stylize_frame(frame)))
                    bar.update(1)
                    if on_frame is not None:
                        on_frame(writer.frames_written, info.frame_count)
        finally:
            bar.close()
        seconds = time.perf_counter() - started
        networks = self.timings["stylize"] - before["stylize"]
        temporal = self.timings["temporal"] - before["temporal"]
        timings = {"networks": networks, "temporal": temporal, "input/output": max(0.0, seconds - networks - temporal)}
        return VideoReport(
            Path(output),
            writer.frames_written,
            width,
            height,
            rate,
            seconds,
            self.scene_cuts,
            list(writer.notes),
            timings,
        )
