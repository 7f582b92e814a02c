"""Frame rate of the web page's live camera mode, as a person sees it in the browser; prints JSON.

Why: the docs quote the live mode's frames per second at 192 and 256 px. This measures them the
way a user gets them, end to end: the real ``adain serve`` (uvicorn, the default decoder unless a
``--server-arg`` says otherwise) on a free port of 127.0.0.1, the real page in Debian's chromium
(headless, driven by Playwright, chromium's fake camera allowed without a prompt), the page's own
loop (one frame in flight, downscaled and JPEG-encoded in the browser, stylized by the server,
decoded and shown).

How: the server starts with a throw-away bank, study database and preview cache and no preview
warm-up; the page opens and the tool waits until it is ready and the style previews on screen
have loaded (so no preview rendering competes with the frames). Then, for each ``--sizes``
entry, it picks the size in ``#live-size``, presses ``#camera``, waits ``--warmup`` seconds
after the first stylized frame came back, counts the frames the page received
(``window.adainLive.received``) over ``--seconds`` seconds, and stops the camera (and waits
until the server is idle before the next size). Reported per size: frames per second (frames
received / seconds, timed in the page), the server's seconds per frame (the median over the
window of the value the page's status line shows, from the answers' ``X-Adain-Seconds``), the
page's own rate display (``#live-fps``: the frames of the last 2 s) at the end, the frames sent
and dropped, and the most frame requests in flight at once (1: the page's own rule; the tool
waits for the last frame of one size before it starts the next). With a short ``--seconds`` the
rate is coarse (whole frames in the window). Progress goes to stderr, the JSON to stdout; the
server is stopped on every exit (errors and Ctrl-C included). Exits 1 when the page showed an
error or the server died.

Needs chromium at /usr/bin/chromium (Debian: apt-get install chromium) and Playwright (the
``browser-test`` extra).

Usage (from the project root)::

    python tools/live_fps.py                             # 192 and 256 px, 5 s warm-up, 20 s each
    python tools/live_fps.py --seconds 3 --warmup 2      # a quick check
    python tools/live_fps.py --threads 2 --server-arg='--precision fp32'
    python tools/live_fps.py --server-arg='--device cuda'    # on a machine with a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from serve_process import free_port, stop, wait_ready

CHROMIUM = Path("/usr/bin/chromium")
#: as tests/server/test_browser.py: headless, no sandbox, no background networking
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--disable-gpu",
    "--disable-dev-shm-usage",
]
#: chromium's own test camera (a moving pattern with a clock), allowed without a prompt
CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
READY = "document.body.dataset.ready === 'true'"
#: every image on screen that has a source has loaded (or failed): the style grid's previews
IMAGES_SETTLED = """() => [...document.images]
  .filter((image) => image.getAttribute('src') && image.getClientRects().length > 0)
  .filter((image) => {
    const box = image.getBoundingClientRect();
    return box.bottom > 0 && box.right > 0 && box.top < innerHeight && box.left < innerWidth;
  })
  .every((image) => image.complete)"""
#: counts the page's frame requests in flight (the page keeps one at a time: a check of the run)
FRAME_COUNTER = """(() => {
  const original = window.fetch;
  window.framesInFlight = 0;
  window.maxFramesInFlight = 0;
  window.fetch = async (...args) => {
    const frame = String(args[0]).endsWith('/frames');
    if (frame) window.maxFramesInFlight = Math.max(window.maxFramesInFlight, ++window.framesInFlight);
    try { return await original(...args); } finally { if (frame) window.framesInFlight -= 1; }
  };
})();"""
SNAPSHOT = """() => ({
  now: performance.now(),
  running: window.adainLive.running,
  sent: window.adainLive.sent,
  received: window.adainLive.received,
  dropped: window.adainLive.dropped,
  status: document.querySelector('#status').textContent,
  fps: document.querySelector('#live-fps').dataset.fps || null,
  error: document.querySelector('#error').hidden ? '' : document.querySelector('#error').textContent,
})"""
STATUS = re.compile(r"Live: (?:[\d.]+ frames/s|…) at (\d+) px \(([\d.]+) s a frame on the server\)")


def log(message: str) -> None:
    print(f"live_fps: {message}", file=sys.stderr, flush=True)


def _machine(server_args: list[str]) -> str:
    """The CPU (model, cores) and, when the server is asked for a CUDA device, the GPU's name."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    if not model and shutil.which("lscpu"):
        output = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((ln.partition(":")[2].strip() for ln in output.splitlines() if ln.startswith("Model name")), "")
    text = f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    device = _option(server_args, "--device") or "cpu"
    if device.startswith("cuda") and shutil.which("nvidia-smi"):
        query = ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]
        names = subprocess.run(query, capture_output=True, text=True).stdout.split("\n")
        text += f"; {', '.join(name.strip() for name in names if name.strip())}"
    return f"{text}; adain serve --device {device}"


