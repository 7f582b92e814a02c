"""Stylizing many images: input expansion, output naming, and a run that survives bad files.

A batch is planned completely before any model is loaded (inputs expanded, every output path
chosen and checked), so usage errors surface at once. During the run a failing input is
recorded and the others still run; the report says what was written and what failed. Nothing
about one input can end the batch: a symlink loop, a name too long for the file system, a FIFO
or a device among the inputs is found while planning without raising (no ``resolve`` or
``exists`` that throws) and refused when its turn comes, by
:func:`~adain.image.io.load_image`, as one failure of the summary.
"""

from __future__ import annotations

import glob
import os
import stat
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from adain.errors import AdainError, InputImageError, OutputError, UsageError
from adain.image.convert import image_to_tensors
from adain.image.io import DEFAULT_MAX_PIXELS, OUTPUT_FORMATS, load_image, output_format, save_image
from adain.pipeline.options import StylizeOptions
from adain.pipeline.stylize import StylizationPipeline, checked_style_size
from adain.styles.statistics import StyleInput, StyleStatistics, resize_style

__all__ = [
    "INPUT_EXTENSIONS",
    "OUTPUT_SUFFIX",
    "BatchInput",
    "BatchJob",
    "BatchReport",
    "describe_error",
    "expand_inputs",
    "names_many",
    "plan_outputs",
    "stylize_batch",
]

#: Files with these extensions are picked up when a folder is given as input: those of the
#: formats :func:`~adain.image.io.load_image` decodes (:data:`~adain.image.io.INPUT_FORMATS`).
INPUT_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"})

#: Appended to the input's name for outputs named automatically (``cat.jpg`` -> ``cat_stylized.png``).
OUTPUT_SUFFIX = "_stylized"
DEFAULT_OUTPUT_EXTENSION = ".png"

_GLOB_CHARACTERS = set("*?[")


@dataclass(frozen=True)
class BatchInput:
    """One input file.

    Attributes:
        path: the file.
        relative: its path relative to the folder it was found in (its name for files given
            directly); outputs mirror it, so two ``x.jpg`` in different subfolders do not collide.
        problem: why it cannot be used, when known before reading it (a glob matching nothing).
    """

    path: Path
    relative: Path
    problem: str | None = None


@dataclass(frozen=True)
class BatchJob:
    input: BatchInput
    output: Path


