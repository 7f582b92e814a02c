"""Image reading (every bad file -> one InputImageError; every mode -> RGB in [0, 1]) and atomic writing."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adain.errors import InputImageError, OutputError, UsageError
from adain.image.io import load_image, save_image, tensor_to_pil


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _checker(width: int = 20, height: int = 12) -> Image.Image:
    array = np.zeros((height, width, 3), np.uint8)
    array[:, : width // 2] = (255, 0, 0)  # left red
    array[:, width // 2 :] = (0, 0, 255)  # right blue
    return Image.fromarray(array)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- bad files --------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputImageError, match="not found.*nothing.png"):
        load_image(tmp_path / "nothing.png")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputImageError, match="empty.png.*empty file"):
        load_image(tmp_path / "empty.png")


def test_directory_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(InputImageError, match="directory"):
        load_image(tmp_path)


def test_non_image(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("these are not pixels\n")
    with pytest.raises(InputImageError, match="notes.png.*not an image"):
        load_image(tmp_path / "notes.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file_fails_at_load_not_later(tmp_path: Path, fmt: str) -> None:
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, format=fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(InputImageError, match="cut"):
        load_image(path)


def _png_claiming_size(width: int, height: int) -> bytes:
    """A valid PNG header (IHDR) for ``width x height`` followed by the data of a 1x1 image."""
    data = bytearray(_png_bytes(Image.new("RGB", (1, 1))))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_decompression_bomb_refused_from_the_header(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_claiming_size(100_000, 100_000))  # 10 gigapixels in a few bytes
    with pytest.raises(InputImageError, match=r"bomb.png.*100000x100000.*over the limit"):
        load_image(path)


def test_max_pixels_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    _checker(40, 30).save(path)
    assert load_image(path, max_pixels=1200).size == (40, 30)
    with pytest.raises(InputImageError, match="over the limit"):
        load_image(path, max_pixels=1199)


def test_max_pixels_above_pillows_guard_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.png"
    _checker(40, 30).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert load_image(path, max_pixels=10_000).size == (40, 30)
    assert Image.MAX_IMAGE_PIXELS == 100  # restored


@pytest.mark.parametrize("pil_limit", [1000, 500])  # 1200 px: Pillow warns (<= 2x limit), then errors (> 2x)
def test_pillow_decompression_bomb_warning_and_error_become_input_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pil_limit: int
) -> None:
    path = tmp_path / "big.png"
    _checker(40, 30).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pil_limit)
    with pytest.raises(InputImageError, match="decompression bomb"):
        load_image(path, max_pixels=None)


# -- modes ------------------------------------------------------------------------------------


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "phone.png"
    _checker(20, 12).save(path, exif=exif.tobytes())
    loaded = load_image(path)
    assert loaded.size == (12, 20)
    top, bottom = loaded.rgb[0, :, 0, 6], loaded.rgb[0, :, -1, 6]
    assert top.tolist() == [1.0, 0.0, 0.0]  # the left (red) half is now on top
    assert bottom.tolist() == [0.0, 0.0, 1.0]


def test_rgb(tmp_path: Path) -> None:
    path = tmp_path / "rgb.png"
    _checker().save(path)
    loaded = load_image(path)
    assert loaded.rgb.shape == (1, 3, 12, 20) and loaded.rgb.dtype == torch.float32
    assert loaded.alpha is None and loaded.mode == "RGB"
    assert loaded.rgb[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0]


def test_rgba_keeps_alpha(tmp_path: Path) -> None:
    array = np.zeros((8, 10, 4), np.uint8)
    array[..., 1] = 200
    array[:, :5, 3] = 255
    array[:, 5:, 3] = 51
    path = tmp_path / "rgba.png"
    Image.fromarray(array).save(path)
    loaded = load_image(path)
    assert loaded.alpha is not None and loaded.alpha.shape == (1, 1, 8, 10)
    assert loaded.alpha[0, 0, 0, 0].item() == 1.0 and loaded.alpha[0, 0, 0, 9].item() == pytest.approx(0.2)
    assert loaded.rgb[0, 1, 0, 0].item() == pytest.approx(200 / 255)


def test_la_keeps_alpha(tmp_path: Path) -> None:
    path = tmp_path / "la.png"
    Image.new("LA", (6, 4), (128, 64)).save(path)
    loaded = load_image(path)
    assert loaded.mode == "LA"
    assert torch.allclose(loaded.rgb, torch.full((1, 3, 4, 6), 128 / 255))
    assert loaded.alpha is not None and loaded.alpha.flatten()[0].item() == pytest.approx(64 / 255)


def test_grayscale_l(tmp_path: Path) -> None:
    path = tmp_path / "gray.png"
    Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4) * 17).save(path)
    loaded = load_image(path)
    assert loaded.mode == "L" and loaded.alpha is None
    assert torch.equal(loaded.rgb[0, 0], loaded.rgb[0, 2])
    assert loaded.rgb.max().item() == 1.0 and loaded.rgb.min().item() == 0.0


def test_one_bit(tmp_path: Path) -> None:
    path = tmp_path / "bits.png"
    Image.fromarray(np.eye(4, dtype=bool)).save(path)
    loaded = load_image(path)
    assert loaded.mode == "1"
    assert torch.equal(loaded.rgb[0, 0], torch.eye(4))


def test_cmyk(tmp_path: Path) -> None:
    path = tmp_path / "print.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path, quality=100)
    loaded = load_image(path)
    assert loaded.mode == "CMYK"
    assert torch.allclose(loaded.rgb[0, :, 4, 4], torch.tensor([1.0, 0.0, 0.0]), atol=0.02)


def test_palette_with_and_without_transparency(tmp_path: Path) -> None:
    palette_image = _checker(8, 4).convert("P", palette=Image.Palette.ADAPTIVE, colors=2)
    opaque = tmp_path / "p.png"
    palette_image.save(opaque)
    loaded = load_image(opaque)
    assert loaded.mode == "P" and loaded.alpha is None
    assert loaded.rgb[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0]
    transparent = tmp_path / "pt.png"
    red_index = palette_image.getpixel((0, 0))
    palette_image.save(transparent, transparency=red_index)
    loaded = load_image(transparent)
    assert loaded.alpha is not None
    assert loaded.alpha[0, 0, 0, 0].item() == 0.0 and loaded.alpha[0, 0, 0, 7].item() == 1.0


def test_sixteen_bit_keeps_its_range(tmp_path: Path) -> None:
    values = np.array([[0, 1000, 30000, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)  # 16-bit grayscale PNG
    loaded = load_image(path)
    assert loaded.mode in ("I;16", "I")
    expected = torch.from_numpy(values.astype(np.float32) / 65535)
    assert torch.allclose(loaded.rgb[0, 0], expected, atol=1e-6)
    assert torch.equal(loaded.rgb[0, 0], loaded.rgb[0, 1])
    # not clipped: 1000/65535 is dark, where an 8-bit conversion would saturate it at 1.0
    assert loaded.rgb[0, 0, 0, 1].item() < 0.02


def test_float_and_int32_images(tmp_path: Path) -> None:
    float_path = tmp_path / "f.tiff"
    Image.fromarray(np.array([[0.0, 0.25, 1.0]], dtype=np.float32), mode="F").save(float_path)
    assert torch.allclose(load_image(float_path).rgb[0, 0], torch.tensor([[0.0, 0.25, 1.0]]))
    int_path = tmp_path / "i.tiff"
    Image.fromarray(np.array([[0, 32768, 65535]], dtype=np.int32), mode="I").save(int_path)
    assert torch.allclose(load_image(int_path).rgb[0, 0], torch.tensor([[0.0, 32768 / 65535, 1.0]]))


# -- writing ----------------------------------------------------------------------------------


def test_png_round_trip_with_alpha(tmp_path: Path) -> None:
    rgb = torch.rand(1, 3, 9, 11, generator=torch.Generator().manual_seed(0))
    alpha = torch.linspace(0, 1, 99).view(1, 1, 9, 11)
    path = save_image(rgb, tmp_path / "out.png", alpha=alpha)
    loaded = load_image(path)
    assert torch.allclose(loaded.rgb, rgb, atol=0.5 / 255 + 1e-6)
    assert loaded.alpha is not None and torch.allclose(loaded.alpha, alpha, atol=0.5 / 255 + 1e-6)
    assert _leftovers(tmp_path) == ["out.png"]
    assert os.stat(path).st_mode & 0o077, "outputs get the usual permissions, not mkstemp's 0600"


@pytest.mark.parametrize(
    "name,keeps_alpha",
    [("a.jpg", False), ("a.jpeg", False), ("a.webp", True), ("a.bmp", False), ("a.tif", True), ("a.TIFF", True)],
)
def test_formats_from_extension(tmp_path: Path, name: str, keeps_alpha: bool) -> None:
    rgb, alpha = torch.full((1, 3, 8, 8), 0.5), torch.full((1, 1, 8, 8), 0.6)
    path = save_image(rgb, tmp_path / name, alpha=alpha)
    loaded = load_image(path)
    assert loaded.size == (8, 8)
    assert (loaded.alpha is not None) == keeps_alpha


def test_unknown_extension_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"'\.gif'"):
        save_image(torch.zeros(1, 3, 4, 4), tmp_path / "out.gif")
    with pytest.raises(UsageError, match="none"):
        save_image(torch.zeros(1, 3, 4, 4), tmp_path / "out")
    assert _leftovers(tmp_path) == []


def test_unwritable_destination(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(OutputError, match="file/out.png"):
        save_image(torch.zeros(1, 3, 4, 4), tmp_path / "file" / "out.png")
    target_is_a_directory = tmp_path / "taken.png"
    target_is_a_directory.mkdir()
    with pytest.raises(OutputError, match="taken.png"):
        save_image(torch.zeros(1, 3, 4, 4), target_is_a_directory)
    assert _leftovers(tmp_path) == ["file", "taken.png"] and _leftovers(target_is_a_directory) == []


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), RuntimeError("encoder crashed")])
def test_failure_during_save_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    (tmp_path / "out.png").write_bytes(b"previous version")

    def failing_save(self: Image.Image, fp: object, format: str | None = None, **params: object) -> None:
        fp.write(b"\x89PNG half an image")  # type: ignore[attr-defined]
        raise error

    monkeypatch.setattr(Image.Image, "save", failing_save)
    expected = OutputError if isinstance(error, OSError) else RuntimeError
    with pytest.raises(expected):
        save_image(torch.zeros(1, 3, 4, 4), tmp_path / "out.png")
    assert _leftovers(tmp_path) == ["out.png"]
    assert (tmp_path / "out.png").read_bytes() == b"previous version"  # the old file is intact


def test_failure_before_first_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_save(self: Image.Image, fp: object, format: str | None = None, **params: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OutputError, match="Input/output error"):
        save_image(torch.zeros(1, 3, 4, 4), tmp_path / "new.png")
    assert _leftovers(tmp_path) == []


def test_tensor_to_pil_modes() -> None:
    assert tensor_to_pil(torch.zeros(3, 2, 5)).mode == "RGB"
    image = tensor_to_pil(torch.ones(1, 3, 2, 5), torch.zeros(1, 1, 2, 5))
    assert image.mode == "RGBA" and image.size == (5, 2)


# -- hostile input (issue 15) -------------------------------------------------------------------


def _noise_bytes(fmt: str, size: tuple[int, int] = (48, 32), **params: object) -> bytes:
    rng = np.random.default_rng(15)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buffer, format=fmt, **params)
    return buffer.getvalue()


def test_other_decoders_are_never_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An EPS file named .png is refused without Pillow's EPS plugin (which runs Ghostscript) seeing it."""
    Image.init()
    touched: list[str] = []
    for name in ("EPS", "PPM", "TGA", "DDS"):
        factory, accept = Image.OPEN[name]

        def spy(*args: object, name: str = name, accept: object = accept) -> bool:
            touched.append(name)
            return bool(accept(*args)) if accept else True  # type: ignore[operator]

        monkeypatch.setitem(Image.OPEN, name, (factory, spy))
    eps = tmp_path / "drawing.png"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n")
    ppm = tmp_path / "image.ppm"
    Image.new("RGB", (4, 4)).save(ppm)
    for path in (eps, ppm):
        with pytest.raises(InputImageError, match=rf"{path.name}.*not an image.*PNG, JPEG, WebP, TIFF, BMP, GIF"):
            load_image(path)
    assert touched == []


