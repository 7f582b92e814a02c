"""A list of contents through the Python API (issue 16 item 10): ``.images``, batched where sizes allow."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from adain.errors import UsageError
from adain.pipeline import StylizationPipeline, StylizeOptions, StylizeResult, StylizeResults
from adain.weights import load_decoder, load_encoder


def _contents() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return [
        torch.rand(1, 3, 32, 40, generator=generator),
        torch.rand(1, 3, 24, 24, generator=generator),
        torch.rand(1, 3, 32, 40, generator=generator),
        torch.rand(1, 3, 32, 40, generator=generator),
    ]


STYLE = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(4))


@pytest.fixture(scope="module")
def multilevel_pipeline(multilevel_decoder_file: Path) -> StylizationPipeline:
    return StylizationPipeline(
        load_encoder("vgg16-hed"), load_decoder("vgg16-hed", path=multilevel_decoder_file), preset="vgg16-hed"
    )


@pytest.fixture(params=["plain", "multilevel"])
def any_pipeline(
    request: pytest.FixtureRequest, pipeline: StylizationPipeline, multilevel_pipeline: StylizationPipeline
) -> StylizationPipeline:
    return pipeline if request.param == "plain" else multilevel_pipeline


def _encoder_batches(pipeline: StylizationPipeline, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The batch size of every content encoding from now on."""
    sizes: list[int] = []
    original = pipeline.encode_content

    def counting(padded: torch.Tensor) -> dict[str, torch.Tensor]:
        sizes.append(padded.shape[0])
        return original(padded)

    monkeypatch.setattr(pipeline, "encode_content", counting)
    return sizes


class TestStylizeMany:
    @pytest.mark.parametrize(
        "options",
        [StylizeOptions(), StylizeOptions(alpha=0.6, preserve_color="luminance", guided_filter_radius=2)],
        ids=["plain", "alpha-colour-filter"],
    )
    def test_each_result_equals_its_own_call(
        self, any_pipeline: StylizationPipeline, options: StylizeOptions, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        contents = _contents()
        alone = [any_pipeline(content, STYLE, options, output_type="pt").rgb for content in contents]
        batches = _encoder_batches(any_pipeline, monkeypatch)
        results = any_pipeline(contents, STYLE, options, output_type="pt")
        assert isinstance(results, StylizeResults) and len(results) == len(contents)
        assert sorted(batches) == [1, 3]  # the three 32x40 contents together, the 24x24 alone
        for result, expected in zip(results, alone, strict=True):
            assert result.rgb.shape == expected.shape
            torch.testing.assert_close(result.rgb, expected, atol=2e-5, rtol=0)
            assert torch.equal(result.image, result.rgb)

    def test_batch_size_and_memory_budget_limit_a_pass(
        self, pipeline: StylizationPipeline, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        contents = _contents()
        batches = _encoder_batches(pipeline, monkeypatch)
        by_two = pipeline(contents, STYLE, output_type="pt", batch_size=2)
        assert sorted(batches) == [1, 1, 2]
        batches.clear()
        one_by_one = pipeline(contents, STYLE, output_type="pt", batch_size=1)
        assert batches == [1, 1, 1, 1]
        for first, second in zip(by_two, one_by_one, strict=True):
            torch.testing.assert_close(first.rgb, second.rgb, atol=2e-5, rtol=0)
        batches.clear()
        pipeline(
            contents, STYLE, output_type="pt", max_memory_mb=5
        )  # room for two 32x40 images a pass (2.3 MB each, fp32)
        assert sorted(batches) == [1, 1, 2]

    def test_images_in_order_in_the_output_type(self, pipeline: StylizationPipeline, tmp_path: Path) -> None:
        first, second = tmp_path / "first.png", tmp_path / "second.png"
        Image.new("RGB", (40, 24), (200, 30, 30)).save(first)
        Image.new("RGBA", (16, 32), (30, 200, 30, 128)).save(second)
        results = pipeline((first, second), STYLE)  # a tuple is a list too
        assert [image.size for image in results.images] == [(40, 24), (16, 32)]
        assert [image.mode for image in results.images] == ["RGB", "RGBA"]
        assert results[1].transparency is not None and results[0].transparency is None
        assert repr(results) == "StylizeResults(2 images: 40x24, 16x32)"
        single = pipeline(first, STYLE)
        assert isinstance(single, StylizeResult) and single.images == [single.image]
        assert len(pipeline([], STYLE)) == 0

    @pytest.mark.parametrize(
        "overrides",
        [{"refine": 1}, {"method": "attention"}, {"preserve_color": "match"}],
        ids=["refine", "attention", "match"],
    )
    def test_what_needs_its_own_pass_runs_one_by_one(
        self, pipeline: StylizationPipeline, overrides: dict[str, object], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        contents = _contents()[:3]
        options = StylizeOptions(**overrides)
        alone = [pipeline(content, STYLE, options, output_type="pt").rgb for content in contents]
        results = pipeline(contents, STYLE, options, output_type="pt")
        for result, expected in zip(results, alone, strict=True):
            torch.testing.assert_close(result.rgb, expected, atol=2e-5, rtol=0)

    def test_tiled_images_run_one_by_one(self, pipeline: StylizationPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
        generator = torch.Generator().manual_seed(6)
        contents = [torch.rand(1, 3, 64, 200, generator=generator) for _ in range(2)] + [torch.rand(1, 3, 64, 64)]
        options = StylizeOptions(tile_size=176)  # the 200-px-wide ones in two tiles, the 64x64 in one
        alone = [pipeline(content, STYLE, options, output_type="pt").rgb for content in contents]
        batches = _encoder_batches(pipeline, monkeypatch)
        results = pipeline(contents, STYLE, options, output_type="pt")
        assert batches == [1]  # the untiled one; tiles encode through the encoder directly
        for result, expected in zip(results, alone, strict=True):
            torch.testing.assert_close(result.rgb, expected, atol=2e-5, rtol=0)

    def test_masks_run_one_by_one(self, pipeline: StylizationPipeline) -> None:
        contents = [content for content in _contents() if content.shape[-1] == 40]
        mask = torch.zeros(1, 1, 32, 40)
        mask[..., :20] = 1.0
        styles = [STYLE, torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(9))]
        alone = [pipeline(content, styles, mask=mask, output_type="pt").rgb for content in contents]
        results = pipeline(contents, styles, mask=mask, output_type="pt")
        for result, expected in zip(results, alone, strict=True):
            torch.testing.assert_close(result.rgb, expected, atol=2e-5, rtol=0)

    def test_refused(self, pipeline: StylizationPipeline) -> None:
        with pytest.raises(UsageError, match="batch_size must be an integer >= 1"):
            pipeline(_contents(), STYLE, batch_size=0)
        with pytest.raises(UsageError, match="one content at a time"):
            pipeline(_contents(), STYLE, content_statistics_filter=lambda statistics: statistics)
        with pytest.raises(UsageError, match="alpha"):
            pipeline(_contents(), STYLE, alpha=2.0)
