"""Corpus cases: style bank files (``StyleBank.load``, what ``adain bank import``, ``--style
bank:NAME`` and ``adain bank list/show/export`` read), and ``adain bank import``/``export`` themselves.

A bank is two files: ``NAME.json`` (the index) and ``NAME.safetensors`` (the statistics). Each case
writes both (or damages one): style names that ``adain bank add`` refuses (``../../evil``, ``a\\nb``),
JSON of the wrong shape, entries of the wrong types, statistics that are missing, extra, of the
wrong width, shape or dtype, or not finite, and files that are FIFOs, folders or symlink loops.
Every refusal is a ``BankError`` naming the file; valid banks are among them.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import shlex
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from adain_corpus import Case, seeded
from safetensors.torch import save as save_safetensors

from adain.errors import BankError, UsageError
from adain.models import TAP_CHANNELS
from adain.styles.bank import BANK_FORMAT, StyleBank

PRESET = "vgg16-hed"
TAPS = tuple(TAP_CHANNELS)


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


# -- bank files ---------------------------------------------------------------------------------------


def _statistics(seed: int, taps: Sequence[str] = TAPS, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for tap in taps:
        width = TAP_CHANNELS[tap]
        tensors[f"{tap}.mean"] = torch.randn(width, generator=generator).to(dtype)
        tensors[f"{tap}.std"] = (torch.rand(width, generator=generator) + 0.1).to(dtype)
    return tensors


def _entry(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "source": f"corpus test image {name}",
        "licence": "CC0",
        "images": [{"file": f"{name}.png", "sha256": "ab" * 32, "width": 64, "height": 48}],
        "style_size": 512,
        "created": "2026-12-03T00:00:00Z",
    }


def _index(names: Sequence[str] = ("wave",), preset: str = PRESET) -> dict[str, Any]:
    return {"format": BANK_FORMAT, "preset": preset, "styles": {name: _entry(name) for name in names}}


def _tensors(names: Sequence[str] = ("wave",), **options: Any) -> dict[str, torch.Tensor]:
    return {
        f"{name}/{key}": value for seed, name in enumerate(names) for key, value in _statistics(seed, **options).items()
    }


Index = dict[str, Any] | str | bytes | Callable[[], Any] | None
Tensors = dict[str, torch.Tensor] | bytes | Callable[[], Any] | None


def _bank(index: Index = None, tensors: Tensors = None, stem: str = "bank", suffix: str = ""):
    """``make``: ``stem.json`` and ``stem.safetensors`` (``None``: the valid one-style bank's; the
    string ``"absent"`` leaves a file out); returns the bank path (``stem`` + ``suffix``)."""

    def make(folder: Path) -> Path:
        for path, value, default, encode in (
            (folder / f"{stem}.json", index, _index, lambda v: json.dumps(v, indent=1).encode()),
            (folder / f"{stem}.safetensors", tensors, _tensors, save_safetensors),
        ):
            value = default() if value is None else value() if callable(value) else value
            if isinstance(value, str) and value == "absent":
                continue
            path.write_bytes(
                value if isinstance(value, bytes) else value.encode() if isinstance(value, str) else encode(value)
            )
        return folder / f"{stem}{suffix}"

    return make


def _names(*names: str):
    """A bank whose styles are ``names`` (index and statistics), whatever they are."""
    return _bank(lambda: _index(names), lambda: _tensors(names))


def _edited(edit: Callable[[dict[str, Any]], Any]):
    """The valid index after ``edit`` (which changes it in place)."""

    def index() -> Any:
        value = _index()
        edit(value)
        return value

    return index


def _entry_set(key: str, value: Any):
    return _edited(lambda index: index["styles"]["wave"].__setitem__(key, value))


def _stats_edit(edit: Callable[[dict[str, torch.Tensor]], Any]):
    def tensors() -> dict[str, torch.Tensor]:
        value = _tensors()
        edit(value)  # in place
        return value

    return tensors


def _stat_set(key: str, value: Callable[[], torch.Tensor]):
    return _stats_edit(lambda tensors: tensors.__setitem__(f"wave/{key}", value()))


def _stat_drop(*keys: str):
    return _stats_edit(lambda tensors: [tensors.pop(f"wave/{key}") for key in keys])


def _header(header: Any, data: bytes = b"", length: int | None = None, raw: bytes | None = None) -> bytes:
    text = raw if raw is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def _special(kind: str, which: str = "json", stem: str = "bank"):
    """The valid bank with one of its files replaced by a FIFO, a folder, a symlink loop or a dangling link."""

    def make(folder: Path) -> Path:
        path = _bank(stem=stem)(folder)
        target = folder / f"{stem}.{which}"
        target.unlink()
        if kind == "fifo":
            os.mkfifo(target)
        elif kind == "folder":
            target.mkdir()
        elif kind == "loop":
            target.symlink_to(target)
        else:
            target.symlink_to(folder / "nowhere.json")
        return path

    return make


def _sparse_index(folder: Path) -> Path:
    """An index of 65 MiB (a sparse file: no time to write): refused from its size, unread."""
    path = _bank()(folder)
    with open(folder / "bank.json", "r+b") as handle:
        handle.truncate(65 * 2**20)
    return path


# -- entry points ---------------------------------------------------------------------------------


def _load(path: Path, out: Path) -> None:
    StyleBank.load(path)


def _import_argv(path: Path, out: Path) -> list[str]:
    return ["bank", "--bank", str(out / "user"), "import", str(path)]


def _export_argv(*names: str):
    def argv(path: Path, out: Path) -> list[str]:
        return ["bank", "--bank", str(path), "export", str(out / "exported.safetensors"), *names]

    return argv


def _list_argv(path: Path, out: Path) -> list[str]:
    return ["bank", "--bank", str(path), "list", "--user-only"]


def _show_argv(name: str):
    return lambda path, out: ["bank", "--bank", str(path), "show", name]


_import = command(_import_argv)
NAN, INF = float("nan"), float("inf")
B = "bank"

# -- the table --------------------------------------------------------------------------------------

CASES: list[Case] = [
    # valid banks load
    Case("bank-valid-one-style", B, _bank(), _load, None, cli=_import_argv),
    Case("bank-valid-two-styles", B, _names("wave", "scream"), _load, None),
    Case("bank-valid-relu4-only", B, _bank(tensors=lambda: _tensors(taps=("relu4_1",))), _load, None),
    Case("bank-valid-empty", B, _bank(index=lambda: _index(()), tensors="absent"), _load, None),
    Case("bank-valid-no-format", B, _bank(index=_edited(lambda index: index.pop("format"))), _load, None),
    Case("bank-valid-unknown-field", B, _bank(index=_entry_set("colour", "blue")), _load, None),
    Case("bank-valid-no-name-field", B, _bank(index=_edited(lambda i: i["styles"]["wave"].pop("name"))), _load, None),
    Case("bank-valid-bf16", B, _bank(tensors=lambda: _tensors(dtype=torch.bfloat16)), _load, None),
    Case("bank-valid-f64", B, _bank(tensors=lambda: _tensors(dtype=torch.float64)), _load, None),
    Case(
        "bank-valid-4d-statistics",
        B,
        _bank(tensors=lambda: {k: v.reshape(1, -1, 1, 1) for k, v in _tensors().items()}),
        _load,
        None,
    ),
    Case("bank-valid-json-suffix", B, _bank(suffix=".json"), _load, None),
    Case("bank-valid-safetensors-suffix", B, _bank(suffix=".safetensors"), _load, None),
    Case("bank-valid-import", B, _bank(), _import, None),
    Case("bank-valid-list", B, _bank(), command(_list_argv), None),
    Case("bank-valid-show", B, _bank(), command(_show_argv("wave")), None),
    Case("bank-valid-export", B, _bank(), command(_export_argv("wave")), None),
    # style names read from a bank obey the rules of `adain bank add`
    *[
        Case(
            f"bank-name-{label}",
            B,
            _names(name),
            _load,
            BankError,
            message=r"bank\.json: style name .* must start with a letter or digit",
            cli=_import_argv if label == "dotdot-evil" else None,
        )
        for label, name in [
            ("dotdot-evil", "../../evil"),
            ("newline", "a\nb"),
            ("empty", ""),
            ("dash", "-x"),
            ("space", "a b"),
            ("slash", "a/b"),
            ("too-long", "x" * 101),
            ("accent", "é"),
            ("hidden", ".hidden"),
            ("tab", "a\tb"),
            ("nul", "a\x00b"),
            ("dotdot", ".."),
            ("tilde", "~root"),
            ("bank-prefix", "bank:x"),
            ("backslash", "a\\b"),
            ("trailing-space", "wave "),
            ("carriage-return", "wave\r"),
            ("absolute", "/etc/passwd"),
        ]
    ],
    Case(
        "bank-name-dotdot-evil-import",
        B,
        _names("../../evil"),
        _import,
        BankError,
        message=r"bank\.json: style name '\.\./\.\./evil'",
    ),
    # the index: JSON of the wrong shape or types
    *[
        Case(
            f"bank-index-{label}",
            B,
            _bank(index=value),
            _load,
            BankError,
            message=r"bank\.json",
            cli=_import_argv if label == "json-list" else None,
        )
        for label, value in [
            ("json-list", [1, 2, 3]),
            ("json-list-of-banks", lambda: [_index()]),
            ("json-string", '"styles"'),
            ("json-number", "15"),
            ("json-null", "null"),
            ("json-true", "true"),
            ("preset-number", lambda: {**_index(), "preset": 5}),
            ("preset-missing", _edited(lambda index: index.pop("preset"))),
            ("styles-missing", _edited(lambda index: index.pop("styles"))),
            ("styles-list", _edited(lambda index: index.__setitem__("styles", ["wave"]))),
            ("preset-unknown", lambda: _index(preset="vgg99")),
            ("format-other", lambda: {**_index(), "format": "adain-style-bank/99"}),
            ("format-number", lambda: {**_index(), "format": 2}),
            ("entry-string", _edited(lambda index: index["styles"].__setitem__("wave", "wave"))),
            ("entry-null", _edited(lambda index: index["styles"].__setitem__("wave", None))),
            ("entry-list", _edited(lambda index: index["styles"].__setitem__("wave", []))),
            ("source-number", _entry_set("source", 7)),
            ("licence-list", _entry_set("licence", ["CC0"])),
            ("images-dict", _entry_set("images", {"file": "a.png"})),
            ("images-of-numbers", _entry_set("images", [1, 2])),
            ("style-size-negative", _entry_set("style_size", -512)),
            ("style-size-string", _entry_set("style_size", "512")),
            ("style-size-bool", _entry_set("style_size", True)),
            ("style-size-float", _entry_set("style_size", 1.5)),
            ("created-number", _entry_set("created", 20261203)),
            ("name-mismatch", _entry_set("name", "other")),
            ("name-number", _entry_set("name", 3)),
            ("not-json", "{not json"),
            ("truncated-json", lambda: json.dumps(_index())[:40]),
            ("empty-file", b""),
            ("not-utf8", lambda: json.dumps(_index()).replace("CC0", "\udcff").encode("utf-8", "surrogateescape")),
            ("utf8-bom", lambda: b"\xef\xbb\xbf" + json.dumps(_index()).encode()),
            ("deep", "[" * 100_000 + "]" * 100_000),
            ("deep-object", '{"a":' * 50_000 + "1" + "}" * 50_000),
            ("duplicate-style", lambda: json.dumps(_index())[:-2] + ', "wave": ' + json.dumps(_entry("wave")) + "}}"),
            ("duplicate-preset", lambda: '{"preset": "vgg16-hed", "preset": "vgg19", "styles": {}}'),
            ("nan-style-size", lambda: json.dumps(_index()).replace('"style_size": 512', '"style_size": NaN')),
            (
                "infinity-style-size",
                lambda: json.dumps(_index()).replace('"style_size": 512', '"style_size": Infinity'),
            ),
            ("random-bytes", lambda: seeded("bank-index-random-bytes").randbytes(512)),
        ]
    ],
    Case("bank-index-65-mib", B, _sparse_index, _load, BankError, message=r"bank\.json: \d+ bytes, more than"),
    # the statistics: missing, extra, wrong width, shape or dtype, not finite
    Case(
        "bank-tensors-absent",
        B,
        _bank(tensors="absent"),
        _load,
        BankError,
        message=r"style bank file not found: .*bank\.safetensors",
    ),
    Case(
        "bank-tensors-text",
        B,
        _bank(tensors=b"these are not statistics\n"),
        _load,
        BankError,
        message=r"bank\.safetensors",
    ),
    Case("bank-tensors-empty-file", B, _bank(tensors=b""), _load, BankError, message=r"bank\.safetensors"),
    Case(
        "bank-tensors-lying-length",
        B,
        _bank(tensors=lambda: _header({}, length=10**9)),
        _load,
        BankError,
        message=r"bank\.safetensors.*runs past the end",
    ),
    Case(
        "bank-tensors-overlap",
        B,
        _bank(
            tensors=lambda: _header(
                {
                    "wave/relu4_1.mean": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                    "wave/relu4_1.std": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                },
                b"\x00" * 4,
            )
        ),
        _load,
        BankError,
        message=r"bank\.safetensors.*overlaps",
    ),
    Case(
        "bank-tensors-duplicate-key",
        B,
        _bank(
            tensors=lambda: _header(
                None,
                b"\x00" * 8,
                raw=b'{"wave/relu4_1.mean": {"dtype": "F32", "shape": [1],'
                b' "data_offsets": [0, 4]}, "wave/relu4_1.mean": {"dtype": "F32", "shape": [1],'
                b' "data_offsets": [4, 8]}}',
            )
        ),
        _load,
        BankError,
        message=r"bank\.safetensors.*declares tensor 'wave/relu4_1\.mean' twice",
    ),
    Case(
        "bank-tensors-none-for-a-style",
        B,
        _bank(index=lambda: _index(("wave", "scream"))),
        _load,
        BankError,
        message=r"style 'scream' of .*bank\.json has no statistics in .*bank\.safetensors",
    ),
    Case(
        "bank-tensors-extra-style",
        B,
        _bank(tensors=lambda: _tensors(("wave", "ghost"))),
        _load,
        BankError,
        message=r"bank\.safetensors holds 'ghost/.*', which belongs to no style",
    ),
    Case(
        "bank-tensors-key-without-style",
        B,
        _bank(tensors=_stats_edit(lambda t: t.__setitem__("relu4_1.mean", torch.zeros(512)))),
        _load,
        BankError,
        message=r"bank\.safetensors holds 'relu4_1\.mean', which belongs to no style",
    ),
    Case(
        "bank-tensors-narrow-relu4-both",
        B,
        _bank(
            tensors=_stats_edit(
                lambda t: t.update({"wave/relu4_1.mean": torch.zeros(256), "wave/relu4_1.std": torch.ones(256)})
            )
        ),
        _load,
        BankError,
        message=r"style 'wave' in .*bank\.safetensors: relu4_1 has 256 channels; the encoder's relu4_1 has 512",
    ),
    Case(
        "bank-tensors-unknown-tap",
        B,
        _bank(tensors=_stat_set("relu5_1.mean", lambda: torch.zeros(512))),
        _load,
        BankError,
        message=r"style 'wave' in .*bank\.safetensors",
    ),
    Case(
        "bank-tensors-unknown-kind",
        B,
        _bank(tensors=_stat_set("relu4_1.var", lambda: torch.zeros(512))),
        _load,
        BankError,
        message=r"style 'wave' in .*bank\.safetensors: unexpected key 'relu4_1\.var'",
    ),
    Case(
        "bank-tensors-mean-without-std",
        B,
        _bank(tensors=_stat_drop("relu3_1.std")),
        _load,
        BankError,
        message=r"style 'wave' in .*bank\.safetensors: means and stds must have the same taps",
    ),
    Case(
        "bank-tensors-no-relu4",
        B,
        _bank(tensors=_stat_drop("relu4_1.mean", "relu4_1.std")),
        _load,
        BankError,
        message=r"style 'wave' in .*bank\.safetensors: style statistics need 'relu4_1'",
    ),
    *[
        Case(
            f"bank-tensors-{label}",
            B,
            _bank(tensors=_stat_set(key, value)),
            _load,
            BankError,
            message=r"bank\.safetensors",
        )
        for label, key, value in [
            ("narrow-relu4", "relu4_1.mean", lambda: torch.zeros(256)),
            ("narrow-std-relu4", "relu4_1.std", lambda: torch.ones(256)),
            ("wide-relu1", "relu1_1.mean", lambda: torch.zeros(512)),
            ("zero-width", "relu2_1.mean", lambda: torch.zeros(0)),
            ("matrix", "relu4_1.mean", lambda: torch.zeros(2, 512)),
            ("spatial", "relu4_1.mean", lambda: torch.zeros(1, 512, 2, 2)),
            ("scalar", "relu4_1.mean", lambda: torch.tensor(0.5)),
            ("nan-mean", "relu4_1.mean", lambda: torch.full((512,), NAN)),
            ("one-nan-std", "relu2_1.std", lambda: torch.ones(128).index_fill(0, torch.tensor([77]), NAN)),
            ("inf-std", "relu4_1.std", lambda: torch.full((512,), INF)),
            ("neg-inf-mean", "relu1_1.mean", lambda: torch.full((64,), -INF)),
            ("negative-std", "relu3_1.std", lambda: -torch.ones(256)),
            ("i8", "relu4_1.mean", lambda: torch.zeros(512, dtype=torch.int8)),
            ("bool", "relu4_1.std", lambda: torch.ones(512, dtype=torch.bool)),
            ("i64", "relu1_1.mean", lambda: torch.zeros(64, dtype=torch.int64)),
            ("f8", "relu4_1.mean", lambda: torch.zeros(512, dtype=torch.float8_e4m3fn)),
            ("c64", "relu4_1.mean", lambda: torch.zeros(512, dtype=torch.complex64)),
        ]
    ],
    # special files: stat-ed before they are opened (a FIFO must not block)
    Case("bank-index-fifo", B, _special("fifo"), _load, BankError, message=r"bank\.json is a FIFO", cli=_import_argv),
    Case("bank-index-fifo-import", B, _special("fifo"), _import, BankError, message=r"bank\.json is a FIFO"),
    Case(
        "bank-tensors-fifo",
        B,
        _special("fifo", "safetensors"),
        _load,
        BankError,
        message=r"bank\.safetensors is a FIFO",
    ),
    Case("bank-index-folder", B, _special("folder"), _load, BankError, message=r"bank\.json is a folder"),
    Case(
        "bank-tensors-folder",
        B,
        _special("folder", "safetensors"),
        _load,
        BankError,
        message=r"bank\.safetensors is a folder",
    ),
    Case("bank-index-symlink-loop", B, _special("loop"), _load, BankError, message=r"bank\.json is a symlink loop"),
    Case(
        "bank-index-dangling-link",
        B,
        _special("dangling"),
        _load,
        BankError,
        message=r"style bank index not found: .*bank\.json",
    ),
    Case("bank-missing", B, lambda folder: folder / "absent", _load, BankError, message=r"no style bank at .*absent"),
    Case(
        "bank-import-missing",
        B,
        lambda folder: folder / "absent.json",
        _import,
        BankError,
        message=r"no style bank at .*absent\.json",
    ),
    Case(
        "bank-import-folder",
        B,
        lambda folder: (folder / "banks").mkdir() or folder / "banks",
        _import,
        BankError,
        message=r"banks is a folder, not a style bank file",
    ),
    Case("bank-empty-path", B, lambda folder: "", _load, UsageError, message=r"needs a file name"),
    Case("bank-root-path", B, lambda folder: Path("/"), _load, UsageError, message=r"needs a file name.*Got '/'"),
    # the commands around a bank
    Case(
        "bank-export-unknown-style",
        B,
        _bank(),
        command(_export_argv("nope")),
        BankError,
        message=r"no style 'nope'",
        cli=_export_argv("nope"),
    ),
    Case(
        "bank-export-one-unknown-of-two",
        B,
        _bank(),
        command(_export_argv("wave", "nope")),
        BankError,
        message=r"no style 'nope'",
    ),
    Case(
        "bank-export-invalid-name",
        B,
        _bank(),
        command(_export_argv("../evil")),
        UsageError,
        message=r"style name '\.\./evil'",
    ),
    Case("bank-show-unknown-style", B, _bank(), command(_show_argv("nope")), BankError, message=r"no style 'nope'"),
    Case("bank-show-invalid-name", B, _bank(), command(_show_argv("a\nb")), UsageError, message=r"style name 'a\\nb'"),
    Case(
        "bank-import-other-preset",
        B,
        _bank(index=lambda: _index(preset="vgg19")),
        _import,
        UsageError,
        message=r"bank holds 'vgg19' statistics; your bank is 'vgg16-hed'",
    ),
    Case(
        "bank-list-broken-bank",
        B,
        _bank(index="[]"),
        command(_list_argv),
        BankError,
        message=r"bank\.json",
    ),
]
