"""Corpus cases: weight files (``load_decoder``, ``load_encoder``, ``import_weights``: what
``adain stylize --decoder``, ``adain export onnx --decoder``, every command's encoder and
``adain weights import`` read), and ``ADAIN_HOME`` pointing somewhere it cannot be.

A real vgg16-hed decoder (and encoder) is built once (seeded, saved through
``adain.weights.save_decoder``) and then damaged: tensors of every non-floating dtype, NaN and
infinite values, wrong shapes, missing and extra tensors, truncations. Safetensors headers are also
built by hand (lying lengths, overlapping or gapped offsets, JSON that is no object, duplicate
names), and ``.pth`` files hold pickles that would run code, garbage, or another architecture. No
case may reach the network: the download functions are replaced by ones that fail the case.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import pickle
import struct
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import torch
from adain_corpus import Case, seeded
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from adain.errors import MissingWeightsError, PresetError, UsageError, WeightsError
from adain.models import Decoder, MultiLevelDecoder, VGGEncoder
from adain.styles.library import resolve_style
from adain.weights import get_preset, import_weights, load_decoder, load_encoder, prepare, save_decoder

PRESET = "vgg16-hed"


# -- the network is never reached -------------------------------------------------------------------


class NetworkAttempt(AssertionError):
    """Raised by the stand-ins of the download functions: a case that gets here fails (untyped)."""


def _no_network(*args: Any, **kwargs: Any) -> Any:
    raise NetworkAttempt(f"a weights case tried to fetch: {args[:2]}")


@contextlib.contextmanager
def offline() -> Iterator[None]:
    with (
        mock.patch("adain.weights.loading.download_url", _no_network),
        mock.patch("adain.weights.loading.fetch_wheel_member", _no_network),
    ):
        yield


@contextlib.contextmanager
def home(path: Path | str) -> Iterator[None]:
    """``ADAIN_HOME`` set to ``path`` for the block (and offline)."""
    previous = os.environ.get("ADAIN_HOME")
    os.environ["ADAIN_HOME"] = str(path)
    try:
        with offline():
            yield
    finally:
        if previous is None:
            del os.environ["ADAIN_HOME"]
        else:
            os.environ["ADAIN_HOME"] = previous


# -- the real networks' files, built once ---------------------------------------------------------


@functools.cache
def _saved_decoder(kind: str = "plain", half: bool = True) -> tuple[bytes, str]:
    """A seeded vgg16-hed decoder saved through ``save_decoder``: the file's bytes and its manifest."""
    torch.manual_seed(15)
    architecture = get_preset(PRESET).architecture
    decoder = Decoder(architecture) if kind == "plain" else MultiLevelDecoder(architecture, ("relu3_1",))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "decoder.safetensors"
        save_decoder(decoder, path, PRESET, half=half)
        return path.read_bytes(), (Path(folder) / "manifest.json").read_text()


def _decoder_bytes(kind: str = "plain", half: bool = True) -> bytes:
    return _saved_decoder(kind, half)[0]


def _decoder_tensors() -> dict[str, torch.Tensor]:
    return load_safetensors(_decoder_bytes())


@functools.cache
def _encoder_bytes() -> bytes:
    torch.manual_seed(16)
    state = VGGEncoder(get_preset(PRESET).architecture).state_dict()
    return save_safetensors({key: value.half().contiguous() for key, value in state.items()})


@functools.cache
def _vgg19_decoder_state() -> dict[str, torch.Tensor]:
    """A decoder of another architecture (vgg19's: one more conv per block), in pytorch-AdaIN's keys."""
    torch.manual_seed(17)
    state = Decoder(get_preset("vgg19").architecture).state_dict()
    return {key.removeprefix("layers."): value.half() for key, value in state.items()}


def _pth_bytes(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _decoder_pth_state() -> dict[str, torch.Tensor]:
    """The decoder in pytorch-AdaIN's ``decoder.pth`` keys (``1.weight``), float32."""
    return {key.removeprefix("layers."): value.float() for key, value in _decoder_tensors().items()}


# -- builders -------------------------------------------------------------------------------------


def _file(name: str, data: bytes | Callable[[], bytes], extra: dict[str, bytes | Callable[[], bytes]] | None = None):
    """``make``: ``name`` holding ``data`` (and files ``extra`` beside it); returns its path."""

    def make(folder: Path) -> Path:
        for other, content in (extra or {}).items():
            (folder / other).write_bytes(content() if callable(content) else content)
        path = folder / name
        path.write_bytes(data() if callable(data) else data)
        return path

    return make


def _mutated(mutate: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]) -> Callable[[], bytes]:
    """The decoder's safetensors bytes after ``mutate`` of its tensors."""
    return lambda: save_safetensors({k: v.contiguous() for k, v in mutate(dict(_decoder_tensors())).items()})


def _all_to(dtype: torch.dtype):
    return _mutated(lambda state: {key: value.to(dtype) for key, value in state.items()})


def _one_to(key: str, dtype: torch.dtype):
    def mutate(state):
        state[key] = state[key].to(dtype)
        return state

    return _mutated(mutate)


def _filled(value: float, key: str | None = None, where: int | None = None):
    """Every tensor (or tensor ``key``) all ``value``, or only one element of it (``where``)."""

    def mutate(state):
        for name in list(state) if key is None else [key]:
            tensor = state[name].clone()
            if where is None:
                tensor.fill_(value)
            else:
                tensor.view(-1)[where % tensor.numel()] = value
            state[name] = tensor
        return state

    return _mutated(mutate)


def _reshaped(key: str, shape: tuple[int, ...]):
    def mutate(state):
        state[key] = torch.zeros(shape, dtype=torch.float16)
        return state

    return _mutated(mutate)


def _dropped(key: str):
    def mutate(state):
        del state[key]
        return state

    return _mutated(mutate)


def _added(key: str, tensor: Callable[[], torch.Tensor]):
    def mutate(state):
        state[key] = tensor()
        return state

    return _mutated(mutate)


def _renamed(prefix: str):
    return _mutated(lambda state: {prefix + key: value for key, value in state.items()})


def _header(header: Any, data: bytes = b"", length: int | None = None, raw: bytes | None = None) -> bytes:
    """A hand-built safetensors file: 8-byte length (true, or ``length``), the JSON header, ``data``."""
    text = raw if raw is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def _f32(count: int) -> bytes:
    return struct.pack(f"<{count}f", *[0.5] * count)


