"""Distilling the compact students: the losses fall, a resumed run ends bit-identical to an
uninterrupted one, the export loads back, and the command's bad options are one-line errors.

The teacher is the real vgg16-hed encoder (quick at 16 px crops) and, for the decoder, the seeded
random multi-level decoder of tests/conftest.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from adain.cli.main import main
from adain.errors import UsageError
from adain.models import CompactEncoder, CompactMultiLevelDecoder
from adain.ops.statistics import channel_mean_std
from adain.train.checkpoint import CHECKPOINT_NAME, load_checkpoint
from adain.train.distill import (
    LOSS_LOG_NAME,
    DistillConfig,
    Distiller,
    export_distill_checkpoint,
    load_student,
    tap_statistics_error,
)
from adain.weights.store import read_manifest

FAST: dict[str, Any] = {
    "batch_size": 2,
    "crop_size": 16,
    "resize_shorter": 32,
    "precision": "fp32",
    "selection_fraction": 0.0,
    "checkpoint_every_steps": 1000,
    "checkpoint_every_minutes": 600.0,
    "sample_every_steps": 0,
    "log_every_steps": 1,
}


@pytest.fixture
def make_config(image_folders: tuple[Path, Path], tmp_path: Path, multilevel_decoder_file: Path) -> Callable:
    def make(target: str, name: str = "run", **overrides: Any) -> DistillConfig:
        content, style = image_folders
        teacher = {"teacher_decoder": str(multilevel_decoder_file)} if target == "decoder" else {}
        options = {**FAST, **teacher, **overrides}
        return DistillConfig(target, str(content), str(style), str(tmp_path / name), **options)

    return make


def _fit(config: DistillConfig, resume: bool = False) -> Distiller:
    distiller = Distiller(config, progress=False)
    if resume:
        assert distiller.resume()
    distiller.fit()
    return distiller


@pytest.mark.parametrize("target", ["encoder", "decoder"])
def test_a_few_steps_lower_the_loss(make_config: Callable, target: str) -> None:
    """On one batch, again and again: the gradient points the right way and the loss's scale lets
    Adam move. The decoder's teacher is the shipped one here (a random decoder's output is far
    outside the image range)."""
    teacher = {"teacher_decoder": None} if target == "decoder" else {}
    distiller = Distiller(make_config(target, learning_rate=2e-3, **teacher), progress=False)
    content, style = distiller._batch(0)
    first = distiller.train_step(content, style)["loss"]
    for _ in range(12):
        last = distiller.train_step(content, style)["loss"]
    assert last < (0.9 if target == "encoder" else 0.5) * first


def test_decoder_losses_through_the_teacher_encoder_are_optional(make_config: Callable) -> None:
    plain = Distiller(make_config("decoder"), progress=False)
    content, style = plain.dataset[0]
    assert set(plain.compute_losses(content[None], style[None])) == {"pixel", "loss"}
    weighted = Distiller(make_config("decoder", content_weight=1.0, style_weight=0.5), progress=False)
    losses = weighted.compute_losses(content[None], style[None])
    assert set(losses) == {"pixel", "content", "style", "loss"}
    expected = losses["pixel"] + losses["content"] + 0.5 * losses["style"]
    assert torch.allclose(losses["loss"], expected)


def test_the_student_decoder_takes_what_the_teacher_takes(make_config: Callable) -> None:
    distiller = Distiller(make_config("decoder", width=0.5), progress=False)
    assert isinstance(distiller.student, CompactMultiLevelDecoder)
    assert distiller.student.input_taps == ("relu4_1", "relu3_1", "relu2_1", "relu1_1")
    assert distiller.student.channels["relu3_1"] == 128


def test_the_student_decoder_may_take_fewer_taps(make_config: Callable, tmp_path: Path) -> None:
    """--skip-taps relu3_1,relu2_1: the student gets the teacher's inputs at those taps only, and
    its export says so (the pipeline then encodes no relu1_1 for it)."""
    distiller = _fit(make_config("decoder", steps=2, skip_taps=("relu2_1", "relu3_1")))
    assert distiller.student.input_taps == ("relu4_1", "relu3_1", "relu2_1")
    content, style = distiller._batch(0)
    inputs, statistics = distiller.decoder_inputs(content, style)
    given = distiller.student_inputs(inputs, content, statistics)
    assert [x.shape[1] for x in given] == [512, 256, 128]
    assert all(x is y for x, y in zip(given, inputs[:3]))  # the teacher's own inputs, relu1_1 left out
    assert distiller.write_samples() is not None
    student = load_student(distiller.export(tmp_path / "out" / "decoder.safetensors"))
    assert student.input_taps == ("relu4_1", "relu3_1", "relu2_1")
    assert DistillConfig.from_dict(distiller.config.to_dict()).skip_taps == ("relu2_1", "relu3_1")


def test_the_student_decoder_can_learn_from_the_student_encoder(make_config: Callable, tmp_path: Path) -> None:
    """--student-encoder: the student decoder's inputs are that encoder's taps of the content,
    AdaIN'd with the teacher's style statistics (what the fast preset gives it), not the teacher's."""
    encoder_file = _fit(make_config("encoder", "encoder", steps=1)).export(tmp_path / "enc" / "encoder.safetensors")
    config = make_config("decoder", "decoder", steps=1, student_encoder=str(encoder_file), skip_taps=("relu3_1",))
    distiller = _fit(config)
    content, style = distiller._batch(0)
    inputs, statistics = distiller.decoder_inputs(content, style)
    given = distiller.student_inputs(inputs, content, statistics)
    assert [x.shape for x in given] == [inputs[0].shape, inputs[1].shape]
    assert not torch.allclose(given[0].float(), inputs[0].float())
    student_taps = load_student(encoder_file)(content)
    for tap, features in zip(("relu4_1", "relu3_1"), given):
        mean, std = channel_mean_std(features.float())
        expected_mean, expected_std = statistics[tap]
        torch.testing.assert_close(mean, expected_mean.float(), rtol=0.05, atol=0.05)
        assert features.shape == student_taps[tap].shape
        # the style's spread wherever the student's content has one (a constant channel stays flat)
        alive = channel_mean_std(student_taps[tap].float())[1] > 0.1
        torch.testing.assert_close(std[alive], expected_std.float().expand_as(std)[alive], rtol=0.05, atol=0.05)
    entry = read_manifest(distiller.export(tmp_path / "dec" / "decoder.safetensors").parent)["decoder"]
    assert entry["teacher"]["student_encoder"] == str(encoder_file)
    assert len(entry["teacher"]["student_encoder_sha256"]) == 64
    with pytest.raises(UsageError, match="not a compact encoder"):
        Distiller(make_config("decoder", "bad", student_encoder=str(tmp_path / "dec" / "decoder.safetensors")))
    with pytest.raises(UsageError, match="--student-encoder: no file"):
        make_config("decoder", student_encoder=str(tmp_path / "missing.safetensors")).check()


