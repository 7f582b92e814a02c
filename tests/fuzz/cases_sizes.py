"""Corpus cases: sizes and the option values of ``adain stylize``.

``size-*`` cases stylize one content image at the sizes asked for: images whose resized size would
be out of bounds (a 1-pixel side enlarged hundreds of times, more pixels than the budget) are
refused by name before anything is resized; tiny outputs (``--size 8``, ``--size 1``,
``--max-size 1``) work; without ``upscale`` (the default) a small image keeps its size and no
enlargement is ever refused. ``size-option-*`` cases run the command's first step (``plan``: every
check made before the weights load) on option values from a table: each bad value is one
UsageError (exit 2), before any allocation; valid ones pass.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Sequence
from pathlib import Path

from adain_corpus import Case, _load
from PIL import Image

from adain.errors import BankError, InputImageError, OutputError, UsageError

images = _load(Path(__file__).with_name("cases_images.py"))

STYLE = "bank:antimonocromatismo"

# -- content sizes ----------------------------------------------------------------------------------


def _gray(width: int, height: int, mode: str = "L") -> images.Build:
    return lambda: images.encode(Image.new(mode, (width, height), 90 if mode == "L" else (90, 120, 150, 200)), "PNG")


def _stylize(size: int = 0, max_size: int = 0, max_pixels: int = 64_000_000, **options: object):
    def run(path: object, out: Path) -> None:
        """``adain stylize FILE --size S --max-size M`` with one bank style, in-process."""
        from adain.image.io import load_image, save_image
        from adain.pipeline import StylizeOptions
        from adain.pipeline.tiling import DEFAULT_MAX_MEMORY_MB

        settings = {"max_memory_mb": DEFAULT_MAX_MEMORY_MB, "upscale": True, **options}
        checked = StylizeOptions(size=size, max_size=max_size, max_pixels=max_pixels, **settings).check()
        content = load_image(path, max_pixels=max_pixels)  # type: ignore[arg-type]
        result = images.pipeline()(content, images.bank_style(STYLE), checked, output_type="pt")
        save_image(result.rgb, out / "result.png", alpha=result.transparency)

    return run


def _stylize_cli(size: int = 0, max_size: int = 0, upscale: bool = True):
    def cli(path: object, out: Path) -> list[str]:
        return [
            "stylize",
            str(path),
            "--style",
            STYLE,
            "--size",
            str(size),
            "--max-size",
            str(max_size),
            "-o",
            str(out / "result.png"),
            "--no-progress",
        ] + ["--upscale"] * upscale

    return cli


#: ``name -> (file name, builder, size, max_size, expected, message, extra options)``
CONTENT_SIZES = {
    "100000x2-at-512": (
        "wide.png",
        _gray(100_000, 2),
        512,
        0,
        InputImageError,
        r"wide\.png.*100000x2.*enlarge it 256x",
    ),
    "2x100000-at-512": ("tall.png", _gray(2, 100_000), 512, 0, InputImageError, r"tall\.png.*2x100000.*enlarge"),
    "20000x2-at-512": ("server.png", _gray(20_000, 2), 512, 0, InputImageError, r"server\.png.*enlarge"),
    "1x5000-at-512": ("thin.png", _gray(1, 5000), 512, 0, InputImageError, r"thin\.png.*1x5000.*enlarge it 512x"),
    "5000x1-at-512": ("flat.png", _gray(5000, 1), 512, 0, InputImageError, r"flat\.png.*enlarge it 512x"),
    "1x100-at-512": ("strip.png", _gray(1, 100), 512, 0, InputImageError, r"strip\.png.*1x100.*512x51200"),
    "1x1-at-65": ("dot.png", _gray(1, 1), 65, 0, InputImageError, r"dot\.png.*enlarge it 65x"),
    "100x100-at-8000": ("square.png", _gray(100, 100), 8000, 0, InputImageError, r"square\.png.*enlarge it 80x"),
    "200x130-at-8000": (
        "budget.png",
        _gray(200, 130),
        8000,
        0,
        InputImageError,
        r"budget\.png.*pixels, over the limit",
    ),
    "30x20-at-30-budget-1000": (
        "small.png",
        _gray(30, 20),
        30,
        0,
        InputImageError,
        r"small\.png.*45x30 = 1,350 pixels",
    ),
    "1x100-kept": ("strip-kept.png", _gray(1, 100), 0, 0, None, None),
    "4000x2-kept": ("wide-kept.png", _gray(4000, 2), 0, 0, None, None),
    "3x5-kept": ("tiny.png", _gray(3, 5), 0, 0, None, None),
    "1x1-kept": ("dot-kept.png", _gray(1, 1), 0, 0, None, None),
    "1x1-at-64": ("dot64.png", _gray(1, 1), 64, 0, None, None),
    "2x2-rgba-kept": ("alpha.png", _gray(2, 2, "RGBA"), 0, 0, None, None),
    "40x30-at-1": ("size1.png", _gray(40, 30), 1, 0, None, None),
    "40x30-at-8": ("size8.png", _gray(40, 30), 8, 0, None, None),
    "40x30-at-15": ("size15.png", _gray(40, 30), 15, 0, None, None),
    "40x30-at-16": ("size16.png", _gray(40, 30), 16, 0, None, None),
    "40x30-max-size-1": ("max1.png", _gray(40, 30), 0, 1, None, None),
    "40x30-max-size-3": ("max3.png", _gray(40, 30), 0, 3, None, None),
    "40x30-size-1-max-size-1": ("both1.png", _gray(40, 30), 1, 1, None, None),
    "7x300-kept": ("seven.png", _gray(7, 300), 0, 0, None, None),
    "8x3000-thin-tiny-budget": ("budget-thin.png", _gray(8, 3000), 0, 0, None, None, {"max_memory_mb": 1.0}),
    "40x30-multiscale": ("multi.png", _gray(40, 30), 8, 0, None, None, {"multiscale": True}),
    # the default: never enlarged, so nothing to refuse
    "100000x2-at-512-no-upscale": ("wide-kept.png", _gray(100_000, 2), 512, 0, None, None, {"upscale": False}),
    "1x100-at-512-no-upscale": ("strip-no-upscale.png", _gray(1, 100), 512, 0, None, None, {"upscale": False}),
    "100x100-at-8000-no-upscale": ("square-kept.png", _gray(100, 100), 8000, 0, None, None, {"upscale": False}),
}
_SIZE_CLI = {"100000x2-at-512", "1x100-at-512", "40x30-at-8", "40x30-max-size-1", "1x100-at-512-no-upscale"}

# -- option values ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _parser() -> argparse.ArgumentParser:
    from adain.cli import stylize

    parser = argparse.ArgumentParser(prog="adain")
    subparsers = parser.add_subparsers(dest="command")
    stylize.add_parser(subparsers)
    return parser


def _option_make(folder: Path) -> Path:
    content = folder / "content.png"
    Image.new("RGB", (40, 30), (120, 80, 40)).save(content)
    mask = Image.new("L", (40, 30), 0)
    mask.paste(255, (0, 0, 20, 30))
    mask.save(folder / "mask.png")
    return content


Extra = Callable[[Path, Path], Sequence[str]]


def _argv(content: Path, out: Path, extra: Sequence[str] | Extra) -> list[str]:
    more = extra(content, out) if callable(extra) else extra
    base = ["stylize", str(content), "--style", STYLE, "-o", str(out / "result.png"), "--size", "64", "--no-progress"]
    return [*base, *more]


def _option_run(extra: Sequence[str] | Extra):
    def run(content: object, out: Path) -> None:
        """``adain stylize``'s checks before the weights load (``plan``) on these options."""
        from adain.cli.stylize import plan

        plan(_parser().parse_args(_argv(Path(str(content)), out, extra)))

    return run


