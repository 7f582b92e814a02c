"""Corpus cases: video inputs (``open_video`` and decoding every frame, what ``adain video`` does).

Sources are built once per session from a tiny generated clip (H.264 in MP4/MKV/MOV, a GIF, a frame
folder) and then damaged: truncated at many offsets, bytes flipped, headers replaced, streams
missing. Valid variants are among them. Each case decodes the whole source: a truncated file must
be an error there, not a shorter film.
"""

from __future__ import annotations

import functools
import io
import os
from pathlib import Path

import numpy as np
from adain_corpus import Case, seeded
from PIL import Image

from adain.errors import UsageError, VideoInputError


def _frames(count: int = 24, size: tuple[int, int] = (16, 24)) -> list[np.ndarray]:
    height, width = size
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (height, width, 3), dtype=np.uint8) for _ in range(count)]


@functools.cache
def _clip(suffix: str, audio: bool = False) -> bytes:
    """A valid 4-frame clip as bytes (built once)."""
    import tempfile

    from adain.eval.clips import write_clip

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"clip{suffix}"
        write_clip(_frames(), path, fps=8, audio=audio, sample_rate=8000)
        return path.read_bytes()


@functools.cache
def _gif() -> bytes:
    buffer = io.BytesIO()
    frames = [Image.fromarray(frame) for frame in _frames()]
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=125, loop=0)
    return buffer.getvalue()


@functools.cache
def _sound() -> bytes:
    import tempfile

    from adain.eval.clips import write_sound

    with tempfile.TemporaryDirectory() as folder:
        return write_sound(Path(folder) / "sound.m4a").read_bytes()


def _file(name: str, data):
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data() if callable(data) else data)
        return path

    return make


def _decode_all(path: Path, out: Path) -> None:
    from adain.video.io import open_video

    source = open_video(path)
    for _ in source.frames():
        pass


def _cli(path: Path, out: Path) -> list[str]:
    return [
        "video",
        str(path),
        "--style",
        "bank:antimonocromatismo",
        "-o",
        str(out / "out.mp4"),
        "--size",
        "16",
        "--no-progress",
    ]


def _cut(data_of, fraction: float):
    return lambda: data_of()[: max(1, int(len(data_of()) * fraction))]


