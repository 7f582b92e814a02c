"""The ``fast`` preset: compact students distilled from vgg16-hed, loaded from their shipped files
with the shape each file's manifest says, using vgg16-hed's style banks.

No distilled weights exist in the repository yet: the "shipped" files here are randomly
initialised students written by the real export code (``export_distill_checkpoint``, what
``adain distill ... --export`` runs) into a temporary folder standing in for the package's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from adain.cli.main import main
from adain.errors import MissingWeightsError, UsageError, WeightsError, WeightsShapeError
from adain.models import CompactEncoder, CompactMultiLevelDecoder
from adain.models.compact import TapProjection
from adain.pipeline import StylizationPipeline
from adain.styles.library import available_banks, encode_style_images, shipped_bank_path, user_bank_path
from adain.weights import PRESETS, get_preset, import_weights, load_decoder, load_encoder, loading
from adain.weights.loading import component_origin, component_status
from adain.weights.presets import statistics_preset
from adain.weights.store import read_manifest, save_component

#: the students' shapes: not the defaults, so that only the manifest can say them
ENCODER_SHAPE = {"width": 0.125, "kind": "separable"}
DECODER_SHAPE = {"width": 0.125, "skip_taps": ("relu3_1", "relu1_1")}


def _random_encoder(seed: int = 0) -> CompactEncoder:
    torch.manual_seed(seed)
    encoder = CompactEncoder(**ENCODER_SHAPE)
    with torch.no_grad():  # the teacher's scale, as a calibrated student has
        for projection in encoder.projections.values():
            assert isinstance(projection, TapProjection)
            projection.scale.uniform_(1.0, 3.0)
            projection.shift.uniform_(0.0, 1.0)
    return encoder.eval()


def _random_decoder(seed: int = 1) -> CompactMultiLevelDecoder:
    torch.manual_seed(seed)
    decoder = CompactMultiLevelDecoder(**DECODER_SHAPE)  # type: ignore[arg-type]
    with torch.no_grad():
        decoder.input_scale.fill_(0.5)
    return decoder.eval()


@pytest.fixture
def shipped(tmp_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder standing in for the package's shipped weights (its banks stay the real ones)."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    monkeypatch.setattr(loading, "shipped_path", lambda file_name: folder / file_name)
    return folder


@pytest.fixture
def fast_files(
    shipped: Path, tmp_path: Path, export_student: Callable[..., Path]
) -> tuple[CompactEncoder, CompactMultiLevelDecoder]:
    """Random students exported into the stand-in shipped folder under the preset's file names."""
    encoder, decoder = _random_encoder(), _random_decoder()
    preset = get_preset("fast")
    export_student(encoder, shipped / preset.encoder.location, tmp_path)
    assert preset.decoder is not None
    export_student(decoder, shipped / preset.decoder.location, tmp_path)
    return encoder, decoder


def _rounded(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.half().float() for key, value in module.state_dict().items()}


def test_the_preset_is_distilled_from_vgg16_hed_and_ships_both_parts() -> None:
    preset = get_preset("fast")
    assert preset.teacher == "vgg16-hed" and preset.compact and preset.statistics_preset == "vgg16-hed"
    assert preset.description == "Fast: a distilled compact encoder and decoder (about 10x fewer FLOPs than vgg16-hed)"
    assert preset.decoder is not None
    for source in (preset.encoder, preset.decoder):
        assert source.kind == "shipped" and source.location.endswith(".safetensors") and source.licence == "MIT"
        assert "distilled from vgg16-hed" in source.origin and "adain distill" in source.origin
    # the teacher's layout: the students' taps have its sizes, a decoder for it mirrors it
    assert preset.architecture == get_preset("vgg16-hed").architecture
    assert statistics_preset("fast") == "vgg16-hed" and statistics_preset("vgg16-hed") == "vgg16-hed"
    assert statistics_preset("vgg19") == "vgg19" and statistics_preset(None) is None


