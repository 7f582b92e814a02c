"""Tiling: plans, blending weights, budgets (pure), and tiled stylization against the untiled one.

The pipeline tests use the real vgg16-hed encoder and a seeded random decoder. Tiling must give
the untiled result (the margins exceed the networks' receptive reach and every tile uses the
whole image's content statistics) and leave no visible seams; the seam test is shown to fail
when the tiles get their own statistics or lose their overlap.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from adain.errors import ShapeError, UsageError
from adain.models import CompactEncoder, CompactMultiLevelDecoder, Decoder, VGGEncoder
from adain.ops.filters import guided_filter
from adain.pipeline import StylizationPipeline, StylizeOptions
from adain.pipeline.stylize import PreparedContent
from adain.pipeline.tiling import (
    ACTIVATION_BYTES_PER_PIXEL,
    DEFAULT_FEATHER,
    DEFAULT_MARGIN,
    IMAGE_BYTES_PER_PIXEL,
    MIN_TILE_SIDE,
    RECEPTIVE_REACH,
    RESIDENT_IMAGE_BYTES_PER_PIXEL,
    TileBlender,
    TilePlan,
    apply_in_strips,
    choose_tiling,
    estimate_memory_mb,
    feature_box,
    plan_tiles,
    tile_side_for_budget,
)
from adain.weights import get_preset, load_decoder

# -- plans ----------------------------------------------------------------------------------------

PLAN_CASES = [(1000, 3000, 1024), (2160, 3840, 1056), (219, 229, 208), (300, 1000, 176), (1, 5000, 400), (64, 64, 200)]


@pytest.mark.parametrize("height,width,side", PLAN_CASES)
def test_cores_partition_the_image_and_windows_hold_them(height: int, width: int, side: int) -> None:
    plan = plan_tiles(height, width, side)
    covered = torch.zeros(height, width, dtype=torch.int32)
    for tile in plan.tiles:
        top, bottom, left, right = tile.core
        covered[top:bottom, left:right] += 1
        w_top, w_bottom, w_left, w_right = tile.window
        assert 0 <= w_top <= top < bottom <= w_bottom <= height and 0 <= w_left <= left < right <= w_right <= width
        assert w_bottom - w_top <= side and w_right - w_left <= side
        # margins exactly where there is a neighbour, none at the image's edges
        assert w_top == (top - plan.margin if tile.row > 0 else 0)
        assert w_bottom == (bottom + plan.margin if tile.row < plan.grid[0] - 1 else height)
        assert w_left == (left - plan.margin if tile.column > 0 else 0)
        assert w_right == (right + plan.margin if tile.column < plan.grid[1] - 1 else width)
    assert torch.equal(covered, torch.ones_like(covered))
    rows, columns = plan.seams()
    assert all(seam % 8 == 0 for seam in rows + columns)  # cores map onto whole relu4_1 positions
    assert len(plan.tiles) == plan.grid[0] * plan.grid[1]


def test_as_few_tiles_as_fit_and_balanced() -> None:
    plan = plan_tiles(2160, 3840, 1056)
    assert plan.grid == (3, 4)
    assert {stop - start for start, stop in plan.row_cores} == {720}
    assert {stop - start for start, stop in plan.column_cores} == {960}


@pytest.mark.parametrize("height,width,side", [(100, 200, None), (200, 300, 300), (37, 53, 10_000)])
def test_one_tile_when_the_image_fits(height: int, width: int, side: int | None) -> None:
    plan = plan_tiles(height, width, side)
    assert plan.is_single and plan.tiles[0].window == plan.tiles[0].core == (0, height, 0, width)
    assert plan.seams() == ([], [])


@pytest.mark.parametrize("feather", [0, 8, DEFAULT_FEATHER, DEFAULT_MARGIN])
@pytest.mark.parametrize(
    "height,width,side", [(219, 229, 208), (300, 1000, 176), (1, 3000, 400), (64, 64, 200), (300, 400, 200)]
)
def test_weights_sum_to_one_and_stay_within_the_feather(height: int, width: int, side: int, feather: int) -> None:
    try:
        plan = plan_tiles(height, width, side, margin=DEFAULT_MARGIN, feather=feather)
    except UsageError:
        pytest.skip("tile side too small for this feather")
    total = torch.zeros(height, width, dtype=torch.float64)
    for tile in plan.tiles:
        weights = plan.weights(tile, torch.float64)[0, 0]
        top, bottom, left, right = tile.window
        assert weights.shape == (bottom - top, right - left)
        assert weights.min() >= 0 and weights.max() <= 1
        total[top:bottom, left:right] += weights
        # zero beyond the feather band around the core, one inside the core minus the band
        c_top, c_bottom, c_left, c_right = tile.core
        rows = torch.arange(top, bottom)[:, None] + 0.5
        columns = torch.arange(left, right)[None, :] + 0.5
        outside = (
            (rows < c_top - feather)
            | (rows > c_bottom + feather)
            | (columns < c_left - feather)
            | (columns > c_right + feather)
        )
        assert not weights[outside.expand_as(weights)].any()
    assert torch.allclose(total, torch.ones_like(total), atol=1e-12)


def test_weights_are_a_smooth_crossfade() -> None:
    plan = plan_tiles(64, 400, 176, margin=48, feather=16)
    first, second = plan.tiles[0], plan.tiles[1]
    boundary = plan.column_cores[0][1]
    row_first = plan.weights(first, torch.float64)[0, 0, 0]
    row_second = plan.weights(second, torch.float64)[0, 0, 0]
    fade = row_first[boundary - 16 : boundary + 16]
    assert (fade[1:] < fade[:-1]).all()  # strictly decreasing across the band
    assert math.isclose(fade[15].item() + row_second[boundary - 1 - second.window[2]].item(), 1.0)
    steps = (fade[1:] - fade[:-1]).abs()
    assert steps.max() < 0.05  # no jump: at most 1.5 / 32 per pixel


def test_plan_rejects_bad_arguments() -> None:
    with pytest.raises(UsageError, match="tile side must be an integer >= 176"):
        plan_tiles(1000, 1000, 150)
    with pytest.raises(UsageError, match="multiple of 8"):
        plan_tiles(1000, 1000, 400, margin=20)
    with pytest.raises(UsageError, match="cannot exceed the margin"):
        plan_tiles(1000, 1000, 400, margin=16, feather=24)
    with pytest.raises(UsageError, match="non-negative"):
        plan_tiles(1000, 1000, 400, feather=-1)
    with pytest.raises(ShapeError, match="positive size"):
        plan_tiles(0, 10, None)


def test_feature_box() -> None:
    assert feature_box((0, 37, 16, 64)) == (0, 5, 2, 8)
    assert feature_box((8, 16, 0, 8)) == (1, 2, 0, 1)
    with pytest.raises(ShapeError, match="multiples of 8"):
        feature_box((3, 16, 0, 8))


# -- blending and strips ----------------------------------------------------------------------------


def test_blender_single_tile_is_the_decoded_tensor_itself() -> None:
    plan = plan_tiles(30, 40, None)
    decoded = torch.rand(1, 3, 32, 40)  # padded to a multiple of 8: kept for the pipeline's crop
    blender = TileBlender(plan)
    blender.add(plan.tiles[0], decoded)
    assert blender.result() is decoded


def test_blender_reassembles_an_image_from_its_windows() -> None:
    image = torch.rand(1, 3, 219, 229)
    plan = plan_tiles(219, 229, 176)
    assert not plan.is_single
    blender = TileBlender(plan)
    for tile in plan.tiles:
        top, bottom, left, right = tile.window
        window = image[..., top:bottom, left:right]
        blender.add(tile, torch.nn.functional.pad(window, (0, 5, 0, 3)))  # padding beyond the window is cropped
    assert torch.allclose(blender.result(), image, atol=1e-6)


def test_blender_needs_every_tile() -> None:
    plan = plan_tiles(300, 300, 200)
    blender = TileBlender(plan)
    blender.add(plan.tiles[0], torch.zeros(1, 3, 300, 300))
    with pytest.raises(ShapeError, match=f"1 of {len(plan.tiles)} tiles"):
        blender.result()
    with pytest.raises(ShapeError, match="decoded tile"):
        blender.add(plan.tiles[1], torch.zeros(1, 3, 4, 4))


def test_strips_give_the_whole_image_result_for_a_local_filter() -> None:
    generator = torch.Generator().manual_seed(0)
    guide, source = torch.rand(1, 3, 70, 30, generator=generator), torch.rand(1, 3, 70, 30, generator=generator)
    radius = 3
    whole = guided_filter(guide, source, radius)
    strips = apply_in_strips(lambda g, s: guided_filter(g, s, radius), [guide, source], halo=2 * radius, max_rows=16)
    assert torch.allclose(strips, whole, atol=1e-6)
    # the halo is what makes it exact
    no_halo = apply_in_strips(lambda g, s: guided_filter(g, s, radius), [guide, source], halo=0, max_rows=16)
    assert (no_halo - whole).abs().max() > 1e-3


def test_strips_check_their_inputs() -> None:
    with pytest.raises(ShapeError, match="share height and width"):
        apply_in_strips(torch.add, [torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 5, 4)], halo=0, max_rows=2)
    with pytest.raises(UsageError, match="max_rows"):
        apply_in_strips(torch.neg, [torch.zeros(1, 1, 4, 4)], halo=0, max_rows=0)


# -- budgets --------------------------------------------------------------------------------------


def test_budget_gives_the_largest_tile_that_fits() -> None:
    assert tile_side_for_budget(512, 512, 2048) is None
    for budget in (1024, 1536, 2048, 4096):
        side = tile_side_for_budget(2160, 3840, budget)
        assert side is not None and side % 8 == 0 and side >= MIN_TILE_SIDE
        assert estimate_memory_mb(2160, 3840, side) <= budget < estimate_memory_mb(2160, 3840, side + 8)
    assert tile_side_for_budget(2160, 3840, 1024) < tile_side_for_budget(2160, 3840, 2048)


def test_the_peak_is_the_larger_phase() -> None:
    """The windows' passes beside the resident buffers, or the ends' whole-image copies, which
    never meet them: not their sum."""
    pixels = 2160 * 3840
    passes = (RESIDENT_IMAGE_BYTES_PER_PIXEL + 96) * pixels + 420 * 1024**2
    assert estimate_memory_mb(2160, 3840, 1024, 420, 96) == pytest.approx(passes / 2**20)
    assert estimate_memory_mb(2160, 3840, 256, 10) == pytest.approx(IMAGE_BYTES_PER_PIXEL * pixels / 2**20)


def test_budget_too_small_says_what_would_do() -> None:
    # the ends' copies need more than the smallest windows' passes here: the larger is what it takes
    pixels = 2160 * 3840
    passes = RESIDENT_IMAGE_BYTES_PER_PIXEL * pixels + ACTIVATION_BYTES_PER_PIXEL * MIN_TILE_SIDE**2
    needed = math.ceil(max(passes, IMAGE_BYTES_PER_PIXEL * pixels) / 2**20)
    with pytest.raises(UsageError, match=f"too small for a 3840x2160 image: it needs at least {needed} MB"):
        tile_side_for_budget(2160, 3840, 500)
    for bad in (0, -5, True, "big"):
        with pytest.raises(UsageError, match="positive number of MB"):
            tile_side_for_budget(100, 100, bad)  # type: ignore[arg-type]


class TestChooseTiling:
    """Whether a tiled run keeps the shallow taps' maps or re-encodes each window for them."""

    def test_one_tile_needs_no_maps(self) -> None:
        assert choose_tiling(512, 512, 2048, 420, 96) == (None, False)

    def test_maps_that_fit_are_kept_within_the_budget(self) -> None:
        side, keep = choose_tiling(2160, 3840, 2048, 420, 96)
        assert keep and side is not None and side >= MIN_TILE_SIDE
        assert estimate_memory_mb(2160, 3840, side, 420, 96) <= 2048 < estimate_memory_mb(2160, 3840, side + 8, 420, 96)

    def test_maps_that_do_not_fit_are_re_encoded(self) -> None:
        # the default's relu1_1 map alone is 128 bytes a pixel in bf16: 4K cannot keep it in 2 GB
        assert choose_tiling(2160, 3840, 2048, 1100, 224) == (tile_side_for_budget(2160, 3840, 2048, 1100), False)

    def test_maps_are_not_kept_at_the_cost_of_many_more_windows(self) -> None:
        # they fit beside ~490-px windows only, where re-encoding gets ~1460-px ones
        side, keep = choose_tiling(2160, 3840, 1300, 420, 96)
        assert not keep and side == tile_side_for_budget(2160, 3840, 1300, 420)
        assert tile_side_for_budget(2160, 3840, 1300, 420, 96) is not None  # they would fit

    def test_no_maps_to_keep(self) -> None:
        assert choose_tiling(2160, 3840, 2048, 420, 0) == (tile_side_for_budget(2160, 3840, 2048, 420), False)


