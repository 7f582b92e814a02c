"""Temporal consistency for video stylization: two mechanisms against flicker, and its measure.

Stylizing a film frame by frame flickers for two reasons, and each mechanism answers one:

- **Global flicker** (``ema``): AdaIN normalises each frame's features with that frame's own
  channel mean and std, so an object entering the frame shifts the normalisation of every
  pixel. :class:`ContentStatisticsEMA` replaces them with an exponential moving average over
  frames (through the pipeline's ``content_statistics_filter`` hook), reset at scene cuts that
  :class:`SceneCutDetector` finds from colour histograms of the input frames.
- **Local flicker** (``flow``): the decoder answers small changes of the input (noise,
  compression, sub-pixel motion) with different brush strokes. :class:`FlowBlender` warps the
  previous *output* onto the current frame with dense optical flow computed on the *input*
  frames (OpenCV DIS, or Farneback), and blends it in where the flow is reliable (forward and
  backward flow agree: Sundaram et al. 2010, as used by Ruder et al. 2016); where it is not
  (occlusions, disocclusions, motion boundaries, the frame's edges) the fresh stylization is kept.

:func:`warping_error` measures the result: the mean squared difference between each stylized
frame and the previous stylized frame warped by the input frames' flow, over the pixels where
that flow is reliable (Lai et al. 2018 measure it this way).

Frames are ``(H, W, 3)`` numpy arrays: uint8 RGB inputs, float32 RGB in [0, 1] outputs.
"""

from __future__ import annotations

import concurrent.futures
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from adain._checks import is_number
from adain.errors import ShapeError, UsageError

__all__ = [
    "DEFAULT_FLOW_MAX_SIDE",
    "DEFAULT_TEMPORAL",
    "FLOW_METHODS",
    "MEASURE_FLOW",
    "TEMPORAL_MODES",
    "ContentStatisticsEMA",
    "FlowBlender",
    "FlowEstimator",
    "FlowPair",
    "SceneCutDetector",
    "TemporalOptions",
    "TemporalState",
    "check_flow_max_side",
    "colour_histogram",
    "consistency_mask",
    "flow_pair",
    "histogram_distance",
    "input_flows",
    "restore_detail",
    "warp",
    "warping_error",
    "warping_errors",
]

TEMPORAL_MODES = ("none", "ema", "flow", "ema+flow")
#: The best mode measured (README, "Video"): ``flow`` and ``ema+flow`` tie on the warping error
#: of all three test clips (the moving average alone changed it by -1% to +2%), and ``flow`` is
#: the simpler with the lower style loss on the real clip.
DEFAULT_TEMPORAL = "flow"
#: ``dis``: OpenCV's DIS, medium preset (fast); ``farneback``: Farneback's polynomial expansion;
#: ``dis+farneback``: their average (the two err in different places: measured on a real clip,
#: blending with either alone is consistent under its own flow but much less under the other's,
#: their average under both and under ``dis-fine``); ``dis-fine``: DIS at full resolution with
#: more iterations and variational refinement (slow; the default flow of the measure).
FLOW_METHODS = ("dis", "farneback", "dis+farneback", "dis-fine")
FlowMethod = Literal["dis", "farneback", "dis+farneback", "dis-fine"]
#: The blending's flow is computed on frames shrunk so that their longer side is at most this
#: many pixels, then scaled back (0: at full resolution). The flow is ~70% of the time a frame
#: at 480p and its cost grows with the pixels, while the motion it must find is smooth: at
#: 320 px the warping error measured on the generated clips stayed within a few per cent of the
#: full-resolution flow's (docs/video.md, "Speed"). It does not apply to the measure's flow.
DEFAULT_FLOW_MAX_SIDE = 320


