"""The load test (tools/server_load.py) in short: 32 clients against a real ``adain serve`` on 127.0.0.1.

The README's figures come from the full 60 s run (``python tools/server_load.py``); this runs the
same code for a few seconds so that CI checks the contract: no error other than explicit 503s
with Retry-After, the server alive, its pool bounded and drained, and memory not growing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "tools" / "server_load.py"


def test_short_load_run() -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--clients", "32", "--duration", "6", "--size", "128"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    report = json.loads(completed.stdout)
    requests = report["requests"]
    assert requests["errors"] == 0 and report["error_examples"] == []
    assert requests["ok"] >= 1 and requests["refused_503"] >= 1  # 32 clients > 1 worker + 8 queued: some refused
    assert requests["total"] == requests["ok"] + requests["refused_503"]
    assert (
        report["latency_s"]["ok"]["p50"] is not None
        and report["latency_s"]["ok"]["p95"] >= report["latency_s"]["ok"]["p50"]
    )
    server = report["server"]
    assert server["alive_at_end"] and server["pool"]["capacity"] == 9
    assert server["pool"]["running"] == 0 and server["pool"]["queued"] == 0
    assert server["pool"]["refused"] == requests["refused_503"]
    memory = report["rss_mb"]
    assert memory["samples"] >= 5
    assert memory["peak"] - memory["after_warmup"] < 300  # bounded: no backlog, no leak per request
