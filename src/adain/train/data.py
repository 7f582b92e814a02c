"""Training data: random crops of content and style images, determined by the sample index.

Every sample is a pure function of ``(seed, global sample index)``: the image choice and the
crop position come from a generator seeded with both. So a resumed run, a run with more data
workers, or a DDP run that shards indices across ranks sees exactly the same batches.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from adain.errors import UsageError

__all__ = [
    "IMAGE_SUFFIXES",
    "Augmentation",
    "ImageCropSource",
    "PairDataset",
    "find_images",
    "in_selection_split",
    "selection_split",
]

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


def in_selection_split(path: str | Path, fraction: float) -> bool:
    """Whether an image belongs to the held-out selection split: the first ``fraction`` of the
    hash range of its file name (not its folder), so the split is the same on every machine and
    an image added later does not move the others.

    Example:
        >>> in_selection_split("style/a.jpg", 0.0), in_selection_split("other/place/a.jpg", 0.5) == in_selection_split("a.jpg", 0.5)
        (False, True)
    """
    digest = hashlib.blake2b(Path(path).name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64 < fraction


def selection_split(files: list[Path], fraction: float) -> tuple[list[Path], list[Path]]:
    """``(training, selection)``: ``files`` split by :func:`in_selection_split`.

    Why: choosing checkpoints, recipes and A/B winners on the evaluation pairs flatters them (the
    evaluation becomes part of training). Held-out images of the training folders give those
    choices their own data, and the evaluation set stays a test set.
    """
    selection = [path for path in files if in_selection_split(path, fraction)]
    chosen = set(selection)
    return [path for path in files if path not in chosen], selection


def sample_rng(seed: int, index: int, stream: str) -> random.Random:
    digest = hashlib.blake2b(f"{seed}:{index}:{stream}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "little"))


@dataclass(frozen=True)
class Augmentation:
    """Random zoom and colour changes of each crop, drawn from the sample's own generator.

    Why (for styles): a decoder trained on a couple of hundred paintings matches their statistics
    and little else. Measured on the 12 validation pairs at 256 px: the decoder's style loss was
    205 on training styles and 703 on unseen ones, and the worst unseen style lay 4x farther (in
    style statistics) from its nearest training style than the others. Zoom changes the texture
    frequency, contrast / saturation / hue the colour statistics: more of the space of styles.
    """

    #: the crop is cut from a square of ``crop * zoom`` pixels, ``zoom`` log-uniform in this range,
    #: and resized to ``crop`` (> 1: finer texture, < 1: coarser); (1, 1): no zoom
    zoom: tuple[float, float] = (1.0, 1.0)
    #: contrast and saturation factors are ``exp(U(-j, j))``, hue is rotated by ``U(-j, j) * pi``
    #: radians; 0: no colour change
    color_jitter: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.zoom != (1.0, 1.0) or self.color_jitter > 0

    def check(self) -> None:
        low, high = self.zoom
        if not 0 < low <= high:
            raise UsageError(f"zoom range must be 0 < MIN <= MAX. Got {low}, {high}")
        if not 0 <= self.color_jitter <= 1:
            raise UsageError(f"colour jitter must be in [0, 1]. Got {self.color_jitter}")


#: RGB -> (luma, two chroma axes) (YIQ) and back: hue rotates, saturation scales the chroma plane.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _jitter_colors(image: torch.Tensor, rng: random.Random, strength: float) -> torch.Tensor:
    contrast = math.exp(rng.uniform(-strength, strength))
    saturation = math.exp(rng.uniform(-strength, strength))
    angle = rng.uniform(-strength, strength) * math.pi
    cos, sin = math.cos(angle) * saturation, math.sin(angle) * saturation
    chroma = torch.tensor([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])
    transform = _YIQ_TO_RGB @ chroma @ _RGB_TO_YIQ
    recoloured = torch.einsum("ij,jhw->ihw", transform, image)
    mean = recoloured.mean(dim=(1, 2), keepdim=True)
    return ((recoloured - mean) * contrast + mean).clamp_(0, 1)


class ImageCropSource:
    """Images resized to a shorter side once (kept in memory when ``cache``), cropped at random.

    Unreadable or corrupt files are skipped and counted in ``skipped``; they are never fatal.
    ``augmentation`` (off by default) draws its numbers after the crop's, and only when enabled, so
    a run without it sees exactly the samples it always did.
    """

    def __init__(
        self,
        files: list[Path],
        crop_size: int,
        resize_shorter: int,
        cache: bool = True,
        augmentation: Augmentation | None = None,
    ) -> None:
        self.files = files
        self.crop_size = crop_size
        self.augmentation = augmentation or Augmentation()
        self.augmentation.check()
        # a zoomed-out crop reads up to crop * zoom_max pixels: images are resized to hold it
        self.resize_shorter = max(resize_shorter, math.ceil(crop_size * max(1.0, self.augmentation.zoom[1])))
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
            side = self.crop_size
            if self.augmentation.zoom != (1.0, 1.0):
                low, high = self.augmentation.zoom
                side = min(
                    height, width, max(8, round(self.crop_size * math.exp(rng.uniform(math.log(low), math.log(high)))))
                )
            top = rng.randrange(height - side + 1)
            left = rng.randrange(width - side + 1)
            crop = array[top : top + side, left : left + side]
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            # astype copies: the crop may be a view of Pillow's read-only buffer, which torch warns about
            tensor = torch.from_numpy(crop.astype(np.float32)).permute(2, 0, 1).div_(255)
            if side != self.crop_size:
                tensor = torch.nn.functional.interpolate(
                    tensor[None],
                    size=(self.crop_size, self.crop_size),
                    mode="bilinear",
                    antialias=True,
                    align_corners=False,
                )[0].clamp_(0, 1)
            if self.augmentation.color_jitter > 0:
                tensor = _jitter_colors(tensor, rng, self.augmentation.color_jitter)
            return tensor
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
            self.content.sample(sample_rng(self.seed, index, "content")),
            self.style.sample(sample_rng(self.seed, index, "style")),
        )