def test_from_preset_loads_both_students_and_stylizes_with_a_vgg16_hed_bank_style(fast_files) -> None:
    encoder, decoder = fast_files
    pipeline = StylizationPipeline.from_preset("fast", precision="fp32")
    assert isinstance(pipeline.encoder, CompactEncoder) and isinstance(pipeline.decoder, CompactMultiLevelDecoder)
    assert pipeline.encoder.config() == encoder.config()  # the shapes the manifests say
    assert pipeline.decoder.config() == decoder.config()
    assert pipeline.decoder_taps == ("relu4_1", "relu3_1", "relu1_1")
    assert not any(p.requires_grad for p in pipeline.encoder.parameters())
    image = torch.rand(1, 3, 40, 24, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():  # the exported fp16 weights, read back exactly
        expected = encoder.load_state_dict(_rounded(encoder)) and encoder(image)
        for tap, features in pipeline.encoder(image, last_tap="relu3_1").items():
            torch.testing.assert_close(features, expected[tap])
    assert list(pipeline.encoder(image, last_tap="relu2_1")) == ["relu1_1", "relu2_1"]

    (origin, bank), *_ = available_banks("fast")
    assert origin == "shipped" and bank.preset == "fast" and len(bank) > 0
    name = next(iter(bank))
    result = pipeline(image, f"bank:{name}", output_type="pt")
    assert result.rgb.shape == (1, 3, 40, 24) and torch.isfinite(result.rgb).all()
    assert 0 <= float(result.rgb.min()) and float(result.rgb.max()) <= 1
    # a style image goes through the student encoder: its statistics are the fast pipeline's
    style = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    statistics = pipeline.style_statistics(style)
    assert statistics.preset == "fast" and statistics.means["relu4_1"].shape == (1, 512, 1, 1)
    mixed = pipeline(image, [statistics, f"bank:{name}"], output_type="pt", style_weights=[0.5, 0.5])
    assert mixed.rgb.shape == (1, 3, 40, 24)


def test_fast_reads_the_banks_of_vgg16_hed(shipped: Path, tmp_path: Path) -> None:
    assert shipped_bank_path("fast") == shipped_bank_path("vgg16-hed")
    assert user_bank_path("fast") == user_bank_path("vgg16-hed")
    teacher, student = dict(available_banks("vgg16-hed")), dict(available_banks("fast"))
    assert list(student) == list(teacher) == ["shipped"]
    assert list(student["shipped"]) == list(teacher["shipped"])
    name = next(iter(teacher["shipped"]))
    for tap, mean in teacher["shipped"].get(name).means.items():
        assert torch.equal(student["shipped"].get(name).means[tap], mean)
    assert teacher["shipped"].get(name).preset == "vgg16-hed" and student["shipped"].get(name).preset == "fast"
    # the student adds no styles to its teacher's banks: their statistics are the teacher's, exactly
    with pytest.raises(UsageError, match="add styles with preset vgg16-hed"):
        encode_style_images("fast", [tmp_path / "never-read.png"])


def test_missing_weights_say_how_to_build_them_in_one_line(shipped: Path, capsys) -> None:
    assert component_status("fast", "encoder") == ("missing", None)
    for component, load in (("encoder", load_encoder), ("decoder", load_decoder)):
        with pytest.raises(MissingWeightsError) as info:
            load("fast")
        message = str(info.value)
        assert "\n" not in message and "'fast'" in message and "not built" in message
        assert f"adain distill {component}" in message and "adain weights import FILE --preset fast" in message
    with pytest.raises(MissingWeightsError, match="no distilled decoder yet"):
        StylizationPipeline.from_preset("fast")
    assert main(["weights", "list"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("fast "))
    assert "encoder: missing  decoder: missing" in line and get_preset("fast").description in line


def test_weights_list_shows_the_shipped_students(fast_files, capsys) -> None:
    assert main(["weights", "list"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("fast "))
    assert "encoder: shipped  decoder: shipped" in line


def test_a_file_of_another_shape_is_refused_by_name(fast_files, shipped: Path) -> None:
    manifest_path = shipped / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["fast-encoder"]["width"] = 0.25  # the file's tensors are a width-1/8 student's
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(WeightsShapeError) as info:
        load_encoder("fast")
    message = str(info.value)
    assert "\n" not in message and "fast-encoder.safetensors" in message and "has shape" in message

    manifest["fast-encoder"]["kind"] = "vgg"  # another layout: other tensor names
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(WeightsError, match="does not fit the architecture"):
        load_encoder("fast")

    # a decoder file holding tensors of another width under its own, correct manifest entry
    path = shipped / "fast-decoder.safetensors"
    wrong = CompactMultiLevelDecoder(0.25, DECODER_SHAPE["skip_taps"]).state_dict()
    save_component(path, wrong, {**_random_decoder().config(), "preset": "vgg16-hed", "component": "decoder"})
    with pytest.raises(WeightsShapeError, match=r"fast-decoder.safetensors: layers\.1\.(weight|bias) has shape"):
        load_decoder("fast")


def test_a_student_needs_its_manifest_entry(fast_files, shipped: Path) -> None:
    manifest_path = shipped / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["fast-encoder"], manifest["fast-decoder"]
    manifest_path.write_text(json.dumps(manifest))
    for load in (load_encoder, load_decoder):
        with pytest.raises(WeightsError, match="no manifest entry beside it says its shape") as info:
            load("fast")
        assert "\n" not in str(info.value)
    manifest["fast-encoder"] = {"architecture": "vgg16", "preset": "fast"}  # a VGG encoder's entry
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(WeightsError, match="compact student .*says 'vgg16'"):
        load_encoder("fast")


def test_an_exported_student_is_imported_for_fast(
    shipped: Path, tmp_path: Path, export_student: Callable[..., Path]
) -> None:
    encoder, decoder = _random_encoder(5), _random_decoder(6)
    run = tmp_path / "runs"
    files = {
        "encoder": export_student(encoder, run / "enc" / "compact-encoder.safetensors", tmp_path),
        "decoder": export_student(decoder, run / "dec" / "compact-decoder.safetensors", tmp_path),
    }
    for component, file in files.items():
        preset, imported, path = import_weights(file)  # the manifest names the teacher: fast is its student
        assert (preset, imported) == ("fast", component)
        assert component_origin("fast", component).startswith("imported ")
        entry = read_manifest(path.parent)[component]
        assert entry["architecture"].startswith("compact-") and entry["teacher"]["preset"] == "vgg16-hed"
    loaded_encoder, loaded_decoder = load_encoder("fast"), load_decoder("fast")
    assert loaded_encoder.config() == encoder.config() and loaded_decoder.config() == decoder.config()
    assert all(torch.equal(loaded_encoder.state_dict()[k], v) for k, v in _rounded(encoder).items())
    assert all(torch.equal(loaded_decoder.state_dict()[k], v) for k, v in _rounded(decoder).items())


def test_a_distilled_decoder_serves_its_teachers_features_only(
    shipped: Path, tmp_path: Path, export_student: Callable[..., Path]
) -> None:
    file = export_student(_random_decoder(), tmp_path / "student" / "decoder.safetensors", tmp_path)
    assert isinstance(load_decoder("vgg16-hed", path=file), CompactMultiLevelDecoder)
    with pytest.raises(WeightsError, match="for 'vgg16-hed' features, not for preset 'vgg19'"):
        load_decoder("vgg19", path=file)
    # the student's tensors without its manifest: refused by name, not mistaken for a VGG decoder
    lone = tmp_path / "lone" / "decoder.safetensors"
    lone.parent.mkdir()
    lone.write_bytes(file.read_bytes())
    with pytest.raises(WeightsError, match="no manifest entry beside it says its shape"):
        load_decoder("vgg16-hed", path=lone)
    with pytest.raises(WeightsError, match="compact .*student.*no manifest entry"):
        import_weights(lone, preset_name="fast")


def test_every_preset_names_a_known_teacher_and_feature_space() -> None:
    for preset in PRESETS.values():
        for name in (preset.teacher, preset.statistics_preset):
            assert name is None or (name in PRESETS and not PRESETS[name].compact)
