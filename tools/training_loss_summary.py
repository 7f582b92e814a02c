"""A run's training loss, mean per 1,000 steps, from its checkpoint's history (the numbers behind its loss curve).

Usage: .venv/bin/python tools/training_loss_summary.py RUN_DIR/checkpoint.pt
"""

import sys

import torch

history = torch.load(sys.argv[1], weights_only=True, map_location="cpu")["history"]
buckets: dict[int, list[dict]] = {}
for record in history:
    buckets.setdefault((record["step"] - 1) // 1000, []).append(record)
for bucket, records in sorted(buckets.items()):
    content = sum(r["content"] for r in records) / len(records)
    style = sum(r["style"] for r in records) / len(records)
    print(
        f"steps {bucket * 1000 + 1:>6}-{bucket * 1000 + 1000:>6}: content {content:6.1f}  style {style:6.1f}  ({len(records)} logged)"
    )
