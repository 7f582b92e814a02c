"""Limits on a real uvicorn server (127.0.0.1): a large body is refused without being read, a full
pool answers 503 with Retry-After, and the request timeout holds; plus the pool on its own."""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from adain.server import ServerConfig
from adain.server.workers import JobTimeout, PoolFull, WorkerPool

STYLE = "antimonocromatismo"


class BlockingPipeline:
    """The real pipeline, but each call first waits for ``release`` (so the pool can be filled)."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline, self.preset, self.encoder = pipeline, pipeline.preset, pipeline.encoder
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        self.release.wait(timeout=30)
        return self.pipeline(*args, **kwargs)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    sock.settimeout(10)
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    length = int(headers.get("content-length", 0))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def request_head(port: int, extra: str) -> bytes:
    return (
        f"POST /v1/stylize HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary=xyz\r\n{extra}\r\n"
    ).encode()


class TestUploadLimit:
    def test_declared_length_is_refused_before_any_body(self, live_server: Callable[..., Any]) -> None:
        server = live_server()
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(request_head(server.port, "Content-Length: 52428800\r\n"))  # 50 MB announced, none sent
            status, headers, body = read_response(sock)
        assert status == 413 and json.loads(body)["error"] == "upload_too_large"
        assert headers["connection"] == "close"

    def test_streamed_body_is_cut_at_the_limit(self, live_server: Callable[..., Any]) -> None:
        server = live_server()  # limit 1 MB
        sent, chunk = 0, b"x" * (128 * 1024)
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(request_head(server.port, "Transfer-Encoding: chunked\r\n"))
            body = b'--xyz\r\nContent-Disposition: form-data; name="content"; filename="a.png"\r\n\r\n'
            sock.sendall(b"%x\r\n%s\r\n" % (len(body), body))
            answered = False
            while sent < 64 * 1024 * 1024 and not answered:  # would be 64 MB if the server read on
                if select.select([sock], [], [], 0)[0]:
                    answered = True
                    break
                try:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += len(chunk)
            status, _, body = read_response(sock)
        assert status == 413 and json.loads(body)["error"] == "upload_too_large"
        assert sent < 8 * 1024 * 1024  # refused soon after 1 MB, not after reading everything


class TestPoolAndTimeout:
    def test_full_pool_answers_503_with_retry_after(
        self,
        live_server: Callable[..., Any],
        random_pipeline: Any,
        server_config: ServerConfig,
        png: Callable[..., bytes],
    ) -> None:
        blocking = BlockingPipeline(random_pipeline)
        config = replace(server_config, limits=replace(server_config.limits, workers=1, queue_size=1))
        server = live_server(config, blocking)
        files = {"content": ("a.png", png(), "image/png")}
        results: list[httpx.Response] = []

        def send() -> None:
            results.append(httpx.post(f"{server.url}/v1/stylize", files=files, data={"style": STYLE}, timeout=60))

        def pool() -> dict[str, int]:
            return httpx.get(f"{server.url}/healthz").json()["pool"]

        threads = [threading.Thread(target=send) for _ in range(2)]
        threads[0].start()
        wait_for(lambda: pool()["running"] == 1)
        threads[1].start()
        wait_for(lambda: pool()["queued"] == 1)
        refused = httpx.post(f"{server.url}/v1/stylize", files=files, data={"style": STYLE})
        assert refused.status_code == 503 and refused.json()["error"] == "busy"
        assert int(refused.headers["retry-after"]) >= 1
        blocking.release.set()
        for thread in threads:
            thread.join(timeout=60)
        assert [r.status_code for r in results] == [200, 200]
        assert pool()["refused"] == 1 and blocking.calls == 2

    def test_request_timeout(
        self,
        live_server: Callable[..., Any],
        random_pipeline: Any,
        server_config: ServerConfig,
        png: Callable[..., bytes],
    ) -> None:
        blocking = BlockingPipeline(random_pipeline)
        config = replace(
            server_config, limits=replace(server_config.limits, request_timeout_s=1.0, workers=1, queue_size=2)
        )
        server = live_server(config, blocking)
        files = {"content": ("a.png", png(), "image/png")}
        responses: list[httpx.Response] = []
        threads = [
            threading.Thread(
                target=lambda: responses.append(
                    httpx.post(f"{server.url}/v1/stylize", files=files, data={"style": STYLE}, timeout=30)
                )
            )
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
            time.sleep(0.2)
        for thread in threads:
            thread.join(timeout=30)
        details = sorted(r.json()["detail"] for r in responses)
        assert [r.status_code for r in responses] == [504, 504]
        assert "stylizing" in details[0] and "waiting for a worker" in details[1]
        # the running job keeps its slot until it really ends; the queued one never ran
        assert httpx.get(f"{server.url}/healthz").json()["pool"]["running"] == 1
        blocking.release.set()
        wait_for(lambda: httpx.get(f"{server.url}/healthz").json()["pool"]["running"] == 0)
        assert blocking.calls == 1

    def test_slow_upload_times_out(self, live_server: Callable[..., Any], server_config: ServerConfig) -> None:
        config = replace(server_config, limits=replace(server_config.limits, request_timeout_s=0.5))
        server = live_server(config)
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(request_head(server.port, "Content-Length: 1000\r\n") + b"--xyz\r\n")  # then nothing
            status, _, body = read_response(sock)
        assert status == 408 and json.loads(body)["error"] == "request_timeout"


class TestHeaderTimeout:
    def test_slow_headers_are_closed_and_quick_ones_served(
        self, live_server: Callable[..., Any], server_config: ServerConfig
    ) -> None:
        config = replace(server_config, limits=replace(server_config.limits, header_timeout_s=0.5))
        server = live_server(config)
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n")  # and never the end
            status, headers, body = read_response(sock)
            assert status == 408 and json.loads(body)["error"] == "request_timeout"
            assert headers["connection"] == "close" and sock.recv(10) == b""
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
            time.sleep(0.2)  # slow, but within the timeout
            sock.sendall(b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert read_response(sock)[0] == 200


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


class TestWorkerPool:
    def test_bounded_admission(self) -> None:
        pool = WorkerPool(workers=1, queue_size=1)
        gate = threading.Event()

        async def scenario() -> list[Any]:
            first = asyncio.ensure_future(pool.run(gate.wait, 10, timeout=10))
            second = asyncio.ensure_future(pool.run(lambda: "second", timeout=10))
            await asyncio.sleep(0.05)
            with pytest.raises(PoolFull) as refused:
                await pool.run(lambda: "third", timeout=10)
            assert refused.value.retry_after >= 1
            assert pool.stats() == {"workers": 1, "capacity": 2, "running": 1, "queued": 1, "refused": 1}
            gate.set()
            return [await first, await second]

        assert asyncio.run(scenario()) == [True, "second"]
        assert pool.stats()["running"] == 0 and pool.stats()["queued"] == 0
        pool.shutdown()

    def test_errors_and_timeouts_free_the_slot(self) -> None:
        pool = WorkerPool(workers=1, queue_size=0)

        def fail() -> None:
            raise ValueError("job failed")

        async def scenario() -> None:
            with pytest.raises(ValueError, match="job failed"):
                await pool.run(fail, timeout=5)
            with pytest.raises(JobTimeout) as timed_out:
                await pool.run(time.sleep, 0.3, timeout=0.05)
            assert not timed_out.value.queued
            await asyncio.sleep(0.4)
            assert await pool.run(lambda: 7, timeout=5) == 7

        asyncio.run(scenario())
        pool.shutdown()
