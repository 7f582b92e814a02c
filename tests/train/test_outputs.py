"""What a run leaves behind: safe checkpoint, loss curve, sample grids, TensorBoard, exported decoder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from adain.cli.main import main
from adain.weights import load_decoder


def test_a_run_writes_every_output(train_argv, tmp_path: Path, capsys) -> None:
    export = tmp_path / "exported" / "my_decoder.safetensors"
    capsys.readouterr()
    argv = train_argv(
        "run",
        "--steps",
        "4",
        "--checkpoint-every",
        "2",
        "--sample-every",
        "2",
        "--log-every",
        "2",
        "--export",
        str(export),
    )
    assert main(argv) == 0
    run_dir = tmp_path / "run"
    assert capsys.readouterr().out.strip() == f"trained to step 4; decoder: {export}"

    # the checkpoint holds only plain data: it loads without unpickling code
    checkpoint = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert checkpoint["step"] == 4 and checkpoint["config"]["crop_size"] == 16
    assert [h["step"] for h in checkpoint["history"]] == [2, 4]
    assert not list(run_dir.glob(".checkpoint.pt.*"))  # no temporary files left by the atomic writes

    with Image.open(run_dir / "loss_curve.png") as curve:
        assert curve.format == "PNG" and curve.width > 100

    grids = sorted((run_dir / "samples").glob("step_*.png"))
    assert [g.name for g in grids] == ["step_0000002.png", "step_0000004.png"]
    with Image.open(grids[-1]) as grid:
        # four preview rows of content | style | output, each a 16 px crop
        assert grid.mode == "RGB" and grid.size == (3 * 16, 4 * 16)

    events = list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    reader = accumulator.EventAccumulator(str(events[0]))
    reader.Reload()
    assert {"train/loss", "train/content", "train/style", "train/lr"} <= set(reader.Tags()["scalars"])
    assert [event.step for event in reader.Scalars("train/loss")] == [2, 4]
    assert reader.Scalars("train/loss")[-1].value == pytest.approx(checkpoint["history"][-1]["loss"])
    assert "samples" in reader.Tags()["images"]

    for decoder_path in (run_dir / "decoder.safetensors", export):
        entry = json.loads((decoder_path.parent / "manifest.json").read_text())[decoder_path.stem]
        assert entry["preset"] == "vgg16-hed" and entry["component"] == "decoder"
        assert entry["steps"] == 4 and entry["crop_size"] == 16 and entry["batch_size"] == 2
        assert entry["command"].startswith("adain train --content ") and "--steps 4" in entry["command"]
        assert entry["commit"] is None or re.fullmatch(r"[0-9a-f]{40}", entry["commit"])
        decoder = load_decoder("vgg16-hed", decoder_path)
        for key, value in decoder.state_dict().items():
            # exported in fp16: the checkpoint's fp32 weights, rounded
            assert torch.equal(value, checkpoint["decoder"][key].half().float()), key