def _tensor(dtype: str, shape: list[int], begin: int, end: int) -> dict[str, Any]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def _truncated(fraction: float):
    return lambda: _decoder_bytes()[: int(len(_decoder_bytes()) * fraction)]


def _seeded_bytes(name: str, size: int, prefix: bytes = b"") -> Callable[[], bytes]:
    return lambda: prefix + seeded(name).randbytes(size)


def _fifo(name: str):
    def make(folder: Path) -> Path:
        path = folder / name
        os.mkfifo(path)
        return path

    return make


def _folder(name: str):
    def make(folder: Path) -> Path:
        path = folder / name
        path.mkdir()
        return path

    return make


def _symlink_loop(name: str):
    def make(folder: Path) -> Path:
        path = folder / name
        path.symlink_to(path)
        return path

    return make


def _with_manifest(manifest: str | dict[str, Any] | None = None, kind: str = "plain"):
    """The decoder with a ``manifest.json`` beside it: ``manifest`` (its text, or the decoder's
    entry), or the one ``save_decoder`` wrote."""

    def make(folder: Path) -> Path:
        data, written = _saved_decoder(kind)
        path = folder / "decoder.safetensors"
        path.write_bytes(data)
        if manifest is None:
            text = written
        else:
            text = manifest if isinstance(manifest, str) else json.dumps({"decoder": manifest})
        (folder / "manifest.json").write_text(text)
        return path

    return make


# -- entry points ---------------------------------------------------------------------------------


def _load_decoder(path: Path, out: Path) -> None:
    with offline():
        load_decoder(PRESET, path=path, progress=False)


def _import(preset: str | None = PRESET):
    def run(path: Path, out: Path) -> None:
        with offline():
            import_weights(path, home=out / "home", preset_name=preset, replace=True)  # over the shipped decoder

    return run


def _export_cli(path: Path, out: Path) -> list[str]:
    """What reads a decoder file and writes nothing before it has loaded it: ``adain export onnx``."""
    return ["export", "onnx", "--part", "decoder", "--decoder", str(path), "-o", str(out / "decoder.onnx")]


def _stylize_cli(path: Path, out: Path) -> list[str]:
    return [
        "stylize",
        str(path.parent / "content.png"),
        "--style",
        "bank:antimonocromatismo",
        "--decoder",
        str(path),
        "-o",
        str(out / "result.png"),
        "--size",
        "32",
        "--no-progress",
    ]


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 32), (180, 90, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


# -- pickles that must never run --------------------------------------------------------------------


class _Reduce:
    """Pickles as a call of ``function(*arguments)`` (what an exploit does)."""

    def __init__(self, function: Callable[..., Any], *arguments: Any) -> None:
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return (self.function, self.arguments)


def _exploit(kind: str) -> Callable[[Path], Path]:
    """A ``.pth`` whose unpickling would create ``pwned`` beside it; the run checks it never appears."""

    def make(folder: Path) -> Path:
        marker = folder / "pwned"
        if kind == "system":
            payload: Any = _Reduce(os.system, f"touch {marker}")
        elif kind == "eval":
            payload = _Reduce(eval, f"open({str(marker)!r}, 'w')")
        elif kind == "exec":
            payload = _Reduce(exec, f"open({str(marker)!r}, 'w')")
        else:
            import subprocess

            payload = _Reduce(subprocess.call, ["touch", str(marker)])
        path = folder / f"evil-{kind}.pth"
        path.write_bytes(pickle.dumps(payload, protocol=2))
        return path

    return make


def _exploit_in_zip(folder: Path) -> Path:
    """The same, inside the zip ``torch.save`` writes (its data.pkl replaced)."""
    marker = folder / "pwned"
    payload = pickle.dumps({"1.weight": _Reduce(os.system, f"touch {marker}")}, protocol=2)
    path = folder / "evil-zip.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil-zip/data.pkl", payload)
        archive.writestr("evil-zip/version", "3\n")
        archive.writestr("evil-zip/byteorder", "little")
    return path


def _never_ran(run: Callable[[Path, Path], None]):
    def checked(path: Path, out: Path) -> None:
        try:
            run(path, out)
        finally:
            if (path.parent / "pwned").exists():
                raise AssertionError(f"{path.name}: unpickling ran code")

    return checked


#: a refusal names the file and never advises loading it unsafely (torch's message does)
_OUR_WORDS = r"^(?!.*(False|trust|can still be loaded)).*evil-[a-z]+\.pth"


def _torch_save(obj: Callable[[], Any]) -> Callable[[], bytes]:
    return lambda: _pth_bytes(obj())


def _cut_zip(fraction: float) -> Callable[[], bytes]:
    def data() -> bytes:
        whole = _pth_bytes(_decoder_pth_state())
        return whole[: int(len(whole) * fraction)]

    return data


def _flipped_zip(name: str) -> Callable[[], bytes]:
    def data() -> bytes:
        whole = bytearray(_pth_bytes({"1.weight": torch.zeros(4)}))
        rng = seeded(name)
        for _ in range(8):
            whole[rng.randrange(len(whole))] ^= 0xFF
        return bytes(whole)

    return data


def _zip_without_version() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x/data.pkl", pickle.dumps({"a": 1}, protocol=2))
    return buffer.getvalue()


# -- ADAIN_HOME ---------------------------------------------------------------------------------------


def _home_file(folder: Path) -> Path:
    path = folder / "home-is-a-file"
    path.write_text("not a folder\n")
    return path


def _home_below_file(folder: Path) -> Path:
    (folder / "blocker").write_text("a file where a folder should be\n")
    return folder / "blocker" / "adain-home"


def _home_fifo(folder: Path) -> Path:
    path = folder / "home-fifo"
    os.mkfifo(path)
    return path


def _home_loop(folder: Path) -> Path:
    path = folder / "home-loop"
    path.symlink_to(path)
    return path


def _home_long(folder: Path) -> Path:
    return folder / ("h" * 300)


def _home_unwritable(folder: Path) -> Path:
    """A folder nothing can be created in, even as root: under /sys (a pseudo file system)."""
    return Path("/sys") / f"adain-corpus-{folder.parent.name[:40]}"


def _home_preset_is_file(folder: Path) -> Path:
    path = folder / "home-with-blocker"
    path.mkdir()
    (path / PRESET).write_text("a file where the preset's folder should be\n")
    return path


