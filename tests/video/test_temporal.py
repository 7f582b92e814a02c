"""Temporal consistency: options, the moving average of content statistics, scene cuts, optical
flow with its consistency mask, flow-guided blending, the warping error, and VideoStylizer."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from adain.errors import ShapeError, UsageError
from adain.eval.clips import shapes_clip, write_clip
from adain.pipeline.options import StylizeOptions
from adain.pipeline.stylize import StylizationPipeline
from adain.styles.library import resolve_style
from adain.video.io import open_video
from adain.video.stylizer import VideoStylizer, frame_to_tensor, tensor_to_frame
from adain.video.temporal import (
    ContentStatisticsEMA,
    FlowBlender,
    FlowEstimator,
    SceneCutDetector,
    TemporalOptions,
    consistency_mask,
    restore_detail,
    warp,
    warping_error,
    warping_errors,
)


def _textured(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    return shapes_clip(1, height, width, seed=seed)[0]


# -- options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mode", "optical", "temporal mode must be one of none, ema, flow, ema\\+flow"),
        ("blend", 1.5, "blend must be a number in \\[0, 1\\]"),
        ("ema_momentum", 1.0, "ema_momentum must be below 1"),
        ("cut_threshold", -0.1, "cut_threshold must be a number"),
        ("flow_method", "lucas-kanade", "flow method must be one of dis, farneback, dis\\+farneback, dis-fine"),
    ],
)
def test_bad_temporal_options(field: str, value: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        TemporalOptions(**{field: value}).check()


def test_modes_choose_mechanisms() -> None:
    flags = {
        m: (TemporalOptions(mode=m).uses_ema, TemporalOptions(mode=m).uses_flow)
        for m in ("none", "ema", "flow", "ema+flow")
    }
    assert flags == {"none": (False, False), "ema": (True, False), "flow": (False, True), "ema+flow": (True, True)}


# -- content statistics -----------------------------------------------------------------------


def test_ema_of_content_statistics() -> None:
    ema = ContentStatisticsEMA(momentum=0.75)
    ones, threes = torch.ones(1, 4, 1, 1), torch.full((1, 4, 1, 1), 3.0)
    mean, std = ema({"relu4_1": (ones, threes)})["relu4_1"]
    assert torch.equal(mean, ones) and torch.equal(std, threes)  # the first frame passes through
    mean, std = ema({"relu4_1": (threes, ones)})["relu4_1"]
    assert torch.allclose(mean, torch.full_like(ones, 1.5)) and torch.allclose(std, torch.full_like(ones, 2.5))
    ema.reset()
    assert torch.equal(ema({"relu4_1": (threes, ones)})["relu4_1"][0], threes)
    two_regions = torch.ones(2, 4, 1, 1)
    assert ema({"relu4_1": (two_regions, two_regions)})["relu4_1"][0].shape == (2, 4, 1, 1)  # new mask layout: restart


def test_ema_smooths_every_tap() -> None:
    """A multi-level decoder normalises the content at four taps: each is averaged on its own."""
    ema = ContentStatisticsEMA(momentum=0.5)
    first = {
        "relu4_1": (torch.zeros(1, 2, 1, 1), torch.ones(1, 2, 1, 1)),
        "relu1_1": (torch.ones(1, 3, 1, 1), torch.ones(1, 3, 1, 1)),
    }
    second = {tap: (mean + 2, std * 3) for tap, (mean, std) in first.items()}
    ema(first)
    smoothed = ema(second)
    for tap, (mean, std) in smoothed.items():
        assert torch.allclose(mean, first[tap][0] + 1) and torch.allclose(std, first[tap][1] * 2)
    assert set(ema({"relu4_1": first["relu4_1"]})) == {"relu4_1"}  # other taps: restart


def test_scene_cuts_found_where_the_shot_changes_only() -> None:
    detector = SceneCutDetector(0.4)
    cuts = [index for index, frame in enumerate(shapes_clip(16, 48, 64, seed=1, cut_at=9)) if detector(frame)]
    assert cuts == [9]
    detector = SceneCutDetector(0.4)
    assert not any(detector(frame) for frame in shapes_clip(16, 48, 64, seed=1))


# -- flow -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["dis", "farneback", "dis+farneback", "dis-fine"])
def test_flow_and_warp_recover_a_camera_pan(method: str) -> None:
    big = _textured(72, 96, seed=2)
    previous, current = big[10:58, 10:74], big[12:60, 13:77]  # the camera moves 3 right, 2 down
    backward = FlowEstimator(method)(current, previous)
    interior = (slice(8, -8), slice(8, -8))
    assert np.median(backward[interior][..., 0]) == pytest.approx(3.0, abs=0.3)
    assert np.median(backward[interior][..., 1]) == pytest.approx(2.0, abs=0.3)
    warped = warp(previous.astype(np.float32), backward)
    error = np.abs(warped - current.astype(np.float32))[interior].mean()
    assert error < 0.3 * np.abs(previous.astype(np.float32) - current.astype(np.float32))[interior].mean()


def test_consistency_mask_rejects_disocclusions_and_the_border() -> None:
    height, width = 32, 48
    backward = np.zeros((height, width, 2), np.float32)
    forward = np.zeros_like(backward)
    backward[:, :, 0] = -4.0  # everything moved 4 pixels right...
    forward[:, :, 0] = 4.0
    forward[:, 20:30] = 0.0  # ...except what was at x 20..29, now covered: no way back there
    mask = consistency_mask(backward, forward)
    assert not mask[:, :4].any()  # came from outside the previous frame
    assert not mask[:, 24:34].any()  # lands on pixels whose forward flow disagrees
    assert mask[:, 8:20].all() and mask[:, 38:].all()
    # a zoom: the flow varies smoothly and round-trips; the motion-boundary test (measure only) rejects its steep part
    x = np.arange(width, dtype=np.float32)[None].repeat(height, 0)
    zoom_backward, zoom_forward = np.zeros_like(backward), np.zeros_like(forward)
    zoom_backward[..., 0], zoom_forward[..., 0] = -0.2 * x, 0.25 * x
    assert consistency_mask(zoom_backward, zoom_forward, motion_boundaries=False)[:, 1:-1].all()
    assert not consistency_mask(zoom_backward, zoom_forward)[:, 1:10].any()
    with pytest.raises(ShapeError, match="flows must be two"):
        consistency_mask(backward, forward[:, :10])


def test_blender_carries_the_previous_output_along_the_motion() -> None:
    big = _textured(72, 96, seed=4)
    frames = [big[10:58, 10 + 2 * t : 74 + 2 * t] for t in range(3)]  # a steady pan
    rng = np.random.default_rng(0)
    stylized = [rng.random((48, 64, 3), dtype=np.float32) for _ in frames]  # uncorrelated "strokes"
    blender = FlowBlender(blend=0.8)
    outputs = [blender(f, s) for f, s in zip(frames, stylized)]
    assert np.array_equal(outputs[0], stylized[0])  # nothing to blend with yet
    plain = warping_error(frames, stylized, method="dis")
    assert warping_error(frames, outputs, method="dis") < 0.3 * plain
    assert np.array_equal(FlowBlender(blend=0.0)(frames[0], stylized[0]), stylized[0])
    with pytest.raises(ShapeError, match="differ in size"):
        FlowBlender()(frames[0], stylized[0][:10])


def test_restore_detail_leaves_unblended_frames_alone_and_restores_contrast() -> None:
    rng = np.random.default_rng(1)
    fresh, other = rng.random((32, 32, 3), dtype=np.float32), rng.random((32, 32, 3), dtype=np.float32)
    assert np.allclose(restore_detail(fresh, fresh), fresh, atol=1e-6)
    averaged = 0.5 * (fresh + other)  # uncorrelated textures cancel: ~0.7x the detail
    restored = restore_detail(averaged, fresh)
    assert restored.std() > 1.2 * averaged.std()
    assert restored.min() >= 0.0 and restored.max() <= 1.0


def test_warping_error_is_zero_for_a_consistent_clip_and_high_for_noise() -> None:
    frames = shapes_clip(4, 48, 64, seed=5)
    assert warping_error(frames, [f.astype(np.float32) / 255 for f in frames], method="dis") < 0.01
    noise = [np.random.default_rng(k).random((48, 64, 3), dtype=np.float32) for k in range(4)]
    assert warping_error(frames, noise, method="dis") > 0.1
    still = [frames[0]] * 3
    assert warping_error(still, [still[0].astype(np.float32) / 255] * 3) < 1e-6  # Farneback: ~0 flow
    with pytest.raises(ShapeError, match="3 input frames but 2 outputs"):
        warping_error(still, still[:2])
    assert math.isnan(warping_error(still[:1], still[:1]))  # no pair to measure
    cut = shapes_clip(4, 48, 64, seed=5, cut_at=2)
    errors = warping_errors(cut, [f.astype(np.float32) / 255 for f in cut])
    assert math.isnan(errors[1]) and not math.isnan(errors[0]) and not math.isnan(errors[2])  # the pair across the cut


# -- VideoStylizer ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def candy() -> object:
    return resolve_style("bank:candy", "vgg16-hed")


def test_none_mode_is_exactly_per_frame_stylization(pipeline: StylizationPipeline, candy: object) -> None:
    frames = shapes_clip(3, 32, 48, seed=6)
    outputs = list(VideoStylizer(pipeline, [candy], StylizeOptions(alpha=0.8), "none").stylize_frames(frames))
    for frame, output in zip(frames, outputs):
        expected = tensor_to_frame(pipeline(frame_to_tensor(frame), candy, alpha=0.8, output_type="pt").rgb)
        assert np.array_equal(output, expected)


def test_temporal_modes_reduce_flicker_and_reset_at_cuts(pipeline: StylizationPipeline, candy: object) -> None:
    frames = shapes_clip(8, 32, 48, seed=7, cut_at=5)
    results = {}
    for mode in ("none", "ema", "flow", "ema+flow"):
        stylizer = VideoStylizer(pipeline, [candy], StylizeOptions(), mode)
        results[mode] = list(stylizer.stylize_frames(frames))
        assert stylizer.scene_cuts == ([] if mode == "none" else [5])
        assert all(o.shape == (32, 48, 3) and o.dtype == np.float32 for o in results[mode])
    assert not np.array_equal(results["ema"][2], results["none"][2])
    assert np.array_equal(results["ema"][5], results["none"][5])  # the average restarts at the cut
    errors = {mode: warping_error(frames, outputs) for mode, outputs in results.items()}
    # blending lowers the flicker of whatever it is given (the real decoder's numbers: README)
    assert errors["flow"] < 0.8 * errors["none"] and errors["ema+flow"] < 0.8 * errors["ema"]


def test_size_options_give_even_frame_sizes(pipeline: StylizationPipeline, candy: object) -> None:
    stylizer = VideoStylizer(pipeline, [candy], StylizeOptions(size=25), "none")
    assert stylizer.frame_size(48, 64) == (24, 32)  # 25x33 rounded down to even
    assert VideoStylizer(pipeline, [candy], StylizeOptions(max_size=41), "none").frame_size(48, 64) == (30, 40)
    assert next(stylizer.stylize_frames(shapes_clip(1, 48, 64))).shape == (24, 32, 3)


def test_preserve_colour_match_encodes_the_style_once(
    pipeline: StylizationPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    style = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    encoded = []
    original = pipeline.prepare_styles

    def counting(styles: list, content_rgb: torch.Tensor, options: StylizeOptions) -> list:
        encoded.extend(s for s in styles if isinstance(s, torch.Tensor))  # images, not statistics
        return original(styles, content_rgb, options)

    monkeypatch.setattr(pipeline, "prepare_styles", counting)
    frames = shapes_clip(3, 32, 48)
    outputs = list(
        VideoStylizer(pipeline, [style], StylizeOptions(preserve_color="match"), "ema").stylize_frames(frames)
    )
    assert len(encoded) == 1 and len(outputs) == 3


def test_stylize_video_end_to_end_with_audio(pipeline: StylizationPipeline, candy: object, tmp_path: Path) -> None:
    clip = write_clip(shapes_clip(6, 32, 48), tmp_path / "in.mp4", fps=8)
    seen = []
    report = VideoStylizer(pipeline, [candy], StylizeOptions()).stylize_video(
        clip, tmp_path / "out.mkv", crf=23, progress=False, on_frame=lambda done, total: seen.append((done, total))
    )
    assert seen == [(k, 6) for k in range(1, 7)]
    assert (report.frames, report.width, report.height, report.fps) == (6, 48, 32, 8)
    info = open_video(tmp_path / "out.mkv").info
    assert (info.width, info.height, info.fps, info.audio_codec) == (48, 32, 8, "aac")
    assert report.summary().startswith(f"wrote {tmp_path / 'out.mkv'} (6 frames, 48x32, 8 fps;")
    # where the time went: the three parts add up to the whole and the summary names them
    assert set(report.timings) == {"networks", "temporal", "input/output"}
    assert report.timings["networks"] > 0 and sum(report.timings.values()) >= 0.99 * report.seconds
    assert "; time: networks " in report.summary() and "input/output" in report.summary()


def test_restore_detail_computes_the_documented_formula() -> None:
    """OpenCV's elementwise operations give what the numpy formula gives."""
    import cv2

    from adain.video.temporal import DETAIL_MAX_GAIN, DETAIL_SIGMA, DETAIL_WINDOW, _wide_blur, restore_detail

    rng = np.random.default_rng(0)
    fresh = rng.random((40, 56, 3), dtype=np.float32)
    blended = cv2.GaussianBlur(fresh, (0, 0), 1.0)  # a washed-out blend
    low = cv2.GaussianBlur(blended, (0, 0), DETAIL_SIGMA)
    detail = blended - low
    fresh_detail = fresh - cv2.GaussianBlur(fresh, (0, 0), DETAIL_SIGMA)
    energy = [_wide_blur((d**2).mean(axis=2), DETAIL_WINDOW) for d in (fresh_detail, detail)]
    gain = np.clip(np.sqrt((energy[0] + 1e-5) / (energy[1] + 1e-5)), 1.0, DETAIL_MAX_GAIN)
    expected = np.clip(low + detail * gain[..., None], 0.0, 1.0)
    np.testing.assert_allclose(restore_detail(blended, fresh), expected, atol=1e-5)


def test_the_wide_blur_of_a_shrunk_map_is_the_full_size_blur() -> None:
    import cv2

    from adain.video.temporal import _wide_blur

    energy = np.random.default_rng(1).random((480, 854), dtype=np.float32) ** 2
    full = cv2.GaussianBlur(energy, (0, 0), 6.0)
    shrunk = _wide_blur(energy, 6.0)
    assert shrunk.shape == full.shape and np.abs(shrunk - full).mean() < 0.01 * full.mean()
    small = energy[:12, :12]  # too small to shrink: the full-size blur itself
    np.testing.assert_array_equal(_wide_blur(small, 6.0), cv2.GaussianBlur(small, (0, 0), 6.0))
