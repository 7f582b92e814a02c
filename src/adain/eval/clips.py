"""Generated video clips with known content, for tests, benchmarks and ``adain eval video``.

:func:`shapes_clip` is a textured background under a slow camera pan with coloured shapes moving
across it independently (occlusions, disocclusions, motion in two directions): the situation in
which per-frame stylization flickers. :func:`photo_clip` does the same over a real photograph
(a pan and zoom over ``skimage.data`` images with a cut-out object moving across), for a clip
with natural image statistics that needs no video file. :func:`write_clip` stores any frames as
an H.264 file, with a tone as its audio track when asked, so that the whole path (decode,
stylize, encode, copy audio) can be tested end to end on a file made on the spot.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from adain.errors import UsageError

__all__ = ["photo_clip", "shapes_clip", "tone", "write_clip", "write_sound"]

#: ``(height, width, 3)`` uint8 RGB frames.
Frames = list[np.ndarray]


def _texture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A colourful, structured background ``(height, width, 3)`` float32 in [0, 1]: a few
    oriented sinusoids (edges for the flow to lock onto) plus smoothed noise (texture)."""
    import cv2

    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for _ in range(3):
        value = np.zeros((height, width), np.float32)
        for _ in range(3):
            angle, period, phase = rng.uniform(0, np.pi), rng.uniform(9, 40), rng.uniform(0, 2 * np.pi)
            value += np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / period + phase)
        noise = cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32), (0, 0), 2.0)
        channels.append(value / 6 + noise * 1.5)
    texture = np.stack(channels, axis=2)
    texture -= texture.min()
    return texture / max(float(texture.max()), 1e-6)


def shapes_clip(
    frames: int = 24, height: int = 64, width: int = 96, seed: int = 0, cut_at: int | None = None
) -> Frames:
    """Moving shapes over a panning textured background.

    Args:
        frames: number of frames.
        height, width: frame size.
        seed: the texture and the shapes' colours, sizes, paths.
        cut_at: from this frame on, show another scene (a new texture and shapes): a scene cut.

    Returns:
        ``frames`` arrays ``(height, width, 3)`` uint8 RGB.
    """
    if frames < 1 or height < 8 or width < 8:
        raise UsageError(f"a clip needs >= 1 frame of at least 8x8 pixels. Got {frames} frames of {width}x{height}")
    scenes = [_shapes_scene(height, width, np.random.default_rng(seed))]
    if cut_at is not None:
        scenes.append(_shapes_scene(height, width, np.random.default_rng(seed + 1000)))
    out = []
    for index in range(frames):
        scene, local = (scenes[1], index - cut_at) if cut_at is not None and index >= cut_at else (scenes[0], index)
        out.append(_render_shapes(scene, local, height, width))
    return out


def _shapes_scene(height: int, width: int, rng: np.random.Generator) -> dict:
    margin = max(height, width)
    shapes = []
    for k in range(3):
        radius = rng.uniform(0.12, 0.22) * min(height, width)
        shapes.append(
            {
                "kind": ("circle", "box", "circle")[k],
                "center": np.array([rng.uniform(0.25, 0.75) * width, rng.uniform(0.25, 0.75) * height]),
                "velocity": rng.uniform(0.8, 2.0, 2) * rng.choice([-1, 1], 2),
                "radius": radius,
                "colour": rng.uniform(0.1, 1.0, 3),
            }
        )
    return {
        "texture": _texture(height + 2 * margin, width + 2 * margin, rng),
        "margin": margin,
        "pan": rng.uniform(0.6, 1.2, 2) * rng.choice([-1, 1], 2),
        "shapes": shapes,
    }


def _render_shapes(scene: dict, index: int, height: int, width: int) -> np.ndarray:
    margin = scene["margin"]
    dx, dy = np.round(scene["pan"] * index).astype(int) % margin
    frame = scene["texture"][margin + dy : margin + dy + height, margin + dx : margin + dx + width].copy()
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    for shape in scene["shapes"]:
        cx, cy = shape["center"] + shape["velocity"] * index
        cx, cy = (
            cx % (width + 2 * shape["radius"]) - shape["radius"],
            cy % (height + 2 * shape["radius"]) - shape["radius"],
        )
        if shape["kind"] == "circle":
            inside = (x - cx) ** 2 + (y - cy) ** 2 <= shape["radius"] ** 2
        else:
            inside = (np.abs(x - cx) <= shape["radius"]) & (np.abs(y - cy) <= shape["radius"] * 0.7)
        shading = 0.75 + 0.25 * np.sin((x - cx) / 3.0)[..., None]  # texture on the shape: trackable
        frame[inside] = (shape["colour"] * shading)[inside]
    return (frame * 255 + 0.5).clip(0, 255).astype(np.uint8)


