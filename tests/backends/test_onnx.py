"""ONNX export and the onnxruntime backend: parity with PyTorch, dynamic sizes, metadata checks,
the cache, and the errors of a missing extra or a mismatched file.

Tolerances (fp32 on the CPU; measured differences are ~1e-7):
- encoder taps: max |onnx - torch| <= 1e-5 x max |torch| (the taps of vgg16-hed reach ~1000);
- decoder output, the ``pipeline`` graph and the whole backend: max abs difference <= 1e-4 on
  images in [0, 1].
The decoder is the shared seeded random one with its last convolution rescaled so that its
outputs span [0, 1] (a raw random decoder stays within a few hundredths, where any parity holds);
the multi-level decoder (open gates) is rescaled the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

pytest.importorskip("onnx", reason="the 'onnx' extra is not installed (pip install 'adain[onnx]')")
pytest.importorskip("onnxruntime", reason="the 'onnx' extra is not installed (pip install 'adain[onnx]')")

from adain.backends.onnx_export import export_onnx, weights_sha256
from adain.backends.onnx_runtime import (
    OnnxBackendOptions,
    OnnxDecoder,
    OnnxEncoder,
    OnnxPipelineModel,
    check_backend_available,
    onnx_cache_path,
    onnx_modules,
    resolve_providers,
    verify_export,
)
from adain.errors import MissingDependencyError, OutputError, ShapeError, UsageError, WeightsError
from adain.models import TAP_CHANNELS, TAP_SCALES, Decoder, MultiLevelDecoder, VGGEncoder, decoder_input_taps
from adain.ops.taps import TAPS
from adain.pipeline import StylizationPipeline, StylizeOptions
from adain.pipeline.tiling import plan_tiles
from adain.weights import get_preset, load_decoder, save_decoder

FEATURE_TOLERANCE = 1e-5  # relative to the tap's largest magnitude
IMAGE_TOLERANCE = 1e-4  # absolute, images in [0, 1]


def brightened(decoder: Decoder, encoder: VGGEncoder) -> Decoder:
    """``decoder`` with its last convolution rescaled so outputs have std ~0.3 around 0.5 (fed
    the encoder's features at every tap it takes)."""
    last = [m for m in decoder.layers.modules() if isinstance(m, nn.Conv2d)][-1]
    with torch.no_grad():
        taps = encoder(torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(5)))
        features = [taps[tap] for tap in decoder_input_taps(decoder)]
        scale = 0.3 / float(decoder(*features).std())
        last.weight.mul_(scale)
        last.bias.mul_(scale).add_(0.5 - float(decoder(*features).mean()))
    return decoder


@pytest.fixture(scope="module")
def torch_pipeline(decoder_file: Path, pipeline: StylizationPipeline) -> StylizationPipeline:
    decoder = brightened(load_decoder("vgg16-hed", path=decoder_file), pipeline.encoder)
    return StylizationPipeline(pipeline.encoder, decoder, preset="vgg16-hed")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, torch_pipeline: StylizationPipeline) -> dict[str, Path]:
    """The three parts, exported once at the exporter's own example size (64x48)."""
    folder = tmp_path_factory.mktemp("onnx")
    return {
        part: export_onnx(
            part, folder / f"{part}.onnx", "vgg16-hed", torch_pipeline.encoder, torch_pipeline.decoder
        ).path
        for part in ("encoder", "decoder", "pipeline")
    }


@pytest.fixture(scope="module")
def onnx_pipeline(torch_pipeline: StylizationPipeline, exported: dict[str, Path]) -> StylizationPipeline:
    options = OnnxBackendOptions(encoder_file=exported["encoder"], decoder_file=exported["decoder"])
    return StylizationPipeline(
        *onnx_modules(torch_pipeline.encoder, torch_pipeline.decoder, "vgg16-hed", options), preset="vgg16-hed"
    )


