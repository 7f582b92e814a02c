"""``evaluate(extra_methods=...)``: more pipeline methods scored like the decoder; and its progress
bars: one over the pairs naming the method being run, one over each L-BFGS run's iterations."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adain.errors import UsageError
from adain.eval.evaluate import EvalConfig, evaluate, summarize
from adain.pipeline import StylizationPipeline, StylizeOptions


def make_pairs(root: Path, count: int) -> Path:
    rng = np.random.default_rng(1)
    for kind in ("content", "style"):
        (root / kind).mkdir(parents=True)
        for i in range(count):
            small = rng.integers(0, 255, (5, 6, 3), dtype=np.uint8)
            Image.fromarray(small).resize((48, 40), Image.Resampling.BICUBIC).save(root / kind / f"{i:02d}.png")
    return root


def stylizer(pipeline: StylizationPipeline, **options: object):
    return lambda content, style: pipeline(content, style, StylizeOptions(**options), output_type="pt").rgb


def test_extra_methods_are_scored_like_the_decoder_in_order(tmp_path: Path, pipeline: StylizationPipeline) -> None:
    config = EvalConfig(tmp_path / "pairs", tmp_path / "out", sizes=(32,), lbfgs_iterations=0, refine_iterations=(1,))
    make_pairs(config.pairs_dir, 2)
    scores, images = evaluate(
        pipeline.encoder,
        stylizer(pipeline),
        config,
        "test",
        progress=False,
        stylize_multiscale=stylizer(pipeline, multiscale=True),
        extra_methods={"decoder-attention": stylizer(pipeline, method="attention")},
    )
    methods = ["content", "decoder", "decoder-multiscale", "decoder-attention", "refine-1"]
    assert [row["method"] for row in summarize(scores)] == methods
    assert all(len(row) == 2 + len(methods) for row in images[32])  # content, style, every method
    by = {(s.pair, s.method): s for s in scores}
    # attention at the default temperature is not plain AdaIN; below 1024 px multi-scale is
    assert by["00", "decoder-attention"].style_loss != by["00", "decoder"].style_loss
    assert by["00", "decoder-multiscale"].style_loss == pytest.approx(by["00", "decoder"].style_loss)
    assert all(by[p, "decoder-attention"].seconds > 0 for p in ("00", "01"))


@pytest.mark.parametrize("name", ["decoder", "content", "refine-3", "optimize-100", "", "decoder-multiscale"])
def test_extra_method_names_must_be_new(tmp_path: Path, pipeline: StylizationPipeline, name: str) -> None:
    config = EvalConfig(tmp_path / "pairs", tmp_path / "out", sizes=(32,), lbfgs_iterations=0, refine_iterations=())
    make_pairs(config.pairs_dir, 1)
    plain = stylizer(pipeline)
    with pytest.raises(UsageError, match="extra method names"):
        evaluate(
            pipeline.encoder,
            plain,
            config,
            "test",
            progress=False,
            stylize_multiscale=plain,
            extra_methods={name: plain},
        )


def test_progress_names_the_method_and_counts_lbfgs_iterations(
    tmp_path: Path, pipeline: StylizationPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    config = EvalConfig(
        tmp_path / "pairs",
        tmp_path / "out",
        sizes=(32,),
        lbfgs_iterations=3,
        refine_iterations=(2,),
        cache_dir=tmp_path / "cache",
    )
    make_pairs(config.pairs_dir, 1)
    extra = {"decoder-attention": stylizer(pipeline, method="attention")}
    capsys.readouterr()
    evaluate(pipeline.encoder, stylizer(pipeline), config, "test", progress=False, extra_methods=extra)
    assert capsys.readouterr() == ("", "")
    evaluate(pipeline.encoder, stylizer(pipeline), config, "test", progress=None, extra_methods=extra)
    assert capsys.readouterr().err == ""  # None: only on a terminal, and the captured stderr is not one

    config.cache_dir = tmp_path / "fresh-cache"
    evaluate(pipeline.encoder, stylizer(pipeline), config, "test", progress=True, extra_methods=extra)
    err = capsys.readouterr().err
    for method in ("decoder", "decoder-attention", "refine-2", "optimize-3"):
        assert f"00 at 32: {method}" in err, err
    assert re.search(r"eval: .*1/1 \[", err)  # the bar over the pairs
    # refine-2 and optimize-3: one bar each over their iterations, with a rate
    assert re.search(r"L-BFGS: .*\d/2 \[[^\]]*(it/s|s/it)", err), err
    assert re.search(r"L-BFGS: .*\d/3 \[[^\]]*(it/s|s/it)", err), err

    # the cached optimize-3 runs no L-BFGS: no bar over 3 iterations
    evaluate(pipeline.encoder, stylizer(pipeline), config, "test", progress=True, extra_methods=extra)
    err = capsys.readouterr().err
    assert "00 at 32: optimize-3" in err and re.search(r"L-BFGS: .*/2 \[", err)
    assert not re.search(r"L-BFGS: [^\r]*/3 \[", err), err


def test_scores_do_not_depend_on_progress(tmp_path: Path, pipeline: StylizationPipeline) -> None:
    config = EvalConfig(tmp_path / "pairs", tmp_path / "out", sizes=(32,), lbfgs_iterations=2, refine_iterations=(1,))
    make_pairs(config.pairs_dir, 1)
    runs = [evaluate(pipeline.encoder, stylizer(pipeline), config, "test", progress=p)[0] for p in (False, True)]
    assert [(s.method, s.content_loss, s.style_loss) for s in runs[0]] == [
        (s.method, s.content_loss, s.style_loss) for s in runs[1]
    ]
