"""The machine's convolution speed: GFLOP/s of a 256->256 3x3 conv at 128x128 in bf16, channels-last.

This is the throughput the FLOP floor divides by: a stylization cannot be faster than its
convolution FLOPs at the speed the best-shaped convolution reaches on this machine.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import torch

from adain.bench.flops import conv3x3_flops

__all__ = ["conv_gflops"]


def conv_gflops(
    dtype: torch.dtype = torch.bfloat16, size: int = 128, channels: int = 256, repeats: int = 20, threads: int = 0
) -> float:
    if threads:
        torch.set_num_threads(threads)
    conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to(dtype=dtype, memory_format=torch.channels_last).eval()
    x = torch.randn(1, channels, size, size).to(dtype=dtype, memory_format=torch.channels_last)
    times = []
    with torch.inference_mode():
        for _ in range(3):
            conv(x)
        for _ in range(repeats):
            start = time.perf_counter()
            conv(x)
            times.append(time.perf_counter() - start)
    return conv3x3_flops(channels, channels, size, size) / statistics.median(times) / 1e9


if __name__ == "__main__":
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    print(
        json.dumps(
            {"bf16_gflops": conv_gflops(threads=threads), "fp32_gflops": conv_gflops(torch.float32, threads=threads)}
        )
    )