def noise(seed: int, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def max_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return float((a - b).abs().max())


# -- parity at sizes other than the export's ------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 3, 32, 40), (2, 3, 37, 53), (1, 3, 9, 17)])
def test_encoder_taps_match_pytorch_at_any_size(
    torch_pipeline: StylizationPipeline, exported: dict[str, Path], shape: tuple[int, ...]
) -> None:
    encoder = OnnxEncoder.load(exported["encoder"])
    image = noise(1, *shape)
    with torch.no_grad():
        expected = torch_pipeline.encoder(image)
    taps = encoder(image)
    assert list(taps) == list(TAPS)
    for tap in TAPS:
        scale = float(expected[tap].abs().max())
        assert scale > 1.0  # real features, not an all-zero map
        assert max_difference(taps[tap], expected[tap]) <= FEATURE_TOLERANCE * scale, tap
    assert list(encoder(image, last_tap="relu2_1")) == ["relu1_1", "relu2_1"]
    assert list(encoder(image, taps={"relu4_1", "relu2_1"})) == ["relu2_1", "relu4_1"]


@pytest.mark.parametrize("preset", ["vgg19", "vgg19-imagenet"])
def test_encoder_export_of_other_architectures(tmp_path: Path, preset: str) -> None:
    """Reflection padding, the leading 1x1 conv and ImageNet normalisation export too (seeded weights)."""
    torch.manual_seed(3)
    encoder = VGGEncoder(get_preset(preset).architecture).eval()
    path = export_onnx("encoder", tmp_path / "encoder.onnx", preset, encoder=encoder).path
    image = noise(2, 1, 3, 27, 35)
    with torch.no_grad():
        expected = encoder(image)
    taps = OnnxEncoder.load(path, preset=preset)(image)
    for tap in TAPS:
        assert max_difference(taps[tap], expected[tap]) <= FEATURE_TOLERANCE * max(
            1.0, float(expected[tap].abs().max())
        )


@pytest.mark.parametrize("shape", [(1, 512, 5, 7), (2, 512, 12, 4)])
def test_decoder_matches_pytorch_at_any_size(
    torch_pipeline: StylizationPipeline, exported: dict[str, Path], shape: tuple[int, ...]
) -> None:
    with torch.no_grad():
        features = torch_pipeline.encoder(noise(4, shape[0], 3, shape[2] * 8, shape[3] * 8))["relu4_1"]
        expected = torch_pipeline.decoder(features)
    assert 0.1 < float(expected.std()) and float(expected.min()) < 0.2 and float(expected.max()) > 0.8
    assert max_difference(OnnxDecoder.load(exported["decoder"])(features), expected) <= IMAGE_TOLERANCE


@pytest.mark.parametrize("height,width,alpha", [(40, 56, 1.0), (37, 45, 0.6), (19, 26, 0.0)])
def test_pipeline_graph_matches_the_torch_pipeline(
    torch_pipeline: StylizationPipeline, exported: dict[str, Path], height: int, width: int, alpha: float
) -> None:
    """The exported graph + the wrapper's padding and crop == StylizationPipeline, odd sizes included."""
    content, style = noise(5, 1, 3, height, width), noise(6, 1, 3, 32, 32)
    statistics = torch_pipeline.style_statistics(style)
    expected = torch_pipeline(content, statistics, alpha=alpha, output_type="pt").rgb
    model = OnnxPipelineModel.load(exported["pipeline"], preset="vgg16-hed")
    mean, std = statistics.at("relu4_1")
    output = model(content, mean, std, alpha)
    assert output.shape == (1, 3, height, width)
    assert max_difference(output, expected) <= IMAGE_TOLERANCE


def test_backend_pipeline_matches_torch_with_every_step(
    torch_pipeline: StylizationPipeline, onnx_pipeline: StylizationPipeline
) -> None:
    """Same steps, same result: two mixed styles, alpha, colour preservation, guided filter, odd size."""
    assert onnx_pipeline.backend == "onnxruntime" and torch_pipeline.backend == "torch"
    content, styles = noise(7, 1, 3, 45, 37), [noise(8, 1, 3, 40, 48), noise(9, 1, 3, 33, 31)]
    options = StylizeOptions(alpha=0.7, style_weights=[0.3, 0.7], preserve_color="luminance", guided_filter_radius=2)
    expected = torch_pipeline(content, styles, options, output_type="pt").rgb
    output = onnx_pipeline(content, styles, options, output_type="pt").rgb
    assert output.shape == (1, 3, 45, 37)
    assert max_difference(output, expected) <= IMAGE_TOLERANCE


def test_backend_style_statistics_match_torch(
    torch_pipeline: StylizationPipeline, onnx_pipeline: StylizationPipeline
) -> None:
    style = noise(10, 1, 3, 41, 29)
    expected, got = torch_pipeline.style_statistics(style), onnx_pipeline.style_statistics(style)
    for tap in TAPS:
        for a, b in zip(got.at(tap), expected.at(tap)):
            assert max_difference(a, b) <= FEATURE_TOLERANCE * float(b.abs().max())


def test_backend_refuses_optimization(onnx_pipeline: StylizationPipeline) -> None:
    with pytest.raises(UsageError, match="torch backend"):
        onnx_pipeline(noise(1, 1, 3, 16, 16), noise(2, 1, 3, 16, 16), method="optimize")
    with pytest.raises(UsageError, match="torch backend"):
        onnx_pipeline(noise(1, 1, 3, 16, 16), noise(2, 1, 3, 16, 16), refine=2)


def test_backend_stays_on_the_cpu(onnx_pipeline: StylizationPipeline) -> None:
    with pytest.raises(UsageError, match="providers"):
        onnx_pipeline.encoder.to("cuda")
    with pytest.raises(UsageError, match="CPU"):
        check_backend_available("cuda")


def test_verify_export_reports_a_tiny_difference(
    torch_pipeline: StylizationPipeline, exported: dict[str, Path]
) -> None:
    for part, path in exported.items():
        assert verify_export(path, torch_pipeline.encoder, torch_pipeline.decoder) <= IMAGE_TOLERANCE, part


# -- metadata: a file for other weights, another part or preset is refused -----------------------------


def test_metadata_records_preset_part_opset_and_weights(
    torch_pipeline: StylizationPipeline, exported: dict[str, Path]
) -> None:
    import onnx

    model = onnx.load(str(exported["pipeline"]), load_external_data=False)
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    assert metadata["adain.preset"] == "vgg16-hed" and metadata["adain.part"] == "pipeline"
    assert metadata["adain.opset"] == "17" and [o.version for o in model.opset_import if o.domain == ""] == [17]
    assert metadata["adain.encoder_sha256"] == weights_sha256(torch_pipeline.encoder)
    assert metadata["adain.decoder_sha256"] == weights_sha256(torch_pipeline.decoder)
    names = [i.name for i in model.graph.input]
    assert names == ["content", "style_mean", "style_std", "alpha"]
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]


