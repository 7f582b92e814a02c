"""``adain video`` end to end on generated clips with an audio track, the per-frame options, and
every bad input: one stderr line, a non-zero exit and nothing written (not even a temporary).
Also ``adain eval video`` (and ``adain eval`` still parsing as before)."""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from adain.cli.main import build_parser
from adain.eval.clips import shapes_clip, write_clip, write_sound
from adain.video.io import open_video
from adain.video.stylizer import VideoStylizer

SMALL = ("--size", "0", "--style-size", "0", "--no-progress")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 frames, 48x32, 8 fps, H.264 + AAC."""
    return write_clip(shapes_clip(6, 32, 48, seed=2), tmp_path_factory.mktemp("clip") / "clip.mp4", fps=8)


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    return tmp_path / "run"


def _files(directory: Path) -> list[str]:
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*"))


def test_video_to_mp4_keeps_rate_frames_and_audio(
    adain: Callable, clip: Path, run_dir: Path, decoder_file: Path
) -> None:
    result = adain(
        "video", clip, "--style", "bank:candy", "-o", "out.mp4", "--decoder", decoder_file, "--crf", "20", *SMALL
    )
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.out.startswith("wrote out.mp4 (6 frames, 48x32, 8 fps;") and "frames/s" in result.out
    assert _files(run_dir) == ["out.mp4"]
    info = open_video(run_dir / "out.mp4").info
    assert (info.width, info.height, info.fps, info.frame_count, info.codec, info.audio_codec) == (
        48,
        32,
        Fraction(8),
        6,
        "h264",
        "aac",
    )
    with av.open(str(run_dir / "out.mp4")) as container:
        assert float(container.streams.audio[0].duration * container.streams.audio[0].time_base) == pytest.approx(
            0.75, abs=0.1
        )


@pytest.mark.parametrize("decoder", ["plain", "multilevel"])
def test_per_frame_options_and_default_output_name(
    adain: Callable, clip: Path, run_dir: Path, request: pytest.FixtureRequest, decoder: str, tmp_path: Path
) -> None:
    """Also with a multi-level decoder: every tap's content statistics are smoothed over frames."""
    decoder_file = request.getfixturevalue("decoder_file" if decoder == "plain" else "multilevel_decoder_file")
    mask = tmp_path / "mask.png"
    Image.fromarray(np.tile((np.arange(48) < 24).astype(np.uint8)[None] * 255, (32, 1))).save(mask)
    style = tmp_path / "style.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(style)
    result = adain(
        "video",
        clip,
        "-s",
        "bank:candy",
        "-s",
        style,
        "--mask",
        mask,
        "--mask-alpha",
        "1,0.5",
        "--preserve-color",
        "luminance",
        "--size",
        "20",
        "--style-size",
        "0",
        "--max-memory",
        "64",
        "--temporal",
        "flow",
        "--blend",
        "0.6",
        "--no-audio",
        "--decoder",
        decoder_file,
        "--no-progress",
    )
    assert result.code == 0, result.err
    assert _files(run_dir) == ["clip_stylized.mp4"]
    info = open_video(run_dir / "clip_stylized.mp4").info
    assert (info.width, info.height, info.audio_codec) == (30, 20, None)  # 30x20: --size 20, even sizes


def test_style_mix_to_gif_and_frames_in(
    adain: Callable, clip: Path, run_dir: Path, decoder_file: Path, tmp_path: Path
) -> None:
    frames_in = tmp_path / "frames"
    frames_in.mkdir()
    for index, frame in enumerate(open_video(clip).frames()):
        Image.fromarray(frame).save(frames_in / f"{index}.png")
    result = adain(
        "video",
        frames_in,
        "-s",
        "bank:candy",
        "-s",
        "bank:composition-vii",
        "--style-weights",
        "0.7,0.3",
        "--fps",
        "5",
        "-o",
        "out.gif",
        "--decoder",
        decoder_file,
        *SMALL,
    )
    assert result.code == 0, result.err
    assert _files(run_dir) == ["out.gif"]
    info = open_video(run_dir / "out.gif").info
    assert (info.kind, info.frame_count, info.fps) == ("gif", 6, 5)
    assert (
        adain(
            "video", run_dir / "out.gif", "-s", "bank:candy", "-o", "frames_out", "--decoder", decoder_file, *SMALL
        ).code
        == 0
    )
    assert len(list((run_dir / "frames_out").iterdir())) == 6


