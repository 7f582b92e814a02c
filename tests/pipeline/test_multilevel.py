"""The pipeline with a multi-level decoder: every option acts at every tap the decoder takes.

Two kinds of check: with the gates closed a multi-level decoder must give the plain decoder's
result for every option (it starts as that decoder); with them open, the decoder's inputs at
each tap must be what the option means there (alpha, mixing, masks, content statistics).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from adain.errors import UsageError
from adain.image.sizing import pad_to_multiple
from adain.models import SKIP_TAPS, MultiLevelDecoder
from adain.models.affine_features import materialize
from adain.ops.masks import masked_channel_mean_std
from adain.ops.statistics import channel_mean_std, mix_statistics
from adain.pipeline import StylizationPipeline, StylizeOptions
from adain.styles import StyleStatistics
from adain.weights import load_decoder

TAPS4 = ("relu4_1", *SKIP_TAPS)


@pytest.fixture(scope="module")
def multilevel(pipeline: StylizationPipeline, multilevel_decoder_file: Path) -> StylizationPipeline:
    decoder = load_decoder("vgg16-hed", path=multilevel_decoder_file)
    assert isinstance(decoder, MultiLevelDecoder)
    return StylizationPipeline(pipeline.encoder, decoder, preset="vgg16-hed")


@pytest.fixture(scope="module")
def closed(pipeline: StylizationPipeline, decoder_file: Path) -> StylizationPipeline:
    """A multi-level decoder initialised from the plain test decoder: gates closed."""
    decoder = MultiLevelDecoder(_architecture())
    decoder.load_state_dict(load_decoder("vgg16-hed", path=decoder_file).state_dict(), strict=False)
    return StylizationPipeline(pipeline.encoder, decoder, preset="vgg16-hed")


def _architecture():
    from adain.weights import get_preset

    return get_preset("vgg16-hed").architecture


@contextmanager
def decoder_inputs(pipeline: StylizationPipeline) -> Iterator[list[dict[str, torch.Tensor]]]:
    """Collect the decoder's inputs per call, by tap (a skip's AdaIN, folded into its
    convolution, computed here: what the decoder takes in effect)."""
    captured: list[dict[str, torch.Tensor]] = []
    hook = pipeline.inference_decoder.register_forward_pre_hook(
        lambda module, args: captured.append(
            {tap: materialize(a).clone() for tap, a in zip(pipeline.decoder_taps, args)}
        )
    )
    try:
        yield captured
    finally:
        hook.remove()


def noise(seed: int, height: int, width: int, scale: float = 1.0) -> torch.Tensor:
    return torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(seed)) * scale


def content_taps(pipeline: StylizationPipeline, image: torch.Tensor) -> dict[str, torch.Tensor]:
    return pipeline.encoder(pad_to_multiple(image)[0])


CASES = {
    "plain": {},
    "alpha": {"alpha": 0.4},
    "mixed styles": {"style_weights": [0.7, 0.3]},
    "mask": {"mask": "half", "mask_alphas": [1.0, 0.5]},
    "luminance": {"preserve_color": "luminance"},
    "match": {"preserve_color": "match"},
    "guided filter": {"guided_filter_radius": 2},
    "refine": {"refine": 2},
    "tiles": {"tile_size": 256},
}


@pytest.mark.parametrize("case", list(CASES))
def test_closed_gates_give_the_plain_decoders_result(
    pipeline: StylizationPipeline, closed: StylizationPipeline, case: str
) -> None:
    """The multi-level decoder starts as the decoder it was initialised from, for every option."""
    fields = dict(CASES[case])
    content = noise(1, 300 if case == "tiles" else 40, 56)
    styles = [noise(2, 32, 32), noise(3, 32, 32, 0.5)]
    if "mask" in fields:
        mask = torch.zeros(content.shape[-2:])
        mask[:, : content.shape[-1] // 2] = 1.0
        fields["mask"] = mask
    elif "style_weights" not in fields:
        styles = styles[:1]
    options = StylizeOptions(**fields)
    expected = pipeline(content, styles, options, output_type="pt").rgb
    result = closed(content, styles, options, output_type="pt").rgb
    assert (result - expected).abs().max() < 1e-4


def test_multiscale_with_closed_gates_equals_plain(
    pipeline: StylizationPipeline, closed: StylizationPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("adain.pipeline.stylize.MULTISCALE_COARSEST_SIDE", 24)
    content, style = noise(4, 48, 64), noise(5, 32, 32)
    expected = pipeline(content, style, multiscale=True, output_type="pt").rgb
    assert (closed(content, style, multiscale=True, output_type="pt").rgb - expected).abs().max() < 1e-4


def test_open_gates_change_the_result(pipeline: StylizationPipeline, multilevel: StylizationPipeline) -> None:
    content, style = noise(6, 40, 40), noise(7, 32, 32)
    plain_layers = MultiLevelDecoder(_architecture())
    plain_layers.load_state_dict(multilevel.decoder.state_dict())
    with torch.no_grad():
        for gate in plain_layers.gates.values():
            gate.zero_()
    shut = StylizationPipeline(pipeline.encoder, plain_layers, preset="vgg16-hed")
    assert (
        multilevel(content, style, output_type="pt").rgb - shut(content, style, output_type="pt").rgb
    ).abs().max() > 1e-3


def test_alpha_zero_feeds_the_content_features_at_every_tap(multilevel: StylizationPipeline) -> None:
    content = noise(8, 37, 53)
    with decoder_inputs(multilevel) as captured:
        multilevel(content, noise(9, 32, 32), alpha=0.0)
    expected = content_taps(multilevel, content)
    assert set(captured[0]) == set(TAPS4)
    for tap in TAPS4:
        assert torch.allclose(captured[0][tap], expected[tap], atol=1e-5), tap


def test_every_tap_gets_the_styles_statistics(multilevel: StylizationPipeline) -> None:
    content, style = noise(10, 48, 48), noise(11, 40, 40, 0.6)
    with decoder_inputs(multilevel) as captured:
        multilevel(content, style)
    style_taps = multilevel.encoder(style)
    own = content_taps(multilevel, content)
    for tap in TAPS4:
        mean, std = channel_mean_std(captured[0][tap])
        style_mean, style_std = channel_mean_std(style_taps[tap])
        varied = channel_mean_std(own[tap])[1] > 0.1
        assert torch.allclose(mean[varied], style_mean[varied], atol=1e-3, rtol=1e-3), tap
        assert torch.allclose(std[varied], style_std[varied], rtol=2e-2, atol=5e-3), tap


def test_alpha_blends_every_tap(multilevel: StylizationPipeline) -> None:
    content, style = noise(12, 32, 32), noise(13, 32, 32)
    with decoder_inputs(multilevel) as captured:
        for alpha in (0.0, 0.3, 1.0):
            multilevel(content, style, alpha=alpha)
    for tap in TAPS4:
        assert torch.allclose(captured[1][tap], 0.7 * captured[0][tap] + 0.3 * captured[2][tap], atol=1e-4), tap


def test_mixing_mixes_every_taps_statistics(multilevel: StylizationPipeline) -> None:
    content, styles = noise(14, 48, 48), [noise(15, 32, 32), noise(16, 32, 32, 0.4)]
    with decoder_inputs(multilevel) as captured:
        multilevel(content, styles, style_weights=[0.25, 0.75])
    statistics = [multilevel.style_statistics(style) for style in styles]
    own = content_taps(multilevel, content)
    for tap in TAPS4:
        mixed_mean, mixed_std = mix_statistics(
            torch.cat([s.at(tap)[0] for s in statistics]), torch.cat([s.at(tap)[1] for s in statistics]), [0.25, 0.75]
        )
        mean, std = channel_mean_std(captured[0][tap])
        varied = channel_mean_std(own[tap])[1] > 0.1
        assert torch.allclose(mean[varied], mixed_mean[varied], atol=1e-3, rtol=1e-3), tap
        assert torch.allclose(std[varied], mixed_std[varied], rtol=2e-2, atol=5e-3), tap


def test_mask_regions_get_their_style_at_every_tap(multilevel: StylizationPipeline) -> None:
    """Left half -> style 1, right half -> style 2, at each tap's own resolution."""
    content, styles = noise(17, 64, 64), [noise(18, 32, 32, 0.3), noise(19, 32, 32)]
    mask = torch.zeros(64, 64)
    mask[:, :32] = 1.0
    with decoder_inputs(multilevel) as captured:
        multilevel(content, styles, mask=mask)
    statistics = [multilevel.style_statistics(style) for style in styles]
    for tap in TAPS4:
        features = captured[0][tap]
        width = features.shape[-1]
        region = torch.zeros(1, 1, *features.shape[-2:])
        region[..., : width // 2] = 1.0
        for k, weights in enumerate((region, 1 - region)):
            mean, _ = masked_channel_mean_std(features, weights)
            assert torch.allclose(
                mean, statistics[k].at(tap)[0], atol=0.05 * statistics[k].at(tap)[0].abs().max().item()
            ), (tap, k)


def test_the_statistics_filter_sees_every_tap(multilevel: StylizationPipeline) -> None:
    content, style = noise(20, 32, 32), noise(21, 32, 32)
    seen: list[set[str]] = []

    def record(
        statistics: dict[str, tuple[torch.Tensor, torch.Tensor]],
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        seen.append(set(statistics))
        return statistics

    multilevel(content, style, content_statistics_filter=record)
    assert seen == [set(TAPS4)]


def test_style_statistics_without_the_shallow_taps_are_refused(multilevel: StylizationPipeline) -> None:
    full = multilevel.style_statistics(noise(22, 32, 32))
    only_relu4 = StyleStatistics({"relu4_1": full.means["relu4_1"]}, {"relu4_1": full.stds["relu4_1"]}, "vgg16-hed")
    with pytest.raises(UsageError, match="relu3_1"):
        multilevel(noise(23, 32, 32), only_relu4)


def test_bf16_precision_runs_the_folded_copy(pipeline: StylizationPipeline, multilevel_decoder_file: Path) -> None:
    fp32 = StylizationPipeline(
        pipeline.encoder, load_decoder("vgg16-hed", path=multilevel_decoder_file), preset="vgg16-hed"
    )
    bf16 = StylizationPipeline(
        pipeline.encoder, load_decoder("vgg16-hed", path=multilevel_decoder_file), preset="vgg16-hed", precision="bf16"
    )
    content, style = noise(24, 40, 40), noise(25, 32, 32)
    difference = bf16(content, style, output_type="pt").rgb - fp32(content, style, output_type="pt").rgb
    assert difference.abs().mean() < 0.02
