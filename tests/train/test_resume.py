"""A stopped or interrupted run, resumed, ends bit-identical to an uninterrupted one; ``--fork``
starts a new run from another's checkpoint (optimiser state and step included)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adain.cli.main import main
from adain.train import Trainer
from adain.train.checkpoint import CHECKPOINT_NAME, load_checkpoint
from adain.train.trainer import export_checkpoint
from adain.weights.store import read_manifest


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
            assert torch.equal(torch.as_tensor(moments_a[index][name]), torch.as_tensor(moments_b[index][name])), (
                index,
                name,
            )
    assert a["optimizer"]["param_groups"][0]["lr"] == b["optimizer"]["param_groups"][0]["lr"]
    assert (a.get("ema") is None) == (b.get("ema") is None)
    for key in a.get("ema") or {}:
        assert torch.equal(a["ema"][key], b["ema"][key]), key


@pytest.mark.parametrize(
    "options",
    [
        {"precision": "fp32"},
        {"precision": "bf16"},
        {"precision": "fp32", "style_mix": 0.5},
        {"precision": "fp32", "ema_decay": 0.9},
    ],
    ids=["fp32", "bf16", "style-mix", "ema"],
)
def test_stop_and_resume_is_bit_exact(make_config, options: dict) -> None:
    total, first = 5, 2
    straight = _fit(make_config("straight", steps=total, **options))

    _fit(make_config("split", steps=first, **options))
    stopped = load_checkpoint(Path(make_config("split").run_dir) / CHECKPOINT_NAME)
    assert stopped["step"] == first
    resumed = _fit(make_config("split", steps=total, **options), resume=True)

    assert resumed.step == straight.step == total
    _assert_same_state(resumed.state_dict(), straight.state_dict())
    # the checkpoint on disk is the final state too
    _assert_same_state(load_checkpoint(resumed.checkpoint_path), straight.state_dict())
    # the logged losses of the resumed part equal the uninterrupted run's, step for step
    assert [h["step"] for h in resumed.history] == list(range(1, total + 1))
    assert resumed.history == straight.history


def test_keyboard_interrupt_then_cli_resume_is_bit_exact(train_argv, tmp_path: Path, monkeypatch, capsys) -> None:
    """steps=5, checkpoint every 2 steps, Ctrl-C inside step 4 -> step 3 saved, exit 130; --resume
    finishes it exactly."""
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
    split_dir = tmp_path / "split"
    assert capsys.readouterr().err.strip().splitlines() == [
        f"adain train: saved step 3 to {split_dir / CHECKPOINT_NAME}; continue with --resume",
        "adain train: interrupted",
    ]
    # the three whole steps, not the last periodic checkpoint (step 2)
    assert load_checkpoint(split_dir / CHECKPOINT_NAME)["step"] == 3
    assert not (split_dir / "decoder.safetensors").exists()

    monkeypatch.setattr(Trainer, "compute_losses", original)
    assert main(train_argv("split", *flags, "--resume")) == 0
    assert "trained to step 5" in capsys.readouterr().out
    resumed = load_checkpoint(split_dir / CHECKPOINT_NAME)
    _assert_same_state(resumed, load_checkpoint(tmp_path / "straight" / CHECKPOINT_NAME))


def test_keyboard_interrupt_during_the_weight_update_keeps_the_last_checkpoint(
    train_argv, tmp_path: Path, monkeypatch, capsys
) -> None:
    """Adam updates the weights in place: a Ctrl-C in the middle leaves no state to save."""
    original = torch.optim.Adam.step

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    assert main(train_argv("run", "--steps", "2")) == 0
    monkeypatch.setattr(torch.optim.Adam, "step", interrupted)
    before = (tmp_path / "run" / CHECKPOINT_NAME).read_bytes()
    capsys.readouterr()
    assert main(train_argv("run", "--steps", "4", "--resume")) == 130
    assert "the last checkpoint (step 2) is kept" in capsys.readouterr().err
    assert (tmp_path / "run" / CHECKPOINT_NAME).read_bytes() == before
    monkeypatch.setattr(torch.optim.Adam, "step", original)


def test_cli_resume_with_another_precision_continues_in_it_with_a_note(train_argv, tmp_path: Path, capsys) -> None:
    """--precision on --resume is how the run goes on, said in a note; without it the run's is kept."""
    flags = [flag for flag in train_argv("run", "--steps", "2") if flag not in ("--precision", "fp32")]
    assert main(flags) == 0  # the default: auto
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)["config"]["precision"] == "auto"
    capsys.readouterr()
    assert main(train_argv("run", "--steps", "3", "--resume")) == 0  # fp32, not auto
    err = capsys.readouterr().err
    assert "note: the run so far used --precision auto; it continues in fp32" in err
    assert load_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)["config"]["precision"] == "fp32"
    # the same precision again, or none given: no note, and the run's precision stays
    assert main([*flags, "--steps", "4", "--resume"]) == 0
    assert "note:" not in capsys.readouterr().err
    resumed = load_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)
    assert resumed["step"] == 4 and resumed["config"]["precision"] == "fp32"


