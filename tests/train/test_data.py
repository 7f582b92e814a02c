"""Training data: deterministic per sample index, sharded by rank, unreadable images skipped and counted."""

from __future__ import annotations

import random
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adain.cli.main import main
from adain.errors import UsageError
from adain.train import Trainer
from adain.train.checkpoint import CHECKPOINT_NAME, load_checkpoint
from adain.train.data import Augmentation, ImageCropSource, PairDataset, find_images
from adain.train.trainer import StepBatchSampler


def _bad_images(folder: Path, good_png: Path) -> set[Path]:
    """Garbage bytes named .jpg, a truncated PNG and an empty .webp."""
    folder.mkdir(parents=True, exist_ok=True)
    garbage = folder / "garbage.jpg"
    garbage.write_bytes(bytes(random.Random(0).randrange(256) for _ in range(500)))
    truncated = folder / "truncated.png"
    truncated.write_bytes(good_png.read_bytes()[: good_png.stat().st_size // 2])
    empty = folder / "empty.webp"
    empty.write_bytes(b"")
    return {garbage, truncated, empty}


def _dataset(content: Path, style: Path, seed: int = 0, cache: bool = True) -> PairDataset:
    return PairDataset(
        ImageCropSource(find_images(content), 16, 32, cache),
        ImageCropSource(find_images(style), 16, 32, cache),
        seed,
        2**62,
    )


def test_samples_are_a_pure_function_of_seed_and_index(image_folders) -> None:
    content, style = image_folders
    first, second = _dataset(content, style), _dataset(content, style, cache=False)
    for index in (0, 5, 123_456_789, 2**40):
        for a, b in zip(first[index], second[index]):
            assert a.shape == (3, 16, 16) and a.dtype == torch.float32
            assert torch.equal(a, b)
    # reading in another order changes nothing
    assert torch.equal(torch.stack(_dataset(content, style)[7]), torch.stack(first[7]))
    # other indices and other seeds give other crops
    assert not torch.equal(first[0][0], first[1][0]) or not torch.equal(first[0][1], first[1][1])
    assert not torch.equal(first[3][0], _dataset(content, style, seed=1)[3][0])


def test_sampling_raises_no_warnings(tmp_path: Path) -> None:
    """A crop as wide as the image is a view of Pillow's read-only buffer: it must be copied before torch sees it."""
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(
        tmp_path / "square.png"
    )
    source = ImageCropSource(find_images(tmp_path), 24, 24)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for seed in range(8):  # both flips
            assert source.sample(random.Random(seed)).shape == (3, 24, 24)


def test_batch_sampler_shards_the_global_batch_by_rank() -> None:
    single = list(StepBatchSampler(3, 6, 4, rank=0, world_size=1))
    rank0 = list(StepBatchSampler(3, 6, 4, rank=0, world_size=2))
    rank1 = list(StepBatchSampler(3, 6, 4, rank=1, world_size=2))
    assert single == [[12, 13, 14, 15], [16, 17, 18, 19], [20, 21, 22, 23]]
    assert [a + b for a, b in zip(rank0, rank1)] == single
    assert len(rank1) == 3


def test_unreadable_images_are_skipped_and_counted(image_folders, tmp_path: Path) -> None:
    content, _style = image_folders
    folder = tmp_path / "content"
    good = sorted(content.glob("*.png"))[0]
    bad = _bad_images(folder, good)
    shutil.copy(good, folder / "a_good.png")  # one readable image among three unreadable ones
    source = ImageCropSource(find_images(folder), 16, 32)
    for index in range(64):
        crop = source.sample(random.Random(index))
        assert crop.shape == (3, 16, 16)
    assert source.skipped == bad  # each counted once, however often it was drawn


def test_training_skips_unreadable_images_and_reports_them(image_folders, train_argv, tmp_path: Path, capsys) -> None:
    content, _style = image_folders
    mixed = tmp_path / "mixed"
    shutil.copytree(content, mixed)
    bad = _bad_images(mixed, sorted(content.glob("*.png"))[0])
    capsys.readouterr()
    assert main(train_argv("run", "--steps", "2", "--batch-size", "4", content=mixed)) == 0
    skipped = load_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)["skipped_images"]
    assert skipped and {Path(p) for p in skipped} <= bad
    assert f"skipped {len(skipped)} unreadable image(s)" in capsys.readouterr().err


def test_a_folder_without_readable_images_is_a_usage_error(
    image_folders, make_config, train_argv, tmp_path: Path, capsys
) -> None:
    content, _ = image_folders
    unreadable = tmp_path / "unreadable"
    _bad_images(unreadable, sorted(content.glob("*.png"))[0])
    with pytest.raises(UsageError, match="none of the 3 images could be read"):
        Trainer(make_config(content_dir=str(unreadable)), progress=False)

    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.txt").write_text("not an image")
    for folder, message in (
        (unreadable, "none of the 3 images could be read"),
        (empty, "no images"),
        (tmp_path / "missing", "not a folder"),
    ):
        capsys.readouterr()
        assert main(train_argv("run", "--steps", "1", style=folder)) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and message in err, err
        assert not (tmp_path / "run").exists()  # nothing written for a run that cannot start


class TestAugmentation:
    def test_off_by_default_and_the_samples_unchanged(self, image_folders) -> None:
        _, style = image_folders
        plain = ImageCropSource(find_images(style), 16, 32)
        explicit = ImageCropSource(find_images(style), 16, 32, augmentation=Augmentation())
        assert not explicit.augmentation.enabled
        for index in range(8):
            assert torch.equal(plain.sample(random.Random(index)), explicit.sample(random.Random(index)))

    def test_zoom_and_colour_are_deterministic_in_range_and_change_the_crop(self, image_folders) -> None:
        _, style = image_folders
        plain = ImageCropSource(find_images(style), 16, 32)
        augmented = ImageCropSource(
            find_images(style), 16, 32, augmentation=Augmentation(zoom=(0.5, 2.0), color_jitter=0.5)
        )
        assert augmented.resize_shorter == 32  # 16 * 2 fits: the images are not enlarged
        changed = 0
        for index in range(16):
            a, b = augmented.sample(random.Random(index)), augmented.sample(random.Random(index))
            assert torch.equal(a, b) and a.shape == (3, 16, 16)
            assert a.min() >= 0 and a.max() <= 1
            changed += not torch.allclose(a, plain.sample(random.Random(index)))
        assert changed == 16

    def test_colour_jitter_spreads_the_statistics(self, image_folders) -> None:
        _, style = image_folders
        jittered = ImageCropSource(find_images(style), 16, 32, augmentation=Augmentation(color_jitter=0.8))
        plain = ImageCropSource(find_images(style), 16, 32)
        # same crops (the jitter draws after the crop): only the colours differ
        ratios = [
            float(jittered.sample(random.Random(i)).std() / plain.sample(random.Random(i)).std().clamp_min(1e-6))
            for i in range(24)
        ]
        assert min(ratios) < 0.9 and max(ratios) > 1.1

    def test_a_zoom_beyond_the_image_enlarges_it(self, image_folders) -> None:
        _, style = image_folders
        assert (
            ImageCropSource(find_images(style), 16, 16, augmentation=Augmentation(zoom=(1.0, 3.0))).resize_shorter == 48
        )

    @pytest.mark.parametrize(
        "augmentation", [Augmentation(zoom=(2.0, 1.0)), Augmentation(zoom=(0.0, 1.0)), Augmentation(color_jitter=1.5)]
    )
    def test_bad_settings_are_refused(self, image_folders, augmentation: Augmentation) -> None:
        _, style = image_folders
        with pytest.raises(UsageError):
            ImageCropSource(find_images(style), 16, 32, augmentation=augmentation)

    def test_cli_flags_reach_the_config(self, image_folders, train_argv, tmp_path: Path) -> None:
        assert (
            main(
                train_argv(
                    "aug", "--steps", "1", "--batch-size", "2", "--style-zoom", "0.7,1.4", "--style-color-jitter", "0.3"
                )
            )
            == 0
        )
        config = load_checkpoint(tmp_path / "aug" / CHECKPOINT_NAME)["config"]
        assert config["style_zoom"] == [0.7, 1.4] and config["style_color_jitter"] == 0.3
