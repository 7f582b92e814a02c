"""``adain export onnx`` and ``adain stylize --backend onnxruntime``: files, exit codes, one-line
errors, no partial output, and the onnxruntime backend writing the torch backend's image (within
1/255 after quantisation to 8 bits)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

pytest.importorskip("onnx", reason="the 'onnx' extra is not installed (pip install 'adain[onnx]')")
pytest.importorskip("onnxruntime", reason="the 'onnx' extra is not installed (pip install 'adain[onnx]')")

import onnx

from adain.backends.onnx_export import weights_sha256
from adain.models import decoder_input_taps
from adain.weights import load_decoder, load_encoder, save_decoder
from adain.weights.store import file_sha256

SMALL = ("--size", "0", "--style-size", "0")


def brighten_file(source: Path, folder: Path) -> Path:
    """``source``'s decoder with its last convolution rescaled, saved in ``folder``: outputs span
    [0, 1], so an 8-bit comparison means something (a raw random decoder paints nearly black
    images). A multi-level decoder is fed the encoder's features at every tap it takes."""
    decoder = load_decoder("vgg16-hed", path=source)
    last = [m for m in decoder.layers.modules() if isinstance(m, nn.Conv2d)][-1]
    with torch.no_grad():
        image = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(5))
        taps = load_encoder("vgg16-hed")(image)
        features = [taps[tap] for tap in decoder_input_taps(decoder)]
        scale = 0.3 / float(decoder(*features).std())
        last.weight.mul_(scale)
        last.bias.mul_(scale).add_(0.5 - float(decoder(*features).mean()))
    path = folder / f"bright-{source.stem}.safetensors"
    save_decoder(decoder, path, "vgg16-hed", half=False)
    return path