def test_a_file_for_other_weights_part_or_preset_is_refused(
    torch_pipeline: StylizationPipeline, exported: dict[str, Path], decoder_file: Path
) -> None:
    other_decoder = load_decoder("vgg16-hed", path=decoder_file)  # not brightened: other weights
    with pytest.raises(WeightsError, match="other decoder weights"):
        onnx_modules(
            torch_pipeline.encoder,
            other_decoder,
            "vgg16-hed",
            OnnxBackendOptions(encoder_file=exported["encoder"], decoder_file=exported["decoder"]),
        )
    with pytest.raises(WeightsError, match="'encoder' part, not the decoder"):
        OnnxDecoder.load(exported["encoder"])
    with pytest.raises(WeightsError, match="preset 'vgg16-hed', not 'vgg19'"):
        OnnxEncoder.load(exported["encoder"], preset="vgg19")


def test_a_damaged_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(WeightsError, match="cannot load ONNX file"):
        OnnxEncoder.load(bad)
    with pytest.raises(WeightsError, match="not found"):
        OnnxEncoder.load(tmp_path / "missing.onnx")


def test_weights_sha256_names_the_weights_not_the_file(decoder_file: Path) -> None:
    first, second = load_decoder("vgg16-hed", path=decoder_file), load_decoder("vgg16-hed", path=decoder_file)
    assert weights_sha256(first) == weights_sha256(second) == weights_sha256(second.half())
    with torch.no_grad():
        next(second.parameters()).view(-1)[0] += 1.0
    assert weights_sha256(first) != weights_sha256(second)