def _home_with_encoder(data: Callable[[], bytes] | None, manifest: str | None = None):
    """An ADAIN_HOME whose vgg16-hed encoder file holds ``data`` (None: a FIFO there)."""

    def make(folder: Path) -> Path:
        preset = folder / "home" / PRESET
        preset.mkdir(parents=True)
        path = preset / "encoder.safetensors"
        if data is None:
            os.mkfifo(path)
        else:
            path.write_bytes(data())
        if manifest is not None:
            (preset / "manifest.json").write_text(manifest)
        return path

    return make


def _in_home(action: Callable[[], Any], home_of: Callable[[Path], Path] = lambda given: given):
    def run(given: Path, out: Path) -> None:
        with home(home_of(given)):
            action()

    return run


def _encoder_and_manifest_fifo(folder: Path) -> Path:
    path = _home_with_encoder(_encoder_bytes)(folder)
    os.mkfifo(path.parent / "manifest.json")
    return path


def _load_encoder_in_its_home(path: Path, out: Path) -> None:
    with home(path.parent.parent):
        load_encoder(PRESET, progress=False)


def _mutated_encoder(mutate: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]) -> Callable[[], bytes]:
    return lambda: save_safetensors(mutate(dict(load_safetensors(_encoder_bytes()))))


def _first_to(dtype: torch.dtype, value: float | None = None):
    def mutate(state):
        key = next(iter(state))
        state[key] = state[key].to(dtype) if value is None else torch.full_like(state[key], value)
        return state

    return mutate


# -- the table --------------------------------------------------------------------------------------

W = "weights"
DECODER = "decoder.safetensors"
LAST = "layers.25.bias"  # the last tensor: every tensor is checked, not only the first

