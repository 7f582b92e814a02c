"""What the pipeline can be asked to do (:class:`StylizeOptions`) and what it returns.

Options are checked in one place, :meth:`StylizeOptions.check`, without touching an image or a
model: the command line, the server and batches validate before anything is loaded.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from torch import Tensor

from adain._checks import is_int, is_number
from adain.errors import UsageError
from adain.image.convert import ImageInput
from adain.image.io import DEFAULT_MAX_PIXELS
from adain.image.sizing import MAX_PIXELS_LIMIT, NETWORK_MULTIPLE
from adain.ops.statistics import check_alpha
from adain.ops.taps import TAPS
from adain.pipeline.attention import ATTENTION_TAPS, ATTENTION_TEMPERATURE

__all__ = [
    "DEFAULT_SIZE",
    "MAX_ITERATIONS",
    "METHODS",
    "MULTISCALE_COARSEST_SIDE",
    "MULTISCALE_REFINE_STRENGTH",
    "PRESERVE_COLOR_MODES",
    "StylizeOptions",
    "StylizeResult",
    "StylizeResults",
]

PRESERVE_COLOR_MODES = (None, "luminance", "match")
METHODS = ("decoder", "attention", "optimize")

#: The paper's test resolution: the shorter side content and style images are resized to by
#: default in the CLI, the style bank and the server (the library's own default keeps sizes).
DEFAULT_SIZE = 512

#: Multi-scale: the coarsest level's shorter side is the smallest halving still >= this (the
#: paper's test size, at which style images are encoded: their strokes then keep their scale).
MULTISCALE_COARSEST_SIDE = DEFAULT_SIZE

#: Multi-scale: each finer level re-stylizes the upsampled coarse result at this fraction of
#: ``alpha`` (of each mask alpha).
MULTISCALE_REFINE_STRENGTH = 0.5


#: The most L-BFGS iterations ``iterations`` and ``refine`` may ask for (the default is 100; each
#: costs an encoder pass and its gradient).
MAX_ITERATIONS = 100_000


@dataclass(frozen=True)
class StylizeOptions:
    """How to stylize. The defaults give plain full-strength AdaIN at the content's own size.

    Attributes:
        alpha: style strength in [0, 1] (0: the content reconstructed, 1: full style).
        style_weights: one non-negative weight per style to mix several styles (normalised to
            sum to one); ``None``: equal weights.
        preserve_color: ``None``; ``"luminance"`` (keep the content's chroma, take the stylized
            luminance); or ``"match"`` (recolour each style image to the content's colour mean
            and covariance before taking its statistics; needs style images, not statistics).
        mask: a mask image routing one style per region (grayscale: white -> style 1, black ->
            style 2; RGB: red, green, blue -> styles 1, 2, 3; black in an RGB mask keeps the
            content). Path, Pillow image, or tensor ``(H, W)``, ``(C, H, W)`` or ``(1, C, H, W)``.
        mask_alphas: one strength per mask region (default: ``alpha`` for each).
        guided_filter_radius: smooth the result with a guided filter (content as guide) of this
            radius; ``None``: off.
        guided_filter_eps: the guided filter's regulariser.
        size: the content's shorter side is resized to this (0: keep); at most the square root
            of ``max_pixels`` (a larger shorter side is over the budget whatever the image).
            Any size from 1 up works (images under 16 pixels are padded for the network).
            A cap unless ``upscale``: a smaller image keeps its size.
        upscale: enlarge a content image whose shorter side is under ``size`` to ``size``
            (default: never enlarge; a 256x192 clip at ``size=512`` stays 256x192 instead of
            taking 7x the time to invent pixels).
        max_size: then its longer side is capped at this (0: no cap); at most ``max_pixels``.
        style_size: each style image's shorter side is resized to this before encoding (0: keep);
            0 or from 8 (one relu4_1 position) to the square root of ``max_pixels``.
            Style statistics depend on scale: the paper encodes styles at 512.
        max_pixels: pixel cap when an image is given as a path (checked from its header), and
            the budget of every image after resizing (content and styles, checked before they
            are resized); ``None``: no cap on files, and
            :data:`~adain.image.sizing.MAX_PIXELS_LIMIT` after resizing. At most that limit.
        method: ``"decoder"`` (one forward pass), ``"attention"`` (one forward pass with
            semantic AdaIN: each content position takes the mean of the style positions that look
            like it at relu4_1, at every tap, the style's global statistics kept,
            :mod:`adain.pipeline.attention`; needs style images or ``--features`` bank styles,
            not statistics alone) or ``"optimize"`` (``iterations`` of L-BFGS on the pixels for the
            same AdaIN objective, from the content: slow, best quality).
        attention_temperature: the softmax temperature of ``method="attention"`` (smaller:
            sharper matching; ``math.inf``: plain AdaIN).
        attention_taps: the taps whose targets follow the attention (of those the decoder
            takes; the others get plain AdaIN); the attention itself is always relu4_1's.
        iterations: L-BFGS iterations of ``method="optimize"``.
        refine: after the decoder, this many L-BFGS iterations starting from its output (0: off).
        max_memory_mb: memory budget (MB) for stylizing one image, beyond the loaded process
            (interpreter, torch and weights: about 0.3 GB). An image whose activations would not
            fit runs through the networks in overlapping tiles (:mod:`adain.pipeline.tiling`);
            ``None``: no budget, one pass. Not with ``method="optimize"`` or ``refine``.
        tile_size: tile windows of at most this many pixels on a side (0: chosen from
            ``max_memory_mb``).
        multiscale: stylize coarse to fine (:meth:`StylizationPipeline.coarse_to_fine`): larger
            style structures on large images; no change below 1024 pixels (shorter side).
        progress: show a tqdm bar on stderr over the L-BFGS iterations of ``method="optimize"``
            and ``refine`` (their rate and time left); it does not change the image.
    """

    alpha: float = 1.0
    style_weights: Sequence[float] | None = None
    preserve_color: Literal["luminance", "match"] | None = None
    mask: ImageInput | None = None
    mask_alphas: Sequence[float] | None = None
    guided_filter_radius: int | None = None
    guided_filter_eps: float = 1e-2
    size: int = 0
    upscale: bool = False
    max_size: int = 0
    style_size: int = 0
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    method: Literal["decoder", "attention", "optimize"] = "decoder"
    attention_temperature: float = ATTENTION_TEMPERATURE
    attention_taps: tuple[str, ...] = ATTENTION_TAPS
    iterations: int = 100
    refine: int = 0
    max_memory_mb: float | None = None
    tile_size: int = 0
    multiscale: bool = False
    progress: bool = False

    def check(self, num_styles: int = 1) -> StylizeOptions:
        """These options, checked for ``num_styles`` styles without touching any image or model.

        The one way options are validated: the pipeline calls it in step 1, and the command line and
        the server call it before anything is loaded. Returns ``self``.

        Raises:
            UsageError: the first inconsistency found, quoting the bad value.
        """
        if num_styles < 1:
            raise UsageError("need at least one style")
        check_alpha(self.alpha)
        if self.preserve_color not in PRESERVE_COLOR_MODES:
            raise UsageError(f"preserve_color must be None, 'luminance' or 'match'. Got {self.preserve_color!r}")
        if self.max_pixels is not None and not is_int(self.max_pixels, 1):
            raise UsageError(f"max_pixels must be a positive integer. Got {self.max_pixels!r}")
        if self.max_pixels is not None and self.max_pixels > MAX_PIXELS_LIMIT:
            raise UsageError(f"max_pixels must be at most {MAX_PIXELS_LIMIT:,}. Got {self.max_pixels!r}")
        budget = MAX_PIXELS_LIMIT if self.max_pixels is None else self.max_pixels
        for name in ("size", "max_size", "style_size"):
            value = getattr(self, name)
            if not is_int(value, 0):
                raise UsageError(f"{name} must be an integer >= 0 (0: no change). Got {value!r}")
            # a shorter side of `size` pixels is at least size**2 pixels; a longer side at least its length
            limit = budget if name == "max_size" else math.isqrt(budget)
            if value > limit:
                raise UsageError(
                    f"{name} must be at most {limit:,}: beyond, any image is over the pixel budget of "
                    f"{budget:,} pixels (max_pixels). Got {value!r}"
                )
        if 0 < self.style_size < NETWORK_MULTIPLE:
            raise UsageError(
                f"style_size must be 0 (keep) or at least {NETWORK_MULTIPLE} (one relu4_1 position). "
                f"Got {self.style_size!r}"
            )
        if self.style_weights is not None:
            weights = _as_floats(self.style_weights, "style weights")
            if len(weights) != num_styles:
                raise UsageError(f"got {len(weights)} style weights for {num_styles} styles: {weights!r}")
            if any(not math.isfinite(w) or w < 0 for w in weights) or not 0 < sum(weights) < math.inf:
                raise UsageError(f"style weights must be finite, non-negative and not all zero. Got {weights!r}")
            if self.mask is not None:
                raise UsageError(
                    "style weights mix styles everywhere; a mask routes one style per region: use one or the other"
                )
        if self.mask is None and self.mask_alphas is not None:
            raise UsageError("mask alphas need a mask")
        if self.mask is not None:
            if num_styles > 3:
                raise UsageError(f"a mask routes at most 3 styles (RGB mask). Got {num_styles} styles")
            if self.mask_alphas is not None:
                alphas = _as_floats(self.mask_alphas, "mask alphas")
                if len(alphas) != num_styles:
                    raise UsageError(
                        f"got {len(alphas)} mask alphas for {num_styles} styles (one per region): {alphas!r}"
                    )
                for k, alpha in enumerate(alphas):
                    check_alpha(alpha, f"mask alpha {k + 1}")
        if self.method not in METHODS:
            raise UsageError(f"method must be one of {', '.join(METHODS)}. Got {self.method!r}")
        for name in ("iterations", "refine"):
            value = getattr(self, name)
            if not is_int(value, 0, MAX_ITERATIONS):
                raise UsageError(f"{name} must be an integer from 0 to {MAX_ITERATIONS:,}. Got {value!r}")
        if self.method == "attention":
            if not is_number(self.attention_temperature, above=0, finite=False):
                raise UsageError(f"attention temperature must be a positive number. Got {self.attention_temperature!r}")
            unknown = [tap for tap in self.attention_taps if tap not in TAPS]
            if unknown or not self.attention_taps:
                raise UsageError(
                    f"attention taps must be a non-empty subset of {', '.join(TAPS)}. Got {list(self.attention_taps)}"
                )
            if self.mask is not None:
                raise UsageError(
                    "method 'attention' matches style regions by content; a mask routes them by hand: use one"
                )
            if self.refine:
                raise UsageError(
                    "refine optimises towards plain AdaIN's target: it does not combine with method 'attention'"
                )
        if (self.method == "optimize" or self.refine) and self.mask is not None:
            raise UsageError("optimization (--method optimize, --refine) does not support masks")
        budget = self.max_memory_mb
        if budget is not None and not is_number(budget, above=0):
            raise UsageError(f"max_memory_mb must be a positive number of MB (None: no budget). Got {budget!r}")
        if not is_int(self.tile_size, 0):
            raise UsageError(f"tile_size must be an integer >= 0 (0: from the memory budget). Got {self.tile_size!r}")
        if not isinstance(self.upscale, bool):
            raise UsageError(f"upscale must be True or False. Got {self.upscale!r}")
        if not isinstance(self.multiscale, bool):
            raise UsageError(f"multiscale must be True or False. Got {self.multiscale!r}")
        if (self.method == "optimize" or self.refine) and (budget is not None or self.tile_size):
            raise UsageError(
                "optimization (--method optimize, --refine) works on the whole image: it cannot be tiled to a memory budget"
            )
        if self.method == "optimize" and self.multiscale:
            raise UsageError("multiscale refines decoder passes: it does not apply to --method optimize")
        if self.guided_filter_radius is not None:
            radius = self.guided_filter_radius
            if not is_int(radius, 1):
                raise UsageError(f"guided filter radius must be a positive integer. Got {radius!r}")
            if not self.guided_filter_eps > 0:
                raise UsageError(f"guided filter eps must be positive. Got {self.guided_filter_eps!r}")
        return self


@dataclass
class StylizeResult:
    """The output of :class:`StylizationPipeline` for one content image.

    Attributes:
        image: in the requested output type: a Pillow image (RGB, or RGBA when the content had
            an alpha channel), a ``(H, W, 3|4)`` float32 numpy array in [0, 1], or a
            ``(1, 3|4, H, W)`` tensor in [0, 1].
        rgb: ``(1, 3, H, W)`` float32 in [0, 1], whatever the output type.
        transparency: ``(1, 1, H, W)`` or ``None``: the content's alpha channel (its
            transparency, carried over), resized. Not the style strength, which is
            ``StylizeOptions.alpha``; hence the name.
    """

    image: Any
    rgb: Tensor
    transparency: Tensor | None = None

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return self.rgb.shape[3], self.rgb.shape[2]

    @property
    def images(self) -> list[Any]:
        """``[image]``: the same spelling as for a list of contents (:class:`StylizeResults`)."""
        return [self.image]

    @property
    def alpha(self) -> Tensor | None:
        """Deprecated name of :attr:`transparency` (it read as the style strength)."""
        warnings.warn(
            "StylizeResult.alpha is the content's transparency channel: use StylizeResult.transparency",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.transparency

    def __repr__(self) -> str:
        """Short: the image's kind and size, never its pixels (a tensor's repr prints thousands)."""
        width, height = self.size
        kind = type(self.image).__module__.split(".")[0] + "." + type(self.image).__name__
        transparency = "with transparency" if self.transparency is not None else "opaque"
        return f"StylizeResult({width}x{height}, image={kind}, {transparency})"


@dataclass
class StylizeResults:
    """The output of :class:`StylizationPipeline` for a list of contents: one
    :class:`StylizeResult` per content, in order; ``.images`` as diffusers pipelines have it.

    Example:
        >>> import torch
        >>> result = StylizeResult(image=None, rgb=torch.zeros(1, 3, 4, 6))
        >>> results = StylizeResults([result, result])
        >>> len(results), results[0].size, results
        (2, (6, 4), StylizeResults(2 images: 6x4, 6x4))
    """

    results: list[StylizeResult]

    @property
    def images(self) -> list[Any]:
        """Each content's stylized image, in the requested output type."""
        return [result.image for result in self.results]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[StylizeResult]:
        return iter(self.results)

    def __getitem__(self, index: int) -> StylizeResult:
        return self.results[index]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{width}x{height}" for width, height in (result.size for result in self.results[:4]))
        more = f", ... ({len(self.results) - 4} more)" if len(self.results) > 4 else ""
        return f"StylizeResults({len(self.results)} images: {sizes}{more})"


def _as_floats(values: Sequence[Any], what: str) -> list[float]:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be numbers. Got {values!r}") from None
