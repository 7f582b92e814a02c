"""Multi-scale stylization (``StylizeOptions.multiscale``): coarse to fine, checked step by step
against single-scale passes, with the coarsest size lowered so that test images have levels."""

from __future__ import annotations

import pytest
import torch

from adain.errors import UsageError
from adain.image.sizing import resize_image
from adain.ops.color import transfer_luminance
from adain.ops.filters import guided_filter
from adain.pipeline import StylizationPipeline, StylizeOptions
from adain.pipeline import stylize as stylize_module
from adain.pipeline.options import MULTISCALE_REFINE_STRENGTH


def smooth(height: int, width: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 4, 5, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False).clamp(
        0, 1
    )


def test_no_coarser_level_below_twice_the_coarsest_side(pipeline: StylizationPipeline) -> None:
    content, style = smooth(40, 56, 0), smooth(32, 32, 1)
    single = pipeline(content, style, StylizeOptions(alpha=0.7), output_type="pt").rgb
    multiscale = pipeline(content, style, StylizeOptions(alpha=0.7, multiscale=True), output_type="pt").rgb
    assert torch.equal(single, multiscale)


def test_coarse_to_fine_is_a_pyramid_of_single_scale_passes(
    pipeline: StylizationPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stylize_module, "MULTISCALE_COARSEST_SIDE", 16)
    content = smooth(64, 80, 0)
    statistics = pipeline.style_statistics(smooth(32, 32, 1))
    alpha, refine_alpha = 0.8, MULTISCALE_REFINE_STRENGTH * 0.8
    encoded_sizes: list[tuple[int, int]] = []
    handle = pipeline.encoder.register_forward_pre_hook(
        lambda module, args: encoded_sizes.append(tuple(args[0].shape[-2:]))
    )
    try:
        result = pipeline(content, statistics, StylizeOptions(alpha=alpha, multiscale=True), output_type="pt").rgb
    finally:
        handle.remove()
    assert encoded_sizes == [(16, 24), (32, 40), (64, 80)]  # 16x20 padded to a multiple of 8; coarsest first

    def single(image: torch.Tensor, strength: float) -> torch.Tensor:
        return pipeline(image, statistics, StylizeOptions(alpha=strength), output_type="pt").rgb

    def next_level(coarse: torch.Tensor, level_content: torch.Tensor) -> torch.Tensor:
        size = tuple(level_content.shape[-2:])
        detail = level_content - resize_image(resize_image(level_content, tuple(coarse.shape[-2:])), size)
        return (resize_image(coarse, size) + detail).clamp(0, 1)

    content_32 = resize_image(content, (32, 40)).clamp(0, 1)
    level_16 = single(resize_image(content_32, (16, 20)).clamp(0, 1), alpha)
    level_32 = single(next_level(level_16, content_32), refine_alpha)
    expected = single(next_level(level_32, content), refine_alpha)
    assert torch.allclose(result, expected, atol=1e-6)
    assert not torch.allclose(result, single(content, alpha), atol=1e-3)


def test_colour_and_guided_filter_apply_once_against_the_original_content(
    pipeline: StylizationPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stylize_module, "MULTISCALE_COARSEST_SIDE", 16)
    content, style = smooth(48, 64, 0), smooth(32, 32, 1)
    plain = pipeline(content, style, StylizeOptions(multiscale=True), output_type="pt").rgb
    options = StylizeOptions(multiscale=True, preserve_color="luminance", guided_filter_radius=2)
    kept = pipeline(content, style, options, output_type="pt").rgb
    expected = guided_filter(content, transfer_luminance(plain, content), 2, options.guided_filter_eps).clamp(0, 1)
    assert torch.allclose(kept, expected, atol=1e-6)


def test_multiscale_with_a_mask_and_tiles(pipeline: StylizationPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stylize_module, "MULTISCALE_COARSEST_SIDE", 64)
    content, styles = smooth(184, 208, 0), [smooth(32, 32, 1), smooth(32, 32, 2)]
    mask = torch.linspace(0, 1, 208).expand(184, 208).clone()
    options = StylizeOptions(multiscale=True, mask=mask, mask_alphas=[1.0, 0.6])
    untiled = pipeline(content, styles, options, output_type="pt").rgb
    tiled_options = StylizeOptions(multiscale=True, mask=mask, mask_alphas=[1.0, 0.6], tile_size=200)  # 2x2 tiles
    tiled = pipeline(content, styles, tiled_options, output_type="pt").rgb
    assert (tiled - untiled).abs().max() < 1e-4


def test_multiscale_options_are_checked() -> None:
    with pytest.raises(UsageError, match="does not apply to --method optimize"):
        StylizeOptions(multiscale=True, method="optimize").check(1)
    with pytest.raises(UsageError, match="multiscale must be True or False"):
        StylizeOptions(multiscale="yes").check(1)  # type: ignore[arg-type]
