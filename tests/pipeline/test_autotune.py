"""``backend="auto"``: the fastest way measured once per machine (:mod:`adain.pipeline.autotune`).

The timing function is replaced by one returning chosen numbers (no test asserts on a real
time), and the native-bf16 check by a constant: the choosing is tested as on a CPU without
(and with) native bf16, whatever this machine has. One test measures for real, at 32 px.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from adain.cli import arguments
from adain.cli.main import main
from adain.errors import UsageError
from adain.models import Decoder
from adain.pipeline import StylizationPipeline, autotune
from adain.pipeline import device as device_module
from adain.pipeline.autotune import (
    ONNXRUNTIME,
    TORCH_BF16,
    TORCH_FP32,
    TORCH_FP32_CHANNELS_LAST,
    Choice,
    Way,
    Workload,
    cache_key,
    cache_path,
    fastest_way,
)
from adain.weights import get_preset, prepare


@pytest.fixture(scope="module")
def encoder_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the user's vgg16-hed encoder folder (the cache as other tests use it)."""
    source = prepare("vgg16-hed", ("encoder",), progress=False)["encoder"].parent
    return Path(shutil.copytree(source, tmp_path_factory.mktemp("encoder") / "vgg16-hed"))


@pytest.fixture
def home(tmp_path: Path, encoder_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``ADAIN_HOME`` (no way measured yet) with the vgg16-hed encoder; ``ADAIN_WAY``
    unset (tests/conftest.py sets it for every other test)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "vgg16-hed").symlink_to(encoder_folder, target_is_directory=True)
    monkeypatch.setenv("ADAIN_HOME", str(home))
    monkeypatch.delenv("ADAIN_WAY", raising=False)
    return home