@dataclass
class TemporalOptions:
    """How frames are tied together.

    Attributes:
        mode: ``"none"`` (frame by frame), ``"ema"``, ``"flow"`` or ``"ema+flow"``.
        ema_momentum: weight of the past in the moving average of the content statistics
            (0: none, as per frame; 0.9: a time constant of about ten frames).
        blend: weight of the warped previous output where the flow is reliable (0: fresh
            stylization everywhere; close to 1: frozen strokes that smear).
        flow_method: one of :data:`FLOW_METHODS` (default ``"dis+farneback"``).
        flow_max_side: the blending's flow is computed on frames resized so that their longer
            side is at most this many pixels (0: full resolution; default
            :data:`DEFAULT_FLOW_MAX_SIDE`). Smaller frames are not resized.
        cut_threshold: colour-histogram distance in [0, 1] between consecutive input frames
            from which a scene cut is declared (the moving average and blending restart).
    """

    mode: str = DEFAULT_TEMPORAL
    ema_momentum: float = 0.9
    blend: float = 0.5
    flow_method: FlowMethod = "dis+farneback"
    cut_threshold: float = 0.4
    flow_max_side: int = DEFAULT_FLOW_MAX_SIDE

    def check(self) -> TemporalOptions:
        """These options, checked (the one way options are validated; consumers call it). Returns ``self``."""
        if self.mode not in TEMPORAL_MODES:
            raise UsageError(f"temporal mode must be one of {', '.join(TEMPORAL_MODES)}. Got {self.mode!r}")
        for name in ("ema_momentum", "blend", "cut_threshold"):
            value = getattr(self, name)
            # finite=False: the bounds refuse inf already, and a huge int stays a UsageError (no OverflowError)
            if not is_number(value, 0.0, 1.0, finite=False):
                raise UsageError(f"{name} must be a number in [0, 1]. Got {value!r}")
        if self.ema_momentum >= 1.0:
            raise UsageError(f"ema_momentum must be below 1 (1 would never update). Got {self.ema_momentum!r}")
        if self.flow_method not in FLOW_METHODS:
            raise UsageError(f"flow method must be one of {', '.join(FLOW_METHODS)}. Got {self.flow_method!r}")
        check_flow_max_side(self.flow_max_side)
        return self

    @property
    def uses_ema(self) -> bool:
        return "ema" in self.mode

    @property
    def uses_flow(self) -> bool:
        return "flow" in self.mode


def check_flow_max_side(value: object) -> int:
    """``value`` if it is a valid :attr:`TemporalOptions.flow_max_side`, else a :class:`UsageError`.

    0 (full resolution) or a whole number of at least :data:`DIS_MIN_SIDE`: below that DIS
    cannot run and a flow of a few pixels says nothing about the frame's motion.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (value == 0 or value >= DIS_MIN_SIDE):
        raise UsageError(
            f"flow_max_side must be 0 (full resolution) or a whole number of pixels >= {DIS_MIN_SIDE}. Got {value!r}"
        )
    return int(value)


# -- scene cuts -------------------------------------------------------------------------------

HISTOGRAM_BINS = 8
HISTOGRAM_SIDE = 64


def colour_histogram(frame: np.ndarray) -> np.ndarray:
    """A frame's normalised joint RGB histogram (8 bins a channel) on a 64-pixel thumbnail."""
    import cv2

    _check_frame(frame, "frame")
    scale = HISTOGRAM_SIDE / max(frame.shape[:2])
    small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else frame
    bins = (small.reshape(-1, 3).astype(np.int32) * HISTOGRAM_BINS) // 256
    index = (bins[:, 0] * HISTOGRAM_BINS + bins[:, 1]) * HISTOGRAM_BINS + bins[:, 2]
    histogram = np.bincount(index, minlength=HISTOGRAM_BINS**3).astype(np.float64)
    return histogram / histogram.sum()


