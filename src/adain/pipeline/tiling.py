"""Tiles for images beyond a memory budget: planning, feathered blending weights, memory estimates.

Network activations, not the image, are what limit the resolution: the encoder's full-resolution
layers take about a kilobyte per pixel (measured, :data:`ACTIVATION_BYTES_PER_PIXEL`), so a
3840x2160 image needs about 9 GB in one pass while the image itself is 100 MB. Large images are
therefore run through the networks in overlapping tiles:

* Each tile owns a **core** (the tiles' cores partition the image, on multiples of 8 so that they
  map exactly onto relu4_1 positions) and is run on a **window**: its core grown by ``margin``
  pixels on every side that has a neighbour, clipped to the image.
* Encoding: every window is encoded and only its core's relu4_1 features are kept, stitched
  into one feature map of the whole image (512 channels at 1/8 resolution: 32 bytes per pixel).
  The pipeline takes the content statistics AdaIN needs from this map, so every tile is
  normalised with the *same* whole-image statistics, exactly those of an untiled run.
* Decoding: every window's features are AdaIN-ed with those statistics and decoded; neighbouring
  tiles are cross-faded over ``2 * feather`` pixels centred on the core boundary
  (:meth:`TilePlan.weights`: smoothstep ramps whose products sum to one everywhere).

The encoder's relu4_1 and the decoder each see at most about 32 pixels around a position
(:data:`RECEPTIVE_REACH`: measured with the vgg16-hed and vgg19 layouts, see
``tests/pipeline/test_tiling.py``), so with ``margin - feather >= RECEPTIVE_REACH`` every pixel a
tile contributes was computed with all the context it can use, and the stitched result equals the
untiled one up to float rounding. Feathering is the second line of defence: a narrower margin
(or a network with a wider reach) gives soft transitions instead of hard seams.

Everything here is pure (integers and small weight tensors): no model, no image I/O.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from adain._checks import is_int, is_number
from adain.errors import ShapeError, UsageError
from adain.image.sizing import NETWORK_MULTIPLE
from adain.models import TAP_SCALES
from adain.ops.masks import EMPTY_REGION_WEIGHT
from adain.ops.statistics import channel_moments, mean_std_from_moments

__all__ = [
    "ACTIVATION_BYTES_PER_PIXEL",
    "ACTIVATION_BYTES_PER_PIXEL_OF",
    "DEFAULT_FEATHER",
    "DEFAULT_MARGIN",
    "DEFAULT_MAX_MEMORY_MB",
    "IMAGE_BYTES_PER_PIXEL",
    "KEPT_MAPS_AREA_RATIO",
    "MIN_TILE_SIDE",
    "RECEPTIVE_REACH",
    "RESIDENT_IMAGE_BYTES_PER_PIXEL",
    "STRIP_PIXELS",
    "Box",
    "Tile",
    "TileBlender",
    "TilePlan",
    "apply_in_strips",
    "choose_tiling",
    "estimate_memory_mb",
    "feature_box",
    "plan_tiles",
    "tile_side_for_budget",
    "window_area",
]

#: Peak memory of one encoder + decoder pass per input pixel, float32 (bytes). Measured with
#: vgg16-hed and the plain decoder on CPU as peak RSS over the loaded process: 1046 MB at
#: 1024x1024, 596 MB at 768x768, 269 MB at 512x512 (the encoder's peak: relu1_1 is kept for the
#: taps while conv1_2's padded input and output are alive, 64 channels x 4 bytes each). Rounded
#: up for allocator slack. What a pipeline uses is :data:`ACTIVATION_BYTES_PER_PIXEL_OF` its
#: networks and precision; this is the model of a bare call.
ACTIVATION_BYTES_PER_PIXEL = 1100

#: Peak memory of one encoder + decoder pass per input pixel (bytes) by the networks' kind (VGG
#: encoder with a multi-level or plain decoder; the ``fast`` preset's compact students) and
#: precision, measured on the 2-core Xeon 2026-12-03 as the peak RSS of one untiled pass over
#: the loaded process at 1024x1024 and 1536x1536 (``vgg`` fp32 1659 / 1693, bf16 910 / 903; the
#: multi-level decoder holds the skips; ``compact`` fp32 591 / 654, bf16 372 / 356), rounded up.
#: bf16 ``vgg`` keeps the older, larger model (the 4K memory bar was measured with it).
ACTIVATION_BYTES_PER_PIXEL_OF = {
    ("vgg", "fp32"): 1800,
    ("vgg", "bf16"): ACTIVATION_BYTES_PER_PIXEL,
    ("compact", "fp32"): 720,
    ("compact", "bf16"): 420,
}

#: A tiled run may keep the shallow taps' stitched maps (no re-encoding of each window for the
#: multi-level decoder's skips) when the tiles that leave room for them cover at most this much
#: more window area than the tiles of re-encoding would. Re-encoding up to relu3_1 costs about
#: 0.3 of a window's encode + decode (measured: ``fast`` at 3840x2160, 1.9 of 6.7 s).
KEPT_MAPS_AREA_RATIO = 1.3

#: Whole-image buffers per output pixel while tiling (bytes): the content (float32 RGB, 12), the
#: stitched relu4_1 map (512 channels at 1/64 of the pixels, float32: 32), the output canvas
#: (12), and transient full-size copies at the ends of the pipeline (the loaded image,
#: clamping, 8-bit conversion). Measured with tools/tiling_memory.py; see the README.
IMAGE_BYTES_PER_PIXEL = 110

#: Of :data:`IMAGE_BYTES_PER_PIXEL`, what stays alive while the windows run: the content (12), the
#: stitched relu4_1 map (32) and the output canvas (12). The rest are the ends' transient copies,
#: made before the first window (loading, resizing) or after the last, once the maps are freed
#: (clamping, 8-bit conversion): the peak is the larger of the two phases, not their sum.
RESIDENT_IMAGE_BYTES_PER_PIXEL = 56

#: How far (pixels) an output or relu4_1 position of the encoder or decoder can be influenced by
#: input around it, rounded up to a multiple of 8. Beyond this a cut-off window changes nothing.
RECEPTIVE_REACH = 32

#: Context each tile window has beyond its core, on every side with a neighbour (pixels).
DEFAULT_MARGIN = 48

#: Half-width of the cross-fade between neighbouring tiles (pixels), centred on their boundary.
DEFAULT_FEATHER = 16

#: The smallest tile window the budget may ask for: below this the margins dominate the work.
MIN_TILE_SIDE = 256

#: The command line's default budget (MB): 3840x2160 stays under 2.5 GB of peak RSS in all.
DEFAULT_MAX_MEMORY_MB = 2048

#: Pixels per strip for whole-image post-processing (guided filter, colour) on large images.
STRIP_PIXELS = 1 << 20

#: ``(top, bottom, left, right)``: rows ``top:bottom`` and columns ``left:right``.
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Tile:
    """One tile: the ``window`` the networks see and the ``core`` it is responsible for.

    Both are boxes in pixels of the (unpadded) image; the window contains the core. ``row`` and
    ``column`` index the tile in the grid.
    """

    row: int
    column: int
    window: Box
    core: Box

    @property
    def window_size(self) -> tuple[int, int]:
        """``(height, width)`` of the window."""
        top, bottom, left, right = self.window
        return bottom - top, right - left


@dataclass(frozen=True)
class TilePlan:
    """A grid of tiles covering a ``height`` x ``width`` image.

    Attributes:
        height, width: the image size in pixels.
        row_cores, column_cores: ``(start, stop)`` of each grid row's / column's core.
        margin: context each window has beyond its core (pixels).
        feather: half-width of the cross-fade between neighbours (pixels).
        tiles: every tile, row by row.
        kept_taps: shallow taps whose whole-image maps a tiled run keeps, stitched from the
            windows' cores like relu4_1 (:func:`choose_tiling`); the others are re-encoded
            from each window when it is decoded.
    """

    height: int
    width: int
    row_cores: tuple[tuple[int, int], ...]
    column_cores: tuple[tuple[int, int], ...]
    margin: int
    feather: int
    tiles: tuple[Tile, ...]
    kept_taps: tuple[str, ...] = ()

    @property
    def is_single(self) -> bool:
        """One tile: the window is the whole image (the untiled case)."""
        return len(self.tiles) == 1

    @property
    def grid(self) -> tuple[int, int]:
        """``(rows, columns)`` of tiles."""
        return len(self.row_cores), len(self.column_cores)

    def seams(self) -> tuple[list[int], list[int]]:
        """The core boundaries inside the image: ``(rows, columns)`` where one tile meets the next."""
        return [start for start, _ in self.row_cores[1:]], [start for start, _ in self.column_cores[1:]]

    def weights(self, tile: Tile, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> Tensor:
        """Blending weights of ``tile`` over its window, ``(1, 1, h, w)`` in ``[0, 1]``.

        The product of a vertical and a horizontal ramp profile. Each profile is 1 inside the
        core, cross-fades over ``[boundary - feather, boundary + feather)`` with a smoothstep
        that is exactly complementary to the neighbour's, and is 0 beyond; so the weights of all
        tiles sum to one at every pixel. ``feather = 0`` is a hard cut at the core boundary.
        """
        top, bottom, left, right = tile.window
        rows = _profile(self.row_cores, tile.row, top, bottom, self.feather)
        columns = _profile(self.column_cores, tile.column, left, right, self.feather)
        return (rows[:, None] * columns[None, :]).to(dtype=dtype, device=device)[None, None]


def _smoothstep(t: Tensor) -> Tensor:
    """``3t^2 - 2t^3`` on ``[0, 1]``: smooth ends, and ``s(t) + s(1 - t) = 1``."""
    t = t.clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _profile(cores: Sequence[tuple[int, int]], index: int, start: int, stop: int, feather: int) -> Tensor:
    """One axis of a tile's weights over ``[start, stop)`` (float64, exactly complementary)."""
    position = torch.arange(start, stop, dtype=torch.float64) + 0.5  # pixel centres
    weight = torch.ones(stop - start, dtype=torch.float64)
    core_start, core_stop = cores[index]
    if index > 0:  # fade in across the boundary with the previous tile
        weight = weight * _ramp(position, core_start, feather)
    if index < len(cores) - 1:  # fade out across the boundary with the next tile
        weight = weight * (1.0 - _ramp(position, core_stop, feather))
    return weight


