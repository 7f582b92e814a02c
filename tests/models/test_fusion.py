"""Convolution + ReLU fused into one oneDNN call in the CPU inference copies: the same outputs as
the unfused layers, the fallback wherever the op cannot or must not run, and the training modules
untouched."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adain.models import (
    SKIP_TAPS,
    TAP_CHANNELS,
    CompactEncoder,
    CompactMultiLevelDecoder,
    Decoder,
    MultiLevelDecoder,
    UpsampleConv2d,
    VGGEncoder,
    fuse_upsampling,
    fusion,
    inference_copy,
    precision,
)
from adain.models.decoder import fuse_conv_relu_layers
from adain.models.fusion import FusedConvReLU, conv2d_relu, conv_relu, fused_conv_relu_available
from adain.weights import get_preset

DTYPES = [torch.bfloat16, torch.float32]
SCALES = {"relu4_1": 8, "relu3_1": 4, "relu2_1": 2, "relu1_1": 1}


def needs_fusion(dtype: torch.dtype) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not fused_conv_relu_available(dtype), reason=f"no fused oneDNN conv + ReLU in {dtype}")


def fused_params(*dtypes: torch.dtype) -> list:
    return [pytest.param(dtype, marks=needs_fusion(dtype), id=str(dtype).removeprefix("torch.")) for dtype in dtypes]


def assert_same(actual: Tensor, expected: Tensor, dtype: torch.dtype) -> None:
    """Equal to float rounding: bf16 to its 8 bits of mantissa, fp32 to its accumulation order."""
    scale = expected.float().abs().max().item() + 1e-6
    tolerance = 2e-2 if dtype == torch.bfloat16 else 1e-5
    torch.testing.assert_close(actual.float(), expected.float(), rtol=tolerance, atol=tolerance * scale)


def unfused_copy(network: nn.Module, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch) -> nn.Module:
    """``inference_copy`` as it was before the fusion: the availability check forced off."""
    with monkeypatch.context() as patch:
        patch.setattr(precision, "fused_conv_relu_available", lambda dtype: False)
        return inference_copy(network, dtype)


def fused_modules(network: nn.Module) -> list[nn.Module]:
    return [m for m in network.modules() if isinstance(m, FusedConvReLU) or (isinstance(m, UpsampleConv2d) and m.relu)]


def layout(x: Tensor, channels_last: bool) -> Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x.contiguous()


class TestFusedConvReLU:
    """The module (and :func:`conv2d_relu`) against ``relu(conv2d(x))``."""

    @pytest.mark.parametrize("dtype", fused_params(*DTYPES))
    @pytest.mark.parametrize("channels_last", [True, False], ids=["channels-last", "nchw"])
    @pytest.mark.parametrize(
        ("kernel", "padding"),
        [(1, "zeros"), (3, "zeros"), (3, "reflect")],
        ids=["1x1", "3x3-zeros", "3x3-reflect"],
    )
    def test_equals_conv_then_relu(self, dtype: torch.dtype, channels_last: bool, kernel: int, padding: str) -> None:
        torch.manual_seed(0)
        conv = nn.Conv2d(16, 24, kernel, padding=1 if kernel == 3 and padding == "zeros" else 0)
        conv = conv.to(dtype).to(memory_format=torch.channels_last).requires_grad_(False)
        x = layout(torch.randn(2, 16, 19, 23).to(dtype), channels_last)
        if padding == "reflect":  # what VGGEncoder does: pad first, then the fused op unpadded
            x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        fused = FusedConvReLU.from_conv(conv)
        assert fusion._fusable(x, fused.weight, fused.bias)
        with torch.inference_mode():
            expected, actual = F.relu(conv(x)), fused(x)
        assert actual.dtype == dtype and actual.shape == expected.shape
        if dtype == torch.bfloat16 or channels_last:  # the same oneDNN kernel with a ReLU post-op
            assert torch.equal(actual, expected)
        assert_same(actual, expected, dtype)

    @pytest.mark.parametrize("dtype", fused_params(*DTYPES))
    def test_padding_given_at_call(self, dtype: torch.dtype) -> None:
        """VGGEncoder's convolutions are built unpadded and given ``padding=1`` by its forward."""
        torch.manual_seed(0)
        conv = nn.Conv2d(8, 8, 3).to(dtype).requires_grad_(False)
        x = torch.randn(1, 8, 9, 9).to(dtype)
        fused = FusedConvReLU.from_conv(conv)
        with torch.inference_mode():
            expected = F.relu(F.conv2d(x, conv.weight, conv.bias, padding=1))
            assert_same(fused(x, (1, 1)), expected, dtype)
            assert_same(conv_relu(fused, x, padding=1), expected, dtype)
            assert fused(x).shape[-2:] == (7, 7)  # its own padding: none

    def test_without_bias(self) -> None:
        torch.manual_seed(0)
        conv = nn.Conv2d(8, 8, 3, padding=1, bias=False).requires_grad_(False)
        x = torch.randn(1, 8, 9, 9)
        assert_same(FusedConvReLU.from_conv(conv)(x), F.relu(conv(x)), torch.float32)

    def test_given_weights_replace_the_convolutions(self) -> None:
        conv = nn.Conv2d(4, 4, 1)
        fused = FusedConvReLU.from_conv(conv, torch.ones(4, 4, 1, 1), torch.zeros(4))
        assert torch.equal(fused.weight, torch.ones(4, 4, 1, 1)) and torch.equal(fused.bias, torch.zeros(4))
        assert not fused.weight.requires_grad

    def test_other_padding_modes_are_refused(self) -> None:
        with pytest.raises(ValueError, match="pads by zeros"):
            FusedConvReLU.from_conv(nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"))
        with pytest.raises(ValueError, match="pads by zeros"):
            FusedConvReLU.from_conv(nn.Conv2d(4, 4, 3, padding="same"))

    def test_a_missing_op_falls_back(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(fusion, "_OP_NAME", "_no_such_convolution")
        assert not fused_conv_relu_available(torch.float32)
        torch.manual_seed(0)
        conv = nn.Conv2d(8, 8, 3, padding=1).requires_grad_(False)
        x = torch.randn(1, 8, 9, 9)
        with torch.inference_mode():
            assert torch.equal(FusedConvReLU.from_conv(conv)(x), F.relu(conv(x)))

    def test_a_failing_op_falls_back(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The probe catches an op that exists but fails (an unsupported dtype or CPU)."""

        class FailingOps:
            def __getattr__(self, name: str) -> Callable[..., Tensor]:
                def fail(*args: object) -> Tensor:
                    raise RuntimeError("mkldnn: unsupported")

                return fail

        monkeypatch.setattr(fusion, "_OP_NAME", "_failing_for_the_test")
        monkeypatch.setattr(torch.ops, "mkldnn", FailingOps())
        assert not fused_conv_relu_available(torch.float32)

    @pytest.mark.parametrize("dtype", fused_params(*DTYPES))
    def test_a_gradient_runs_unfused(self, dtype: torch.dtype) -> None:
        """The op has no derivative (backpropagating through it gives no gradient): a call that
        needs one runs conv + ReLU, and the gradient is the unfused layers'."""
        torch.manual_seed(0)
        conv = nn.Conv2d(8, 8, 3, padding=1).to(dtype).requires_grad_(False)
        fused = FusedConvReLU.from_conv(conv)
        x = torch.randn(1, 8, 9, 9).to(dtype).requires_grad_(True)
        assert not fusion._fusable(x, fused.weight, fused.bias)
        (gradient,) = torch.autograd.grad(fused(x).float().square().sum(), x)
        (expected,) = torch.autograd.grad(F.relu(conv(x)).float().square().sum(), x)
        assert_same(gradient, expected, dtype)
        with torch.no_grad():  # no gradient wanted: fused again
            assert fusion._fusable(x, fused.weight, fused.bias)

    @pytest.mark.filterwarnings("ignore:`torch.jit.trace:DeprecationWarning")
    def test_tracing_sees_conv_and_relu(self) -> None:
        """What the ONNX exporter traces has no oneDNN op in it."""
        conv = nn.Conv2d(4, 8, 3, padding=1).requires_grad_(False)
        traced = torch.jit.trace(FusedConvReLU.from_conv(conv), torch.randn(1, 4, 8, 8))
        graph = str(traced.inlined_graph)
        assert "mkldnn" not in graph and "aten::_convolution" in graph and "relu" in graph

    def test_compile_sees_conv_and_relu(self) -> None:
        """torch.compile (inductor fuses by itself) traces conv2d + relu, not the oneDNN op."""
        graphs: list[str] = []

        def backend(module: torch.fx.GraphModule, inputs: Sequence[Tensor]) -> Callable[..., object]:
            graphs.append(str(module.graph))
            return module.forward

        conv = nn.Conv2d(4, 8, 3, padding=1).requires_grad_(False)
        torch._dynamo.reset()
        compiled = torch.compile(FusedConvReLU.from_conv(conv), backend=backend)
        x = torch.randn(1, 4, 8, 8)
        assert_same(compiled(x), F.relu(conv(x)), torch.float32)
        assert graphs and "mkldnn" not in graphs[0] and "conv2d" in graphs[0] and "relu" in graphs[0]

    @pytest.mark.filterwarnings("ignore:TF32 acceleration:UserWarning")
    def test_off_the_cpu_or_another_dtype_runs_unfused(self) -> None:
        weight = torch.randn(8, 4, 3, 3)
        assert not fusion._fusable(torch.randn(1, 4, 8, 8, dtype=torch.float64), weight, None)
        assert not fusion._fusable(torch.randn(1, 4, 8, 8, device="meta"), weight, None)
        with torch.backends.mkldnn.flags(enabled=False):
            assert not fusion._fusable(torch.randn(1, 4, 8, 8), weight, None)
        assert conv2d_relu(torch.randn(1, 4, 8, 8, dtype=torch.float64), weight.double()).dtype == torch.float64


class TestConvReLUHelper:
    """:func:`conv_relu`, what the forwards call for a training module and its copy alike."""

    def test_a_plain_convolution_then_relu(self) -> None:
        torch.manual_seed(0)
        conv = nn.Conv2d(4, 8, 3)
        x = torch.randn(1, 4, 8, 8)
        with torch.no_grad():
            assert torch.equal(conv_relu(conv, x), F.relu(conv(x)))
            assert torch.equal(conv_relu(conv, x, padding=1), F.relu(F.conv2d(x, conv.weight, conv.bias, padding=1)))

    def test_any_module_then_relu(self) -> None:
        block = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.Conv2d(4, 8, 1))
        x = torch.randn(1, 4, 8, 8)
        with torch.no_grad():
            assert torch.equal(conv_relu(block, x), F.relu(block(x)))
        with pytest.raises(TypeError, match="needs a Conv2d"):
            conv_relu(block, x, padding=1)


class TestUpsampleConvReLU:
    """An upsampling convolution with its ReLU (a plain decoder's three, a multi-level decoder's
    without a skip)."""

    @pytest.mark.parametrize("dtype", fused_params(*DTYPES))
    @pytest.mark.parametrize("reflect_pad_output", [False, True])
    def test_equals_upsampling_conv_then_relu(self, dtype: torch.dtype, reflect_pad_output: bool) -> None:
        torch.manual_seed(0)
        conv = nn.Conv2d(16, 8, 3)
        upsample = UpsampleConv2d(conv, reflect_pad_output).to(dtype, memory_format=torch.channels_last)
        x = layout(torch.randn(1, 16, 7, 9).to(dtype), True)
        with torch.inference_mode():
            expected = F.relu(upsample(x))
            upsample.relu = True
            actual = upsample(x)
        assert torch.equal(actual, expected) or dtype == torch.float32
        assert_same(actual, expected, dtype)

    def test_layers_must_be_folded_first(self) -> None:
        decoder = Decoder(get_preset("vgg16-hed").architecture)
        with pytest.raises(ValueError, match="fuse_upsampling"):
            fuse_conv_relu_layers(decoder)

    def test_relus_after_skips_stay_apart(self) -> None:
        decoder = fuse_upsampling(MultiLevelDecoder(get_preset("vgg16-hed").architecture, ("relu2_1",)))
        fuse_conv_relu_layers(decoder, {1})
        upsamplings = [layer for layer in decoder.layers if isinstance(layer, UpsampleConv2d)]
        assert [u.relu for u in upsamplings] == [True, False, True]
        # the ReLU right after the unfused one is kept; no Conv2d + ReLU pair is left
        layers = list(decoder.layers)
        assert isinstance(layers[layers.index(upsamplings[1]) + 1], nn.ReLU)
        assert sum(isinstance(layer, nn.ReLU) for layer in layers) == 1
        assert sum(type(layer) is nn.Conv2d for layer in layers) == 1  # the last, to RGB, has no ReLU


def _vgg_encoder(preset: str) -> Callable[[], tuple[nn.Module, list[Tensor]]]:
    def build() -> tuple[nn.Module, list[Tensor]]:
        return VGGEncoder(get_preset(preset).architecture).eval(), [torch.rand(1, 3, 40, 48)]

    return build


def _compact_encoder(kind: str) -> Callable[[], tuple[nn.Module, list[Tensor]]]:
    def build() -> tuple[nn.Module, list[Tensor]]:
        encoder = CompactEncoder(kind=kind).eval()
        # a scale and shift like the teacher's (Caffe scale), so folding them in is tested
        encoder.calibrate({tap: torch.rand(2, c, 4, 4) * 100 for tap, c in TAP_CHANNELS.items()})
        return encoder, [torch.rand(1, 3, 40, 48)]

    return build


def _features(taps: Sequence[str]) -> list[Tensor]:
    return [torch.rand(1, TAP_CHANNELS[tap], 40 // SCALES[tap], 48 // SCALES[tap]) for tap in ("relu4_1", *taps)]


def _decoder(kind: str, skip_taps: tuple[str, ...] = SKIP_TAPS) -> Callable[[], tuple[nn.Module, list[Tensor]]]:
    def build() -> tuple[nn.Module, list[Tensor]]:
        architecture = get_preset("vgg16-hed").architecture
        if kind == "plain":
            return Decoder(architecture).eval(), _features(())
        if kind == "multilevel":
            decoder = MultiLevelDecoder(architecture, skip_taps).eval()
            with torch.no_grad():  # open the gates: the skips count
                for gate in decoder.gates.values():
                    gate.uniform_(0.5, 1.5)
            return decoder, _features(decoder.skip_taps)
        decoder = CompactMultiLevelDecoder(skip_taps=skip_taps).eval()
        features = _features(decoder.skip_taps)
        decoder.calibrate([f * 50 for f in features])
        return decoder, features

    return build


MODELS = {
    "vgg16-hed-encoder": _vgg_encoder("vgg16-hed"),  # zero padding
    "vgg19-encoder": _vgg_encoder("vgg19"),  # reflect padding and a leading 1x1
    "compact-encoder": _compact_encoder("vgg"),
    "compact-encoder-separable": _compact_encoder("separable"),
    "decoder": _decoder("plain"),
    "multilevel-decoder": _decoder("multilevel"),
    "multilevel-decoder-relu2_1": _decoder("multilevel", ("relu2_1",)),
    "compact-decoder": _decoder("compact"),
    "compact-decoder-relu3_1": _decoder("compact", ("relu3_1",)),
}


def _outputs(output: Tensor | dict[str, Tensor]) -> dict[str, Tensor]:
    return output if isinstance(output, dict) else {"image": output}


class TestInferenceCopyFusion:
    """Each model type's inference copy: fused where the op works, the same outputs as the copy
    without it (the fallback forced), the original untouched."""

    @pytest.mark.parametrize("dtype", fused_params(*DTYPES))
    @pytest.mark.parametrize("model", list(MODELS))
    def test_same_outputs_as_unfused(self, model: str, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch) -> None:
        torch.manual_seed(0)
        network, inputs = MODELS[model]()
        fused, unfused = inference_copy(network, dtype), unfused_copy(network, dtype, monkeypatch)
        assert fused_modules(fused) and not fused_modules(unfused)
        with torch.inference_mode():
            actual, expected = _outputs(fused(*inputs)), _outputs(unfused(*inputs))
        assert actual.keys() == expected.keys()
        for name in expected:
            assert actual[name].dtype == dtype, name
            assert_same(actual[name], expected[name], dtype)

    @pytest.mark.parametrize("model", list(MODELS))
    def test_the_original_is_untouched(self, model: str) -> None:
        torch.manual_seed(0)
        network, _ = MODELS[model]()
        keys = list(network.state_dict())
        modules = [type(m) for m in network.modules()]
        inference_copy(network)
        inference_copy(network, torch.float32)
        assert not fused_modules(network)
        assert list(network.state_dict()) == keys and [type(m) for m in network.modules()] == modules

    @pytest.mark.parametrize("model", list(MODELS))
    def test_unavailable_means_unfused(self, model: str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(fusion, "_OP_NAME", "_no_such_convolution")
        torch.manual_seed(0)
        network, inputs = MODELS[model]()
        copy = inference_copy(network, torch.float32)
        assert not fused_modules(copy)
        with torch.inference_mode():
            actual, expected = _outputs(copy(*inputs)), _outputs(network(*inputs))
        for name in expected:
            assert_same(actual[name], expected[name], torch.float32)

    @pytest.mark.parametrize("dtype", fused_params(torch.bfloat16))
    def test_what_is_fused(self, dtype: torch.dtype) -> None:
        encoder = inference_copy(VGGEncoder(get_preset("vgg19").architecture), dtype)
        assert all(isinstance(conv, FusedConvReLU) for conv in encoder.convs.values())
        assert type(encoder.input_1x1) is nn.Conv2d  # the input normalisation: no ReLU after it
        compact = inference_copy(CompactEncoder(kind="separable"), dtype)
        assert isinstance(compact.convs["conv1_1"], FusedConvReLU)  # dense
        assert isinstance(compact.convs["conv2_1"], nn.Sequential)  # depthwise + pointwise: as it was
        assert all(isinstance(p, FusedConvReLU) for p in compact.projections.values())
        weight = compact.projections["relu2_1"].weight
        assert weight.dtype == dtype and weight.is_contiguous(memory_format=torch.channels_last)
        decoder = inference_copy(Decoder(get_preset("vgg16-hed").architecture), dtype)
        assert not any(isinstance(layer, nn.ReLU) for layer in decoder.layers)
        assert all(layer.relu for layer in decoder.layers if isinstance(layer, UpsampleConv2d))

    @pytest.mark.parametrize("dtype", fused_params(*DTYPES))
    def test_the_fused_op_runs_and_no_relu_apart(self, dtype: torch.dtype) -> None:
        torch.manual_seed(0)
        architecture = get_preset("vgg16-hed").architecture
        encoder, decoder = inference_copy(VGGEncoder(architecture), dtype), inference_copy(Decoder(architecture), dtype)
        with torch.inference_mode(), torch.profiler.profile() as profile:
            decoder(encoder(torch.rand(1, 3, 32, 32))["relu4_1"])
        names = [event.name for event in profile.events()]
        convolutions = len(encoder.convs) + sum(
            1 for layer in decoder.layers if not isinstance(layer, nn.ReflectionPad2d)
        )
        assert names.count("mkldnn::_convolution_pointwise") == convolutions - 1  # all but the decoder's last
        assert "aten::relu_" not in names and "aten::clamp_min_" not in names

    @pytest.mark.parametrize("dtype", fused_params(torch.bfloat16))
    def test_gradients_through_the_encoder_copy(self, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch) -> None:
        """Training backpropagates through a frozen bf16 encoder copy (the losses of the decoded
        image): that pass runs unfused and gives the unfused copy's gradient."""
        torch.manual_seed(0)
        encoder = VGGEncoder(get_preset("vgg16-hed").architecture).eval()
        fused, unfused = inference_copy(encoder, dtype), unfused_copy(encoder, dtype, monkeypatch)
        image = torch.rand(1, 3, 24, 24, requires_grad=True)
        gradients = [torch.autograd.grad(copy(image)["relu4_1"].float().mean(), image)[0] for copy in (fused, unfused)]
        assert gradients[0].abs().sum() > 0
        assert_same(gradients[0], gradients[1], dtype)

    def test_copies_off_the_cpu_are_not_fused(self) -> None:
        encoder = VGGEncoder(get_preset("vgg16-hed").architecture).to("meta")
        assert not fused_modules(inference_copy(encoder, torch.float32))
