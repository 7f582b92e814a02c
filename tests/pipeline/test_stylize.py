"""StylizationPipeline: sizes, alpha, style mixing, masks, statistics, colour, outputs.

The decoder is random (seeded), so assertions look at what the pipeline feeds it (captured
with a forward pre-hook) or at exact relations between two runs, not at image quality.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adain.errors import BankError, InputImageError, ShapeError, UsageError
from adain.image.sizing import pad_to_multiple
from adain.ops.color import match_color_statistics, rgb_to_yuv, transfer_luminance
from adain.ops.statistics import channel_mean_std
from adain.pipeline import StylizationPipeline, StylizeOptions
from adain.styles import StyleStatistics


@contextmanager
def decoder_inputs(pipeline: StylizationPipeline) -> Iterator[list[torch.Tensor]]:
    """Collect the features the decoder receives (the blended AdaIN target)."""
    captured: list[torch.Tensor] = []
    handle = pipeline.inference_decoder.register_forward_pre_hook(lambda module, args: captured.append(args[0].clone()))
    try:
        yield captured
    finally:
        handle.remove()


def flat(color: tuple[float, float, float], size: int = 32) -> torch.Tensor:
    return torch.tensor(color).view(1, 3, 1, 1).expand(1, 3, size, size).contiguous()


def noise(rng: torch.Generator, height: int, width: int) -> torch.Tensor:
    return torch.rand(1, 3, height, width, generator=rng)


# -- sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options,expected_wh",
    [
        (StylizeOptions(), (53, 37)),  # odd size kept exactly
        (StylizeOptions(size=20), (29, 20)),
        (StylizeOptions(max_size=30), (30, 21)),
        (StylizeOptions(size=40, max_size=50), (50, 35)),
    ],
)
def test_output_has_exactly_the_requested_size(
    pipeline: StylizationPipeline, rng: torch.Generator, options: StylizeOptions, expected_wh: tuple[int, int]
) -> None:
    content = noise(rng, 37, 53)
    result = pipeline(content, noise(rng, 32, 32), options)
    assert result.image.size == expected_wh
    assert result.size == expected_wh
    assert result.rgb.shape == (1, 3, expected_wh[1], expected_wh[0])
    assert 0.0 <= result.rgb.min().item() and result.rgb.max().item() <= 1.0


def test_output_types(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content, style = noise(rng, 16, 24), noise(rng, 16, 16)
    pil = pipeline(content, style, output_type="pil").image
    array = pipeline(content, style, output_type="np").image
    tensor = pipeline(content, style, output_type="pt").image
    assert isinstance(pil, Image.Image) and pil.mode == "RGB" and pil.size == (24, 16)
    assert isinstance(array, np.ndarray) and array.shape == (16, 24, 3) and array.dtype == np.float32
    assert isinstance(tensor, torch.Tensor) and tensor.shape == (1, 3, 16, 24)
    assert np.allclose(array, tensor[0].permute(1, 2, 0).numpy())
    with pytest.raises(UsageError, match="output_type"):
        pipeline(content, style, output_type="jpeg")


def test_content_and_style_as_pil_and_path(pipeline: StylizationPipeline, rng: torch.Generator, tmp_path: Path) -> None:
    content = noise(rng, 16, 16)
    style_path = tmp_path / "style.png"
    Image.fromarray((noise(rng, 24, 24)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(style_path)
    from_path = pipeline(content, style_path, output_type="pt").rgb
    from_pil = pipeline(content, Image.open(style_path), output_type="pt").rgb
    assert torch.allclose(from_path, from_pil, atol=1e-6)
    with pytest.raises(InputImageError, match="missing.png"):
        pipeline(content, tmp_path / "missing.png")


def test_rgba_content_keeps_its_alpha(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content = torch.cat([noise(rng, 20, 28), torch.linspace(0, 1, 28).expand(1, 1, 20, 28)], dim=1)
    result = pipeline(content, noise(rng, 16, 16), size=10)
    assert result.image.mode == "RGBA" and result.image.size == (14, 10)
    assert result.transparency is not None and result.transparency.shape == (1, 1, 10, 14)
    assert result.transparency[0, 0, 0, 0].item() < 0.1 and result.transparency[0, 0, 0, -1].item() > 0.9
    with pytest.warns(DeprecationWarning, match="use StylizeResult.transparency"):
        assert result.alpha is result.transparency
    assert pipeline(content, noise(rng, 16, 16), output_type="pt").image.shape == (1, 4, 20, 28)


# -- AdaIN, alpha, mixing ----------------------------------------------------------------------


def test_alpha_zero_feeds_the_decoder_the_content_features(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content = noise(rng, 37, 53)
    with decoder_inputs(pipeline) as captured:
        pipeline(content, flat((0.9, 0.1, 0.1)), alpha=0.0)
    padded, _ = pad_to_multiple(content)
    expected = pipeline.encoder(padded)["relu4_1"]
    assert captured[0].shape == expected.shape == (1, 512, 5, 7)
    assert torch.allclose(captured[0], expected, atol=1e-6)


def test_alpha_one_feeds_the_decoder_the_style_statistics(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content, style = noise(rng, 32, 32), noise(rng, 32, 32) * 0.5
    with decoder_inputs(pipeline) as captured:
        pipeline(content, style)
    style_mean, style_std = channel_mean_std(pipeline.encoder(style)["relu4_1"])
    mean, std = channel_mean_std(captured[0])
    assert torch.allclose(mean, style_mean, atol=1e-4)
    varied = channel_mean_std(pipeline.encoder(content)["relu4_1"])[1] > 0.1  # eps matters on nearly flat channels
    assert varied.sum() > 100
    assert torch.allclose(std[varied], style_std[varied], rtol=1e-2, atol=5e-3)  # eps in both stds


def test_content_statistics_filter_sets_the_normalisation(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    """The filter receives the content's own statistics and AdaIN normalises with what it returns."""
    content, other, style = noise(rng, 32, 32), noise(rng, 32, 32) * 0.3 + 0.5, noise(rng, 32, 32)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    other_statistics = channel_mean_std(pipeline.encoder(other)["relu4_1"])

    def use_other(
        statistics: dict[str, tuple[torch.Tensor, torch.Tensor]],
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        assert set(statistics) == {"relu4_1"}  # the paper's decoder takes relu4_1 only
        seen.append(statistics["relu4_1"])
        return {"relu4_1": other_statistics}

    with decoder_inputs(pipeline) as captured:
        pipeline(content, style, content_statistics_filter=use_other)
        pipeline(content, style)
    own_mean, own_std = channel_mean_std(pipeline.encoder(content)["relu4_1"])
    assert torch.allclose(seen[0][0], own_mean, atol=1e-5) and torch.allclose(seen[0][1], own_std, atol=1e-5)
    style_mean, style_std = channel_mean_std(pipeline.encoder(style)["relu4_1"])
    features = pipeline.encoder(content)["relu4_1"]
    expected = (features - other_statistics[0]) / other_statistics[1] * style_std + style_mean
    assert torch.allclose(captured[0], expected, atol=1e-4)
    assert not torch.allclose(captured[0], captured[1], atol=1e-2)


def test_alpha_blends_linearly_in_feature_space(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content, style = noise(rng, 24, 24), flat((0.1, 0.8, 0.3))
    with decoder_inputs(pipeline) as captured:
        for alpha in (0.0, 0.3, 1.0):
            pipeline(content, style, alpha=alpha)
    zero, middle, one = captured
    assert torch.allclose(middle, 0.7 * zero + 0.3 * one, atol=1e-4)


def test_style_weights_one_zero_equal_the_first_style_alone(
    pipeline: StylizationPipeline, rng: torch.Generator
) -> None:
    content, style_a, style_b = noise(rng, 24, 32), noise(rng, 32, 32), flat((0.0, 0.0, 1.0))
    with decoder_inputs(pipeline) as captured:
        alone = pipeline(content, style_a, output_type="pt").rgb
        mixed = pipeline(content, [style_a, style_b], style_weights=[1, 0], output_type="pt").rgb
        other = pipeline(content, [style_a, style_b], style_weights=[0, 1], output_type="pt").rgb
    assert torch.allclose(captured[0], captured[1], atol=1e-5)
    assert torch.allclose(alone, mixed, atol=1e-5)
    assert not torch.allclose(alone, other, atol=1e-2)


def test_style_weights_mix_statistics(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content, style_a, style_b = noise(rng, 24, 24), noise(rng, 32, 32), flat((1.0, 0.5, 0.0))
    a, b = pipeline.style_statistics(style_a), pipeline.style_statistics(style_b)
    with decoder_inputs(pipeline) as captured:
        pipeline(content, [style_a, style_b], style_weights=[3, 1])
    mean, _ = channel_mean_std(captured[0])
    expected = 0.75 * a.at("relu4_1")[0] + 0.25 * b.at("relu4_1")[0]
    assert torch.allclose(mean, expected, atol=1e-4)


def test_equal_weights_by_default(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content, style_a, style_b = noise(rng, 16, 16), noise(rng, 16, 16), flat((0.2, 0.2, 0.9), 16)
    default = pipeline(content, [style_a, style_b], output_type="pt").rgb
    halves = pipeline(content, [style_a, style_b], style_weights=[0.5, 0.5], output_type="pt").rgb
    assert torch.allclose(default, halves, atol=1e-6)


# -- masks ------------------------------------------------------------------------------------


def test_mask_routes_each_style_to_its_region(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content = noise(rng, 64, 64)
    red, blue = flat((1.0, 0.0, 0.0)), flat((0.0, 0.0, 1.0))
    mask = torch.zeros(64, 64)
    mask[:, :32] = 1.0  # white (left) -> style 1 (red), black (right) -> style 2 (blue)
    with decoder_inputs(pipeline) as captured:
        pipeline(content, [red, blue], mask=mask)
    target = captured[0]  # (1, 512, 8, 8): columns 0-3 left region, 4-7 right region
    red_mean, red_std = pipeline.style_statistics(red).at()
    blue_mean, blue_std = pipeline.style_statistics(blue).at()
    assert (red_mean - blue_mean).abs().max() > 0.5, "the two styles must differ for the test to mean anything"
    content_features = pipeline.encoder(content)["relu4_1"]
    for columns, (mean, std), (other_mean, _) in (
        (slice(0, 4), (red_mean, red_std), (blue_mean, blue_std)),
        (slice(4, 8), (blue_mean, blue_std), (red_mean, red_std)),
    ):
        region_mean, region_std = channel_mean_std(target[..., columns])
        assert torch.allclose(region_mean, mean, atol=1e-4)
        assert (region_mean - other_mean).abs().max() > 0.5
        varied = channel_mean_std(content_features[..., columns])[1] > 0.1  # eps matters on nearly flat channels
        assert torch.allclose(region_std[varied], std[varied], rtol=1e-2, atol=5e-3)


def test_mask_alphas_per_region(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content = noise(rng, 32, 32)
    mask = torch.zeros(32, 32)
    mask[:, :16] = 1.0
    with decoder_inputs(pipeline) as captured:
        pipeline(content, [flat((1.0, 0.0, 0.0)), flat((0.0, 0.0, 1.0))], mask=mask, mask_alphas=[1.0, 0.0])
    content_features = pipeline.encoder(content)["relu4_1"]
    assert torch.allclose(captured[0][..., 2:], content_features[..., 2:], atol=1e-6)  # black region: alpha 0
    assert not torch.allclose(captured[0][..., :2], content_features[..., :2], atol=1e-2)


def test_rgb_mask_black_keeps_content(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content = noise(rng, 32, 32)
    mask = torch.zeros(3, 32, 32)
    mask[0, :, :16] = 1.0  # red left -> style 1; black right -> no style
    with decoder_inputs(pipeline) as captured:
        pipeline(content, [flat((0.0, 1.0, 0.0))], mask=mask)
    content_features = pipeline.encoder(content)["relu4_1"]
    assert torch.allclose(captured[0][..., 2:], content_features[..., 2:], atol=1e-6)


def test_mask_image_file_and_grayscale_detection(
    pipeline: StylizationPipeline, rng: torch.Generator, tmp_path: Path
) -> None:
    array = np.zeros((32, 32, 3), np.uint8)
    array[:, :16] = 255  # saved as RGB but gray: two regions
    Image.fromarray(array).save(tmp_path / "mask.png")
    content = noise(rng, 32, 32)
    styles = [flat((1.0, 0.0, 0.0)), flat((0.0, 0.0, 1.0))]
    from_file = pipeline(content, styles, mask=tmp_path / "mask.png", output_type="pt").rgb
    tensor_mask = torch.zeros(32, 32)
    tensor_mask[:, :16] = 1.0
    from_tensor = pipeline(content, styles, mask=tensor_mask, output_type="pt").rgb
    assert torch.allclose(from_file, from_tensor, atol=1e-6)


# -- statistics -------------------------------------------------------------------------------


def test_style_statistics_equal_the_style_image(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content, style = noise(rng, 24, 40), noise(rng, 32, 32)
    statistics = pipeline.style_statistics(style)
    assert statistics.taps == ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    assert statistics.preset == "vgg16-hed"
    from_image = pipeline(content, style, output_type="pt").rgb
    from_statistics = pipeline(content, statistics, output_type="pt").rgb
    assert torch.allclose(from_image, from_statistics, atol=1e-5)


def test_style_statistics_round_trip_through_stored_tensors(
    pipeline: StylizationPipeline, rng: torch.Generator
) -> None:
    content = noise(rng, 16, 16)
    statistics = pipeline.style_statistics(noise(rng, 16, 16))
    tensors = statistics.to_tensors()
    assert tensors["relu4_1.mean"].shape == (512,) and tensors["relu1_1.std"].shape == (64,)
    rebuilt = StyleStatistics.from_tensors(tensors, preset="vgg16-hed")
    assert torch.equal(rebuilt.at("relu2_1")[1], statistics.at("relu2_1")[1])
    only_adain_tap = StyleStatistics({"relu4_1": tensors["relu4_1.mean"]}, {"relu4_1": tensors["relu4_1.std"]})
    assert torch.allclose(
        pipeline(content, only_adain_tap, output_type="pt").rgb, pipeline(content, statistics, output_type="pt").rgb
    )


def test_style_statistics_validation() -> None:
    with pytest.raises(ShapeError, match="relu4_1"):
        StyleStatistics({"relu1_1": torch.zeros(64)}, {"relu1_1": torch.ones(64)})
    with pytest.raises(ShapeError, match=r"\(2, 512\)"):
        StyleStatistics({"relu4_1": torch.zeros(2, 512)}, {"relu4_1": torch.ones(2, 512)})
    with pytest.raises(ShapeError, match="relu9_9"):
        StyleStatistics.from_tensors(
            {
                "relu4_1.mean": torch.zeros(3),
                "relu4_1.std": torch.ones(3),
                "relu9_9.mean": torch.zeros(3),
                "relu9_9.std": torch.ones(3),
            }
        )
    with pytest.raises(ShapeError, match="key"):
        StyleStatistics.from_tensors({"relu4_1.mean": torch.zeros(3), "relu4_1.variance": torch.ones(3)})


def test_statistics_of_another_preset_are_refused(pipeline: StylizationPipeline) -> None:
    foreign = StyleStatistics({"relu4_1": torch.zeros(512)}, {"relu4_1": torch.ones(512)}, preset="vgg19")
    with pytest.raises(UsageError, match="vgg19"):
        pipeline(torch.rand(1, 3, 16, 16), foreign)


def test_a_distilled_preset_encodes_new_styles_with_its_teacher(fast_home: Path, rng: torch.Generator) -> None:
    """``fast``'s new styles go through vgg16-hed's encoder (what its decoder was distilled on,
    and what a bank holds), its contents through the student: the statistics are the teacher's
    exactly, far from the random student's, and a style image stylizes as its statistics do."""
    from adain.styles.statistics import compute_style_statistics
    from adain.weights import load_encoder

    fast = StylizationPipeline.from_preset("fast", backend="torch", precision="fp32")
    assert fast.style_encoder is not None and fast.inference_style_encoder is not fast.inference_encoder
    content, style = noise(rng, 24, 40), noise(rng, 48, 48)
    statistics = fast.style_statistics(style)
    teacher = compute_style_statistics(load_encoder("vgg16-hed"), style, "fast")[0]
    student = compute_style_statistics(fast.encoder, style, "fast")[0]
    for tap in statistics.taps:
        assert torch.allclose(statistics.at(tap)[1], teacher.at(tap)[1], rtol=1e-5, atol=1e-6)
        assert not torch.allclose(statistics.at(tap)[1], student.at(tap)[1], rtol=0.05)
    from_image = fast(content, style, output_type="pt").rgb
    assert torch.allclose(from_image, fast(content, statistics, output_type="pt").rgb, atol=1e-5)
    attention = fast.prepare_styles([style], content, StylizeOptions(method="attention"))[0]
    features = load_encoder("vgg16-hed")(style)["relu4_1"]
    assert torch.allclose(
        attention.at("relu4_1")[0].flatten(), features.mean(dim=(2, 3)).flatten(), rtol=1e-4, atol=1e-5
    )


def test_a_teachers_pipeline_encodes_styles_with_its_own_encoder(pipeline: StylizationPipeline) -> None:
    assert pipeline.style_encoder is None and pipeline.inference_style_encoder is pipeline.inference_encoder
    assert StylizationPipeline.from_preset("vgg16-hed", backend="torch", precision="fp32").style_encoder is None


def test_tiny_style_is_refused(pipeline: StylizationPipeline) -> None:
    with pytest.raises(InputImageError, match="5x4"):
        pipeline.style_statistics(torch.rand(1, 3, 4, 5))


# -- colour and filtering ---------------------------------------------------------------------


def test_preserve_color_luminance_keeps_the_content_chroma(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content, style = 0.3 + 0.4 * noise(rng, 24, 24), flat((0.9, 0.1, 0.1))
    plain = pipeline(content, style, output_type="pt").rgb
    kept = pipeline(content, style, preserve_color="luminance", output_type="pt").rgb
    assert torch.allclose(kept, transfer_luminance(plain, content), atol=1e-6)
    chroma_before = (rgb_to_yuv(plain) - rgb_to_yuv(content))[:, 1:].abs().mean()
    chroma_after = (rgb_to_yuv(kept) - rgb_to_yuv(content))[:, 1:].abs().mean()
    assert chroma_after < chroma_before / 2


def test_preserve_color_match_recolours_the_style_before_its_statistics(
    pipeline: StylizationPipeline, rng: torch.Generator
) -> None:
    content, style = noise(rng, 24, 24) * torch.tensor([1.0, 0.2, 0.2]).view(1, 3, 1, 1), noise(rng, 32, 32)
    options = StylizeOptions(preserve_color="match")
    (statistics,) = pipeline.prepare_styles([style], content, options)
    expected = pipeline.style_statistics(match_color_statistics(style, content))
    assert torch.allclose(statistics.at()[0], expected.at()[0], atol=1e-5)
    assert not torch.allclose(statistics.at()[0], pipeline.style_statistics(style).at()[0], atol=1e-3)
    with decoder_inputs(pipeline) as captured:
        pipeline(content, style, options)
    assert torch.allclose(channel_mean_std(captured[0])[0], expected.at()[0], atol=1e-4)
    with pytest.raises(UsageError, match="match"):
        pipeline(content, pipeline.style_statistics(style), options)


def test_guided_filter_smooths(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    content, style = torch.full((1, 3, 32, 32), 0.5), noise(rng, 32, 32)
    plain = pipeline(content, style, output_type="pt").rgb
    filtered = pipeline(content, style, guided_filter_radius=4, output_type="pt").rgb
    assert filtered.shape == plain.shape

    def total_variation(x):
        return (x[..., 1:, :] - x[..., :-1, :]).abs().mean()

    assert total_variation(filtered) < total_variation(plain)


# -- option checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "styles,overrides,message",
    [
        (1, {"alpha": 1.5}, "alpha"),
        (1, {"alpha": -0.1}, "alpha"),
        (2, {"style_weights": [1.0]}, "1 style weights for 2 styles"),
        (2, {"style_weights": [1.0, -1.0]}, "non-negative"),
        (2, {"style_weights": [0.0, 0.0]}, "not all zero"),
        (1, {"preserve_color": "sepia"}, "sepia"),
        (1, {"size": -3}, "-3"),
        (1, {"mask_alphas": [1.0]}, "need a mask"),
        (2, {"mask": torch.zeros(8, 8), "mask_alphas": [1.0]}, "1 mask alphas for 2 styles"),
        (2, {"mask": torch.zeros(8, 8), "mask_alphas": [1.0, 2.0]}, "mask alpha 2"),
        (2, {"mask": torch.zeros(8, 8), "style_weights": [1, 1]}, "one or the other"),
        (3, {"mask": torch.zeros(8, 8)}, "grayscale mask provides 2 regions"),
        (1, {"guided_filter_radius": 0}, "radius"),
        (0, {}, "at least one style"),
    ],
)
def test_inconsistent_options_are_usage_errors(
    pipeline: StylizationPipeline, styles: int, overrides: dict, message: str
) -> None:
    style_list = [torch.rand(1, 3, 16, 16) for _ in range(styles)]
    with pytest.raises(UsageError, match=message):
        pipeline(torch.rand(1, 3, 16, 16), style_list, **overrides)


def test_bad_tensors_are_refused(pipeline: StylizationPipeline) -> None:
    with pytest.raises(ShapeError, match="content"):
        pipeline(torch.rand(2, 3, 16, 16), torch.rand(1, 3, 16, 16))
    with pytest.raises(UsageError, match="floating"):
        pipeline(torch.zeros(1, 3, 16, 16, dtype=torch.uint8), torch.rand(1, 3, 16, 16))
    with pytest.raises(UsageError, match="NaN"):
        pipeline(torch.full((1, 3, 16, 16), float("nan")), torch.rand(1, 3, 16, 16))


def test_from_preset_loads_once_and_checks_its_arguments(decoder_file: Path, tmp_path: Path) -> None:
    pipeline = StylizationPipeline.from_preset("vgg16-hed", decoder_path=decoder_file)
    assert pipeline.preset == "vgg16-hed" and pipeline.device == torch.device("cpu")
    assert not pipeline.encoder.training and not pipeline.decoder.training
    from adain.errors import MissingWeightsError, PresetError

    with pytest.raises(PresetError, match="nope"):
        StylizationPipeline.from_preset("nope", decoder_path=decoder_file)
    with pytest.raises(MissingWeightsError, match="absent.safetensors"):
        StylizationPipeline.from_preset("vgg16-hed", decoder_path=tmp_path / "absent.safetensors")
    with pytest.raises(UsageError, match="device"):
        StylizationPipeline.from_preset("vgg16-hed", decoder_path=decoder_file, device="toaster")


def test_compute_style_statistics_matches_the_pipeline(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    from adain.styles.statistics import compute_style_statistics

    style = noise(rng, 40, 24)
    statistics, area = compute_style_statistics(pipeline.encoder, style, "vgg16-hed", size=16)
    relu4_1 = pipeline.encoder(torch.nn.functional.interpolate(style, size=(27, 16)))["relu4_1"]  # 40x24 -> 27x16
    assert area == relu4_1.shape[2] * relu4_1.shape[3] > 1
    expected = pipeline.style_statistics(style, size=16)
    for tap in statistics.taps:
        assert torch.equal(statistics.at(tap)[0], expected.at(tap)[0])


def test_bank_styles_by_name(pipeline: StylizationPipeline, rng: torch.Generator, monkeypatch, tmp_path: Path) -> None:
    """``"bank:NAME"`` is a style of the preset's banks (the user's first), as on the command line."""
    from adain.styles import StyleBank, resolve_style
    from adain.styles.bank import BankEntry

    monkeypatch.setenv("ADAIN_HOME", str(tmp_path))
    content = torch.rand(1, 3, 32, 40, generator=rng)
    shipped = resolve_style("bank:antimonocromatismo", "vgg16-hed")
    by_name = pipeline(content, "bank:antimonocromatismo", output_type="pt").rgb
    torch.testing.assert_close(by_name, pipeline(content, shipped, output_type="pt").rgb)
    with pytest.raises(BankError, match="no style 'no-such-style'"):
        pipeline(content, "bank:no-such-style")
    style = torch.rand(1, 3, 48, 48, generator=rng)
    bank = StyleBank("vgg16-hed")  # a user's style under a shipped name overrides it
    bank.add("antimonocromatismo", pipeline.style_statistics(style), BankEntry("antimonocromatismo"))
    bank.save(tmp_path / "bank" / "vgg16-hed")
    overridden = pipeline(content, "bank:antimonocromatismo", output_type="pt").rgb
    torch.testing.assert_close(overridden, pipeline(content, style, output_type="pt").rgb)
    bare = StylizationPipeline(pipeline.encoder, pipeline.decoder)  # no preset: no bank to look in
    with pytest.raises(UsageError, match="without one"):
        bare(content, "bank:antimonocromatismo")


# -- sizes out of bounds and tiny outputs (issue 15) ---------------------------------------------


@pytest.mark.parametrize(
    "size,max_size,expected",
    [(1, 0, (1, 1)), (8, 0, (8, 11)), (15, 0, (15, 20)), (0, 1, (1, 1)), (0, 3, (2, 3)), (16, 0, (16, 21))],
)
def test_tiny_outputs_work(pipeline: StylizationPipeline, size: int, max_size: int, expected: tuple[int, int]) -> None:
    """Below 16 pixels the networks' deepest layers cannot reflect-pad: the image is padded up to it."""
    content = torch.rand(1, 3, 30, 40, generator=torch.Generator().manual_seed(2))
    result = pipeline(content, torch.rand(1, 3, 16, 16), size=size, max_size=max_size, output_type="pt")
    assert tuple(result.rgb.shape[-2:]) == expected
    assert torch.isfinite(result.rgb).all()


def test_thin_images_are_not_tiled(pipeline: StylizationPipeline) -> None:
    content = torch.rand(1, 3, 5, 700, generator=torch.Generator().manual_seed(3))
    result = pipeline(content, torch.rand(1, 3, 16, 16), max_memory_mb=1.0, output_type="pt")
    assert tuple(result.rgb.shape[-2:]) == (5, 700)


def test_size_is_a_cap_unless_upscale_is_asked(pipeline: StylizationPipeline) -> None:
    content, style = torch.rand(1, 3, 24, 32), torch.rand(1, 3, 16, 16)
    assert pipeline(content, style, size=512).size == (32, 24)  # (width, height): kept
    assert pipeline(content, style, size=16).size == (21, 16)  # shrunk
    assert pipeline(content, style, size=48, upscale=True).size == (64, 48)
    with pytest.raises(UsageError, match="upscale must be True or False"):
        pipeline(content, style, size=48, upscale="yes")


def test_out_of_bounds_sizes_are_refused_by_name_before_resizing(pipeline: StylizationPipeline, tmp_path: Path) -> None:
    strip = tmp_path / "strip.png"
    Image.new("RGB", (1, 100)).save(strip)
    with pytest.raises(InputImageError, match=r"strip\.png' is 1x100: --size 512 would enlarge it 512x"):
        pipeline(strip, torch.rand(1, 3, 16, 16), size=512, upscale=True)
    with pytest.raises(InputImageError, match=r"the content image is 100000x2"):
        pipeline(torch.rand(1, 3, 2, 100_000), torch.rand(1, 3, 16, 16), size=512, upscale=True)
    with pytest.raises(InputImageError, match=r"style image '.*strip\.png' is 1x100: --style-size 512"):
        pipeline(torch.rand(1, 3, 16, 16), strip, style_size=512)
    small = tmp_path / "small.png"
    Image.new("RGB", (7, 9)).save(small)
    with pytest.raises(InputImageError, match=r"style image '.*small\.png' is 7x9 pixels; a style must be at least 8"):
        pipeline.style_statistics(small)
    with pytest.raises(InputImageError, match=r"style image '.*strip\.png' .* memory budget of 100 MB"):
        pipeline.style_statistics(strip, size=60, max_memory_mb=100)


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"size": 8001}, "size must be at most 8,000"),
        ({"size": 2**63}, "size must be at most"),
        ({"max_size": 64_000_001}, "max_size must be at most 64,000,000"),
        ({"style_size": 3}, "style_size must be 0 .* at least 8"),
        ({"max_pixels": 10**9 + 1}, "max_pixels must be at most 1,000,000,000"),
        ({"max_pixels": 100, "size": 11}, "size must be at most 10"),
        ({"iterations": 10**6}, "iterations must be an integer from 0 to 100,000"),
    ],
)
def test_sizes_are_range_checked(overrides: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        StylizeOptions(**overrides).check()


def test_result_repr_is_short(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    result = pipeline(torch.rand(1, 3, 24, 40, generator=rng), torch.rand(1, 3, 32, 32, generator=rng))
    assert repr(result) == "StylizeResult(40x24, image=PIL.Image, opaque)"
    tensor = pipeline(
        torch.rand(1, 4, 24, 40, generator=rng), torch.rand(1, 3, 32, 32, generator=rng), output_type="pt"
    )
    assert repr(tensor) == "StylizeResult(40x24, image=torch.Tensor, with transparency)"