def _assert_same_state(a: dict, b: dict) -> None:
    assert a["step"] == b["step"]
    for key in a["student"]:
        assert torch.equal(a["student"][key], b["student"][key]), key
    moments_a, moments_b = a["optimizer"]["state"], b["optimizer"]["state"]
    assert moments_a.keys() == moments_b.keys() and len(moments_a) > 0
    for index in moments_a:
        for name in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(moments_a[index][name], moments_b[index][name]), (index, name)
    assert a["variance"].keys() == b["variance"].keys()
    for tap in a["variance"]:
        assert torch.equal(a["variance"][tap], b["variance"][tap]), tap
    for key in a.get("ema") or {}:
        assert torch.equal(a["ema"][key], b["ema"][key]), key


@pytest.mark.parametrize(
    "target, options",
    [("encoder", {}), ("encoder", {"kind": "separable", "ema_decay": 0.9}), ("decoder", {"style_weight": 1.0})],
    ids=["encoder", "separable-ema", "decoder"],
)
def test_stop_and_resume_is_bit_exact(make_config: Callable, target: str, options: dict) -> None:
    straight = _fit(make_config(target, "straight", steps=4, **options))
    _fit(make_config(target, "split", steps=2, **options))
    assert load_checkpoint(Path(make_config(target, "split").run_dir) / CHECKPOINT_NAME)["step"] == 2
    resumed = _fit(make_config(target, "split", steps=4, **options), resume=True)
    assert resumed.step == straight.step == 4
    _assert_same_state(resumed.state_dict(), straight.state_dict())
    _assert_same_state(load_checkpoint(resumed.checkpoint_path), straight.state_dict())
    assert resumed.history == straight.history and [h["step"] for h in resumed.history] == [1, 2, 3, 4]


