"""One training step's time with the half-precision statistics fast path on and off, alternating in one process.

Usage: .venv/bin/python tools/bench_train_step.py [THREADS]   (needs ../shared/data/val; prints JSON)

Batch 8, 128-px crops, bf16 autocast, channels-last: the default decoder's recipe. "off" reduces with
``var_mean`` on a float32 copy, as ``ops.channel_mean_std`` did before the fast path. Alternating the two
in one process keeps a shared or busy machine's load out of the ratio.
"""

import json
import statistics
import sys
import tempfile
import time

import torch

import adain.ops.statistics as ops_statistics
from adain.train.config import TrainConfig
from adain.train.trainer import Trainer

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
config = TrainConfig(
    content_dir="../shared/data/val/content",
    style_dir="../shared/data/val/style",
    run_dir=tempfile.mkdtemp(),
    batch_size=8,
    crop_size=128,
    resize_shorter=256,
    threads=threads,
)
trainer = Trainer(config, progress=False)
pairs = [trainer.dataset[i] for i in range(8)]
content, style = torch.stack([c for c, _ in pairs]), torch.stack([s for _, s in pairs])
fast = ops_statistics._HalfPrecisionMeanStd.apply


def float32_copy(positions, eps):
    variance, mean = torch.var_mean(positions.float(), dim=1, unbiased=False)
    return mean, (variance + eps).sqrt()


seconds: dict[str, list[float]] = {"off": [], "on": []}
trainer.train_step(content, style)
for _ in range(6):
    for name, apply in (("off", float32_copy), ("on", fast)):
        ops_statistics._HalfPrecisionMeanStd.apply = apply
        start = time.perf_counter()
        trainer.train_step(content, style)
        seconds[name].append(time.perf_counter() - start)
medians = {name: statistics.median(values) for name, values in seconds.items()}
print(
    json.dumps(
        {
            "threads": threads,
            "median_seconds": medians,
            "ratio_on_to_off": medians["on"] / medians["off"],
            "seconds": seconds,
        },
        indent=2,
    )
)