CASES: list[Case] = [
    # valid files load
    Case(
        "weights-decoder-valid-fp16",
        W,
        _file(DECODER, _decoder_bytes, {"content.png": _png}),
        _load_decoder,
        None,
        cli=_stylize_cli,
    ),
    Case("weights-decoder-valid-fp32", W, _file(DECODER, lambda: _decoder_bytes(half=False)), _load_decoder, None),
    Case("weights-decoder-valid-bf16", W, _file(DECODER, _all_to(torch.bfloat16)), _load_decoder, None),
    Case("weights-decoder-valid-f64", W, _file(DECODER, _all_to(torch.float64)), _load_decoder, None),
    Case(
        "weights-decoder-valid-large-finite",
        W,
        _file(DECODER, _filled(6.0e4, "layers.1.weight", where=3)),
        _load_decoder,
        None,
    ),
    Case(
        "weights-decoder-valid-multilevel", W, _file(DECODER, lambda: _decoder_bytes("multilevel")), _load_decoder, None
    ),
    Case("weights-decoder-valid-manifest", W, _with_manifest(), _load_decoder, None),
    Case("weights-decoder-valid-multilevel-manifest", W, _with_manifest(kind="multilevel"), _load_decoder, None),
    Case("weights-decoder-valid-pth", W, _file("decoder.pth", _torch_save(_decoder_pth_state)), _load_decoder, None),
    Case(
        "weights-decoder-valid-pth-state-dict-key",
        W,
        _file("nested.pth", _torch_save(lambda: {"state_dict": _decoder_pth_state()})),
        _load_decoder,
        None,
    ),
    Case("weights-import-valid-decoder", W, _file(DECODER, _decoder_bytes), _import(), None),
    # dtypes: every tensor, then only one (the first, the last)
    *[
        Case(
            f"weights-decoder-dtype-{name}",
            W,
            _file(f"dtype-{name}.safetensors", _all_to(dtype)),
            _load_decoder,
            WeightsError,
            message=rf"dtype-{name}\.safetensors: tensor 'layers\.\d+\.(weight|bias)' has dtype {tag};",
            cli=_export_cli if name == "i8" else None,
        )
        for name, dtype, tag in [
            ("i8", torch.int8, "I8"),
            ("u8", torch.uint8, "U8"),
            ("i16", torch.int16, "I16"),
            ("u16", torch.uint16, "U16"),
            ("i32", torch.int32, "I32"),
            ("u32", torch.uint32, "U32"),
            ("i64", torch.int64, "I64"),
            ("u64", torch.uint64, "U64"),
            ("bool", torch.bool, "BOOL"),
            ("f8e4m3", torch.float8_e4m3fn, "F8_E4M3"),
            ("f8e5m2", torch.float8_e5m2, "F8_E5M2"),
            ("f8e4m3fnuz", torch.float8_e4m3fnuz, "F8_E4M3FNUZ"),
            ("f8e5m2fnuz", torch.float8_e5m2fnuz, "F8_E5M2FNUZ"),
            ("f8e8m0", torch.float8_e8m0fnu, "F8_E8M0"),
            ("c64", torch.complex64, "C64"),
        ]
    ],
    Case(
        "weights-decoder-dtype-last-i8",
        W,
        _file("last-i8.safetensors", _one_to(LAST, torch.int8)),
        _load_decoder,
        WeightsError,
        message=r"last-i8\.safetensors: tensor 'layers\.25\.bias' has dtype I8",
    ),
    Case(
        "weights-decoder-dtype-first-bool",
        W,
        _file("first-bool.safetensors", _one_to("layers.1.weight", torch.bool)),
        _load_decoder,
        WeightsError,
        message=r"first-bool\.safetensors: tensor 'layers\.1\.weight' has dtype BOOL",
    ),
    Case(
        "weights-decoder-dtype-middle-i64",
        W,
        _file("middle-i64.safetensors", _one_to("layers.11.bias", torch.int64)),
        _load_decoder,
        WeightsError,
        message=r"middle-i64\.safetensors: tensor 'layers\.11\.bias' has dtype I64",
    ),
    # values
    Case(
        "weights-decoder-all-nan",
        W,
        _file("all-nan.safetensors", _filled(float("nan"))),
        _load_decoder,
        WeightsError,
        message=r"all-nan\.safetensors: layers\.\d+\.(weight|bias) holds NaN",
        cli=_export_cli,
    ),
    Case(
        "weights-decoder-all-inf",
        W,
        _file("all-inf.safetensors", _filled(float("inf"))),
        _load_decoder,
        WeightsError,
        message=r"all-inf\.safetensors.*holds infinite",
    ),
    Case(
        "weights-decoder-all-neg-inf",
        W,
        _file("neg-inf.safetensors", _filled(float("-inf"))),
        _load_decoder,
        WeightsError,
        message=r"neg-inf\.safetensors.*holds infinite",
    ),
    Case(
        "weights-decoder-one-nan-middle",
        W,
        _file("one-nan.safetensors", _filled(float("nan"), "layers.11.weight", 12345)),
        _load_decoder,
        WeightsError,
        message=r"one-nan\.safetensors: layers\.11\.weight holds NaN",
    ),
    Case(
        "weights-decoder-one-inf-last-bias",
        W,
        _file("inf-bias.safetensors", _filled(float("inf"), LAST, 1)),
        _load_decoder,
        WeightsError,
        message=r"inf-bias\.safetensors: layers\.25\.bias holds infinite",
    ),
    Case(
        "weights-decoder-fp32-nan",
        W,
        _file(
            "fp32-nan.safetensors",
            lambda: save_safetensors(
                {k: torch.full_like(v.float(), float("nan")) for k, v in _decoder_tensors().items()}
            ),
        ),
        _load_decoder,
        WeightsError,
        message=r"fp32-nan\.safetensors.*NaN",
    ),
    # keys and shapes
    Case(
        "weights-decoder-transposed-weight",
        W,
        _file("transposed.safetensors", _reshaped("layers.1.weight", (512, 256, 3, 3))),
        _load_decoder,
        WeightsError,
        message=r"transposed\.safetensors: layers\.1\.weight has shape \(512, 256, 3, 3\)",
        cli=_export_cli,
    ),
    Case(
        "weights-decoder-kernel-5x5",
        W,
        _file("kernel5.safetensors", _reshaped("layers.1.weight", (256, 512, 5, 5))),
        _load_decoder,
        WeightsError,
        message=r"kernel5\.safetensors.*\(256, 512, 3, 3\)",
    ),
    Case(
        "weights-decoder-bias-too-long",
        W,
        _file("long-bias.safetensors", _reshaped("layers.1.bias", (257,))),
        _load_decoder,
        WeightsError,
        message=r"long-bias\.safetensors: layers\.1\.bias has shape \(257,\)",
    ),
    Case(
        "weights-decoder-bias-scalar",
        W,
        _file("scalar-bias.safetensors", _reshaped("layers.1.bias", ())),
        _load_decoder,
        WeightsError,
        message=r"scalar-bias\.safetensors: layers\.1\.bias has shape \(\)",
    ),
    Case(
        "weights-decoder-zero-size",
        W,
        _file("zero-size.safetensors", _reshaped("layers.1.weight", (0, 512, 3, 3))),
        _load_decoder,
        WeightsError,
        message=r"zero-size\.safetensors.*\(0, 512, 3, 3\)",
    ),
    Case(
        "weights-decoder-missing-tensor",
        W,
        _file("missing.safetensors", _dropped("layers.1.bias")),
        _load_decoder,
        WeightsError,
        message=r"missing\.safetensors does not fit the architecture: missing \['layers\.1\.bias'\]",
    ),
    Case(
        "weights-decoder-extra-tensor",
        W,
        _file("extra.safetensors", _added("layers.99.weight", lambda: torch.zeros(3, dtype=torch.float16))),
        _load_decoder,
        WeightsError,
        message=r"extra\.safetensors.*unexpected \['layers\.99\.weight'\]",
    ),
    Case(
        "weights-decoder-extra-odd-name",
        W,
        _file("odd-name.safetensors", _added("../../etc/passwd", lambda: torch.zeros(1, dtype=torch.float16))),
        _load_decoder,
        WeightsError,
        message=r"odd-name\.safetensors.*unexpected",
    ),
    Case(
        "weights-decoder-renamed-keys",
        W,
        _file("renamed.safetensors", _renamed("decoder.")),
        _load_decoder,
        WeightsError,
        message=r"renamed\.safetensors does not fit",
    ),
    Case(
        "weights-decoder-encoder-file",
        W,
        _file("encoder-as-decoder.safetensors", _encoder_bytes),
        _load_decoder,
        WeightsError,
        message=r"encoder-as-decoder\.safetensors does not fit",
    ),
    Case(
        "weights-decoder-no-tensors",
        W,
        _file("empty-dict.safetensors", lambda: save_safetensors({})),
        _load_decoder,
        WeightsError,
        message=r"empty-dict\.safetensors does not fit",
    ),
    # manifests beside the file
    Case(
        "weights-decoder-manifest-sha-mismatch",
        W,
        _with_manifest({**{"architecture": "decoder-for-vgg16"}, "sha256": "0" * 64}),
        _load_decoder,
        WeightsError,
        message=r"sha256 mismatch for .*decoder\.safetensors",
    ),
    Case(
        "weights-decoder-manifest-multilevel-lie",
        W,
        _with_manifest({"architecture": "multilevel-decoder-for-vgg16", "skip_taps": ["relu9_9"]}),
        _load_decoder,
        WeightsError,
        message=r"decoder\.safetensors.*skip taps",
    ),
    Case(
        "weights-decoder-manifest-taps-not-names",
        W,
        _with_manifest({"architecture": "multilevel-decoder-for-vgg16", "skip_taps": [[1]]}),
        _load_decoder,
        WeightsError,
        message=r"decoder\.safetensors.*skip taps",
    ),
    Case(
        "weights-decoder-manifest-not-json",
        W,
        _with_manifest("{not json"),
        _load_decoder,
        WeightsError,
        message=r"manifest\.json: not JSON",
    ),
    Case(
        "weights-decoder-manifest-list",
        W,
        _with_manifest("[1, 2, 3]"),
        _load_decoder,
        WeightsError,
        message=r"manifest\.json is not a JSON object",
    ),
    Case(
        "weights-decoder-manifest-deep",
        W,
        _with_manifest("[" * 100_000 + "]" * 100_000),
        _load_decoder,
        WeightsError,
        message=r"manifest\.json: JSON nested too deep",
    ),
    Case(
        "weights-decoder-manifest-duplicate",
        W,
        _with_manifest('{"decoder": {}, "decoder": {}}'),
        _load_decoder,
        WeightsError,
        message=r"manifest\.json: it names 'decoder' twice",
    ),
    # hand-built safetensors headers
    Case(
        "weights-header-valid-tiny-is-no-decoder",
        W,
        _file("tiny.safetensors", _header({"a": _tensor("F32", [2], 0, 8)}, _f32(2))),
        _load_decoder,
        WeightsError,
        message=r"tiny\.safetensors does not fit the architecture",
    ),
    Case(
        "weights-header-offset-past-data",
        W,
        _file("past.safetensors", _header({"a": _tensor("F32", [4], 0, 16)}, _f32(2))),
        _load_decoder,
        WeightsError,
        message=r"past\.safetensors.*tensors cover 16 bytes of data; the file holds 8",
    ),
    Case(
        "weights-header-overlap",
        W,
        _file(
            "overlap.safetensors", _header({"a": _tensor("F32", [2], 0, 8), "b": _tensor("F32", [2], 0, 8)}, _f32(2))
        ),
        _load_decoder,
        WeightsError,
        message=r"overlap\.safetensors.*tensor 'b' overlaps",
    ),
    Case(
        "weights-header-partial-overlap",
        W,
        _file(
            "partial.safetensors", _header({"a": _tensor("F32", [2], 0, 8), "b": _tensor("F32", [2], 4, 12)}, _f32(3))
        ),
        _load_decoder,
        WeightsError,
        message=r"partial\.safetensors.*'b' overlaps",
    ),
    Case(
        "weights-header-gap",
        W,
        _file("gap.safetensors", _header({"a": _tensor("F32", [2], 8, 16)}, _f32(4))),
        _load_decoder,
        WeightsError,
        message=r"gap\.safetensors.*leaves bytes 0\.\.8 unused",
    ),
    Case(
        "weights-header-trailing-bytes",
        W,
        _file("trailing.safetensors", _header({"a": _tensor("F32", [2], 0, 8)}, _f32(2) + b"\x00" * 8)),
        _load_decoder,
        WeightsError,
        message=r"trailing\.safetensors.*cover 8 bytes.*holds 16",
    ),
    Case(
        "weights-header-reversed-offsets",
        W,
        _file("reversed.safetensors", _header({"a": _tensor("F32", [2], 8, 0)}, _f32(2))),
        _load_decoder,
        WeightsError,
        message=r"reversed\.safetensors.*needs 8 bytes",
    ),
    Case(
        "weights-header-size-mismatch",
        W,
        _file("mismatch.safetensors", _header({"a": _tensor("F32", [3], 0, 8)}, _f32(2))),
        _load_decoder,
        WeightsError,
        message=r"mismatch\.safetensors.*needs 12 bytes; its offsets hold 8",
    ),
    Case(
        "weights-header-negative-offset",
        W,
        _file("negative.safetensors", _header({"a": _tensor("F32", [2], -8, 0)}, _f32(2))),
        _load_decoder,
        WeightsError,
        message=r"negative\.safetensors.*data_offsets",
    ),
    Case(
        "weights-header-float-offsets",
        W,
        _file(
            "float-offsets.safetensors",
            _header({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0.0, 8.0]}}, _f32(2)),
        ),
        _load_decoder,
        WeightsError,
        message=r"float-offsets\.safetensors.*data_offsets",
    ),
    Case(
        "weights-header-three-offsets",
        W,
        _file("three.safetensors", _header({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4, 8]}}, _f32(2))),
        _load_decoder,
        WeightsError,
        message=r"three\.safetensors.*data_offsets",
    ),
    Case(
        "weights-header-length-lies-long",
        W,
        _file("lying.safetensors", _header({"a": _tensor("F32", [2], 0, 8)}, _f32(2), length=10**6)),
        _load_decoder,
        WeightsError,
        message=r"lying\.safetensors.*header length 1000000 runs past the end",
        cli=_export_cli,
    ),
    Case(
        "weights-header-length-lies-short",
        W,
        _file("short-length.safetensors", _header({"a": _tensor("F32", [2], 0, 8)}, _f32(2), length=10)),
        _load_decoder,
        WeightsError,
        message=r"short-length\.safetensors.*not JSON",
    ),
    Case(
        "weights-header-length-zero",
        W,
        _file("zero-length.safetensors", _header(None, _f32(2), length=0, raw=b"")),
        _load_decoder,
        WeightsError,
        message=r"zero-length\.safetensors.*not JSON",
    ),
    Case(
        "weights-header-length-2-63",
        W,
        _file("huge-length.safetensors", _header({}, b"", length=2**63)),
        _load_decoder,
        WeightsError,
        message=r"huge-length\.safetensors.*runs past the end",
    ),
    Case(
        "weights-header-length-2-64-minus-1",
        W,
        _file("max-length.safetensors", _header({}, b"", length=2**64 - 1)),
        _load_decoder,
        WeightsError,
        message=r"max-length\.safetensors.*runs past the end",
    ),
    Case(
        "weights-header-non-json",
        W,
        _file("non-json.safetensors", _header(None, raw=b"this is not json!")),
        _load_decoder,
        WeightsError,
        message=r"non-json\.safetensors.*header is not JSON",
    ),
    Case(
        "weights-header-random-bytes",
        W,
        _file("random-header.safetensors", lambda: _header(None, raw=seeded("random-header").randbytes(64))),
        _load_decoder,
        WeightsError,
        message=r"random-header\.safetensors: not a safetensors file",
    ),
    Case(
        "weights-header-not-utf8",
        W,
        _file("latin1.safetensors", _header(None, raw='{"é": 1}'.encode("latin-1"))),
        _load_decoder,
        WeightsError,
        message=r"latin1\.safetensors.*not UTF-8",
    ),
    Case(
        "weights-header-json-list",
        W,
        _file("list.safetensors", _header([1, 2])),
        _load_decoder,
        WeightsError,
        message=r"list\.safetensors.*not a JSON object",
    ),
    Case(
        "weights-header-json-string",
        W,
        _file("string.safetensors", _header("tensors")),
        _load_decoder,
        WeightsError,
        message=r"string\.safetensors.*not a JSON object",
    ),
    Case(
        "weights-header-json-null",
        W,
        _file("null.safetensors", _header(None)),
        _load_decoder,
        WeightsError,
        message=r"null\.safetensors.*not a JSON object",
    ),
    Case(
        "weights-header-deep",
        W,
        _file("deep.safetensors", _header(None, raw=b"[" * 50_000 + b"]" * 50_000)),
        _load_decoder,
        WeightsError,
        message=r"deep\.safetensors.*nested too deep",
    ),
    Case(
        "weights-header-duplicate-key",
        W,
        _file(
            "duplicate.safetensors",
            _header(
                None,
                _f32(2),
                raw=b'{"a": {"dtype": "F32", "shape": [2], '
                b'"data_offsets": [0, 8]}, "a": {"dtype": "F32", "shape": [2], '
                b'"data_offsets": [0, 8]}}',
            ),
        ),
        _load_decoder,
        WeightsError,
        message=r"duplicate\.safetensors.*declares tensor 'a' twice",
        cli=_export_cli,
    ),
    Case(
        "weights-header-duplicate-decoder-key",
        W,
        _file(
            "dup-decoder.safetensors",
            _header(
                None,
                _f32(2),
                raw=b'{"layers.1.bias": {"dtype": "F32", "shape": '
                b'[1], "data_offsets": [0, 4]}, "layers.1.bias": {"dtype": "F32", '
                b'"shape": [1], "data_offsets": [4, 8]}}',
            ),
        ),
        _load_decoder,
        WeightsError,
        message=r"dup-decoder\.safetensors.*'layers\.1\.bias' twice",
    ),
    Case(
        "weights-header-unknown-dtype",
        W,
        _file("q7.safetensors", _header({"a": _tensor("Q7", [2], 0, 2)}, b"\x00\x00")),
        _load_decoder,
        WeightsError,
        message=r"q7\.safetensors.*unknown dtype 'Q7'",
    ),
    Case(
        "weights-header-lowercase-dtype",
        W,
        _file("lower.safetensors", _header({"a": _tensor("f32", [2], 0, 8)}, _f32(2))),
        _load_decoder,
        WeightsError,
        message=r"lower\.safetensors.*unknown dtype 'f32'",
    ),
    Case(
        "weights-header-dtype-number",
        W,
        _file("dtype-number.safetensors", _header({"a": {"dtype": 5, "shape": [2], "data_offsets": [0, 8]}}, _f32(2))),
        _load_decoder,
        WeightsError,
        message=r"dtype-number\.safetensors.*unknown dtype 5",
    ),
    *[
        Case(
            f"weights-header-dtype-{tag.lower()}",
            W,
            _file(f"h-{tag.lower()}.safetensors", _header({"a": _tensor(tag, [2], 0, size)}, b"\x00" * size)),
            _load_decoder,
            WeightsError,
            message=rf"h-{tag.lower()}\.safetensors.*'a' has dtype {tag}",
        )
        for tag, size in [("F6_E2M3", 2), ("F6_E3M2", 2), ("F4", 1), ("I8", 2), ("BOOL", 2)]
    ],
    Case(
        "weights-header-missing-dtype",
        W,
        _file("no-dtype.safetensors", _header({"a": {"shape": [2], "data_offsets": [0, 8]}}, _f32(2))),
        _load_decoder,
        WeightsError,
        message=r"no-dtype\.safetensors.*exactly dtype, shape and data_offsets",
    ),
    Case(
        "weights-header-extra-field",
        W,
        _file("extra-field.safetensors", _header({"a": {**_tensor("F32", [2], 0, 8), "pickle": "x"}}, _f32(2))),
        _load_decoder,
        WeightsError,
        message=r"extra-field\.safetensors.*exactly dtype",
    ),
    Case(
        "weights-header-entry-not-object",
        W,
        _file("entry-list.safetensors", _header({"a": [1, 2]})),
        _load_decoder,
        WeightsError,
        message=r"entry-list\.safetensors.*'a' must have exactly",
    ),
    Case(
        "weights-header-negative-shape",
        W,
        _file("neg-shape.safetensors", _header({"a": _tensor("F32", [-2], 0, 8)}, _f32(2))),
        _load_decoder,
        WeightsError,
        message=r"neg-shape\.safetensors.*shape \[-2\]",
    ),
    Case(
        "weights-header-float-shape",
        W,
        _file("float-shape.safetensors", _header({"a": _tensor("F32", [2.0], 0, 8)}, _f32(2))),
        _load_decoder,
        WeightsError,
        message=r"float-shape\.safetensors.*shape \[2\.0\]",
    ),
    Case(
        "weights-header-overflowing-shape",
        W,
        _file("overflow.safetensors", _header({"a": _tensor("F32", [2**40, 2**40], 0, 8)}, _f32(2))),
        _load_decoder,
        WeightsError,
        message=r"overflow\.safetensors.*needs \d+ bytes",
    ),
    Case(
        "weights-header-metadata-not-strings",
        W,
        _file("meta.safetensors", _header({"__metadata__": {"x": 1}, "a": _tensor("F32", [2], 0, 8)}, _f32(2))),
        _load_decoder,
        WeightsError,
        message=r"meta\.safetensors.*__metadata__",
    ),
    # short, truncated, random files
    *[
        Case(
            f"weights-file-{size}-bytes",
            W,
            _file(f"short{size}.safetensors", b"\x10" * size),
            _load_decoder,
            WeightsError,
            message=rf"short{size}\.safetensors",
        )
        for size in (0, 1, 7, 8)
    ],
    *[
        Case(
            f"weights-decoder-truncated-{int(fraction * 1000)}",
            W,
            _file(f"cut{int(fraction * 1000)}.safetensors", _truncated(fraction)),
            _load_decoder,
            WeightsError,
            message=rf"cut{int(fraction * 1000)}\.safetensors",
        )
        for fraction in (0.0001, 0.002, 0.5, 0.999)
    ],
    Case(
        "weights-file-zeros",
        W,
        _file("zeros.safetensors", b"\x00" * 1024),
        _load_decoder,
        WeightsError,
        message=r"zeros\.safetensors",
    ),
    Case(
        "weights-file-random",
        W,
        _file("random.safetensors", _seeded_bytes("weights-file-random", 4096)),
        _load_decoder,
        WeightsError,
        message=r"random\.safetensors",
    ),
    Case(
        "weights-file-text",
        W,
        _file("notes.safetensors", b"these are not the weights you are looking for\n"),
        _load_decoder,
        WeightsError,
    ),
    Case(
        "weights-file-pth-named-safetensors",
        W,
        _file("zip.safetensors", _torch_save(lambda: {"1.weight": torch.zeros(2)})),
        _load_decoder,
        WeightsError,
    ),
    # special files
    Case(
        "weights-decoder-fifo",
        W,
        _fifo("pipe.safetensors"),
        _load_decoder,
        WeightsError,
        message=r"pipe\.safetensors is a FIFO",
        cli=_export_cli,
    ),
    Case(
        "weights-decoder-folder",
        W,
        _folder("folder.safetensors"),
        _load_decoder,
        WeightsError,
        message=r"folder\.safetensors is a folder",
    ),
    Case(
        "weights-decoder-symlink-loop",
        W,
        _symlink_loop("loop.safetensors"),
        _load_decoder,
        WeightsError,
        message=r"loop\.safetensors is a symlink loop",
    ),
    Case(
        "weights-decoder-missing",
        W,
        lambda folder: folder / "absent.safetensors",
        _load_decoder,
        MissingWeightsError,
        message=r"not found: .*absent\.safetensors",
    ),
    Case(
        "weights-decoder-dev-null",
        W,
        lambda folder: Path("/dev/null"),
        _load_decoder,
        WeightsError,
        message=r"/dev/null is a device",
    ),
    Case(
        "weights-decoder-long-name",
        W,
        lambda folder: folder / ("d" * 300 + ".safetensors"),
        _load_decoder,
        WeightsError,
        message=r"name too long",
    ),
    Case("weights-pth-fifo", W, _fifo("pipe.pth"), _load_decoder, WeightsError, message=r"pipe\.pth is a FIFO"),
    Case(
        "weights-pth-folder", W, _folder("folder.pth"), _load_decoder, WeightsError, message=r"folder\.pth is a folder"
    ),
    # .pth files: pickles that would run code are refused, in our words
    *[
        Case(
            f"weights-pth-exploit-{kind}",
            W,
            _exploit(kind),
            _never_ran(_load_decoder),
            WeightsError,
            message=_OUR_WORDS,
            cli=_export_cli if kind == "system" else None,
        )
        for kind in ("system", "eval", "exec", "subprocess")
    ],
    Case("weights-pth-exploit-in-zip", W, _exploit_in_zip, _never_ran(_load_decoder), WeightsError, message=_OUR_WORDS),
    Case("weights-pth-exploit-import", W, _exploit("system"), _never_ran(_import()), WeightsError, message=_OUR_WORDS),
    Case(
        "weights-pth-module-instance",
        W,
        _file("evil-module.pth", _torch_save(lambda: {"1.weight": torch.nn.Linear(1, 1)})),
        _load_decoder,
        WeightsError,
        message=_OUR_WORDS,
    ),
    # .pth garbage
    Case("weights-pth-empty", W, _file("empty.pth", b""), _load_decoder, WeightsError),
    Case("weights-pth-text", W, _file("text.pth", b"garbage, not a checkpoint"), _load_decoder, WeightsError),
    Case("weights-pth-broken-zip", W, _file("broken-zip.pth", b"PK\x03\x04broken zip"), _load_decoder, WeightsError),
    Case(
        "weights-pth-zip-without-version", W, _file("no-version.pth", _zip_without_version), _load_decoder, WeightsError
    ),
    *[
        Case(
            f"weights-pth-cut-{int(fraction * 100)}",
            W,
            _file(f"cut{int(fraction * 100)}.pth", _cut_zip(fraction)),
            _load_decoder,
            WeightsError,
        )
        for fraction in (0.01, 0.5, 0.99)
    ],
    *[
        Case(
            f"weights-pth-flipped-{index}",
            W,
            _file(f"flipped{index}.pth", _flipped_zip(f"flipped{index}")),
            _load_decoder,
            WeightsError,
        )
        for index in range(3)
    ],
    Case(
        "weights-pth-legacy-magic",
        W,
        _file("legacy.pth", b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."),
        _load_decoder,
        WeightsError,
    ),
    Case(
        "weights-pth-deep-pickle",
        W,
        _file("deep.pth", b"\x80\x02" + b"]" * 100_000 + b"."),
        _load_decoder,
        WeightsError,
    ),
    Case(
        "weights-pth-random",
        W,
        _file("random.pth", _seeded_bytes("weights-pth-random", 2048, b"PK\x03\x04")),
        _load_decoder,
        WeightsError,
    ),
    # .pth files of the wrong kind or architecture
    Case(
        "weights-pth-not-a-dict",
        W,
        _file("tensor.pth", _torch_save(lambda: torch.zeros(3))),
        _load_decoder,
        WeightsError,
        message=r"tensor\.pth does not hold a state dict",
    ),
    Case(
        "weights-pth-non-tensor-value",
        W,
        _file("epoch.pth", _torch_save(lambda: {"1.weight": 3})),
        _load_decoder,
        WeightsError,
        message=r"epoch\.pth does not hold a state dict of tensors",
    ),
    Case(
        "weights-pth-int-keys",
        W,
        _file("int-keys.pth", _torch_save(lambda: {1: torch.zeros(2)})),
        _load_decoder,
        WeightsError,
        message=r"int-keys\.pth does not hold a state dict",
    ),
    Case(
        "weights-pth-vgg19-decoder",
        W,
        _file("vgg19-decoder.pth", _torch_save(_vgg19_decoder_state)),
        _load_decoder,
        WeightsError,
        message=r"vgg19-decoder\.pth does not fit the architecture",
    ),
    Case(
        "weights-pth-int8-decoder",
        W,
        _file("int8.pth", _torch_save(lambda: {k: v.to(torch.int8) for k, v in _decoder_pth_state().items()})),
        _load_decoder,
        WeightsError,
        message=r"int8\.pth: \d+\.(weight|bias) has dtype int8",
    ),
    Case(
        "weights-pth-nan-decoder",
        W,
        _file(
            "nan.pth",
            _torch_save(lambda: {k: torch.full_like(v, float("nan")) for k, v in _decoder_pth_state().items()}),
        ),
        _load_decoder,
        WeightsError,
        message=r"nan\.pth: layers\.\d+\.(weight|bias) holds NaN",
    ),
    Case(
        "weights-import-pth-unknown-layout",
        W,
        _file("other.pth", _torch_save(lambda: {"conv.weight": torch.zeros(3)})),
        _import(None),
        WeightsError,
        message=r"unrecognised \.pth layout of .*other\.pth",
    ),
    Case(
        "weights-import-pth-torchvision-partial",
        W,
        _file("torchvision.pth", _torch_save(lambda: {"features.0.weight": torch.zeros(64, 3, 3, 3)})),
        _import(None),
        WeightsError,
        message=r"torchvision_vgg19 file .*torchvision\.pth lacks features\.0\.bias",
    ),
    Case(
        "weights-import-pth-vgg-normalised-partial",
        W,
        _file("vgg-normalised.pth", _torch_save(lambda: {"0.weight": torch.zeros(3, 3, 1, 1)})),
        _import(None),
        WeightsError,
        message=r"vgg-normalised\.pth lacks 0\.bias",
    ),
    Case(
        "weights-import-pth-bool-encoder",
        W,
        _file(
            "bool-encoder.pth",
            _torch_save(lambda: {"0.weight": torch.zeros(3, 3, 1, 1, dtype=torch.bool), "0.bias": torch.zeros(3)}),
        ),
        _import(None),
        WeightsError,
        message=r"bool-encoder\.pth: 0\.weight has dtype bool",
    ),
    Case(
        "weights-import-vgg19-decoder-as-vgg16",
        W,
        _file("vgg19-decoder.pth", _torch_save(_vgg19_decoder_state)),
        _import(PRESET),
        WeightsError,
        message=r"vgg19-decoder\.pth \(adain_decoder\) does not fit",
    ),
    Case(
        "weights-import-safetensors-i8",
        W,
        _file("import-i8.safetensors", _all_to(torch.int8)),
        _import(),
        WeightsError,
        message=r"import-i8\.safetensors.*dtype I8",
    ),
    Case(
        "weights-import-safetensors-nan",
        W,
        _file("import-nan.safetensors", _filled(float("nan"))),
        _import(),
        WeightsError,
        message=r"import-nan\.safetensors.*NaN",
    ),
    Case(
        "weights-import-safetensors-neither",
        W,
        _file("neither.safetensors", lambda: save_safetensors({"x.weight": torch.zeros(2)})),
        _import(),
        WeightsError,
        message=r"neither\.safetensors holds neither",
    ),
    Case(
        "weights-import-unknown-preset",
        W,
        _file(DECODER, _decoder_bytes),
        _import("vgg99"),
        PresetError,
        message=r"unknown preset 'vgg99'",
    ),
    Case(
        "weights-import-no-preset",
        W,
        _file("lone.safetensors", _decoder_bytes),
        _import(None),
        UsageError,
        message=r"lone\.safetensors does not say which preset",
    ),
    Case("weights-import-fifo", W, _fifo("pipe.pth"), _import(None), WeightsError, message=r"pipe\.pth is a FIFO"),
    Case(
        "weights-import-folder",
        W,
        _folder("folder.pth"),
        _import(None),
        WeightsError,
        message=r"folder\.pth is a folder",
    ),
    # the encoder in the cache
    Case("weights-encoder-valid", W, _home_with_encoder(_encoder_bytes), _load_encoder_in_its_home, None),
    Case(
        "weights-encoder-int8",
        W,
        _home_with_encoder(_mutated_encoder(_first_to(torch.int8))),
        _load_encoder_in_its_home,
        WeightsError,
        message=r"encoder\.safetensors: tensor 'convs\.conv\d_\d\.(weight|bias)' has dtype I8",
    ),
    Case(
        "weights-encoder-nan",
        W,
        _home_with_encoder(_mutated_encoder(_first_to(torch.float16, float("nan")))),
        _load_encoder_in_its_home,
        WeightsError,
        message=r"encoder\.safetensors: convs\.conv\d_\d\.(weight|bias) holds NaN",
    ),
    Case(
        "weights-encoder-missing-tensor",
        W,
        _home_with_encoder(_mutated_encoder(lambda state: {k: v for k, v in state.items() if "conv4_1" not in k})),
        _load_encoder_in_its_home,
        WeightsError,
        message=r"encoder\.safetensors does not fit.*conv4_1",
    ),
    Case(
        "weights-encoder-decoder-file",
        W,
        _home_with_encoder(_decoder_bytes),
        _load_encoder_in_its_home,
        WeightsError,
        message=r"encoder\.safetensors does not fit",
    ),
    Case(
        "weights-encoder-fifo",
        W,
        _home_with_encoder(None),
        _load_encoder_in_its_home,
        WeightsError,
        message=r"encoder\.safetensors is a FIFO",
    ),
    Case(
        "weights-encoder-sha-mismatch",
        W,
        _home_with_encoder(_encoder_bytes, json.dumps({"encoder": {"sha256": "f" * 64}})),
        _load_encoder_in_its_home,
        WeightsError,
        message=r"sha256 mismatch for .*encoder\.safetensors",
    ),
    Case(
        "weights-encoder-manifest-fifo",
        W,
        _encoder_and_manifest_fifo,
        _load_encoder_in_its_home,
        WeightsError,
        message=r"manifest\.json is a FIFO",
    ),
    # ADAIN_HOME that cannot be the cache: a clear error, never a download
    Case(
        "weights-home-is-a-file",
        W,
        _home_file,
        _in_home(lambda: prepare(PRESET, progress=False)),
        WeightsError,
        message=r"ADAIN_HOME=.*home-is-a-file.*cannot be used: it is a file, not a folder",
    ),
    Case(
        "weights-home-is-a-file-encoder",
        W,
        _home_file,
        _in_home(lambda: load_encoder(PRESET, progress=False)),
        WeightsError,
        message=r"home-is-a-file.*not a folder",
    ),
    Case(
        "weights-home-is-a-file-decoder",
        W,
        _home_file,
        _in_home(lambda: load_decoder(PRESET, progress=False)),
        WeightsError,
        message=r"home-is-a-file.*not a folder",
    ),
    Case(
        "weights-home-below-a-file",
        W,
        _home_below_file,
        _in_home(lambda: prepare(PRESET, progress=False)),
        WeightsError,
        message=r"adain-home.*'.*blocker' is a file, not a folder",
    ),
    Case(
        "weights-home-is-a-fifo",
        W,
        _home_fifo,
        _in_home(lambda: prepare(PRESET, progress=False)),
        WeightsError,
        message=r"home-fifo.*is a FIFO",
    ),
    Case(
        "weights-home-symlink-loop",
        W,
        _home_loop,
        _in_home(lambda: prepare(PRESET, progress=False)),
        WeightsError,
        message=r"home-loop.*cannot be used",
    ),
    Case(
        "weights-home-name-too-long",
        W,
        _home_long,
        _in_home(lambda: prepare(PRESET, progress=False)),
        WeightsError,
        message=r"ADAIN_HOME=.*cannot be used: File name too long",
    ),
    Case(
        "weights-home-unwritable",
        W,
        _home_unwritable,
        _in_home(lambda: prepare(PRESET, progress=False)),
        WeightsError,
        message=r"cannot write to the weights cache /sys/adain-corpus-.*ADAIN_HOME",
    ),
    Case(
        "weights-home-preset-folder-is-a-file",
        W,
        _home_preset_is_file,
        _in_home(lambda: load_encoder(PRESET, progress=False)),
        WeightsError,
        message=r"cannot write to the weights cache .*home-with-blocker/vgg16-hed",
    ),
    Case(
        "weights-home-is-a-file-bank",
        W,
        _home_file,
        _in_home(lambda: resolve_style("bank:x", PRESET)),
        WeightsError,
        message=r"home-is-a-file.*not a folder",
    ),
]
