"""Fixtures shared by every test folder: a seeded random decoder file, the reference networks, and a
cache holding random ``fast`` students."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch

from adain.models import CompactEncoder, CompactMultiLevelDecoder, Decoder, MultiLevelDecoder
from adain.models.compact import TapProjection
from adain.pipeline import StylizationPipeline
from adain.weights import get_preset, import_weights, load_decoder, load_encoder, prepare, save_decoder

REFERENCE_FILE = Path(__file__).resolve().parent / "models" / "pytorch_adain_reference.py"

# `--backend auto`, the command line's default, measures the fastest way once per machine, weights
# and home on a CPU without native bf16 (seconds, and a note on stderr, in every test with a fresh
# ADAIN_HOME): the tests run the way the default ran before it (torch, bf16 where native), and
# tests/pipeline/test_autotune.py tests the choosing with this unset. Child processes inherit it.
os.environ.setdefault("ADAIN_WAY", "torch")


@pytest.fixture(scope="session")
def decoder_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised (seeded) vgg16-hed decoder saved through the real weights code."""
    torch.manual_seed(1234)
    path = tmp_path_factory.mktemp("decoder") / "random-decoder.safetensors"
    save_decoder(Decoder(get_preset("vgg16-hed").architecture), path, "vgg16-hed")
    return path


@pytest.fixture(scope="session")
def multilevel_decoder_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded random multi-level vgg16-hed decoder with its gates open (random, std 0.5, so
    every skip changes the output), saved through the real weights code."""
    torch.manual_seed(4321)
    decoder = MultiLevelDecoder(get_preset("vgg16-hed").architecture)
    with torch.no_grad():
        for gate in decoder.gates.values():
            gate.normal_(0.0, 0.5)
    path = tmp_path_factory.mktemp("multilevel-decoder") / "random-multilevel-decoder.safetensors"
    save_decoder(decoder, path, "vgg16-hed")
    return path


ROOT = Path(__file__).resolve().parent.parent


def module_from_path(name: str, path: Path) -> ModuleType:
    """Import the file ``path`` as module ``name``, once (tests are no package under importlib
    mode, and tools/ is no package at all)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def load_reference_module() -> ModuleType:
    """pytorch-AdaIN's reference networks (tests/models/pytorch_adain_reference.py)."""
    return module_from_path("adain_tests_pytorch_adain_reference", REFERENCE_FILE)


@pytest.fixture(scope="session")
def tool() -> Callable[[str], ModuleType]:
    """``tool("ship_fast_preset")``: the script tools/ship_fast_preset.py as a module."""
    return lambda name: module_from_path(f"adain_tools_{name}", ROOT / "tools" / f"{name}.py")


@pytest.fixture(scope="session")
def reference() -> ModuleType:
    return load_reference_module()


@pytest.fixture(scope="session")
def pipeline(decoder_file: Path) -> StylizationPipeline:
    """The real vgg16-hed encoder with the seeded random decoder (shared by the session: loading is the slow part)."""
    return StylizationPipeline(
        load_encoder("vgg16-hed"), load_decoder("vgg16-hed", path=decoder_file), preset="vgg16-hed"
    )


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)


#: the random students' shapes in :func:`fast_home`: not the defaults, so that only the manifests say them
FAST_ENCODER_SHAPE = {"width": 0.125, "kind": "separable"}
FAST_DECODER_SHAPE = {"width": 0.125, "skip_taps": ("relu3_1", "relu1_1")}


def export_random_student(student: CompactEncoder | CompactMultiLevelDecoder, path: Path, work: Path) -> Path:
    """``student`` written as ``adain distill ... --export-only`` writes it (fp16 safetensors and
    its manifest entry, teacher vgg16-hed), through the real export code."""
    from adain.train.checkpoint import save_checkpoint
    from adain.train.distill import DistillConfig, export_distill_checkpoint

    target = "encoder" if isinstance(student, CompactEncoder) else "decoder"
    checkpoint = work / f"run-{target}" / "checkpoint.pt"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    config = DistillConfig(target, "content", "style", str(checkpoint.parent), width=student.width)
    save_checkpoint(
        checkpoint,
        {
            "kind": "distill",
            "student": student.state_dict(),
            "student_config": student.config(),
            "ema": None,
            "config": config.to_dict(),
            "teacher": {"preset": "vgg16-hed", "encoder_sha256": "0" * 64},
            "step": 3,
            "history": [{"step": 3, "loss": 0.5}],
            "sessions": [{"command": "adain distill test", "commit": None}],
        },
    )
    return export_distill_checkpoint(checkpoint, path, target)


@pytest.fixture
def export_student() -> Callable[..., Path]:
    """:func:`export_random_student`, for test modules (tests are no package: they cannot import it)."""
    return export_random_student


@pytest.fixture
def fast_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ``ADAIN_HOME`` (in the environment, so child processes see it too) holding the
    user's vgg16-hed encoder (the teacher) and randomly initialised ``fast`` students (seeded,
    calibrated to the teacher's scale), imported as ``adain weights import`` does: ``--preset
    fast`` then loads them everywhere, as it will the distilled ones."""
    teacher = prepare("vgg16-hed", ("encoder",), progress=False)["encoder"]  # the user's cache, as other tests
    home = tmp_path / "fast-home"
    shutil.copytree(teacher.parent, home / "vgg16-hed")
    monkeypatch.setenv("ADAIN_HOME", str(home))
    torch.manual_seed(0)
    encoder = CompactEncoder(**FAST_ENCODER_SHAPE)  # type: ignore[arg-type]
    decoder = CompactMultiLevelDecoder(**FAST_DECODER_SHAPE)  # type: ignore[arg-type]
    with torch.no_grad():
        for projection in encoder.projections.values():
            assert isinstance(projection, TapProjection)
            projection.scale.uniform_(1.0, 3.0)
            projection.shift.uniform_(0.0, 1.0)
        decoder.input_scale.fill_(0.5)
    for student in (encoder, decoder):
        file = export_random_student(student, tmp_path / "students" / f"{type(student).__name__}.safetensors", tmp_path)
        assert import_weights(file, home, replace=True)[0] == "fast"
    return home
