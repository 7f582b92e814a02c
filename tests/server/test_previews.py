"""Style previews: rendered by the server's decoder from each style's statistics onto a generated
pattern, cached on disk under a key of the statistics and the decoder, lazily or in a background
thread; a style a person uploads shows a thumbnail of their own image."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from adain.pipeline.options import StylizeOptions
from adain.pipeline.stylize import StylizationPipeline
from adain.server import ServerConfig
from adain.server.previews import RENDER_SCALE, preview_pattern, statistics_digest, weights_digest
from adain.styles.library import resolve_style

STYLE = "antimonocromatismo"
OTHER_STYLE = "water-lilies-1919-2"


def picture(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return np.asarray(image.convert("RGB")).astype(int)


def preview_of(client: TestClient, name: str) -> Any:
    url = next(s["preview"] for s in client.get("/v1/styles").json() if s["name"] == name)
    return client.get(url)


def test_pattern_is_fixed_and_has_structure() -> None:
    pattern = preview_pattern(96)
    assert pattern.shape == (96, 96, 3) and (preview_pattern(96) == pattern).all()
    assert pattern.std() > 30  # sky, hills, a house: not a flat swatch


def test_preview_is_the_decoders_rendering_of_the_pattern(
    client: TestClient, random_pipeline: StylizationPipeline, server_config: ServerConfig
) -> None:
    response = preview_of(client, STYLE)
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-adain-preview"] == "rendered"
    image = picture(response.content)
    assert image.shape == (96, 96, 3)
    # the pipeline's own stylization of the pattern with the bank style's statistics
    side = 96 * RENDER_SCALE
    own = random_pipeline(
        Image.fromarray(preview_pattern(side)),
        [resolve_style(f"bank:{STYLE}", "vgg16-hed")],
        StylizeOptions(size=side, max_size=side),
    ).image.resize((96, 96), Image.Resampling.LANCZOS)
    assert np.abs(image - np.asarray(own.convert("RGB")).astype(int)).mean() < 3  # JPEG's loss only
    other = picture(preview_of(client, OTHER_STYLE).content)
    assert np.abs(image - other).mean() > 0.1  # styles differ (a random decoder's outputs are dark)
    assert np.abs(image - preview_pattern(96).astype(int)).mean() > 10  # and differ from the pattern
    # cached on disk
    assert len(list((server_config.preview_cache / "rendered").glob("*.jpg"))) == 2


def test_cache_is_keyed_by_statistics_and_decoder(
    make_client: Callable[..., TestClient],
    server_config: ServerConfig,
    multilevel_pipeline: StylizationPipeline,
    random_pipeline: StylizationPipeline,
) -> None:
    first = make_client()
    image = preview_of(first, STYLE).content
    assert first.app.state.adain.previews.rendered == 1
    # a new server with the same decoder reads it back from disk
    again = make_client()
    assert preview_of(again, STYLE).content == image and again.app.state.adain.previews.rendered == 0
    # another decoder: another key, a new rendering
    other = make_client(pipeline=multilevel_pipeline)
    assert preview_of(other, STYLE).content != image and other.app.state.adain.previews.rendered == 1
    assert weights_digest(multilevel_pipeline.decoder) != weights_digest(random_pipeline.decoder)
    # the key follows the statistics: the version in the listing is the statistics' digest
    digest = statistics_digest(resolve_style(f"bank:{STYLE}", "vgg16-hed"))
    listed = next(s for s in first.get("/v1/styles").json() if s["name"] == STYLE)
    assert listed["preview"].endswith(f"?v={digest[:16]}")
    assert len(list((server_config.preview_cache / "rendered").glob("*.jpg"))) == 2


def test_unknown_style_is_a_json_404(client: TestClient) -> None:
    response = client.get("/v1/styles/no-such-style/preview")
    assert response.status_code == 404 and response.json()["error"] == "unknown_style"


def test_an_unwritable_cache_keeps_previews_in_memory(
    make_client: Callable[..., TestClient], server_config: ServerConfig, tmp_path: Any
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    client = make_client(replace(server_config, preview_cache=blocker))
    first = preview_of(client, STYLE)
    assert first.status_code == 200 and preview_of(client, STYLE).content == first.content
    assert client.app.state.adain.previews.rendered == 1


def test_uploaded_style_shows_a_thumbnail_of_its_image(
    client: TestClient, png: Callable[..., bytes], server_config: ServerConfig
) -> None:
    y, x = np.mgrid[0:120, 0:160]
    artwork = np.stack([x * 255 // 160, y * 255 // 120, np.full_like(x, 40)], -1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(artwork).save(buffer, "PNG")
    added = client.post(
        "/v1/styles", data={"name": "mine"}, files={"style_image": ("gradient.png", buffer.getvalue(), "image/png")}
    )
    assert added.status_code == 201, added.text
    response = preview_of(client, "mine")
    assert response.headers["x-adain-preview"] == "thumbnail"
    thumbnail = picture(response.content)
    expected = np.asarray(Image.fromarray(artwork[:, 20:140]).resize((96, 96), Image.Resampling.LANCZOS)).astype(int)
    assert thumbnail.shape == (96, 96, 3) and np.abs(thumbnail - expected).mean() < 6
    assert list((server_config.preview_cache / "thumbnails").glob("*.jpg"))
    # replaced with another image: the thumbnail follows (its key is the new statistics)
    client.post(
        "/v1/styles",
        data={"name": "mine", "replace": "true"},
        files={"style_image": ("noise.png", png(80, 80, seed=3), "image/png")},
    )
    assert np.abs(picture(preview_of(client, "mine").content) - thumbnail).mean() > 10


def test_warmup_renders_in_the_background_and_waits_while_busy(
    make_client: Callable[..., TestClient], server_config: ServerConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adain.server.previews import StylePreviews
    from adain.server.workers import WorkerPool

    names = [STYLE, OTHER_STYLE, "udnie"]
    monkeypatch.setattr(StylePreviews, "missing", lambda self: list(names))
    busy = {"now": True}
    monkeypatch.setattr(WorkerPool, "busy", lambda self: busy["now"])  # as if a stylization ran
    monkeypatch.setattr("adain.server.previews.WARMUP_PAUSE_S", 0.02)
    client = make_client(replace(server_config, preview_warmup=True))  # started: the server answers at once
    previews = client.app.state.adain.previews
    assert client.get("/healthz").status_code == 200
    time.sleep(0.3)
    assert previews.rendered == 0  # a stylization is running: the warm-up waits
    busy["now"] = False
    deadline = time.monotonic() + 60
    while previews.rendered < len(names) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert previews.rendered == len(names)
    assert preview_of(client, "udnie").status_code == 200 and previews.rendered == len(names)  # from the cache
