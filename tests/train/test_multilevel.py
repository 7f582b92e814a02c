"""Training the multi-level decoder: --init from a plain decoder, the skips' own rate, resume,
export, and the selection split held out of the data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adain.cli.main import main
from adain.models import Decoder, MultiLevelDecoder
from adain.train import Trainer
from adain.train.checkpoint import CHECKPOINT_NAME, load_checkpoint
from adain.train.data import find_images, in_selection_split, selection_split
from adain.train.trainer import training_images
from adain.weights import get_preset, load_decoder, save_decoder
from adain.weights.store import read_manifest


def _fit(config, resume: bool = False) -> Trainer:
    trainer = Trainer(config, progress=False)
    if resume:
        assert trainer.resume()
    trainer.fit()
    trainer.close()
    return trainer


@pytest.fixture
def plain_init(tmp_path: Path) -> Path:
    torch.manual_seed(7)
    path = tmp_path / "init" / "plain.safetensors"
    save_decoder(Decoder(get_preset("vgg16-hed").architecture), path, "vgg16-hed")
    return path


def test_init_from_a_plain_decoder_starts_as_it(make_config, plain_init: Path) -> None:
    plain = load_decoder("vgg16-hed", plain_init)
    trainer = Trainer(make_config("ml", decoder="multilevel", init_decoder=str(plain_init)), progress=False)
    decoder = trainer.decoder
    assert isinstance(decoder, MultiLevelDecoder) and trainer.decoder_taps == (
        "relu4_1",
        "relu3_1",
        "relu2_1",
        "relu1_1",
    )
    for key, value in plain.state_dict().items():
        assert torch.equal(decoder.state_dict()[key], value), key
    assert all(torch.equal(gate, torch.zeros_like(gate)) for gate in decoder.gates.values())
    trainer.close()


def test_training_opens_the_gates_and_exports_a_multilevel_file(make_config, plain_init: Path, tmp_path: Path) -> None:
    trainer = _fit(
        make_config("ml", decoder="multilevel", init_decoder=str(plain_init), steps=3, skip_taps=("relu3_1", "relu2_1"))
    )
    assert trainer.decoder.skip_taps == ("relu3_1", "relu2_1")
    assert all(gate.abs().sum() > 0 for gate in trainer.decoder.gates.values())
    exported = trainer.export_decoder(tmp_path / "out" / "decoder.safetensors")
    entry = read_manifest(exported.parent)["decoder"]
    assert entry["architecture"] == "multilevel-decoder-for-vgg16" and entry["skip_taps"] == ["relu3_1", "relu2_1"]
    assert entry["decoder_kind"] == "multilevel"
    loaded = load_decoder("vgg16-hed", exported)
    assert isinstance(loaded, MultiLevelDecoder) and loaded.skip_taps == ("relu3_1", "relu2_1")


def test_skip_learning_rate_is_a_second_group_that_decays_too(make_config) -> None:
    trainer = _fit(
        make_config(
            "lr", decoder="multilevel", steps=2, learning_rate=1e-4, skip_learning_rate=1e-3, learning_rate_decay=0.5
        )
    )
    groups = trainer.optimizer.param_groups
    assert [g["base_lr"] for g in groups] == [1e-4, 1e-3]
    assert groups[0]["lr"] == pytest.approx(1e-4 / 1.5) and groups[1]["lr"] == pytest.approx(1e-3 / 1.5)
    new = {id(p) for name, p in trainer.decoder.named_parameters() if name.startswith(("skips.", "gates."))}
    assert {id(p) for p in groups[1]["params"]} == new
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(list(trainer.decoder.parameters()))


def test_a_fork_takes_its_own_rates(make_config) -> None:
    _fit(make_config("source", decoder="multilevel", steps=2, skip_learning_rate=1e-3))
    fork = _fit(
        make_config(
            "fork",
            decoder="multilevel",
            steps=3,
            learning_rate=2e-4,
            skip_learning_rate=5e-3,
            fork_from=str(Path(make_config("source").run_dir)),
        )
    )
    assert fork.step == 3
    assert [group["base_lr"] for group in fork.optimizer.param_groups] == [2e-4, 5e-3]
    from adain.errors import UsageError

    with pytest.raises(UsageError, match="parameter group"):
        Trainer(
            make_config("regrouped", decoder="multilevel", steps=3, fork_from=str(Path(make_config("source").run_dir))),
            progress=False,
        ).fork()


@pytest.mark.parametrize(
    "options", [{}, {"skip_learning_rate": 1e-2, "ema_decay": 0.9}], ids=["one-rate", "skip-rate-ema"]
)
def test_multilevel_stop_and_resume_is_bit_exact(make_config, options: dict) -> None:
    straight = _fit(make_config("straight", decoder="multilevel", steps=4, **options))
    _fit(make_config("split", decoder="multilevel", steps=2, **options))
    resumed = _fit(make_config("split", decoder="multilevel", steps=4, **options), resume=True)
    a, b = resumed.state_dict(), straight.state_dict()
    assert a["step"] == b["step"] == 4
    for key in a["decoder"]:
        assert torch.equal(a["decoder"][key], b["decoder"][key]), key
    assert resumed.history == straight.history


def test_a_multilevel_init_for_a_plain_run_and_mismatched_forks_are_refused(
    make_config, train_argv, tmp_path: Path, capsys
) -> None:
    multilevel = tmp_path / "init" / "ml.safetensors"
    save_decoder(MultiLevelDecoder(get_preset("vgg16-hed").architecture), multilevel, "vgg16-hed")
    assert main(train_argv("plain", "--steps", "1", "--init", str(multilevel))) == 2
    assert "--decoder multilevel" in capsys.readouterr().err
    assert main(train_argv("source", "--steps", "1")) == 0
    assert main(train_argv("fork", "--steps", "2", "--fork", str(tmp_path / "source"), "--decoder", "multilevel")) == 2
    assert "--init" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # an argparse error
        main(train_argv("taps", "--steps", "1", "--decoder", "multilevel", "--skip-taps", "relu4_1"))
    assert exit_info.value.code == 2 and "relu4_1" in capsys.readouterr().err
    assert main(train_argv("fraction", "--steps", "1", "--selection-fraction", "1.5")) == 2
    assert "selection fraction" in capsys.readouterr().err


def test_cli_multilevel_run(train_argv, tmp_path: Path) -> None:
    assert (
        main(
            train_argv("cli", "--steps", "2", "--decoder", "multilevel", "--skip-taps", "relu1_1", "--skip-lr", "1e-3")
        )
        == 0
    )
    state = load_checkpoint(tmp_path / "cli" / CHECKPOINT_NAME)
    assert state["config"]["decoder"] == "multilevel" and state["config"]["skip_taps"] == ["relu1_1"]
    assert isinstance(load_decoder("vgg16-hed", tmp_path / "cli" / "decoder.safetensors"), MultiLevelDecoder)


class TestSelectionSplit:
    def test_split_is_by_file_name_and_stable(self, tmp_path: Path) -> None:
        names = [f"image_{i:03d}.jpg" for i in range(400)]
        files = [tmp_path / "a" / name for name in names]
        training, selection = selection_split(files, 0.1)
        assert 20 <= len(selection) <= 60 and len(training) + len(selection) == 400
        assert not set(training) & set(selection)
        moved = [tmp_path / "elsewhere" / "deep" / name for name in names]
        assert [p.name for p in selection_split(moved, 0.1)[1]] == [p.name for p in selection]
        assert selection_split(files, 0.0) == (files, [])
        bigger = {p.name for p in selection_split(files, 0.2)[1]}
        assert {p.name for p in selection} <= bigger  # a larger fraction keeps the smaller split

    def test_training_never_sees_the_selection_split(self, make_config, image_folders) -> None:
        _content, style = image_folders
        fraction = 0.5
        held_out = [p for p in find_images(style) if in_selection_split(p, fraction)]
        assert held_out, "the fixture images should put some style in the split at 0.5"
        trainer = Trainer(make_config("split", selection_fraction=fraction), progress=False)
        used = set(trainer.dataset.style.files) | set(trainer.dataset.content.files)
        assert not used & set(held_out)
        assert set(trainer.dataset.style.files) == set(training_images(str(style), fraction))
        trainer.close()