def test_cli_resume_extends_steps_and_keeps_the_run_identity(train_argv, tmp_path: Path) -> None:
    """--resume takes the config from the checkpoint (a changed --lr is ignored); --steps extends it."""
    assert main(train_argv("straight", "--steps", "4")) == 0
    assert main(train_argv("split", "--steps", "2")) == 0
    assert main(train_argv("split", "--steps", "4", "--lr", "0.5", "--resume")) == 0
    resumed = load_checkpoint(tmp_path / "split" / CHECKPOINT_NAME)
    assert resumed["config"]["learning_rate"] == 1e-3
    _assert_same_state(resumed, load_checkpoint(tmp_path / "straight" / CHECKPOINT_NAME))


def test_fork_with_the_same_options_equals_resuming_the_source(train_argv, tmp_path: Path) -> None:
    assert main(train_argv("straight", "--steps", "4")) == 0
    assert main(train_argv("source", "--steps", "2")) == 0
    source_before = (tmp_path / "source" / CHECKPOINT_NAME).read_bytes()
    assert main(train_argv("forked", "--steps", "4", "--fork", str(tmp_path / "source"))) == 0

    forked = load_checkpoint(tmp_path / "forked" / CHECKPOINT_NAME)
    _assert_same_state(forked, load_checkpoint(tmp_path / "straight" / CHECKPOINT_NAME))
    assert (tmp_path / "source" / CHECKPOINT_NAME).read_bytes() == source_before  # the source is only read
    assert [h["step"] for h in forked["history"]] == [1, 2, 3, 4]
    # the manifest tells the whole story: the source's command, then the fork's
    assert [s["start_step"] for s in forked["sessions"]] == [0, 2]
    assert "--fork" not in forked["sessions"][0]["command"] and "--fork" in forked["sessions"][1]["command"]
    exported = export_checkpoint(tmp_path / "forked" / CHECKPOINT_NAME, tmp_path / "forked.safetensors")
    entry = read_manifest(exported.parent)[exported.stem]
    assert entry["fork_from"] == str(tmp_path / "source") and entry["steps"] == 4
    assert entry["forked_from"]["step"] == 2 and entry["forked_from"]["config"]["run_dir"] == str(tmp_path / "source")
    assert " && " in entry["command"]


def test_fork_takes_the_new_options_and_keeps_the_step(train_argv, tmp_path: Path) -> None:
    assert main(train_argv("source", "--steps", "2")) == 0
    assert main(train_argv("mixed", "--steps", "3", "--style-mix", "1", "--fork", str(tmp_path / "source"))) == 0
    forked = load_checkpoint(tmp_path / "mixed" / CHECKPOINT_NAME)
    assert forked["step"] == 3 and forked["config"]["style_mix"] == 1.0
    assert load_checkpoint(tmp_path / "source" / CHECKPOINT_NAME)["config"]["style_mix"] == 0.0
    # and the forked run resumes as its own run, with its own options and origin
    assert main(train_argv("mixed", "--steps", "4", "--resume")) == 0
    resumed = load_checkpoint(tmp_path / "mixed" / CHECKPOINT_NAME)
    assert resumed["step"] == 4 and resumed["config"]["style_mix"] == 1.0
    assert (
        resumed["forked_from"]["run_dir"] == str(tmp_path / "source") and resumed["forked_from"]["forked_from"] is None
    )
    # a fork of a fork nests the first origin
    assert main(train_argv("again", "--steps", "5", "--fork", str(tmp_path / "mixed"))) == 0
    origin = load_checkpoint(tmp_path / "again" / CHECKPOINT_NAME)["forked_from"]
    assert origin["step"] == 4 and origin["forked_from"]["step"] == 2


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--fork", "{tmp}/nothing"), "no checkpoint"),
        (("--fork", "{tmp}/source", "--init", "{tmp}/source/decoder.safetensors"), "choose one"),
        (("--fork", "{tmp}/source", "--resume"), "choose one"),
    ],
)
def test_bad_forks_exit_2_with_one_line(train_argv, tmp_path: Path, capsys, flags, message) -> None:
    assert main(train_argv("source", "--steps", "1")) == 0
    capsys.readouterr()
    argv = train_argv("run", "--steps", "2", *(flag.format(tmp=tmp_path) for flag in flags))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "run" / CHECKPOINT_NAME).exists()


def test_fork_that_turns_on_the_moving_average_starts_it_at_the_source_weights(make_config, tmp_path: Path) -> None:
    source = _fit(make_config("source", steps=2))
    forked = Trainer(make_config("averaged", steps=3, ema_decay=0.9, fork_from=source.config.run_dir), progress=False)
    forked.fork()
    assert forked.ema is not None and forked.step == 2
    for name, value in source.decoder.state_dict().items():
        assert torch.equal(forked.ema[name], value.float()), name
