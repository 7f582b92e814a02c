"""The stylization pipeline: encoder + AdaIN + decoder, with every option the paper describes.

``StylizationPipeline`` owns the encoder and decoder of one preset (loaded once) and turns a
content image and one or more styles into a stylized image in numbered steps:

1. check inputs           (options, number of styles, weights, mask alphas)
2. preprocess             (resize content, pad to a multiple of 8; per style: colour "match",
                           resize, encode, statistics; mask to region weights)
3. encode content         (features of the padded content at the taps the decoder takes: relu4_1,
                           and a multi-level decoder's relu3_1..relu1_1; window by window beyond
                           the memory budget; the content statistics of the whole image per tap)
4. AdaIN                  (at every decoder tap: one style; several styles mixed by weight; or
                           one style per mask region)
5. alpha blend            (content/style trade-off in feature space)
6. decode                 (features -> RGB; steps 4-6 run tile by tile, feathered together)
7. postprocess            (crop the padding, clamp, colour "luminance", guided filter, alpha)

Large images: with ``StylizeOptions.max_memory_mb`` an image whose activations would not fit runs
through the networks in overlapping tiles (:mod:`adain.pipeline.tiling`); the untiled case is the
same steps with one tile. ``StylizeOptions.multiscale`` stylizes coarse to fine
(:meth:`StylizationPipeline.coarse_to_fine`).

Styles are given as images (tensor, Pillow image, path), as
:class:`~adain.styles.statistics.StyleStatistics` (the per-layer channel means and standard
deviations an image's features have: all AdaIN needs), or as ``"bank:NAME"`` (a style of the
user's or the shipped style bank, :mod:`adain.styles.library`).

Example:
    >>> import torch
    >>> pipeline = StylizationPipeline.from_preset("vgg16-hed")
    >>> photo, painting = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 80, 80)  # or paths, or Pillow images
    >>> options = StylizeOptions(alpha=0.8, preserve_color="luminance")
    >>> pipeline(photo, painting, options, output_type="pt").rgb.shape
    torch.Size([1, 3, 64, 64])
    >>> statistics = pipeline.style_statistics(painting)  # encode a style once, apply it many times
    >>> pipeline(photo, [statistics, "bank:antimonocromatismo"], style_weights=[0.7, 0.3]).size
    (64, 64)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from adain._checks import is_int
from adain._files import limit_allocator_retention, reuse_freed_memory
from adain.errors import InputImageError, ShapeError, UsageError
from adain.image.convert import OUTPUT_TYPES, ImageInput, image_to_tensors, mask_to_tensor, to_output
from adain.image.io import DEFAULT_MAX_PIXELS, LoadedImage
from adain.image.sizing import (
    MIN_NETWORK_SIDE,
    NETWORK_MULTIPLE,
    checked_target_size,
    crop_to,
    pad_to_multiple,
    resize_image,
    target_size,
)
from adain.models import (
    TAP_CHANNELS,
    TAP_SCALES,
    AffineFeatures,
    CompactEncoder,
    CompactMultiLevelDecoder,
    Decoder,
    MultiLevelDecoder,
    decoder_input_taps,
    inference_copy,
)
from adain.models.affine_features import materialize
from adain.ops.color import match_color_statistics, transfer_luminance
from adain.ops.filters import guided_filter
from adain.ops.masks import masked_adain, masked_channel_mean_std, region_weights_from_mask, resize_region_weights
from adain.ops.statistics import (
    adain_affine,
    adain_with_content_statistics,
    blend_features,
    channel_mean_std,
    mix_statistics,
)
from adain.ops.taps import ADAIN_TAP, TAPS
from adain.pipeline.attention import Moments, attention_affines, local_mean_moments_by_rows, style_features
from adain.pipeline.device import BACKENDS, PRECISIONS, check_device, resolve_precision
from adain.pipeline.options import (
    MULTISCALE_COARSEST_SIDE,
    MULTISCALE_REFINE_STRENGTH,
    StylizeOptions,
    StylizeResult,
    StylizeResults,
)
from adain.pipeline.tiling import (
    ACTIVATION_BYTES_PER_PIXEL_OF,
    MIN_TILE_SIDE,
    STRIP_PIXELS,
    Tile,
    TileBlender,
    TilePlan,
    add_moments,
    apply_in_strips,
    choose_tiling,
    core_slice,
    estimate_memory_mb,
    feature_box,
    moments_to_statistics,
    plan_tiles,
    tap_box,
    window_slice,
)
from adain.styles.bank import BANK_PREFIX
from adain.styles.library import is_bare_style_name, resolve_style
from adain.styles.statistics import StyleInput, StyleStatistics, compute_style_statistics, resize_style
from adain.weights.presets import DEFAULT_PRESET, get_preset, statistics_preset

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "ContentStatisticsFilter",
    "PreparedContent",
    "StylizationPipeline",
    "checked_style_size",
    "image_name",
]

#: Contents of a list that go through the networks together, at most (:meth:`StylizationPipeline.stylize_many`).
DEFAULT_BATCH_SIZE = 8


def _is_file(path: Path) -> bool:
    """``path.is_file()`` that is ``False``, not an ``OSError``, for a path too long to stat."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def image_name(image: object, what: str) -> str:
    """How a message names an image: its path, quoted, when it came from a file; else ``the <what> image``."""
    path = image.path if isinstance(image, LoadedImage) else image if isinstance(image, (str, os.PathLike)) else None
    return repr(os.fspath(path)) if path is not None else f"the {what} image"


