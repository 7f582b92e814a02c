"""Shared fixtures for the training tests: tiny generated image folders and run configurations.

Everything is small (16 px crops of <= 64 px images, batches of 2-4) so that a real
``vgg16-hed`` encoder forward/backward takes milliseconds and a whole run a second or two.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from adain.train import TrainConfig

#: options every test run shares unless it overrides them (fast, fp32, no periodic output).
BASE_OPTIONS: dict[str, Any] = {
    "batch_size": 2,
    "crop_size": 16,
    "resize_shorter": 32,
    "precision": "fp32",
    "learning_rate": 1e-3,
    "checkpoint_every_steps": 1000,
    "checkpoint_every_minutes": 600.0,
    "sample_every_steps": 0,
    "log_every_steps": 1,
}

#: the same defaults as ``adain train`` flags
BASE_FLAGS = [
    "--batch-size",
    "2",
    "--crop-size",
    "16",
    "--resize-shorter",
    "32",
    "--precision",
    "fp32",
    "--lr",
    "1e-3",
    "--checkpoint-every",
    "1000",
    "--checkpoint-minutes",
    "600",
    "--sample-every",
    "0",
    "--log-every",
    "1",
    "--no-progress",
]


def _image(rng: np.random.Generator, index: int, height: int, width: int) -> np.ndarray:
    """Alternately structured (gradients, stripes, checkers) and noisy RGB images."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    kind = index % 4
    if kind == 0:
        base = np.stack([x / width, y / height, (x + y) / (width + height)], axis=-1)
    elif kind == 1:
        period = 3 + index
        base = np.stack([(np.sin(x * 6.28 / period) + 1) / 2] * 3, axis=-1) * rng.random(3)
    elif kind == 2:
        cell = 4 + index % 5
        base = np.repeat((((x // cell) + (y // cell)) % 2)[..., None], 3, axis=-1) * 0.8 + 0.1
    else:
        base = rng.random((height, width, 3))
    return (np.clip(base, 0, 1) * 255).astype(np.uint8)


def write_images(folder: Path, count: int, seed: int) -> list[Path]:
    """``count`` images of 40-64 px, cycling through PNG, JPEG and WebP."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        height, width = int(rng.integers(40, 65)), int(rng.integers(40, 65))
        suffix = (".png", ".jpg", ".webp")[index % 3]
        path = folder / f"image_{index:02d}{suffix}"
        Image.fromarray(_image(rng, index, height, width)).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def image_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(content folder, style folder), 8 generated images each; shared, so never written to."""
    root = tmp_path_factory.mktemp("train-data")
    write_images(root / "content", 8, seed=1)
    write_images(root / "style", 8, seed=2)
    return root / "content", root / "style"


@pytest.fixture
def make_config(image_folders: tuple[Path, Path], tmp_path: Path) -> Callable[..., TrainConfig]:
    """``make_config(name, **overrides)``: a fast config whose run folder is ``tmp_path / name``."""

    def make(name: str = "run", **overrides: Any) -> TrainConfig:
        content, style = image_folders
        options = {"content_dir": str(content), "style_dir": str(style), **BASE_OPTIONS, **overrides}
        return TrainConfig(run_dir=str(tmp_path / name), **options)

    return make


@pytest.fixture
def train_argv(image_folders: tuple[Path, Path], tmp_path: Path) -> Callable[..., list[str]]:
    """``train_argv(name, *flags)``: argv for ``adain.cli.main.main`` with the fast base flags."""

    def make(name: str = "run", *flags: str, content: Path | None = None, style: Path | None = None) -> list[str]:
        content_dir, style_dir = image_folders
        return [
            "train",
            "--content",
            str(content or content_dir),
            "--style",
            str(style or style_dir),
            "--run-dir",
            str(tmp_path / name),
            *BASE_FLAGS,
            *flags,
        ]

    return make


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny convolutions on a shared, busy machine run ~10x faster on one thread than on two."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