def test_a_truncated_png_whose_pixels_all_decode_is_refused(tmp_path: Path) -> None:
    data = _noise_bytes("PNG")
    for cut in (1, 12, 17):  # IEND, then the last IDAT's CRC: Pillow alone decodes all of these
        path = tmp_path / f"cut{cut}.png"
        path.write_bytes(data[:-cut])
        with pytest.raises(InputImageError, match=rf"cut{cut}\.png.*truncated"):
            load_image(path)


def test_png_crc_and_palette_are_checked(tmp_path: Path) -> None:
    data = bytearray(_noise_bytes("PNG"))
    data[-20] ^= 0xFF  # inside the last IDAT: only the CRC can tell
    (tmp_path / "crc.png").write_bytes(bytes(data))
    with pytest.raises(InputImageError, match=r"crc\.png.*IDAT.*CRC"):
        load_image(tmp_path / "crc.png")
    chunks = b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        for kind, body in (
            (b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 3, 0, 0, 0)),
            (b"PLTE", bytes(12)),
            (b"tRNS", bytes(300)),  # longer than the palette: Pillow raises ValueError
            (b"IDAT", zlib.compress(b"\0\0\1\2\3" * 4)),
            (b"IEND", b""),
        )
    )
    (tmp_path / "trns.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)
    with pytest.raises(InputImageError, match=r"trns\.png"):
        load_image(tmp_path / "trns.png")


def test_a_jpeg_promising_more_pixels_than_its_data_holds_is_refused(tmp_path: Path) -> None:
    data = bytearray(_noise_bytes("JPEG", (64, 48)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 480, 640)
    (tmp_path / "promise.jpg").write_bytes(bytes(data))
    with pytest.raises(InputImageError, match=r"promise\.jpg.*promises 640x480"):
        load_image(tmp_path / "promise.jpg")
    (tmp_path / "whole.jpg").write_bytes(_noise_bytes("JPEG", (64, 48), progressive=True))
    assert load_image(tmp_path / "whole.jpg").size == (64, 48)


def test_a_truncated_gif_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("P", (8, 8), 3).save(buffer, format="GIF")
    (tmp_path / "cut.gif").write_bytes(buffer.getvalue()[:-1])  # the trailer: Pillow alone reads it
    with pytest.raises(InputImageError, match=r"cut\.gif.*truncated"):
        load_image(tmp_path / "cut.gif")


def test_load_truncated_images_set_elsewhere_is_not_obeyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    path = tmp_path / "half.jpg"
    path.write_bytes(_noise_bytes("JPEG")[:400])
    with pytest.raises(InputImageError, match=r"half\.jpg.*truncated"):
        load_image(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored


@pytest.mark.parametrize(
    "error", [NotImplementedError("unknown pixel format"), ValueError("x"), KeyError("k"), ZeroDivisionError()]
)
def test_decoder_errors_of_any_class_become_input_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    from PIL import ImageFile

    path = tmp_path / "odd.png"
    path.write_bytes(_noise_bytes("PNG"))

    def failing_load(self: Image.Image) -> None:
        raise error

    monkeypatch.setattr(ImageFile.ImageFile, "load", failing_load)
    with pytest.raises(InputImageError, match=r"cannot decode image .*odd\.png"):
        load_image(path)


def test_dds_with_an_unknown_pixel_format(tmp_path: Path) -> None:
    header = bytearray(124)
    struct.pack_into("<IIII", header, 0, 124, 0x1007, 16, 16)
    struct.pack_into("<II4s", header, 72, 32, 0x4, b"ZZZZ")
    (tmp_path / "texture.dds").write_bytes(b"DDS " + bytes(header) + bytes(256))
    with pytest.raises(InputImageError, match=r"texture\.dds.*not an image"):
        load_image(tmp_path / "texture.dds")


def test_pillow_warnings_never_escape(tmp_path: Path) -> None:
    import warnings

    jpeg = _noise_bytes("JPEG")
    payload = b"Exif\0\0II*\0\x08\0\0\0\x05\0\x12\x01\x03\0"  # an EXIF directory cut short
    path = tmp_path / "exif.jpg"
    path.write_bytes(jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:])
    deflate = io.BytesIO()
    Image.new("RGB", (16, 16)).save(deflate, format="TIFF", compression="tiff_deflate")
    (tmp_path / "cut.tif").write_bytes(deflate.getvalue()[:-4])  # the directory at the end: "Truncated File Read"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image(path).size == (48, 32)  # damaged metadata: dropped
        with pytest.raises(InputImageError, match=r"cut\.tif.*truncated"):
            load_image(tmp_path / "cut.tif")


def test_libtiff_prints_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 30)).save(buffer, format="TIFF", compression="jpeg")
    data = bytearray(buffer.getvalue())
    tiff = Image.open(io.BytesIO(bytes(data)))
    offset = tiff.tag_v2[273][0]
    data[offset : offset + 64] = b"\0" * 64  # the strip's JPEG tables gone: libtiff complains on fd 2
    (tmp_path / "broken.tif").write_bytes(bytes(data))
    capfd.readouterr()
    with pytest.raises(InputImageError, match=r"broken\.tif"):
        load_image(tmp_path / "broken.tif")
    assert capfd.readouterr().err == ""


