"""Decoder files say which architecture they are: loading, importing and checking pick it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from adain.errors import ShapeError, UsageError, WeightsError
from adain.models import Decoder, MultiLevelDecoder
from adain.weights import import_weights, load_decoder, save_decoder
from adain.weights.loading import build_decoder, decoder_kind_of
from adain.weights.presets import PRESETS
from adain.weights.store import load_component, read_manifest

ARCHITECTURE = PRESETS["vgg16-hed"].architecture


def test_build_decoder_kinds() -> None:
    assert type(build_decoder("vgg16-hed")) is Decoder
    multilevel = build_decoder("vgg16-hed", "multilevel")
    assert isinstance(multilevel, MultiLevelDecoder) and multilevel.skip_taps == ("relu3_1", "relu2_1", "relu1_1")
    with pytest.raises(UsageError, match="unknown decoder"):
        build_decoder("vgg16-hed", "unet")


def test_multilevel_file_round_trips_with_its_architecture_in_the_manifest(multilevel_decoder_file: Path) -> None:
    entry = read_manifest(multilevel_decoder_file.parent)[multilevel_decoder_file.stem]
    assert entry["architecture"] == "multilevel-decoder-for-vgg16"
    assert entry["skip_taps"] == ["relu3_1", "relu2_1", "relu1_1"]
    decoder = load_decoder("vgg16-hed", path=multilevel_decoder_file)
    assert isinstance(decoder, MultiLevelDecoder)
    stored = load_component(multilevel_decoder_file)
    assert all(torch.equal(decoder.state_dict()[key], value.float()) for key, value in stored.items())
    assert any(gate.abs().sum() > 0 for gate in decoder.gates.values())


def test_plain_file_loads_the_plain_decoder(decoder_file: Path) -> None:
    assert type(load_decoder("vgg16-hed", path=decoder_file)) is Decoder
    assert read_manifest(decoder_file.parent)[decoder_file.stem]["architecture"] == "decoder-for-vgg16"


def test_without_a_manifest_the_keys_say_which(multilevel_decoder_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "loose.safetensors"
    shutil.copy(multilevel_decoder_file, copy)
    decoder = load_decoder("vgg16-hed", path=copy)
    assert isinstance(decoder, MultiLevelDecoder) and decoder.skip_taps == ("relu3_1", "relu2_1", "relu1_1")
    assert decoder_kind_of({"skips.relu2_1.weight": torch.zeros(1)}) == ("multilevel", ("relu2_1",))
    assert decoder_kind_of({"layers.1.weight": torch.zeros(1)}) == ("plain", ())


def test_a_manifest_that_contradicts_the_file_is_refused(multilevel_decoder_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "decoder.safetensors"
    shutil.copy(multilevel_decoder_file, copy)
    entry = dict(read_manifest(multilevel_decoder_file.parent)[multilevel_decoder_file.stem])
    entry["architecture"] = "decoder-for-vgg16"  # says plain; the file has skips
    (tmp_path / "manifest.json").write_text(json.dumps({"decoder": entry}))
    with pytest.raises(WeightsError, match="unexpected"):
        load_decoder("vgg16-hed", path=copy)
    entry.update(architecture="multilevel-decoder-for-vgg16", skip_taps=["relu3_1"])  # fewer skips than the file
    (tmp_path / "manifest.json").write_text(json.dumps({"decoder": entry}))
    with pytest.raises(WeightsError, match="unexpected"):
        load_decoder("vgg16-hed", path=copy)
    entry.update(skip_taps="all")
    (tmp_path / "manifest.json").write_text(json.dumps({"decoder": entry}))
    with pytest.raises(WeightsError, match="skip taps"):
        load_decoder("vgg16-hed", path=copy)


def test_a_wrong_shape_in_a_skip_is_a_shape_error(tmp_path: Path) -> None:
    decoder = MultiLevelDecoder(ARCHITECTURE)
    state = decoder.state_dict()
    state["skips.relu1_1.weight"] = torch.zeros(64, 64, 3, 3)
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ShapeError, match="skips.relu1_1.weight"):
        load_decoder("vgg16-hed", path=tmp_path / "bad.safetensors")


def test_importing_a_multilevel_decoder_records_its_architecture(tmp_home: Path, multilevel_decoder_file: Path) -> None:
    preset, component, path = import_weights(multilevel_decoder_file, replace=True)  # over the shipped decoder
    assert (preset, component) == ("vgg16-hed", "decoder")
    entry = read_manifest(path.parent)["decoder"]
    assert entry["architecture"] == "multilevel-decoder-for-vgg16" and entry["skip_taps"] == [
        "relu3_1",
        "relu2_1",
        "relu1_1",
    ]
    assert isinstance(load_decoder("vgg16-hed", home=tmp_home), MultiLevelDecoder)


def test_save_decoder_writes_the_skip_taps(tmp_path: Path) -> None:
    decoder = MultiLevelDecoder(ARCHITECTURE, skip_taps=("relu3_1", "relu2_1"))
    save_decoder(decoder, tmp_path / "two.safetensors", "vgg16-hed")
    assert read_manifest(tmp_path)["two"]["skip_taps"] == ["relu3_1", "relu2_1"]
    assert load_decoder("vgg16-hed", path=tmp_path / "two.safetensors").skip_taps == ("relu3_1", "relu2_1")
