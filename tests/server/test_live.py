"""The live (webcam) mode's API: sessions, frames stylized with temporal smoothing across them,
the latest frame winning over a waiting one, and its limits."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from adain.pipeline.options import StylizeOptions
from adain.pipeline.stylize import StylizationPipeline
from adain.server import ServerConfig, create_app
from adain.server.jobs import encode_image
from adain.styles.library import resolve_style
from adain.video.temporal import ContentStatisticsEMA

STYLE = "antimonocromatismo"


def jpeg(width: int, height: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    array = np.stack([x * 255 // width, y * 255 // height, (x + y) % 255], -1) + rng.integers(0, 40, (height, width, 3))
    buffer = io.BytesIO()
    Image.fromarray(array.clip(0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def send(client: TestClient, session: str, frame: bytes, **fields: Any) -> Any:
    data = {"style": STYLE, **{k: str(v) for k, v in fields.items()}}
    return client.post(f"/v1/live/{session}/frames", files={"frame": ("frame.jpg", frame, "image/jpeg")}, data=data)


def own(pipeline: StylizationPipeline, frame: bytes, ema: ContentStatisticsEMA, size: int = 64) -> np.ndarray:
    """The pipeline's own stylization of ``frame`` through ``ema``, encoded as the server encodes it."""
    options = StylizeOptions(size=size, max_size=2 * size, max_pixels=100_000)
    image = Image.open(io.BytesIO(frame))
    result = pipeline(image, [resolve_style(f"bank:{STYLE}", "vgg16-hed")], options, content_statistics_filter=ema)
    return decoded(encode_image(result.image, "jpeg"))


def test_frames_are_stylized_with_temporal_smoothing(client: TestClient, random_pipeline: StylizationPipeline) -> None:
    opened = client.post("/v1/live")
    assert opened.status_code == 201
    session = opened.json()
    assert session["size"] == 128 and session["max_size"] == 128  # the test server's max_size caps 256
    first, second = jpeg(85, 64, 1), jpeg(85, 64, 2)
    answer = send(client, session["id"], first, size=64)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/jpeg" and answer.headers["x-adain-frame"] == "1"
    image = decoded(answer.content)
    assert image.shape == (64, 85, 3)
    assert np.abs(image - decoded(first)).mean() > 20  # stylized: not the input
    ema = ContentStatisticsEMA(0.7)
    np.testing.assert_array_equal(image, own(random_pipeline, first, ema))
    # the second frame is normalised with the moving average of both frames' content statistics
    smoothed = decoded(send(client, session["id"], second, size=64).content)
    np.testing.assert_array_equal(smoothed, own(random_pipeline, second, ema))
    assert np.abs(smoothed - own(random_pipeline, second, ContentStatisticsEMA(0.7))).max() > 0
    # reset: the average starts again from this frame
    fresh = decoded(send(client, session["id"], second, size=64, reset="true").content)
    np.testing.assert_array_equal(fresh, own(random_pipeline, second, ContentStatisticsEMA(0.7)))
    closed = client.delete(f"/v1/live/{session['id']}")
    assert closed.json() == {"id": session["id"], "frames": 3, "dropped": 0, "closed": True}
    assert send(client, session["id"], first).json()["error"] == "unknown_session"


def test_bad_frames_and_limits(client: TestClient) -> None:
    session = client.post("/v1/live").json()["id"]
    frame = jpeg(64, 48, 3)

    def error(response: Any, status: int, code: str) -> None:
        assert response.status_code == status, response.text
        assert response.json()["error"] == code, response.json()

    error(send(client, session, frame, size=200), 400, "bad_parameter")  # over this server's max_size (128)
    error(send(client, session, frame, size=8), 400, "bad_parameter")
    error(send(client, session, frame, style="no-such-style"), 400, "unknown_style")
    error(send(client, session, frame, colour="red"), 400, "unknown_field")
    error(send(client, session, b"not an image"), 400, "bad_image")
    error(client.post(f"/v1/live/{session}/frames", data={"style": STYLE}), 400, "missing_parameter")
    error(send(client, "0" * 32, frame), 404, "unknown_session")
    error(client.delete("/v1/live/nope"), 404, "unknown_session")
    # at most workers + queue sessions (3 here) at once; idle ones are forgotten
    opened = [client.post("/v1/live") for _ in range(3)]
    assert [r.status_code for r in opened] == [201, 201, 503]
    assert "Retry-After" in opened[-1].headers
    client.app.state.adain.live.idle_s = 0.0
    assert client.post("/v1/live").status_code == 201


class Slow:
    """A pipeline that takes ``delay`` seconds longer per call (to hold a frame while others arrive)."""

    def __init__(self, pipeline: StylizationPipeline, delay: float) -> None:
        self.pipeline, self.delay = pipeline, delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipeline, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(self.delay)
        return self.pipeline(*args, **kwargs)


def test_latest_frame_wins(random_pipeline: StylizationPipeline, server_config: ServerConfig) -> None:
    """Frame 1 runs; frame 2 waits; frame 3 arrives: frame 2 is dropped (204), never run, and frame 3
    runs next. Nothing queues behind a session's running frame but its newest frame."""
    import httpx

    app = create_app(server_config, Slow(random_pipeline, 0.6))
    state = app.state.adain

    async def scenario() -> list[Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            session_id = (await client.post("/v1/live")).json()["id"]
            session = state.live.get(session_id)

            def frame(seed: int) -> Any:
                files = {"frame": ("frame.jpg", jpeg(64, 48, seed), "image/jpeg")}
                return client.post(f"/v1/live/{session_id}/frames", files=files, data={"style": STYLE})

            async def until(condition: Callable[[], bool]) -> None:
                deadline = time.monotonic() + 30
                while not condition():
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.01)

            one = asyncio.ensure_future(frame(1))
            await until(lambda: state.pool.stats()["running"] == 1)
            two = asyncio.ensure_future(frame(2))
            await until(lambda: session.latest == 2)
            three = asyncio.ensure_future(frame(3))
            answers = await asyncio.gather(one, two, three)
            assert (session.frames, session.dropped) == (2, 1)
            return answers

    try:
        one, two, three = asyncio.run(scenario())
    finally:
        state.close()
    assert (one.status_code, two.status_code, three.status_code) == (200, 204, 200)
    assert two.headers["x-adain-dropped"] == "superseded" and not two.content
    assert three.headers["x-adain-frame"] == "2"