def test_special_files_are_refused_before_opening(tmp_path: Path) -> None:
    import signal

    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("a FIFO blocked"))
    signal.alarm(10)
    try:
        with pytest.raises(InputImageError, match=r"pipe\.png' is a FIFO"):
            load_image(tmp_path / "pipe.png")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    with pytest.raises(InputImageError, match=r"loop\.png.*loop of symbolic links"):
        load_image(tmp_path / "loop.png")
    with pytest.raises(InputImageError, match=r"/dev/null' is a character device"):
        load_image("/dev/null")
    with pytest.raises(InputImageError, match=r"n{300}\.png.*too long for the file system"):
        load_image(tmp_path / ("n" * 300 + ".png"))
    with pytest.raises(InputImageError, match=r"/proc/self/status.*size of 0 but has content") as refused:
        load_image("/proc/self/status")
    assert "empty" not in str(refused.value)


def test_short_writes_leave_nothing(tmp_path: Path) -> None:
    """A file-size limit (``ulimit -f``) cuts every format's write short: an OutputError, no file.
    Pillow's JPEG encoder writes to the descriptor itself and would not notice."""
    import subprocess
    import sys

    script = """
import resource, signal, sys
from pathlib import Path
import torch
from adain.errors import OutputError
from adain.image.io import save_image
rgb = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(0))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))
for name in ("out.jpg", "out.png", "out.webp", "out.tif", "out.bmp"):
    try:
        save_image(rgb, Path(sys.argv[1]) / name)
        print(name, "written")
    except OutputError as error:
        print(name, "OutputError", error)
"""
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120, check=True
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 5 and all("OutputError" in line and "file-size limit" in line for line in lines), result.stdout
    assert _leftovers(tmp_path) == []


def test_a_long_output_name_gets_a_short_temporary_name(tmp_path: Path) -> None:
    name = "n" * 245 + ".png"  # fine on its own; ".<name>.XXXXXXXX.part" would be over 255 bytes
    path = save_image(torch.zeros(1, 3, 4, 4), tmp_path / name)
    assert _leftovers(tmp_path) == [name] and path.name == name
    with pytest.raises(OutputError, match="too long for the file system"):
        save_image(torch.zeros(1, 3, 4, 4), tmp_path / ("n" * 300 + ".png"))
    assert _leftovers(tmp_path) == [name]