def test_an_interrupt_saves_the_last_whole_step(
    make_config: Callable, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C or SIGTERM (which adain.cli.main raises as KeyboardInterrupt) inside step 4: the three
    whole steps are saved, not the last periodic checkpoint (step 2); resuming ends as a straight run."""
    straight = _fit(make_config("encoder", "straight", steps=5, checkpoint_every_steps=2))
    original = Distiller.compute_losses

    def interrupted(self: Distiller, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.step == 3:
            raise KeyboardInterrupt
        return original(self, content, style)

    monkeypatch.setattr(Distiller, "compute_losses", interrupted)
    config = make_config("encoder", "split", steps=5, checkpoint_every_steps=2)
    with pytest.raises(KeyboardInterrupt):
        _fit(config)
    checkpoint = Path(config.run_dir) / CHECKPOINT_NAME
    assert load_checkpoint(checkpoint)["step"] == 3
    assert f"adain distill: saved step 3 to {checkpoint}" in capsys.readouterr().err
    monkeypatch.setattr(Distiller, "compute_losses", original)
    resumed = _fit(config, resume=True)
    _assert_same_state(resumed.state_dict(), straight.state_dict())


def test_loss_log_and_curve(make_config: Callable) -> None:
    config = make_config("encoder", steps=3, checkpoint_every_steps=2)
    distiller = _fit(config)
    run_dir = Path(config.run_dir)
    logged = [json.loads(line) for line in (run_dir / LOSS_LOG_NAME).read_text().splitlines()]
    assert logged == distiller.history and set(logged[0]) >= {"step", "lr", "loss", "relu1_1", "relu4_1"}
    assert (run_dir / "loss_curve.png").stat().st_size > 0
    # lines logged after the last checkpoint (a crash) are dropped on resume, then logged again
    with open(run_dir / LOSS_LOG_NAME, "a") as log:
        log.write(json.dumps({"step": 4, "loss": 1.0}) + "\n")
    resumed = _fit(make_config("encoder", steps=3), resume=True)
    assert [json.loads(line)["step"] for line in (run_dir / LOSS_LOG_NAME).read_text().splitlines()] == [1, 2, 3]
    assert resumed.step == 3


@pytest.mark.parametrize("target", ["encoder", "decoder"])
def test_export_loads_back(make_config: Callable, target: str, tmp_path: Path) -> None:
    distiller = _fit(make_config(target, steps=2, width=0.5))
    distiller.record_session("adain distill test")
    path = distiller.export(tmp_path / "out" / "student.safetensors", command="adain distill test")
    student = load_student(path)
    assert isinstance(student, CompactEncoder if target == "encoder" else CompactMultiLevelDecoder)
    assert student.width == 0.5
    for key, value in distiller.student.state_dict().items():
        assert torch.equal(student.state_dict()[key], value.half().float()), key
    entry = read_manifest(path.parent)["student"]
    assert entry["component"] == target and entry["width"] == 0.5 and entry["steps"] == 2
    assert entry["architecture"] == ("compact-encoder" if target == "encoder" else "compact-multilevel-decoder")
    assert entry["teacher"]["preset"] == "vgg16-hed" and len(entry["teacher"]["encoder_sha256"]) == 64
    assert entry["content_data"] == distiller.config.content_dir and "adain distill test" in entry["command"]
    if target == "decoder":
        assert entry["teacher"]["decoder"] == distiller.config.teacher_decoder
    # the checkpoint exports the same weights without the data or the teacher
    again = export_distill_checkpoint(distiller.checkpoint_path, tmp_path / "again" / "student.safetensors")
    assert all(torch.equal(load_student(again).state_dict()[k], v) for k, v in student.state_dict().items())
    with pytest.raises(UsageError, match="not a checkpoint"):
        export_distill_checkpoint(
            distiller.checkpoint_path, tmp_path / "x.safetensors", "decoder" if target == "encoder" else "encoder"
        )


def test_init_starts_from_an_exported_student(make_config: Callable, tmp_path: Path) -> None:
    """A last phase (here: with the content and style losses on) starts from the previous phase's export."""
    first = _fit(make_config("decoder", "first", steps=2))
    exported = first.export(tmp_path / "phase1" / "decoder.safetensors")
    second = Distiller(make_config("decoder", "second", init_student=str(exported), style_weight=1.0), progress=False)
    for key, value in load_student(exported).state_dict().items():
        assert torch.equal(second.student.state_dict()[key], value), key
    second.export(tmp_path / "phase2" / "decoder.safetensors")
    assert read_manifest(tmp_path / "phase2")["decoder"]["init_student_entry"]["steps"] == 2
    with pytest.raises(UsageError, match="not the"):
        Distiller(make_config("decoder", "third", init_student=str(exported), width=0.5), progress=False)
    with pytest.raises(UsageError, match="no student file"):
        make_config("decoder", init_student=str(tmp_path / "missing.safetensors")).check()


def test_statistics_error_of_the_teacher_itself_is_zero() -> None:
    torch.manual_seed(0)
    encoder = CompactEncoder().eval()
    errors = tap_statistics_error(encoder, encoder, torch.rand(2, 3, 16, 16))
    assert set(errors) == {"relu1_1", "relu2_1", "relu3_1", "relu4_1"}
    assert all(value == 0 for error in errors.values() for value in error.values())


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"target": "vae"}, "target must be one of"),
        ({"kind": "mobile"}, "kind must be one of"),
        ({"width": 0.0}, "width"),
        ({"crop_size": 20}, "crop size"),
        ({"steps": -1}, "steps"),
        ({"learning_rate": 0.0}, "learning rate"),
        ({"ema_decay": 1.0}, "EMA"),
        ({"pixel_loss": "huber"}, "pixel loss"),
        ({"teacher_decoder": "d.safetensors"}, "decoder distillation"),
        ({"skip_taps": ("relu2_1",)}, "decoder distillation"),
        ({"target": "decoder", "skip_taps": ("relu5_1",)}, "skip taps must be some of"),
        ({"target": "decoder", "skip_taps": ()}, "skip taps must be some of"),
        ({"preset": "fast"}, "distil from its teacher with --preset vgg16-hed"),
    ],
)
def test_bad_configs_are_usage_errors(overrides: dict, message: str) -> None:
    options = {"target": "encoder", "content_dir": "c", "style_dir": "s", "run_dir": "r", **overrides}
    with pytest.raises(UsageError, match=message):
        DistillConfig(**options).check()


