"""``speed``: quality (the served preset) or fast (the preset distilled from it), side by side.

The fast students are tests/conftest.py's ``fast_home`` (random, seeded, imported as ``adain
weights import`` does). Whether the package ships fast weights does not matter here: where fast
must be missing, the availability check is told so (or the server runs with ``fast=False``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from adain.errors import WeightsError
from adain.pipeline.options import StylizeOptions
from adain.server import ServerConfig
from adain.server.jobs import encode_image
from adain.styles.library import resolve_style
from adain.video.temporal import ContentStatisticsEMA

STYLE = "antimonocromatismo"
OTHER_STYLE = "water-lilies-1919-2"


def post(client: TestClient, content: bytes, **fields: Any) -> Any:
    files = {
        name: (f"{name}.png", fields.pop(name), "image/png")
        for name in ("style_image", "style2_image", "mask")
        if name in fields
    }
    files["content"] = ("photo.png", content, "image/png")
    return client.post("/v1/stylize", files=files, data={k: str(v) for k, v in fields.items()})


def frame(client: TestClient, session: str, image: bytes, **fields: Any) -> Any:
    data = {"style": STYLE, "size": "64", **{k: str(v) for k, v in fields.items()}}
    return client.post(f"/v1/live/{session}/frames", files={"frame": ("frame.jpg", image, "image/jpeg")}, data=data)


def jpeg(width: int, height: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def error_of(response: Any, status: int, code: str, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    assert "Traceback" not in body["detail"] and "\n" not in body["detail"], body
    for word in words:
        assert word in body["detail"], body
    return body["detail"]


@pytest.fixture
def no_fast_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast students are missing, whatever this checkout ships or the cache holds."""
    from adain.server import speeds

    real = speeds.component_status
    monkeypatch.setattr(
        speeds,
        "component_status",
        lambda preset, component, home=None: ("missing", None) if preset == "fast" else real(preset, component, home),
    )


def test_fast_is_offered_and_stylizes(
    fast_home: Path,
    client: TestClient,
    tmp_path: Path,
    png: Callable[..., bytes],
    decoded: Callable[[bytes], np.ndarray],
) -> None:
    """With the students installed, info lists fast; it is loaded by the first request for it, gives
    an image of the size asked for, other than quality's and equal to the fast pipeline's own; bank
    styles (the teacher's statistics), uploaded styles, masks and attention all work with it."""
    state = client.app.state.adain
    info = client.get("/v1/info").json()
    assert info["speed"] == "quality"
    assert info["speeds"] == {
        "quality": {"preset": "vgg16-hed", "available": True, "reason": None},
        "fast": {"preset": "fast", "available": True, "reason": None},
    }
    assert state.speeds._fast is None  # not loaded until asked for
    content = png(96, 64, seed=1)
    quality = post(client, content, style=STYLE)
    fast = post(client, content, style=STYLE, speed=" Fast ")
    assert quality.status_code == fast.status_code == 200, fast.text
    assert (quality.headers["x-adain-speed"], fast.headers["x-adain-speed"]) == ("quality", "fast")
    assert decoded(fast.content).shape == decoded(quality.content).shape == (64, 96, 3)
    assert np.abs(decoded(fast.content).astype(int) - decoded(quality.content)).mean() > 1
    pipeline = state.speeds.pipeline("fast")
    assert pipeline.preset == "fast" and pipeline is not state.pipeline
    path = tmp_path / "content.png"
    path.write_bytes(content)
    options = StylizeOptions(size=64, max_size=128, style_size=64, max_pixels=100_000)
    own = pipeline(path, [resolve_style(f"bank:{STYLE}", "fast")], options).image
    np.testing.assert_array_equal(decoded(fast.content), np.asarray(own.convert("RGB")))
    # an uploaded style, two bank styles with a mask, attention with a style image
    style_image, mask = png(40, 40, seed=2), png(96, 64, seed=3, mode="L")
    cases = [
        {"style_image": style_image},
        {"style": STYLE, "style2": OTHER_STYLE, "mask": mask},
        {"style_image": style_image, "method": "attention"},
    ]
    for fields in cases:
        answers = [post(client, content, speed=speed, **fields) for speed in ("quality", "fast")]
        assert [a.status_code for a in answers] == [200, 200], (list(fields), answers[1].text)
        images = [decoded(a.content).astype(int) for a in answers]
        assert images[1].shape == (64, 96, 3) and np.abs(images[0] - images[1]).mean() > 1, list(fields)
    # a bank style without features is refused with attention, as with quality
    error_of(post(client, content, style=STYLE, speed="fast", method="attention"), 400, "bad_parameter", "style_image")
    # the live camera: fast frames; switching speed restarts the temporal smoothing
    session = client.post("/v1/live").json()["id"]
    first, second = jpeg(85, 64, 1), jpeg(85, 64, 2)
    assert frame(client, session, first).status_code == 200
    answer = frame(client, session, second, speed="fast")
    assert answer.status_code == 200 and answer.headers["x-adain-speed"] == "fast", answer.text
    live_options = StylizeOptions(size=64, max_size=128, max_pixels=100_000)
    fresh = pipeline(
        Image.open(io.BytesIO(second)),
        [resolve_style(f"bank:{STYLE}", "fast")],
        live_options,
        content_statistics_filter=ContentStatisticsEMA(0.7),
    )
    expected = np.asarray(Image.open(io.BytesIO(encode_image(fresh.image, "jpeg"))).convert("RGB"))
    np.testing.assert_array_equal(decoded(answer.content), expected)


