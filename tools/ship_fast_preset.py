"""Ship the ``fast`` preset: two distilled students -> the package's fp16 safetensors + manifest.

Usage:
    .venv/bin/python tools/ship_fast_preset.py ENCODER DECODER [--eval EVAL_DIR/results.json]

ENCODER and DECODER: students written by ``adain distill encoder|decoder --export`` (or
``--export-only``), each with its manifest entry beside it. They are copied, with those entries,
to src/adain/weights/shipped/fast-encoder.safetensors and fast-decoder.safetensors, where
``--preset fast`` loads them from (strict shape checks against the entries' architectures).
With --eval, the summary of an ``adain eval --preset fast`` of these very files (checked by
sha256) goes into both entries, so the numbers travel with the weights. The two files must stay
under 3 MB together (issue 17).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from adain.train.distill import load_student
from adain.weights.loading import shipped_path
from adain.weights.presets import get_preset
from adain.weights.store import file_sha256, load_component, read_manifest, save_component

#: the two shipped files together, at most (issue 17)
SIZE_LIMIT_BYTES = 3_000_000


def _ship(source: Path, component: str) -> Path:
    """Copy one student with its manifest entry; the entry must say it is that component."""
    entry = read_manifest(source.parent).get(source.stem)
    if entry is None or entry.get("component") != component:
        raise SystemExit(f"{source} has no {component} entry in {source.parent / 'manifest.json'}")
    load_student(source)  # builds it from the entry, strict shapes: a broken file fails here
    source_of = getattr(get_preset("fast"), component)
    assert source_of is not None
    target = shipped_path(source_of.location)
    kept = {k: v for k, v in entry.items() if k not in ("file", "sha256", "created")}
    save_component(target, load_component(source), kept)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("encoder", type=Path, help="the student encoder (adain distill encoder --export)")
    parser.add_argument("decoder", type=Path, help="the student decoder (adain distill decoder --export)")
    parser.add_argument("--eval", type=Path, help="results.json of `adain eval --preset fast` of these files")
    args = parser.parse_args(argv)
    targets = {"encoder": _ship(args.encoder, "encoder"), "decoder": _ship(args.decoder, "decoder")}
    size = sum(path.stat().st_size for path in targets.values())
    if size > SIZE_LIMIT_BYTES:
        print(f"the fast students take {size / 1e6:.2f} MB, over {SIZE_LIMIT_BYTES / 1e6:.0f} MB", file=sys.stderr)
        return 1
    manifest_path = targets["encoder"].parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if args.eval is not None:
        report = json.loads(args.eval.read_text())
        shipped = {name: file_sha256(path) for name, path in targets.items()}
        evaluated = {"encoder": report.get("encoder_sha256"), "decoder": report.get("decoder_sha256")}
        if evaluated != shipped:
            print(f"{args.eval} evaluated other files ({evaluated}); evaluate the shipped ones first", file=sys.stderr)
            return 1
        for path in targets.values():
            manifest[path.stem]["eval"] = {
                key: report[key] for key in ("command", "date", "machine", "precision", "summary") if key in report
            }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    for name, path in targets.items():
        entry = manifest[path.stem]
        print(f"shipped {path} ({name}, step {entry['steps']}, {path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
