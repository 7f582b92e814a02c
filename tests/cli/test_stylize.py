"""``adain stylize``: outputs, batches, and every bad input -> one stderr line, the documented exit
code and no output file (not even a temporary one)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from adain.models import Decoder
from adain.pipeline.stylize import StylizationPipeline
from adain.weights import get_preset

SMALL = ("--size", "0", "--style-size", "0")


@pytest.fixture
def work(tmp_path: Path, make_image: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """``in/`` holds the inputs; the current folder is the empty ``run/``."""
    make_image(tmp_path / "in" / "content.png", 24, 16, seed=1)
    make_image(tmp_path / "in" / "style.jpg", 20, 20, seed=2)
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    return tmp_path


def _files(directory: Path) -> list[str]:
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*"))


# -- success ----------------------------------------------------------------------------------


def test_single_input_to_named_file(adain: Callable, work: Path, decoder_file: Path) -> None:
    result = adain(
        "stylize",
        work / "in/content.png",
        "--style",
        work / "in/style.jpg",
        "-o",
        "out.jpg",
        "--decoder",
        decoder_file,
        *SMALL,
    )
    assert result.code == 0, result.err
    assert result.err == "" and result.out.strip() == "wrote out.jpg"
    assert _files(work / "run") == ["out.jpg"]
    with Image.open(work / "run/out.jpg") as image:
        assert (image.format, image.size) == ("JPEG", (24, 16))


def test_default_output_name_and_size_options(
    adain: Callable, work: Path, decoder_file: Path, make_image: Callable
) -> None:
    make_image(work / "in" / "odd.png", 53, 37, seed=3)
    assert (
        adain("stylize", work / "in/odd.png", "-s", work / "in/style.jpg", "--decoder", decoder_file, *SMALL).code == 0
    )
    assert Image.open(work / "run/odd_stylized.png").size == (53, 37)
    assert (
        adain(
            "stylize",
            work / "in/odd.png",
            "-s",
            work / "in/style.jpg",
            "--decoder",
            decoder_file,
            "--size",
            "20",
            "--style-size",
            "0",
            "-o",
            "small.png",
        ).code
        == 0
    )
    assert Image.open(work / "run/small.png").size == (29, 20)
    assert (
        adain(
            "stylize",
            work / "in/odd.png",
            "-s",
            work / "in/style.jpg",
            "--decoder",
            decoder_file,
            "--size",
            "0",
            "--max-size",
            "30",
            "--style-size",
            "0",
            "-o",
            "capped.png",
        ).code
        == 0
    )
    assert Image.open(work / "run/capped.png").size == (30, 21)


@pytest.mark.parametrize("decoder", ["plain", "multilevel"])
def test_all_options_together(
    adain: Callable, work: Path, request: pytest.FixtureRequest, decoder: str, make_image: Callable
) -> None:
    decoder_file = request.getfixturevalue("decoder_file" if decoder == "plain" else "multilevel_decoder_file")
    make_image(work / "in" / "style2.png", 16, 16, seed=4)
    mask = Image.new("L", (24, 16), 0)
    mask.paste(255, (0, 0, 12, 16))
    mask.save(work / "in" / "mask.png")
    result = adain(
        "stylize",
        work / "in/content.png",
        "-s",
        work / "in/style.jpg",
        "-s",
        work / "in/style2.png",
        "--mask",
        work / "in/mask.png",
        "--mask-alpha",
        "1,0.5",
        "--preserve-color",
        "match",
        "--guided-filter",
        "--decoder",
        decoder_file,
        "-o",
        "all.webp",
        *SMALL,
    )
    assert result.code == 0, result.err
    result = adain(
        "stylize",
        work / "in/content.png",
        "-s",
        work / "in/style.jpg",
        "-s",
        work / "in/style2.png",
        "--style-weights",
        "0.7,0.3",
        "--alpha",
        "0.5",
        "--preserve-color",
        "luminance",
        "--decoder",
        decoder_file,
        "-o",
        "mixed.tiff",
        *SMALL,
    )
    assert result.code == 0, result.err
    assert _files(work / "run") == ["all.webp", "mixed.tiff"]


def test_rgba_input_keeps_alpha(adain: Callable, work: Path, decoder_file: Path) -> None:
    image = Image.new("RGBA", (16, 16), (200, 100, 50, 255))
    image.paste((10, 20, 30, 0), (0, 0, 8, 16))
    image.save(work / "in" / "cutout.png")
    assert (
        adain(
            "stylize",
            work / "in/cutout.png",
            "-s",
            work / "in/style.jpg",
            "--decoder",
            decoder_file,
            "-o",
            "c.png",
            *SMALL,
        ).code
        == 0
    )
    with Image.open(work / "run/c.png") as out:
        assert out.mode == "RGBA"
        assert out.getpixel((2, 2))[3] == 0 and out.getpixel((12, 2))[3] == 255


def test_folders_and_globs_expand(adain: Callable, work: Path, decoder_file: Path, make_image: Callable) -> None:
    make_image(work / "album" / "one.png", seed=5)
    make_image(work / "album" / "deeper" / "two.jpg", seed=6)
    make_image(work / "loose" / "three.png", seed=7)
    make_image(work / "loose" / "four.png", seed=8)
    result = adain(
        "stylize",
        work / "album",
        str(work / "loose" / "*.png"),
        "-s",
        work / "in/style.jpg",
        "-o",
        "out",
        "--decoder",
        decoder_file,
        *SMALL,
    )
    assert result.code == 0, result.err
    assert result.out.strip() == "4 stylized"
    assert _files(work / "run" / "out") == [
        "deeper",
        "deeper/two_stylized.png",
        "four_stylized.png",
        "one_stylized.png",
        "three_stylized.png",
    ]


def test_folder_with_one_image_writes_into_the_output_folder(
    adain: Callable, work: Path, decoder_file: Path, make_image: Callable
) -> None:
    make_image(work / "solo" / "only.png", seed=9)
    result = adain(
        "stylize", work / "solo", "-s", work / "in/style.jpg", "-o", "out", "--decoder", decoder_file, *SMALL
    )
    assert result.code == 0, result.err
    assert _files(work / "run") == ["out", "out/only_stylized.png"]


def test_styles_are_encoded_once_per_run(
    adain: Callable, work: Path, decoder_file: Path, make_image: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        make_image(work / "many" / f"{i}.png", seed=10 + i)
    calls = []
    original = StylizationPipeline.style_statistics
    monkeypatch.setattr(
        StylizationPipeline, "style_statistics", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )
    result = adain(
        "stylize", work / "many", "-s", work / "in/style.jpg", "-o", "out", "--decoder", decoder_file, *SMALL
    )
    assert result.code == 0, result.err
    assert len(calls) == 1
    assert len(_files(work / "run" / "out")) == 3


def test_batch_partial_failure(adain: Callable, work: Path, decoder_file: Path, make_image: Callable) -> None:
    make_image(work / "batch" / "a.png", seed=11)
    (work / "batch" / "b.png").write_bytes(b"not really a png")
    make_image(work / "batch" / "c.png", seed=12)
    result = adain(
        "stylize", work / "batch", "-s", work / "in/style.jpg", "-o", "out", "--decoder", decoder_file, *SMALL
    )
    assert result.code == 1
    assert _files(work / "run" / "out") == ["a_stylized.png", "c_stylized.png"]
    assert len(result.err_lines) == 2, result.err
    assert "b.png" in result.err_lines[0] and "not an image" in result.err_lines[0]
    assert result.err_lines[1] == f"adain stylize: error: 2 stylized, 1 failed: {work / 'batch' / 'b.png'}"


# -- bad inputs: one line, exit code, no output --------------------------------------------------


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def _bomb(path: Path) -> Path:
    """A PNG whose header claims 50000 x 50000 pixels."""
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", 50_000, 50_000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return _write(path, bytes(data))


def _safetensors(path: Path, state: dict[str, torch.Tensor]) -> Path:
    save_file(state, str(path))
    return path


def _wrong_shape_decoder(path: Path) -> Path:
    state = {k: v.clone() for k, v in Decoder(get_preset("vgg16-hed").architecture).state_dict().items()}
    first = next(iter(state))
    state[first] = torch.zeros(7, *state[first].shape[1:])
    return _safetensors(path, state)


def _loop(path: Path) -> Path:
    path.symlink_to(path)
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _strip(path: Path) -> Path:
    Image.new("RGB", (1, 100), (10, 20, 30)).save(path)
    return path


BAD_CASES = {
    # name: (setup(work) -> arguments before -s, expected exit code, fragment of the one stderr line)
    "missing input": (lambda w: [w / "in/absent.png"], 1, "image not found"),
    "empty input": (lambda w: [_write(w / "in/empty.png", b"")], 1, "empty file"),
    "truncated input": (lambda w: [_write(w / "in/cut.png", (w / "in/content.png").read_bytes()[:200])], 1, "cut.png"),
    "non-image input": (lambda w: [_write(w / "in/notes.png", "hello")], 1, "not an image"),
    "decompression bomb": (lambda w: [_bomb(w / "in/bomb.png")], 1, "over the limit"),
    "over --max-pixels": (lambda w: [w / "in/content.png", "--max-pixels", "100"], 1, "over the limit"),
    "missing style": (lambda w: [w / "in/content.png", "-s", w / "in/absent-style.png"], 1, "absent-style.png"),
    "unwritable output": (
        lambda w: [w / "in/content.png", "-o", _write(w / "run/blocker", "a file") / "out.png"],
        1,
        "not a directory",
    ),
    "unknown output extension": (lambda w: [w / "in/content.png", "-o", "out.gif"], 2, "'.gif'"),
    "unknown preset": (lambda w: [w / "in/content.png", "--preset", "vgg99"], 2, "vgg99"),
    "alpha above one": (lambda w: [w / "in/content.png", "--alpha", "1.5"], 2, "--alpha"),
    "alpha not a number": (lambda w: [w / "in/content.png", "--alpha", "strong"], 2, "'strong'"),
    "weights count mismatch": (
        lambda w: [w / "in/content.png", "-s", w / "in/style.jpg", "--style-weights", "1,2,3"],
        2,
        "3 style weights",
    ),
    "mask alpha without mask": (lambda w: [w / "in/content.png", "--mask-alpha", "0.5"], 2, "need a mask"),
    "negative size": (lambda w: [w / "in/content.png", "--size", "-4"], 2, "--size"),
    # issue 15: hostile input
    "empty output": (lambda w: [w / "in/content.png", "-o", ""], 2, "-o/--output must name"),
    "size beyond any budget": (lambda w: [w / "in/content.png", "--size", "1000000000"], 2, "--size must be at most"),
    "size 2**63": (lambda w: [w / "in/content.png", "--size", str(2**63)], 2, "--size must be at most"),
    "style size under 8": (lambda w: [w / "in/content.png", "--style-size", "3"], 2, "--style-size"),
    "symlink loop input": (lambda w: [_loop(w / "in/loop.png")], 1, "loop of symbolic links"),
    "fifo input": (lambda w: [_fifo(w / "in/pipe.png")], 1, "is a FIFO"),
    "output name too long": (lambda w: [w / "in/content.png", "-o", w / "run" / ("n" * 300 + ".png")], 1, "bytes long"),
    "one-pixel strip enlarged": (
        lambda w: [_strip(w / "in/strip.png"), "--size", "512", "--upscale"],
        1,
        "enlarge it 512x",
    ),
    "bad device": (lambda w: [w / "in/content.png", "--device", "toaster"], 2, "toaster"),
    "decoder file missing": (
        lambda w: [w / "in/content.png", "--decoder", w / "in/nothing.safetensors"],
        1,
        "nothing.safetensors",
    ),
    "wrong-shape decoder": (
        lambda w: [w / "in/content.png", "--decoder", _wrong_shape_decoder(w / "in/wrong.safetensors")],
        1,
        "(7, 512, 3, 3)",
    ),
    "decoder of another architecture": (
        lambda w: [w / "in/content.png", "--decoder", _safetensors(w / "in/other.safetensors", {"x": torch.zeros(1)})],
        1,
        "does not fit",
    ),
    "garbage decoder": (
        lambda w: [w / "in/content.png", "--decoder", _write(w / "in/garbage.safetensors", b"\x00" * 64)],
        1,
        "garbage.safetensors",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_one_line_exit_code_no_output(adain: Callable, work: Path, decoder_file: Path, case: str) -> None:
    setup, expected_code, fragment = BAD_CASES[case]
    inputs_before = _files(work / "in")
    extra = setup(work)
    created_inputs = set(_files(work / "in")) - set(inputs_before)
    args = ["stylize", *SMALL, *extra, "-s", work / "in/style.jpg"]  # extra options come later and win
    if "--decoder" not in extra:
        args += ["--decoder", decoder_file]
    if "-o" not in extra:
        args += ["-o", "out.png"]
    run_before = _files(work / "run")
    result = adain(*args)
    assert result.code == expected_code, result.err
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith("adain stylize: error: ")
    assert fragment in result.err_lines[0], result.err
    assert result.out == ""
    assert _files(work / "run") == run_before, "no output, partial or temporary file"
    assert set(_files(work / "in")) == set(inputs_before) | created_inputs


def test_preset_without_decoder_weights(
    adain: Callable, work: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from adain.weights import loading

    monkeypatch.setattr(loading, "shipped_path", lambda name: tmp_path / "not-shipped" / name)
    result = adain("stylize", work / "in/content.png", "-s", work / "in/style.jpg", "-o", "out.png", *SMALL)
    assert result.code == 1
    assert len(result.err_lines) == 1 and "no trained decoder yet" in result.err, result.err
    assert _files(work / "run") == []
    monkeypatch.setenv("ADAIN_HOME", str(tmp_path / "empty-home"))
    result = adain(
        "stylize",
        work / "in/content.png",
        "-s",
        work / "in/style.jpg",
        "--preset",
        "vgg19-imagenet",
        "-o",
        "out.png",
        *SMALL,
    )
    assert result.code == 1
    assert len(result.err_lines) == 1 and "no published decoder" in result.err, result.err
    assert _files(work / "run") == []


def test_single_input_failure_is_the_runs_error(adain: Callable, work: Path, decoder_file: Path) -> None:
    (work / "in" / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
    result = adain("stylize", work / "in/bad.jpg", "-s", work / "in/style.jpg", "--decoder", decoder_file, *SMALL)
    assert result.code == 1 and len(result.err_lines) == 1
    assert "bad.jpg" in result.err and "stylized" not in result.err


# -- help -------------------------------------------------------------------------------------


def test_help_lists_the_commands(adain: Callable) -> None:
    result = adain("--help")
    assert result.code == 0
    for command in ("stylize", "weights"):
        assert command in result.out
    stylize_help = adain("stylize", "--help").out
    for option in (
        "--style",
        "--style-weights",
        "--alpha",
        "--preserve-color",
        "--mask",
        "--mask-alpha",
        "--guided-filter",
        "--size",
        "--max-size",
        "--max-pixels",
        "--preset",
        "--decoder",
        "--device",
    ):
        assert option in stylize_help


def test_entry_point_runs() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "adain", "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "stylize" in completed.stdout
