"""A NaN or infinite loss stops training with TrainingDiverged; the last good checkpoint stays."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from adain.cli.main import main
from adain.errors import TrainingDiverged
from adain.train import Trainer
from adain.train.checkpoint import CHECKPOINT_NAME, load_checkpoint


def _poison_loss_at(monkeypatch, bad_step: int, value: float) -> None:
    """Make the minimised loss ``value`` (NaN or inf) from step ``bad_step`` on."""
    original = Trainer.compute_losses

    def poisoned(self, content, style):
        losses = original(self, content, style)
        if self.step >= bad_step:
            losses["loss"] = losses["loss"] * value
        return losses

    monkeypatch.setattr(Trainer, "compute_losses", poisoned)


def test_nan_loss_raises_and_keeps_the_last_good_checkpoint(make_config, monkeypatch) -> None:
    _poison_loss_at(monkeypatch, bad_step=3, value=math.nan)
    trainer = Trainer(make_config(steps=6, checkpoint_every_steps=2), progress=False)
    with pytest.raises(TrainingDiverged, match="step 3"):
        trainer.fit()
    assert trainer.step == 3  # the poisoned step never reached the optimizer
    assert all(torch.isfinite(p).all() for p in trainer.decoder.parameters())

    saved = load_checkpoint(trainer.checkpoint_path)
    assert saved["step"] == 2 < 3
    assert all(torch.isfinite(v).all() for v in saved["decoder"].values())
    for moments in saved["optimizer"]["state"].values():
        assert torch.isfinite(moments["exp_avg"]).all() and torch.isfinite(moments["exp_avg_sq"]).all()
    assert all(math.isfinite(h["loss"]) for h in saved["history"])


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_cli_reports_divergence_in_one_line_and_exits_1(train_argv, tmp_path: Path, monkeypatch, capsys, value) -> None:
    _poison_loss_at(monkeypatch, bad_step=3, value=value)
    capsys.readouterr()
    assert main(train_argv("run", "--steps", "6", "--checkpoint-every", "2")) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("adain train: error: loss is not finite at step 3"), lines[0]
    assert "Traceback" not in captured.err
    run_dir = tmp_path / "run"
    assert load_checkpoint(run_dir / CHECKPOINT_NAME)["step"] == 2
    assert not (run_dir / "decoder.safetensors").exists()  # a diverged run exports nothing