# -- the command line -------------------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exit_:  # argparse
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


FLAGS = ["--batch-size", "2", "--crop-size", "16", "--resize-shorter", "32", "--precision", "fp32"]
FLAGS += ["--selection-fraction", "0", "--log-every", "1", "--no-progress"]


def test_cli_runs_resumes_and_exports(image_folders: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    content, style = image_folders
    run_dir = tmp_path / "run"
    data = ["--content", content, "--style", style, "--run-dir", run_dir]
    code, out, err = _cli(capsys, "distill", "encoder", *data, "--steps", "2", *FLAGS)
    assert code == 0, err
    assert (run_dir / "compact-encoder.safetensors").exists() and "step 2" in out
    code, out, err = _cli(
        capsys, "distill", "encoder", "--run-dir", run_dir, "--resume", "--steps", "3", "--no-progress"
    )
    assert code == 0, err
    assert load_checkpoint(run_dir / CHECKPOINT_NAME)["step"] == 3
    code, out, err = _cli(
        capsys, "distill", "encoder", "--run-dir", run_dir, "--export", tmp_path / "e.safetensors", "--export-only"
    )
    assert code == 0, err
    entry = read_manifest(tmp_path)["e"]
    assert entry["steps"] == 3 and entry["command"].count("adain distill encoder") == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["encoder", "--content", "c", "--style", "s"], "needs --run-dir"),
        (["encoder", "--run-dir", "{run}"], "needs --content and --style"),
        (
            ["encoder", "--run-dir", "{run}", "--content", "c", "--style", "s", "--steps", "many"],
            "--steps must be an integer",
        ),
        (["encoder", "--run-dir", "{run}", "--content", "c", "--style", "s", "--width", "2"], "width"),
        (["encoder", "--run-dir", "{run}", "--content", "c", "--style", "s", "--kind", "mobile"], "kind"),
        (["encoder", "--run-dir", "{run}", "--content", "c", "--style", "s", "--style-zoom", "2"], "MIN,MAX"),
        (["decoder", "--run-dir", "{run}", "--content", "c", "--style", "s", "--pixel-loss", "huber"], "pixel loss"),
        (["encoder", "--run-dir", "{run}", "--content", "{missing}", "--style", "s"], "not a folder"),
        (["encoder", "--run-dir", "{run}", "--resume"], "no checkpoint"),
        (["encoder", "--run-dir", "{run}", "--export-only"], "needs --export FILE"),
        (["encoder", "--run-dir", "{run}", "--export", "e.pt", "--export-only"], ".safetensors"),
        (["encoder", "--run-dir", "{run}", "--export", "e.safetensors", "--export-only"], "no checkpoint"),
        # fast holds what distillation makes: it is distilled from its teacher, not from itself
        (["encoder", "--run-dir", "{run}", "--content", "c", "--style", "s", "--preset", "fast"], "--preset vgg16-hed"),
        (["decoder", "--run-dir", "{run}", "--content", "c", "--style", "s", "--preset", "fast"], "not a teacher"),
    ],
)
def test_cli_usage_errors_are_one_line(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    filled = [a.format(run=tmp_path / "run", missing=tmp_path / "missing") for a in args]
    code, _, err = _cli(capsys, "distill", *filled)
    assert code == 2
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "run" / CHECKPOINT_NAME).exists()


def test_cli_resume_keeps_the_recipe(image_folders: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    content, style = image_folders
    run_dir = tmp_path / "run"
    data = ["--content", content, "--style", style, "--run-dir", run_dir]
    assert _cli(capsys, "distill", "encoder", *data, "--steps", "1", *FLAGS)[0] == 0
    again = _cli(capsys, "distill", "encoder", *data, "--steps", "2", *FLAGS)
    assert again[0] == 2 and "--resume" in again[2] and len(again[2].splitlines()) == 1
    changed = _cli(capsys, "distill", "encoder", "--run-dir", run_dir, "--resume", "--width", "0.5")
    assert changed[0] == 2 and "width was 0.25" in changed[2]
    other = _cli(capsys, "distill", "decoder", "--run-dir", run_dir, "--resume")
    assert other[0] == 2 and "not a checkpoint of decoder distillation" in other[2]
    other_export = _cli(
        capsys, "distill", "decoder", "--run-dir", run_dir, "--export", tmp_path / "d.safetensors", "--export-only"
    )
    assert other_export[0] == 2 and "not a checkpoint of decoder distillation" in other_export[2]
