"""``adain eval``: every method scored on every pair, reports written, L-BFGS outputs cached."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adain.cli.main import main
from adain.errors import UsageError
from adain.eval.evaluate import MethodScore, find_pairs, summarize, summarize_by_complexity


def make_pairs(root: Path, count: int = 2) -> Path:
    rng = np.random.default_rng(0)
    for kind in ("content", "style"):
        (root / kind).mkdir(parents=True)
        for i in range(count):
            small = rng.integers(0, 255, (5, 6, 3), dtype=np.uint8)
            Image.fromarray(small).resize((48, 40), Image.Resampling.BICUBIC).save(root / kind / f"{i:02d}.png")
    return root


def run_eval(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main(["eval", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_eval_reports(tmp_path: Path, decoder_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pairs = make_pairs(tmp_path / "pairs")
    out, cache = tmp_path / "report", tmp_path / "cache"
    args = [
        "--decoder",
        decoder_file,
        "--pairs",
        pairs,
        "--sizes",
        "32",
        "--lbfgs-iterations",
        "3",
        "--refine",
        "1",
        "-o",
        out,
        "--cache",
        cache,
        "--no-progress",
        "--threads",
        "1",
    ]
    code, _stdout, stderr = run_eval(capsys, *args)
    assert code == 0, stderr
    report = json.loads((out / "results.json").read_text())
    methods = {(row["size"], row["method"]) for row in report["summary"]}
    assert methods == {(32, "content"), (32, "decoder"), (32, "refine-1"), (32, "optimize-3")}
    assert len(report["pairs"]) == 2 * 4
    by_method = {row["method"]: row for row in report["summary"]}
    assert by_method["content"]["ssim"] == pytest.approx(1.0)
    # the optimization reference improves on the content it starts from
    objective = lambda row: row["content_loss"] + 10 * row["style_loss"]  # noqa: E731
    assert objective(by_method["optimize-3"]) < objective(by_method["content"])
    assert objective(by_method["refine-1"]) <= objective(by_method["decoder"]) * 1.0001
    assert "| 32 | decoder |" in (out / "results.md").read_text()
    # every pair's content complexity, and the methods split into its simpler and more complex half
    assert all(row["content_complexity"] > 0 for row in report["pairs"])
    halves = {(row["method"], row["half"]) for row in report["by_complexity"]}
    assert halves == {
        (m, h) for m in ("content", "decoder", "refine-1", "optimize-3") for h in ("simpler", "more complex")
    }
    assert "## By content complexity" in (out / "results.md").read_text()
    grid = Image.open(out / "grid_32.png")
    assert grid.size[0] > grid.size[1] and grid.size[1] >= 2 * 100
    assert report["command"].startswith("adain eval") and report["decoder_sha256"]
    cached = sorted(cache.glob("*.safetensors"))
    assert len(cached) == 2
    mtimes = [p.stat().st_mtime_ns for p in cached]
    code, _, _ = run_eval(capsys, *args)
    assert code == 0
    assert [p.stat().st_mtime_ns for p in sorted(cache.glob("*.safetensors"))] == mtimes  # reused, not recomputed
    again = json.loads((out / "results.json").read_text())
    first_opt = [p for p in report["pairs"] if p["method"] == "optimize-3"]
    second_opt = [p for p in again["pairs"] if p["method"] == "optimize-3"]
    assert first_opt == second_opt


def test_eval_scores_a_multilevel_decoder(
    tmp_path: Path, multilevel_decoder_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = make_pairs(tmp_path / "pairs")
    code, _, stderr = run_eval(
        capsys,
        "--decoder",
        multilevel_decoder_file,
        "--pairs",
        pairs,
        "--sizes",
        "32",
        "--lbfgs-iterations",
        "0",
        "--refine",
        "1",
        "-o",
        tmp_path / "report",
        "--no-progress",
        "--threads",
        "1",
    )
    assert code == 0, stderr
    report = json.loads((tmp_path / "report" / "results.json").read_text())
    assert {row["method"] for row in report["summary"]} == {"content", "decoder", "refine-1"}
    assert report["decoder"].endswith("random-multilevel-decoder.safetensors") or report.get("decoder_sha256")


def test_find_pairs_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="content"):
        find_pairs(tmp_path)
    pairs = make_pairs(tmp_path / "p")
    (pairs / "style" / "01.png").unlink()
    with pytest.raises(UsageError, match="same non-zero number"):
        find_pairs(pairs)


def test_eval_bad_pairs_exit_code(tmp_path: Path, decoder_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = run_eval(capsys, "--decoder", decoder_file, "--pairs", tmp_path / "none", "-o", tmp_path / "r")
    assert code == 2 and len(stderr.strip().splitlines()) == 1


@pytest.mark.shared_data
def test_val_pairs_exist_in_shared_data() -> None:
    val = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "val"
    if not val.is_dir():
        pytest.skip("../shared/data/val is not beside this checkout (fresh clone elsewhere)")
    assert len(find_pairs(val)) == 12


def test_summarize_by_complexity_splits_at_the_median() -> None:
    scores = [
        MethodScore(
            f"p{i}",
            256,
            method,
            content_loss=float(i),
            style_loss=10.0 * i,
            ssim=0.5,
            seconds=0.0,
            content_complexity=complexity,
        )
        for i, complexity in enumerate((0.30, 0.10, 0.20, 0.40, 0.25))
        for method in ("decoder", "content")
    ]
    rows = {(r["method"], r["half"]): r for r in summarize_by_complexity(scores)}
    assert set(rows) == {(m, h) for m in ("decoder", "content") for h in ("simpler", "more complex")}
    # 5 pairs: the two simplest (p1, p2) and the two most complex (p3, p0); the median p4 in neither
    assert rows["decoder", "simpler"]["pairs"] == rows["decoder", "more complex"]["pairs"] == 2
    assert rows["decoder", "simpler"]["content_loss"] == pytest.approx(1.5)
    assert rows["decoder", "more complex"]["content_loss"] == pytest.approx(1.5)
    assert rows["decoder", "more complex"]["style_loss"] == pytest.approx(15.0)
    assert rows["decoder", "simpler"]["content_complexity"] == pytest.approx(0.15)
    assert rows["decoder", "more complex"]["content_complexity"] == pytest.approx(0.35)


def test_summarize_reports_means_and_medians() -> None:
    """One outlier pair moves the mean, not the median."""
    styles = (100.0, 120.0, 140.0, 2000.0)
    scores = [
        MethodScore(f"p{i}", 256, "decoder", content_loss=float(10 + i), style_loss=style, ssim=0.5, seconds=1.0)
        for i, style in enumerate(styles)
    ]
    (row,) = summarize(scores)
    assert row["pairs"] == 4
    assert row["style_loss"] == pytest.approx(590.0) and row["style_loss_median"] == pytest.approx(130.0)
    assert row["content_loss"] == pytest.approx(11.5) and row["content_loss_median"] == pytest.approx(11.5)


def test_the_report_names_the_preset_decoder_it_scored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --decoder the report still says which weights it scored, so a shipped decoder's eval can be checked."""
    from adain.weights import prepare
    from adain.weights.store import file_sha256

    pairs = make_pairs(tmp_path / "pairs", count=1)
    code, _, stderr = run_eval(
        capsys,
        "--pairs",
        pairs,
        "--sizes",
        "32",
        "--lbfgs-iterations",
        "0",
        "--refine",
        "",
        "-o",
        tmp_path / "report",
        "--no-progress",
        "--threads",
        "1",
    )
    assert code == 0, stderr
    report = json.loads((tmp_path / "report" / "results.json").read_text())
    default = prepare("vgg16-hed", ("decoder",), progress=False)["decoder"]
    assert report["decoder"] == str(default) and report["decoder_sha256"] == file_sha256(default)


