"""Load test of ``adain serve`` on 127.0.0.1: many concurrent clients against a bounded pool; prints JSON.

Starts the real command (``python -m adain serve``, uvicorn, the default decoder unless
``--decoder``) on a free port of 127.0.0.1, warms it up, then runs ``--clients`` concurrent
clients for ``--duration`` seconds. Each client posts a photo (scikit-image's astronaut, 256 px)
with a bank style and a random alpha to ``/v1/stylize`` at ``--size`` (default: the page's
preview size), in a loop, over its own keep-alive connection. A 503 is the server refusing work
beyond its pool and queue: the client waits ``Retry-After`` (capped at ``--max-backoff``
seconds, so the queue stays under pressure) and tries again. Anything else that is not a 200
(another status, a 503 without ``Retry-After``, a connection error, a client timeout) counts as
an error.

Reported: requests by outcome, throughput, latency percentiles of the 200s (and of the 503s),
and the server's RSS sampled every 0.5 s: after warm-up, peak, at the end, and the drift
between the means of the first and last quarter of the run (memory is flat when that is small).
Exits 1 if there was any error. Every request goes to 127.0.0.1 only, and the run stops by
itself after ``--duration`` (at most 600 s).

Usage (from the project root)::

    python tools/server_load.py                     # 32 clients for 60 s, 1 worker, queue 8
    python tools/server_load.py --duration 10       # a short run (the test uses one)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from serve_process import free_port, stop, wait_ready

STYLES = ("antimonocromatismo", "water-lilies-1919-2", "abstraction")
MAX_DURATION_S = 600


def _content_png(side: int = 256) -> bytes:
    """scikit-image's astronaut (a gradient without scikit-image), ``side`` pixels square, as PNG."""
    import numpy as np
    from PIL import Image

    try:
        from skimage import data

        image = Image.fromarray(data.astronaut())
    except ImportError:
        y, x = np.mgrid[0:side, 0:side]
        image = Image.fromarray((np.stack([x, y, x + y], -1) * 255 // (2 * side)).astype(np.uint8))
    buffer = io.BytesIO()
    image.resize((side, side)).save(buffer, "PNG")
    return buffer.getvalue()


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": round(ordered[-1], 3)}


class Load:
    """The clients' shared tallies."""

    def __init__(self) -> None:
        self.ok: list[float] = []
        self.refused: list[float] = []
        self.errors: list[str] = []

    async def client(
        self, http: Any, url: str, content: bytes, size: int, end: float, max_backoff: float, rng: random.Random
    ) -> None:
        import httpx

        while time.monotonic() < end:
            form = {
                "style": rng.choice(STYLES),
                "alpha": f"{rng.uniform(0.3, 1.0):.2f}",
                "size": str(size),
                "format": "jpeg",
            }
            start = time.monotonic()
            try:
                response = await http.post(url, files={"content": ("photo.png", content, "image/png")}, data=form)
            except httpx.HTTPError as error:
                self.errors.append(f"{type(error).__name__}: {error}")
                await asyncio.sleep(0.1)
                continue
            elapsed = time.monotonic() - start
            if (
                response.status_code == 200
                and response.headers.get("content-type") == "image/jpeg"
                and response.content
            ):
                self.ok.append(elapsed)
            elif response.status_code == 503 and response.headers.get("retry-after", "").isdigit():
                self.refused.append(elapsed)
                await asyncio.sleep(min(max_backoff, float(response.headers["retry-after"])))
            else:
                self.errors.append(f"{response.status_code}: {response.text[:200]}")


async def _run_load(url: str, pid: int, args: argparse.Namespace) -> tuple[Load, list[tuple[float, float]], float]:
    import httpx

    load = Load()
    content = _content_png()
    samples: list[tuple[float, float]] = []
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(limits=limits, timeout=args.client_timeout) as http:
        for _ in range(args.warmup):  # models, allocator and caches reach their steady state
            response = await http.post(
                url,
                files={"content": ("photo.png", content, "image/png")},
                data={"style": STYLES[0], "size": str(args.size), "format": "jpeg"},
            )
            if response.status_code != 200:
                raise RuntimeError(f"warm-up request failed: {response.status_code} {response.text[:300]}")
        start = time.monotonic()
        end = start + args.duration

        async def sample() -> None:
            while time.monotonic() < end:
                rss = _rss_mb(pid)
                if rss is not None:
                    samples.append((time.monotonic() - start, rss))
                await asyncio.sleep(0.5)

        rng = random.Random(0)
        clients = [
            load.client(http, url, content, args.size, end, args.max_backoff, random.Random(rng.random()))
            for _ in range(args.clients)
        ]
        await asyncio.gather(sample(), *clients)
        elapsed = time.monotonic() - start
    return load, samples, elapsed


def _start_server(args: argparse.Namespace, port: int, folder: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "adain",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--queue",
        str(args.queue),
        "--timeout",
        str(args.timeout),
        "--bank",
        str(folder / "bank"),
        "--study-db",
        str(folder / "study.sqlite"),
        "--preview-cache",
        str(folder / "previews"),
        "--no-preview-warmup",
        "--log-level",
        "warning",
    ]
    if args.decoder:
        command += ["--decoder", str(args.decoder)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument(
        "--duration", type=float, default=60.0, help=f"seconds of load (default 60, at most {MAX_DURATION_S})"
    )
    parser.add_argument("--size", type=int, default=192, help="output shorter side (default 192: the page's preview)")
    parser.add_argument("--workers", type=int, default=1, help="adain serve --workers (default 1)")
    parser.add_argument("--queue", type=int, default=8, help="adain serve --queue (default 8)")
    parser.add_argument("--timeout", type=float, default=60.0, help="adain serve --timeout (default 60)")
    parser.add_argument("--decoder", type=Path, help="decoder weights (default: the preset's, as adain serve)")
    parser.add_argument("--warmup", type=int, default=3, help="sequential requests before the load (default 3)")
    parser.add_argument(
        "--max-backoff", type=float, default=1.0, help="cap on a client's Retry-After wait (default 1 s)"
    )
    parser.add_argument(
        "--client-timeout", type=float, default=120.0, help="a client's timeout per request (default 120 s)"
    )
    args = parser.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION_S or args.clients < 1:
        parser.error(f"--duration must be in (0, {MAX_DURATION_S}] and --clients >= 1")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="adain-load-") as folder_name:
        server = _start_server(args, port, Path(folder_name))
        try:
            wait_ready(server, base, lambda: server.stderr.read())
            load, samples, elapsed = asyncio.run(_run_load(f"{base}/v1/stylize", server.pid, args))
            import httpx

            pool = httpx.get(f"{base}/healthz", timeout=10).json()["pool"]
            alive = server.poll() is None
        finally:
            stop(server)
    rss = [value for _, value in samples]
    quarter = max(1, len(rss) // 4)
    config = {
        "clients": args.clients,
        "duration_s": args.duration,
        "size": args.size,
        "workers": args.workers,
        "queue": args.queue,
        "timeout_s": args.timeout,
        "decoder": str(args.decoder or "preset default"),
        "max_backoff_s": args.max_backoff,
    }
    requests = {
        "total": len(load.ok) + len(load.refused) + len(load.errors),
        "ok": len(load.ok),
        "refused_503": len(load.refused),
        "errors": len(load.errors),
        "ok_per_s": round(len(load.ok) / elapsed, 2),
    }
    memory = {"after_warmup": None, "peak": None, "end": None, "drift_first_to_last_quarter": None, "samples": 0}
    if rss:
        memory = {
            "after_warmup": round(rss[0], 1),
            "peak": round(max(rss), 1),
            "end": round(rss[-1], 1),
            "drift_first_to_last_quarter": round(sum(rss[-quarter:]) / quarter - sum(rss[:quarter]) / quarter, 1),
            "samples": len(rss),
        }
    report = {
        "benchmark": "adain serve under load: concurrent clients on 127.0.0.1 against a bounded worker pool",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "command": " ".join(["python tools/server_load.py", *(argv if argv is not None else sys.argv[1:])]),
        "config": config,
        "requests": requests,
        "latency_s": {"ok": _percentiles(load.ok), "refused_503": _percentiles(load.refused)},
        "rss_mb": memory,
        "server": {"alive_at_end": alive, "pool": pool},
        "error_examples": sorted(set(load.errors))[:10],
    }
    print(json.dumps(report, indent=2))
    return 0 if not load.errors and alive else 1


if __name__ == "__main__":
    sys.exit(main())
