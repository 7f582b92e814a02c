"""Where a decoder's loss comes from: training pairs vs validation pairs, full images vs 128-px crops.

Usage: .venv/bin/python tools/style_generalization.py DECODER.safetensors  (needs ../shared/data)

Prints mean content and style loss (256 px, the eval's losses, clamped output) for the 12 val pairs and
the first 12 training contents with the first 12 training styles: full images, random 128-px crops of both,
and content crops with full styles. Measured the "eval-size gap" of issue 3 as a gap on unseen styles.
"""

import random
import sys
from pathlib import Path

import torch

from adain.eval.evaluate import _load_at, find_pairs
from adain.models import decoder_input_taps
from adain.ops.statistics import adain, channel_mean_std
from adain.ops.taps import TAPS
from adain.weights import load_decoder, load_encoder

torch.set_num_threads(2)
enc = load_encoder("vgg16-hed").eval()
dec = load_decoder("vgg16-hed", path=Path(sys.argv[1])).eval()


def losses(content, style):
    st = enc(style)
    ct = enc(content)
    targets = [adain(ct[tap], st[tap]) for tap in decoder_input_taps(dec)]  # a multi-level decoder takes every tap
    target = targets[0]
    out = dec(*targets).clamp(0, 1)
    taps = enc(out)
    c = (taps["relu4_1"] - target).pow(2).mean().item()
    s = 0.0
    for t in TAPS:
        m, sd = channel_mean_std(taps[t])
        M, S = channel_mean_std(st[t])
        s += ((m - M).pow(2).mean() + (sd - S).pow(2).mean()).item()
    return c, s


CROP_RNG = random.Random(0)


def crop(x, n=128, rng=CROP_RNG):
    h, w = x.shape[2:]
    i, j = rng.randrange(h - n + 1), rng.randrange(w - n + 1)
    return x[:, :, i : i + n, j : j + n]


def full8(x):
    h, w = x.shape[2:]
    return x[:, :, : h - h % 8, : w - w % 8]


val = find_pairs(Path("../shared/data/val"))
cs = sorted(Path("../shared/data/content").iterdir())[:12]
ss = sorted(Path("../shared/data/style").iterdir())[:12]
train = list(zip(cs, ss))
with torch.no_grad():
    for name, pairs in (("val", val), ("train", train)):
        full, crops, stylefull = [], [], []
        for c, s in pairs:
            content, style = _load_at(c, 256), _load_at(s, 256)
            full.append(losses(full8(content), full8(style)))
            crops.append(losses(crop(content), crop(style)))
            stylefull.append(losses(crop(content), full8(style)))
        for label, vals in (("full", full), ("128 crops", crops), ("content crop, full style", stylefull)):
            print(
                name,
                label,
                f"content {sum(v[0] for v in vals) / len(vals):.1f} style {sum(v[1] for v in vals) / len(vals):.1f}",
            )
