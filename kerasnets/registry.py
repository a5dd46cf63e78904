"""The model registry: names to builders, with the metadata of each network.

A family module registers each variant with :func:`register_model`; the rest of
the package (data pipelines, recipes, exporters, the CLI) reads the metadata
here instead of hard-coding per-model facts such as the input size or the
preprocessing. `import kerasnets` imports every family module, so the registry
is full as soon as the package is imported.

:func:`index` is the registry as plain JSON data; a copy of it ships as
``kerasnets/registry_index.json`` for the console script's fast path
(``kerasnets --help``, ``--version`` and ``list`` answer without importing
Keras; see ``kerasnets/cli.py``).
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from typing import Any, Callable

__all__ = [
    "Paper",
    "ModelSpec",
    "WeightsFile",
    "WEIGHTS_FORMATS",
    "default_tag",
    "weights_tags",
    "published_weights",
    "normalization_for",
    "PublishedWeights",
    "PREPROCESSING_MODES",
    "Normalization",
    "normalization",
    "register_model",
    "register_alias",
    "get_spec",
    "build",
    "list_models",
    "model_info",
    "index",
]


@dataclasses.dataclass(frozen=True)
class Paper:
    """A paper a network comes from."""

    authors: str
    year: int
    title: str
    url: str = ""

    def __str__(self) -> str:
        return f"{self.authors} ({self.year}). {self.title}."


# Preprocessing modes, as keras.applications names them:
#   "caffe": RGB->BGR, subtract the ImageNet channel means (VGG, ResNet v1);
#   "tf":    scale to [-1, 1] (Inception, Xception, MobileNet);
#   "torch": scale to [0, 1], subtract mean and divide by std per channel;
#   "unit":  scale to [0, 1] (small gray-scale networks such as LeNet-5).
PREPROCESSING_MODES = ("caffe", "tf", "torch", "unit")

# keras.applications' ImageNet statistics, RGB order: caffe's on the 0-255 scale,
# torch's on the 0-1 scale.
CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class Normalization:
    """The arithmetic of a preprocessing mode, for images `x` in [0, 1] (RGB, channels last):

        input = (x * scale - mean) / std, per channel, the channels in `channel_order`

    (mean and std listed in that order, on the scale of `x * scale`).
    """

    mode: str
    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    channel_order: str  # "RGB", "BGR", or "gray" for one channel

    def pixel_mean_std(self):
        """(mean, std) for pixels `p` in [0, 255]: input = (p - mean) / std."""
        factor = 255.0 / self.scale
        return (tuple(m * factor for m in self.mean), tuple(s * factor for s in self.std))


def normalization(mode: str, channels: int = 3) -> Normalization:
    """The :class:`Normalization` of preprocessing `mode` for images of `channels` channels.

    "caffe": 0-255 BGR, the ImageNet channel means subtracted; "tf": 2x - 1;
    "torch": (x - mean) / std with ImageNet's per-channel statistics; "unit": x.
    The mean/std modes need RGB (3 channels): gray images would need statistics
    of their own.
    """
    if mode not in PREPROCESSING_MODES:
        raise ValueError(f"`preprocessing` must be one of {PREPROCESSING_MODES}; got {mode!r}")
    order = "RGB" if channels == 3 else "gray"
    if mode in ("unit", "tf"):
        value = 0.0 if mode == "unit" else 0.5
        spread = 1.0 if mode == "unit" else 0.5
        return Normalization(mode, 1.0, (value,) * channels, (spread,) * channels, order)
    if channels != 3:
        raise ValueError(f"preprocessing {mode!r} normalizes 3 RGB channels; got {channels}")
    if mode == "torch":
        return Normalization(mode, 1.0, TORCH_MEAN, TORCH_STD, "RGB")
    return Normalization(mode, 255.0, CAFFE_MEAN_RGB[::-1], (1.0, 1.0, 1.0), "BGR")


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One published weights file: its name in the cache, its URL and its hash (md5 or sha256)."""

    filename: str
    url: str
    file_hash: str | None = None


# The formats a published checkpoint comes in: a Keras weights file, or a PyTorch
# state dict as safetensors or as a torch.save'd (.pth) file, converted on loading.
WEIGHTS_FORMATS = ("keras", "safetensors", "pth", "caffemodel")
# What `weights="imagenet"` means for a network whose tags have no "imagenet" key: its first tag.
IMAGENET = "imagenet"


