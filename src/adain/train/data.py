"""Training data: random crops of content and style images, determined by the sample index.

Every sample is a pure function of ``(seed, global sample index)``: the image choice and the
crop position come from a generator seeded with both. So a resumed run, a run with more data
workers, or a DDP run that shards indices across ranks sees exactly the same batches.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from adain.errors import UsageError

__all__ = ["IMAGE_SUFFIXES", "find_images", "ImageCropSource", "PairDataset"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def find_images(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted so every rank and run agrees on the order."""
    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"not a folder: {folder}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UsageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}")
    return files


def _sample_rng(seed: int, index: int, stream: str) -> random.Random:
    digest = hashlib.blake2b(f"{seed}:{index}:{stream}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "little"))


class ImageCropSource:
    """Images resized to a shorter side once (kept in memory when ``cache``), cropped at random.

    Unreadable or corrupt files are skipped and counted in ``skipped``; they are never fatal.
    """

    def __init__(self, files: list[Path], crop_size: int, resize_shorter: int, cache: bool = True) -> None:
        self.files = files
        self.crop_size = crop_size
        self.resize_shorter = max(resize_shorter, crop_size)
        self.cache = cache
        self._images: dict[int, np.ndarray | None] = {}
        self.skipped: set[Path] = set()

    def _load(self, position: int) -> np.ndarray | None:
        if position in self._images:
            return self._images[position]
        path = self.files[position]
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
                width, height = image.size
                scale = self.resize_shorter / min(width, height)
                size = (max(self.crop_size, round(width * scale)), max(self.crop_size, round(height * scale)))
                array = np.asarray(image.resize(size, Image.Resampling.BICUBIC), dtype=np.uint8)
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
            self.skipped.add(path)
            array = None
        if self.cache:
            self._images[position] = array
        return array

    def sample(self, rng: random.Random) -> torch.Tensor:
        """A ``(3, crop, crop)`` float tensor in [0, 1]; moves on to the next image if one is unreadable.

        The fallback walks the files in order from the drawn one (not more random draws), so a
        folder with some good images always yields a sample, and still deterministically.
        """
        count = len(self.files)
        drawn = rng.randrange(count)
        for offset in range(count):
            array = self._load((drawn + offset) % count)
            if array is None:
                continue
            height, width = array.shape[:2]
            top = rng.randrange(height - self.crop_size + 1)
            left = rng.randrange(width - self.crop_size + 1)
            crop = array[top : top + self.crop_size, left : left + self.crop_size]
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float().div_(255)
        raise UsageError(f"none of the {count} images could be read (e.g. {self.files[0]})")


@dataclass
class PairDataset(Dataset):
    """``dataset[i]`` -> (content crop, style crop) for global sample index ``i``."""

    content: ImageCropSource
    style: ImageCropSource
    seed: int
    length: int

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            self.content.sample(_sample_rng(self.seed, index, "content")),
            self.style.sample(_sample_rng(self.seed, index, "style")),
        )
