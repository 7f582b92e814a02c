"""Attention vs plain AdaIN through adain.eval.evaluate (issue 18): the losses behind docs/cli.md.

Usage: .venv/bin/python tools/attention_eval.py TEMPERATURE THREADS PAIRS_DIR [TAPS]
  e.g. tools/attention_eval.py 0.2 2 /work/selection   (selection pairs: tools/selection_pairs.py;
  TAPS: those whose targets follow the attention, default every tap, e.g. relu4_1 alone)
Prints the summary rows; the attention method is "decoder-attention" (as in adain eval --methods attention).
"""

import json
import sys
from pathlib import Path

import torch

from adain.eval.evaluate import EvalConfig, evaluate, summarize
from adain.eval.semantic import semantic_fraction
from adain.pipeline import StylizationPipeline, StylizeOptions
from adain.pipeline.attention import ATTENTION_TAPS

torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
temperature = float(sys.argv[1]) if len(sys.argv) > 1 else 0.05
TAPS = tuple(sys.argv[4].split(",")) if len(sys.argv) > 4 else ATTENTION_TAPS
pipeline = StylizationPipeline.from_preset(precision="fp32")


def plain(c, s):
    return pipeline(c, s, output_type="pt").rgb


def attention(c, s):
    return pipeline(
        c,
        s,
        StylizeOptions(method="attention", attention_temperature=temperature, attention_taps=TAPS),
        output_type="pt",
    ).rgb


config = EvalConfig(
    pairs_dir=Path(sys.argv[3] if len(sys.argv) > 3 else "../shared/data/val"),
    out_dir=Path(f"attention-eval-t{temperature}"),
    sizes=(256,),
    lbfgs_iterations=0,
    refine_iterations=(),
)
scores, _ = evaluate(
    pipeline.encoder, plain, config, "vgg16-hed", progress=False, extra_methods={"decoder-attention": attention}
)
for row in summarize(scores):
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}))
with torch.inference_mode():
    print(
        json.dumps(
            {
                "semantic_fraction": {
                    "decoder": semantic_fraction(plain),
                    "decoder-attention": semantic_fraction(attention),
                }
            }
        )
    )