def checked_style_size(
    style: object, rgb: Tensor, size: int, max_pixels: int | None, max_memory_mb: float | None = None
) -> tuple[int, int]:
    """The ``(height, width)`` a style image ``rgb`` is resized to for ``size`` (its shorter side;
    0: kept), refused by name before anything is resized when out of bounds
    (:func:`~adain.image.sizing.checked_target_size`), when under
    :data:`~adain.image.sizing.NETWORK_MULTIPLE` pixels on a side (nothing would be left at relu4_1),
    or when encoding it would not fit ``max_memory_mb`` (a style is encoded in one pass, never
    tiled: at ``--style-size 8000`` that pass would need some 70 GB; a style no larger than the
    smallest tile, :data:`~adain.pipeline.tiling.MIN_TILE_SIDE` squared, is always allowed).

    Raises:
        InputImageError: the message names the style image (see :func:`image_name`).
    """
    name = image_name(style, "style")
    height, width = checked_target_size(
        rgb.shape[2], rgb.shape[3], size=size, max_pixels=max_pixels, name=f"style image {name}", option="--style-size"
    )
    if min(height, width) < NETWORK_MULTIPLE:
        raise InputImageError(
            f"style image {name} is {width}x{height} pixels"
            + (f" at --style-size {size}" if size else "")
            + f"; a style must be at least {NETWORK_MULTIPLE} pixels on each side"
        )
    if max_memory_mb is not None:
        needed = estimate_memory_mb(height, width, max(height, width))
        # up to the smallest tile's need, a budget is the content's to refuse (tile_side_for_budget)
        if needed > max(max_memory_mb, estimate_memory_mb(MIN_TILE_SIDE, MIN_TILE_SIDE, MIN_TILE_SIDE)):
            raise InputImageError(
                f"style image {name} is {width}x{height} pixels"
                + (f" at --style-size {size}" if size else "")
                + f": encoding it (in one pass) needs about {needed:,.0f} MB, over the memory budget of "
                f"{max_memory_mb:g} MB (--max-memory); use a smaller --style-size"
            )
    return height, width


@dataclass
class PreparedContent:
    """Step 2's content: resized (``rgb``, ``alpha``) and padded for the network (``padded``)."""

    rgb: Tensor
    alpha: Tensor | None
    padded: Tensor
    size: tuple[int, int]  # (height, width) of the output


#: ``{tap: (content_mean, content_std)} -> {tap: (content_mean, content_std)}``, shapes ``(K, C, 1, 1)``.
ContentStatisticsFilter = Callable[[dict[str, tuple[Tensor, Tensor]]], dict[str, tuple[Tensor, Tensor]]]


def teacher_style_encoder(preset: str | None, home: Path | None = None) -> nn.Module | None:
    """The encoder a distilled preset's new styles go through (its teacher's, whose feature
    space its students reproduce: see :class:`StylizationPipeline`'s ``style_encoder``); None
    for any other preset (its own encoder encodes its styles)."""
    from adain.weights import load_encoder

    teacher = statistics_preset(preset)
    return load_encoder(teacher, home=home) if teacher is not None and teacher != preset else None