# -- the cache -----------------------------------------------------------------------------------


def test_cache_exports_on_first_use_and_reexports_a_damaged_file(
    torch_pipeline: StylizationPipeline, tmp_path: Path
) -> None:
    options = OnnxBackendOptions(cache_dir=tmp_path)
    encoder, decoder = onnx_modules(torch_pipeline.encoder, torch_pipeline.decoder, "vgg16-hed", options)
    encoder_path = onnx_cache_path("vgg16-hed", "encoder", weights_sha256(torch_pipeline.encoder), cache_dir=tmp_path)
    assert encoder.path == encoder_path and encoder_path.is_file()
    assert decoder.path.parent == encoder_path.parent and decoder.path.name.startswith("decoder-")
    stamp = encoder_path.stat().st_mtime_ns
    again, _ = onnx_modules(torch_pipeline.encoder, torch_pipeline.decoder, "vgg16-hed", options)
    assert encoder_path.stat().st_mtime_ns == stamp  # reused, not exported again
    encoder_path.write_bytes(b"damaged")
    repaired, _ = onnx_modules(torch_pipeline.encoder, torch_pipeline.decoder, "vgg16-hed", options)
    image = noise(11, 1, 3, 16, 24)
    assert max_difference(repaired(image)["relu4_1"], again(image)["relu4_1"]) == 0.0
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted([encoder_path.name, decoder.path.name])


# -- errors ---------------------------------------------------------------------------------------


def test_missing_extra_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, torch_pipeline: StylizationPipeline, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError, match=r"'onnxruntime'.*pip install 'adain\[onnx\]'") as error:
        onnx_modules(torch_pipeline.encoder, torch_pipeline.decoder, "vgg16-hed")
    assert "\n" not in str(error.value) and error.value.exit_code == 1
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingDependencyError, match="'onnx'"):
        export_onnx("decoder", tmp_path / "d.onnx", "vgg16-hed", decoder=torch_pipeline.decoder)
    assert not list(tmp_path.iterdir())