def _option(arguments: list[str], name: str) -> str | None:
    """The value of ``name`` (``--x V`` or ``--x=V``) in ``arguments``, the last one winning."""
    value = None
    for index, argument in enumerate(arguments):
        if argument == name and index + 1 < len(arguments):
            value = arguments[index + 1]
        elif argument.startswith(name + "="):
            value = argument.partition("=")[2]
    return value


def _serve_has_threads() -> bool:
    """Whether this checkout's ``adain serve`` takes ``--threads``."""
    result = subprocess.run(
        [sys.executable, "-m", "adain", "serve", "--help"], capture_output=True, text=True, timeout=120
    )
    return "--threads" in result.stdout


def _start_server(port: int, folder: Path, threads: int | None, extra: list[str], log_file: Any) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "adain",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
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
    if threads is not None:
        command += ["--threads", str(threads)]
    command += extra
    log(f"starting {' '.join(shlex.quote(part) for part in command[1:])}")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log_file, text=True)


def _server_log(log_file: Any) -> str:
    log_file.flush()
    log_file.seek(0)
    return log_file.read()[-2000:]


def _wait_idle(base: str, timeout: float = 120) -> None:
    """Until the server runs and queues nothing (a frame still in flight when the camera stopped)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pool = httpx.get(f"{base}/healthz", timeout=10).json()["pool"]
        if pool["running"] == 0 and pool["queued"] == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the server was still busy {timeout:g} s after the camera stopped")


def _measure(page: Any, base: str, size: int, args: argparse.Namespace) -> dict[str, Any]:
    """One size: select it, start the camera, warm up, count, stop."""
    option = page.locator(f"#live-size option[value='{size}']")
    if option.count() == 0:
        raise RuntimeError(f"the page offers no live size {size}")
    if option.is_disabled():
        raise RuntimeError(f"live size {size} is disabled: the server's --max-size is below it")
    # the previous size's last frame has come back (else its loop would run on beside the new one)
    page.wait_for_function("window.framesInFlight === 0", timeout=120_000)
    page.select_option("#live-size", str(size))
    page.click("#camera")
    page.wait_for_function("window.adainLive.running && window.adainLive.received >= 1", timeout=180_000)
    log(f"{size} px: first frame back; warming up {args.warmup:g} s")
    page.wait_for_timeout(args.warmup * 1000)
    first = page.evaluate(SNAPSHOT)
    page.evaluate("window.maxFramesInFlight = window.framesInFlight")
    server_seconds: list[float] = []
    end = time.monotonic() + args.seconds
    while True:
        snapshot = page.evaluate(SNAPSHOT)
        match = STATUS.search(snapshot["status"])
        if match and int(match.group(1)) == size:
            server_seconds.append(float(match.group(2)))
        if snapshot["error"] or not snapshot["running"]:
            break
        remaining = end - time.monotonic()
        if remaining <= 0:
            break
        page.wait_for_timeout(min(250, remaining * 1000))
    last = snapshot
    elapsed = (last["now"] - first["now"]) / 1000
    frames = last["received"] - first["received"]
    in_flight = page.evaluate("window.maxFramesInFlight")
    width = page.evaluate("document.querySelector('#result').naturalWidth")
    height = page.evaluate("document.querySelector('#result').naturalHeight")
    page.click("#camera")  # stop
    page.wait_for_function("document.querySelector('#camera').getAttribute('aria-pressed') === 'false'")
    _wait_idle(base)
    result = {
        "frames_per_second": round(frames / elapsed, 2) if elapsed > 0 else None,
        "frames": frames,
        "seconds": round(elapsed, 2),
        "server_seconds_per_frame": round(statistics.median(server_seconds), 3) if server_seconds else None,
        "page_fps": float(last["fps"]) if last["fps"] else None,
        "sent": last["sent"] - first["sent"],
        "dropped": last["dropped"] - first["dropped"],
        "max_frames_in_flight": in_flight,
        "frame_shown": f"{width}x{height}",
        "status_at_end": last["status"],
    }
    if last["error"]:
        result["error"] = last["error"]
    log(f"{size} px: {result['frames_per_second']} frames/s ({frames} frames in {elapsed:.1f} s)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--sizes", default="192,256", help="live sizes to measure, comma-separated (page options)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds counted per size")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds after the first frame before counting")
    parser.add_argument(
        "--threads", type=int, help="adain serve --threads (None: the server's own choice, CPU cores / workers)"
    )
    parser.add_argument("--port", type=int, default=0, help="port of adain serve on 127.0.0.1 (0: a free one)")
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARGS",
        help="more adain serve arguments, split like a shell (repeatable; e.g. --server-arg='--device cuda')",
    )
    parser.add_argument("--chromium", type=Path, default=CHROMIUM, help="the chromium executable")
    args = parser.parse_args(argv)
    try:
        sizes = [int(part) for part in args.sizes.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers. Got {args.sizes!r}")
    if not sizes or args.seconds <= 0 or args.warmup < 0 or (args.threads is not None and args.threads < 1):
        parser.error("--sizes must not be empty, --seconds > 0, --warmup >= 0, --threads >= 1")
    if not args.chromium.exists():
        parser.error(f"{args.chromium} is absent (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        parser.error("needs Playwright: pip install playwright (the 'browser-test' extra)")
    extra = [part for value in args.server_arg for part in shlex.split(value)]

    threads = args.threads
    if threads is not None and not _serve_has_threads():
        log("this adain serve has no --threads: not passed")
        threads = None
    workers = int(_option(extra, "--workers") or 1)
    torch_threads = threads or max(1, (os.cpu_count() or 1) // workers)  # what adain serve sets

    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}"
    page_errors: list[str] = []
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="adain-live-fps-") as folder_name:
        folder = Path(folder_name)
        with (folder / "server.log").open("w+") as log_file:
            server = _start_server(port, folder, threads, extra, log_file)
            try:
                wait_ready(server, base, lambda: _server_log(log_file), timeout=300)
                log(f"server answers at {base}; opening the page in chromium")
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path=str(args.chromium), headless=True, args=CHROMIUM_ARGS + CAMERA_ARGS
                    )
                    try:
                        page = browser.new_page(viewport={"width": 1280, "height": 860})
                        page.add_init_script(FRAME_COUNTER)
                        page.on("pageerror", lambda error: page_errors.append(str(error)))
                        page.goto(base + "/")
                        page.wait_for_function(READY, timeout=120_000)
                        page.wait_for_function(IMAGES_SETTLED, timeout=300_000, polling=250)
                        _wait_idle(base)
                        log("page ready, style previews on screen loaded")
                        for size in sizes:
                            results[str(size)] = _measure(page, base, size, args)
                    finally:
                        browser.close()
                alive = server.poll() is None
            finally:
                stop(server)
    report = {
        "tool": "tools/live_fps.py",
        "command": " ".join(
            ["python tools/live_fps.py", *(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))]
        ),
        "date": time.strftime("%Y-%m-%d"),
        "machine": _machine(extra),
        "torch_threads": torch_threads,
        "server_args": extra,
        "browser": "chromium (headless, fake camera), Playwright",
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        "sizes": results,
        "page_errors": page_errors,
        "server_alive_at_end": alive,
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    failed = page_errors or not alive or any("error" in entry for entry in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