def histogram_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Half the L1 distance of two normalised histograms: 0 same colours, 1 disjoint."""
    return float(0.5 * np.abs(first - second).sum())


class SceneCutDetector:
    """Finds scene cuts: consecutive input frames whose colour histograms differ by more than
    ``threshold`` (moving objects and camera motion change the histogram little; a cut to
    another shot changes most of it)."""

    def __init__(self, threshold: float = 0.4):
        self.threshold = threshold
        self.previous: np.ndarray | None = None

    def reset(self) -> None:
        self.previous = None

    def __call__(self, frame: np.ndarray) -> bool:
        """Whether ``frame`` starts a new shot (the first frame does not)."""
        histogram = colour_histogram(frame)
        cut = self.previous is not None and histogram_distance(self.previous, histogram) > self.threshold
        self.previous = histogram
        return cut


# -- content statistics -----------------------------------------------------------------------


class ContentStatisticsEMA:
    """A ``content_statistics_filter`` for :class:`~adain.pipeline.stylize.StylizationPipeline`:
    the exponential moving average of the content ``(mean, std)`` over the frames so far, at
    every tap the decoder takes (a multi-level decoder normalises four taps: each is smoothed).

    ``momentum`` is the weight of the past. The average restarts after :meth:`reset` (a scene
    cut) and whenever the statistics change shape (another mask layout) or taps.

    Example:
        >>> ema = ContentStatisticsEMA(momentum=0.5)
        >>> one = torch.ones(1, 1, 1, 1)
        >>> _ = ema({"relu4_1": (one, one)})
        >>> mean, std = ema({"relu4_1": (3 * one, one)})["relu4_1"]
        >>> mean.item(), std.item()
        (2.0, 1.0)
    """

    def __init__(self, momentum: float = 0.9):
        self.momentum = momentum
        self.averages: dict[str, tuple[Tensor, Tensor]] | None = None

    def reset(self) -> None:
        self.averages = None

    def __call__(self, statistics: dict[str, tuple[Tensor, Tensor]]) -> dict[str, tuple[Tensor, Tensor]]:
        previous = self.averages
        fresh = (
            previous is None
            or set(previous) != set(statistics)
            or any(
                previous[tap][0].shape != mean.shape or previous[tap][0].device != mean.device
                for tap, (mean, _) in statistics.items()
            )
        )
        if fresh or previous is None:
            self.averages = {tap: (mean.clone(), std.clone()) for tap, (mean, std) in statistics.items()}
        else:
            self.averages = {
                tap: (
                    torch.lerp(mean, previous[tap][0], self.momentum),
                    torch.lerp(std, previous[tap][1], self.momentum),
                )
                for tap, (mean, std) in statistics.items()
            }
        return self.averages


# -- optical flow -----------------------------------------------------------------------------


def _check_frame(frame: np.ndarray, name: str) -> None:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        raise ShapeError(f"{name} must be an (H, W, 3) array. Got {getattr(frame, 'shape', type(frame).__name__)}")


def _gray(frame: np.ndarray) -> np.ndarray:
    import cv2

    _check_frame(frame, "frame")
    if frame.dtype != np.uint8:
        frame = (np.clip(frame, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


#: DIS needs frames of at least this many pixels on a side; smaller ones get Farneback's flow.
DIS_MIN_SIDE = 16


class FlowEstimator:
    """Dense optical flow between two RGB frames with OpenCV (:data:`FLOW_METHODS`).

    ``estimator(source, target)`` returns ``(H, W, 2)`` float32 ``(dx, dy)`` such that
    ``source[y, x]`` is seen at ``target[y + dy, x + dx]``.

    With ``max_side`` (> 0) frames whose longer side exceeds it are shrunk (area averaging)
    to that side before the flow, and the flow is brought back to the frames' size (bilinear,
    its vectors scaled by the same ratio): the cost falls with the pixels, and the motion the
    blending follows is smooth enough to survive it (measured: docs/video.md, "Speed").
    0 (the default, and what the measure uses) is full resolution.
    """

    def __init__(self, method: FlowMethod = "dis", max_side: int = 0):
        import cv2

        if method not in FLOW_METHODS:
            raise UsageError(f"flow method must be one of {', '.join(FLOW_METHODS)}. Got {method!r}")
        self.method = method
        self.max_side = check_flow_max_side(max_side)
        self._dis = None
        if "dis" in method:
            self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        if method == "dis-fine":
            self._dis.setFinestScale(0)
            self._dis.setPatchSize(8)
            self._dis.setPatchStride(3)
            self._dis.setGradientDescentIterations(25)
            self._dis.setVariationalRefinementIterations(10)

    def __call__(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        prepared = self.prepare(source), self.prepare(target)
        if prepared[0].shape != prepared[1].shape:
            raise ShapeError(f"flow needs frames of one size. Got {source.shape[:2]} and {target.shape[:2]}")
        return self.to_frame_size(self.flow(*prepared), source.shape[0], source.shape[1])

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """What the flow is computed on: the frame in grey, shrunk to :attr:`max_side` (area
        averaging). Once per frame: a blender reuses the previous frame's."""
        import cv2

        gray = _gray(frame)
        height, width = gray.shape
        if not self.max_side or max(height, width) <= self.max_side:
            return gray
        scale = self.max_side / max(height, width)
        return cv2.resize(
            gray, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
        )

    @staticmethod
    def to_frame_size(flow: np.ndarray, height: int, width: int) -> np.ndarray:
        """A flow of shrunk frames brought to ``height`` x ``width`` (bilinear, vectors scaled)."""
        import cv2

        small_height, small_width = flow.shape[:2]
        if (small_height, small_width) == (height, width):
            return flow
        flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= width / small_width
        flow[..., 1] *= height / small_height
        return flow

    def flow(self, source_gray: np.ndarray, target_gray: np.ndarray) -> np.ndarray:
        """The flow between two :meth:`prepare`'d frames, at their (shrunk) size and in their pixels."""
        if self.method == "farneback" or min(source_gray.shape) < DIS_MIN_SIDE:
            return _farneback(source_gray, target_gray)
        flow = self._dis.calc(source_gray, target_gray, None)
        if self.method == "dis+farneback":
            flow = 0.5 * (flow + _farneback(source_gray, target_gray))
        return flow


