"""The blending's optical flow on downscaled frames (``flow_max_side``, issue 17): it still finds
the motion in full-resolution pixels, 0 is the full-resolution flow exactly, frames already small
are left alone, bad values are usage errors, and ``--flow-max-side`` reaches the options."""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import pytest

from adain.cli.main import build_parser
from adain.cli.video import with_flow_max_side
from adain.errors import UsageError
from adain.video.temporal import (
    DEFAULT_FLOW_MAX_SIDE,
    FlowBlender,
    FlowEstimator,
    TemporalOptions,
    TemporalState,
    _farneback,
    _gray,
)


def _texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture (blurred noise): trackable at any scale the tests use."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height, width, 3), dtype=np.float32)
    return (255 * cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 3.0), None, 0, 1, cv2.NORM_MINMAX)).astype(np.uint8)


def _shifted_pair(dx: int, dy: int, height: int = 240, width: int = 427) -> tuple[np.ndarray, np.ndarray]:
    big = _texture(height + 40, width + 40, seed=3)
    previous = big[20 : 20 + height, 20 : 20 + width]
    current = big[20 + dy : 20 + dy + height, 20 + dx : 20 + dx + width]  # the camera moves (dx, dy)
    return previous, current


@pytest.mark.parametrize("method", ["dis", "dis+farneback"])
def test_downscaled_flow_finds_a_translation_in_full_resolution_pixels(method: str) -> None:
    previous, current = _shifted_pair(dx=6, dy=-4)
    backward = FlowEstimator(method, max_side=128)(current, previous)  # 427x240 -> 128x72
    assert backward.shape == (*current.shape[:2], 2)
    interior = backward[24:-24, 24:-24]
    assert np.median(interior[..., 0]) == pytest.approx(6.0, abs=1.0)
    assert np.median(interior[..., 1]) == pytest.approx(-4.0, abs=1.0)


def test_max_side_zero_is_the_full_resolution_flow_exactly() -> None:
    previous, current = _shifted_pair(dx=3, dy=2, height=96, width=128)
    flow = FlowEstimator("dis+farneback", max_side=0)(current, previous)
    source, target = _gray(current), _gray(previous)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    expected = 0.5 * (dis.calc(source, target, None) + _farneback(source, target))
    np.testing.assert_array_equal(flow, expected)
    assert FlowEstimator("dis").max_side == 0  # the measure's flow (input_flows) stays at full resolution


def test_frames_no_larger_than_max_side_are_not_resized() -> None:
    previous, current = _shifted_pair(dx=2, dy=1, height=64, width=96)
    full = FlowEstimator("dis+farneback", max_side=0)(current, previous)
    for side in (96, 320):
        np.testing.assert_array_equal(FlowEstimator("dis+farneback", max_side=side)(current, previous), full)


def test_options_carry_the_max_side_to_the_blender() -> None:
    assert TemporalOptions().flow_max_side == DEFAULT_FLOW_MAX_SIDE
    state = TemporalState(TemporalOptions(mode="flow", flow_max_side=64))
    assert isinstance(state.blender, FlowBlender)
    assert state.blender.estimator.max_side == 64


@pytest.mark.parametrize("value", [-1, 8, 15, 1.5, 320.0, "320", True, None])
def test_bad_max_side_is_a_usage_error(value: object) -> None:
    with pytest.raises(UsageError, match="flow_max_side must be 0"):
        TemporalOptions(flow_max_side=value).check()  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="flow_max_side must be 0"):
        FlowEstimator("dis", max_side=value)  # type: ignore[arg-type]


def _parse(argv: list[str]) -> argparse.Namespace:
    return build_parser("video").parse_args(argv)


def _video_options(argv: list[str]) -> TemporalOptions:
    args = _parse(["video", "in.mp4", "--style", "bank:candy", *argv])
    return with_flow_max_side(TemporalOptions(mode=args.temporal), args)


def test_cli_option_reaches_temporal_options() -> None:
    assert _video_options([]).flow_max_side == DEFAULT_FLOW_MAX_SIDE
    assert _video_options(["--flow-max-side", "256"]).flow_max_side == 256
    assert _video_options(["--flow-max-side", "0"]).flow_max_side == 0
    for bad in ("-5", "8", "abc", "2.5"):
        with pytest.raises(UsageError, match="--flow-max-side"):
            _video_options(["--flow-max-side", bad])


def test_eval_video_takes_the_option() -> None:
    args = build_parser("eval").parse_args(["eval", "video", "generated:shapes", "--flow-max-side", "144"])
    assert with_flow_max_side(TemporalOptions(), args).flow_max_side == 144


def test_prepared_flow_is_the_calls_flow() -> None:
    """The blender's steps (prepare once per frame, flow, bring up) give what one call gives."""
    previous, current = _shifted_pair(dx=5, dy=3)
    estimator = FlowEstimator("dis+farneback", max_side=128)
    small = estimator.flow(estimator.prepare(current), estimator.prepare(previous))
    assert small.shape == (72, 128, 2)
    np.testing.assert_array_equal(estimator.to_frame_size(small, 240, 427), estimator(current, previous))


def test_the_mask_of_shrunk_flows_agrees_with_the_full_size_mask() -> None:
    """An object moving over a still background: the mask of the flows of shrunk frames (with
    their pixel size) brought up to the frame is the full-size flows' mask almost everywhere."""
    from adain.video.temporal import consistency_mask

    previous, current = _shifted_pair(dx=0, dy=0)
    patch = _texture(80, 80, seed=9)
    previous, current = previous.copy(), current.copy()
    previous[80:160, 100:180], current[80:160, 130:210] = patch, patch  # the square moves 30 px right
    full = FlowEstimator("dis+farneback", max_side=0)
    shrunk = FlowEstimator("dis+farneback", max_side=160)
    full_mask = consistency_mask(full(current, previous), full(previous, current), motion_boundaries=False)
    small = [shrunk.flow(shrunk.prepare(a), shrunk.prepare(b)) for a, b in ((current, previous), (previous, current))]
    small_mask = consistency_mask(*small, motion_boundaries=False, pixel_size=427 / small[0].shape[1])
    brought_up = cv2.resize(small_mask.astype(np.float32), (427, 240), interpolation=cv2.INTER_LINEAR) >= 0.5
    assert (brought_up == full_mask).mean() > 0.9
    assert brought_up[20:60, 300:400].mean() > 0.9  # the still background, far from the square
    assert 0.02 < 1 - brought_up.mean() < 0.5  # and some pixels around the square are not
    # without pixel_size the shrunk mask's absolute tolerance would be 2.7^2 times the full one's
    assert consistency_mask(*small, motion_boundaries=False).sum() >= small_mask.sum()