def _ramp(position: Tensor, boundary: int, feather: int) -> Tensor:
    """0 before ``boundary - feather``, 1 after ``boundary + feather``; a hard step at 0 feather."""
    if feather == 0:
        return (position >= boundary).to(position.dtype)
    return _smoothstep((position - (boundary - feather)) / (2 * feather))


def _plan_axis(length: int, max_window: int, margin: int) -> list[tuple[int, int]]:
    """Core ``(start, stop)`` spans along one axis: as few as fit, balanced, on multiples of 8."""
    if length <= max_window:
        return [(0, length)]
    blocks = -(-length // NETWORK_MULTIPLE)  # the padded length, in 8-pixel blocks
    core_blocks = (max_window - 2 * margin) // NETWORK_MULTIPLE
    count = -(-blocks // core_blocks)
    bounds = [min(length, NETWORK_MULTIPLE * (i * blocks // count)) for i in range(count + 1)]
    return list(itertools.pairwise(bounds))


def plan_tiles(
    height: int,
    width: int,
    tile_side: int | None,
    margin: int = DEFAULT_MARGIN,
    feather: int = DEFAULT_FEATHER,
    kept_taps: Sequence[str] = (),
) -> TilePlan:
    """Plan tiles whose windows are at most ``tile_side`` pixels on a side (``kept_taps``: see :class:`TilePlan`).

    An axis that fits in one window is not split. Otherwise the cores are as few as fit
    (interior windows are ``core + 2 * margin``), balanced in size, with boundaries on multiples
    of 8 so that each core maps onto whole relu4_1 positions.

    Args:
        height, width: the image size (pixels, positive).
        tile_side: the largest window side; ``None``: one tile (no limit).
        margin: context beyond each core (a multiple of 8, >= ``feather``).
        feather: half-width of the cross-fade (0: hard cut at the core boundary).

    Returns:
        The plan; ``plan.is_single`` when the image fits in one window.

    Raises:
        ShapeError: a non-positive image size.
        UsageError: ``margin``/``feather`` out of range, or ``tile_side`` too small for the
            margins (``2 * margin + 4 * feather + 16`` at least, so that every core has room
            for its two ramps).

    Example:
        >>> plan = plan_tiles(1000, 3000, tile_side=1024)
        >>> plan.grid, plan.row_cores, plan.column_cores[:2]
        ((1, 4), ((0, 1000),), ((0, 744), (744, 1496)))
        >>> plan.tiles[1].window  # core (744, 1496) grown by the 48-pixel margin
        (0, 1000, 696, 1544)
    """
    if height <= 0 or width <= 0:
        raise ShapeError(f"image must have a positive size. Got {height}x{width} (height x width)")
    for name, value in (("margin", margin), ("feather", feather)):
        if not is_int(value, 0):
            raise UsageError(f"tile {name} must be a non-negative integer. Got {value!r}")
    if margin % NETWORK_MULTIPLE:
        raise UsageError(f"tile margin must be a multiple of {NETWORK_MULTIPLE}. Got {margin}")
    if feather > margin:
        raise UsageError(f"tile feather ({feather}) cannot exceed the margin ({margin}): a tile has no pixels there")
    # cores are at least half the largest core (balanced), and need room for two ramps
    smallest = 2 * margin + 2 * NETWORK_MULTIPLE * (-(-2 * feather // NETWORK_MULTIPLE) + 1)
    if tile_side is None:
        tile_side = max(height, width)
    elif not is_int(tile_side, smallest):
        raise UsageError(f"tile side must be an integer >= {smallest} (margins of {margin} px). Got {tile_side!r}")
    row_cores = _plan_axis(height, tile_side, margin)
    column_cores = _plan_axis(width, tile_side, margin)
    for cores in (row_cores, column_cores):
        for index, (start, stop) in enumerate(cores):
            ramps = (index > 0) + (index < len(cores) - 1)
            if stop - start < max(1, ramps * feather):
                raise ShapeError(f"tile core {start}:{stop} is too short for {ramps} feather ramps of {feather} px")
    tiles = []
    for row, (top, bottom) in enumerate(row_cores):
        for column, (left, right) in enumerate(column_cores):
            window = (
                top - margin if row > 0 else 0,
                bottom + margin if row < len(row_cores) - 1 else height,
                left - margin if column > 0 else 0,
                right + margin if column < len(column_cores) - 1 else width,
            )
            tiles.append(Tile(row, column, window, (top, bottom, left, right)))
    kept = tuple(kept_taps) if len(tiles) > 1 else ()
    return TilePlan(height, width, tuple(row_cores), tuple(column_cores), margin, feather, tuple(tiles), kept)


def feature_box(box: Box, scale: int = NETWORK_MULTIPLE) -> Box:
    """A pixel box on multiples of ``scale`` (the image's own edge excepted) -> feature positions.

    Ends are rounded up: a window ending at the image's edge covers the padded remainder, as
    :func:`~adain.image.sizing.pad_to_multiple` pads it.

    Example:
        >>> feature_box((0, 37, 16, 64))
        (0, 5, 2, 8)
    """
    top, bottom, left, right = box
    if top % scale or left % scale:
        raise ShapeError(f"box {box} does not start on multiples of {scale}")
    return top // scale, -(-bottom // scale), left // scale, -(-right // scale)


class TileBlender:
    """Accumulates decoded tiles into one image with the plan's feathered weights.

    With a single tile the decoded tensor is returned as it is (no copy, padding kept), so the
    untiled case costs nothing extra. Otherwise ``add`` crops each decoded window to its pixel
    size, weights it and adds it into a canvas of the image's size.
    """

    def __init__(self, plan: TilePlan) -> None:
        self.plan = plan
        self._canvas: Tensor | None = None
        self._added = 0

    def add(self, tile: Tile, decoded: Tensor) -> None:
        """Add one tile's decoded window ``(1, C, >= h, >= w)`` (padding beyond ``h, w`` is cropped)."""
        height, width = tile.window_size
        if decoded.dim() != 4 or decoded.shape[-2] < height or decoded.shape[-1] < width:
            raise ShapeError(f"decoded tile must be (1, C, >= {height}, >= {width}). Got {tuple(decoded.shape)}")
        if self.plan.is_single:
            self._canvas = decoded
            self._added = 1
            return
        if self._canvas is None:
            self._canvas = decoded.new_zeros(
                (1, decoded.shape[1], self.plan.height, self.plan.width), dtype=torch.float32
            )
        top, bottom, left, right = tile.window
        weights = self.plan.weights(tile, torch.float32, decoded.device)
        self._canvas[..., top:bottom, left:right] += decoded[..., :height, :width].float() * weights
        self._added += 1

    def result(self) -> Tensor:
        """The blended image (every tile must have been added)."""
        if self._canvas is None or self._added != len(self.plan.tiles):
            raise ShapeError(f"{self._added} of {len(self.plan.tiles)} tiles were added")
        return self._canvas


def estimate_memory_mb(
    height: int,
    width: int,
    tile_side: int,
    activation_bytes_per_pixel: float = ACTIVATION_BYTES_PER_PIXEL,
    kept_bytes_per_pixel: float = 0.0,
) -> float:
    """Expected peak memory (MB) of stylizing a ``height`` x ``width`` image in tiles of
    ``tile_side``, beyond the loaded process (interpreter, torch and weights: about 0.3 GB).

    ``activation_bytes_per_pixel``: one pass's peak per window pixel
    (:data:`ACTIVATION_BYTES_PER_PIXEL_OF` the networks); ``kept_bytes_per_pixel``: whole-image
    maps kept beside the image's own buffers (the shallow taps' stitched maps, when kept).

    The peak is that of the larger phase: the windows' passes beside the buffers resident then
    (:data:`RESIDENT_IMAGE_BYTES_PER_PIXEL` and the kept maps), or the ends' whole-image copies
    (:data:`IMAGE_BYTES_PER_PIXEL`), which never meet the passes."""
    window = min(tile_side, height) * min(tile_side, width)
    passes = (
        RESIDENT_IMAGE_BYTES_PER_PIXEL + kept_bytes_per_pixel
    ) * height * width + activation_bytes_per_pixel * window
    return max(passes, IMAGE_BYTES_PER_PIXEL * height * width) / 2**20


def tile_side_for_budget(
    height: int,
    width: int,
    budget_mb: float,
    activation_bytes_per_pixel: float = ACTIVATION_BYTES_PER_PIXEL,
    kept_bytes_per_pixel: float = 0.0,
) -> int | None:
    """The largest tile window side that keeps :func:`estimate_memory_mb` (same arguments) within ``budget_mb``.

    Returns:
        ``None`` when the whole image fits (one tile), else a multiple of 8, at least
        :data:`MIN_TILE_SIDE`.

    Raises:
        UsageError: the budget cannot hold the image's own buffers plus a minimum tile; the
            message gives the smallest budget that works.

    Example:
        >>> tile_side_for_budget(512, 512, 2048) is None
        True
        >>> tile_side_for_budget(2160, 3840, 2048)
        1232
    """
    if not is_number(budget_mb, above=0, finite=False):
        raise UsageError(f"memory budget must be a positive number of MB. Got {budget_mb!r}")
    model = (activation_bytes_per_pixel, kept_bytes_per_pixel)
    if estimate_memory_mb(height, width, max(height, width), *model) <= budget_mb:
        return None
    available = budget_mb * 2**20 - (RESIDENT_IMAGE_BYTES_PER_PIXEL + kept_bytes_per_pixel) * height * width
    side = math.isqrt(max(0, int(available // activation_bytes_per_pixel))) // NETWORK_MULTIPLE * NETWORK_MULTIPLE
    if side < MIN_TILE_SIDE or IMAGE_BYTES_PER_PIXEL * height * width > budget_mb * 2**20:
        needed = math.ceil(estimate_memory_mb(height, width, MIN_TILE_SIDE, *model))
        raise UsageError(
            f"a memory budget of {budget_mb:g} MB is too small for a {width}x{height} image: "
            f"it needs at least {needed} MB ({MIN_TILE_SIDE}-pixel tiles); raise the budget or lower the size"
        )
    return side


def window_area(height: int, width: int, tile_side: int | None) -> int:
    """Pixels the networks see in all: the windows of :func:`plan_tiles` summed (margins counted twice)."""
    plan = plan_tiles(height, width, tile_side)
    return sum(tile.window_size[0] * tile.window_size[1] for tile in plan.tiles)


def choose_tiling(
    height: int,
    width: int,
    budget_mb: float,
    activation_bytes_per_pixel: float = ACTIVATION_BYTES_PER_PIXEL,
    kept_bytes_per_pixel: float = 0.0,
) -> tuple[int | None, bool]:
    """``(tile side, keep)``: how a ``height`` x ``width`` image runs within ``budget_mb``.

    ``keep``: whether the shallow taps' maps (``kept_bytes_per_pixel`` of the whole image) are
    kept, so the windows are not re-encoded for the multi-level decoder's skips. They are kept
    when they fit beside windows that cover at most :data:`KEPT_MAPS_AREA_RATIO` times the
    window area of re-encoding's tiles (what the re-encoding would cost); else re-encoding's
    larger windows win. One tile (``None``) never needs them.

    Example:
        >>> choose_tiling(2160, 3840, 2048, 420, 96)  # the fast preset in bf16: maps kept
        (1448, True)
        >>> choose_tiling(2160, 3840, 2048, 1100, 224)  # the default's relu1_1 map would not fit
        (1232, False)
    """
    side = tile_side_for_budget(height, width, budget_mb, activation_bytes_per_pixel)
    if side is None or not kept_bytes_per_pixel:
        return side, False
    try:
        kept_side = tile_side_for_budget(height, width, budget_mb, activation_bytes_per_pixel, kept_bytes_per_pixel)
    except UsageError:
        return side, False
    if kept_side is None:  # cannot happen (the maps only add), but one tile is one tile
        return None, False
    keep = window_area(height, width, kept_side) <= KEPT_MAPS_AREA_RATIO * window_area(height, width, side)
    return (kept_side, True) if keep else (side, False)


def apply_in_strips(
    function: Callable[..., Tensor],
    images: Sequence[Tensor],
    halo: int,
    max_rows: int,
) -> Tensor:
    """``function(*images)`` computed in horizontal strips of at most ``max_rows`` output rows.

    For local operators (each output pixel depends on inputs at most ``halo`` rows away, e.g. a
    guided filter of radius ``r`` has ``halo = 2 r``; pointwise colour transforms have 0), each
    strip is computed with ``halo`` extra rows on both sides and cropped, so the result equals
    the whole-image call while only one strip's temporaries exist at a time.

    Args:
        function: maps ``(1, C_i, H, W)`` tensors to ``(1, C, H, W)``.
        images: the inputs, all of the same height and width.
        halo: rows of context each strip needs (non-negative).
        max_rows: output rows per strip (positive); one call when the image is no taller.

    Example:
        >>> x = torch.arange(12.0).view(1, 1, 6, 2)
        >>> torch.equal(apply_in_strips(lambda a: a * 2, [x], halo=0, max_rows=4), x * 2)
        True
    """
    if not images:
        raise UsageError("apply_in_strips needs at least one image")
    height = images[0].shape[-2]
    if any(image.shape[-2:] != images[0].shape[-2:] for image in images):
        raise ShapeError(f"images must share height and width. Got {[tuple(i.shape) for i in images]}")
    if halo < 0 or max_rows < 1:
        raise UsageError(f"halo must be >= 0 and max_rows >= 1. Got halo={halo}, max_rows={max_rows}")
    if height <= max_rows:
        return function(*images)

    def strip(top: int) -> Tensor:
        bottom = min(height, top + max_rows)
        start, stop = max(0, top - halo), min(height, bottom + halo)
        return function(*(image[..., start:stop, :] for image in images))[
            ..., top - start : top - start + bottom - top, :
        ]

    first = strip(0)
    output = first.new_empty((*first.shape[:-2], height, first.shape[-1]))
    output[..., :max_rows, :] = first
    del first
    for top in range(max_rows, height, max_rows):
        output[..., top : top + max_rows, :] = strip(top)
    return output


def tap_box(box: tuple[int, int, int, int], tap: str) -> tuple[int, int, int, int]:
    """A tile box in pixels -> positions at ``tap``; ends rounded up to the padded multiple of 8,
    as :func:`~adain.image.sizing.pad_to_multiple` pads an image (or window) at its edge."""
    top, bottom, left, right = box
    scale = TAP_SCALES[tap]
    bottom, right = -(-bottom // NETWORK_MULTIPLE) * NETWORK_MULTIPLE, -(-right // NETWORK_MULTIPLE) * NETWORK_MULTIPLE
    return feature_box((top, bottom, left, right), scale)


def window_slice(tile: Tile, tap: str) -> tuple[Any, ...]:
    """Index of ``tile``'s window in a whole-image map at ``tap``."""
    top, bottom, left, right = tap_box(tile.window, tap)
    return (..., slice(top, bottom), slice(left, right))


def core_slice(tile: Tile, tap: str, image: bool = False) -> tuple[Any, ...]:
    """Index of ``tile``'s core at ``tap``: in the window's own map, or (``image``) in the whole image's."""
    top, bottom, left, right = tap_box(tile.core, tap)
    if not image:
        window_top, _, window_left, _ = tap_box(tile.window, tap)
        top, bottom, left, right = top - window_top, bottom - window_top, left - window_left, right - window_left
    return (..., slice(top, bottom), slice(left, right))


def add_moments(moments: dict[str, list[Tensor]], tap: str, features: Tensor, region_weights: Tensor | None) -> None:
    """Add one core's moments at ``tap`` to ``moments[tap]``: unweighted, then one triple per region."""
    triples = [channel_moments(features)]
    if region_weights is not None:
        triples += [channel_moments(features, region_weights[:, k : k + 1]) for k in range(region_weights.shape[1])]
    flat = [value for triple in triples for value in triple]
    if tap not in moments:
        moments[tap] = flat
    else:
        for total, value in zip(moments[tap], flat):
            total += value


def moments_to_statistics(flat: list[Tensor]) -> tuple[Tensor, Tensor]:
    """The whole image's ``(mean, std)`` from :func:`add_moments`' sums: ``(1, C, 1, 1)``, or per
    region ``(K, C, 1, 1)`` (an empty region takes the unweighted statistics, as
    :func:`~adain.ops.masks.masked_channel_mean_std` does)."""
    triples = [flat[i : i + 3] for i in range(0, len(flat), 3)]
    whole = mean_std_from_moments(*triples[0])
    if len(triples) == 1:
        return whole
    pairs = [
        whole if total.item() <= EMPTY_REGION_WEIGHT else mean_std_from_moments(total, first, second)
        for total, first, second in triples[1:]
    ]
    return torch.cat([mean for mean, _ in pairs]), torch.cat([std for _, std in pairs])
