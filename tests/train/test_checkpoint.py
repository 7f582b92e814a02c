"""Checkpoints: atomic writes, safe loading, and the step / minute cadence."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import adain.train.checkpoint as checkpoint_module
from adain.cli.main import main
from adain.errors import WeightsError
from adain.train import Trainer
from adain.train.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / CHECKPOINT_NAME
    save_checkpoint(path, {"step": 1, "weights": torch.ones(3)})

    def failing_save(state, target):
        Path(target).write_bytes(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"step": 2, "weights": torch.zeros(3)})
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_NAME]  # no temporary file left


def test_unreadable_checkpoint_is_one_line_error(train_argv, tmp_path: Path, capsys) -> None:
    with pytest.raises(WeightsError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / CHECKPOINT_NAME).write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot read checkpoint"):
        load_checkpoint(run_dir / CHECKPOINT_NAME)
    capsys.readouterr()
    assert main(train_argv("run", "--steps", "2", "--resume")) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot read checkpoint" in err, err


@pytest.mark.parametrize(
    ("every_steps", "every_minutes", "saved_at"), [(2, 600.0, [2, 4, 5]), (1000, 0.0, [1, 2, 3, 4, 5])]
)
def test_checkpoint_cadence(make_config, monkeypatch, every_steps, every_minutes, saved_at) -> None:
    """Every N steps, at the end, and whenever M minutes passed (0 minutes: after every step)."""
    steps_saved: list[int] = []
    monkeypatch.setattr(Trainer, "save", lambda self: steps_saved.append(self.step))  # count, do not write
    trainer = Trainer(
        make_config(steps=5, checkpoint_every_steps=every_steps, checkpoint_every_minutes=every_minutes), progress=False
    )
    trainer.fit()
    assert steps_saved == saved_at