@dataclasses.dataclass(frozen=True)
class PublishedWeights:
    """One published checkpoint of a network (a weights tag).

    `top` is the file with the classifier; `notop` the file without it where the
    source publishes one (keras.applications), else None: the converted
    checkpoints (`format` "safetensors" or "pth") serve include_top=False by
    leaving the classifier out. `convert` maps a converted checkpoint's state
    dict onto the Keras layers (a function of a `kerasnets.weights.transfer.StateMapping`).

    `source` and `network` say whose files they are, for messages ("keras.applications
    publishes MobileNet v1 weights ..."; `network` defaults to the registered name).
    `structure` holds the builder arguments the checkpoint needs beyond the
    registered defaults (Xception's `middle_flow_repeats=8`, torchvision's
    `bn_epsilon=1e-5`); `kerasnets.build(name, weights=tag)` sets them. A
    preset's own overrides and input size are needs of its files too (see
    `kerasnets.models.pretrained.published_name`).

    `top1` is the ImageNet top-1 accuracy (percent) as the source publishes it,
    `input_size` and `crop_fraction` its evaluation size and centre crop, and
    `normalization` the input arithmetic it was trained with (None: the
    network's preprocessing mode). `hub` is the Hugging Face repository id of a
    hub-hosted file.
    """

    top: WeightsFile
    notop: WeightsFile | None = None
    source: str = "keras.applications"
    network: str = ""
    structure: dict = dataclasses.field(default_factory=dict)
    format: str = "keras"
    convert: Callable | None = None
    top1: float | None = None
    licence: str = ""
    input_size: tuple[int, int] | None = None
    crop_fraction: float | None = None
    normalization: "Normalization | None" = None
    classes: int = 1000
    dataset: str = "imagenet-1k"
    hub: str | None = None
    # False where the source shares a folder page (OneDrive) rather than the file:
    # it is fetched by hand into the cache, never downloaded.
    direct_download: bool = True

    def __post_init__(self):
        if self.format not in WEIGHTS_FORMATS:
            raise ValueError(f"format must be one of {WEIGHTS_FORMATS}; got {self.format!r}")
        if self.format != "keras" and self.convert is None:
            raise ValueError(f"a {self.format} checkpoint needs `convert` (its mapping onto the "
                             f"Keras layers); {self.top.url} has none")

    def describe(self) -> dict:
        """The plain-data description of the checkpoint (`model_info`'s "weights")."""
        norm = self.normalization
        return {
            "source": self.source,
            "url": self.top.url,
            "hub": self.hub,
            "direct_download": self.direct_download,
            "format": self.format,
            "top1": self.top1,
            "licence": self.licence,
            "dataset": self.dataset,
            "classes": self.classes,
            "input_size": None if self.input_size is None else list(self.input_size),
            "crop_fraction": self.crop_fraction,
            "structure": dict(self.structure),
            "normalization": None if norm is None else {
                "mean": list(norm.mean), "std": list(norm.std), "scale": norm.scale,
                "channel_order": norm.channel_order},
        }


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything the package knows about one registered network."""

    name: str
    builder: Callable[..., Any]
    family: str
    paper: Paper
    input_shape: tuple[int, int, int]
    min_input_shape: tuple[int, int, int]
    params: int
    preprocessing: str = "caffe"
    # True when the classifier has fully connected layers on a flattened map,
    # so that include_top=True fixes the input size to `input_shape`.
    fixed_input: bool = False
    num_classes: int = 1000
    aliases: tuple[str, ...] = ()
    defaults: dict = dataclasses.field(default_factory=dict)
    description: str = ""
    # The registered model this one presets (an alias registered with overrides).
    alias_of: str | None = None
    # The paper's training augmentation (a name of `kerasnets.data.augment.POLICIES`):
    # "alexnet", "vgg", "inception" or "none".
    augmentation: str = "inception"
    # Evaluation: the centre crop's share of the resized image's shorter side
    # (0.875: a 224 crop of 256, the keras.applications and torchvision habit).
    crop_fraction: float = 0.875
    # The loss weight of each auxiliary classifier (GoogLeNet 0.3, Inception v3 0.4);
    # None for networks without auxiliary heads.
    aux_loss_weight: float | None = None
    # Published trained weights by tag ("imagenet": keras.applications' files),
    # loaded by `weights="imagenet"` (kerasnets.models.pretrained).
    published_weights: dict = dataclasses.field(default_factory=dict)

    def build(self, /, **kwargs):
        merged = dict(self.defaults)
        merged.update(_tag_structure(self, kwargs))
        merged.update(kwargs)
        _check_input_tensor(merged.get("input_tensor"))
        return self.builder(**merged)

    def info(self) -> dict:
        return {
            "name": self.name,
            "family": self.family,
            "paper": {
                "authors": self.paper.authors,
                "year": self.paper.year,
                "title": self.paper.title,
                "url": self.paper.url,
            },
            "description": self.description,
            "input_shape": self.input_shape,
            "min_input_shape": self.min_input_shape,
            "fixed_input": self.fixed_input,
            "classes": self.num_classes,
            "parameters": self.params,
            "preprocessing": self.preprocessing,
            "aliases": self.aliases,
            "defaults": dict(self.defaults),
            "alias_of": self.alias_of,
            "augmentation": self.augmentation,
            "crop_fraction": self.crop_fraction,
            "aux_loss_weight": self.aux_loss_weight,
            "weights": {tag: published.describe() for tag, published
                        in self.published_weights.items()},
            "default_weights": default_tag(self),
        }


def default_tag(spec: ModelSpec) -> str | None:
    """The tag `weights="imagenet"` loads: "imagenet" itself where it is a tag, else the first."""
    if IMAGENET in spec.published_weights or any(
            IMAGENET in preset.published_weights for preset in _presets(spec)):
        return IMAGENET
    return next(iter(spec.published_weights), None)


def _presets(spec: ModelSpec) -> list[ModelSpec]:
    return [other for other in _REGISTRY.values() if other.alias_of == spec.name]


def weights_tags(name: str) -> dict[str, PublishedWeights]:
    """The published checkpoints of `name` by tag: its own, then its presets' not
    already named (MobileNet's "imagenet" files live on its presets)."""
    spec = get_spec(name)
    tags = dict(spec.published_weights)
    # The preset that builds the network's own defaults comes first (mobilenet_v1_1.0_224).
    presets = sorted(_presets(spec), key=lambda preset: not _builds_defaults(preset, spec))
    for preset in presets:
        for tag, published in preset.published_weights.items():
            tags.setdefault(tag, published)
    return tags


def _builds_defaults(preset: ModelSpec, spec: ModelSpec) -> bool:
    """Whether `preset` builds `spec`'s default network (same input, same parameter count)."""
    return preset.input_shape == spec.input_shape and preset.params == spec.params


def published_weights(name: str, tag: str = IMAGENET) -> PublishedWeights:
    """The checkpoint `tag` of the network `name` ("imagenet": its default checkpoint).

    ValueError lists the tags there are (or says there are none).
    """
    spec = get_spec(name)
    tags = weights_tags(spec.name)
    key = default_tag(spec) if tag == IMAGENET else tag
    if key in tags:
        return tags[key]
    if not tags:
        raise ValueError(f"no published weights for {spec.name!r}; "
                         f"`kerasnets.list_models(pretrained=True)` lists the networks that have some")
    raise ValueError(f"unknown weights tag {tag!r} for {spec.name!r}; its tags: "
                     f"{', '.join(tags)} (\"imagenet\" means {default_tag(spec)!r})")


def normalization_for(name: str, weights=None) -> Normalization:
    """The input arithmetic the network `name` expects: that of the checkpoint `weights`
    (a tag, or "imagenet") where it says, else the network's preprocessing mode."""
    spec = get_spec(name)
    if isinstance(weights, str) and (weights == IMAGENET or weights in weights_tags(spec.name)):
        published = published_weights(spec.name, weights)
        if published.normalization is not None:
            return published.normalization
    return normalization(spec.preprocessing, spec.input_shape[2])


def _tag_structure(spec: ModelSpec, kwargs: dict) -> dict:
    """The structure the checkpoint `kwargs["weights"]` names needs (when it is a tag of
    the spec or of its presets); an explicit argument that contradicts it is an error.

    Among the network's and its presets' checkpoints of that tag, the first
    whose needs (its structure, and a preset's own arguments) agree with the
    explicit arguments is taken: `build("shufflenet_v1", weights="megvii",
    groups=8)` takes the g = 8 preset's checkpoint.
    """
    weights = kwargs.get("weights")
    if not isinstance(weights, str) or weights not in weights_tags(spec.name) and (
            weights != IMAGENET):
        return {}
    tag = default_tag(spec) if weights == IMAGENET else weights
    candidates = []
    for owner in [spec, *_presets(spec)]:
        published = owner.published_weights.get(tag)
        if published is None or (owner is not spec and tag == IMAGENET):
            continue  # keras.applications' preset files are chosen by the builder
        needs = dict(published.structure)
        if owner is not spec:
            needs.update({key: value for key, value in owner.defaults.items()
                          if key not in ("name", "input_shape")})
        candidates.append((owner, published, needs))
    for _, _, needs in candidates:
        if all(kwargs.get(key, value) == value for key, value in needs.items()):
            return needs
    if not candidates:
        return {}
    owner, published, needs = candidates[0]
    for key, value in needs.items():
        if key in kwargs and kwargs[key] != value:
            raise ValueError(
                f"weights={weights!r} ({published.source}'s {owner.name} checkpoint) needs "
                f"{key}={value!r}; got {key}={kwargs[key]!r}. Leave {key} out (the tag sets "
                "it) or use weights=None."
            )
    return needs


def _check_input_tensor(value) -> None:
    """`input_tensor` is None or a symbolic Keras tensor (what keras.applications accepts)."""
    if value is None:
        return
    import keras

    if not keras.utils.is_keras_tensor(value):
        text = repr(value)
        text = text if len(text) <= 60 else text[:57] + "..."
        raise ValueError(
            "`input_tensor` must be None or a Keras tensor (`keras.Input(...)` or a layer's "
            f"output); got {type(value).__name__} {text}"
        )


_REGISTRY: dict[str, ModelSpec] = {}
_ALIASES: dict[str, str] = {}


def _check_new_name(name: str) -> None:
    if not name or name != name.lower() or " " in name:
        raise ValueError(f"model names are lower-case without spaces; got {name!r}")
    if name in _REGISTRY or name in _ALIASES:
        raise ValueError(f"a model named {name!r} is already registered")


def register_model(
    name: str | None = None,
    *,
    family: str,
    paper: Paper,
    input_shape: tuple[int, int, int],
    params: int,
    min_input_shape: tuple[int, int, int] | None = None,
    preprocessing: str = "caffe",
    fixed_input: bool = False,
    num_classes: int = 1000,
    aliases: tuple[str, ...] = (),
    description: str = "",
    augmentation: str | None = None,
    crop_fraction: float = 0.875,
    aux_loss_weight: float | None = None,
    published_weights: dict | None = None,
    **defaults,
):
    """Decorator that registers a builder function under `name`.

    `params` is the reference parameter count (for the default input shape and
    `num_classes`) that the tests hold the builder to. `augmentation` is the
    paper's training augmentation (default: "none" for inputs under 64 pixels,
    else "inception"), `crop_fraction` the evaluation centre crop's share of the
    shorter side, `aux_loss_weight` the loss weight of each auxiliary classifier.
    Extra keyword arguments become default keyword arguments of the builder for
    this name.
    """
    if preprocessing not in PREPROCESSING_MODES:
        raise ValueError(
            f"preprocessing must be one of {PREPROCESSING_MODES}; got {preprocessing!r}"
        )
    if augmentation is None:
        augmentation = "none" if input_shape[0] < 64 else "inception"
    if not 0 < crop_fraction <= 1:
        raise ValueError(f"crop_fraction must be in (0, 1]; got {crop_fraction!r}")

    def decorator(fn):
        model_name = name or fn.__name__
        _check_new_name(model_name)
        for alias in aliases:
            _check_new_name(alias)
        spec = ModelSpec(
            name=model_name,
            builder=fn,
            family=family,
            paper=paper,
            input_shape=tuple(input_shape),
            min_input_shape=tuple(min_input_shape or input_shape),
            params=int(params),
            preprocessing=preprocessing,
            fixed_input=fixed_input,
            num_classes=num_classes,
            aliases=tuple(aliases),
            defaults=dict(defaults),
            description=description or (fn.__doc__ or "").strip().split("\n")[0],
            augmentation=augmentation,
            crop_fraction=float(crop_fraction),
            aux_loss_weight=aux_loss_weight,
            published_weights=dict(published_weights or {}),
        )
        _REGISTRY[model_name] = spec
        for alias in aliases:
            _ALIASES[alias] = model_name
        return fn

    return decorator


def register_alias(alias: str, target: str, *, params: int | None = None,
                   description: str | None = None, published_weights: dict | None = None,
                   **overrides) -> None:
    """Registers `alias` as `target` with some builder arguments fixed.

    With no overrides the alias resolves to the target itself; with overrides
    it becomes a preset with its own metadata: `params` is its parameter count
    (the target's when not given), `description` its own line (its
    multiply-adds and size, say; the target's when not given), an
    `input_shape` override its default input, and `published_weights` its own
    trained weights (by tag). Presets are left out of
    `list_models` unless `include_aliases=True`.
    """
    if (params is not None or description is not None) and not overrides:
        raise ValueError("`params` and `description` describe a preset; give its overrides too")
    spec = get_spec(target)
    if not overrides:
        _check_new_name(alias)
        _ALIASES[alias] = spec.name
        return
    _check_new_name(alias)
    defaults = dict(spec.defaults)
    defaults.update(overrides)
    _REGISTRY[alias] = dataclasses.replace(
        spec, name=alias, aliases=(), defaults=defaults, alias_of=spec.name,
        params=spec.params if params is None else int(params),
        description=spec.description if description is None else description,
        published_weights=dict(published_weights or {}),
        **_shape_overrides(overrides)
    )


def _shape_overrides(overrides: dict) -> dict:
    shape = overrides.get("input_shape")
    return {"input_shape": tuple(shape)} if shape is not None else {}


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of a registered name or alias."""
    if not isinstance(name, str):
        raise TypeError(f"model name must be a string; got {type(name).__name__}")
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key in _REGISTRY:
        return _REGISTRY[key]
    known = sorted(set(_REGISTRY) | set(_ALIASES))
    close = difflib.get_close_matches(key, known, n=5, cutoff=0.5)
    hint = f" Closest registered names: {', '.join(close)}." if close else ""
    raise ValueError(
        f"Unknown model name {name!r}.{hint} `kerasnets.list_models()` lists all "
        f"{len(_REGISTRY)} registered names."
    )


def build(name: str, /, **kwargs):
    """Builds the registered network `name` as a `keras.Model`.

    Keyword arguments go to the family builder: the keras.applications
    arguments (`include_top`, `weights`, `input_tensor`, `input_shape`,
    `pooling`, `classes`, `classifier_activation`, `name`) and the paper's
    hyper-parameters.
    """
    return get_spec(name).build(**kwargs)


def list_models(pattern: str | None = None, family: str | None = None,
                include_aliases: bool = False, pretrained: bool = False) -> list[str]:
    """Sorted registered names, filtered by a glob `pattern` and/or `family`.

    Presets registered with `register_alias` (`mobilenet_v1_0.25_128`, ...) are
    listed only with `include_aliases=True`. `pretrained=True` keeps the names
    that have published weights (a network counts its presets' files).
    """
    if not isinstance(pretrained, bool):
        raise TypeError(f"`pretrained` must be True or False; got {pretrained!r}")
    for argument, value in (("pattern", pattern), ("family", family)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"`{argument}` must be a string or None; got "
                            f"{type(value).__name__} {value!r}")
    names = sorted(n for n, s in _REGISTRY.items() if include_aliases or s.alias_of is None)
    if pattern is not None:
        pattern = pattern.lower()
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    if family is not None:
        names = [n for n in names if _REGISTRY[n].family == family]
    if pretrained:
        names = [n for n in names if weights_tags(n)]
    return names


def model_info(name: str) -> dict:
    """Family, paper, default and minimum input shape, parameter count, ... of `name`."""
    return get_spec(name).info()


def families() -> tuple[str, ...]:
    return tuple(sorted({s.family for s in _REGISTRY.values()}))


def index() -> list[dict]:
    """The registry as JSON data, one entry per registered name, sorted by name.

    Presets are included (`alias_of` names the model a preset fixes arguments
    of; `kerasnets list` hides them unless asked), each entry with the plain
    aliases that resolve to it. The console script's static index holds this.
    """
    aliases: dict[str, list[str]] = {}
    for alias, target in _ALIASES.items():
        aliases.setdefault(target, []).append(alias)
    return [
        {
            "name": name,
            "family": spec.family,
            "input_shape": list(spec.input_shape),
            "params": spec.params,
            "description": spec.description,
            "aliases": sorted(aliases.get(name, ())),
            "alias_of": spec.alias_of,
            "weights": list(weights_tags(name)),
        }
        for name, spec in sorted(_REGISTRY.items())
    ]
