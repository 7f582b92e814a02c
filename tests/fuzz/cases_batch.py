"""Corpus cases: batches (folders, globs, several files) with hostile members among good ones.

A batch must go on past every bad member (a symlink loop, a FIFO, a device, an empty, truncated
or foreign file, an output name too long for the file system), count it in its summary, and
write every good one. Each case runs what ``adain stylize INPUT... -o OUT --size 0`` runs and
checks the report: how many were written, how many failed, and that each failure is our typed
error naming its file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from adain_corpus import Case, _load

from adain.errors import AdainError, InputImageError, OutputError, UsageError

images = _load(Path(__file__).with_name("cases_images.py"))

STYLE = "bank:antimonocromatismo"
GOOD_FORMATS = (("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP"), ("bmp", "BMP"), ("tif", "TIFF"), ("gif", "GIF"))


def _good(folder: Path, count: int, prefix: str = "good") -> None:
    for k in range(count):
        extension, fmt = GOOD_FORMATS[k % len(GOOD_FORMATS)]
        mode = "P" if fmt == "GIF" else "RGB"
        (folder / f"{prefix}-{k:02d}.{extension}").write_bytes(
            images.encode(images.noise(f"batch-{k}", mode, 16, 12), fmt)
        )


def _bad(folder: Path) -> int:
    """Ten members that must each fail on their own; returns how many."""
    (folder / "loop.png").symlink_to(folder / "loop.png")
    os.mkfifo(folder / "pipe.png")
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.jpg").write_bytes(b"these are not pixels\n")
    (folder / "cut.png").write_bytes(images.cut(images.encoded("PNG"), minus=17)())
    (folder / "drawing.png").write_bytes(images.EPS)
    (folder / "null.png").symlink_to("/dev/null")
    (folder / "dangling.png").symlink_to(folder / "gone" / "x.png")
    (folder / "trns.png").write_bytes(images.palette_png(4, 300))
    (folder / "promise.jpg").write_bytes(images.jpeg_set_frame(images.encoded("JPEG", width=64, height=48), 640, 480)())
    return 10


Specs = Callable[[Path], Sequence[str]]
Output = Callable[[Path, Path], Path]


def _run(written: int, failed: int, specs: Specs | None = None, output: Output | None = None, failure=InputImageError):
    """The batch ``adain stylize`` runs: expand, plan, encode the style once, stylize every job."""

    def run(folder: object, out: Path) -> None:
        from adain.pipeline import StylizeOptions
        from adain.pipeline.batch import encode_styles_once, expand_inputs, plan_outputs, stylize_batch
        from adain.pipeline.tiling import DEFAULT_MAX_MEMORY_MB

        given = specs(Path(str(folder))) if specs is not None else [str(folder)]
        target = output(Path(str(folder)), out) if output is not None else out
        inputs = expand_inputs(given, exclude=target)
        if not inputs:
            raise AdainError(f"no images found in {', '.join(repr(s) for s in given)}")
        jobs = plan_outputs(inputs, target, output_is_folder=True)
        pipeline = images.pipeline()
        options = StylizeOptions(size=0, max_memory_mb=DEFAULT_MAX_MEMORY_MB).check()
        styles, options = encode_styles_once(pipeline, [images.bank_style(STYLE)], options)
        report = stylize_batch(pipeline, jobs, styles, options, progress=False)
        if not report.written and report.failures:
            raise AdainError(report.summary())
        assert (len(report.written), len(report.failures)) == (written, failed), report.summary()
        assert all(path.exists() for path in report.written)
        assert report.summary().startswith(f"{written} stylized" + (f", {failed} failed" if failed else ""))
        for path, error in report.failures:
            assert isinstance(error, failure), f"{path}: {type(error).__name__}: {error}"
            assert path.stem in str(error), f"{path}: {error}"  # the input, or its output named after it

    return run


def _cli(specs: Specs | None = None, output: Output | None = None):
    def cli(folder: object, out: Path) -> list[str]:
        given = specs(Path(str(folder))) if specs is not None else [str(folder)]
        target = output(Path(str(folder)), out) if output is not None else out
        return ["stylize", *given, "--style", STYLE, "-o", str(target), "--size", "0", "--no-progress"]

    return cli


def _folder(build: Callable[[Path], None]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        photos = folder / "photos"
        photos.mkdir()
        build(photos)
        return photos

    return make


def _twenty_good_ten_bad(folder: Path) -> None:
    _good(folder, 20)
    _bad(folder)


def _long_names(folder: Path) -> None:
    _good(folder, 2)
    for k in range(2):  # 250-byte names: fine as inputs, but "<stem>_stylized.png" is 259 bytes
        (folder / (f"{k}" + "x" * 245 + ".png")).write_bytes(
            images.encode(images.noise(f"long-{k}", "RGB", 16, 12), "PNG")
        )


def _nested(folder: Path) -> None:
    for sub in ("a", "b", "a/deeper"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        _good(folder / sub, 1, prefix="same")
    _good(folder, 1, prefix="same")


def _skipped(folder: Path) -> None:
    _good(folder, 2)
    (folder / ".hidden.png").write_bytes(b"hidden: never read")
    (folder / "notes.txt").write_text("not an image, not an image name")
    (folder / "old.ppm").write_bytes(images.encode(images.noise("ppm"), "PPM"))  # not a format read here
    (folder / "self").symlink_to(folder)  # a folder loop: not followed
    (folder / "cache").mkdir()


def _all_bad(folder: Path) -> None:
    (folder / "empty.png").write_bytes(b"")
    os.mkfifo(folder / "pipe.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")


def _specs_glob_and_missing(folder: Path) -> list[str]:
    return [str(folder / "*.nothing"), str(folder / "missing.png"), str(folder / "good-00.png")]


def _specs_special(folder: Path) -> list[str]:
    return [str(folder / "pipe.png"), "/dev/null", str(folder / "loop.png"), str(folder / "good-00.png")]


def _with_specials(folder: Path) -> None:
    _good(folder, 1)
    os.mkfifo(folder / "pipe.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")


CASES: list[Case] = [
    Case(
        "batch-twenty-good-ten-bad",
        "batch",
        _folder(_twenty_good_ten_bad),
        _run(20, 10),
        None,
        cli=_cli(),
        exit_code=1,  # some inputs failed; every good one is written
    ),
    Case("batch-output-names-too-long", "batch", _folder(_long_names), _run(2, 2, failure=OutputError), None),
    Case("batch-nested-same-names", "batch", _folder(_nested), _run(4, 0), None),
    Case("batch-skips-hidden-foreign-and-folder-loops", "batch", _folder(_skipped), _run(2, 0), None, cli=_cli()),
    Case(
        "batch-glob-nothing-and-missing",
        "batch",
        _folder(lambda f: _good(f, 1)),
        _run(1, 2, specs=_specs_glob_and_missing),
        None,
        cli=_cli(_specs_glob_and_missing),
        exit_code=1,
    ),
    Case(
        "batch-fifo-device-and-loop-named-directly",
        "batch",
        _folder(_with_specials),
        _run(1, 3, specs=_specs_special),
        None,
        cli=_cli(_specs_special),
        exit_code=1,
    ),
    Case("batch-all-bad", "batch", _folder(_all_bad), _run(0, 3), AdainError, message=r"0 stylized, 3 failed.*photos"),
    Case(
        "batch-empty-folder",
        "batch",
        _folder(lambda f: None),
        _run(0, 0),
        AdainError,
        message="no images found in.*photos",
        cli=_cli(),
    ),
    Case(
        "batch-output-is-a-file",
        "batch",
        _folder(lambda f: (_good(f, 2), (f.parent / "taken.png").write_bytes(b"x"))[0]),
        _run(2, 0, output=lambda f, out: f.parent / "taken.png"),
        UsageError,
        message="-o names a folder",
        cli=_cli(output=lambda f, out: f.parent / "taken.png"),
    ),
]
