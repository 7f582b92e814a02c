"""Video I/O: read video files (PyAV), GIFs and frame folders; write H.264, GIF or frame folders.

Reading: :func:`open_video` checks a source completely before anything is stylized: it opens
the container, finds a video stream with a decoder, and decodes the first frame, so that an
unreadable file, a file without video, an unsupported codec or a clip with zero frames fails
at once with one :class:`VideoInputError` line. A file that ends early (truncated) is found
while decoding: fewer frames than its header promises.

Writing: :func:`open_video_writer` picks the output from the path: ``.mp4``/``.m4v``/``.mov``/
``.mkv`` -> H.264 (``crf`` sets the quality) with the source's audio stream copied (re-encoded
to AAC when the container cannot hold it as it is); ``.gif`` -> an animated GIF; no extension
(or an existing folder) -> a folder of numbered PNG frames. Every output is written under a
temporary name in the destination folder and renamed when complete; any exception, Ctrl-C
included, removes it, so a failed or interrupted run leaves nothing behind.

Frames are ``(height, width, 3)`` uint8 RGB numpy arrays throughout.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import numpy as np

from adain._checks import is_int
from adain._files import default_mode, temporary_beside
from adain.errors import OutputError, UsageError, VideoInputError

__all__ = [
    "DEFAULT_CRF",
    "DEFAULT_FOLDER_FPS",
    "FRAME_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "VideoInfo",
    "VideoSource",
    "VideoWriter",
    "check_output",
    "check_output_location",
    "open_video",
    "open_video_writer",
    "output_kind",
]

#: Output containers for H.264, by extension (the PyAV/FFmpeg format name).
VIDEO_EXTENSIONS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
#: Image files taken as frames of a frame folder.
FRAME_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm"})
#: H.264 constant rate factor: 0 lossless, 18 visually lossless (the default), 23 x264's default, 51 worst.
DEFAULT_CRF = 18
#: x264 speed/size trade-off. ``veryfast``: at crf 18 the quality is set by the crf, and on
#: stylized frames (dense brush texture) ``medium``'s slower search bought nothing: the 48-frame
#: 480p clip encoded in 18.5 ms a frame with ``medium`` (390 kB), 7.8 ms with ``veryfast`` (374
#: kB; 2-core Xeon, 2026-12-03), a sixth of a ``fast`` frame's time at ``--temporal flow``.
DEFAULT_X264_PRESET = "veryfast"
#: Frame rate of a frame folder unless given (frame folders carry none).
DEFAULT_FOLDER_FPS = Fraction(25)
#: A file is truncated when it yields fewer frames than its header promises, by more than this
#: many frames or this fraction (headers round durations).
TRUNCATION_FRAMES, TRUNCATION_FRACTION = 2, 0.02

SourceKind = Literal["video", "gif", "frames"]


@dataclass(frozen=True)
class VideoInfo:
    """What a source is, known before decoding it all.

    Attributes:
        path: the file or folder.
        kind: ``"video"`` (a container PyAV reads), ``"gif"`` or ``"frames"`` (a folder of images).
        width, height: frame size in pixels.
        fps: frames per second (a fraction: 30000/1001 stays exact).
        frame_count: the number of frames the header promises (``None``: unknown).
        codec: the video codec's name (``"png"``... for frame folders).
        audio_codec: the first audio stream's codec, ``None`` when there is no audio.
    """

    path: Path
    kind: SourceKind
    width: int
    height: int
    fps: Fraction
    frame_count: int | None
    codec: str
    audio_codec: str | None = None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


def _ffmpeg_reason(error: BaseException) -> str:
    """An FFmpeg error's message without PyAV's ``[Errno N]`` prefix and file name suffix."""
    message = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return re.sub(r"^\[Errno -?\d+\]\s*", "", str(message)).split(": '")[0]


class VideoSource:
    """Frames of a clip: :attr:`info` and :meth:`frames` (each call decodes from the start)."""

    def __init__(self, info: VideoInfo):
        self.info = info

    def frames(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def __repr__(self) -> str:
        info = self.info
        return f"{type(self).__name__}({str(info.path)!r}, {info.width}x{info.height}, {float(info.fps):.3g} fps)"


class PyAVSource(VideoSource):
    """A video file: the first video stream, decoded by FFmpeg (PyAV), converted to RGB."""

    def frames(self) -> Iterator[np.ndarray]:
        import av

        path = self.info.path
        decoded = 0
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in container.decode(stream):
                    decoded += 1
                    yield frame.to_ndarray(format="rgb24")
        except av.FFmpegError as error:
            raise VideoInputError(
                f"{str(path)!r} is corrupt or truncated after {decoded} frames: {_ffmpeg_reason(error)}"
            ) from None
        expected = self.info.frame_count
        if expected and decoded < expected - max(TRUNCATION_FRAMES, TRUNCATION_FRACTION * expected):
            raise VideoInputError(
                f"{str(path)!r} is truncated: {decoded} frames decoded, its header promises {expected}"
            )


class GifSource(VideoSource):
    """An animated GIF (Pillow): every frame composited to RGB."""

    def frames(self) -> Iterator[np.ndarray]:
        from PIL import Image, ImageSequence

        try:
            with Image.open(self.info.path) as image:
                for frame in ImageSequence.Iterator(image):
                    yield np.asarray(frame.convert("RGB"))
        except Exception as error:  # Pillow raises many types on damaged GIFs (IndexError, struct.error, ...)
            raise VideoInputError(
                f"{str(self.info.path)!r} is corrupt or truncated: {error or type(error).__name__}"
            ) from None


class FrameFolderSource(VideoSource):
    """A folder of images, in natural order (``frame_2`` before ``frame_10``), all one size."""

    def __init__(self, info: VideoInfo, files: list[Path]):
        super().__init__(info)
        self.files = files

    def frames(self) -> Iterator[np.ndarray]:
        from PIL import Image

        for path in self.files:
            try:
                with Image.open(path) as image:
                    frame = np.asarray(image.convert("RGB"))
            except (OSError, ValueError) as error:
                raise VideoInputError(f"frame {str(path)!r} cannot be read: {error}") from None
            if frame.shape[:2] != (self.info.height, self.info.width):
                raise VideoInputError(
                    f"frame {str(path)!r} is {frame.shape[1]}x{frame.shape[0]}; the first frame is "
                    f"{self.info.width}x{self.info.height}: all frames must have one size"
                )
            yield frame


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _check_fps(fps: float | Fraction | None) -> Fraction | None:
    if fps is None:
        return None
    if (
        isinstance(fps, bool)
        or not isinstance(fps, (int, float, Fraction))
        or not math.isfinite(fps)
        or not 0 < fps <= 1000
    ):
        raise UsageError(f"fps must be a number in (0, 1000]. Got {fps!r}")
    return Fraction(fps).limit_denominator(1001)


def open_video(path: str | os.PathLike[str], fps: float | Fraction | None = None) -> VideoSource:
    """Open and check a video file, a GIF or a frame folder (see the module docstring).

    Args:
        path: the source.
        fps: the frame rate of a frame folder (default 25); for a file or GIF it overrides
            what the file says.

    Raises:
        VideoInputError: missing, unreadable, no video stream, unsupported codec, no frames.
        UsageError: a bad ``fps``.
    """
    path = Path(path)
    rate = _check_fps(fps)
    kind = _file_kind(path)
    if kind == "folder":
        source: VideoSource = _open_folder(path, rate or DEFAULT_FOLDER_FPS)
    elif path.suffix.lower() == ".gif":
        source = _open_gif(path, rate)
    else:
        source = _open_pyav(path, rate)
    if next(iter(source.frames()), None) is None:
        raise VideoInputError(f"{str(path)!r} has no frames")
    return source


def _file_kind(path: Path) -> Literal["file", "folder"]:
    """``"file"`` or ``"folder"``; anything else (missing, a FIFO, a device, a socket, a symlink
    loop, a name too long) is refused here, from ``stat``, before anything opens it: opening a FIFO
    would block until someone writes to it."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise VideoInputError(f"video not found: {str(path)!r}") from None
    except OSError as error:
        raise VideoInputError(f"cannot read video {str(path)!r}: {error.strerror or error}") from None
    if stat.S_ISDIR(mode):
        return "folder"
    if not stat.S_ISREG(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device or socket"
        raise VideoInputError(f"{str(path)!r} is {kind}, not a video file")
    return "file"


def _open_folder(path: Path, rate: Fraction) -> FrameFolderSource:
    from PIL import Image

    files = sorted(
        (
            p
            for p in path.iterdir()
            if p.is_file() and p.suffix.lower() in FRAME_EXTENSIONS and not p.name.startswith(".")
        ),
        key=_natural_key,
    )
    if not files:
        raise VideoInputError(f"{str(path)!r} has no frames (image files: {', '.join(sorted(FRAME_EXTENSIONS))})")
    try:
        with Image.open(files[0]) as first:
            width, height = first.size
    except (OSError, ValueError) as error:
        raise VideoInputError(f"frame {str(files[0])!r} cannot be read: {error}") from None
    info = VideoInfo(path, "frames", width, height, rate, len(files), files[0].suffix.lower().lstrip("."))
    return FrameFolderSource(info, files)


def _open_gif(path: Path, rate: Fraction | None) -> GifSource:
    from PIL import Image

    try:
        with Image.open(path) as image:
            if image.format != "GIF":
                raise VideoInputError(f"{str(path)!r} is not a GIF (it is {image.format})")
            width, height = image.size
            count = getattr(image, "n_frames", 1)
            durations = []
            for index in range(count):
                image.seek(index)
                durations.append(image.info.get("duration", 100) or 100)
    except VideoInputError:
        raise
    except Exception as error:  # Pillow raises many types on damaged GIFs
        raise VideoInputError(f"{str(path)!r} is not a readable GIF: {error or type(error).__name__}") from None
    if rate is None:
        rate = Fraction(1000) / Fraction(float(np.mean(durations))).limit_denominator(1000)
    return GifSource(VideoInfo(path, "gif", width, height, rate.limit_denominator(1001), count, "gif"))


def _open_pyav(path: Path, rate: Fraction | None) -> PyAVSource:
    import av

    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise VideoInputError(
            f"{str(path)!r} is not a readable video (unknown format, corrupt or truncated): {_ffmpeg_reason(error)}"
        ) from None
    with container:
        if not container.streams.video:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
            raise VideoInputError(f"{str(path)!r} has no video stream (streams: {kinds})")
        stream = container.streams.video[0]
        context = stream.codec_context
        if context is None or context.codec is None:
            name = getattr(stream, "codec_tag", None) or "unknown"
            raise VideoInputError(
                f"{str(path)!r}: unsupported video codec {name!r} (this FFmpeg build cannot decode it)"
            )
        if not context.width or not context.height:
            raise VideoInputError(f"{str(path)!r}: the video stream has no frame size (no frames?)")
        rate = rate or stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            raise VideoInputError(f"{str(path)!r}: the video stream has no frame rate; give one (fps)")
        rate = Fraction(rate).limit_denominator(1001)
        count = stream.frames or None
        if count is None and container.duration:
            count = round(container.duration / 1_000_000 * float(rate))
        audio = (
            container.streams.audio[0].codec_context.name
            if container.streams.audio and container.streams.audio[0].codec_context is not None
            else None
        )
        info = VideoInfo(path, "video", context.width, context.height, rate, count, context.name, audio)
    return PyAVSource(info)


# -- writing ----------------------------------------------------------------------------------

OutputKind = Literal["video", "gif", "frames"]


def output_kind(path: str | os.PathLike[str]) -> OutputKind:
    """What :func:`open_video_writer` writes to ``path``: ``"video"`` (H.264), ``"gif"`` or
    ``"frames"`` (a folder: no extension, a trailing slash or an existing folder).

    Raises:
        UsageError: an extension that is none of these.
    """
    text = os.fspath(path)
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir() or not path.suffix:
        return "frames"
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return "gif"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    known = ", ".join([*VIDEO_EXTENSIONS, ".gif"])
    raise UsageError(
        f"unknown video output extension {suffix!r} in {text!r}; use one of {known}, or a folder for PNG frames"
    )


def check_output_location(path: str | os.PathLike[str]) -> OutputKind:
    """:func:`output_kind`, plus the checks that need no frames: a folder output must not hold
    files already, a file output must not be a folder's name (before any work is done)."""
    kind = output_kind(path)
    path = Path(path)
    if kind == "frames" and path.is_dir() and any(path.iterdir()):
        raise UsageError(f"output folder {str(path)!r} is not empty; frames go to a new or empty folder")
    if kind != "frames" and path.is_dir():
        raise UsageError(f"output {str(path)!r} is a folder")
    return kind


def check_output(path: str | os.PathLike[str], fps: float | Fraction | None, crf: int = DEFAULT_CRF) -> OutputKind:
    """Everything :func:`open_video_writer` checks before it creates anything: the location
    (:func:`check_output_location`), the frame rate and the H.264 quality.

    Raises:
        UsageError: the first problem found.
    """
    kind = check_output_location(path)
    if _check_fps(fps) is None:
        raise UsageError("an output needs a frame rate (fps)")
    if not is_int(crf, 0, 51):
        raise UsageError(f"crf must be an integer in [0, 51] (0 lossless, 18 visually lossless). Got {crf!r}")
    return kind


class VideoWriter:
    """Writes frames to a temporary output and publishes it on :meth:`close`.

    Use as a context manager: leaving the block normally publishes the output (rename), an
    exception (Ctrl-C included) removes the temporary output and re-raises.
    """

    def __init__(self, path: Path, temporary: Path):
        self.path = path
        self.temporary = temporary
        self.frames_written = 0
        self.notes: list[str] = []

    def write(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """Flush encoders and close files (the output is still under its temporary name)."""

    def _release(self) -> None:
        """Close whatever is open without completing it (called before removing the temporary)."""

    def close(self) -> Path:
        if self.frames_written == 0:
            self.abort()
            raise OutputError(f"no frames to write to {str(self.path)!r}")
        try:
            self._finish()
            folder = self.temporary.is_dir()
            os.chmod(self.temporary, default_mode(folder))  # before the rmdir: if it fails, the folder stays
            if folder and self.path.is_dir():
                self.path.rmdir()  # an empty folder (checked before): replaced by the frames
            os.replace(self.temporary, self.path)
        except OSError as error:
            self.abort()
            raise OutputError(f"cannot write {str(self.path)!r}: {error.strerror or error}") from None
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Remove the temporary output (idempotent)."""
        try:
            self._release()
        finally:
            if self.temporary.is_dir():
                shutil.rmtree(self.temporary, ignore_errors=True)
            else:
                self.temporary.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def _temporary_near(path: Path, folder: bool) -> Path:
    try:
        if folder:
            return temporary_beside(path, folder=True)
        return temporary_beside(path, prefix=f".{path.stem}.", suffix=f".part{path.suffix}")
    except OSError as error:
        raise OutputError(f"cannot write {str(path)!r}: {error.strerror or error}") from None


class FrameFolderWriter(VideoWriter):
    """Numbered PNG frames (``frame_000001.png``...) in a folder."""

    def write(self, frame: np.ndarray) -> None:
        from PIL import Image

        self.frames_written += 1
        try:
            Image.fromarray(frame).save(self.temporary / f"frame_{self.frames_written:06d}.png")
        except OSError as error:
            raise OutputError(f"cannot write {str(self.path)!r}: {error.strerror or error}") from None


class GifWriter(VideoWriter):
    """An animated GIF (looping), written by Pillow when closed; frames are kept until then (GIFs
    are short) so that the palette can be chosen per frame with the whole clip written at once."""

    def __init__(self, path: Path, temporary: Path, fps: Fraction):
        super().__init__(path, temporary)
        self.duration_ms = max(20, round(1000 / float(fps)))  # browsers treat < 20 ms as 100 ms
        self.images: list[Any] = []

    def write(self, frame: np.ndarray) -> None:
        from PIL import Image

        self.images.append(
            Image.fromarray(frame).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        )
        self.frames_written += 1

    def _finish(self) -> None:
        first, *rest = self.images
        first.save(
            self.temporary,
            format="GIF",
            save_all=True,
            append_images=rest,
            duration=self.duration_ms,
            loop=0,
            disposal=1,
        )
        self.images = []

    def _release(self) -> None:
        self.images = []


class H264Writer(VideoWriter):
    """H.264 (libx264, yuv420p) in an MP4/MOV/MKV container, with the source's audio.

    yuv420p needs even sizes: an odd last row or column is dropped.
    """

    def __init__(
        self,
        path: Path,
        temporary: Path,
        fps: Fraction,
        crf: int,
        audio_from: VideoInfo | None,
        x264_preset: str = DEFAULT_X264_PRESET,
    ):
        import av

        super().__init__(path, temporary)
        self.fps = fps
        self.crf = crf
        self.x264_preset = x264_preset
        self.audio_from = (
            audio_from if audio_from is not None and audio_from.has_audio and audio_from.kind == "video" else None
        )
        try:
            self.container = av.open(str(temporary), "w", format=VIDEO_EXTENSIONS[path.suffix.lower()])
        except av.FFmpegError as error:
            temporary.unlink(missing_ok=True)
            raise OutputError(f"cannot write {str(path)!r}: {_ffmpeg_reason(error)}") from None
        self.stream: Any = None

    def _start(self, height: int, width: int) -> None:
        self.stream = self.container.add_stream("libx264", rate=self.fps)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        self.stream.options = {"crf": str(self.crf), "preset": self.x264_preset}
        self._add_audio()

    def write(self, frame: np.ndarray) -> None:
        import av

        height, width = frame.shape[0] // 2 * 2, frame.shape[1] // 2 * 2
        if height == 0 or width == 0:
            raise OutputError(f"cannot write {str(self.path)!r}: H.264 needs frames of at least 2x2 pixels")
        if self.stream is None:
            self._start(height, width)
        elif (height, width) != (self.stream.height, self.stream.width):
            raise OutputError(
                f"frame {self.frames_written + 1} is {width}x{height}; the video is "
                f"{self.stream.width}x{self.stream.height}"
            )
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:height, :width]), format="rgb24")
        video_frame.pts = self.frames_written
        self.container.mux(self.stream.encode(video_frame))
        self.frames_written += 1
        self._pump_audio(self.frames_written / float(self.fps))

    # audio: copied packet by packet when the output container takes the codec, else AAC; muxed
    # along with the video (each frame pulls the audio up to its end) so that the two interleave
    def _add_audio(self) -> None:
        import av

        if self.audio_from is None:
            return
        self._audio_input = av.open(str(self.audio_from.path))
        source = self._audio_input.streams.audio[0]
        self._audio_copy = _container_takes(self.container.format.name, source)
        if self._audio_copy:
            self._audio_stream = self.container.add_stream_from_template(source)
        else:
            self._audio_stream = self.container.add_stream("aac", rate=source.codec_context.sample_rate or 44100)
            self._audio_stream.layout = source.codec_context.layout
            self.notes.append(f"audio: {source.codec_context.name} re-encoded to AAC for {self.path.suffix}")
        self._audio_packets = self._audio_output()
        self._audio_pending: tuple[float, list[Any]] | None = None

    def _audio_output(self) -> Iterator[tuple[float, list[Any]]]:
        """``(seconds from the first video frame, output packets)`` in order."""
        import av

        source_container = self._audio_input
        source = source_container.streams.audio[0]
        video = source_container.streams.video[0] if source_container.streams.video else None
        start = float(video.start_time * video.time_base) if video is not None and video.start_time is not None else 0.0
        if self._audio_copy:
            shift = round(start / source.time_base)
            for packet in source_container.demux(source):
                if packet.dts is None or packet.size == 0:
                    continue
                packet.dts -= shift
                packet.pts = None if packet.pts is None else packet.pts - shift  # negative: encoder priming, kept
                packet.stream = self._audio_stream
                yield float(packet.dts * source.time_base), [packet]
            return
        resampler = av.AudioResampler(format="fltp", layout=self._audio_stream.layout, rate=self._audio_stream.rate)
        for frame in source_container.decode(source):
            seconds = float(frame.time or 0.0) - start
            frame.pts = None
            if seconds < 0:
                continue
            for converted in resampler.resample(frame):
                yield seconds, list(self._audio_stream.encode(converted))
        for converted in resampler.resample(None):
            yield math.inf, list(self._audio_stream.encode(converted))
        yield math.inf, list(self._audio_stream.encode(None))

    def _pump_audio(self, until_seconds: float) -> None:
        """Mux the audio up to ``until_seconds`` (``inf``: all of it)."""
        if self.audio_from is None:
            return
        while True:
            if self._audio_pending is None:
                self._audio_pending = next(self._audio_packets, None)
                if self._audio_pending is None:
                    return
            seconds, packets = self._audio_pending
            if seconds > until_seconds:
                return
            self.container.mux(packets)
            self._audio_pending = None

    def _finish(self) -> None:
        import av

        try:
            self.container.mux(self.stream.encode(None))
            self._pump_audio(math.inf)
            self.container.close()
        except av.FFmpegError as error:
            raise OutputError(f"cannot write {str(self.path)!r}: {_ffmpeg_reason(error)}") from None
        finally:
            self._close_audio_input()

    def _close_audio_input(self) -> None:
        audio_input = getattr(self, "_audio_input", None)
        if audio_input is not None:
            audio_input.close()
            self._audio_input = None

    def _release(self) -> None:
        self._close_audio_input()
        with contextlib.suppress(Exception):  # closing a half-written file on the way out; it is removed next
            self.container.close()


def _container_takes(format_name: str, audio_stream: Any) -> bool:
    """Whether ``format_name`` can hold ``audio_stream``'s codec as it is (a header written in memory)."""
    import io

    import av

    try:
        with av.open(io.BytesIO(), "w", format=format_name.split(",")[0]) as probe:
            probe.add_stream_from_template(audio_stream)
            probe.start_encoding()
    except (av.FFmpegError, ValueError, NotImplementedError):
        return False
    return True


def open_video_writer(
    path: str | os.PathLike[str],
    fps: float | Fraction,
    crf: int = DEFAULT_CRF,
    audio_from: VideoInfo | None = None,
) -> VideoWriter:
    """A writer for ``path`` (H.264 file, GIF or frame folder: :func:`output_kind`).

    Args:
        fps: frames per second of the output.
        crf: H.264 quality (0 lossless .. 51 worst; 18 looks lossless).
        audio_from: copy this source's first audio stream into an H.264 output (other outputs
            have no audio: the writer's ``notes`` say it was dropped).

    Raises:
        UsageError: unknown extension, non-empty output folder, bad ``crf`` or ``fps``.
        OutputError: the destination cannot be written.
    """
    kind = check_output(path, fps, crf)
    rate = _check_fps(fps) or DEFAULT_FOLDER_FPS
    path = Path(path)
    if kind == "frames":
        writer: VideoWriter = FrameFolderWriter(path, _temporary_near(path, folder=True))
    elif kind == "gif":
        writer = GifWriter(path, _temporary_near(path, folder=False), rate)
    else:
        writer = H264Writer(path, _temporary_near(path, folder=False), rate, crf, audio_from)
    if audio_from is not None and audio_from.has_audio and kind != "video":
        writer.notes.append(f"audio: not kept ({kind} output has no sound)")
    return writer
