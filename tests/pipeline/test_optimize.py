"""Optimization on the AdaIN objective: the reference, ``--method optimize`` and ``--refine``."""

from __future__ import annotations

import re

import pytest
import torch

from adain.errors import UsageError
from adain.ops.losses import content_loss
from adain.pipeline.optimize import AdainObjective, ObjectiveWeights, optimize_image
from adain.pipeline.stylize import StylizationPipeline


@pytest.fixture
def images() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    content = torch.nn.functional.interpolate(
        torch.rand(1, 3, 6, 8, generator=generator), size=(32, 40), mode="bilinear"
    )
    style = torch.rand(1, 3, 32, 32, generator=generator)
    return content, style


class TestAdainObjective:
    def test_content_term_is_content_loss_to_the_adain_target(self, pipeline: StylizationPipeline, images) -> None:
        content, style = images
        objective = AdainObjective.from_style_image(pipeline.encoder, content, style)
        with torch.no_grad():
            losses = objective.losses(content)
            expected = content_loss(pipeline.encoder(content)["relu4_1"], objective.target).mean()
        torch.testing.assert_close(losses["content"], expected)
        torch.testing.assert_close(losses["loss"], losses["content"] + 10 * losses["style"])

    def test_style_term_is_zero_for_the_style_itself(self, pipeline: StylizationPipeline, images) -> None:
        _, style = images
        objective = AdainObjective.from_style_image(pipeline.encoder, style, style, ObjectiveWeights(1.0, 1.0))
        with torch.no_grad():
            assert float(objective.losses(style)["style"]) < 1e-6

    def test_needs_every_tap(self, pipeline: StylizationPipeline, images) -> None:
        _content, _ = images
        stats = {"relu4_1": torch.zeros(1, 512, 1, 1)}
        with pytest.raises(UsageError, match="missing"):
            AdainObjective(pipeline.encoder, torch.zeros(1, 512, 4, 5), stats, stats)


class TestOptimizeImage:
    def test_lowers_the_objective(self, pipeline: StylizationPipeline, images) -> None:
        content, style = images
        objective = AdainObjective.from_style_image(pipeline.encoder, content, style)
        result = optimize_image(objective, content, iterations=5)
        with torch.no_grad():
            before, after = float(objective.losses(content)["loss"]), float(objective.losses(result)["loss"])
        assert after < 0.7 * before
        assert result.shape == content.shape and 0 <= float(result.min()) and float(result.max()) <= 1

    def test_zero_iterations_returns_the_start(self, pipeline: StylizationPipeline, images) -> None:
        content, style = images
        objective = AdainObjective.from_style_image(pipeline.encoder, content, style)
        assert torch.equal(optimize_image(objective, content, iterations=0), content.clamp(0, 1))
        with pytest.raises(UsageError):
            optimize_image(objective, content, iterations=-1)

    def test_works_inside_inference_mode(self, pipeline: StylizationPipeline, images) -> None:
        content, style = images
        with torch.inference_mode():
            objective = AdainObjective.from_style_image(pipeline.encoder, content, style)
            result = optimize_image(objective, content, iterations=2)
        assert torch.isfinite(result).all()


class TestPipelineMethods:
    def test_optimize_method(self, pipeline: StylizationPipeline, images) -> None:
        content, style = images
        result = pipeline(content, style, output_type="pt", method="optimize", iterations=3)
        assert result.rgb.shape == content.shape
        objective = AdainObjective.from_style_image(pipeline.encoder, content, style)
        with torch.no_grad():
            assert float(objective.losses(result.rgb)["loss"]) < float(objective.losses(content)["loss"])

    def test_refine_improves_the_decoder_output(self, pipeline: StylizationPipeline, images) -> None:
        content, style = images
        plain = pipeline(content, style, output_type="pt").rgb
        refined = pipeline(content, style, output_type="pt", refine=3).rgb
        objective = AdainObjective.from_style_image(pipeline.encoder, content, style)
        with torch.no_grad():
            assert float(objective.losses(refined)["loss"]) < float(objective.losses(plain)["loss"])

    @pytest.mark.parametrize(
        "overrides",
        [
            dict(method="sketch"),
            dict(iterations=-1),
            dict(refine=-2),
            dict(method="optimize", mask=torch.ones(1, 1, 32, 40)),
        ],
    )
    def test_bad_options(self, pipeline: StylizationPipeline, images, overrides) -> None:
        content, style = images
        with pytest.raises(UsageError):
            pipeline(content, style, **overrides)


class TestProgress:
    """The L-BFGS bar counts iterations (not function evaluations), with a rate, on stderr."""

    def test_bar_over_the_iterations(self, pipeline: StylizationPipeline, images, capsys) -> None:
        content, style = images
        objective = AdainObjective.from_style_image(pipeline.encoder, content, style)
        capsys.readouterr()
        optimize_image(objective, content, iterations=3, progress=True)
        captured = capsys.readouterr()
        assert captured.out == ""
        assert "L-BFGS" in captured.err and "/3 [" in captured.err and "/6" not in captured.err
        assert re.search(r"\| 3/3 \[[^\]]*(it/s|s/it)", captured.err), captured.err
        assert captured.err.endswith("\r")  # removed when done (leave=False)

    def test_silent_when_off(self, pipeline: StylizationPipeline, images, capsys) -> None:
        content, style = images
        objective = AdainObjective.from_style_image(pipeline.encoder, content, style)
        capsys.readouterr()
        optimize_image(objective, content, iterations=2)
        optimize_image(objective, content, iterations=0, progress=True)
        assert capsys.readouterr() == ("", "")

    @pytest.mark.parametrize("overrides", [dict(method="optimize", iterations=3), dict(refine=3)])
    def test_pipeline_option(self, pipeline: StylizationPipeline, images, capsys, overrides) -> None:
        content, style = images
        capsys.readouterr()
        quiet = pipeline(content, style, output_type="pt", **overrides).rgb
        assert capsys.readouterr().err == ""
        shown = pipeline(content, style, output_type="pt", progress=True, **overrides).rgb
        err = capsys.readouterr().err
        assert "L-BFGS" in err and re.search(r"\d/3 \[[^\]]*(it/s|s/it)", err), err
        torch.testing.assert_close(shown, quiet)  # the bar does not change the image
