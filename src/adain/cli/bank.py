"""``adain bank``: named styles as precomputed statistics (add, list, show, remove, export, import).

Every option is checked before a bank or the encoder is loaded: an unknown ``--preset``, a style
name ``adain bank add`` would refuse, a ``--bank`` that is a folder and a bad ``--style-size`` are
usage errors (exit 2); a bank file that is missing where one is read, unreadable, or wrong inside
is a failure (exit 1). Each is one line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

from adain.cli.main import path_argument
from adain.weights.presets import DEFAULT_PRESET

#: The largest ``--style-size``: no square image larger than this fits the default pixel budget
#: of an image (64 MP), so a larger size could only be refused later, after the encoder loaded.
MAX_STYLE_SIZE = 8192


def _style_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {MAX_STYLE_SIZE}]. Got {text!r}") from None
    if not 0 <= value <= MAX_STYLE_SIZE:
        raise argparse.ArgumentTypeError(f"must be in [0, {MAX_STYLE_SIZE}] (0: keep). Got {text!r}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bank",
        help="style bank: add, list, show, remove, export, import named styles",
        description="Named styles stored as statistics; use them as --style bank:NAME.",
    )
    parser.add_argument("--preset", default=DEFAULT_PRESET, help="encoder preset the statistics belong to")
    parser.add_argument("--bank", type=path_argument, help="bank file (default: your bank in $ADAIN_HOME/bank/)")
    commands = parser.add_subparsers(dest="bank_command", metavar="ACTION", required=True)

    add = commands.add_parser("add", help="encode images and store their statistics under NAME")
    add.add_argument("name")
    add.add_argument("images", nargs="+", type=path_argument, help="one or more images of the style (pooled)")
    add.add_argument("--source", default="", help="where the images come from (kept in the bank)")
    add.add_argument("--licence", default="", help="licence notes for the images")
    add.add_argument(
        "--style-size",
        type=_style_size,
        default=512,
        help="resize each image's shorter side first, as `adain stylize --style-size` does (default 512; 0: keep)",
    )
    add.add_argument("--replace", action="store_true", help="overwrite a style of the same name")
    add.add_argument(
        "--features",
        action="store_true",
        help="also keep the style's features at up to 2,048 relu4_1 positions (every tap, fp16, about 4 MB), "
        "which --method attention needs: the banked style then works with attention too",
    )
    add.set_defaults(run=run_add)

    listing = commands.add_parser("list", help="one style per line, its name first")
    listing.add_argument("--user-only", action="store_true", help="only your bank, not the shipped one")
    listing.set_defaults(run=run_list)

    show = commands.add_parser("show", help="a style's entry (JSON)")
    show.add_argument("name")
    show.set_defaults(run=run_show)

    remove = commands.add_parser("remove", help="remove a style from your bank")
    remove.add_argument("name")
    remove.set_defaults(run=run_remove)

    export = commands.add_parser("export", help="write styles (default: all) to a bank file")
    export.add_argument("file", type=path_argument, help="FILE.safetensors (an index FILE.json is written beside it)")
    export.add_argument("names", nargs="*")
    export.set_defaults(run=run_export)

    imported = commands.add_parser("import", help="add the styles of a bank file to your bank")
    imported.add_argument("file", type=path_argument)
    imported.add_argument("--replace", action="store_true", help="overwrite your styles of the same names")
    imported.set_defaults(run=run_import)


def _check(args: argparse.Namespace, must_exist: bool = False) -> None:
    """The options every action shares: a known preset, a ``--bank`` that names a bank file (not a
    folder; one that exists when ``must_exist``, for the actions that only read it)."""
    from adain.errors import BankError, UsageError
    from adain.styles.bank import StyleBank
    from adain.weights.presets import get_preset

    get_preset(args.preset)
    if args.bank is None:
        return
    if os.path.isdir(args.bank):
        raise UsageError(f"--bank {str(args.bank)!r} is a folder; give a bank file (NAME.json, NAME.safetensors)")
    _tensors, index = StyleBank.paths(args.bank)
    if must_exist and not os.path.lexists(index):
        raise BankError(f"no style bank at {index} (--bank)")


def _user_bank(args: argparse.Namespace):
    from adain.errors import UsageError
    from adain.styles.bank import StyleBank
    from adain.styles.library import user_bank_path

    path = args.bank or user_bank_path(args.preset)
    _tensors, index = StyleBank.paths(path)
    bank = StyleBank.load(path) if os.path.lexists(index) else StyleBank(args.preset)
    if bank.preset != args.preset:
        raise UsageError(f"bank {index} holds {bank.preset!r} statistics, not {args.preset!r} (--preset)")
    return bank, path


def run_add(args: argparse.Namespace) -> int:
    from adain.styles.bank import BankEntry, pool_statistics, valid_style_name
    from adain.styles.library import encode_style_images

    _check(args)
    valid_style_name(args.name)
    bank, path = _user_bank(args)
    if args.name in bank and not args.replace:
        from adain.errors import UsageError

        raise UsageError(f"style {args.name!r} is already in {path} (use --replace to overwrite it)")
    encoded = encode_style_images(args.preset, args.images, args.style_size, features=args.features)
    entry = BankEntry(
        args.name,
        source=args.source,
        licence=args.licence,
        style_size=args.style_size,
        images=[info for _, _, info in encoded],
    )
    bank.add(args.name, pool_statistics([(stats, count) for stats, count, _ in encoded]), entry, replace=args.replace)
    bank.save(path)
    kept = " with its features" if args.features else ""
    print(f"added {args.name} ({len(args.images)} image(s)){kept} to {_index_path(path)}")
    return 0


def _index_path(path: Path) -> str:
    from adain.styles.bank import StyleBank

    return str(StyleBank.paths(path)[1])


def _one_line(text: str) -> str:
    """``text`` without control characters (a source with a newline or a tab would break the one
    line per style of ``list``)."""
    return re.sub(r"[\x00-\x1f\x7f]", " ", text)


def run_list(args: argparse.Namespace) -> int:
    from adain.styles.library import available_banks

    _check(args, must_exist=True)
    for origin, bank in available_banks(args.preset, user_path=args.bank, include_shipped=not args.user_only):
        for name in bank:
            entry = bank.entries[name]
            print(f"{name}\t{origin}\t{_one_line(entry.source)}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from adain.styles.bank import valid_style_name
    from adain.styles.library import find_style

    _check(args, must_exist=True)
    valid_style_name(args.name)
    origin, bank = find_style(args.name, args.preset, user_path=args.bank)
    statistics = bank.get(args.name)
    shown = {
        **asdict(bank.entries[args.name]),
        "bank": origin,
        "preset": bank.preset,
        "taps": {tap: list(statistics.means[tap].shape) for tap in statistics.taps},
        # kept by --features (method attention needs them): (channels, positions) per tap
        "features": {
            tap: [value.shape[1], value.shape[2]] for tap, value in getattr(statistics, "features", {}).items()
        },
    }
    print(json.dumps(shown, indent=2))
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from adain.errors import UsageError
    from adain.styles.bank import valid_style_name

    _check(args)
    valid_style_name(args.name)
    bank, path = _user_bank(args)
    if args.name not in bank:
        from adain.styles.bank import did_you_mean

        hint = did_you_mean(args.name, bank)
        raise UsageError(
            f"no style {args.name!r} in your bank {_index_path(path)}{hint} (shipped styles cannot be removed)"
        )
    bank.remove(args.name)
    bank.save(path)
    print(f"removed {args.name}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from adain.styles.bank import StyleBank, valid_style_name
    from adain.styles.library import available_banks

    _check(args, must_exist=True)
    StyleBank.paths(args.file)  # a file name, before anything is read
    for name in args.names:
        valid_style_name(name)
    merged = StyleBank(args.preset)
    for _, bank in reversed(list(available_banks(args.preset, user_path=args.bank))):
        merged.merge(bank, replace=True)  # the user's bank wins over the shipped one
    chosen = merged.subset(args.names) if args.names else merged
    chosen.save(args.file)
    print(f"exported {len(chosen)} style(s) to {StyleBank.paths(args.file)[0]}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from adain.errors import BankError, UsageError
    from adain.styles.bank import StyleBank

    _check(args)
    if os.path.isdir(args.file):
        raise BankError(f"{args.file} is a folder, not a style bank file (NAME.json, NAME.safetensors)")
    incoming = StyleBank.load(args.file)
    bank, path = _user_bank(args)
    if incoming.preset != bank.preset:
        raise UsageError(
            f"{args.file} holds {incoming.preset!r} statistics; your bank is {bank.preset!r} "
            f"(import it with --preset {incoming.preset})"
        )
    added = bank.merge(incoming, replace=args.replace)
    bank.save(path)
    print(f"imported {len(added)} style(s) into {_index_path(path)}")
    return 0
