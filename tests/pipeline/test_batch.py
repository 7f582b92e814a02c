"""Batch planning (inputs, outputs) and a batch run that survives bad inputs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adain.errors import InputImageError, OutputError, UsageError
from adain.pipeline import StylizationPipeline, StylizeOptions
from adain.pipeline.batch import BatchInput, describe_error, expand_inputs, names_many, plan_outputs, stylize_batch


def _image(path: Path, size: tuple[int, int] = (16, 12), seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    _image(tmp_path / "photos" / "a.png")
    _image(tmp_path / "photos" / "b.JPG")
    _image(tmp_path / "photos" / "sub" / "c.webp")
    _image(tmp_path / "photos" / ".hidden.png")
    _image(tmp_path / "photos" / ".cache" / "d.png")
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    _image(tmp_path / "loose" / "x.png")
    _image(tmp_path / "loose" / "y.png")
    return tmp_path


def _names(inputs: list[BatchInput]) -> list[str]:
    return [item.relative.as_posix() for item in inputs]


def test_folder_expands_recursively_to_images(tree: Path) -> None:
    inputs = expand_inputs([tree / "photos"])
    assert _names(inputs) == ["a.png", "b.JPG", "sub/c.webp"]
    assert all(item.problem is None for item in inputs)


def test_globs_expand_and_repeats_are_dropped(tree: Path) -> None:
    inputs = expand_inputs(
        [str(tree / "loose" / "*.png"), tree / "loose" / "x.png", str(tree / "photos" / "**" / "*.webp")]
    )
    assert _names(inputs) == ["x.png", "y.png", "c.webp"]


def test_missing_file_and_empty_glob_are_kept_as_problems(tree: Path) -> None:
    inputs = expand_inputs([tree / "absent.png", str(tree / "none-*.png")])
    assert inputs[0].problem is None and inputs[0].path == tree / "absent.png"  # the loader reports it
    assert inputs[1].problem is not None and "no files match" in inputs[1].problem


def test_output_folder_is_excluded(tree: Path) -> None:
    _image(tree / "photos" / "out" / "a_stylized.png")
    assert _names(expand_inputs([tree / "photos"], exclude=tree / "photos" / "out")) == ["a.png", "b.JPG", "sub/c.webp"]


def test_single_input_output_file(tree: Path) -> None:
    inputs = expand_inputs([tree / "loose" / "x.png"])
    (job,) = plan_outputs(inputs, tree / "result.jpg")
    assert job.output == tree / "result.jpg"
    (job,) = plan_outputs(inputs, str(tree / "new-folder") + "/")
    assert job.output == tree / "new-folder" / "x_stylized.png"
    (job,) = plan_outputs(inputs, tree / "photos")  # an existing folder
    assert job.output == tree / "photos" / "x_stylized.png"


def test_default_output_is_the_current_folder(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    (job,) = plan_outputs(expand_inputs([tree / "loose" / "x.png"]))
    assert job.output == tree / "x_stylized.png"


def test_several_inputs_mirror_folders_and_avoid_collisions(tree: Path) -> None:
    _image(tree / "other" / "a.png")
    inputs = expand_inputs([tree / "photos", tree / "other" / "a.png"])
    jobs = plan_outputs(inputs, tree / "out")
    assert [job.output.relative_to(tree / "out").as_posix() for job in jobs] == [
        "a_stylized.png",
        "b_stylized.png",
        "sub/c_stylized.png",
        "a_stylized-2.png",
    ]


def test_output_errors(tree: Path) -> None:
    one = expand_inputs([tree / "loose" / "x.png"])
    several = expand_inputs([tree / "loose"])
    with pytest.raises(UsageError, match=r"'\.gif'"):
        plan_outputs(one, tree / "out.gif")
    with pytest.raises(UsageError, match="folder"):
        plan_outputs(several, tree / "loose" / "x.png")  # an existing file
    with pytest.raises(UsageError, match="folder"):
        plan_outputs(several, tree / "new.png")
    with pytest.raises(OutputError, match="not a directory"):
        plan_outputs(one, tree / "loose" / "x.png" / "out.png")
    with pytest.raises(OutputError, match="not a directory"):
        plan_outputs(several, tree / "loose" / "x.png" / "out")


def test_batch_continues_after_a_failure(pipeline: StylizationPipeline, tree: Path) -> None:
    (tree / "loose" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    inputs = expand_inputs(
        [tree / "loose" / "x.png", tree / "loose" / "broken.png", tree / "loose" / "y.png", str(tree / "zz*.png")]
    )
    jobs = plan_outputs(inputs, tree / "out")
    style = pipeline.style_statistics(_image(tree / "style.png", (16, 16), seed=3))
    seen: list[tuple[Path, BaseException]] = []
    report = stylize_batch(pipeline, jobs, style, StylizeOptions(), on_failure=lambda p, m: seen.append((p, m)))
    assert [p.name for p in report.written] == ["x_stylized.png", "y_stylized.png"]
    assert sorted(p.name for p in (tree / "out").iterdir()) == ["x_stylized.png", "y_stylized.png"]
    assert [p.name for p, _ in report.failures] == ["broken.png", "zz*.png"]
    assert isinstance(report.failures[0][1], InputImageError)
    assert [describe_error(error) for _, error in seen][1] == f"no files match {str(tree / 'zz*.png')!r}"
    assert report.summary().startswith("2 stylized, 2 failed: ")
    assert not report.ok
    assert Image.open(tree / "out" / "x_stylized.png").size == (16, 12)


def test_a_folder_or_glob_with_one_image_still_writes_into_a_folder(tree: Path) -> None:
    specs = [tree / "photos" / "sub"]
    assert names_many(specs) and names_many([str(tree / "loose" / "x*.png")])
    assert not names_many([tree / "loose" / "x.png"])
    (job,) = plan_outputs(expand_inputs(specs), tree / "out", output_is_folder=names_many(specs))
    assert job.output == tree / "out" / "c_stylized.png"


def test_describe_error() -> None:
    assert describe_error(InputImageError("image not found: 'x'")) == "image not found: 'x'"
    assert describe_error(RuntimeError("boom")) == "internal error: RuntimeError: boom"


# -- hostile members (issue 15) ------------------------------------------------------------------


def test_symlink_loops_and_long_names_do_not_stop_planning(tree: Path) -> None:
    loose = tree / "loose"
    (loose / "loop.png").symlink_to(loose / "loop.png")
    os.mkfifo(loose / "pipe.png")
    long_name = tree / ("n" * 300 + ".png")
    assert not names_many([long_name])
    inputs = expand_inputs([loose, long_name, str(tree / "zz*.png")])
    assert _names(inputs) == ["loop.png", "pipe.png", "x.png", "y.png", long_name.name, "zz*.png"]
    jobs = plan_outputs(inputs, tree / "out")
    assert len(jobs) == 6


def test_a_batch_counts_its_special_files_and_writes_every_good_one(pipeline: StylizationPipeline, tree: Path) -> None:
    loose = tree / "loose"
    (loose / "loop.png").symlink_to(loose / "loop.png")
    os.mkfifo(loose / "pipe.png")
    (loose / "null.png").symlink_to("/dev/null")
    long_input = _image(loose / ("l" * 246 + ".png"))  # its output name, "<stem>_stylized.png", is 259 bytes
    jobs = plan_outputs(expand_inputs([loose]), tree / "out")
    style = pipeline.style_statistics(_image(tree / "style.png", (16, 16), seed=3))
    report = stylize_batch(pipeline, jobs, style, StylizeOptions())
    assert sorted(p.name for p in report.written) == ["x_stylized.png", "y_stylized.png"]
    failures = {path.name: error for path, error in report.failures}
    assert sorted(failures) == sorted(["loop.png", "pipe.png", "null.png", long_input.name])
    assert "loop of symbolic links" in str(failures["loop.png"]) and "FIFO" in str(failures["pipe.png"])
    assert "character device" in str(failures["null.png"])
    assert isinstance(failures[long_input.name], OutputError) and "too long" in str(failures[long_input.name])
    assert report.summary().startswith("2 stylized, 4 failed: ")
    assert sorted(p.name for p in (tree / "out").iterdir()) == ["x_stylized.png", "y_stylized.png"]


def test_output_paths_the_file_system_cannot_hold(tree: Path) -> None:
    one = expand_inputs([tree / "loose" / "x.png"])
    with pytest.raises(UsageError, match="must name a file or a folder"):
        plan_outputs(one, "")
    with pytest.raises(OutputError, match="304 bytes long"):
        plan_outputs(one, tree / ("n" * 300 + ".png"))
    with pytest.raises(OutputError, match="longer than this file system allows"):
        plan_outputs(one, tree.joinpath(*["d" * 200] * 25, "out.png"))