def _farneback(source_gray: np.ndarray, target_gray: np.ndarray) -> np.ndarray:
    import cv2

    window = max(9, round(min(source_gray.shape) / 16) | 1)
    return cv2.calcOpticalFlowFarneback(
        source_gray,
        target_gray,
        None,
        pyr_scale=0.5,
        levels=4,
        winsize=window,
        iterations=3,
        poly_n=5,
        poly_sigma=1.1,
        flags=0,
    )


def warp(image: np.ndarray, flow: np.ndarray, interpolation: Literal["linear", "cubic"] = "linear") -> np.ndarray:
    """``image`` sampled at ``x + flow(x)`` (bilinear or bicubic; outside the image: the nearest
    edge pixel).

    With ``flow`` from frame t to frame t-1, this brings frame t-1 (or its stylization) onto
    frame t's pixels. Bicubic keeps more detail when the result is warped again and again (the
    blender's recursion); it can overshoot the input's range.
    """
    import cv2

    height, width = flow.shape[:2]
    grid_x, grid_y = _pixel_grid(height, width)
    flow_x, flow_y = cv2.split(flow)
    mode = cv2.INTER_CUBIC if interpolation == "cubic" else cv2.INTER_LINEAR
    return cv2.remap(image, cv2.add(grid_x, flow_x), cv2.add(grid_y, flow_y), mode, borderMode=cv2.BORDER_REPLICATE)


