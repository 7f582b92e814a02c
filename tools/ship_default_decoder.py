"""Ship the default decoder: a training run's checkpoint -> the package's fp16 safetensors + manifest.

Usage:
    .venv/bin/python tools/ship_default_decoder.py RUN_DIR|DECODER_FILE [--eval EVAL_DIR/results.json]

RUN_DIR: its checkpoint is exported. DECODER_FILE: a decoder written by ``adain train --export-only``
(a snapshot of a run at some step, its manifest entry beside it) is copied with that entry.

Writes src/adain/weights/shipped/vgg16-hed-decoder.safetensors with the manifest entry
``adain train --export-only`` writes (data, steps, crop size, weights, every start/resume command
and commit) plus what this tool adds: the script that runs the whole recipe (commands of runs
started before sessions were recorded are in it), the run folder's name, and, with --eval, the
summary of an ``adain eval`` of this very file (checked by sha256) so the numbers travel with it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from adain.train.checkpoint import CHECKPOINT_NAME
from adain.train.trainer import export_checkpoint
from adain.weights.loading import shipped_path
from adain.weights.presets import get_preset
from adain.weights.store import load_component, read_manifest, save_component

ROOT = Path(__file__).resolve().parent.parent
RECIPE = "tools/train_default_decoder.sh"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a run folder, or a decoder file exported from one")
    parser.add_argument("--eval", type=Path, help="results.json of `adain eval --decoder <the exported file>`")
    args = parser.parse_args(argv)
    target = shipped_path(get_preset("vgg16-hed").decoder.location)
    if args.source.is_dir():
        export_checkpoint(args.source / CHECKPOINT_NAME, target)
        origin = args.source.name
    else:
        source_entry = read_manifest(args.source.parent).get(args.source.stem)
        if source_entry is None or source_entry.get("component") != "decoder":
            print(f"{args.source} has no decoder entry in {args.source.parent / 'manifest.json'}", file=sys.stderr)
            return 1
        kept = {k: v for k, v in source_entry.items() if k not in ("file", "sha256", "created")}
        save_component(target, load_component(args.source), kept)
        origin = f"{args.source.name} (exported at step {source_entry['steps']})"
    manifest_path = target.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = manifest[target.stem]
    recipe = ROOT / RECIPE
    entry["recipe"] = {
        "script": RECIPE,
        "script_sha256": hashlib.sha256(recipe.read_bytes()).hexdigest(),
        "run": origin,
    }
    if args.eval is not None:
        report = json.loads(args.eval.read_text())
        if report.get("decoder_sha256") != entry["sha256"]:
            print(
                f"{args.eval} evaluated another file (sha256 {report.get('decoder_sha256')}); evaluate {target} first",
                file=sys.stderr,
            )
            return 1
        entry["eval"] = {
            "command": report["command"],
            "date": report["date"],
            "machine": report["machine"],
            "summary": report["summary"],
        }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"shipped {target} (step {entry['steps']}, {target.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
