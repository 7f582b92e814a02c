"""Training options: gram style loss, complexity weighting, --init, reconstruction, lr schedule, precision."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import adain.train.trainer as trainer_module
from adain.cli.main import main
from adain.models import Decoder
from adain.ops.losses import complexity_weights
from adain.train import Trainer
from adain.train.checkpoint import CHECKPOINT_NAME, load_checkpoint
from adain.weights import load_decoder, save_decoder
from adain.weights.presets import get_preset


def _fit(config) -> Trainer:
    trainer = Trainer(config, progress=False)
    trainer.fit()
    trainer.close()
    return trainer


def _first_batch(trainer: Trainer) -> tuple[torch.Tensor, torch.Tensor]:
    pairs = [trainer.dataset[i] for i in range(trainer.config.batch_size)]
    return torch.stack([c for c, _ in pairs]), torch.stack([s for _, s in pairs])


def test_gram_style_loss_trains_and_differs_from_mean_std(make_config) -> None:
    gram = _fit(make_config("gram", steps=2, style_loss="gram"))
    mean_std = _fit(make_config("mean_std", steps=1))
    assert gram.step == 2 and all(math.isfinite(h["loss"]) for h in gram.history)
    # same data and initial decoder: only the style term differs at step 1
    assert gram.history[0]["content"] == mean_std.history[0]["content"]
    assert gram.history[0]["style"] != mean_std.history[0]["style"]


def test_complexity_weighting_scales_each_samples_style_loss(make_config, monkeypatch) -> None:
    flat = torch.full((3, 16, 16), 0.5)
    busy = ((torch.arange(16).view(1, 16) // 2 + torch.arange(16).view(16, 1) // 2) % 2).float().expand(3, 16, 16)
    content = torch.stack([flat, busy])
    per_sample: list[torch.Tensor] = []
    original = trainer_module.style_loss_from_statistics

    def recording(*args, **kwargs):
        per_sample.append(original(*args, **kwargs).detach())
        return per_sample[-1]

    monkeypatch.setattr(trainer_module, "style_loss_from_statistics", recording)
    plain = Trainer(make_config("plain"), progress=False)
    weighted = Trainer(make_config("weighted", complexity_weighting=1.0), progress=False)
    _, style = _first_batch(plain)
    with torch.no_grad():
        plain_losses = plain.compute_losses(content, style)
        weighted_losses = weighted.compute_losses(content, style)
    assert torch.equal(per_sample[0], per_sample[1])  # same decoder init, same inputs
    weights = complexity_weights(content, 1.0)
    assert weights[1] < 1 < weights[0]  # the busy content keeps more of its structure
    assert plain_losses["style"].item() == pytest.approx(per_sample[0].mean().item(), rel=1e-6)
    assert weighted_losses["style"].item() == pytest.approx((per_sample[1] * weights).mean().item(), rel=1e-6)
    assert weighted_losses["style"].item() != pytest.approx(plain_losses["style"].item(), rel=1e-3)


def _style_batch(trainer: Trainer, styles: torch.Tensor) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return trainer.encoder(styles)


def test_style_mix_interpolates_each_samples_statistics_with_the_next(make_config) -> None:
    from adain.ops.statistics import channel_mean_std

    trainer = Trainer(make_config("mix", batch_size=4, style_mix=1.0), progress=False)
    _, style = _first_batch(trainer)
    taps = _style_batch(trainer, style)
    statistics = {tap: channel_mean_std(value) for tap, value in taps.items()}
    mixed = trainer._mix_style_statistics(statistics)
    again = trainer._mix_style_statistics(statistics)
    trainer.step += 1
    next_step = trainer._mix_style_statistics(statistics)
    own_mean, _own_std = channel_mean_std(taps["relu1_1"])
    partner = [1, 2, 3, 0]
    # one weight per sample, shared by every tap and by mean and std: recover it from relu1_1's means
    difference = own_mean[partner] - own_mean
    weight = ((mixed["relu1_1"][0] - own_mean) * difference).sum((1, 2, 3)) / difference.pow(2).sum((1, 2, 3))
    assert ((weight > 0) & (weight < 1)).all()
    for tap in taps:
        mean, std = channel_mean_std(taps[tap])
        w = weight.view(4, 1, 1, 1)
        torch.testing.assert_close(mixed[tap][0], mean + w * (mean[partner] - mean), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(mixed[tap][1], std + w * (std[partner] - std), rtol=1e-4, atol=1e-4)
        assert torch.equal(mixed[tap][0], again[tap][0])  # a function of (seed, step): resumes exactly
    assert not torch.equal(next_step["relu4_1"][0], mixed["relu4_1"][0])


def test_style_mix_changes_the_losses_only_where_styles_differ(make_config) -> None:
    plain = Trainer(make_config("plain", batch_size=2), progress=False)
    mixing = Trainer(make_config("mixing", batch_size=2, style_mix=1.0), progress=False)
    content, style = _first_batch(plain)
    with torch.no_grad():
        same = style[:1].expand_as(style).contiguous()  # mixing a style with itself changes nothing
        plain_same, mixing_same = plain.compute_losses(content, same), mixing.compute_losses(content, same)
        plain_losses, mixing_losses = plain.compute_losses(content, style), mixing.compute_losses(content, style)
    for name in ("content", "style"):
        assert mixing_same[name].item() == pytest.approx(plain_same[name].item(), rel=1e-5)
    assert mixing_losses["style"].item() != pytest.approx(plain_losses["style"].item(), rel=1e-3)
    assert mixing_losses["content"].item() != pytest.approx(plain_losses["content"].item(), rel=1e-3)  # target moved


def test_ema_is_the_moving_average_and_is_what_is_exported(make_config, tmp_path: Path) -> None:
    from adain.train.trainer import export_checkpoint

    trainer = Trainer(make_config("ema", steps=2, ema_decay=0.75), progress=False)
    content, style = _first_batch(trainer)
    start = {k: v.clone() for k, v in trainer.decoder.state_dict().items()}
    trainer.train_step(content, style)
    after_one = {k: v.clone() for k, v in trainer.decoder.state_dict().items()}
    trainer.train_step(content, style)
    expected = {
        k: torch.lerp(torch.lerp(start[k], after_one[k], 0.25), trainer.decoder.state_dict()[k], 0.25) for k in start
    }
    for name, value in expected.items():
        torch.testing.assert_close(trainer.ema[name], value, rtol=1e-6, atol=1e-7)
    assert any(not torch.equal(trainer.ema[k], trainer.decoder.state_dict()[k]) for k in start)
    trainer.save()
    exported = load_decoder("vgg16-hed", export_checkpoint(trainer.checkpoint_path, tmp_path / "ema.safetensors"))
    for name, value in exported.state_dict().items():
        torch.testing.assert_close(value.float(), trainer.ema[name].half().float(), rtol=0, atol=0)
    assert trainer.export_decoder(tmp_path / "direct.safetensors").read_bytes() != b""
    direct = load_decoder("vgg16-hed", tmp_path / "direct.safetensors")
    for name, value in direct.state_dict().items():
        assert torch.equal(value, exported.state_dict()[name]), name


def test_init_decoder_starts_from_its_weights(make_config, train_argv, tmp_path: Path) -> None:
    torch.manual_seed(123)
    start = Decoder(get_preset("vgg16-hed").architecture)
    init_path = tmp_path / "init" / "start.safetensors"
    save_decoder(start, init_path, "vgg16-hed")
    expected = load_decoder("vgg16-hed", init_path).state_dict()

    trainer = Trainer(make_config("direct", init_decoder=str(init_path)), progress=False)
    assert trainer.step == 0
    for key, value in trainer.decoder.state_dict().items():
        assert torch.equal(value, expected[key]), key

    # through the CLI: zero steps exports the initial decoder unchanged, more steps move away from it
    assert main(train_argv("zero", "--steps", "0", "--init", str(init_path))) == 0
    exported = load_decoder("vgg16-hed", tmp_path / "zero" / "decoder.safetensors").state_dict()
    assert all(torch.equal(exported[key], expected[key]) for key in expected)
    assert main(train_argv("two", "--steps", "2", "--init", str(init_path))) == 0
    trained = load_checkpoint(tmp_path / "two" / CHECKPOINT_NAME)
    assert trained["config"]["init_decoder"] == str(init_path)
    changed = [not torch.equal(trained["decoder"][key], expected[key]) for key in expected]
    assert all(changed)
    # and it is not a fresh random decoder either: one Adam step of lr 1e-3 moves a weight by <= ~1e-3
    first = next(iter(expected))
    assert (trained["decoder"][first] - expected[first]).abs().max() < 5e-3


def test_reconstruction_objective_trains(make_config) -> None:
    trainer = _fit(make_config(steps=2, objective="reconstruction"))
    assert trainer.step == 2
    assert set(trainer.history[-1]) == {"pixel", "content", "loss", "step", "lr"}
    assert all(math.isfinite(h["loss"]) for h in trainer.history)


def test_learning_rate_follows_inverse_time_decay(make_config) -> None:
    trainer = Trainer(make_config(steps=3, learning_rate=1e-3, learning_rate_decay=0.5), progress=False)
    used: list[float] = []
    step = trainer.optimizer.step

    def recording(*args, **kwargs):
        used.append(trainer.optimizer.param_groups[0]["lr"])
        return step(*args, **kwargs)

    trainer.optimizer.step = recording
    trainer.fit()
    expected = [1e-3 / (1 + 0.5 * t) for t in range(3)]
    assert used == pytest.approx(expected, rel=1e-12)
    assert [h["lr"] for h in trainer.history] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_on_cpu_is_bf16_where_native_and_channels_last(make_config, monkeypatch, native) -> None:
    """Emulated bf16 (a CPU without AVX512-BF16/AMX) is many times slower than fp32: auto runs fp32 there."""
    monkeypatch.setattr("adain.models.precision.native_bf16", lambda device: native)
    trainer = _fit(make_config(steps=2, precision="auto"))
    assert trainer.precision == ("bf16" if native else "fp32")
    conv = next(m for m in trainer.decoder.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert all(math.isfinite(h["loss"]) for h in trainer.history)
    assert all(torch.isfinite(p).all() for p in trainer.decoder.parameters())


def test_existing_checkpoint_without_resume_is_refused(train_argv, tmp_path: Path, capsys) -> None:
    assert main(train_argv("run", "--steps", "1")) == 0
    checkpoint = tmp_path / "run" / CHECKPOINT_NAME
    before = checkpoint.read_bytes()
    capsys.readouterr()
    assert main(train_argv("run", "--steps", "3")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "already holds a checkpoint" in err and "--resume" in err
    assert checkpoint.read_bytes() == before


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--resume",), "no checkpoint"),
        (("--crop-size", "20"), "multiple of 8"),
        (("--resize-shorter", "8"), "at least the crop size"),
        (("--batch-size", "0"), "batch size"),
        (("--preset", "nope"), "nope"),
        # the distilled preset: a decoder is trained for its teacher, fast's own is distilled
        (("--preset", "fast"), "train with --preset vgg16-hed"),
        (("--style-mix", "1.5"), "style mix"),
        (("--ema-decay", "1"), "EMA decay"),
        (("--style-mix", "0.5", "--style-loss", "gram"), "mean_std"),
        # issue 15: every number finite and in range, checked before anything is loaded
        (("--lr", "nan"), "--lr must be a finite number > 0"),
        (("--lr=-1",), "--lr must be a finite number > 0"),
        (("--style-weight", "inf"), "--style-weight must be a finite number >= 0"),
        (("--skip-lr", "nan"), "--skip-lr must be a finite number >= 0"),
        (("--style-tap-weights", "nan,1,1,1"), "--style-tap-weights"),
        (("--style-zoom", "1,inf"), "--style-zoom"),
        (("--style-color-jitter", "nan"), "--style-color-jitter"),
        (("--log-every", "0"), "--log-every"),
        (("--checkpoint-every", "0"), "--checkpoint-every"),
        (("--crop-size", "1000000000"), "--crop-size"),
        (("--steps", "10000000000"), "--steps"),
        (("--seed", "-1"), "--seed"),
        (("--threads", "-1"), "--threads"),
        (("--device", "nope"), "--device: unknown device 'nope'"),
        (("--checkpoint-minutes", "nan"), "--checkpoint-minutes"),
        (("--export", "decoder.pt"), "give FILE.safetensors"),
    ],
)
def test_bad_options_exit_2_with_one_line(train_argv, tmp_path: Path, capsys, flags, message) -> None:
    capsys.readouterr()
    assert main(train_argv("run", "--steps", "1", *flags)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "run" / CHECKPOINT_NAME).exists()


def test_bad_paths_are_refused_before_anything_is_loaded(train_argv, tmp_path: Path, capsys, monkeypatch) -> None:
    """A data folder that is a file, a run folder that is a file, an --init that is missing or a FIFO:
    one line each, before the encoder or any image is read (both are made to fail if reached)."""
    import os

    def not_reached(*args, **kwargs):
        raise AssertionError("loaded before the options were checked")

    monkeypatch.setattr(trainer_module, "load_encoder", not_reached)
    monkeypatch.setattr(trainer_module, "find_images", not_reached, raising=False)
    (tmp_path / "file.txt").write_text("a file")
    os.mkfifo(tmp_path / "pipe.safetensors")
    for flags, code, message in [
        (("--init", str(tmp_path / "absent.safetensors")), 1, "--init decoder file not found"),
        (("--init", str(tmp_path / "pipe.safetensors")), 1, "pipe.safetensors is a FIFO"),
        (("--init", ""), 2, "argument --init: must not be empty"),
        (("--export", str(tmp_path)), 2, "give FILE.safetensors"),
    ]:
        capsys.readouterr()
        try:
            result = main(train_argv("run", "--steps", "1", *flags))
        except SystemExit as exit_:  # argparse's refusals
            result = exit_.code
        err = capsys.readouterr().err.strip()
        assert result == code and len(err.splitlines()) == 1 and message in err, (flags, err)
    capsys.readouterr()
    assert main(train_argv("run", "--steps", "1", content=tmp_path / "file.txt")) == 2
    assert "--content" in capsys.readouterr().err
    assert (
        main(["train", "--content", str(tmp_path), "--style", str(tmp_path), "--run-dir", str(tmp_path / "file.txt")])
        == 2
    )
    assert "is not a folder" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
