"""The bf16 fast path: what ``auto`` resolves to, and bf16 output against fp32 (PSNR >= 40 dB)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adain.errors import UsageError
from adain.pipeline import StylizationPipeline
from adain.pipeline.device import resolve_precision

#: the tolerance we promise: bf16 output within 40 dB PSNR of fp32 (measured ~55 dB at 256 and 512 px)
MIN_PSNR_DB = 40.0


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / ((a - b) ** 2).mean()))


class TestResolvePrecision:
    def test_explicit_choices_are_kept(self) -> None:
        cpu = torch.device("cpu")
        assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"

    def test_auto_is_fp32_on_onnxruntime_and_follows_the_hardware_on_torch(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from adain.pipeline import device as device_module

        cpu = torch.device("cpu")
        monkeypatch.setattr(device_module, "native_bf16", lambda device: True)
        assert resolve_precision("auto", cpu) == "bf16" and resolve_precision("auto", cpu, "onnxruntime") == "fp32"
        monkeypatch.setattr(device_module, "native_bf16", lambda device: False)
        assert resolve_precision("auto", cpu) == "fp32"


def test_unknown_precision_and_bf16_on_onnxruntime_are_usage_errors(
    pipeline: StylizationPipeline, decoder_file: Path
) -> None:
    with pytest.raises(UsageError, match="precision"):
        StylizationPipeline(pipeline.encoder, pipeline.decoder, "vgg16-hed", precision="fp8")
    with pytest.raises(UsageError, match="onnxruntime backend runs fp32"):
        StylizationPipeline.from_preset("vgg16-hed", decoder_path=decoder_file, backend="onnxruntime", precision="bf16")


def test_bf16_pipeline_runs_copies_and_keeps_fp32_networks(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    fast = StylizationPipeline(pipeline.encoder, pipeline.decoder, "vgg16-hed", precision="bf16")
    assert fast.precision == "bf16" and fast.encoder is pipeline.encoder
    assert fast.inference_decoder is not fast.decoder
    assert fast.inference_decoder.layers[1].weight.dtype == torch.bfloat16
    assert pipeline.encoder.convs["conv1_1"].weight.dtype == torch.float32
    content, style = torch.rand(1, 3, 40, 48, generator=rng), torch.rand(1, 3, 32, 32, generator=rng)
    exact = pipeline(content, style, output_type="pt").rgb
    approx = fast(content, style, output_type="pt").rgb
    assert approx.dtype == torch.float32 and approx.shape == exact.shape
    # optimization needs gradients: it runs the fp32 encoder whatever the precision
    refined = fast(content, style, output_type="pt", refine=2).rgb
    assert refined.shape == exact.shape and torch.isfinite(refined).all()


def test_shipped_decoder_bf16_is_within_40_db_of_fp32() -> None:
    """The promise of ``--precision auto`` on the real model: the bf16 image is within 40 dB PSNR of fp32."""
    skimage_data = pytest.importorskip("skimage.data", reason="the test photo comes from scikit-image")
    from adain.styles.library import resolve_style

    content = torch.from_numpy(skimage_data.astronaut()).permute(2, 0, 1)[None].float() / 255
    style = resolve_style("bank:antimonocromatismo", "vgg16-hed")
    exact = StylizationPipeline.from_preset("vgg16-hed", precision="fp32")(
        content, style, size=256, output_type="pt"
    ).rgb
    fast = StylizationPipeline.from_preset("vgg16-hed", precision="bf16")
    approx = fast(content, style, size=256, output_type="pt").rgb
    assert psnr(approx, exact) >= MIN_PSNR_DB
    assert (approx - exact).abs().mean() < 2e-3


@pytest.mark.slow
def test_compiled_pipeline_computes_the_eager_result(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    """``compile=True`` runs the same networks through torch.compile (fp32 here: equal to rounding)."""
    compiled = StylizationPipeline(pipeline.encoder, pipeline.decoder, "vgg16-hed", compile=True)
    content, style = torch.rand(1, 3, 24, 32, generator=rng), torch.rand(1, 3, 24, 24, generator=rng)
    exact = pipeline(content, style, output_type="pt").rgb
    assert torch.allclose(compiled(content, style, output_type="pt").rgb, exact, atol=1e-4)
    with pytest.raises(UsageError, match="compile"):
        StylizationPipeline.from_preset("vgg16-hed", backend="onnxruntime", compile=True)