def _option_cli(extra: Sequence[str] | Extra):
    return lambda content, out: _argv(Path(str(content)), out, extra)


def _mask(*more: str) -> Extra:
    return lambda content, out: ["--mask", str(content.parent / "mask.png"), *more]


def _output(name: Callable[[Path, Path], str]) -> Extra:
    return lambda content, out: ["-o", name(content, out)]


TWO = ["--style", "bank:abstraction"]

#: ``name -> (extra argv, expected, message)``: the argv after a valid base (one content, one
#: bank style, ``-o out/result.png``, ``--size 64``).
OPTIONS: dict[str, tuple[Sequence[str] | Extra, type[BaseException] | None, str | None]] = {
    "size-negative": (["--size", "-1"], UsageError, "--size must be >= 0"),
    "size-float": (["--size", "1.5"], UsageError, r"--size must be an integer.*1\.5"),
    "size-word": (["--size", "big"], UsageError, "--size.*'big'"),
    "size-empty": (["--size", ""], UsageError, "--size.*''"),
    "size-blank": (["--size", " "], UsageError, "--size"),
    "size-exponent": (["--size", "1e3"], UsageError, "--size.*1e3"),
    "size-hex": (["--size", "0x10"], UsageError, "--size.*0x10"),
    "size-nan": (["--size", "nan"], UsageError, "--size.*nan"),
    "size-inf": (["--size", "inf"], UsageError, "--size.*inf"),
    "size-billion": (["--size", "1000000000"], UsageError, "--size must be at most 8,000"),
    "size-2-pow-63": (["--size", str(2**63)], UsageError, f"--size must be at most 8,000.*{2**63}"),
    "size-googol": (["--size", "1" + "0" * 100], UsageError, "--size must be at most"),
    "size-8001": (["--size", "8001"], UsageError, "--size must be at most 8,000"),
    "size-over-small-budget": (
        ["--max-pixels", "100", "--size", "11", "--style-size", "8"],
        UsageError,
        "--size must be at most 10",
    ),
    "size-8000": (["--size", "8000"], None, None),
    "size-0": (["--size", "0"], None, None),
    "size-1": (["--size", "1"], None, None),
    "size-8": (["--size", "8"], None, None),
    "size-16": (["--size", "16"], None, None),
    "size-plus-sign": (["--size", "+64"], None, None),
    "size-padded": (["--size", " 64 "], None, None),
    "size-underscore": (["--size", "6_4"], None, None),
    "size-minus-zero": (["--size", "-0"], None, None),
    "size-within-small-budget": (["--max-pixels", "100", "--size", "10", "--style-size", "8"], None, None),
    "max-size-negative": (["--max-size", "-5"], UsageError, "--max-size must be >= 0"),
    "max-size-exponent": (["--max-size", "1e12"], UsageError, "--max-size"),
    "max-size-over-budget": (["--max-size", "64000001"], UsageError, "--max-size must be at most 64,000,000"),
    "max-size-2-pow-63": (["--max-size", str(2**63)], UsageError, "--max-size must be at most"),
    "max-size-at-budget": (["--max-size", "64000000"], None, None),
    "max-size-1": (["--max-size", "1"], None, None),
    "style-size-3": (["--style-size", "3"], UsageError, "--style-size must be 0 .* at least 8"),
    "style-size-7": (["--style-size", "7"], UsageError, "--style-size must be 0 .* at least 8"),
    "style-size-negative": (["--style-size", "-1"], UsageError, "--style-size must be >= 0"),
    "style-size-8001": (["--style-size", "8001"], UsageError, "--style-size must be at most 8,000"),
    "style-size-2-pow-63": (["--style-size", str(2**63)], UsageError, "--style-size must be at most"),
    "style-size-8": (["--style-size", "8"], None, None),
    "style-size-0": (["--style-size", "0"], None, None),
    "max-pixels-0": (["--max-pixels", "0"], UsageError, "--max-pixels must be positive"),
    "max-pixels-negative": (["--max-pixels", "-1"], UsageError, "--max-pixels must be positive"),
    "max-pixels-exponent": (["--max-pixels", "1e9"], UsageError, "--max-pixels.*1e9"),
    "max-pixels-word": (["--max-pixels", "many"], UsageError, "--max-pixels.*many"),
    "max-pixels-over-limit": (
        ["--max-pixels", str(10**9 + 1)],
        UsageError,
        "--max-pixels must be at most 1,000,000,000",
    ),
    "max-pixels-2-pow-64": (["--max-pixels", str(2**64)], UsageError, "--max-pixels must be at most"),
    "max-pixels-limit": (["--max-pixels", str(10**9)], None, None),
    "max-pixels-1": (["--max-pixels", "1", "--size", "1", "--style-size", "0"], None, None),
    "alpha-nan": (["--alpha", "nan"], UsageError, "--alpha.*nan"),
    "alpha-inf": (["--alpha", "inf"], UsageError, "--alpha.*inf"),
    "alpha-negative": (["--alpha", "-0.1"], UsageError, r"--alpha.*-0\.1"),
    "alpha-above-1": (["--alpha", "1.1"], UsageError, r"--alpha.*1\.1"),
    "alpha-overflow": (["--alpha", "1e309"], UsageError, "--alpha"),
    "alpha-word": (["--alpha", "strong"], UsageError, "--alpha.*strong"),
    "alpha-empty": (["--alpha", ""], UsageError, "--alpha"),
    "alpha-0": (["--alpha", "0"], None, None),
    "alpha-half": (["--alpha", "0.5"], None, None),
    "style-weights-nan": ([*TWO, "--style-weights", "1,nan"], UsageError, "style weights"),
    "style-weights-inf": ([*TWO, "--style-weights", "1,inf"], UsageError, "style weights"),
    "style-weights-sum-overflows": ([*TWO, "--style-weights", "1e308,1e308"], UsageError, "style weights"),
    "style-weights-zero": ([*TWO, "--style-weights", "0,0"], UsageError, "not all zero"),
    "style-weights-too-few": ([*TWO, "--style-weights", "1"], UsageError, "1 style weights for 2 styles"),
    "style-weights-too-many": ([*TWO, "--style-weights", "1,2,3"], UsageError, "3 style weights for 2 styles"),
    "style-weights-hole": ([*TWO, "--style-weights", "1,,2"], UsageError, "--style-weights must be comma-separated"),
    "style-weights-words": ([*TWO, "--style-weights", "a,b"], UsageError, "--style-weights.*'a'"),
    "style-weights-negative": ([*TWO, "--style-weights=-1,2"], UsageError, "non-negative"),
    "style-weights-one-style": (["--style-weights", "1"], UsageError, "--style-weights needs several"),
    "style-weights-valid": ([*TWO, "--style-weights", "0.7,0.3"], None, None),
    "mask-alpha-without-mask": (["--mask-alpha", "0.5"], UsageError, "mask alphas need a mask"),
    "mask-alpha-too-few": (_mask(*TWO, "--mask-alpha", "0.5"), UsageError, "1 mask alphas for 2 styles"),
    "mask-alpha-nan": (_mask(*TWO, "--mask-alpha", "0.5,nan"), UsageError, "--mask-alpha.*nan"),
    "mask-alpha-above-1": (_mask(*TWO, "--mask-alpha", "0.5,2"), UsageError, "--mask-alpha"),
    "mask-four-styles": (_mask(*TWO, *TWO, *TWO), UsageError, "at most 3 styles"),
    "mask-and-style-weights": (_mask(*TWO, "--style-weights", "1,1"), UsageError, "one or the other"),
    "mask-and-optimize": (_mask(*TWO, "--method", "optimize"), UsageError, "does not support masks"),
    "mask-alpha-valid": (_mask(*TWO, "--mask-alpha", "0.5,1"), None, None),
    "quality-0": (["--quality", "0"], UsageError, r"--quality must be in \[1, 100\]"),
    "quality-101": (["--quality", "101"], UsageError, r"--quality must be in \[1, 100\]"),
    "quality-negative": (["--quality", "-1"], UsageError, "--quality"),
    "quality-word": (["--quality", "best"], UsageError, "--quality.*best"),
    "quality-float": (["--quality", "1.5"], UsageError, "--quality"),
    "quality-2-pow-63": (["--quality", str(2**63)], UsageError, "--quality"),
    "quality-1": (["--quality", "1"], None, None),
    "quality-100": (["--quality", "100"], None, None),
    "iterations-negative": (["--iterations", "-1"], UsageError, "--iterations must be >= 0"),
    "iterations-million": (["--iterations", "1000000"], UsageError, "iterations must be an integer from 0 to 100,000"),
    "iterations-word": (["--iterations", "many"], UsageError, "--iterations"),
    "iterations-limit": (["--iterations", "100000"], None, None),
    "refine-negative": (["--refine", "-1"], UsageError, "--refine must be >= 0"),
    "refine-2-pow-63": (["--refine", str(2**63)], UsageError, "refine must be an integer from 0 to 100,000"),
    "refine-5": (["--refine", "5"], None, None),
    "max-memory-negative": (["--max-memory", "-1"], UsageError, "--max-memory"),
    "max-memory-nan": (["--max-memory", "nan"], UsageError, "--max-memory"),
    "max-memory-inf": (["--max-memory", "inf"], UsageError, "--max-memory"),
    "max-memory-overflow": (["--max-memory", "1e309"], UsageError, "--max-memory"),
    "max-memory-word": (["--max-memory", "lots"], UsageError, "--max-memory.*lots"),
    "max-memory-0": (["--max-memory", "0"], None, None),
    "max-memory-huge": (["--max-memory", "1e308"], None, None),
    "max-memory-with-optimize": (["--max-memory", "100", "--method", "optimize"], UsageError, "cannot be tiled"),
    "multiscale-with-optimize": (["--multiscale", "--method", "optimize"], UsageError, "multiscale"),
    "preset-unknown": (["--preset", "nope"], UsageError, "nope"),
    "match-with-bank-style": (["--preserve-color", "match"], UsageError, "--preserve-color match"),
    "providers-without-onnx": (["--providers", "cpu"], UsageError, "--providers needs --backend onnxruntime"),
    "onnx-encoder-without-onnx": (["--onnx-encoder", "x.onnx"], UsageError, "--onnx-encoder needs"),
    "style-bank-unknown": (["--style", "bank:nope"], BankError, "nope"),
    "output-empty": (["-o", ""], UsageError, "-o/--output must name an output file or folder. Got ''"),
    "output-blank": (["-o", "  "], UsageError, "-o/--output must name"),
    "output-gif": (_output(lambda c, o: str(o / "result.gif")), UsageError, r"unknown output extension '\.gif'"),
    "output-no-extension": (_output(lambda c, o: str(o / "result")), UsageError, "unknown output extension"),
    "output-upper-case": (_output(lambda c, o: str(o / "RESULT.PNG")), None, None),
    "output-name-too-long": (_output(lambda c, o: str(o / ("n" * 300 + ".png"))), OutputError, "304 bytes long"),
    "output-folder-name-too-long": (
        _output(lambda c, o: str(o / ("d" * 300) / "r.png")),
        OutputError,
        "300 bytes long",
    ),
    "output-path-too-long": (
        _output(lambda c, o: str(o.joinpath(*["p" * 200] * 25, "r.png"))),
        OutputError,
        "path is longer than this file system allows",
    ),
    "output-under-a-file": (_output(lambda c, o: str(c / "r.png")), OutputError, "is not a directory"),
}
_OPTION_CLI = {
    "size-billion",
    "size-2-pow-63",
    "style-size-3",
    "max-pixels-over-limit",
    "style-weights-sum-overflows",
    "output-empty",
    "output-name-too-long",
}

CASES: list[Case] = []
for _key, (_name, _build, _size, _max_size, _expect, _message, *_more) in CONTENT_SIZES.items():
    _options = _more[0] if _more else {}
    _budget = 1000 if "budget-1000" in _key else 64_000_000
    CASES.append(
        Case(
            f"size-{_key}",
            "size",
            images.file(_name, _build),
            _stylize(_size, _max_size, _budget, **_options),
            _expect,
            message=_message,
            cli=_stylize_cli(_size, _max_size, bool(_options.get("upscale", True))) if _key in _SIZE_CLI else None,
        )
    )
for _key, (_extra, _expect, _message) in OPTIONS.items():
    CASES.append(
        Case(
            f"size-option-{_key}",
            "options",
            _option_make,
            _option_run(_extra),
            _expect,
            message=_message,
            cli=_option_cli(_extra) if _key in _OPTION_CLI else None,
        )
    )
