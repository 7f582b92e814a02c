"""Server fixtures: a seeded random-decoder pipeline (fast), a config whose state lives in tmp_path,
TestClients, a real uvicorn server in a thread, and small images as bytes."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the server needs the 'serve' extra")
pytest.importorskip("python_multipart", reason="the server needs the 'serve' extra")

from fastapi.testclient import TestClient

from adain.pipeline.stylize import StylizationPipeline
from adain.server import ServerConfig, ServerLimits, create_app

if TYPE_CHECKING:
    from typing_extensions import Self


def png_bytes(width: int = 48, height: int = 32, seed: int = 0, mode: str = "RGB", image_format: str = "PNG") -> bytes:
    """A smooth random image (a photo-like gradient with noise) encoded as ``image_format``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x / max(1, width - 1), y / max(1, height - 1), (x + y) / max(1, width + height - 2)], -1) * 200
    array = (base + rng.integers(0, 55, (height, width, 3))).clip(0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).convert(mode).save(buffer, image_format)
    return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture(scope="session")
def random_pipeline(decoder_file: Path) -> StylizationPipeline:
    """The real pipeline with a seeded random decoder: real code paths, no trained weights needed."""
    return StylizationPipeline.from_preset("vgg16-hed", decoder_path=decoder_file)


@pytest.fixture(scope="session")
def multilevel_pipeline(multilevel_decoder_file: Path) -> StylizationPipeline:
    """The same with a seeded random multi-level decoder (gates open)."""
    return StylizationPipeline.from_preset("vgg16-hed", decoder_path=multilevel_decoder_file)


@pytest.fixture
def server_config(tmp_path: Path) -> ServerConfig:
    """Small limits, and every file the server writes under tmp_path (never the user's bank)."""
    return ServerConfig(
        user_bank=tmp_path / "bank" / "vgg16-hed",
        study_db=tmp_path / "study.sqlite",
        temp_parent=tmp_path / "tmp",
        preview_cache=tmp_path / "previews",
        preview_warmup=False,
        default_size=64,
        style_size=64,
        limits=ServerLimits(
            max_upload_mb=1.0, max_pixels=100_000, max_size=128, request_timeout_s=60, workers=1, queue_size=2
        ),
    )


@pytest.fixture
def make_client(
    random_pipeline: StylizationPipeline, server_config: ServerConfig
) -> Iterator[Callable[..., TestClient]]:
    """``make_client(config=None, pipeline=None)``: a started TestClient (closed at teardown)."""
    clients: list[TestClient] = []

    def make(config: ServerConfig | None = None, pipeline: Any = None, **kwargs: Any) -> TestClient:
        client = TestClient(create_app(config or server_config, pipeline or random_pipeline), **kwargs)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a thread (a real socket, real HTTP), with the
    settings ``adain serve`` runs it with (the guarded protocol, its header timeout)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        from adain.server.protocol import uvicorn_settings

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.app = app
        settings = uvicorn_settings(app.state.adain.config.limits)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", **settings)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(
    random_pipeline: StylizationPipeline, server_config: ServerConfig
) -> Iterator[Callable[..., LiveServer]]:
    """``live_server(config=None, pipeline=None)``: a started :class:`LiveServer` (stopped at teardown)."""
    servers: list[LiveServer] = []

    def start(config: ServerConfig | None = None, pipeline: Any = None) -> LiveServer:
        server = LiveServer(create_app(config or server_config, pipeline or random_pipeline)).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture
def png() -> Callable[..., bytes]:
    """``png(width=48, height=32, seed=0, mode="RGB", image_format="PNG")``: image bytes."""
    return png_bytes


@pytest.fixture
def decoded() -> Callable[[bytes], np.ndarray]:
    """``decoded(data)``: image bytes -> ``(H, W, 3)`` uint8."""
    return decode
