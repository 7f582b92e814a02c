"""Progress on the slow work: ``adain stylize --method optimize`` / ``--refine`` and ``adain eval``
show a bar over the L-BFGS iterations when their bar shows (a terminal, no ``--no-progress``);
``adain eval --methods`` scores more pipeline methods."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

SMALL = ("--size", "0", "--style-size", "0")
RATE = r"\[[^\]]*(it/s|s/it)"


@pytest.fixture
def terminal(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The captured stderr claims to be a terminal, as a user's is: bars then show by default.

    On its class: capsys gives the test's call another stream object than its set-up."""
    monkeypatch.setattr(type(sys.stderr), "isatty", lambda self: True)


@pytest.fixture
def images(tmp_path: Path, make_image: Callable[..., Path]) -> Path:
    make_image(tmp_path / "content.png", 24, 16, seed=1)
    make_image(tmp_path / "style.png", 20, 20, seed=2)
    return tmp_path


def _pairs(root: Path, make_image: Callable[..., Path], count: int = 1) -> Path:
    for i in range(count):
        make_image(root / "content" / f"{i:02d}.png", 40, 32, seed=10 + i)
        make_image(root / "style" / f"{i:02d}.png", 36, 36, seed=20 + i)
    return root


@pytest.mark.usefixtures("terminal")
@pytest.mark.parametrize("method", [("--method", "optimize", "--iterations", "3"), ("--refine", "3")])
def test_stylize_shows_the_lbfgs_iterations(
    adain: Callable, images: Path, decoder_file: Path, method: tuple[str, ...]
) -> None:
    out = images / "out.png"
    result = adain(
        "stylize",
        images / "content.png",
        "--style",
        images / "style.png",
        "-o",
        out,
        "--decoder",
        decoder_file,
        *SMALL,
        *method,
    )
    assert result.code == 0, result.err
    assert "stylizing" in result.err  # the per-image bar
    assert re.search(r"L-BFGS: .*\d/3 " + RATE, result.err), result.err
    assert result.out.strip() == f"wrote {out}" and out.exists()


@pytest.mark.usefixtures("terminal")
def test_stylize_no_progress_hides_both_bars(adain: Callable, images: Path, decoder_file: Path) -> None:
    result = adain(
        "stylize",
        images / "content.png",
        "--style",
        images / "style.png",
        "-o",
        images / "out.png",
        "--decoder",
        decoder_file,
        "--refine",
        "2",
        "--no-progress",
        *SMALL,
    )
    assert result.code == 0, result.err
    assert result.err == ""


def test_stylize_off_a_terminal_shows_no_bar(adain: Callable, images: Path, decoder_file: Path) -> None:
    result = adain(
        "stylize",
        images / "content.png",
        "--style",
        images / "style.png",
        "-o",
        images / "out.png",
        "--decoder",
        decoder_file,
        "--method",
        "optimize",
        "--iterations",
        "2",
        *SMALL,
    )
    assert result.code == 0, result.err
    assert result.err == ""


def _eval(adain: Callable, pairs: Path, out: Path, decoder_file: Path, *args: object):
    return adain(
        "eval", "--decoder", decoder_file, "--pairs", pairs, "--sizes", "32", "-o", out, "--threads", "1", *args
    )


@pytest.mark.usefixtures("terminal")
def test_eval_methods_attention_with_progress(
    adain: Callable, tmp_path: Path, make_image: Callable[..., Path], decoder_file: Path
) -> None:
    pairs, out = _pairs(tmp_path / "pairs", make_image), tmp_path / "report"
    result = _eval(
        adain,
        pairs,
        out,
        decoder_file,
        "--lbfgs-iterations",
        "3",
        "--refine",
        "2",
        "--cache",
        tmp_path / "cache",
        "--methods",
        "attention",
    )
    assert result.code == 0, result.err
    # the bar over the pairs names the method being run; L-BFGS runs get their own bar
    for method in ("decoder", "decoder-attention", "refine-2", "optimize-3"):
        assert f"00 at 32: {method}" in result.err, result.err
    assert re.search(r"L-BFGS: .*\d/2 " + RATE, result.err) and re.search(r"L-BFGS: .*\d/3 " + RATE, result.err)
    report = json.loads((out / "results.json").read_text())
    methods = [row["method"] for row in report["summary"]]
    assert methods == ["content", "decoder", "decoder-attention", "refine-2", "optimize-3"]
    assert {row["method"] for row in report["pairs"]} == set(methods)
    assert "| 32 | decoder-attention |" in (out / "results.md").read_text()
    assert "decoder-attention" in result.out
    # the constructed semantic test, for the decoder and each extra method (a fraction of pixels)
    assert set(report["semantic_fraction"]) == {"decoder", "decoder-attention"}
    assert all(0.0 <= value <= 1.0 for value in report["semantic_fraction"].values())
    assert re.search(r"semantic test .*decoder \d+%, decoder-attention \d+%", result.out), result.out
    with Image.open(out / "grid_32.png") as grid:  # content, style and 5 methods, 160 px high cells
        assert grid.size[0] > 6 * 160

    quiet = _eval(
        adain, pairs, tmp_path / "quiet", decoder_file, "--lbfgs-iterations", "0", "--refine", "1", "--no-progress"
    )
    assert quiet.code == 0 and quiet.err == ""


def test_eval_methods_with_multiscale(
    adain: Callable, tmp_path: Path, make_image: Callable[..., Path], decoder_file: Path
) -> None:
    pairs, out = _pairs(tmp_path / "pairs", make_image), tmp_path / "report"
    common = ("--lbfgs-iterations", "0", "--refine", "")
    result = _eval(adain, pairs, out, decoder_file, *common, "--methods", "attention,multiscale", "--multiscale")
    assert result.code == 0, result.err
    assert result.err == ""  # off a terminal: no bars
    report = json.loads((out / "results.json").read_text())
    assert [row["method"] for row in report["summary"]] == [
        "content",
        "decoder",
        "decoder-multiscale",
        "decoder-attention",
    ]


@pytest.mark.parametrize("methods", ["sketch", "attention,optimize"])
def test_eval_unknown_method_is_a_usage_error(
    adain: Callable, tmp_path: Path, make_image: Callable[..., Path], decoder_file: Path, methods: str
) -> None:
    pairs = _pairs(tmp_path / "pairs", make_image)
    result = _eval(adain, pairs, tmp_path / "report", decoder_file, "--methods", methods)
    assert result.code == 2 and "unknown method" in result.err
    assert not (tmp_path / "report").exists()
