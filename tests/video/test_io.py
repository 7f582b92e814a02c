"""Video I/O: sources (files, GIFs, frame folders) and writers (H.264 with audio, GIF, folders),
every bad input as one VideoInputError, and atomic outputs (nothing left on errors or Ctrl-C)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from adain.errors import OutputError, UsageError, VideoInputError
from adain.eval.clips import shapes_clip, write_clip, write_sound
from adain.video import io as video_module
from adain.video.io import open_video, open_video_writer, output_kind


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return shapes_clip(12, 48, 64, seed=3)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, frames: list[np.ndarray]) -> Path:
    """12 frames, 64x48, 12 fps, H.264 + AAC (one second)."""
    return write_clip(frames, tmp_path_factory.mktemp("clip") / "clip.mp4", fps=12)


def _streams(path: Path) -> dict[str, tuple[str, float]]:
    with av.open(str(path)) as container:
        return {s.type: (s.codec_context.name, float(container.duration or 0) / 1e6) for s in container.streams}


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255**2 / max(mse, 1e-9))


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- reading ----------------------------------------------------------------------------------


def test_open_video_file_reports_size_rate_count_and_audio(clip: Path, frames: list[np.ndarray]) -> None:
    source = open_video(clip)
    info = source.info
    assert (info.kind, info.width, info.height, info.fps, info.frame_count) == ("video", 64, 48, Fraction(12), 12)
    assert (info.codec, info.audio_codec, info.has_audio) == ("h264", "aac", True)
    decoded = list(source.frames())
    assert len(decoded) == 12 and decoded[0].dtype == np.uint8 and decoded[0].shape == (48, 64, 3)
    assert min(_psnr(a, b) for a, b in zip(decoded, frames)) > 25  # near lossless but for 4:2:0 chroma
    assert len(list(source.frames())) == 12  # each call decodes from the start


def test_frame_folder_in_natural_order_with_given_rate(tmp_path: Path, frames: list[np.ndarray]) -> None:
    for index in (1, 2, 10):  # frame_10 sorts after frame_2
        Image.fromarray(frames[index]).save(tmp_path / f"frame_{index}.png")
    (tmp_path / "notes.txt").write_text("not a frame")
    source = open_video(tmp_path, fps=24)
    assert (source.info.kind, source.info.fps, source.info.frame_count, source.info.has_audio) == (
        "frames",
        24,
        3,
        False,
    )
    assert [np.array_equal(a, frames[i]) for a, i in zip(source.frames(), (1, 2, 10))] == [True] * 3
    assert open_video(tmp_path).info.fps == 25  # the default for folders


def test_gif_round_trip_keeps_frames_and_rate(tmp_path: Path, frames: list[np.ndarray]) -> None:
    with open_video_writer(tmp_path / "out.gif", fps=10) as writer:
        for frame in frames[:5]:
            writer.write(frame)
    source = open_video(tmp_path / "out.gif")
    assert (source.info.kind, source.info.fps, source.info.frame_count) == ("gif", 10, 5)
    assert min(_psnr(a, b) for a, b in zip(source.frames(), frames)) > 20  # 256-colour palette


# -- writing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov"])
def test_h264_output_keeps_rate_and_copies_audio(tmp_path: Path, clip: Path, suffix: str) -> None:
    source = open_video(clip)
    output = tmp_path / f"out{suffix}"
    with open_video_writer(output, source.info.fps, crf=18, audio_from=source.info) as writer:
        for frame in source.frames():
            writer.write(frame)
    assert writer.notes == [] and _listing(tmp_path) == [output.name]
    info = open_video(output).info
    assert (info.fps, info.width, info.height, info.codec, info.audio_codec) == (Fraction(12), 64, 48, "h264", "aac")
    assert len(list(open_video(output).frames())) == 12
    with av.open(str(output)) as container, av.open(str(clip)) as original:
        copied = [bytes(p) for p in container.demux(audio=0) if p.size]
        source_packets = [bytes(p) for p in original.demux(audio=0) if p.size]
    assert copied == source_packets  # copied, not re-encoded


def test_audio_is_reencoded_when_the_container_cannot_take_it(
    tmp_path: Path, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(video_module, "_container_takes", lambda *_: False)
    source = open_video(clip)
    with open_video_writer(tmp_path / "out.mp4", source.info.fps, audio_from=source.info) as writer:
        for frame in source.frames():
            writer.write(frame)
    assert writer.notes == ["audio: aac re-encoded to AAC for .mp4"]
    streams = _streams(tmp_path / "out.mp4")
    assert streams["audio"][0] == "aac" and streams["audio"][1] == pytest.approx(1.0, abs=0.15)


def test_crf_sets_quality(tmp_path: Path, frames: list[np.ndarray]) -> None:
    sizes, worst = {}, {}
    for crf in (0, 40):
        with open_video_writer(tmp_path / f"crf{crf}.mp4", 12, crf=crf) as writer:
            for frame in frames:
                writer.write(frame)
        sizes[crf] = (tmp_path / f"crf{crf}.mp4").stat().st_size
        worst[crf] = min(_psnr(a, b) for a, b in zip(open_video(tmp_path / f"crf{crf}.mp4").frames(), frames))
    assert sizes[0] > 3 * sizes[40] and worst[0] > worst[40] + 3


def test_odd_sizes_lose_a_row_and_column_in_h264(tmp_path: Path) -> None:
    with open_video_writer(tmp_path / "odd.mp4", 10) as writer:
        writer.write(np.zeros((33, 45, 3), np.uint8))
    assert (open_video(tmp_path / "odd.mp4").info.width, open_video(tmp_path / "odd.mp4").info.height) == (44, 32)


def test_frame_folder_output_and_audio_note(tmp_path: Path, clip: Path) -> None:
    source = open_video(clip)
    with open_video_writer(tmp_path / "frames", source.info.fps, audio_from=source.info) as writer:
        for frame in source.frames():
            writer.write(frame)
    assert writer.notes == ["audio: not kept (frames output has no sound)"]
    assert _listing(tmp_path) == ["frames"]
    assert _listing(tmp_path / "frames")[:2] == ["frame_000001.png", "frame_000002.png"]
    assert len(_listing(tmp_path / "frames")) == 12


def test_output_kinds_and_refusals(tmp_path: Path) -> None:
    assert [output_kind(p) for p in ("a.mp4", "a.MKV", "a.gif", "frames", "out/")] == [
        "video",
        "video",
        "gif",
        "frames",
        "frames",
    ]
    with pytest.raises(UsageError, match=r"unknown video output extension '\.avi'"):
        output_kind("a.avi")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.png").write_bytes(b"")
    with pytest.raises(UsageError, match="not empty"):
        open_video_writer(tmp_path / "full", 10)
    with pytest.raises(UsageError, match=r"crf must be an integer in \[0, 51\]"):
        open_video_writer(tmp_path / "a.mp4", 10, crf=52)
    with pytest.raises(UsageError, match="fps must be"):
        open_video_writer(tmp_path / "a.mp4", 0)
    assert _listing(tmp_path) == ["full"]


@pytest.mark.parametrize("name", ["out.mp4", "out.gif", "frames"])
@pytest.mark.parametrize("interruption", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failed_or_interrupted_writes_leave_nothing(
    tmp_path: Path, frames: list[np.ndarray], name: str, interruption: BaseException
) -> None:
    with pytest.raises(type(interruption)), open_video_writer(tmp_path / name, 12) as writer:
        for index, frame in enumerate(frames):
            if index == 5:
                raise interruption
            writer.write(frame)
    assert _listing(tmp_path) == []


def test_no_frames_written_is_an_error_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="no frames"), open_video_writer(tmp_path / "out.mp4", 12):
        pass
    assert _listing(tmp_path) == []


# -- bad inputs -------------------------------------------------------------------------------


def _mkv_bytes(frames: list[np.ndarray], tmp_path: Path) -> bytes:
    return write_clip(frames, tmp_path / "source.mkv", fps=12, audio=False).read_bytes()


def test_bad_inputs_fail_with_one_clear_error(tmp_path: Path, clip: Path, frames: list[np.ndarray]) -> None:
    mkv = _mkv_bytes(frames, tmp_path)
    (tmp_path / "garbage.mp4").write_bytes(b"not a video at all " * 20)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "truncated.mp4").write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    (tmp_path / "codec.mkv").write_bytes(mkv.replace(b"V_MPEG4/ISO/AVC", b"V_QQQQQ/ISO/QQQ"))
    (tmp_path / "no_frames").mkdir()
    (tmp_path / "broken.gif").write_bytes(b"GIF89a" + b"\x00" * 10)
    write_sound(tmp_path / "sound.m4a")
    expected = {
        "missing.mp4": "video not found",
        "garbage.mp4": "is not a readable video",
        "empty.mp4": "is not a readable video",
        "truncated.mp4": "is not a readable video",
        "codec.mkv": "unsupported video codec",
        "no_frames": "has no frames",
        "broken.gif": "is not a readable GIF",
        "sound.m4a": r"has no video stream \(streams: audio\)",
    }
    for name, message in expected.items():
        with pytest.raises(VideoInputError, match=message) as caught:
            open_video(tmp_path / name)
        assert "\n" not in str(caught.value) and name in str(caught.value)


def test_a_truncated_stream_is_found_while_decoding(tmp_path: Path, frames: list[np.ndarray]) -> None:
    mkv = _mkv_bytes(frames, tmp_path)
    (tmp_path / "truncated.mkv").write_bytes(mkv[: len(mkv) // 2])
    source = open_video(tmp_path / "truncated.mkv")  # the header and first frames are intact
    with pytest.raises(VideoInputError, match=r"is truncated: \d+ frames decoded, its header promises 1[23]"):
        list(source.frames())


def test_frames_of_different_sizes_in_a_folder(tmp_path: Path) -> None:
    Image.new("RGB", (16, 16)).save(tmp_path / "1.png")
    Image.new("RGB", (18, 16)).save(tmp_path / "2.png")
    with pytest.raises(VideoInputError, match="all frames must have one size"):
        list(open_video(tmp_path).frames())


def test_bad_fps(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="fps must be a number"):
        open_video(tmp_path, fps=-1)