@pytest.fixture(scope="module")
def compact_pipeline() -> StylizationPipeline:
    """The fast preset's shapes (random weights): a compact encoder and a decoder with skips at
    relu3_1 and relu2_1."""
    torch.manual_seed(0)
    decoder = CompactMultiLevelDecoder(skip_taps=("relu3_1", "relu2_1"))
    return StylizationPipeline(CompactEncoder().eval(), decoder.eval(), preset="fast")


def test_the_memory_model_is_the_networks_and_precisions(
    compact_pipeline: StylizationPipeline, multilevel_contrast_pipeline: StylizationPipeline
) -> None:
    assert compact_pipeline.activation_bytes_per_pixel == 720  # fp32
    assert multilevel_contrast_pipeline.activation_bytes_per_pixel == 1800
    # relu3_1 + relu2_1 in fp32: 256 * 4 / 16 + 128 * 4 / 4
    assert compact_pipeline.kept_bytes_per_pixel(("relu3_1", "relu2_1")) == 192
    content = torch.zeros(1, 3, 2160, 3840)
    prepared = PreparedContent(content, None, content, (2160, 3840))
    budget = StylizeOptions(max_memory_mb=2048)
    # 4K in fp32: the fast preset's maps (1.6 GB) do not fit beside the image's buffers
    assert compact_pipeline.plan_tiles(prepared, budget).kept_taps == ()
    # in bf16 (planning only: nothing runs) they do: 96 bytes a pixel
    fast = StylizationPipeline(compact_pipeline.encoder, compact_pipeline.decoder, preset="fast", precision="bf16")
    assert fast.activation_bytes_per_pixel == 420 and fast.kept_bytes_per_pixel(("relu3_1", "relu2_1")) == 96
    plan = fast.plan_tiles(prepared, budget)
    assert plan.kept_taps == ("relu3_1", "relu2_1")
    assert all(max(tile.window_size) <= tile_side_for_budget(2160, 3840, 2048, 420, 96) for tile in plan.tiles)
    default = multilevel_contrast_pipeline.plan_tiles(prepared, budget)
    assert default.kept_taps == ()
    assert all(max(tile.window_size) <= tile_side_for_budget(2160, 3840, 2048, 1800) for tile in default.tiles)


