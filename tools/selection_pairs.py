"""Build the selection split's evaluation pairs: held-out content paired with held-out styles.

    python tools/selection_pairs.py OUT_DIR [--count 24] [--fraction 0.1] [--data ../shared/data]

Writes ``OUT_DIR/content`` and ``OUT_DIR/style`` as symbolic links (the images are not ours to
copy or commit) to the images that ``adain train --selection-fraction F`` holds out of training
(:func:`adain.train.data.in_selection_split`), ``content i`` with ``style i`` in name order, the
layout ``adain eval --pairs`` reads. Checkpoints, recipes and A/B winners are chosen on these
pairs; ``data/val`` stays the test set that is reported, never tuned on.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from adain.train.data import find_images, selection_split


def _order(path: Path) -> str:
    """A fixed order that mixes sources (the file names start with their source)."""
    return hashlib.blake2b(path.name.encode(), digest_size=8, person=b"pairs").hexdigest()


def build_pairs(data: Path, out: Path, count: int, fraction: float) -> int:
    contents = sorted(selection_split(find_images(data / "content"), fraction)[1], key=_order)
    styles = sorted(selection_split(find_images(data / "style"), fraction)[1], key=_order)
    pairs = min(count, len(contents), len(styles))
    for kind, files in (("content", contents), ("style", styles)):
        folder = out / kind
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.iterdir():
            stale.unlink()
        for index, path in enumerate(files[:pairs]):
            (folder / f"{index:03d}_{path.name}").symlink_to(path.resolve())
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=24, help="pairs (default 24)")
    parser.add_argument("--fraction", type=float, default=0.1, help="the runs' --selection-fraction (default 0.1)")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    args = parser.parse_args()
    pairs = build_pairs(args.data, args.out, args.count, args.fraction)
    print(f"{pairs} selection pairs in {args.out}", file=sys.stderr)
    return 0 if pairs else 1


if __name__ == "__main__":
    sys.exit(main())
