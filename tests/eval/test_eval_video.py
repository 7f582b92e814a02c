"""``adain eval video``'s measure: every mode scored on a clip (warping error, losses, time),
ratios to frame-by-frame stylization with the bar's verdicts, and the report files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adain.errors import UsageError
from adain.eval.clips import shapes_clip, write_clip
from adain.eval.video import VideoEvalConfig, evaluate_video, frame_strip, load_clip, ratios, write_video_report
from adain.pipeline.options import StylizeOptions
from adain.pipeline.stylize import StylizationPipeline
from adain.styles.library import resolve_style
from adain.weights import load_decoder, load_encoder


@pytest.fixture(scope="module")
def pipeline(decoder_file: Path) -> StylizationPipeline:
    return StylizationPipeline(
        load_encoder("vgg16-hed"), load_decoder("vgg16-hed", path=decoder_file), preset="vgg16-hed"
    )


def test_every_mode_is_scored_against_frame_by_frame(pipeline: StylizationPipeline, tmp_path: Path) -> None:
    clip = write_clip(shapes_clip(5, 40, 56, seed=1), tmp_path / "clip.mp4", fps=10, audio=True)
    config = VideoEvalConfig(
        clips=["generated:shapes", str(clip)], size=32, frames=4, modes=["flow"], out_dir=tmp_path / "report"
    ).check()
    assert config.modes == ["none", "flow"]  # the reference is always run
    scores, frames = evaluate_video(
        pipeline, [resolve_style("bank:candy", "vgg16-hed")], StylizeOptions(), config, progress=False
    )
    assert [(Path(s.clip).name, s.mode) for s in scores] == [
        ("generated:shapes", "none"),
        ("generated:shapes", "flow"),
        ("clip.mp4", "none"),
        ("clip.mp4", "flow"),
    ]
    for score in scores:
        assert score.frames == 4 and score.warping_error > 0 and score.style_loss > 0 and score.content_loss > 0
        assert score.seconds > 0 and 0 <= score.temporal_seconds < score.seconds
    assert (scores[0].width, scores[0].height) == (48, 32)  # generated at --size 32, 1.5:1
    assert (scores[2].width, scores[2].height) == (44, 32)  # the file resized to 32 (45 -> even)
    by_mode = {s.mode: s for s in scores if s.clip == "generated:shapes"}
    assert by_mode["flow"].warping_error < by_mode["none"].warping_error
    rows = ratios(scores)
    assert [r["warping_error_ratio"] for r in rows if r["mode"] == "none"] == [1.0, 1.0]
    assert all(r["passes_bar"] is None for r in rows if r["mode"] == "none")
    flow = next(r for r in rows if r["mode"] == "flow")
    assert flow["passes_bar"] == (
        flow["warping_error_ratio"] <= 0.6 and flow["style_loss_ratio"] <= 1.1 and flow["time_ratio"] <= 1.5
    )
    assert set(frames["generated:shapes"]) == {"input", *config.modes}

    paths = write_video_report(scores, frames, config.out_dir, {"command": "test"})
    stored = json.loads(paths["json"].read_text())
    assert (
        stored["command"] == "test" and stored["bar"]["warping_error_ratio_max"] == 0.6 and len(stored["results"]) == 4
    )
    markdown = paths["markdown"].read_text()
    assert "| generated:shapes | 4 (48x32) | flow |" in markdown and "![generated:shapes](strip_0.png)" in markdown
    with Image.open(paths["strip-1"]) as strip:
        # rows: input, none, flow (the default), then their two residual rows; 3 columns (4 frames -> 3 pairs)
        assert strip.size == (3 * 44 + 2 * 4, 5 * 32 + 4 * 4)


def test_frame_strip_rows_and_flicker_rows() -> None:
    still = [np.full((16, 20, 3), 0.5, np.float32)] * 5
    flicker = [np.full((16, 20, 3), 0.5 + 0.1 * (k % 2), np.float32) for k in range(5)]
    strip = frame_strip({"input": still, "none": flicker, "flow": still}, ["none", "flow"], start=2, count=2)
    assert strip.shape == (5 * 16 + 4 * 4, 2 * 20 + 4, 3)
    change_none, change_flow = strip[3 * 20 : 3 * 20 + 16, :20], strip[4 * 20 : 4 * 20 + 16, :20]
    assert np.allclose(change_none, 0.4) and np.allclose(change_flow, 0.0)  # |0.1| x gain 4
    tiny = [np.full((8, 10, 3), 0.5, np.float32)] * 3  # below DIS's minimum: Farneback's flow
    assert frame_strip({"input": tiny, "none": tiny}, ["none"], start=1, count=2).shape == (
        3 * 8 + 2 * 4,
        2 * 10 + 4,
        3,
    )


def test_config_and_clip_checks(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown temporal modes"):
        VideoEvalConfig(clips=["generated:shapes"], modes=["blur"]).check()
    with pytest.raises(UsageError, match="at least 2 frames"):
        VideoEvalConfig(clips=["generated:shapes"], frames=1).check()
    with pytest.raises(UsageError, match="no clips"):
        VideoEvalConfig(clips=[]).check()
    assert [f.shape for f in load_clip("generated:shapes", 2, 32)] == [(32, 48, 3)] * 2
    pytest.importorskip("skimage")
    photo = load_clip("generated:photo", 3, 32)
    assert len(photo) == 3 and photo[0].shape == (32, 48, 3) and not np.array_equal(photo[0], photo[2])
    assert math.isclose(float(np.mean(photo[0])), float(np.mean(photo[1])), rel_tol=0.2)  # one shot, no cut


def test_fast_is_scored_by_its_teachers_encoder(fast_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """``adain eval video --preset fast`` stylizes with the students (random here: tests/conftest.py's
    fast_home) and measures the losses, style targets included, with vgg16-hed's encoder, as
    ``adain eval`` does: never the student that stylized."""
    import torch

    from adain.cli.main import main
    from adain.image.io import load_image
    from adain.ops.losses import content_loss, style_loss_from_statistics
    from adain.ops.statistics import adain_from_statistics
    from adain.styles.statistics import compute_style_statistics, resize_style
    from adain.video.stylizer import frame_to_tensor

    style_file = tmp_path / "style.png"
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (6, 5, 3), dtype=np.uint8)).resize((40, 48)).save(style_file)
    out = tmp_path / "report"
    command = ["eval", "video", "generated:shapes", "--preset", "fast", "-s", str(style_file), "--size", "32"]
    assert main([*command, "--frames", "2", "--modes", "none", "-o", str(out), "--no-progress"]) == 0, (
        capsys.readouterr().err
    )
    report = json.loads((out / "results.json").read_text())
    assert (report["preset"], report["loss_encoder"]) == ("fast", "vgg16-hed")

    fast = StylizationPipeline.from_preset("fast", precision="fp32")
    teacher = load_encoder("vgg16-hed")
    config = VideoEvalConfig(clips=["generated:shapes"], size=32, frames=2, modes=["none"], out_dir=tmp_path / "x")
    options = StylizeOptions(style_size=32)
    scored = {}
    for name, encoder in (("teacher", teacher), ("student", None)):
        scores, frames = evaluate_video(
            fast, [str(style_file)], options, config, progress=False, loss_encoder=encoder, loss_preset="vgg16-hed"
        )
        scored[name] = scores[0]
    # the teacher's losses, by hand: its statistics of the style image, its features of the frames
    style_rgb = resize_style(load_image(style_file).rgb, 32)
    target = compute_style_statistics(teacher, style_rgb, "vgg16-hed")[0]
    means, stds = {tap: target.at(tap)[0] for tap in target.means}, {tap: target.at(tap)[1] for tap in target.means}
    styles, contents = [], []
    with torch.no_grad():
        for frame, output in zip(frames["generated:shapes"]["input"], frames["generated:shapes"]["none"]):
            taps = teacher(torch.from_numpy(np.ascontiguousarray(output)).permute(2, 0, 1)[None].float())
            features = teacher(frame_to_tensor(frame))["relu4_1"]
            styles.append(float(style_loss_from_statistics(taps, means, stds).mean()))
            aim = adain_from_statistics(features, means["relu4_1"], stds["relu4_1"])
            contents.append(float(content_loss(taps["relu4_1"], aim).mean()))
    assert scored["teacher"].style_loss == pytest.approx(float(np.mean(styles)), rel=1e-4)
    assert scored["teacher"].content_loss == pytest.approx(float(np.mean(contents)), rel=1e-4)
    # ... and by the student the same frames score otherwise
    assert abs(scored["student"].style_loss - scored["teacher"].style_loss) > 1e-3 * scored["teacher"].style_loss