def test_fast_is_scored_by_its_teachers_encoder(
    fast_home: Path, decoder_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``adain eval --preset fast`` stylizes with the students (random here: tests/conftest.py's
    fast_home) and measures the losses with vgg16-hed's encoder, never the student's: the
    content's scores and the L-BFGS reference (from the same cache) are vgg16-hed's exactly."""
    import torch

    from adain.eval.evaluate import loss_encoder_preset
    from adain.image.io import load_image
    from adain.models import CompactEncoder
    from adain.pipeline.optimize import AdainObjective
    from adain.weights import load_encoder, prepare
    from adain.weights.store import file_sha256

    assert loss_encoder_preset("fast") == "vgg16-hed" and loss_encoder_preset("vgg19") == "vgg19"
    pairs, cache = make_pairs(tmp_path / "pairs", count=1), tmp_path / "cache"
    common = ["--pairs", pairs, "--sizes", "40", "--lbfgs-iterations", "2", "--refine", "1"]
    common += ["--cache", cache, "--no-progress", "--threads", "1"]
    reports = {}
    for preset, decoder in (("vgg16-hed", ["--decoder", decoder_file]), ("fast", [])):
        code, _, stderr = run_eval(capsys, "--preset", preset, *decoder, *common, "-o", tmp_path / preset)
        assert code == 0, stderr
        reports[preset] = json.loads((tmp_path / preset / "results.json").read_text())
    teacher_file = prepare("vgg16-hed", ("encoder",), progress=False)["encoder"]
    for report in reports.values():
        assert report["loss_encoder"] == "vgg16-hed" and report["loss_encoder_sha256"] == file_sha256(teacher_file)
    # the report names the encoder that stylized: the student's file for fast, the teacher's otherwise
    student_file = prepare("fast", ("encoder",), progress=False)["encoder"]
    assert reports["fast"]["encoder_sha256"] == file_sha256(student_file) != file_sha256(teacher_file)
    assert reports["vgg16-hed"]["encoder_sha256"] == file_sha256(teacher_file)
    fast = {row["method"]: row for row in reports["fast"]["pairs"]}
    default = {row["method"]: row for row in reports["vgg16-hed"]["pairs"]}
    assert reports["fast"]["preset"] == "fast" and set(fast) == {"content", "decoder", "refine-1", "optimize-2"}
    for method in ("content", "optimize-2"):  # the same encoder, pair and size: the same scores
        assert (fast[method]["content_loss"], fast[method]["style_loss"]) == (
            default[method]["content_loss"],
            default[method]["style_loss"],
        )
    assert len(list(cache.glob("*.safetensors"))) == 1  # fast's L-BFGS reference came from vgg16-hed's cache
    # ... and scored by the student, the content would have scored otherwise
    student = load_encoder("fast")
    assert isinstance(student, CompactEncoder)
    content = load_image(pairs / "content" / "00.png").rgb
    style = load_image(pairs / "style" / "00.png").rgb
    with torch.no_grad():
        by_student = AdainObjective.from_style_image(student, content, style).losses(content)
    assert abs(float(by_student["style"]) - fast["content"]["style_loss"]) > 1e-3 * fast["content"]["style_loss"]


def test_evaluate_refuses_a_student_as_the_loss_encoder(tmp_path: Path) -> None:
    from adain.eval.evaluate import EvalConfig, evaluate
    from adain.models import CompactEncoder

    config = EvalConfig(pairs_dir=make_pairs(tmp_path / "pairs", count=1), out_dir=tmp_path / "out")
    with pytest.raises(UsageError, match="would grade itself"):
        evaluate(CompactEncoder(), lambda content, style: content, config, encoder_id="x")  # type: ignore[arg-type]
