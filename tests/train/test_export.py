"""``adain train --export-only``: a checkpoint's decoder with its provenance, while a run goes on."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from adain.cli.main import main
from adain.weights import load_decoder


def test_export_only_writes_the_checkpoint_decoder(train_argv, tmp_path: Path, capsys) -> None:
    assert main(train_argv("run", "--steps", "2", "--checkpoint-every", "2")) == 0
    assert main(train_argv("run", "--steps", "3", "--resume")) == 0
    capsys.readouterr()
    out = tmp_path / "snapshot" / "decoder.safetensors"
    assert main(["train", "--run-dir", str(tmp_path / "run"), "--export-only", "--export", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"decoder: {out}"
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", map_location="cpu", weights_only=True)
    decoder = load_decoder("vgg16-hed", out)
    for key, value in checkpoint["decoder"].items():
        torch.testing.assert_close(decoder.state_dict()[key], value.half().float())
    entry = json.loads((out.parent / "manifest.json").read_text())["decoder"]
    assert entry["steps"] == 3 and entry["crop_size"] == 16
    # both the first command and the resume are recorded, with the commit each ran at
    assert [s["start_step"] for s in entry["sessions"]] == [0, 2]
    assert entry["command"].count("adain train") == 2 and "--resume" in entry["command"]


def test_export_only_needs_a_checkpoint_and_a_target(tmp_path: Path, capsys) -> None:
    assert (
        main(["train", "--run-dir", str(tmp_path), "--export-only", "--export", str(tmp_path / "d.safetensors")]) == 2
    )
    assert main(["train", "--run-dir", str(tmp_path), "--export-only"]) == 2
    assert main(["train", "--run-dir", str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 3