@pytest.fixture(scope="module")
def bright_decoder_file(decoder_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared random decoder, brightened (:func:`brighten_file`)."""
    return brighten_file(decoder_file, tmp_path_factory.mktemp("bright"))


@pytest.fixture(scope="module")
def bright_multilevel_file(multilevel_decoder_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared multi-level decoder (open gates), brightened (:func:`brighten_file`)."""
    return brighten_file(multilevel_decoder_file, tmp_path_factory.mktemp("bright-multilevel"))


@pytest.fixture(scope="module")
def onnx_files(bright_decoder_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Encoder and decoder exported through the CLI once for the module."""
    from adain.cli.main import main

    folder = tmp_path_factory.mktemp("exported")
    files = {}
    for part in ("encoder", "decoder"):
        files[part] = folder / f"{part}.onnx"
        decoder = ("--decoder", str(bright_decoder_file)) if part == "decoder" else ()
        assert main(["export", "onnx", "--part", part, *decoder, "-o", str(files[part]), "--no-verify"]) == 0
    return files


@pytest.fixture
def work(tmp_path: Path, make_image: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    make_image(tmp_path / "in" / "content.png", 45, 37, seed=1)  # odd size: padded and cropped
    make_image(tmp_path / "in" / "style.png", 40, 32, seed=2)
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    return tmp_path


def metadata(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- export -----------------------------------------------------------------------------------------


def test_export_pipeline_with_metadata_and_verification(adain: Callable, work: Path, bright_decoder_file: Path) -> None:
    result = adain("export", "onnx", "--decoder", bright_decoder_file, "-o", "out/adain.onnx", "--opset", "18")
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.out.startswith("wrote out/adain.onnx (pipeline of vgg16-hed, opset 18")
    assert "onnxruntime matches PyTorch within" in result.out
    assert files_in(work / "run" / "out") == ["adain.onnx"]  # no temporary files left
    meta = metadata(work / "run/out/adain.onnx")
    assert meta["adain.part"] == "pipeline" and meta["adain.opset"] == "18" and meta["adain.preset"] == "vgg16-hed"
    assert meta["adain.decoder_sha256"] == weights_sha256(load_decoder("vgg16-hed", path=bright_decoder_file))
    assert meta["adain.decoder_file_sha256"] == file_sha256(bright_decoder_file)
    assert meta["adain.encoder_sha256"] == weights_sha256(load_encoder("vgg16-hed"))


def graph_inputs(path: Path) -> list[str]:
    return [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]


@pytest.mark.parametrize(
    "part,inputs",
    [
        ("decoder", ["relu4_1", "relu3_1", "relu2_1", "relu1_1"]),
        (
            "pipeline",
            [
                "content",
                "style_mean",
                "style_std",
                "alpha",
                "style_mean_relu3_1",
                "style_std_relu3_1",
                "style_mean_relu2_1",
                "style_std_relu2_1",
                "style_mean_relu1_1",
                "style_std_relu1_1",
            ],
        ),
    ],
)
def test_export_a_multilevel_decoder_takes_every_tap(
    adain: Callable, work: Path, multilevel_decoder_file: Path, part: str, inputs: list[str]
) -> None:
    """The decoder graph gets one input per tap, the pipeline graph the style's statistics at
    each; both are verified against PyTorch (with features or statistics at every tap)."""
    result = adain("export", "onnx", "--part", part, "--decoder", multilevel_decoder_file, "-o", "ml.onnx")
    assert result.code == 0, result.err
    assert result.out.startswith(
        f"wrote ml.onnx ({part} with a multi-level decoder (relu4_1, relu3_1, relu2_1, relu1_1) of vgg16-hed, opset 17"
    )
    assert "onnxruntime matches PyTorch within" in result.out
    assert graph_inputs(work / "run/ml.onnx") == inputs
    meta = metadata(work / "run/ml.onnx")
    assert meta["adain.decoder_architecture"] == "multilevel"
    assert meta["adain.decoder_input_taps"] == "relu4_1,relu3_1,relu2_1,relu1_1"
    assert meta["adain.decoder_sha256"] == weights_sha256(load_decoder("vgg16-hed", path=multilevel_decoder_file))


def test_export_a_plain_decoder_keeps_its_one_input(adain: Callable, work: Path, decoder_file: Path) -> None:
    result = adain("export", "onnx", "--part", "decoder", "--decoder", decoder_file, "-o", "plain.onnx")
    assert result.code == 0, result.err
    assert result.out.startswith("wrote plain.onnx (decoder of vgg16-hed, opset 17")
    assert graph_inputs(work / "run/plain.onnx") == ["relu4_1"]
    assert metadata(work / "run/plain.onnx")["adain.decoder_architecture"] == "plain"


def test_export_encoder_needs_no_decoder(adain: Callable, work: Path) -> None:
    result = adain("export", "onnx", "--part", "encoder", "-o", "encoder.onnx")
    assert result.code == 0, result.err
    meta = metadata(work / "run/encoder.onnx")
    assert meta["adain.part"] == "encoder" and "adain.decoder_sha256" not in meta


@pytest.mark.parametrize(
    "args,code,message",
    [
        (
            ("--part", "everything", "-o", "x.onnx"),
            2,
            "unknown ONNX part 'everything'; expected one of encoder, decoder, pipeline",
        ),
        (("--part", "decoder", "-o", "x.pt"), 2, "the output must be a .onnx file. Got 'x.pt'"),
        (("--part", "decoder"), 2, "give the file to write with -o FILE.onnx"),
        (("--part", "decoder", "-o", "x.onnx", "--opset", "9"), 2, "--opset must be in [13, "),
        (("--part", "decoder", "-o", "x.onnx", "--opset", "new"), 2, "--opset must be an integer"),
        (("--part", "decoder", "-o", "x.onnx", "--preset", "vgg11"), 2, "unknown preset 'vgg11'"),
        (
            ("--part", "encoder", "-o", "x.onnx", "--decoder", "d.safetensors"),
            2,
            "--decoder has no effect with --part encoder",
        ),
        (
            ("--part", "decoder", "-o", "x.onnx", "--decoder", "missing.safetensors"),
            1,
            "decoder file not found: 'missing.safetensors'",
        ),
        (("--part", "decoder", "-o", "blocker/x.onnx"), 1, "cannot create the folder of 'blocker/x.onnx'"),
    ],
)
def test_export_errors_are_one_line_with_no_output(
    adain: Callable, work: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    (work / "run" / "blocker").write_text("a file where a folder should be")
    result = adain("export", "onnx", *args)
    assert result.code == code
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("adain export: error: ")
    assert message in result.err_lines[0]
    assert files_in(work / "run") == ["blocker"]


def test_export_refuses_a_decoder_that_is_no_file_or_no_decoder(adain: Callable, work: Path) -> None:
    """Issue 15: a FIFO (which would block), a folder, an integer or all-NaN decoder: one line, exit 1,
    nothing written; ``--decoder ''`` is a usage error."""
    import os

    from safetensors.torch import load_file, save_file

    from adain.models import Decoder
    from adain.weights.presets import get_preset

    os.mkfifo(work / "pipe.safetensors")
    (work / "folder.safetensors").mkdir()
    state = Decoder(get_preset("vgg16-hed").architecture).state_dict()
    save_file({key: value.to(torch.int8) for key, value in state.items()}, str(work / "int8.safetensors"))
    save_file(
        {key: torch.full_like(value, float("nan")) for key, value in state.items()}, str(work / "nan.safetensors")
    )
    assert load_file(str(work / "int8.safetensors"))  # a valid safetensors file, only not a decoder
    for decoder, code, message in [
        (work / "pipe.safetensors", 1, "pipe.safetensors is a FIFO"),
        (work / "folder.safetensors", 1, "folder.safetensors is a folder"),
        (work / "int8.safetensors", 1, "has dtype I8"),
        (work / "nan.safetensors", 1, "holds NaN values"),
        ("", 2, "--decoder needs a file name"),
    ]:
        result = adain("export", "onnx", "--part", "decoder", "--decoder", decoder, "-o", "x.onnx")
        assert result.code == code, result.err
        assert len(result.err_lines) == 1 and result.err_lines[0].startswith("adain export: error: ")
        assert message in result.err
        assert files_in(work / "run") == []


def test_export_without_the_extra_names_it(
    adain: Callable, work: Path, monkeypatch: pytest.MonkeyPatch, decoder_file: Path
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the package were not installed
    result = adain("export", "onnx", "--part", "decoder", "--decoder", decoder_file, "-o", "x.onnx")
    assert result.code == 1
    expected = "adain export: error: adain export onnx needs the optional package 'onnx' (the 'onnx' extra): "
    assert result.err_lines == [expected + "pip install 'adain[onnx]'"]
    assert files_in(work / "run") == []


def test_a_failed_verification_keeps_the_previous_file(
    adain: Callable, work: Path, monkeypatch: pytest.MonkeyPatch, decoder_file: Path
) -> None:
    import adain.backends.onnx_runtime as backend

    (work / "run" / "x.onnx").write_bytes(b"previous export")
    monkeypatch.setattr(backend, "verify_export", lambda *args, **kwargs: 0.5)
    result = adain("export", "onnx", "--part", "decoder", "--decoder", decoder_file, "-o", "x.onnx")
    assert result.code == 1 and len(result.err_lines) == 1 and "differs from PyTorch by 5.00e-01" in result.err
    assert files_in(work / "run") == ["x.onnx"] and (work / "run/x.onnx").read_bytes() == b"previous export"


# -- stylize --backend onnxruntime ----------------------------------------------------------------------


def test_onnxruntime_backend_writes_the_torch_image(
    adain: Callable, work: Path, bright_decoder_file: Path, onnx_files: dict[str, Path]
) -> None:
    common = (
        work / "in/content.png",
        "--style",
        work / "in/style.png",
        "--decoder",
        bright_decoder_file,
        "--alpha",
        "0.8",
        *SMALL,
    )
    assert adain("stylize", *common, "-o", "torch.png", "--precision", "fp32").code == 0
    result = adain(
        "stylize",
        *common,
        "-o",
        "onnx.png",
        "--backend",
        "onnxruntime",
        "--providers",
        "cpu",
        "--onnx-encoder",
        onnx_files["encoder"],
        "--onnx-decoder",
        onnx_files["decoder"],
    )
    assert result.code == 0, result.err
    assert result.out.strip() == "wrote onnx.png"
    expected = np.asarray(Image.open(work / "run/torch.png"), dtype=np.int16)
    got = np.asarray(Image.open(work / "run/onnx.png"), dtype=np.int16)
    assert got.shape == expected.shape == (37, 45, 3)
    assert expected.std() > 30  # a real image, not a flat one
    assert np.abs(got - expected).max() <= 1


def test_onnxruntime_backend_with_an_exported_multilevel_decoder(
    adain: Callable, work: Path, bright_multilevel_file: Path, onnx_files: dict[str, Path]
) -> None:
    """A multi-level decoder exported by the CLI, run by `adain stylize --backend onnxruntime`,
    writes the torch backend's image (the skips fed at every tap, from the onnxruntime encoder)."""
    assert (
        adain(
            "export", "onnx", "--part", "decoder", "--decoder", bright_multilevel_file, "-o", "ml.onnx", "--no-verify"
        ).code
        == 0
    )
    common = (
        work / "in/content.png",
        "--style",
        work / "in/style.png",
        "--decoder",
        bright_multilevel_file,
        "--alpha",
        "0.8",
        *SMALL,
    )
    assert adain("stylize", *common, "-o", "torch.png", "--precision", "fp32").code == 0
    result = adain(
        "stylize",
        *common,
        "-o",
        "onnx.png",
        "--backend",
        "onnxruntime",
        "--providers",
        "cpu",
        "--onnx-encoder",
        onnx_files["encoder"],
        "--onnx-decoder",
        "ml.onnx",
    )
    assert result.code == 0, result.err
    expected = np.asarray(Image.open(work / "run/torch.png"), dtype=np.int16)
    got = np.asarray(Image.open(work / "run/onnx.png"), dtype=np.int16)
    assert got.shape == expected.shape == (37, 45, 3)
    assert expected.std() > 30
    assert np.abs(got - expected).max() <= 1


def test_onnxruntime_backend_refuses_a_file_for_other_weights(
    adain: Callable, work: Path, decoder_file: Path, onnx_files: dict[str, Path]
) -> None:
    result = adain(
        "stylize",
        work / "in/content.png",
        "--style",
        work / "in/style.png",
        "--decoder",
        decoder_file,
        "--backend",
        "onnxruntime",
        "--onnx-encoder",
        onnx_files["encoder"],
        "--onnx-decoder",
        onnx_files["decoder"],
        "-o",
        "out.png",
        *SMALL,
    )
    assert result.code == 1
    assert len(result.err_lines) == 1 and "was exported from other decoder weights" in result.err
    assert files_in(work / "run") == []


@pytest.mark.parametrize(
    "args,code,message",
    [
        (("--providers", "cpu"), 2, "--providers needs --backend onnxruntime"),
        (("--onnx-decoder", "d.onnx"), 2, "--onnx-decoder needs --backend onnxruntime"),
        (("--backend", "onnxruntime", "--refine", "3"), 2, "--method optimize and --refine need gradients"),
        (("--backend", "onnxruntime", "--providers", "cuda,cpu"), 2, "execution provider 'cuda' is not available"),
        (("--backend", "onnxruntime", "--device", "cuda"), 2, "the onnxruntime backend takes tensors on the CPU"),
        (("--backend", "onnxruntime", "--onnx-encoder", "nope.onnx"), 1, "--onnx-encoder file not found: 'nope.onnx'"),
    ],
)
def test_backend_option_errors(
    adain: Callable, work: Path, decoder_file: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    result = adain(
        "stylize",
        work / "in/content.png",
        "--style",
        work / "in/style.png",
        "--decoder",
        decoder_file,
        "-o",
        "out.png",
        *args,
    )
    assert result.code == code, result.err
    assert len(result.err_lines) == 1 and message in result.err
    assert files_in(work / "run") == []


def test_backend_without_the_extra_names_it(
    adain: Callable, work: Path, decoder_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    result = adain(
        "stylize",
        work / "in/content.png",
        "--style",
        work / "in/style.png",
        "--decoder",
        decoder_file,
        "--backend",
        "onnxruntime",
        "-o",
        "out.png",
    )
    assert result.code == 1
    assert len(result.err_lines) == 1 and "pip install 'adain[onnx]'" in result.err and "'onnxruntime'" in result.err
    assert files_in(work / "run") == []


def test_fast_exports_its_students_and_the_onnxruntime_backend_runs_them(
    adain: Callable, work: Path, fast_home: Path
) -> None:
    """``--preset fast`` (random students: tests/conftest.py's fast_home): each part exported and
    verified against PyTorch, its metadata the students', and `adain stylize --backend
    onnxruntime --preset fast` on the exported files writes the torch backend's image."""
    from adain.models import CompactEncoder, CompactMultiLevelDecoder

    encoder, decoder = load_encoder("fast"), load_decoder("fast")
    assert isinstance(encoder, CompactEncoder) and isinstance(decoder, CompactMultiLevelDecoder)
    for part in ("encoder", "decoder", "pipeline"):
        result = adain("export", "onnx", "--preset", "fast", "--part", part, "-o", f"fast-{part}.onnx")
        assert result.code == 0 and result.err == "", result.err
        assert "of fast, opset 17" in result.out and "onnxruntime matches PyTorch within" in result.out
        meta = metadata(work / f"run/fast-{part}.onnx")
        assert meta["adain.preset"] == "fast" and meta["adain.part"] == part
        if part != "decoder":
            assert meta["adain.encoder_sha256"] == weights_sha256(encoder)
        if part != "encoder":
            assert meta["adain.decoder_sha256"] == weights_sha256(decoder)
            assert meta["adain.decoder_input_taps"] == ",".join(decoder.input_taps)
    assert graph_inputs(work / "run/fast-decoder.onnx") == list(decoder.input_taps)
    common = (work / "in/content.png", "--style", work / "in/style.png", "--preset", "fast", *SMALL)
    assert adain("stylize", *common, "-o", "torch.png", "--precision", "fp32").code == 0
    result = adain(
        "stylize",
        *common,
        "-o",
        "onnx.png",
        "--backend",
        "onnxruntime",
        "--providers",
        "cpu",
        "--onnx-encoder",
        "fast-encoder.onnx",
        "--onnx-decoder",
        "fast-decoder.onnx",
    )
    assert result.code == 0, result.err
    expected = np.asarray(Image.open(work / "run/torch.png"), dtype=np.int16)
    got = np.asarray(Image.open(work / "run/onnx.png"), dtype=np.int16)
    assert got.shape == expected.shape == (37, 45, 3)
    assert expected.std() > 5  # the random students paint an image, not a flat one
    assert np.abs(got - expected).max() <= 1
