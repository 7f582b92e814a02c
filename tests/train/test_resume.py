"""A stopped or interrupted run, resumed, ends bit-identical to an uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adain.cli.main import main
from adain.train import Trainer
from adain.train.checkpoint import CHECKPOINT_NAME, load_checkpoint


def _fit(config, resume: bool = False) -> Trainer:
    trainer = Trainer(config, progress=False)
    if resume:
        assert trainer.resume()
    trainer.fit()
    trainer.close()
    return trainer


def _assert_same_state(a: dict, b: dict) -> None:
    """Decoder weights, Adam moments and step counters, compared with torch.equal."""
    assert a["step"] == b["step"]
    assert a["decoder"].keys() == b["decoder"].keys()
    for key in a["decoder"]:
        assert torch.equal(a["decoder"][key], b["decoder"][key]), key
    moments_a, moments_b = a["optimizer"]["state"], b["optimizer"]["state"]
    assert moments_a.keys() == moments_b.keys() and len(moments_a) > 0
    for index in moments_a:
        for name in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(torch.as_tensor(moments_a[index][name]), torch.as_tensor(moments_b[index][name])), (index, name)
    assert a["optimizer"]["param_groups"][0]["lr"] == b["optimizer"]["param_groups"][0]["lr"]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_stop_and_resume_is_bit_exact(make_config, precision: str) -> None:
    total, first = 5, 2
    straight = _fit(make_config("straight", steps=total, precision=precision))

    _fit(make_config("split", steps=first, precision=precision))
    stopped = load_checkpoint(Path(make_config("split").run_dir) / CHECKPOINT_NAME)
    assert stopped["step"] == first
    resumed = _fit(make_config("split", steps=total, precision=precision), resume=True)

    assert resumed.step == straight.step == total
    _assert_same_state(resumed.state_dict(), straight.state_dict())
    # the checkpoint on disk is the final state too
    _assert_same_state(load_checkpoint(resumed.checkpoint_path), straight.state_dict())
    # the logged losses of the resumed part equal the uninterrupted run's, step for step
    assert [h["step"] for h in resumed.history] == list(range(1, total + 1))
    assert resumed.history == straight.history


def test_keyboard_interrupt_then_cli_resume_is_bit_exact(train_argv, tmp_path: Path, monkeypatch, capsys) -> None:
    """steps=5, checkpoint every 2 steps, Ctrl-C inside step 4 -> exit 130; --resume finishes it exactly."""
    flags = ("--steps", "5", "--checkpoint-every", "2")
    assert main(train_argv("straight", *flags)) == 0

    original = Trainer.compute_losses

    def interrupted(self, content, style):
        if self.step == 3:  # three steps done; Ctrl-C lands in the middle of the fourth
            raise KeyboardInterrupt
        return original(self, content, style)

    monkeypatch.setattr(Trainer, "compute_losses", interrupted)
    capsys.readouterr()
    assert main(train_argv("split", *flags)) == 130
    assert capsys.readouterr().err.strip() == "adain train: interrupted"
    split_dir = tmp_path / "split"
    assert load_checkpoint(split_dir / CHECKPOINT_NAME)["step"] == 2  # the last periodic checkpoint
    assert not (split_dir / "decoder.safetensors").exists()

    monkeypatch.setattr(Trainer, "compute_losses", original)
    assert main(train_argv("split", *flags, "--resume")) == 0
    assert "trained to step 5" in capsys.readouterr().out
    resumed = load_checkpoint(split_dir / CHECKPOINT_NAME)
    _assert_same_state(resumed, load_checkpoint(tmp_path / "straight" / CHECKPOINT_NAME))


def test_cli_resume_extends_steps_and_keeps_the_run_identity(train_argv, tmp_path: Path) -> None:
    """--resume takes the config from the checkpoint (a changed --lr is ignored); --steps extends it."""
    assert main(train_argv("straight", "--steps", "4")) == 0
    assert main(train_argv("split", "--steps", "2")) == 0
    assert main(train_argv("split", "--steps", "4", "--lr", "0.5", "--resume")) == 0
    resumed = load_checkpoint(tmp_path / "split" / CHECKPOINT_NAME)
    assert resumed["config"]["learning_rate"] == 1e-3
    _assert_same_state(resumed, load_checkpoint(tmp_path / "straight" / CHECKPOINT_NAME))
