"""tools/ship_fast_preset.py: two exported students -> the package's fast-encoder/decoder files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch

from adain.models import CompactEncoder, CompactMultiLevelDecoder
from adain.train.distill import load_student
from adain.weights.store import file_sha256, read_manifest


@pytest.fixture
def students(tmp_path: Path, export_student: Callable[..., Path]) -> tuple[Path, Path]:
    torch.manual_seed(0)
    encoder = export_student(CompactEncoder(), tmp_path / "enc" / "encoder.safetensors", tmp_path)
    decoder = export_student(
        CompactMultiLevelDecoder(skip_taps=("relu3_1", "relu2_1")), tmp_path / "dec" / "decoder.safetensors", tmp_path
    )
    return encoder, decoder


@pytest.fixture
def ship(tool: Callable[[str], ModuleType]) -> ModuleType:
    return tool("ship_fast_preset")


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ship: ModuleType) -> Path:
    """The shipped folder, redirected: the test never writes into the package."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}\n")
    monkeypatch.setattr(ship, "shipped_path", lambda name: folder / name)
    return folder


def test_ships_both_students_with_their_entries_and_the_eval(students, package: Path, ship, tmp_path: Path) -> None:
    encoder, decoder = students
    report = {
        "command": "adain eval --preset fast",
        "date": "2026-12-03",
        "machine": "x",
        "precision": "bf16",
        "summary": [{"method": "decoder", "content_loss": 1.0}],
    }
    # first shipped without an eval; then again with an eval of the shipped files (their sha256)
    assert ship.main([str(encoder), str(decoder)]) == 0
    shipped = {name: package / f"fast-{name}.safetensors" for name in ("encoder", "decoder")}
    report |= {f"{name}_sha256": file_sha256(path) for name, path in shipped.items()}
    (tmp_path / "results.json").write_text(json.dumps(report))
    assert ship.main([str(encoder), str(decoder), "--eval", str(tmp_path / "results.json")]) == 0
    manifest = read_manifest(package)
    for name, path in shipped.items():
        entry = manifest[path.stem]
        assert entry["component"] == name and entry["sha256"] == file_sha256(path)
        assert entry["eval"]["summary"] == report["summary"] and entry["eval"]["precision"] == "bf16"
    assert load_student(shipped["decoder"]).input_taps == ("relu4_1", "relu3_1", "relu2_1")
    assert isinstance(load_student(shipped["encoder"]), CompactEncoder)


def test_refuses_an_eval_of_other_files_and_a_swapped_pair(
    students, package: Path, ship, tmp_path: Path, capsys
) -> None:
    encoder, decoder = students
    (tmp_path / "results.json").write_text(json.dumps({"encoder_sha256": "0" * 64, "decoder_sha256": "1" * 64}))
    assert ship.main([str(encoder), str(decoder), "--eval", str(tmp_path / "results.json")]) == 1
    assert "evaluated other files" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="no encoder entry"):
        ship.main([str(decoder), str(encoder)])