def test_unknown_providers_part_and_opset_are_usage_errors(torch_pipeline: StylizationPipeline, tmp_path: Path) -> None:
    assert resolve_providers(["cpu", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    with pytest.raises(UsageError, match="'warp-drive' is not available"):
        resolve_providers(["warp-drive"])
    with pytest.raises(UsageError, match="unknown ONNX part 'all'"):
        export_onnx("all", tmp_path / "x.onnx", "vgg16-hed", torch_pipeline.encoder, torch_pipeline.decoder)
    with pytest.raises(UsageError, match="opset"):
        export_onnx("decoder", tmp_path / "x.onnx", "vgg16-hed", decoder=torch_pipeline.decoder, opset=9)
    assert not list(tmp_path.iterdir())


def test_unwritable_output_leaves_nothing(torch_pipeline: StylizationPipeline, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="cannot write"):
        export_onnx("decoder", blocker / "decoder.onnx", "vgg16-hed", decoder=torch_pipeline.decoder)
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


# -- a multi-level decoder: one graph input per tap --------------------------------------------------


@pytest.fixture(scope="module")
def multilevel_file(
    multilevel_decoder_file: Path, pipeline: StylizationPipeline, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The shared multi-level decoder (open gates), brightened, saved in fp32 (for ``from_preset``)."""
    decoder = brightened(load_decoder("vgg16-hed", path=multilevel_decoder_file), pipeline.encoder)
    path = tmp_path_factory.mktemp("multilevel") / "bright-multilevel.safetensors"
    save_decoder(decoder, path, "vgg16-hed", half=False)
    return path


@pytest.fixture(scope="module")
def torch_multilevel(multilevel_file: Path, pipeline: StylizationPipeline) -> StylizationPipeline:
    decoder = load_decoder("vgg16-hed", path=multilevel_file)
    assert isinstance(decoder, MultiLevelDecoder) and decoder.input_taps == ("relu4_1", "relu3_1", "relu2_1", "relu1_1")
    return StylizationPipeline(pipeline.encoder, decoder, preset="vgg16-hed")


@pytest.fixture(scope="module")
def multilevel_exported(
    tmp_path_factory: pytest.TempPathFactory, torch_multilevel: StylizationPipeline
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("onnx-multilevel")
    return {
        part: export_onnx(
            part, folder / f"{part}.onnx", "vgg16-hed", torch_multilevel.encoder, torch_multilevel.decoder
        ).path
        for part in ("decoder", "pipeline")
    }


@pytest.fixture(scope="module")
def onnx_multilevel(
    multilevel_file: Path, exported: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> StylizationPipeline:
    """The product's entry point on onnxruntime: the encoder from the shared export, the
    multi-level decoder exported into a fresh cache."""
    options = OnnxBackendOptions(encoder_file=exported["encoder"], cache_dir=tmp_path_factory.mktemp("onnx-cache"))
    return StylizationPipeline.from_preset(
        "vgg16-hed", decoder_path=multilevel_file, backend="onnxruntime", onnx=options
    )


def skip_features(encoder: VGGEncoder, seed: int, height: int, width: int) -> list[torch.Tensor]:
    """Real encoder features at every tap of a multi-level decoder (deepest first), each at its resolution."""
    with torch.no_grad():
        taps = encoder(noise(seed, 1, 3, height, width))
    return [taps[tap] for tap in ("relu4_1", "relu3_1", "relu2_1", "relu1_1")]


def test_multilevel_decoder_graph_takes_every_tap(
    torch_multilevel: StylizationPipeline, multilevel_exported: dict[str, Path]
) -> None:
    """One input per tap, named after it, each with its own dynamic size; and the metadata says so."""
    import onnx

    model = onnx.load(str(multilevel_exported["decoder"]), load_external_data=False)
    inputs = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    assert inputs == {
        "relu4_1": ["batch", 512, "feature_height", "feature_width"],
        **{
            tap: ["batch", TAP_CHANNELS[tap], f"{tap}_height", f"{tap}_width"]
            for tap in ("relu3_1", "relu2_1", "relu1_1")
        },
    }
    assert list(inputs) == ["relu4_1", "relu3_1", "relu2_1", "relu1_1"]
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    assert metadata["adain.decoder_architecture"] == "multilevel"
    assert metadata["adain.decoder_input_taps"] == "relu4_1,relu3_1,relu2_1,relu1_1"
    assert metadata["adain.decoder_sha256"] == weights_sha256(torch_multilevel.decoder)


@pytest.mark.parametrize("batch,height,width", [(1, 40, 56), (2, 24, 32)])
def test_multilevel_decoder_matches_pytorch(
    torch_multilevel: StylizationPipeline, multilevel_exported: dict[str, Path], batch: int, height: int, width: int
) -> None:
    """Positional tensors in ``input_taps`` order, as the torch module takes them, at sizes other than the export's."""
    features = [f.expand(batch, -1, -1, -1) for f in skip_features(torch_multilevel.encoder, 12, height, width)]
    with torch.no_grad():
        expected = torch_multilevel.decoder(*features)
    assert 0.1 < float(expected.std()) and float(expected.min()) < 0.2 and float(expected.max()) > 0.8
    decoder = OnnxDecoder.load(multilevel_exported["decoder"])
    assert decoder_input_taps(decoder) == torch_multilevel.decoder.input_taps
    assert max_difference(decoder(*features), expected) <= IMAGE_TOLERANCE
    with torch.no_grad():  # the skips matter: without them the decoder paints another image
        assert max_difference(torch_multilevel.decoder(features[0], *[f * 0 for f in features[1:]]), expected) > 0.05
    with pytest.raises(ShapeError, match="relu4_1, relu3_1, relu2_1, relu1_1: got 1 tensors"):
        decoder(features[0])


def test_multilevel_decoder_with_a_subset_of_taps(tmp_path: Path) -> None:
    """A decoder trained with some of the skips: its graph takes just those, in the decoder's order."""
    torch.manual_seed(7)
    decoder = MultiLevelDecoder(get_preset("vgg16-hed").architecture, skip_taps=("relu2_1", "relu3_1")).eval()
    with torch.no_grad():
        for gate in decoder.gates.values():
            gate.normal_(0.0, 0.5)
    path = export_onnx("decoder", tmp_path / "decoder.onnx", "vgg16-hed", decoder=decoder).path
    onnx_decoder = OnnxDecoder.load(path, decoder_taps=("relu4_1", "relu3_1", "relu2_1"))
    assert onnx_decoder.input_taps == ("relu4_1", "relu3_1", "relu2_1")
    features = [
        noise(k, 1, TAP_CHANNELS[tap], 32 // TAP_SCALES[tap], 24 // TAP_SCALES[tap]) * 4
        for k, tap in enumerate(onnx_decoder.input_taps)
    ]
    with torch.no_grad():
        expected = decoder(*features)
    assert max_difference(onnx_decoder(*features), expected) <= IMAGE_TOLERANCE * max(1.0, float(expected.abs().max()))
    assert verify_export(path, decoder=decoder) <= IMAGE_TOLERANCE


def test_multilevel_pipeline_graph_adains_every_tap(
    torch_multilevel: StylizationPipeline, multilevel_exported: dict[str, Path]
) -> None:
    """The whole-pipeline graph: the style's statistics at every tap, odd size padded and cropped."""
    content, style = noise(13, 1, 3, 37, 45), noise(14, 1, 3, 32, 32)
    statistics = torch_multilevel.style_statistics(style)
    expected = torch_multilevel(content, statistics, alpha=0.7, output_type="pt").rgb
    model = OnnxPipelineModel.load(
        multilevel_exported["pipeline"], preset="vgg16-hed", decoder_taps=torch_multilevel.decoder_taps
    )
    assert model.input_taps == torch_multilevel.decoder_taps
    assert model.input_names[:4] == ["content", "style_mean", "style_std", "alpha"]  # the plain graph's, first
    skips = {tap: statistics.at(tap) for tap in model.input_taps[1:]}
    output = model(content, *statistics.at("relu4_1"), 0.7, skip_statistics=skips)
    assert output.shape == (1, 3, 37, 45)
    assert float(expected.std()) > 0.1
    assert max_difference(output, expected) <= IMAGE_TOLERANCE
    with pytest.raises(UsageError, match="give skip_statistics for relu2_1, relu1_1"):
        model(content, *statistics.at("relu4_1"), 0.7, skip_statistics={"relu3_1": skips["relu3_1"]})


def test_verify_export_checks_a_multilevel_export(
    torch_multilevel: StylizationPipeline,
    torch_pipeline: StylizationPipeline,
    multilevel_exported: dict[str, Path],
    exported: dict[str, Path],
) -> None:
    for part, path in multilevel_exported.items():
        assert verify_export(path, torch_multilevel.encoder, torch_multilevel.decoder) <= IMAGE_TOLERANCE, part
    with pytest.raises(WeightsError, match="its inputs are relu4_1, relu3_1, relu2_1, relu1_1, but a decoder graph"):
        verify_export(multilevel_exported["decoder"], decoder=torch_pipeline.decoder)
    with pytest.raises(
        WeightsError, match="its inputs are relu4_1, but a decoder graph of this decoder takes relu4_1, relu3_1"
    ):
        verify_export(exported["decoder"], decoder=torch_multilevel.decoder)


def test_a_plain_decoder_file_is_refused_for_a_multilevel_decoder(
    exported: dict[str, Path], multilevel_exported: dict[str, Path]
) -> None:
    taps = ("relu4_1", "relu3_1", "relu2_1", "relu1_1")
    with pytest.raises(
        WeightsError, match="takes decoder features at relu4_1, but this decoder takes them at relu4_1, relu3_1"
    ):
        OnnxDecoder.load(exported["decoder"], decoder_taps=taps)
    with pytest.raises(WeightsError, match="takes decoder features at relu4_1, relu3_1, relu2_1, relu1_1, but"):
        OnnxDecoder.load(multilevel_exported["decoder"], decoder_taps=("relu4_1",))
    assert OnnxDecoder.load(exported["decoder"], decoder_taps=("relu4_1",)).input_taps == ("relu4_1",)


def test_multilevel_cache_file_is_named_apart(
    onnx_multilevel: StylizationPipeline, torch_multilevel: StylizationPipeline
) -> None:
    decoder = onnx_multilevel.decoder
    assert isinstance(decoder, OnnxDecoder) and onnx_multilevel.decoder_taps == torch_multilevel.decoder_taps
    key = weights_sha256(torch_multilevel.decoder)
    assert decoder.path == onnx_cache_path(
        "vgg16-hed", "decoder", key, cache_dir=decoder.path.parents[1], decoder_kind="multilevel"
    )
    assert decoder.path.name.startswith("decoder-multilevel-")
    plain = onnx_cache_path("vgg16-hed", "decoder", key, cache_dir=decoder.path.parents[1])
    assert plain.name == f"decoder-{key[:16]}-opset17.onnx" and plain != decoder.path


@pytest.mark.parametrize(
    "options", [StylizeOptions(alpha=0.8), StylizeOptions(alpha=0.6, tile_size=176)], ids=["whole", "tiled"]
)
def test_multilevel_backend_matches_the_torch_pipeline(
    torch_multilevel: StylizationPipeline,
    onnx_multilevel: StylizationPipeline,
    options: StylizeOptions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``from_preset(..., backend="onnxruntime")`` with a multi-level decoder == the torch pipeline;
    tiled, the windows are re-encoded through the onnxruntime encoder (``taps=``) for the skips."""
    calls: list[str] = []
    original = OnnxEncoder.__call__

    def spy(self: OnnxEncoder, image: torch.Tensor, last_tap: str = "relu4_1", taps=None) -> dict[str, torch.Tensor]:
        features = original(self, image, last_tap=last_tap, taps=taps)
        calls.append(list(features)[-1])
        return features

    monkeypatch.setattr(OnnxEncoder, "__call__", spy)
    tiled = bool(options.tile_size)
    content, style = noise(15, 1, 3, 200 if tiled else 37, 40), noise(16, 1, 3, 32, 32)
    expected = torch_multilevel(content, style, options, output_type="pt").rgb
    output = onnx_multilevel(content, style, options, output_type="pt").rgb
    assert output.shape == expected.shape == (1, 3, 200 if tiled else 37, 40)
    assert float(expected.std()) > 0.1
    assert max_difference(output, expected) <= IMAGE_TOLERANCE
    if tiled:  # each window encoded for relu4_1 and the skips' moments, then again up to relu3_1 for its skips
        windows = len(plan_tiles(200, 40, options.tile_size).tiles)
        assert windows >= 2 and calls.count("relu3_1") == windows
    else:
        assert "relu3_1" not in calls
