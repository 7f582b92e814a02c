"""``adain stylize --max-memory`` / ``--memory-budget`` and ``--multiscale``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from adain.pipeline.options import StylizeOptions
from adain.pipeline.stylize import PreparedContent, StylizationPipeline
from adain.pipeline.tiling import DEFAULT_MAX_MEMORY_MB, TilePlan


@pytest.fixture
def images(tmp_path: Path, make_image: Callable[..., Path]) -> tuple[Path, Path]:
    return make_image(tmp_path / "content.png", 48, 40), make_image(tmp_path / "style.png", 32, 32, seed=1)


@pytest.fixture
def budgets(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """The memory budget every stylization was planned with."""
    seen: list[float | None] = []
    plan = StylizationPipeline.plan_tiles

    def spy(self: StylizationPipeline, content: PreparedContent, options: StylizeOptions) -> TilePlan:
        seen.append(options.max_memory_mb)
        return plan(self, content, options)

    monkeypatch.setattr(StylizationPipeline, "plan_tiles", spy)
    return seen


@pytest.mark.parametrize(
    "flags,budget",
    [
        ([], DEFAULT_MAX_MEMORY_MB),
        (["--max-memory", "300"], 300),
        (["--memory-budget", "250.5"], 250.5),
        (["--max-memory", "0"], None),
        (["--refine", "1"], None),  # optimization works on the whole image: no default budget
        (["--multiscale"], DEFAULT_MAX_MEMORY_MB),
    ],
)
def test_budget_flag(
    adain: Callable,
    images: tuple[Path, Path],
    decoder_file: Path,
    tmp_path: Path,
    budgets: list[float | None],
    flags: list[str],
    budget: float | None,
) -> None:
    content, style = images
    result = adain(
        "stylize",
        content,
        "--style",
        style,
        "--decoder",
        decoder_file,
        "-o",
        tmp_path / "out.png",
        "--size",
        "0",
        "--style-size",
        "0",
        *flags,
    )
    assert result.code == 0, result.err
    assert (tmp_path / "out.png").is_file()
    assert budgets and set(budgets) == {budget}


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--max-memory", "-5"], "--max-memory must be a number of MB >= 0"),
        (["--max-memory", "lots"], "--max-memory must be a number"),
        (["--max-memory", "500", "--method", "optimize"], "cannot be tiled"),
        (["--multiscale", "--method", "optimize"], "does not apply to --method optimize"),
        (["--max-memory", "1"], "too small for a 48x40 image"),
    ],
)
def test_bad_budget_is_a_usage_error(
    adain: Callable, images: tuple[Path, Path], decoder_file: Path, tmp_path: Path, flags: list[str], message: str
) -> None:
    content, style = images
    result = adain(
        "stylize",
        content,
        "--style",
        style,
        "--decoder",
        decoder_file,
        "-o",
        tmp_path / "out.png",
        "--size",
        "0",
        "--style-size",
        "0",
        *flags,
    )
    assert result.code == 2
    assert len(result.err_lines) == 1 and message in result.err
    assert not (tmp_path / "out.png").exists()