class FakeTimer:
    """Stands in for :func:`autotune.measure_way`: chosen seconds per way, and the calls counted."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self.calls: list[str] = []

    def __call__(self, way: Way, encoder, decoder, preset, home=None, workload=None) -> float:
        self.calls.append(way.name)
        if isinstance(self.seconds.get(way.name), Exception):
            raise self.seconds[way.name]
        return self.seconds[way.name]


SECONDS = {"torch-fp32": 0.5, "torch-fp32-channels-last": 0.3, "onnxruntime-fp32": 0.4, "torch-bf16": 0.2}


@pytest.fixture
def timer(monkeypatch: pytest.MonkeyPatch) -> FakeTimer:
    """A CPU without native bf16, onnxruntime installed, and :class:`FakeTimer` timing."""
    fake = FakeTimer(dict(SECONDS))
    monkeypatch.setattr(autotune, "measure_way", fake)
    monkeypatch.setattr(autotune, "native_bf16", lambda device: False)
    monkeypatch.setattr(device_module, "native_bf16", lambda device: False)
    monkeypatch.setattr(autotune, "onnxruntime_available", lambda: True)
    return fake


def test_the_fastest_candidate_wins_and_is_kept(pipeline: StylizationPipeline, home: Path, timer: FakeTimer) -> None:
    notes: list[str] = []
    choice = fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder, on_measure=notes.append)
    assert choice.way == TORCH_FP32_CHANNELS_LAST and choice.how == "measured"
    assert sorted(timer.calls) == sorted(["torch-fp32", "torch-fp32-channels-last", "onnxruntime-fp32"])
    assert choice.seconds == {k: v for k, v in SECONDS.items() if k != "torch-bf16"}
    assert len(notes) == 1 and "measuring the fastest way to run on this CPU (once)" in notes[0]
    # cached where the product keeps its files: a second call does not measure
    assert choice.cache_file == str(home / "cache" / "fastest-way.json") == str(cache_path())
    again = fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder, on_measure=notes.append)
    assert (again.way, again.how, again.seconds) == (TORCH_FP32_CHANNELS_LAST, "cached", choice.seconds)
    assert len(timer.calls) == 3 and len(notes) == 1
    described = again.to_dict()
    assert described["winner"] == "torch-fp32-channels-last" and described["seconds"]["torch-fp32"] == 0.5
    assert "torch fp32 channels-last: fastest on this CPU" in again.describe()
    stored = json.loads(Path(choice.cache_file).read_text())
    (entry,) = stored["entries"].values()
    assert entry["winner"] == "torch-fp32-channels-last" and entry["key"]["preset"] == "vgg16-hed"
    assert {"torch", "onnxruntime", "cpu", "threads", "decoder_sha256"} <= set(entry["key"])


def test_the_key_changes_with_threads_and_decoder(pipeline: StylizationPipeline, home: Path, timer: FakeTimer) -> None:
    ways = [TORCH_FP32, TORCH_FP32_CHANNELS_LAST]
    key = cache_key("vgg16-hed", pipeline.encoder, pipeline.decoder, ways, threads=2)
    assert cache_key("vgg16-hed", pipeline.encoder, pipeline.decoder, ways, threads=2) == key
    assert cache_key("vgg16-hed", pipeline.encoder, pipeline.decoder, ways, threads=1) != key
    torch.manual_seed(7)
    other = Decoder(get_preset("vgg16-hed").architecture)
    assert cache_key("vgg16-hed", pipeline.encoder, other, ways, threads=2)["decoder_sha256"] != key["decoder_sha256"]
    assert cache_key("vgg16-hed", pipeline.encoder, pipeline.decoder, ways, Workload(side=64), threads=2) != key
    # another decoder is measured anew, beside the first entry
    fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder)
    timer.seconds["onnxruntime-fp32"] = 0.1
    assert fastest_way("vgg16-hed", "cpu", pipeline.encoder, other).way == ONNXRUNTIME
    assert len(timer.calls) == 6
    assert fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder).way == TORCH_FP32_CHANNELS_LAST
    assert len(timer.calls) == 6 and len(json.loads(cache_path().read_text())["entries"]) == 2


@pytest.mark.parametrize("content", [b"\x00\xff not json", b'["a list"]', b'{"format": 1, "entries": {"x": 3}}', b""])
def test_a_corrupt_cache_is_ignored_and_rewritten(
    pipeline: StylizationPipeline, home: Path, timer: FakeTimer, content: bytes
) -> None:
    path = cache_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    choice = fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder)
    assert choice.how == "measured" and choice.way == TORCH_FP32_CHANNELS_LAST
    stored = json.loads(path.read_text())
    assert [entry["winner"] for entry in stored["entries"].values()] == ["torch-fp32-channels-last"]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_an_entry_naming_no_candidate_is_measured_again(
    pipeline: StylizationPipeline, home: Path, timer: FakeTimer
) -> None:
    path = Path(fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder).cache_file or "")
    stored = json.loads(path.read_text())
    for entry in stored["entries"].values():
        entry["winner"] = "torch-fp64"
    path.write_text(json.dumps(stored))
    assert fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder).how == "measured"
    assert len(timer.calls) == 6


def test_without_onnxruntime_only_torch_is_timed(
    pipeline: StylizationPipeline, home: Path, timer: FakeTimer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(autotune, "onnxruntime_available", lambda: False)
    timer.seconds["onnxruntime-fp32"] = 0.01  # would win, were it there
    choice = fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder)
    assert sorted(timer.calls) == ["torch-fp32", "torch-fp32-channels-last"]
    assert choice.way == TORCH_FP32_CHANNELS_LAST and set(choice.seconds) == set(timer.calls)
    assert choice.key["onnxruntime"] is None


def test_a_candidate_that_cannot_run_is_left_out(pipeline: StylizationPipeline, home: Path, timer: FakeTimer) -> None:
    timer.seconds["torch-fp32-channels-last"] = RuntimeError("no such kernel\nsecond line")
    choice = fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder)
    assert choice.way == ONNXRUNTIME and choice.errors == {"torch-fp32-channels-last": "no such kernel"}
    assert "torch-fp32-channels-last failed: no such kernel" in choice.describe()


def test_native_bf16_is_bf16_without_measuring(
    pipeline: StylizationPipeline, home: Path, timer: FakeTimer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(autotune, "native_bf16", lambda device: True)
    choice = fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder)
    assert (choice.way, choice.how, timer.calls) == (TORCH_BF16, "native-bf16", [])
    assert choice.way.name == "torch-bf16" and not cache_path().exists()
    # overridable: ADAIN_WAY=measure measures here too, bf16 among the candidates
    monkeypatch.setenv("ADAIN_WAY", "measure")
    choice = fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder)
    assert choice.how == "measured" and "torch-bf16" in timer.calls and choice.way == TORCH_BF16


@pytest.mark.parametrize(
    ("value", "way"),
    [
        ("torch-fp32", TORCH_FP32),
        ("onnxruntime", ONNXRUNTIME),
        ("torch", TORCH_FP32),
        (" Torch-FP32-channels-last", TORCH_FP32_CHANNELS_LAST),
    ],
)
def test_adain_way_forces_a_way(
    pipeline: StylizationPipeline, home: Path, timer: FakeTimer, monkeypatch: pytest.MonkeyPatch, value: str, way: Way
) -> None:
    monkeypatch.setenv("ADAIN_WAY", value)
    choice = fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder)
    assert (choice.way, choice.how, timer.calls) == (way, "forced", [])
    monkeypatch.setenv("ADAIN_WAY", "fastest")
    with pytest.raises(UsageError, match="ADAIN_WAY='fastest' is no way"):
        fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder)


def test_channels_last_pipeline_computes_the_same(pipeline: StylizationPipeline, rng: torch.Generator) -> None:
    layout = StylizationPipeline(pipeline.encoder, pipeline.decoder, "vgg16-hed", channels_last=True)
    assert (layout.way, layout.channels_last, pipeline.way, pipeline.channels_last) == (
        "torch-fp32-channels-last",
        True,
        "torch-fp32",
        False,
    )
    weight = layout.inference_encoder.convs["conv2_1"].weight
    assert weight.dtype == torch.float32 and weight.is_contiguous(memory_format=torch.channels_last)
    assert pipeline.encoder.convs["conv2_1"].weight.is_contiguous()  # the fp32 network is left as it is
    content, style = torch.rand(1, 3, 40, 48, generator=rng), torch.rand(1, 3, 32, 32, generator=rng)
    expected = pipeline(content, style, output_type="pt").rgb
    assert torch.allclose(layout(content, style, output_type="pt").rgb, expected, atol=1e-4)


def test_explicit_backend_and_precision_bypass_it(
    home: Path, timer: FakeTimer, decoder_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load = StylizationPipeline.from_preset
    fp32 = load("vgg16-hed", decoder_path=decoder_file, backend="auto", precision="fp32")
    assert (fp32.way, fp32.choice) == ("torch-fp32", None)
    bf16 = load("vgg16-hed", decoder_path=decoder_file, backend="auto", precision="bf16")
    assert bf16.way == "torch-bf16"
    assert load("vgg16-hed", decoder_path=decoder_file).way == "torch-fp32"  # the default stays torch
    assert (
        load("vgg16-hed", decoder_path=decoder_file, backend="auto", compile=False, channels_last=True).choice is None
    )
    assert timer.calls == []
    with pytest.raises(UsageError, match="channels_last runs on the torch backend"):
        load("vgg16-hed", decoder_path=decoder_file, backend="onnxruntime", channels_last=True)
    # on the command line: --backend torch, --precision fp32, --method optimize never measure either
    seen = _record_pipelines(monkeypatch)
    for extra in (["--backend", "torch"], ["--precision", "fp32"], ["--refine", "1"]):
        assert _stylize(home, decoder_file, *extra) == 0
        assert seen[-1].way == "torch-fp32" and seen[-1].choice is None
    assert timer.calls == [] and not cache_path().exists()


def _record_pipelines(monkeypatch: pytest.MonkeyPatch) -> list[StylizationPipeline]:
    """Every pipeline the command line builds, as built."""
    seen: list[StylizationPipeline] = []
    original = StylizationPipeline.from_preset

    def recording(*args, **kwargs) -> StylizationPipeline:
        seen.append(original(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(arguments.StylizationPipeline, "from_preset", recording)
    return seen


def _stylize(home: Path, decoder_file: Path, *extra: str, debug: bool = False) -> int:
    """``adain stylize`` with the default options, a 24x16 content and style kept at their size."""
    from PIL import Image

    content = home.parent / "content.png"
    if not content.exists():
        Image.effect_noise((24, 16), 60).convert("RGB").save(content)
    command = ["stylize", str(content), "-s", str(content), "-o", str(home.parent / "out.png")]
    command += ["--decoder", str(decoder_file), "--size", "0", "--style-size", "0", *extra]
    return main(["--debug", *command] if debug else command)


def test_adain_stylize_by_default_runs_the_cached_choice(
    home: Path, timer: FakeTimer, decoder_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    seen = _record_pipelines(monkeypatch)
    assert _stylize(home, decoder_file) == 0
    err = capsys.readouterr().err
    assert err == "adain: measuring the fastest way to run on this CPU (once): " + (
        "torch-fp32, torch-fp32-channels-last, onnxruntime-fp32 ...\n"
    )
    assert len(timer.calls) == 3 and seen[-1].choice.how == "measured"
    # the next run uses the cached choice: nothing measured, nothing said
    assert _stylize(home, decoder_file) == 0
    assert capsys.readouterr().err == "" and len(timer.calls) == 3
    pipeline = seen[-1]
    assert (pipeline.backend, pipeline.precision, pipeline.channels_last) == ("torch", "fp32", True)
    assert pipeline.choice.how == "cached" and pipeline.way == "torch-fp32-channels-last"
    assert pipeline.inference_encoder.convs["conv1_1"].weight.is_contiguous(memory_format=torch.channels_last)
    # --debug says which way
    assert _stylize(home, decoder_file, debug=True) == 0
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("adain: running torch fp32 channels-last: fastest on this CPU, measured")


def test_an_onnxruntime_choice_builds_onnxruntime_sessions(home: Path, timer: FakeTimer, decoder_file: Path) -> None:
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    pytest.importorskip("onnx", reason="the onnx extra is not installed")
    timer.seconds["onnxruntime-fp32"] = 0.1
    pipeline = StylizationPipeline.from_preset("vgg16-hed", decoder_path=decoder_file, backend="auto")
    assert (pipeline.backend, pipeline.way, pipeline.choice.way) == ("onnxruntime", "onnxruntime-fp32", ONNXRUNTIME)
    rgb = pipeline(torch.rand(1, 3, 24, 16), torch.rand(1, 3, 32, 32), output_type="pt").rgb
    assert rgb.shape == (1, 3, 24, 16)


def test_measuring_for_real(pipeline: StylizationPipeline, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real timing, every candidate this machine has, at 32x32 with one run each."""
    monkeypatch.setattr(autotune, "native_bf16", lambda device: False)
    tiny = Workload(side=32, warmup=1, repeats=1)
    choice = fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder, workload=tiny)
    expected = {"torch-fp32", "torch-fp32-channels-last"} | (
        {"onnxruntime-fp32"} if autotune.onnxruntime_available() else set()
    )
    assert choice.how == "measured" and set(choice.seconds) | set(choice.errors) == expected
    assert {"torch-fp32", "torch-fp32-channels-last"} <= set(choice.seconds)
    assert all(seconds > 0 for seconds in choice.seconds.values())
    assert choice.way.name == min(choice.seconds, key=choice.seconds.__getitem__)
    assert fastest_way("vgg16-hed", "cpu", pipeline.encoder, pipeline.decoder, workload=tiny).how == "cached"


def test_choice_as_json_round_trips_the_winner() -> None:
    choice = Choice(TORCH_FP32, "measured", {"torch-fp32": 0.2}, workload=Workload())
    assert json.loads(json.dumps(choice.to_dict()))["winner"] == "torch-fp32"
    assert Choice(TORCH_BF16, "native-bf16").describe().startswith("torch bf16: the CPU has native bf16")


def test_the_module_prints_the_choice(home: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """``python -m adain.pipeline.autotune PRESET`` (what ``adain bench`` reports), here forced."""
    monkeypatch.setenv("ADAIN_WAY", "torch-fp32")
    assert autotune.main(["vgg16-hed"]) == 0
    assert json.loads(capsys.readouterr().out)["winner"] == "torch-fp32"