def photo_clip(frames: int = 24, height: int = 64, width: int = 96, seed: int = 0) -> Frames:
    """A pan and slow zoom over a real photograph with a cut-out object (another photograph's
    subject under an elliptical mask) moving across it. Images come from ``skimage.data``.

    Raises:
        UsageError: scikit-image is not installed.
    """
    import cv2

    try:
        from skimage import data
    except ImportError:
        raise UsageError("photo clips need scikit-image (pip install scikit-image)") from None
    rng = np.random.default_rng(seed)
    background = data.coffee() if seed % 2 else data.astronaut()
    subject = data.chelsea()[40:260, 90:360]  # the cat's head and shoulders
    bh, bw = background.shape[:2]
    sh = max(8, int(height * 0.45))
    sw = max(8, int(sh * subject.shape[1] / subject.shape[0]))
    subject = cv2.resize(subject, (sw, sh), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[0:sh, 0:sw]
    alpha = (((yy - sh / 2) / (sh / 2)) ** 2 + ((xx - sw / 2) / (sw / 2)) ** 2 <= 1.0).astype(np.float32)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 1.0)[..., None]
    start, direction = rng.uniform(0.1, 0.3), rng.choice([-1, 1])
    out = []
    for index in range(frames):
        progress = index / max(frames - 1, 1)
        # camera: a window of 60%..52% of the photo's height panning across it
        scale = (0.60 - 0.08 * progress) * bh / height
        view_w = width * scale
        pan = start + 0.3 * progress
        left = (pan if direction > 0 else 1.0 - pan) * (bw - view_w)
        top = 0.15 * bh + 0.05 * bh * progress
        matrix = np.array([[1 / scale, 0, -left / scale], [0, 1 / scale, -top / scale]], np.float32)
        frame = cv2.warpAffine(background, matrix, (width, height), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
        frame = frame.astype(np.float32)
        # the object: left to right with a small bounce, independent of the camera
        ox = round(-sw * 0.5 + progress * (width + sw * 0.2))
        oy = round(height * 0.45 + height * 0.08 * float(np.sin(progress * 2 * np.pi)))
        top_y, left_x = max(0, oy), max(0, ox)
        bottom_y, right_x = min(height, oy + sh), min(width, ox + sw)
        if bottom_y > top_y and right_x > left_x:
            patch = subject[top_y - oy : bottom_y - oy, left_x - ox : right_x - ox]
            weight = alpha[top_y - oy : bottom_y - oy, left_x - ox : right_x - ox]
            region = frame[top_y:bottom_y, left_x:right_x]
            frame[top_y:bottom_y, left_x:right_x] = region * (1 - weight) + patch * weight
        out.append(frame.round().clip(0, 255).astype(np.uint8))
    return out


def tone(seconds: float, sample_rate: int = 22050, frequency: float = 440.0) -> np.ndarray:
    """A mono sine tone ``(1, samples)`` float32 with a short silence every second (so that
    an audio track's timing can be checked by ear and in tests)."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    gate = (t % 1.0) < 0.8
    return (0.3 * np.sin(2 * np.pi * frequency * t) * gate).astype(np.float32)[None]


def _mux_audio(container: Any, stream: Any, samples: np.ndarray, sample_rate: int) -> None:
    """Encode mono ``samples`` ``(1, n)`` into an audio ``stream`` of ``container``, 1,024 at a time, and flush."""
    import av

    for start in range(0, samples.shape[1], 1024):
        chunk = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[:, start : start + 1024]), format="fltp", layout="mono"
        )
        chunk.sample_rate, chunk.pts = sample_rate, start
        container.mux(stream.encode(chunk))
    container.mux(stream.encode(None))


def write_sound(path: str | os.PathLike[str], seconds: float = 0.2, sample_rate: int = 8000) -> Path:
    """An audio-only file (AAC in MP4, e.g. ``.m4a``): a file with no video stream."""
    import av

    path = Path(path)
    samples = tone(seconds, sample_rate)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=sample_rate)
        stream.layout = "mono"
        _mux_audio(container, stream, samples, sample_rate)
    return path


def write_clip(
    frames: Sequence[np.ndarray],
    path: str | os.PathLike[str],
    fps: float | Fraction = 12,
    audio: bool = True,
    sample_rate: int = 22050,
) -> Path:
    """Store ``frames`` (``(H, W, 3)`` uint8, even sizes) as H.264 (near lossless), with a tone
    as an AAC audio track as long as the video when ``audio``. The container follows the
    extension (``.mp4``, ``.mkv``, ``.mov``)."""
    import av

    path = Path(path)
    height, width = frames[0].shape[:2]
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "10", "preset": "veryfast"}
        if audio:
            sound = container.add_stream("aac", rate=sample_rate)
            sound.layout = "mono"
        for frame in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(video.encode(None))
        if audio:
            samples = tone(len(frames) / float(rate), sample_rate)
            _mux_audio(container, sound, samples, sample_rate)
    return path
