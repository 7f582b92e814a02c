"""Peak memory of ``adain stylize`` on large images, tiled to a memory budget; prints JSON.

Every case runs the real command line (read a PNG, stylize, write a PNG) in a fresh process,
started by a small watcher process that reports ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``
once the command has exited: the peak RSS of the whole command, interpreter and weights
included. A watcher per case keeps one case's peak out of the next one's.

The decoder is a seeded random one (memory does not depend on the weights' values), so only the
preset's encoder must be prepared (``adain weights prepare vgg16-hed``). Timings are printed for
information only: this is a memory benchmark.

Usage (from the project root)::

    python tools/tiling_memory.py                 # 3840x2160 at the default budget, and more
    python tools/tiling_memory.py --quick         # the 3840x2160 bar only
    python tools/tiling_memory.py --untiled-4k    # also 3840x2160 in one pass (about 10 GB)
    python tools/tiling_memory.py --quick --decoder multilevel   # the same with the multi-level decoder
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: The issue's bar: 3840x2160 stylizes with peak RSS under this (MB).
BAR_MB = 2500

_WATCHER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
completed = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"returncode": completed.returncode, "seconds": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "stderr": completed.stderr[-2000:]}))
"""


def _write_images(folder: Path, sizes: set[tuple[int, int]]) -> dict[tuple[int, int], Path]:
    """Smooth random content images (photo-like, not noise) of each ``(height, width)``, and a style."""
    import torch

    from adain.image.io import save_image

    generator = torch.Generator().manual_seed(0)
    paths = {}
    for height, width in sorted(sizes):
        coarse = torch.rand(1, 3, max(2, height // 64), max(2, width // 64), generator=generator)
        image = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
        paths[(height, width)] = save_image(image.clamp(0, 1), folder / f"content_{width}x{height}.png")
    paths[(0, 0)] = save_image(torch.rand(1, 3, 512, 512, generator=generator), folder / "style.png")
    return paths


def _random_decoder(folder: Path, preset: str, kind: str = "plain") -> Path:
    """A seeded random decoder of ``kind``; a multi-level one with its gates open (its skips run)."""
    import torch

    from adain.weights import save_decoder
    from adain.weights.loading import build_decoder

    torch.manual_seed(1234)
    decoder = build_decoder(preset, kind)
    for gate in getattr(decoder, "gates", {}).values():
        torch.nn.init.normal_(gate, 0.0, 0.5)
    path = folder / f"random-{kind}-decoder.safetensors"
    save_decoder(decoder, path, preset)
    return path


def _run_case(
    content: Path, style: Path, decoder: Path, output: Path, max_memory: str | None, preset: str, extra: list[str]
) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "adain",
        "stylize",
        str(content),
        "--style",
        str(style),
        "-o",
        str(output),
        "--size",
        "0",
        "--preset",
        preset,
        "--decoder",
        str(decoder),
        "--no-progress",
        *extra,
    ]
    if max_memory is not None:
        command += ["--max-memory", max_memory]
    watcher = subprocess.run([sys.executable, "-c", _WATCHER, *command], capture_output=True, text=True, check=True)
    return json.loads(watcher.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only 3840x2160 at the default budget")
    parser.add_argument("--untiled-4k", action="store_true", help="also 3840x2160 in one pass (needs about 10 GB)")
    parser.add_argument("--preset", default="vgg16-hed")
    parser.add_argument(
        "--decoder",
        choices=["plain", "multilevel"],
        default="plain",
        help="the decoder architecture (a seeded random one; default plain)",
    )
    parser.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS for the cases (0: torch's default)")
    args = parser.parse_args(argv)

    import torch

    from adain.pipeline.tiling import DEFAULT_MAX_MEMORY_MB, estimate_memory_mb, plan_tiles, tile_side_for_budget

    default = str(DEFAULT_MAX_MEMORY_MB)
    # (height, width, --max-memory (None: the command's default; "0": no budget), extra options)
    cases: list[tuple[int, int, str | None, list[str]]] = [(2160, 3840, None, [])]
    if not args.quick:
        cases += [
            (2160, 3840, "1024", []),
            (2160, 3840, None, ["--preserve-color", "luminance", "--guided-filter"]),
            (1200, 1600, "0", []),
            (1200, 1600, "512", []),
            (64, 64, "0", []),
        ]
    if args.untiled_4k:
        cases.append((2160, 3840, "0", []))
    env_threads = {"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}
    os.environ.update(env_threads)
    results = []
    with tempfile.TemporaryDirectory(prefix="adain-tiling-bench-") as folder_name:
        folder = Path(folder_name)
        images = _write_images(folder, {(h, w) for h, w, _, _ in cases})
        decoder = _random_decoder(folder, args.preset, args.decoder)
        for height, width, max_memory, extra in cases:
            budget = float(max_memory if max_memory is not None else default) or None
            side = tile_side_for_budget(height, width, budget) if budget else None
            plan = plan_tiles(height, width, side)
            print(
                f"{width}x{height} --max-memory {max_memory or default} {' '.join(extra)}: {plan.grid[0]}x{plan.grid[1]} "
                "tiles ...",
                file=sys.stderr,
                flush=True,
            )
            measured = _run_case(
                images[(height, width)], images[(0, 0)], decoder, folder / "out.png", max_memory, args.preset, extra
            )
            results.append(
                {
                    "size": f"{width}x{height}",
                    "megapixels": round(height * width / 1e6, 2),
                    "max_memory_mb": budget,
                    "options": " ".join(extra),
                    "tile_side": side,
                    "grid": list(plan.grid),
                    "estimate_mb": round(estimate_memory_mb(height, width, side or max(height, width)), 1),
                    "peak_rss_mb": round(measured["peak_rss_mb"], 1),
                    "seconds": round(measured["seconds"], 1),
                    "ok": measured["returncode"] == 0,
                    **({"stderr": measured["stderr"]} if measured["returncode"] else {}),
                }
            )
    bar = next(
        r for r in results if r["size"] == "3840x2160" and r["max_memory_mb"] == float(default) and not r["options"]
    )
    report = {
        "benchmark": "peak RSS of `adain stylize` (read PNG, stylize, write PNG) in a fresh process",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "torch": torch.__version__,
        "preset": args.preset,
        "decoder": args.decoder,
        "default_max_memory_mb": DEFAULT_MAX_MEMORY_MB,
        "bar": {
            "size": "3840x2160",
            "limit_mb": BAR_MB,
            "peak_rss_mb": bar["peak_rss_mb"],
            "met": bar["ok"] and bar["peak_rss_mb"] < BAR_MB,
        },
        "cases": results,
    }
    print(json.dumps(report, indent=2))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