@dataclass
class BatchReport:
    """What a batch did: outputs written, inputs that failed (with the error)."""

    written: list[Path] = field(default_factory=list)
    failures: list[tuple[Path, BaseException]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        """E.g. ``"3 stylized, 1 failed: photos/broken.jpg"``."""
        text = f"{len(self.written)} stylized"
        if self.failures:
            text += f", {len(self.failures)} failed: " + ", ".join(str(path) for path, _ in self.failures)
        return text


def _stat(path: Path) -> os.stat_result | None:
    """``os.stat(path)``, or ``None`` for a path that cannot be stat'ed (missing, a symlink loop,
    too long, not a valid path): :func:`~adain.image.io.load_image` says why, per input."""
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _is_dir(path: Path) -> bool:
    status = _stat(path)
    return status is not None and stat.S_ISDIR(status.st_mode)


def _resolved(path: Path) -> Path:
    """``path.resolve()``, or its absolute form when it cannot be resolved (a symlink loop raises
    ``RuntimeError`` or ``OSError`` depending on the Python version)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return Path(os.path.abspath(path))


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _inside(path: Path, directory: Path | None) -> bool:
    if directory is None:
        return False
    try:
        _resolved(path).relative_to(_resolved(directory))
        return True
    except ValueError:
        return False


def _images_in(folder: Path, exclude: Path | None) -> list[BatchInput]:
    found = []
    for root, directories, files in os.walk(folder):
        root_path = Path(root)
        directories[:] = sorted(d for d in directories if not d.startswith(".") and not _inside(root_path / d, exclude))
        for name in sorted(files):
            path = root_path / name
            if name.startswith(".") or path.suffix.lower() not in INPUT_EXTENSIONS:
                continue
            found.append(BatchInput(path, path.relative_to(folder)))
    return found


def expand_inputs(specs: Sequence[str | os.PathLike[str]], exclude: Path | None = None) -> list[BatchInput]:
    """Files, folders (images inside, recursively) and globs -> input files, in order, without repeats.

    Folders yield files with an image extension (:data:`INPUT_EXTENSIONS`), skipping hidden files
    and folders, and anything under ``exclude`` (the output folder, so a second run does not
    stylize the first run's outputs). Globs (``*``, ``?``, ``[``; ``**`` recurses) yield what they
    match; a glob matching nothing, or a file that does not exist, is kept as an input with a
    problem so the run reports it.
    """
    inputs: list[BatchInput] = []
    seen: set[Path] = set()

    def add(item: BatchInput) -> None:
        key = _resolved(item.path) if item.problem is None else item.path
        if key not in seen:
            seen.add(key)
            inputs.append(item)

    for spec in specs:
        text = os.fspath(spec)
        path = Path(text)
        if _is_dir(path):
            for item in _images_in(path, exclude):
                add(item)
        elif os.path.lexists(path) or not (_GLOB_CHARACTERS & set(text)):
            add(BatchInput(path, Path(path.name)))
        else:
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                add(BatchInput(path, Path(path.name), problem=f"no files match {text!r}"))
            for match in matches:
                match_path = Path(match)
                if _is_dir(match_path):
                    for item in _images_in(match_path, exclude):
                        add(item)
                elif not _is_hidden(Path(match_path.name)) and not _inside(match_path, exclude):
                    add(BatchInput(match_path, Path(match_path.name)))
    return inputs


def _check_writable_location(directory: Path) -> None:
    """Fail early (one error, not one per input) when ``directory`` can never be created."""
    probe = directory
    while _stat(probe) is None:
        if probe.parent == probe:
            return
        probe = probe.parent
    if not _is_dir(probe):
        raise OutputError(f"cannot write to {str(directory)!r}: {str(probe)!r} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to {str(directory)!r}: {str(probe)!r} is not writable")


def names_many(specs: Sequence[str | os.PathLike[str]]) -> bool:
    """Whether input arguments name a set of files (several arguments, a folder or a glob), so
    that ``-o`` names a folder even if the set turns out to hold one image."""
    return len(specs) > 1 or any(_is_dir(Path(s)) or (_GLOB_CHARACTERS & set(os.fspath(s))) for s in specs)


def _check_path_length(path: Path) -> None:
    """Refuse an output path the file system cannot hold, before anything runs: a name longer
    than its ``NAME_MAX`` (255 bytes on most), or a path of ``PATH_MAX`` (4096) bytes or more."""
    probe = path.parent
    while _stat(probe) is None and probe.parent != probe:
        probe = probe.parent
    try:
        name_max, path_max = os.pathconf(probe, "PC_NAME_MAX"), os.pathconf(probe, "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):
        name_max, path_max = 255, 4096
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > name_max:
            raise OutputError(
                f"cannot write {str(path)!r}: a name in it is {size} bytes long; this file system allows {name_max}"
            )
    if len(os.fsencode(path)) >= path_max:
        raise OutputError(f"cannot write {str(path)!r}: the path is longer than this file system allows")


def plan_outputs(
    inputs: Sequence[BatchInput],
    output: str | os.PathLike[str] | None = None,
    extension: str = DEFAULT_OUTPUT_EXTENSION,
    output_is_folder: bool | None = None,
) -> list[BatchJob]:
    """Choose every output path before anything runs.

    * One input: ``output`` is the output file (format from its extension), or a folder when it
      exists as one or ends with a slash; no ``output``: ``<name>_stylized.png`` in the current
      folder.
    * Several inputs (or ``output_is_folder``, see :func:`names_many`): ``output`` is a folder (created when the first image is written; default:
      the current folder); each output is ``<relative path>_stylized.png`` inside it, with
      ``-2``, ``-3``... added if two inputs would get the same name.

    Raises:
        UsageError: unknown output extension, or a file named as the output of several inputs.
        OutputError: the output location can never be written (e.g. a file in the way).
    """
    output_format(f"x{extension}")
    text = None if output is None else os.fspath(output)
    if text is not None and not text.strip():
        raise UsageError(f"the output (-o) must name a file or a folder. Got {text!r}")
    single = not output_is_folder if output_is_folder is not None else len(inputs) == 1
    if single and text is not None and not (text.endswith(("/", os.sep)) or _is_dir(Path(text))):
        target = Path(text)
        output_format(target)
        _check_path_length(target)
        _check_writable_location(target.parent)
        return [BatchJob(inputs[0], target)]
    directory = Path(text) if text is not None else Path.cwd()
    if not single and _stat(directory) is not None and not _is_dir(directory):
        raise UsageError(f"with several inputs -o names a folder; {text!r} is a file")
    if not single and text is not None and _stat(directory) is None and directory.suffix.lower() in OUTPUT_FORMATS:
        raise UsageError(f"with several inputs -o names a folder, not an image file like {text!r}")
    _check_writable_location(directory)
    jobs, taken = [], set()
    for item in inputs:
        base = item.relative.with_name(item.relative.stem + OUTPUT_SUFFIX)
        candidate, counter = base.with_suffix(extension), 1
        while candidate in taken:
            counter += 1
            candidate = base.with_name(f"{base.name}-{counter}").with_suffix(extension)
        taken.add(candidate)
        jobs.append(BatchJob(item, directory / candidate))
    return jobs


def describe_error(error: BaseException) -> str:
    """One line for a failed input: the message of an expected error, the type of a bug."""
    if isinstance(error, AdainError):
        return str(error)
    return f"internal error: {type(error).__name__}: {error}"


def encode_styles_once(
    pipeline: StylizationPipeline, styles: Sequence[StyleInput], options: StylizeOptions
) -> tuple[list[StyleInput], StylizeOptions]:
    """Styles and options for many content images, with the per-image work done once.

    ``bank:NAME`` styles become their statistics; style images are read once and encoded once
    (for colour "match", which recolours each style per content image, read and resized once);
    a mask given as a path is read once. Returns the styles and the options to stylize every
    image with (``style_size`` 0: the styles are at their size already).

    Raises:
        UsageError: bad options, or colour "match" with a bank style (statistics have no image).
        InputImageError: a style or mask image cannot be read.
        BankError: no such bank style.
    """
    resolved = [pipeline.resolve_bank_style(style) for style in styles]
    if options.preserve_color == "match" and any(isinstance(style, StyleStatistics) for style in resolved):
        raise UsageError("colour 'match' recolours style images; bank styles are statistics (use luminance)")
    prepared: list[StyleInput] = []
    for style in resolved:
        if isinstance(style, StyleStatistics):
            prepared.append(style)
            continue
        image = load_image(style, max_pixels=options.max_pixels) if isinstance(style, (str, os.PathLike)) else style
        if options.preserve_color == "match":
            rgb, _ = image_to_tensors(image, options.max_pixels, "style")
            checked_style_size(image, rgb, options.style_size, options.max_pixels, options.max_memory_mb)
            prepared.append(resize_style(rgb, options.style_size))
        elif options.method == "attention":  # statistics and the subsampled features, encoded once
            prepared.extend(pipeline.prepare_styles([image], None, options))
        else:
            prepared.append(
                pipeline.style_statistics(
                    image, size=options.style_size, max_pixels=options.max_pixels, max_memory_mb=options.max_memory_mb
                )
            )
    mask = options.mask
    if isinstance(mask, (str, os.PathLike)):
        mask = load_image(mask, max_pixels=options.max_pixels)
    return prepared, replace(options, style_size=0, mask=mask)


def stylize_batch(
    pipeline: StylizationPipeline,
    jobs: Sequence[BatchJob],
    styles: StyleInput | Sequence[StyleInput],
    options: StylizeOptions,
    *,
    quality: int = 95,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    progress: bool | None = None,
    on_failure: Callable[[Path, BaseException], None] | None = None,
) -> BatchReport:
    """Stylize every job's input and write its output; a failing input does not stop the others.

    ``styles`` should be :class:`~adain.pipeline.stylize.StyleStatistics` (or already resized
    style tensors) so that they are encoded once per run, not once per input.

    Args:
        progress: show a tqdm bar on stderr (``None``: only when stderr is a terminal).
        on_failure: called with ``(input path, error)`` for each failure, e.g. to print
            :func:`describe_error` above the progress bar.
    """
    from tqdm import tqdm

    report = BatchReport()
    bar: Iterable[BatchJob] = tqdm(
        jobs,
        desc="stylizing",
        unit="image",
        file=sys.stderr,
        disable=(None if progress is None else not progress),
        dynamic_ncols=True,
    )
    for job in bar:
        try:
            if job.input.problem is not None:
                raise InputImageError(job.input.problem)
            content = load_image(job.input.path, max_pixels=max_pixels)
            result = pipeline(content, styles, options, output_type="pt")
            save_image(result.rgb, job.output, alpha=result.transparency, quality=quality)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as error:
            report.failures.append((job.input.path, error))
            if on_failure is not None:
                on_failure(job.input.path, error)
            continue
        report.written.append(job.output)
    return report