def test_compact_networks_tiled_with_kept_maps_equal_untiled(compact_pipeline: StylizationPipeline) -> None:
    height, width = 219, 221
    content, style = smooth_image(height, width), blurry_noise(48, 1)
    untiled = compact_pipeline(content, style, StylizeOptions(), output_type="pt").rgb
    options = StylizeOptions(tile_size=208, max_memory_mb=10_000)
    plan = compact_pipeline.plan_tiles(PreparedContent(content, None, content, (height, width)), options)
    assert plan.grid == (2, 2) and plan.kept_taps == ("relu3_1", "relu2_1")
    tiled = compact_pipeline(content, style, options, output_type="pt").rgb
    assert (tiled - untiled).abs().max() < 1e-4 and untiled.std() > 0.01


@pytest.mark.parametrize("preset", ["vgg16-hed", "vgg19"])
def test_receptive_reach_of_the_networks(preset: str) -> None:
    """A cut 32 pixels away changes neither relu4_1 nor the decoder's output: margins of
    ``RECEPTIVE_REACH`` make tiles exact (random weights: the reach is the architecture's)."""
    torch.manual_seed(0)
    architecture = get_preset(preset).architecture
    encoder, decoder = VGGEncoder(architecture).eval(), Decoder(architecture).eval()
    image = torch.rand(1, 3, 16, 160)
    with torch.inference_mode():
        features = encoder(image)["relu4_1"]
        cut = encoder(image[..., :96])["relu4_1"]  # cut at pixel 96 = feature 12
        keep = (96 - RECEPTIVE_REACH) // 8
        assert torch.allclose(cut[..., :keep], features[..., :keep], atol=1e-5)
        assert not torch.allclose(cut[..., : keep + 2], features[..., : keep + 2], atol=1e-5)  # the reach is real
        decoded, decoded_cut = decoder(features), decoder(features[..., :12])
        assert torch.allclose(decoded_cut[..., : 96 - RECEPTIVE_REACH], decoded[..., : 96 - RECEPTIVE_REACH], atol=1e-5)
    assert DEFAULT_MARGIN - DEFAULT_FEATHER >= RECEPTIVE_REACH