def test_fast_off_or_missing_is_said_and_refused(
    make_client: Callable[..., TestClient],
    server_config: ServerConfig,
    no_fast_weights: None,
    png: Callable[..., bytes],
) -> None:
    """Without the students (or with fast=False) the server starts, info says why fast is off, and
    a request for it is one clean 400; quality still works. A bad value is a 400 of its own."""
    for config, words in (
        (server_config, ("distilled preset 'fast' are not installed", "missing: its encoder and decoder")),
        (replace(server_config, fast=False), ("turned off", "--no-fast")),
    ):
        client = make_client(config)
        fast = client.get("/v1/info").json()["speeds"]["fast"]
        assert fast["preset"] == "fast" and fast["available"] is False, fast
        assert all(word in fast["reason"] for word in words), fast
        detail = error_of(post(client, png(), style=STYLE, speed="fast"), 400, "speed_unavailable", *words)
        assert detail.startswith("speed 'fast' is not available: ")
        session = client.post("/v1/live").json()["id"]
        error_of(frame(client, session, jpeg(64, 48, 1), speed="fast"), 400, "speed_unavailable", *words)
        assert post(client, png(), style=STYLE, speed="quality").status_code == 200
        assert client.app.state.adain.speeds._fast is None
    for value in ("turbo", "vgg16-hed"):
        error_of(post(client, png(), style=STYLE, speed=value), 400, "bad_parameter", "speed must be quality or fast")
        error_of(frame(client, session, jpeg(64, 48, 1), speed=value), 400, "bad_parameter", repr(value))
    schema = client.get("/openapi.json").json()
    form = schema["paths"]["/v1/stylize"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert "fast" in form["properties"]["speed"]["description"]


def test_students_that_fail_to_load_turn_fast_off(
    fast_home: Path, client: TestClient, png: Callable[..., bytes]
) -> None:
    """Weights on disk that do not load: that request and the later ones are a clean 400, and info says
    why (the error itself, which names the server's files, goes to the log)."""
    state = client.app.state.adain
    calls = []

    def broken(preset: str) -> Any:
        calls.append(preset)
        raise WeightsError("fast-encoder.safetensors: truncated file")

    state.speeds._build = broken
    for _ in range(2):
        detail = error_of(post(client, png(), style=STYLE, speed="fast"), 400, "speed_unavailable", "failed to load")
        assert "WeightsError" in detail and "safetensors" not in detail  # the file's name is for the log only
    assert calls == ["fast"]  # not tried again
    fast = client.get("/v1/info").json()["speeds"]["fast"]
    assert fast["available"] is False and "server log" in fast["reason"], fast
    assert post(client, png(), style=STYLE).status_code == 200


def test_a_preset_nothing_is_distilled_from_has_no_fast(random_pipeline: Any) -> None:
    """``--preset vgg19`` (or ``fast`` itself): quality only, and info says so."""
    from adain.server.speeds import Speeds

    for preset in ("vgg19", "fast"):
        speeds = Speeds(random_pipeline, preset, lambda name: pytest.fail(f"built {name}"))
        fast = speeds.public()["fast"]
        assert fast["preset"] is None and fast["available"] is False and "no preset is distilled" in fast["reason"]
        assert speeds.public()["quality"] == {"preset": preset, "available": True, "reason": None}
        assert speeds.pipeline("quality") is random_pipeline
