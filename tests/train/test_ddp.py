"""DDP under torchrun (gloo on CPU): two ranks train the same model as one process on the global batch."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from adain.cli.main import main
from adain.train.checkpoint import CHECKPOINT_NAME, load_checkpoint

#: run by each rank: wraps the writers to record who wrote what, runs ``adain train`` through the
#: CLI, then dumps this rank's decoder, loss history and write log.
DRIVER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path

    import torch
    import torch.distributed as dist

    import adain.train.trainer as trainer_module
    from adain.cli.main import main
    from adain.train.reporting import TrainingReporter

    out = Path(sys.argv[1])
    rank = int(os.environ["RANK"])
    writes = []
    captured = {}

    def recording(owner, name, kind):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            result = original(*args, **kwargs)
            if result is not None or kind == "checkpoint":
                writes.append(kind)
            return result

        setattr(owner, name, wrapper)

    recording(trainer_module, "save_checkpoint", "checkpoint")
    recording(TrainingReporter, "plot_history", "loss_curve")
    recording(TrainingReporter, "write_grid", "samples")
    recording(trainer_module.Trainer, "export_decoder", "decoder")
    original_fit = trainer_module.Trainer.fit

    def fit(self):
        captured["trainer"] = self
        return original_fit(self)

    trainer_module.Trainer.fit = fit
    code = main(sys.argv[2:])
    trainer = captured["trainer"]
    torch.save(
        {
            "code": code,
            "rank": trainer.rank,
            "world_size": trainer.world_size,
            "group_destroyed": not dist.is_initialized(),
            "decoder": trainer.decoder.state_dict(),
            "history": trainer.history,
            "writes": writes,
        },
        out / f"rank{rank}.pt",
    )
    sys.exit(code)
    """
)


def test_two_rank_ddp_matches_one_process(train_argv, tmp_path: Path) -> None:
    steps = 3
    flags = (
        "--steps",
        str(steps),
        "--batch-size",
        "4",
        "--sample-every",
        "3",
        "--checkpoint-every",
        "2",
        "--complexity-weighting",
        "0.5",
    )
    (tmp_path / "driver.py").write_text(DRIVER)
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("WORLD_SIZE", None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(tmp_path / "driver.py"),
        str(dumps),
        *train_argv("ddp", *flags),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    ranks = [torch.load(dumps / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert [r["rank"] for r in ranks] == [0, 1] and all(r["world_size"] == 2 for r in ranks)
    assert all(r["code"] == 0 and r["group_destroyed"] for r in ranks)

    # (a) both ranks end with identical decoders
    for key, value in ranks[0]["decoder"].items():
        assert torch.equal(value, ranks[1]["decoder"][key]), key

    # (b) the per-step losses (reduced over ranks) match one process on the same global batch
    assert main(train_argv("single", *flags)) == 0
    single = load_checkpoint(tmp_path / "single" / CHECKPOINT_NAME)
    assert (
        [h["step"] for h in ranks[0]["history"]] == [h["step"] for h in single["history"]] == list(range(1, steps + 1))
    )
    for rank in ranks:
        for ddp_entry, single_entry in zip(rank["history"], single["history"]):
            for key in ("loss", "content", "style", "lr"):
                assert ddp_entry[key] == pytest.approx(single_entry[key], rel=1e-5), (ddp_entry["step"], key)
    # the weights agree too, except where a gradient is ~0 and Adam's normalised step (about +-lr)
    # takes the sign of rounding noise: a handful of elements may differ by up to 2 lr per step
    learning_rate = 1e-3
    for key, value in single["decoder"].items():
        difference = (ranks[0]["decoder"][key] - value).abs()
        assert difference.max() <= 2 * learning_rate * steps, key
        assert (difference > 1e-5).float().mean() < 1e-4, key

    # (c) only rank 0 wrote the checkpoint, curves, samples and decoder
    assert sorted(set(ranks[0]["writes"])) == ["checkpoint", "decoder", "loss_curve", "samples"]
    assert ranks[1]["writes"] == []
    run_dir = tmp_path / "ddp"
    assert load_checkpoint(run_dir / CHECKPOINT_NAME)["step"] == steps
    assert len(list((run_dir / "tensorboard").glob("events.out.tfevents.*"))) == 1
    assert [p.name for p in (run_dir / "samples").iterdir()] == [f"step_{steps:07d}.png"]
    assert result.stdout.count("trained to step") == 1