def _bad_inputs(directory: Path, clip: Path) -> dict[str, str]:
    """name -> the message expected for it."""
    (directory / "garbage.mp4").write_bytes(b"\x00garbage" * 50)
    (directory / "truncated.mp4").write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    mkv = write_clip(shapes_clip(12, 32, 48), directory / "whole.mkv", fps=8, audio=False).read_bytes()
    (directory / "whole.mkv").unlink()
    (directory / "truncated.mkv").write_bytes(mkv[: len(mkv) // 2])
    (directory / "codec.mkv").write_bytes(mkv.replace(b"V_MPEG4/ISO/AVC", b"V_QQQQQ/ISO/QQQ"))
    (directory / "empty_folder").mkdir()
    write_sound(directory / "sound.m4a")
    return {
        "missing.mp4": "video not found",
        "garbage.mp4": "is not a readable video",
        "truncated.mp4": "is not a readable video",
        "truncated.mkv": "is truncated",
        "codec.mkv": "unsupported video codec",
        "empty_folder": "has no frames",
        "sound.m4a": "has no video stream",
    }


def test_bad_inputs_one_line_exit_1_and_nothing_written(
    adain: Callable, clip: Path, run_dir: Path, decoder_file: Path, tmp_path: Path
) -> None:
    inputs = tmp_path / "bad"
    inputs.mkdir()
    for name, message in _bad_inputs(inputs, clip).items():
        result = adain("video", inputs / name, "-s", "bank:candy", "-o", "out.mp4", "--decoder", decoder_file, *SMALL)
        assert (result.code, len(result.err_lines), result.out) == (1, 1, ""), (name, result.err)
        assert result.err.startswith("adain video: error: ") and message in result.err, (name, result.err)
        assert _files(run_dir) == [], name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-o", "out.avi"), "unknown video output extension '.avi'"),
        (("-o", "out.mp4", "--crf", "60"), "crf must be an integer in [0, 51]"),
        (("-o", "out.mp4", "--crf", "high"), "--crf must be an integer"),
        (("-o", "out.mp4", "--blend", "2"), "blend must be a number in [0, 1]"),
        (("-o", "out.mp4", "--alpha", "3"), "--alpha"),
        (("-o", "out.mp4", "--fps", "0"), "fps must be a number in (0, 1000]"),
        (("-o", "out.mp4", "--method", "attention"), "needs the style's features, and bank:candy is a bank style"),
        (("-o", "out.mp4", "--attention-temperature", "0.2"), "needs --method attention"),
        (("-o", "out.mp4", "--method", "optimize"), "invalid choice: 'optimize'"),
    ],
)
def test_usage_errors_exit_2(
    adain: Callable, clip: Path, run_dir: Path, decoder_file: Path, args: tuple, message: str
) -> None:
    result = adain("video", clip, "-s", "bank:candy", "--decoder", decoder_file, *args, *SMALL)
    assert result.code == 2 and len(result.err_lines) == 1 and message in result.err, result.err
    assert _files(run_dir) == []


def test_method_attention_with_a_style_image(
    adain: Callable, clip: Path, run_dir: Path, decoder_file: Path, tmp_path: Path
) -> None:
    style = tmp_path / "style.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(style)
    outputs = {}
    for name, extra in (
        ("attention", ("--method", "attention", "--attention-temperature", "0.2")),
        ("decoder", ()),
    ):
        result = adain(
            "video", clip, "-s", style, "-o", name, "--temporal", "none", "--decoder", decoder_file, *SMALL, *extra
        )
        assert result.code == 0, result.err
        outputs[name] = [np.asarray(Image.open(path)) for path in sorted((run_dir / name).iterdir())]
    assert len(outputs["attention"]) == 6 and outputs["attention"][0].shape == (32, 48, 3)
    assert any((a != d).any() for a, d in zip(outputs["attention"], outputs["decoder"]))


def test_ctrl_c_leaves_no_partial_output(
    adain: Callable, clip: Path, run_dir: Path, decoder_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = VideoStylizer.stylize_frame
    calls = []

    def interrupted(self: VideoStylizer, frame: np.ndarray) -> np.ndarray:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, frame)

    monkeypatch.setattr(VideoStylizer, "stylize_frame", interrupted)
    for output in ("out.mp4", "out.gif", "frames"):
        calls.clear()
        result = adain("video", clip, "-s", "bank:candy", "-o", output, "--decoder", decoder_file, *SMALL)
        assert (result.code, result.err.strip()) == (130, "adain video: interrupted")
        assert _files(run_dir) == []


def test_eval_video_writes_report(adain: Callable, run_dir: Path, decoder_file: Path) -> None:
    result = adain(
        "eval",
        "video",
        "generated:shapes",
        "--frames",
        "3",
        "--size",
        "32",
        "--modes",
        "flow",
        "--decoder",
        decoder_file,
        "-o",
        "report",
        "--no-progress",
    )
    assert result.code == 0, result.err
    assert _files(run_dir / "report") == ["results.json", "results.md", "strip_0.png"]
    rows = json.loads((run_dir / "report/results.json").read_text())["results"]
    assert [r["mode"] for r in rows] == ["none", "flow"]
    assert "warping error" in result.out and "report: report/results.md" in result.out


def test_adain_eval_without_video_parses_as_before() -> None:
    args = build_parser().parse_args(["eval", "--sizes", "256", "--limit", "2", "-o", "x"])
    assert (args.sizes, args.limit, args.out, args.eval_command) == ((256,), 2, Path("x"), None)
    assert args.run.__module__ == "adain.cli.eval"
    args = build_parser().parse_args(["eval", "video", "a.mp4", "--frames", "5"])
    assert (args.clips, args.frames, args.run.__module__) == (["a.mp4"], 5, "adain.cli.eval")  # lives with adain eval


def test_sigterm_leaves_no_partial_output(clip: Path, run_dir: Path, decoder_file: Path) -> None:
    """SIGTERM (a service manager, ``kill``) cleans up as Ctrl-C does: exit 143, nothing left behind."""
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from adain.cli.main import main\n"
        "from adain.video.stylizer import VideoStylizer\n"
        "original = VideoStylizer.stylize_frame\n"
        "calls = []\n"
        "def slow(self, frame):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 3:\n"
        "        Path('ready').write_text('3 frames in')\n"
        "        time.sleep(60)\n"
        "    return original(self, frame)\n"
        "VideoStylizer.stylize_frame = slow\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    argv = [sys.executable, "-c", script, "video", str(clip), "-s", "bank:candy", "-o", "out.mp4"]
    process = subprocess.Popen(
        [*argv, "--decoder", str(decoder_file), *SMALL], cwd=run_dir, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not (run_dir / "ready").exists():
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.stderr else ""
        time.sleep(0.1)
    assert any(name.endswith(".part.mp4") for name in _files(run_dir))  # the writer's temporary is there
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert (process.returncode, stderr.strip()) == (143, "adain video: terminated")
    assert _files(run_dir) == ["ready"]