@functools.lru_cache(maxsize=4)
def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's ``x`` and ``y``, float32 ``(H, W)`` each: the same for every frame of a clip
    (read-only, so that the cached arrays cannot be changed)."""
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid_x.flags.writeable = grid_y.flags.writeable = False
    return grid_x, grid_y


def consistency_mask(
    backward: np.ndarray, forward: np.ndarray, motion_boundaries: bool = True, pixel_size: float = 1.0
) -> np.ndarray:
    """Where the flow ``backward`` (frame t -> t-1) can be trusted, ``(H, W)`` bool.

    A pixel is reliable when the forward flow (t-1 -> t) at the point it lands on brings it
    back (``|b + f(x + b)|^2 <= 0.01 (|b|^2 + |f(x + b)|^2) + 0.5``), it lands inside frame
    t-1, and (with ``motion_boundaries``) it is not on a motion boundary
    (``|grad b|^2 <= 0.01 |b|^2 + 0.002``): the criteria of Ruder et al. (2016). Occluded and
    disoccluded pixels fail the first test. The measure uses all three; the blender leaves the
    last out: on the real clip it rejected a quarter of the pixels the round trip accepts (any
    noise in a fast estimate's flow has a gradient), and blending there lowered the warping
    error from 0.61x to 0.54x of frame-by-frame stylization.

    ``pixel_size``: how many pixels of the frames one pixel of the flows spans (flows of shrunk
    frames, :class:`FlowEstimator`): the tests' absolute terms are in the frames' pixels, so
    the mask of shrunk flows asks what the full-size one would.
    """
    import cv2

    if backward.shape != forward.shape or backward.ndim != 3 or backward.shape[2] != 2:
        raise ShapeError(f"flows must be two (H, W, 2) arrays of one shape. Got {backward.shape} and {forward.shape}")
    height, width = backward.shape[:2]
    forward_there = warp(forward, backward)
    backward_length = _channel_sum_of_squares(backward)
    round_trip = _channel_sum_of_squares(backward + forward_there)
    tolerance = 0.01 * (backward_length + _channel_sum_of_squares(forward_there)) + 0.5 / pixel_size**2
    backward_x, backward_y = cv2.split(backward)
    target_x = backward_x + np.arange(width, dtype=np.float32)
    target_y = backward_y + np.arange(height, dtype=np.float32)[:, None]
    inside = (target_x >= 0) & (target_x <= width - 1) & (target_y >= 0) & (target_y <= height - 1)
    reliable = (round_trip <= tolerance) & inside
    if motion_boundaries:
        gradient = sum(
            cv2.Sobel(component, cv2.CV_32F, dx, dy, ksize=1) ** 2
            for component in (backward_x, backward_y)
            for dx, dy in ((1, 0), (0, 1))
        )
        reliable &= gradient <= 0.01 * backward_length * pixel_size**2 + 0.002
    return reliable


def _channel_sum_of_squares(image: np.ndarray, mean: bool = False) -> np.ndarray:
    """``(image**2).sum(axis=2)`` (or ``.mean``), ``(H, W)`` float32, with OpenCV: numpy's
    reduction over a last axis of 2 or 3 is slow (7 ms a 480p frame, against under 1 ms;
    the blender takes several a frame)."""
    import cv2

    squared = cv2.multiply(image, image)
    weight = 1.0 / image.shape[2] if mean else 1.0
    return cv2.transform(squared, np.full((1, image.shape[2]), weight, np.float32))


@dataclass
class FlowPair:
    """The flows between two consecutive frames and the reliable pixels of frame t."""

    backward: np.ndarray  # t -> t-1
    reliable: np.ndarray  # (H, W) bool


def flow_pair(
    estimator: FlowEstimator, previous: np.ndarray, current: np.ndarray, motion_boundaries: bool = True
) -> FlowPair:
    """Backward flow from ``current`` to ``previous`` and where it is reliable (:func:`consistency_mask`)."""
    backward = estimator(current, previous)
    forward = estimator(previous, current)
    return FlowPair(backward, consistency_mask(backward, forward, motion_boundaries))


#: Detail restoration after blending: the band below this Gaussian sigma (pixels) is the
#: "detail" whose local energy is brought back to the fresh stylization's, measured over a
#: Gaussian window of :data:`DETAIL_WINDOW` pixels, with a gain of at most :data:`DETAIL_MAX_GAIN`.
DETAIL_SIGMA, DETAIL_WINDOW, DETAIL_MAX_GAIN = 1.5, 6.0, 2.0


def restore_detail(blended: np.ndarray, fresh: np.ndarray) -> np.ndarray:
    """``blended`` with its fine detail scaled back to the local energy of ``fresh``'s.

    Averaging two stylizations whose brush strokes do not line up exactly cancels part of
    their texture: the blend looks washed out and its style loss rises (measured: +16% at a
    blend weight of 0.3 on the generated clip). Scaling the detail band up (never down) to the
    fresh frame's local contrast keeps the blended, stable stroke pattern at the style's
    contrast. Where nothing was blended the gain is 1 and the frame is unchanged.
    """
    import cv2

    low = cv2.GaussianBlur(blended, (0, 0), DETAIL_SIGMA)
    detail = cv2.subtract(blended, low)
    fresh_detail = cv2.subtract(fresh, cv2.GaussianBlur(fresh, (0, 0), DETAIL_SIGMA))
    fresh_energy = _wide_blur(_channel_sum_of_squares(fresh_detail, mean=True), DETAIL_WINDOW)
    blended_energy = _wide_blur(_channel_sum_of_squares(detail, mean=True), DETAIL_WINDOW)
    # OpenCV's elementwise operations (vectorised, threaded): numpy's took a third of the time
    gain = cv2.sqrt(cv2.divide(fresh_energy + 1e-5, blended_energy + 1e-5))
    np.clip(gain, 1.0, DETAIL_MAX_GAIN, out=gain)
    restored = cv2.multiply(detail, cv2.merge([gain] * detail.shape[2]))
    cv2.add(restored, low, dst=restored)
    return np.clip(restored, 0.0, 1.0, out=restored)


#: :func:`_wide_blur` shrinks by this factor before it blurs
WIDE_BLUR_SHRINK = 4


def _wide_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of a wide ``sigma`` (pixels) on a map shrunk :data:`WIDE_BLUR_SHRINK`
    times (area averaging), then brought back (bilinear): a wide blur keeps no detail a shrunk
    map lacks, at a sixteenth of the work (on a 480p energy map, beside a training job: about 4x less time; mean
    difference 0.4% of the full-size blur's). Maps shorter than four shrunk pixels, or a sigma
    under one shrunk pixel, are blurred at full size."""
    import cv2

    height, width = image.shape[:2]
    small = (width // WIDE_BLUR_SHRINK, height // WIDE_BLUR_SHRINK)
    if min(small) < 4 or sigma < WIDE_BLUR_SHRINK:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    shrunk = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(shrunk, (0, 0), sigma / WIDE_BLUR_SHRINK)
    return cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR)


class FlowBlender:
    """Blends the previous output, warped by the input frames' flow, into the current one.

    ``blender(input_frame, stylized)`` returns ``stylized + w * (warped_previous - stylized)``
    with ``w = blend`` on pixels where forward and backward flow agree and 0 elsewhere (the mask
    is feathered by a pixel so that no seam shows where it switches), its detail restored
    (:func:`restore_detail`); the previous output is warped bicubically. The
    previous *output* is used, so strokes are carried along the motion over many frames; the
    fresh share ``1 - blend`` keeps them from drifting or smearing. The flow is computed on
    frames shrunk to ``flow_max_side`` (:class:`FlowEstimator`; 0: full resolution), and so is
    the consistency mask (in the frames' pixels, then brought up: it was an eighth of the
    blender's time at full size); the warp, blend and detail restoration are at the frames' own
    resolution. Each input frame is converted for the flow once (the previous one is kept).
    """

    def __init__(
        self, blend: float = 0.5, method: FlowMethod = "dis+farneback", flow_max_side: int = DEFAULT_FLOW_MAX_SIDE
    ):
        self.blend = blend
        self.estimator = FlowEstimator(method, flow_max_side)
        # the forward flow is computed on a thread while the backward one is (OpenCV releases
        # the GIL; the networks are not running then): its own estimator, as DIS keeps state
        self._forward_estimator = FlowEstimator(method, flow_max_side)
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        #: the previous input frame as the flow sees it (:meth:`FlowEstimator.prepare`)
        self.previous_input: np.ndarray | None = None
        self.previous_output: np.ndarray | None = None

    def reset(self) -> None:
        self.previous_input = self.previous_output = None

    def __call__(self, frame: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        import cv2

        _check_frame(frame, "input frame")
        _check_frame(stylized, "stylized frame")
        if frame.shape[:2] != stylized.shape[:2]:
            raise ShapeError(f"input frame {frame.shape[:2]} and stylized frame {stylized.shape[:2]} differ in size")
        output = stylized
        current = self.estimator.prepare(frame)
        if self.previous_input is not None and self.previous_output is not None and self.blend > 0:
            height, width = frame.shape[:2]
            # flows and their mask at the flow's size (shrunk frames); the mask is brought up
            # to the frame and feathered there, the backward flow brought up for the warp
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="adain-flow")
            forward_flow = self._pool.submit(self._forward_estimator.flow, self.previous_input, current)
            backward = self.estimator.flow(current, self.previous_input)
            forward = forward_flow.result()
            pixel_size = width / backward.shape[1]
            reliable = consistency_mask(backward, forward, motion_boundaries=False, pixel_size=pixel_size)
            if reliable.shape != (height, width):
                reliable = (
                    cv2.resize(reliable.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR) >= 0.5
                )
            weight = cv2.GaussianBlur(reliable.astype(np.float32), (0, 0), 1.0) * reliable * self.blend
            backward = self.estimator.to_frame_size(backward, height, width)
            warped = warp(self.previous_output, backward, "cubic")
            np.clip(warped, 0.0, 1.0, out=warped)
            # stylized + weight * (warped - stylized), with OpenCV's elementwise operations
            blended = cv2.multiply(cv2.subtract(warped, stylized), cv2.merge([weight] * stylized.shape[2]))
            output = restore_detail(cv2.add(blended, stylized, dst=blended), stylized)
        self.previous_input, self.previous_output = current, output
        return output


class TemporalState:
    """The state one video run carries from frame to frame, for :class:`TemporalOptions`.

    Per frame: :meth:`begin_frame` with the input frame (finds scene cuts and restarts),
    the pipeline with :attr:`statistics_filter`, then :meth:`end_frame` with the stylized frame.
    """

    def __init__(self, options: TemporalOptions):
        self.options = options.check()
        self.cuts = SceneCutDetector(options.cut_threshold)
        self.ema = ContentStatisticsEMA(options.ema_momentum) if options.uses_ema else None
        self.blender = (
            FlowBlender(options.blend, options.flow_method, options.flow_max_side) if options.uses_flow else None
        )
        self.scene_cuts: list[int] = []
        self.frame_index = -1

    @property
    def statistics_filter(self) -> ContentStatisticsEMA | None:
        return self.ema

    def reset(self) -> None:
        self.cuts.reset()
        if self.ema is not None:
            self.ema.reset()
        if self.blender is not None:
            self.blender.reset()

    def begin_frame(self, frame: np.ndarray) -> None:
        self.frame_index += 1
        if self.options.mode == "none":
            return
        if self.cuts(frame):
            self.scene_cuts.append(self.frame_index)
            if self.ema is not None:
                self.ema.reset()
            if self.blender is not None:
                self.blender.reset()

    def end_frame(self, frame: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        return stylized if self.blender is None else self.blender(frame, stylized)


# -- the measure ------------------------------------------------------------------------------


#: The flow :func:`warping_error` measures with by default: not one the blending uses.
MEASURE_FLOW: FlowMethod = "dis-fine"


def warping_errors(
    inputs: Sequence[np.ndarray],
    outputs: Sequence[np.ndarray],
    method: FlowMethod = MEASURE_FLOW,
    flows: Sequence[FlowPair] | None = None,
) -> list[float]:
    """Per consecutive pair ``(t-1, t)``: the mean over reliable pixels and channels of
    ``(output_t - warp(output_{t-1}, flow_{t -> t-1}))^2``, the flow computed on the inputs.

    Outputs are float in [0, 1] (uint8 is scaled). ``flows`` (from :func:`input_flows`) saves
    recomputing the inputs' flow when several outputs of one clip are scored. A pair without
    reliable pixels, such as a pair across a scene cut, is skipped (``nan``).
    """
    if len(inputs) != len(outputs):
        raise ShapeError(f"{len(inputs)} input frames but {len(outputs)} outputs")
    flows = list(flows) if flows is not None else input_flows(inputs, method)
    errors = []
    for t in range(1, len(outputs)):
        current, previous = (_as_float(outputs[k]) for k in (t, t - 1))
        if current.shape[:2] != flows[t - 1].reliable.shape:
            raise ShapeError(f"output {t} is {current.shape[:2]}; input frames are {flows[t - 1].reliable.shape}")
        mask = flows[t - 1].reliable
        count = int(mask.sum())
        if count == 0:
            errors.append(math.nan)
            continue
        difference = (current - warp(previous, flows[t - 1].backward)) ** 2
        errors.append(float(difference[mask].mean()))
    return errors


def input_flows(
    inputs: Sequence[np.ndarray],
    method: FlowMethod = MEASURE_FLOW,
    cut_threshold: float = TemporalOptions.cut_threshold,
) -> list[FlowPair]:
    """The flow and reliable pixels of every consecutive pair of input frames.

    Across a scene cut (:class:`SceneCutDetector`) no pixel is reliable: the two frames show
    different things, and the few pixels a flow would still match by chance would measure
    nothing but that chance.
    """
    estimator = FlowEstimator(method)
    cuts = SceneCutDetector(cut_threshold)
    cuts(inputs[0])
    pairs = []
    for t in range(1, len(inputs)):
        if cuts(inputs[t]):
            height, width = inputs[t].shape[:2]
            pairs.append(FlowPair(np.zeros((height, width, 2), np.float32), np.zeros((height, width), bool)))
        else:
            pairs.append(flow_pair(estimator, inputs[t - 1], inputs[t]))
    return pairs


def warping_error(
    inputs: Sequence[np.ndarray],
    outputs: Sequence[np.ndarray],
    method: FlowMethod = MEASURE_FLOW,
    flows: Sequence[FlowPair] | None = None,
) -> float:
    """The mean of :func:`warping_errors` over the clip (pairs across scene cuts left out)."""
    errors = [e for e in warping_errors(inputs, outputs, method, flows) if not math.isnan(e)]
    return float(np.mean(errors)) if errors else math.nan


def _as_float(frame: np.ndarray) -> np.ndarray:
    _check_frame(frame, "frame")
    return frame.astype(np.float32) / 255.0 if frame.dtype == np.uint8 else frame.astype(np.float32, copy=False)