def _flip(data_of, name: str, count: int):
    def damaged() -> bytes:
        data = bytearray(data_of())
        rng = seeded(name)
        for _ in range(count):
            position = rng.randrange(len(data) // 4, len(data))  # keep the container's first bytes
            data[position] ^= 0xFF
        return bytes(data)

    return damaged


def _folder(files: dict[str, bytes]):
    def make(folder: Path) -> Path:
        frames = folder / "frames"
        frames.mkdir()
        for name, data in files.items():
            (frames / name).write_bytes(data)
        return frames

    return make


def _png(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")
    return buffer.getvalue()


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.mp4"
    os.mkfifo(path)
    return path


def _symlink_loop(folder: Path) -> Path:
    path = folder / "loop.mp4"
    path.symlink_to(folder / "loop.mp4")
    return path


CASES: list[Case] = [
    Case("video-valid-mp4", "video", _file("ok.mp4", lambda: _clip(".mp4")), _decode_all, None, cli=_cli),
    Case("video-valid-mkv", "video", _file("ok.mkv", lambda: _clip(".mkv")), _decode_all, None),
    Case("video-valid-mov-audio", "video", _file("ok.mov", lambda: _clip(".mov", True)), _decode_all, None),
    Case("video-valid-gif", "video", _file("ok.gif", _gif), _decode_all, None),
    Case(
        "video-valid-folder",
        "video",
        _folder({f"{k}.png": _png(f) for k, f in enumerate(_frames())}),
        _decode_all,
        None,
    ),
    Case("video-empty", "video", _file("empty.mp4", b""), _decode_all, VideoInputError, cli=_cli),
    Case("video-text", "video", _file("notes.mp4", b"not a video at all\n" * 10), _decode_all, VideoInputError),
    Case("video-png-named-mp4", "video", _file("image.mp4", lambda: _png(_frames()[0])), _decode_all, None),
    Case("video-audio-only", "video", _file("sound.m4a", _sound), _decode_all, VideoInputError, cli=_cli),
    Case("video-fifo", "video", _fifo, _decode_all, VideoInputError, cli=_cli),
    Case("video-symlink-loop", "video", _symlink_loop, _decode_all, VideoInputError),
    Case("video-missing", "video", lambda folder: folder / "missing.mp4", _decode_all, VideoInputError),
    Case("video-folder-empty", "video", _folder({}), _decode_all, VideoInputError),
    Case("video-folder-text-only", "video", _folder({"a.png": b"text"}), _decode_all, VideoInputError),
    Case(
        "video-folder-bad-frame",
        "video",
        _folder({"0.png": _png(_frames()[0]), "1.png": b"broken"}),
        _decode_all,
        VideoInputError,
        message="1.png",
    ),
    Case(
        "video-folder-sizes-differ",
        "video",
        _folder({"0.png": _png(_frames()[0]), "1.png": _png(_frames(size=(8, 8))[0])}),
        _decode_all,
        VideoInputError,
        message="1.png",
    ),
    Case("video-gif-cut-header", "video", _file("cut.gif", lambda: _gif()[:10]), _decode_all, VideoInputError),
    Case(
        "video-fps-zero",
        "video",
        _file("ok.mp4", lambda: _clip(".mp4")),
        lambda path, out: __import__("adain.video.io", fromlist=["open_video"]).open_video(path, fps=0),
        UsageError,
        message="fps",
    ),
]

# truncations of every container at many offsets: an error while decoding, never a silently shorter film
for _suffix in (".mp4", ".mkv", ".mov"):
    for _fraction in (0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.97):
        CASES.append(
            Case(
                f"video-cut{_suffix[1:]}-{int(_fraction * 100)}",
                "video",
                _file(f"cut{_suffix}", _cut(functools.partial(_clip, _suffix), _fraction)),
                _decode_all,
                VideoInputError,
                # the last frame or so: within the tolerance for headers that round durations (TRUNCATION_FRAMES)
                may_succeed=_fraction > 0.95,
            )
        )
for _fraction in (0.3, 0.6, 0.9):
    CASES.append(
        Case(
            f"video-cutgif-{int(_fraction * 100)}",
            "video",
            _file("cut.gif", _cut(_gif, _fraction)),
            _decode_all,
            VideoInputError,
        )
    )
# bytes flipped in the media data: decoding errors become VideoInputError, or the damage is tolerated
for _suffix in (".mp4", ".mkv"):
    for _count in (1, 4, 16, 64):
        for _seed in range(2):
            _name = f"video-flip{_suffix[1:]}-{_count}-{_seed}"
            CASES.append(
                Case(
                    _name,
                    "video",
                    _file(f"flipped{_suffix}", _flip(functools.partial(_clip, _suffix), _name, _count)),
                    _decode_all,
                    VideoInputError,
                    may_succeed=True,
                )
            )


def _gif_screen(width: int, height: int):
    """A GIF whose logical screen claims ``width`` x ``height`` (the frames themselves are tiny)."""

    def data() -> bytes:
        gif = bytearray(_gif())
        gif[6:8], gif[8:10] = width.to_bytes(2, "little"), height.to_bytes(2, "little")
        return bytes(gif)

    return data


def _folder_with(extra: str):
    def make(folder: Path) -> Path:
        frames = folder / "frames"
        frames.mkdir()
        for k, frame in enumerate(_frames(4)):
            (frames / f"{k}.png").write_bytes(_png(frame))
        if extra == "fifo":
            os.mkfifo(frames / "9.png")
        elif extra == "loop":
            (frames / "9.png").symlink_to(frames / "9.png")
        elif extra == "hidden":
            (frames / ".9.png").write_bytes(b"not an image")
        return frames

    return make


CASES += [
    Case(
        "video-cutmp4-audio-50",
        "video",
        _file("cut.mp4", _cut(lambda: _clip(".mp4", True), 0.5)),
        _decode_all,
        VideoInputError,
    ),
    Case(
        "video-gif-huge-screen",
        "video",
        _file("huge.gif", _gif_screen(65535, 65535)),
        _decode_all,
        VideoInputError,
        may_succeed=True,
    ),
    Case(
        "video-gif-flipped",
        "video",
        _file("flipped.gif", _flip(_gif, "video-gif-flipped", 8)),
        _decode_all,
        VideoInputError,
        may_succeed=True,
    ),
    Case("video-folder-with-fifo", "video", _folder_with("fifo"), _decode_all, None),
    Case("video-folder-with-loop", "video", _folder_with("loop"), _decode_all, None),
    Case("video-folder-hidden-junk", "video", _folder_with("hidden"), _decode_all, None, cli=_cli),
    Case(
        "video-mp4-named-gif", "video", _file("clip.gif", lambda: _clip(".mp4")), _decode_all, VideoInputError, cli=_cli
    ),
]
