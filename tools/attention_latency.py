"""Latency of ``method="attention"`` against plain AdaIN at the same size, in the same run (issue 18).

The bar: at 512x512 with a cached style (plain: its statistics; attention: its features, encoded
once as a feature-carrying bank style would be), attention at most 1.5x plain AdaIN's time. Both
are timed end to end through ``StylizationPipeline.__call__`` (content given as a tensor: no file
decoding), after warm-up runs, as the median of ``--repeats``. Run it on a quiet machine::

    .venv/bin/python tools/attention_latency.py --size 512 --threads 2

Prints one JSON object: seconds per method, the ratio, the machine, the date and the command.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys
import time

import torch

from adain.pipeline import StylizationPipeline, StylizeOptions


def _machine() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        model = platform.processor()
    return f"{model or platform.machine()}, {torch.get_num_threads()} torch threads"


def _median_seconds(run, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--size", type=int, default=512, help="content side (square) and style side")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per method")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per method first")
    parser.add_argument("--precision", default="auto", help="the pipeline's precision (auto: bf16 where native)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, args.size, args.size, generator=generator)
    style = torch.nn.functional.interpolate(
        torch.rand(1, 3, args.size // 16, args.size // 16, generator=generator), size=(args.size, args.size)
    )
    pipeline = StylizationPipeline.from_preset(precision=args.precision)
    attention = StylizeOptions(method="attention")
    cached_statistics = pipeline.style_statistics(style)
    (cached_features,) = pipeline.prepare_styles([style], content, attention)
    plain_seconds = _median_seconds(
        lambda: pipeline(content, cached_statistics, output_type="pt"), args.repeats, args.warmup
    )
    attention_seconds = _median_seconds(
        lambda: pipeline(content, cached_features, attention, output_type="pt"), args.repeats, args.warmup
    )
    report = {
        "tool": "tools/attention_latency.py",
        "command": " ".join(["python", "tools/attention_latency.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": datetime.date.today().isoformat(),
        "machine": _machine(),
        "precision": pipeline.precision,
        "size": args.size,
        "temperature": attention.attention_temperature,
        "seconds": {"plain": round(plain_seconds, 4), "attention": round(attention_seconds, 4)},
        "attention_over_plain": round(attention_seconds / plain_seconds, 3),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