# -- the pipeline, tiled ----------------------------------------------------------------------------


def smooth_image(height: int, width: int) -> torch.Tensor:
    """A photo-like generated image: smooth waves whose contrast grows from left to right."""
    rows, columns = torch.meshgrid(
        torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij"
    )
    amplitude = 0.05 + 0.35 * columns / width
    channels = [
        0.5
        + amplitude
        * torch.sin(2 * math.pi * (columns / 97 + rows / 131) + phase)
        * torch.cos(2 * math.pi * rows / 89 - phase)
        for phase in (0.0, 1.3, 2.6)
    ]
    return torch.stack(channels)[None].clamp(0.0, 1.0)


def blurry_noise(size: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 8, 8, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


@pytest.fixture(scope="module")
def contrast_pipeline(decoder_file: Path, pipeline: StylizationPipeline) -> StylizationPipeline:
    """The random decoder with a 10x stronger last layer: outputs span [0, 1] (the plain random
    decoder's are nearly flat grey), so seams would show as clearly as with a trained one."""
    decoder = load_decoder("vgg16-hed", path=decoder_file)
    with torch.no_grad():
        decoder.layers[-1].weight.mul_(10.0)
    return StylizationPipeline(pipeline.encoder, decoder, preset="vgg16-hed")


@pytest.fixture(scope="module")
def multilevel_contrast_pipeline(multilevel_decoder_file: Path, pipeline: StylizationPipeline) -> StylizationPipeline:
    """The random multi-level decoder (gates open) with the same 10x stronger last layer."""
    decoder = load_decoder("vgg16-hed", path=multilevel_decoder_file)
    with torch.no_grad():
        decoder.layers[-1].weight.mul_(10.0)
    return StylizationPipeline(pipeline.encoder, decoder, preset="vgg16-hed")


TILED_CASES = {
    "plain": {},
    "alpha, mixed styles, luminance, guided filter": {
        "alpha": 0.6,
        "style_weights": [0.7, 0.3],
        "preserve_color": "luminance",
        "guided_filter_radius": 2,
    },
    "mask": {"mask": "gradient", "mask_alphas": [1.0, 0.5]},
    "attention": {"method": "attention", "alpha": 0.8},
}


@pytest.mark.parametrize("decoder", ["plain", "multilevel", "multilevel, maps kept"])
@pytest.mark.parametrize("case", list(TILED_CASES))
def test_tiled_equals_untiled(
    request: pytest.FixtureRequest, decoder: str, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also with a multi-level decoder: its shallow taps' content statistics are summed over the
    tiles' cores and each window is re-encoded for its skip features; or, where the memory
    budget holds them, the shallow maps are stitched from the cores like relu4_1 and kept."""
    contrast_pipeline = request.getfixturevalue(
        "contrast_pipeline" if decoder == "plain" else "multilevel_contrast_pipeline"
    )
    height, width = 219, 221  # not multiples of 8: the right and bottom windows are padded on their own
    content = smooth_image(height, width)
    fields = dict(TILED_CASES[case])
    styles = [blurry_noise(48, 1)]
    if "style_weights" in fields or "mask" in fields:
        styles.append(blurry_noise(48, 2))
    if fields.get("mask") == "gradient":
        fields["mask"] = torch.linspace(0, 1, width).expand(height, width).clone()
    untiled = contrast_pipeline(content, styles, StylizeOptions(**fields), output_type="pt").rgb
    # the strips of the post-processing are exercised too
    monkeypatch.setattr("adain.pipeline.stylize.STRIP_PIXELS", 64 * width)
    kept = decoder.endswith("maps kept")
    options = StylizeOptions(tile_size=208, max_memory_mb=10_000 if kept else None, **fields)
    plan = contrast_pipeline.plan_tiles(PreparedContent(content, None, content, (height, width)), options)
    assert plan.grid == (2, 2)
    assert plan.kept_taps == (("relu3_1", "relu2_1", "relu1_1") if kept else ())
    seen: list[tuple[int, ...]] = []
    hooks = [
        network.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape[-2:])))
        for network in (contrast_pipeline.inference_encoder, contrast_pipeline.inference_decoder)
    ]
    try:
        tiled = contrast_pipeline(content, styles, options, output_type="pt").rgb
    finally:
        for hook in hooks:
            hook.remove()
    # the networks only ever saw windows: what bounds the memory (styles are encoded whole)
    content_passes = [shape for shape in seen if shape != (48, 48)]
    # 4 windows encoded, (multi-level, maps not kept: 4 re-encoded for the skips,) 4 decoded
    assert (
        len(content_passes) == (12 if decoder == "multilevel" else 8)
        and max(max(shape) for shape in content_passes) <= 208
    )
    assert tiled.shape == untiled.shape == (1, 3, height, width)
    # float rounding, of outputs made 10x steeper; a skip's AdaIN folded into its convolution
    # cancels the content's mean after the sum over channels, not per value (up to ~1e-4 on an
    # Intel Xeon, ~4e-4 on an AMD EPYC, whose oneDNN kernels sum in another order); a seam or a
    # misplaced window is off by 1e-2 and more
    assert (tiled - untiled).abs().max() < 1e-3
    assert untiled.std() > 0.05  # a real image, not flat grey


def _seam_energy(image: torch.Tensor, plan: TilePlan, step: int) -> tuple[float, float]:
    """Mean |difference| across the seam lines over that across the other lines on multiples of
    8 (the decoder's upsampling makes every 8th line special), for columns and for rows.

    ``step`` 1 compares the two pixels either side of a line (a hard seam); ``step`` d compares
    pixels d before and d - 1 after it, which sees a colour shift spread over a cross-fade.
    """
    rows, columns = plan.seams()
    ratios = []
    for axis, seams in ((3, columns), (2, rows)):
        length = image.shape[axis]

        def difference(line: int, axis: int = axis) -> float:
            return (image.narrow(axis, line - step, 1) - image.narrow(axis, line + step - 1, 1)).abs().mean().item()

        elsewhere = [line for line in range(8, length, 8) if line not in seams and step <= line <= length - step]
        ratios.append(sum(map(difference, seams)) / len(seams) / (sum(map(difference, elsewhere)) / len(elsewhere)))
    return ratios[0], ratios[1]


SEAM_STEPS = (1, DEFAULT_FEATHER)


@pytest.fixture(scope="module")
def seam_setup(contrast_pipeline: StylizationPipeline) -> dict[str, object]:
    height, width = 192, 224
    content, style = smooth_image(height, width), blurry_noise(48, 1)
    plan = plan_tiles(height, width, 176)
    untiled = contrast_pipeline(content, style, output_type="pt").rgb
    return {
        "content": content,
        "style": style,
        "options": StylizeOptions(tile_size=176),
        "plan": plan,
        "untiled": untiled,
    }


def _seam_ratio(pipeline: StylizationPipeline, setup: dict[str, object]) -> float:
    """The largest seam energy (columns, rows; each step) relative to the same lines' untiled:
    the content itself may be calmer or busier on the seam lines than elsewhere."""
    image = pipeline(setup["content"], setup["style"], setup["options"], output_type="pt").rgb
    ratios = []
    for step in SEAM_STEPS:
        energy, reference = (
            _seam_energy(image, setup["plan"], step),
            _seam_energy(setup["untiled"], setup["plan"], step),
        )
        ratios += [energy[0] / reference[0], energy[1] / reference[1]]
    return max(ratios)


SEAM_TOLERANCE = 1.03


def test_no_visible_seams(contrast_pipeline: StylizationPipeline, seam_setup: dict[str, object]) -> None:
    assert seam_setup["plan"].grid == (3, 3)
    assert _seam_ratio(contrast_pipeline, seam_setup) < SEAM_TOLERANCE


@pytest.mark.parametrize("broken", ["statistics per tile", "no overlap or feathering"])
def test_seam_test_fails_without_global_statistics_or_blending(
    contrast_pipeline: StylizationPipeline, seam_setup: dict[str, object], broken: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seam test is able to fail: each tile normalised with its own content statistics, or
    tiles cut without overlap, leave seams."""
    plan: TilePlan = seam_setup["plan"]
    if "statistics" in broken:
        transfer = contrast_pipeline.transfer
        monkeypatch.setattr(
            contrast_pipeline, "transfer", lambda f, s, o, r=None, c=None, **rest: transfer(f, s, o, r, None, **rest)
        )
    if "no overlap" in broken:
        monkeypatch.setattr(
            contrast_pipeline,
            "plan_tiles",
            lambda content, options: plan_tiles(plan.height, plan.width, 176, margin=0, feather=0),
        )
        monkeypatch.setitem(seam_setup, "plan", contrast_pipeline.plan_tiles(None, None))
    assert _seam_ratio(contrast_pipeline, seam_setup) > SEAM_TOLERANCE


# -- options --------------------------------------------------------------------------------------


def test_budget_option_plans_tiles(pipeline: StylizationPipeline) -> None:
    content = PreparedContent(torch.zeros(1, 3, 1200, 1600), None, torch.zeros(1, 3, 1200, 1600), (1200, 1600))
    assert pipeline.plan_tiles(content, StylizeOptions()).is_single
    assert pipeline.plan_tiles(content, StylizeOptions(max_memory_mb=10_000)).is_single
    plan = pipeline.plan_tiles(content, StylizeOptions(max_memory_mb=512))
    assert not plan.is_single
    side = tile_side_for_budget(1200, 1600, 512)
    assert all(max(tile.window_size) <= side for tile in plan.tiles)
    assert pipeline.plan_tiles(content, StylizeOptions(max_memory_mb=512, tile_size=400)).grid == (4, 6)


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"max_memory_mb": 0}, "positive number of MB"),
        ({"max_memory_mb": float("nan")}, "positive number of MB"),
        ({"max_memory_mb": True}, "positive number of MB"),
        ({"tile_size": -8}, "tile_size must be an integer >= 0"),
        ({"tile_size": 1.5}, "tile_size must be an integer >= 0"),
        ({"max_memory_mb": 1024, "method": "optimize"}, "cannot be tiled"),
        ({"tile_size": 512, "refine": 5}, "cannot be tiled"),
    ],
)
def test_tiling_options_are_checked(fields: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        StylizeOptions(**fields).check(1)


def test_tile_side_too_small_is_a_usage_error(pipeline: StylizationPipeline) -> None:
    with pytest.raises(UsageError, match="tile side must be an integer >= 176"):
        pipeline(torch.rand(1, 3, 200, 200), torch.rand(1, 3, 32, 32), StylizeOptions(tile_size=100))