class StylizationPipeline:
    """AdaIN style transfer with one preset's encoder and decoder, loaded once.

    Build with :meth:`from_preset`, or directly from modules (e.g. a decoder being trained).
    Call it with a content image and styles; see the module docstring for the steps.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        preset: str | None = None,
        device: str | torch.device = "cpu",
        precision: str = "fp32",
        compile: bool = False,
        channels_last: bool = False,
        style_encoder: nn.Module | None = None,
    ):
        """``style_encoder``: the encoder new style images go through (their statistics, and
        their features for attention); None: ``encoder``. A distilled preset's pipeline gets its
        teacher's encoder here (:meth:`from_preset`): its student encoder's taps only approximate
        the teacher's (relative errors of the channel std up to ~0.15 at relu4_1), its decoder was
        trained on the teacher's style statistics (what a bank holds), and a style is encoded once
        where the content is encoded every image, so the exact statistics cost only the
        new-style latency.

        ``precision`` (:data:`PRECISIONS`): what the encoder and decoder run in. In bf16 the
        pipeline runs bf16 channels_last copies (:func:`~adain.models.inference_copy`) and keeps
        ``encoder``/``decoder`` in fp32 for optimization; statistics and AdaIN stay fp32.
        Modules handed over run as they are (fp32) unless asked; :meth:`from_preset`, the
        product's entry point, defaults to ``"auto"``.

        ``channels_last``: in fp32 too, run fp32 copies of both networks with their weights
        channels-last (bf16 always does); faster than the stored layout on some CPUs, slower on
        others (``backend="auto"`` measures which, :mod:`adain.pipeline.autotune`). Torch only.

        ``compile``: run the encoder and decoder through ``torch.compile`` (inductor, weights
        frozen into the graph: fused convolution epilogues, pre-packed weights). The first image
        of each size pays the compilation (seconds); whether it gains beyond the folded upsampling
        convolutions depends on the machine (``adain bench`` times it). Torch backend only."""
        if precision not in PRECISIONS:
            raise UsageError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
        self.encoder = encoder.eval()
        self.decoder = decoder.eval()
        self.style_encoder = style_encoder.eval() if style_encoder is not None else None
        #: the taps the decoder takes, in its arguments' order (relu4_1, then a multi-level decoder's skips)
        self.decoder_taps = decoder_input_taps(decoder)
        self.preset = preset
        self.requested_precision = precision
        self.compile = compile
        self.requested_channels_last = bool(channels_last)
        if self.requested_channels_last and self.backend != "torch":
            raise UsageError(f"channels_last runs on the torch backend, not {self.backend!r}")
        #: how ``backend="auto"`` chose this pipeline's way (:class:`~adain.pipeline.autotune.Choice`); None: asked for
        self.choice: Any = None
        self.device = torch.device("cpu")
        self.to(device)

    @classmethod
    def from_preset(
        cls,
        preset: str = DEFAULT_PRESET,
        decoder_path: str | os.PathLike[str] | None = None,
        device: str | torch.device = "cpu",
        home: Path | None = None,
        backend: Literal["auto", "torch", "onnxruntime"] = "torch",
        onnx: Any = None,
        precision: str = "auto",
        compile: bool = False,
        channels_last: bool = False,
        on_measure: Callable[[str], None] | None = None,
    ) -> StylizationPipeline:
        """Load a preset's encoder and decoder (``decoder_path`` overrides the preset's decoder).

        The decoder is loaded first: it is the part most likely to be missing, and finding that
        out must not cost an encoder download.

        With ``backend="onnxruntime"`` the encoder and decoder run as onnxruntime sessions
        (:mod:`adain.backends`; ``onnx``, an :class:`~adain.backends.onnx_runtime.OnnxBackendOptions`,
        chooses providers, threads and files; the cache defaults to ``<home>/onnx``); every step is otherwise the same. ``device`` must
        then be the CPU. ``precision``, ``compile`` and ``channels_last``: see :meth:`__init__`.

        With ``backend="auto"`` (the command line's default) and ``precision="auto"`` the pipeline
        runs the fastest way measured on this machine (:func:`~adain.pipeline.autotune.fastest_way`:
        torch bf16 where the CPU has it natively; elsewhere the fastest of torch fp32, torch fp32
        channels-last and onnxruntime, measured once and cached in ``<home>/cache``); the choice
        is ``pipeline.choice``, and ``on_measure`` is told in one line before a measurement.
        It may choose onnxruntime, which has no gradients: ask for ``backend="torch"`` for
        ``method="optimize"`` or ``refine``. An explicit ``precision`` (``"fp32"``, ``"bf16"``),
        ``compile`` or ``channels_last`` with ``"auto"`` is the torch backend, as asked. The
        default stays ``"torch"``: callers use ``pipeline.encoder`` as a torch module.

        Raises:
            PresetError: unknown preset.
            MissingWeightsError: the preset has no decoder (pass ``decoder_path``) or its
                weights are not available.
            WeightsError, ShapeError: a weights file is corrupt or for another architecture.
            UsageError: an unknown or unavailable device, or an unknown backend.
            MissingDependencyError: ``backend="onnxruntime"`` without the ``onnx`` extra.
        """
        from adain.weights import get_preset, load_decoder, load_encoder

        get_preset(preset)
        device = check_device(device)
        if backend not in BACKENDS:
            raise UsageError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
        if precision not in PRECISIONS:
            raise UsageError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
        measure = backend == "auto" and precision == "auto" and not compile and not channels_last
        if backend == "auto" and not measure:  # asked for a torch way: that one, as before "auto"
            backend = "torch"
        if backend == "onnxruntime" and channels_last:
            raise UsageError("channels_last runs on the torch backend; onnxruntime chooses its own layouts")
        if backend == "onnxruntime" and precision == "bf16":
            raise UsageError("precision bf16 runs on the torch backend; the onnxruntime backend runs fp32")
        if backend == "onnxruntime" and compile:
            raise UsageError("compile runs on the torch backend; onnxruntime optimises its own graphs")
        if backend == "onnxruntime":
            from adain.backends import check_runtime_backend

            check_runtime_backend(backend, device)
        if decoder_path is not None:
            decoder_path = Path(decoder_path)
            if not _is_file(decoder_path):
                from adain.errors import MissingWeightsError

                raise MissingWeightsError(f"decoder file not found: {str(decoder_path)!r}")
        decoder = load_decoder(preset, path=decoder_path, home=home)
        encoder = load_encoder(preset, home=home)
        style_encoder = teacher_style_encoder(preset, home)
        choice = None
        if measure:
            from adain.pipeline.autotune import fastest_way

            choice = fastest_way(preset, device, encoder, decoder, home=home, on_measure=on_measure)
            backend, precision, channels_last = choice.way.backend, choice.way.precision, choice.way.channels_last
        if backend != "torch":
            from adain.backends import runtime_networks

            networks = runtime_networks(backend, encoder, decoder, preset, onnx, home)
            pipeline = cls(*networks, preset=preset, device=device, precision="fp32", style_encoder=style_encoder)
        else:
            pipeline = cls(
                encoder,
                decoder,
                preset=preset,
                device=device,
                precision=precision,
                compile=compile,
                channels_last=channels_last,
                style_encoder=style_encoder,
            )
        pipeline.choice = choice
        return pipeline

    @property
    def backend(self) -> str:
        """``"torch"`` or ``"onnxruntime"``: what runs the encoder and decoder."""
        return getattr(self.encoder, "backend", "torch")

    @property
    def way(self) -> str:
        """How the networks run, by the names of :mod:`adain.pipeline.autotune`: ``torch-bf16``,
        ``torch-fp32``, ``torch-fp32-channels-last`` or ``onnxruntime-fp32``."""
        layout = "-channels-last" if self.backend == "torch" and self.precision == "fp32" and self.channels_last else ""
        return f"{self.backend}-{self.precision}{layout}"

    def to(self, device: str | torch.device) -> StylizationPipeline:
        self.device = check_device(device)
        self.encoder.to(self.device)
        self.decoder.to(self.device)
        if self.style_encoder is not None:
            self.style_encoder.to(self.device)
        self.precision = resolve_precision(self.requested_precision, self.device, self.backend)
        #: whether the torch networks run with channels-last weights (bf16 always does)
        self.channels_last = self.backend == "torch" and (self.precision == "bf16" or self.requested_channels_last)
        if self.precision == "bf16":
            self.inference_encoder, self.inference_decoder = inference_copy(self.encoder), inference_copy(self.decoder)
        elif self.channels_last:  # fp32 copies, weights channels-last (the decoder's upsampling folded too)
            self.inference_encoder = inference_copy(self.encoder, torch.float32)
            self.inference_decoder = inference_copy(self.decoder, torch.float32)
        elif isinstance(self.decoder, (Decoder, CompactMultiLevelDecoder)):
            # fp32: the decoder's upsampling convolutions folded all the same (a torch decoder's,
            # the fast student's too: else it would fold them again on every call)
            self.inference_encoder, self.inference_decoder = self.encoder, inference_copy(self.decoder, torch.float32)
        else:  # onnxruntime sessions
            self.inference_encoder, self.inference_decoder = self.encoder, self.decoder
        self.inference_style_encoder = self._inference_style_encoder()
        if self.compile:
            if self.backend != "torch":
                raise UsageError(f"compile needs the torch backend, not {self.backend!r}")
            # freezing treats the weights as constants: inductor pre-packs them and fuses the ReLUs
            options = {"freezing": True}
            self.inference_encoder = torch.compile(self.inference_encoder, options=options)
            self.inference_decoder = torch.compile(self.inference_decoder, options=options)
        return self

    def _inference_style_encoder(self) -> nn.Module:
        """What new styles go through: the content's inference encoder, or a copy of
        ``style_encoder`` in the networks' precision (a torch module, whatever the backend: a
        style is encoded once, so it needs no runtime session of its own)."""
        if self.style_encoder is None:
            return self.inference_encoder
        if self.precision == "bf16":
            return inference_copy(self.style_encoder)
        if self.channels_last:
            return inference_copy(self.style_encoder, torch.float32)
        return self.style_encoder

    # -- styles ---------------------------------------------------------------------------------

    def style_statistics(
        self,
        style: ImageInput,
        size: int = 0,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        max_memory_mb: float | None = None,
    ) -> StyleStatistics:
        """Encode a style image once: its channel mean and std at every tap.

        Args:
            style: the style image.
            size: resize its shorter side to this first (0: keep).
            max_pixels: pixel cap when ``style`` is a path, and the budget after resizing.
            max_memory_mb: refuse a style whose encoding would need more (MB); ``None``: no limit.

        Raises:
            InputImageError: the style cannot be read, or is out of bounds (:func:`checked_style_size`).
        """
        rgb, _ = image_to_tensors(style, max_pixels, "style")
        checked_style_size(style, rgb, size, max_pixels, max_memory_mb)
        return compute_style_statistics(self.inference_style_encoder, rgb, self.preset, size)[0]

    # -- the steps ------------------------------------------------------------------------------

    def check_inputs(self, styles: StyleInput | Sequence[StyleInput], options: StylizeOptions) -> list[StyleInput]:
        """Step 1: validate the options against the styles; returns the styles as a list."""
        style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
        options.check(len(style_list))
        style_list = [self.resolve_bank_style(style) for style in style_list]
        if self.backend != "torch" and (options.method == "optimize" or options.refine):
            raise UsageError(
                f"method='optimize' and refine need gradients through the encoder: use the torch backend, "
                f"not {self.backend!r}"
            )
        for style in style_list:
            if isinstance(style, StyleStatistics):
                if options.method == "attention" and not getattr(style, "features", None):
                    raise UsageError(
                        "method 'attention' needs the style's features, and a bank style added without --features "
                        "or precomputed statistics have only their statistics: give the style image instead, or add "
                        "it to the bank with `adain bank add NAME IMAGE --features`"
                    )
                if options.preserve_color == "match":
                    raise UsageError(
                        "preserve_color='match' recolours the style image, so it needs style images, not precomputed "
                        "statistics (use 'luminance' with statistics)"
                    )
                if style.preset is not None and self.preset is not None and style.preset != self.preset:
                    raise UsageError(
                        f"style statistics come from preset {style.preset!r}; this pipeline uses {self.preset!r}"
                    )
        return style_list

    def resolve_bank_style(self, style: StyleInput) -> StyleInput:
        """``"bank:NAME"`` -> that style's statistics from the user's or the shipped style bank of
        this pipeline's preset (:mod:`adain.styles.library`); so is a bare ``"NAME"`` that is no
        file (the rule of the command line and the server); any other style unchanged."""
        if not isinstance(style, str):
            return style
        bare = is_bare_style_name(style) and not os.path.lexists(style)
        if not (style.startswith(BANK_PREFIX) or bare):
            return style
        if self.preset is None:
            if not style.startswith(BANK_PREFIX):
                return style  # no banks to fall back to: the loader says the file is missing
            raise UsageError(f"{style!r}: bank styles belong to a preset, and this pipeline was built without one")
        return resolve_style(style, self.preset)

    def prepare_content(self, content: ImageInput, options: StylizeOptions) -> PreparedContent:
        """Step 2a: resize the content to the output size and pad it to a multiple of 8 (and to
        :data:`~adain.image.sizing.MIN_NETWORK_SIDE` at least: any output size works, down to 1x1).

        Raises:
            InputImageError: the resized content would be out of bounds (enlarged more than
                :data:`~adain.image.sizing.MAX_UPSCALE` times, or over ``options.max_pixels``);
                checked before anything is resized.
        """
        rgb, alpha = image_to_tensors(content, options.max_pixels, "content")
        size = checked_target_size(
            rgb.shape[2],
            rgb.shape[3],
            options.size,
            options.max_size,
            upscale=options.upscale,
            max_pixels=options.max_pixels,
            name=f"image {image_name(content, 'content')}",
        )
        rgb = rgb.to(self.device)
        rgb = resize_image(rgb, size).clamp(0.0, 1.0)
        if alpha is not None:
            alpha = resize_image(alpha.to(self.device), size).clamp(0.0, 1.0)
        padded, _ = pad_to_multiple(rgb, minimum=MIN_NETWORK_SIDE)
        return PreparedContent(rgb=rgb, alpha=alpha, padded=padded, size=size)

    def prepare_styles(
        self, styles: list[StyleInput], content_rgb: Tensor, options: StylizeOptions
    ) -> list[StyleStatistics]:
        """Step 2b: statistics of every style (colour-matched to the content first in "match" mode)."""
        statistics = []
        for style in styles:
            if isinstance(style, StyleStatistics):
                statistics.append(style.to(self.device))
                continue
            rgb, _ = image_to_tensors(style, options.max_pixels, "style")
            checked_style_size(style, rgb, options.style_size, options.max_pixels, options.max_memory_mb)
            rgb = resize_style(rgb.to(self.device), options.style_size)
            if options.preserve_color == "match":
                rgb = match_color_statistics(rgb, content_rgb)
            if options.method == "attention":  # its features too, subsampled: attention needs them
                if min(rgb.shape[-2:]) < NETWORK_MULTIPLE:
                    raise InputImageError(
                        f"style image is {rgb.shape[3]}x{rgb.shape[2]} pixels; it must be at least "
                        f"{NETWORK_MULTIPLE} pixels on each side"
                    )
                features = self.inference_style_encoder(rgb)
                kept = [tap for tap in options.attention_taps if tap in self.decoder_taps]
                statistics.append(style_features(features, self.preset, kept))
                continue
            statistics.append(compute_style_statistics(self.inference_style_encoder, rgb, self.preset)[0])
        return statistics

    def prepare_region_weights(
        self, options: StylizeOptions, content: PreparedContent, num_styles: int
    ) -> dict[str, Tensor] | None:
        """Step 2c: the mask as ``(1, K, h, w)`` region weights at each of the decoder's taps (or ``None``)."""
        if options.mask is None:
            return None
        mask = mask_to_tensor(options.mask, options.max_pixels).to(self.device)
        mask = resize_image(mask, content.size).clamp(0.0, 1.0)
        padded_mask, _ = pad_to_multiple(mask, minimum=MIN_NETWORK_SIDE)
        weights = region_weights_from_mask(padded_mask, num_styles)
        height, width = padded_mask.shape[-2:]
        return {
            tap: resize_region_weights(weights, (height // TAP_SCALES[tap], width // TAP_SCALES[tap]))
            for tap in self.decoder_taps
        }

    def encode_content(self, padded_rgb: Tensor) -> dict[str, Tensor]:
        """Step 3: the padded content's features at the decoder's taps (relu4_1 for the paper's decoder)."""
        return self.inference_encoder(padded_rgb, taps=self.decoder_taps)

    @staticmethod
    def has_coarse_level(content: PreparedContent, options: StylizeOptions) -> bool:
        """Whether :meth:`coarse_to_fine` stylizes a coarser level first: ``multiscale`` asked,
        and half the shorter side still at least :data:`MULTISCALE_COARSEST_SIDE`."""
        return options.multiscale and min(content.size) // 2 >= MULTISCALE_COARSEST_SIDE

    def coarse_to_fine(
        self, content: PreparedContent, statistics: list[StyleStatistics], options: StylizeOptions
    ) -> tuple[PreparedContent, StylizeOptions]:
        """Step 2d (``options.multiscale``): the content and options of the full-size pass.

        AdaIN paints the style's patterns at the scale of the encoder's receptive field (a few
        dozen pixels), so on a large image the strokes are tiny and the composition is barely
        touched. Multi-scale first stylizes the content at half size (recursively, down to the
        smallest halving whose shorter side is still >= :data:`MULTISCALE_COARSEST_SIDE`), then
        builds this level's content like a Laplacian pyramid: the upsampled coarse result (the
        style's large-scale structure and colour layout) plus the content's own detail band
        that the coarse level could not hold (content minus its down- and re-upsampled copy).
        The full-size pass re-stylizes that at :data:`MULTISCALE_REFINE_STRENGTH` x alpha:
        enough to give the restored detail the style's fine texture, not so much that the
        coarse structure is normalised away. Colour preservation and the guided filter apply
        once, to the final result, against the original content. Cost: about 1/3 more than
        one pass (each level has a quarter of the pixels of the next).

        Returns:
            ``(content, options)`` for steps 2e-6: unchanged without ``multiscale`` or when the
            content's shorter side is below ``2 * MULTISCALE_COARSEST_SIDE`` (no coarser level).
        """
        if not self.has_coarse_level(content, options):
            return content, options
        height, width = content.size
        half = min(height, width) // 2
        coarse_size = target_size(height, width, size=half)
        coarse_options = replace(options, size=0, max_size=0, preserve_color=None, guided_filter_radius=None, refine=0)
        coarse = self(
            resize_image(content.rgb, coarse_size).clamp(0.0, 1.0), statistics, coarse_options, output_type="pt"
        ).rgb
        rgb = resize_image(coarse, content.size)
        del coarse
        rgb += content.rgb
        rgb -= resize_image(resize_image(content.rgb, coarse_size), content.size)  # + the detail band
        rgb = rgb.clamp_(0.0, 1.0)
        padded, _ = pad_to_multiple(rgb, minimum=MIN_NETWORK_SIDE)
        strength = MULTISCALE_REFINE_STRENGTH
        refine_options = replace(
            options,
            alpha=strength * options.alpha,
            mask_alphas=None if options.mask_alphas is None else [strength * float(a) for a in options.mask_alphas],
        )
        return PreparedContent(rgb=rgb, alpha=content.alpha, padded=padded, size=content.size), refine_options

    def plan_tiles(self, content: PreparedContent, options: StylizeOptions) -> TilePlan:
        """Step 2e: the tiles the networks run on: one (the whole image) unless the image is
        beyond ``options.max_memory_mb`` or ``options.tile_size`` asks for smaller tiles. An image
        thinner than :data:`~adain.image.sizing.MIN_NETWORK_SIDE` is never tiled (a window must
        be padded to that side on its own, which tiles cannot be)."""
        height, width = content.size
        if min(height, width) < MIN_NETWORK_SIDE:
            return plan_tiles(height, width, None)
        side, keep = options.tile_size or None, False
        shallow = tuple(tap for tap in self.decoder_taps if tap != ADAIN_TAP)
        model = (self.activation_bytes_per_pixel, self.kept_bytes_per_pixel(shallow))
        if side is None and options.max_memory_mb is not None:
            side, keep = choose_tiling(height, width, options.max_memory_mb, *model)
        elif side is not None and options.max_memory_mb is not None and shallow:
            keep = estimate_memory_mb(height, width, side, *model) <= options.max_memory_mb
        return plan_tiles(height, width, side, kept_taps=shallow if keep else ())

    @property
    def folds_skip_adain(self) -> bool:
        """Whether :meth:`transfer` hands the skips their AdaIN as :class:`~adain.models.AffineFeatures`
        for the decoder to fold into its 1x1 convolutions: the torch multi-level decoders, not
        compiled (an onnxruntime decoder takes tensors)."""
        return isinstance(self.inference_decoder, (MultiLevelDecoder, CompactMultiLevelDecoder))

    @property
    def activation_bytes_per_pixel(self) -> int:
        """One pass's peak memory per pixel for this pipeline's networks and precision
        (:data:`~adain.pipeline.tiling.ACTIVATION_BYTES_PER_PIXEL_OF`): the memory model its tiles are planned with."""
        compact = isinstance(self.encoder, CompactEncoder) or (
            self.preset is not None and get_preset(self.preset).compact
        )
        precision = "bf16" if self.precision == "bf16" else "fp32"
        return ACTIVATION_BYTES_PER_PIXEL_OF["compact" if compact else "vgg", precision]

    def kept_bytes_per_pixel(self, taps: Sequence[str]) -> float:
        """Bytes per image pixel of the whole-image maps at ``taps`` (in the networks' precision)."""
        itemsize = 2 if self.precision == "bf16" else 4
        return sum(TAP_CHANNELS[tap] * itemsize / TAP_SCALES[tap] ** 2 for tap in taps)

    def encode_content_tiles(
        self, content: PreparedContent, plan: TilePlan, region_weights: dict[str, Tensor] | None = None
    ) -> tuple[dict[str, Tensor], dict[str, tuple[Tensor, Tensor]]]:
        """Step 3: the content's features, encoded window by window, and the whole image's
        statistics at the taps whose maps are not kept.

        One tile: ``(encode_content(content.padded), {})``. Several: relu4_1 of the whole padded
        content, stitched from each window's core features (the window's margin gives them all
        the context they can use, so the map equals an untiled encoding; windows at the right and
        bottom edges are padded to a multiple of 8 on their own, as the whole image would be).
        The shallower taps a multi-level decoder takes are maps too large to keep for a large
        image, unless the plan keeps them (``plan.kept_taps``: they fit the memory budget, and
        stitched from the cores like relu4_1 they spare re-encoding). For the others, the whole
        image's statistics (per mask region with ``region_weights``) are summed from the cores'
        moments here, and :meth:`decode_tiles` re-encodes each window for their features.
        """
        if plan.is_single:
            # the heap keeps what this image's pass frees for the next of the same size (a video's
            # frames, a batch, the bench): no fresh zero pages for the largest activations each time
            reuse_freed_memory((id(self), tuple(content.padded.shape)))
            return self.encode_content(content.padded), {}
        limit_allocator_retention()
        shallow = [tap for tap in self.decoder_taps if tap != ADAIN_TAP]
        streamed = [tap for tap in shallow if tap not in plan.kept_taps]
        stitched = [*plan.kept_taps, ADAIN_TAP]
        moments: dict[str, list[Tensor]] = {}
        maps: dict[str, Tensor] = {}
        for tile in plan.tiles:
            top, bottom, left, right = tile.window
            window_taps = self.inference_encoder(
                pad_to_multiple(content.rgb[..., top:bottom, left:right])[0], taps=(*shallow, ADAIN_TAP)
            )
            for tap in stitched:
                if tap not in maps:  # in the windows' layout (channels last in bf16): no transposing copies
                    _, bottom_at_tap, _, right_at_tap = tap_box((0, plan.height, 0, plan.width), tap)
                    like = window_taps[tap]
                    layout = torch.channels_last if like.stride(1) == 1 else torch.contiguous_format
                    maps[tap] = torch.empty(
                        (1, like.shape[1], bottom_at_tap, right_at_tap), dtype=like.dtype, memory_format=layout
                    )
                maps[tap][core_slice(tile, tap, image=True)] = window_taps[tap][core_slice(tile, tap)]
            for tap in streamed:
                core = window_taps[tap][core_slice(tile, tap)]
                weights = None if region_weights is None else region_weights[tap][core_slice(tile, tap, image=True)]
                add_moments(moments, tap, core, weights)
            del window_taps
        if not maps:
            raise ShapeError("a tile plan without tiles")
        return maps, {tap: moments_to_statistics(moments[tap]) for tap in streamed}

    def content_statistics(
        self, content_features: dict[str, Tensor], region_weights: dict[str, Tensor] | None = None
    ) -> dict[str, tuple[Tensor, Tensor]]:
        """Step 3b: per tap, the channel ``(mean, std)`` AdaIN normalises the content with, taken
        once over the whole image so that every tile gets the same: ``(1, C, 1, 1)`` each, or one
        row per mask region ``(K, C, 1, 1)`` (over that region) with ``region_weights``."""
        statistics = {}
        for tap, tap_features in content_features.items():
            if region_weights is None:
                statistics[tap] = channel_mean_std(tap_features)
                continue
            weights = region_weights[tap]
            pairs = [masked_channel_mean_std(tap_features, weights[:, k : k + 1]) for k in range(weights.shape[1])]
            statistics[tap] = torch.cat([mean for mean, _ in pairs]), torch.cat([std for _, std in pairs])
        return statistics

    def transfer(
        self,
        content_features: dict[str, Tensor],
        statistics: list[StyleStatistics],
        options: StylizeOptions,
        region_weights: dict[str, Tensor] | None = None,
        content_statistics: dict[str, tuple[Tensor, Tensor]] | None = None,
        taps: Sequence[str] | None = None,
        attention_moments: list[Moments] | None = None,
    ) -> dict[str, Tensor]:
        """Steps 4 and 5: the decoder's inputs: AdaIN to the style(s), blended with the content,
        at each tap the decoder takes.

        With a mask each region gets its own style and strength (masked AdaIN blends per
        region); otherwise the styles' statistics are mixed by weight, AdaIN is applied once
        and the result blended with ``alpha``. Every tap is treated alike, with that tap's style
        statistics and region weights, so alpha 0 gives the content's own features at every tap.
        The content is normalised with ``content_statistics`` (:meth:`content_statistics`; a tile
        gets the whole image's), or with its own when ``None``. ``taps``: only these (default:
        the decoder's; the optimization objective needs relu4_1 alone). ``attention_moments``: a
        tile's whole-image moments of the attention's local means (:meth:`attention_moments`).
        """
        content_statistics = content_statistics or self.content_statistics(content_features, region_weights)
        taps = self.decoder_taps if taps is None else taps
        attended = {}
        if options.method == "attention" and region_weights is None:
            attended = attention_affines(
                content_features,
                statistics,
                [tap for tap in taps if tap in options.attention_taps],
                options.style_weights,
                content_statistics,
                options.attention_temperature,
                attention_moments,
            )
        targets = {}
        for tap in taps:
            features = content_features[tap]
            missing = [k + 1 for k, s in enumerate(statistics) if tap not in s.means]
            if missing:
                raise UsageError(
                    f"this decoder takes the style's statistics at {', '.join(self.decoder_taps)}; "
                    f"style {missing[0]} has none at {tap}"
                )
            means = torch.cat([s.at(tap)[0] for s in statistics])
            stds = torch.cat([s.at(tap)[1] for s in statistics])
            content_mean, content_std = content_statistics[tap]
            if region_weights is not None:
                alphas = (
                    list(options.mask_alphas) if options.mask_alphas is not None else [options.alpha] * len(statistics)
                )
                targets[tap] = masked_adain(
                    features,
                    region_weights[tap],
                    means,
                    stds,
                    alphas,
                    content_means=content_mean,
                    content_stds=content_std,
                )
                continue
            if tap in attended:  # (scale, shift, offset), blended with the content by alpha: still such a map
                scale, shift, offset = attended[tap]
                alpha = options.alpha
                if alpha != 1.0:
                    scale, shift = alpha * scale + (1.0 - alpha), alpha * shift
                    offset = None if offset is None else alpha * offset
                if tap != ADAIN_TAP and self.folds_skip_adain and scale.shape[0] == 1:
                    targets[tap] = AffineFeatures(features, scale, shift, offset)  # folded into the skip's 1x1
                else:  # computed in float32 (a bf16 shift would round away the local means' offsets)
                    affine = AffineFeatures(features.float(), scale, shift, offset)
                    targets[tap] = materialize(affine).to(features.dtype)
                continue
            if len(statistics) == 1:
                mean, std = means, stds
            else:
                weights = list(options.style_weights) if options.style_weights is not None else [1.0] * len(statistics)
                mean, std = mix_statistics(means, stds, weights)
            if tap != ADAIN_TAP and self.folds_skip_adain and features.shape[0] == 1:
                # a skip's 1x1 convolution takes AdaIN (and alpha) into its weights: no pass over the map
                targets[tap] = AffineFeatures(
                    features, *adain_affine(content_mean, content_std, mean, std, options.alpha)
                )
                continue
            target = adain_with_content_statistics(features, content_mean, content_std, mean, std)
            # alpha 1: the fresh target itself (blend_features would copy it)
            targets[tap] = target if options.alpha == 1.0 else blend_features(features, target, options.alpha)
        return targets

    def window_features(
        self, content_features: dict[str, Tensor], content: PreparedContent, tile: Tile, plan: TilePlan
    ) -> dict[str, Tensor]:
        """Step 4's input for one tile: the window's features at the decoder's taps. relu4_1 (and
        the plan's kept taps) are cut from the stitched maps; the other shallower taps are
        re-encoded from the window, whose margin gives the core all its context."""
        if plan.is_single:
            return content_features
        top, bottom, left, right = feature_box(tile.window)
        window = {ADAIN_TAP: content_features[ADAIN_TAP][..., top:bottom, left:right]}
        window.update({tap: content_features[tap][window_slice(tile, tap)] for tap in plan.kept_taps})
        shallow = [tap for tap in self.decoder_taps if tap not in window]
        if shallow:
            top, bottom, left, right = tile.window
            encoded = self.inference_encoder(pad_to_multiple(content.rgb[..., top:bottom, left:right])[0], taps=shallow)
            window.update({tap: encoded[tap] for tap in shallow})
        return window

    def decode_tiles(
        self,
        content_features: dict[str, Tensor],
        statistics: list[StyleStatistics],
        options: StylizeOptions,
        region_weights: dict[str, Tensor] | None,
        content_statistics: dict[str, tuple[Tensor, Tensor]],
        plan: TilePlan,
        content: PreparedContent,
        attention_moments: list[Moments] | None = None,
    ) -> Tensor:
        """Steps 4-6 tile by tile: each window's features (and mask regions) through
        :meth:`transfer` with the whole image's content statistics and :meth:`decode`, feathered
        into one image (:class:`~adain.pipeline.tiling.TileBlender`). One tile: the decoded
        padded image, as :meth:`decode` returns it."""
        blender = TileBlender(plan)
        for tile in plan.tiles:
            window = self.window_features(content_features, content, tile, plan)
            weights = (
                None
                if region_weights is None
                else {tap: tap_weights[window_slice(tile, tap)] for tap, tap_weights in region_weights.items()}
            )
            features = self.transfer(
                window, statistics, options, weights, content_statistics, attention_moments=attention_moments
            )
            del window
            blender.add(tile, self.decode(features))
            del features
        return blender.result()

    def attention_moments(
        self,
        content_features: dict[str, Tensor],
        statistics: list[StyleStatistics],
        options: StylizeOptions,
        content_statistics: dict[str, tuple[Tensor, Tensor]],
        plan: TilePlan,
    ) -> list[Moments] | None:
        """Step 3c, ``method="attention"`` in tiles: the whole image's moments of each style's
        local means, which every tile's targets are centred and scaled by (one tile computes
        them from its own local means: ``None``)."""
        if options.method != "attention" or plan.is_single:
            return None
        taps = [tap for tap in self.decoder_taps if tap in options.attention_taps]
        return local_mean_moments_by_rows(
            content_features[ADAIN_TAP], statistics, taps, options.attention_temperature, content_statistics[ADAIN_TAP]
        )

    def decode(self, features: dict[str, Tensor]) -> Tensor:
        """Step 6: features at the decoder's taps -> RGB (unclamped, padded size; bf16 in bf16 precision)."""
        return self.inference_decoder(*[features[tap] for tap in self.decoder_taps])

    def optimize(
        self, start: Tensor, target: Tensor, statistics: list[StyleStatistics], options: StylizeOptions, iterations: int
    ) -> Tensor:
        """Step 6 by optimization: L-BFGS on the pixels, from ``start``, towards ``target`` (the
        decoder's input) and the styles' statistics at every tap (mixed by the style weights).

        The style term is scaled by ``alpha`` so that alpha trades content for style here as it
        does for the decoder.
        """
        from adain.pipeline.optimize import AdainObjective, ObjectiveWeights, optimize_image

        weights = list(options.style_weights) if options.style_weights is not None else [1.0] * len(statistics)
        means, stds = {}, {}
        for tap in TAPS:
            if any(tap not in s.means for s in statistics):
                raise UsageError(f"optimization needs style statistics at {', '.join(TAPS)}; a style lacks {tap}")
            means[tap], stds[tap] = mix_statistics(
                torch.cat([s.at(tap)[0] for s in statistics]), torch.cat([s.at(tap)[1] for s in statistics]), weights
            )
        default = ObjectiveWeights()
        objective = AdainObjective(
            self.encoder,
            target,
            means,
            stds,
            ObjectiveWeights(default.content_weight, default.style_weight * options.alpha),
        )
        return optimize_image(objective, start, iterations, progress=options.progress)

    def postprocess(self, decoded: Tensor, content: PreparedContent, options: StylizeOptions) -> Tensor:
        """Step 7: crop the padding, clamp, preserve colour, guided filter; returns RGB in [0, 1]."""
        rgb = crop_to(decoded, content.size).float().clamp(0.0, 1.0)
        # whole-image operations, in strips of rows on large images (exact: each strip carries
        # the rows of context the filter reads) so that their temporaries stay small
        rows = max(1, STRIP_PIXELS // rgb.shape[-1])
        if options.preserve_color == "luminance":
            rgb = apply_in_strips(transfer_luminance, [rgb, content.rgb], halo=0, max_rows=rows)
        if options.guided_filter_radius is not None:
            radius, eps = options.guided_filter_radius, options.guided_filter_eps
            rgb = apply_in_strips(
                lambda guide, source: guided_filter(guide, source, radius, eps).clamp(0.0, 1.0),
                [content.rgb, rgb],
                halo=2 * radius,
                max_rows=rows,
            )
        return rgb

    @torch.inference_mode()
    def __call__(
        self,
        content: ImageInput | Sequence[ImageInput],
        styles: StyleInput | Sequence[StyleInput],
        options: StylizeOptions | None = None,
        output_type: Literal["pil", "np", "pt"] = "pil",
        content_statistics_filter: ContentStatisticsFilter | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        **option_overrides: Any,
    ) -> StylizeResult | StylizeResults:
        """Stylize ``content`` with ``styles``.

        Args:
            content: the content image; or a list (or tuple) of them, which returns a
                :class:`StylizeResults` (``.images``, one per content, in order), the styles
                encoded once and same-sized contents run through the networks together.
            styles: one style or a list (images or :class:`StyleStatistics`).
            options: :class:`StylizeOptions`; keyword arguments override single fields
                (``pipeline(content, style, alpha=0.5)``).
            output_type: ``"pil"``, ``"np"`` or ``"pt"`` (see :class:`StylizeResult`).
            content_statistics_filter: called with the whole image's content statistics,
                ``{tap: (mean, std)}`` at every tap the decoder takes (step 3b), and returning
                those AdaIN normalises with; video smooths them over frames with it so that the
                normalisation does not flicker. ``None``: as measured. One content only.
            batch_size: a list's contents per pass through the networks, at most (within
                ``max_memory_mb`` too, when set).

        Raises:
            UsageError: inconsistent options.
            InputImageError: an image given as a path cannot be read.
        """
        options = replace(options or StylizeOptions(), **option_overrides)
        if output_type not in OUTPUT_TYPES:
            raise UsageError(f"output_type must be one of {', '.join(OUTPUT_TYPES)}. Got {output_type!r}")
        if isinstance(content, (list, tuple)):
            if content_statistics_filter is not None:
                raise UsageError("content_statistics_filter takes one content at a time (a video's frames)")
            return self.stylize_many(list(content), styles, options, output_type, batch_size)
        # 1. check inputs
        style_list = self.check_inputs(styles, options)
        # 2. preprocess: content size and padding, style statistics, coarse levels (multi-scale), tiles
        prepared = self.prepare_content(content, options)
        statistics = self.prepare_styles(style_list, prepared.rgb, options)
        return self.stylize_prepared(prepared, statistics, options, output_type, content_statistics_filter)

    def stylize_prepared(
        self,
        prepared: PreparedContent,
        statistics: list[StyleStatistics],
        options: StylizeOptions,
        output_type: str,
        content_statistics_filter: ContentStatisticsFilter | None = None,
    ) -> StylizeResult:
        """Steps 2d-7 for one prepared content (:meth:`__call__` after steps 1-2b)."""
        level, level_options = self.coarse_to_fine(prepared, statistics, options)
        plan = self.plan_tiles(level, level_options)
        # 3. mask regions at every decoder tap; encode content (window by window); the whole image's content statistics
        region_weights = self.prepare_region_weights(level_options, level, len(statistics))
        content_features, streamed_statistics = self.encode_content_tiles(level, plan, region_weights)
        content_statistics = {**self.content_statistics(content_features, region_weights), **streamed_statistics}
        if content_statistics_filter is not None:
            content_statistics = content_statistics_filter(content_statistics)
        # 4 + 5. AdaIN (single, mixed or masked) and alpha blend: in decode_tiles, per tile; whole for optimization
        if options.method == "optimize" or options.refine:
            target = self.transfer(
                content_features, statistics, level_options, region_weights, content_statistics, taps=(ADAIN_TAP,)
            )[ADAIN_TAP]
        # 6. decode (tile by tile; or optimize the pixels for the same objective; refine the decoder's output)
        if options.method == "optimize":
            decoded = self.optimize(level.padded, target, statistics, level_options, options.iterations)
        else:
            decoded = self.decode_tiles(
                content_features,
                statistics,
                level_options,
                region_weights,
                content_statistics,
                plan,
                level,
                self.attention_moments(content_features, statistics, level_options, content_statistics, plan),
            )
            if options.refine:
                decoded = self.optimize(decoded.float().clamp(0, 1), target, statistics, level_options, options.refine)
        del content_features, region_weights, level
        # 7. postprocess (colour and guided filter against the original content)
        return self.finish(decoded, prepared, options, output_type)

    def finish(
        self, decoded: Tensor, prepared: PreparedContent, options: StylizeOptions, output_type: str
    ) -> StylizeResult:
        """Step 7 and the result: postprocess, then the output type asked for."""
        rgb = self.postprocess(decoded, prepared, options)
        return StylizeResult(image=to_output(rgb, prepared.alpha, output_type), rgb=rgb, transparency=prepared.alpha)

    def stylize_many(
        self,
        contents: list[ImageInput],
        styles: StyleInput | Sequence[StyleInput],
        options: StylizeOptions,
        output_type: str,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> StylizeResults:
        """A list of contents with the same styles and options: each result as :meth:`__call__`
        gives it (to float rounding), the styles encoded once.

        Contents that come out the same size go through the encoder and decoder together, in
        batches of up to ``batch_size`` (fewer where ``max_memory_mb`` would not hold the
        batch): one pass over the weights for several images is faster on a CPU and far
        faster on a GPU. What depends on each image's own pass runs one by one: tiled images,
        masks, optimization and refinement, multi-scale, attention, and "match" colour
        preservation (the styles are recoloured to each content).
        """
        if not is_int(batch_size, 1):
            raise UsageError(f"batch_size must be an integer >= 1. Got {batch_size!r}")
        # 1. check inputs
        style_list = self.check_inputs(styles, options)
        if not contents:
            return StylizeResults([])
        # 2. preprocess every content; the styles once (per content for "match": it recolours them)
        prepared = [self.prepare_content(content, options) for content in contents]
        per_content_styles = options.preserve_color == "match"
        shared = None if per_content_styles else self.prepare_styles(style_list, prepared[0].rgb, options)
        batchable = (
            options.method == "decoder" and not options.refine and options.mask is None and not per_content_styles
        )
        results: list[StylizeResult | None] = [None] * len(prepared)
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, content in enumerate(prepared):
            single = self.plan_tiles(content, options).is_single
            if batchable and single and not self.has_coarse_level(content, options):
                groups.setdefault(tuple(content.padded.shape), []).append(index)
                continue
            statistics = shared if shared is not None else self.prepare_styles(style_list, content.rgb, options)
            results[index] = self.stylize_prepared(content, statistics, options, output_type)
        for shape, indices in groups.items():
            per_pass = batch_size
            if options.max_memory_mb is not None:
                need = estimate_memory_mb(shape[-2], shape[-1], max(shape[-2:]), self.activation_bytes_per_pixel)
                per_pass = max(1, min(batch_size, int(options.max_memory_mb // max(need, 1e-9))))
            for start in range(0, len(indices), per_pass):
                chunk = indices[start : start + per_pass]
                # 3-6 for the chunk at once: encode, whole-image statistics (per sample), AdaIN, decode
                features = self.encode_content(torch.cat([prepared[i].padded for i in chunk]))
                targets = self.transfer(features, shared, options, None, self.content_statistics(features))
                del features
                decoded = self.decode(targets)
                del targets
                # 7. postprocess each
                for row, index in enumerate(chunk):
                    results[index] = self.finish(decoded[row : row + 1], prepared[index], options, output_type)
        return StylizeResults([result for result in results if result is not None])
