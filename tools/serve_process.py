"""An ``adain serve`` child process for the tools that measure it (server_load.py, live_fps.py):
a free port, waiting until it answers, stopping it.

Tools run as scripts (``python tools/NAME.py``), so they import this by its bare name.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(server: subprocess.Popen, base: str, server_log: Callable[[], str], timeout: float = 180) -> None:
    """Until ``GET base/healthz`` answers 200; a server that exits first raises with its log's tail."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"adain serve exited with {server.returncode}: {server_log()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"adain serve did not answer /healthz within {timeout:g} s")


def stop(server: subprocess.Popen) -> None:
    """SIGTERM (the server cleans its temporary files), then SIGKILL after 15 s."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
