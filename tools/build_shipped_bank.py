"""Build the shipped style bank from ../shared/data/style (statistics only, never the images).

Usage: .venv/bin/python tools/build_shipped_bank.py [--data ../shared/data] [--preset vgg16-hed]

Names come from the file names (``owner__repo__stem.jpg`` -> ``stem``, or ``repo-stem`` when the
stem alone is a number or collides); each entry records the source repository and path from
MANIFEST.tsv, the image's sha256, and that the images are for research use only.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections import Counter
from pathlib import Path

from adain.pipeline.options import DEFAULT_SIZE
from adain.styles.bank import BankEntry, StyleBank
from adain.styles.library import encode_style_images, shipped_bank_path

LICENCE = "statistics derived from an image for research use only (see source); the image is not distributed"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48].strip("-")


def style_names(files: list[Path]) -> dict[Path, str]:
    stems = {f: slug(f.stem.split("__")[-1]) for f in files}
    counts = Counter(stems.values())
    names = {}
    for f, stem in stems.items():
        parts = f.stem.split("__")
        repo = slug(parts[1]) if len(parts) >= 3 else "style"
        if re.fullmatch(r"[0-9a-f]{16,}", stem):  # a hash is no name
            stem = stem[:8]
        plain = stem and not stem[0].isdigit() and counts[stem] == 1
        names[f] = stem if plain else f"{repo}-{stem}"[:60].strip("-")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--preset", default="vgg16-hed")
    parser.add_argument("--out", type=Path, help="bank path (default: the shipped bank in the package)")
    args = parser.parse_args()
    manifest = {}
    with open(args.data / "MANIFEST.tsv", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            manifest[row["file"]] = row
    files = sorted((args.data / "style").glob("*.jpg"))
    names = style_names(files)
    bank = StyleBank(args.preset)
    encoded = encode_style_images(args.preset, files, style_size=DEFAULT_SIZE, progress=True)
    for path, (statistics, _, info) in zip(files, encoded):
        row = manifest.get(f"style/{path.name}", {})
        source = f"{row.get('source_repo', '?')}:{row.get('source_path', path.name)}"
        bank.add(
            names[path],
            statistics,
            BankEntry(names[path], source=source, licence=LICENCE, images=[info], style_size=DEFAULT_SIZE),
        )
    out = args.out or shipped_bank_path(args.preset)
    bank.save(out)
    print(f"{len(bank)} styles -> {StyleBank.paths(out)[0]}")


if __name__ == "__main__":
    main()
