"""Training recipes as plain YAML: one :class:`TrainConfig`, validated on load.

A recipe file (``recipes/configs/*.yaml``) holds the keys of
:class:`TrainConfig`; every key is optional but ``paper``, the citation the
recipe follows. An unknown key, a value of the wrong type or out of range is a
:class:`ConfigError` (a ``ValueError``) that names the key and the file.
Command-line overrides go through :func:`override`, with the same checks.

The learning-rate ``schedule`` is a mapping with a ``name`` and its own keys:

=============  ===============================================================
name           keys (defaults)
=============  ===============================================================
constant       none
cosine         ``alpha`` (0): cosine decay from ``learning_rate`` to
               ``alpha * learning_rate`` over the run (Loshchilov and Hutter)
step           ``boundaries`` (epochs), ``factor`` (0.1): multiplied by
               ``factor`` at each boundary (ResNet, DenseNet)
exponential    ``rate``, ``every`` (epochs, 1), ``staircase`` (true): multiplied
               by ``rate`` every ``every`` epochs (Inception, MobileNet v2)
linear         ``end`` (0): linear decay from ``learning_rate`` to ``end *
               learning_rate`` over the run (ShuffleNet)
plateau        ``factor`` (0.1), ``patience`` (epochs, 5), ``monitor``
               ("val_loss"), ``min_lr`` (0): divided when the monitored value
               stops improving (AlexNet, VGG)
=============  ===============================================================
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import types
from typing import Any

from kerasnets import registry

__all__ = [
    "ConfigError",
    "TrainConfig",
    "SCHEDULES",
    "OPTIMIZERS",
    "INITIALIZERS",
    "STRATEGIES",
    "config_from_dict",
    "load_config",
    "override",
    "config_to_dict",
    "data_layer",
    "ignored_on_digits",
    "needs_statistics",
    "run_policy",
]

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adagrad")
WEIGHT_DECAY_MODES = ("coupled", "decoupled")
WEIGHT_DECAY_ON = ("kernels", "all", "kernels_except_depthwise")
STRATEGIES = ("auto", "one", "mirrored", "multiworker")
MIXED_PRECISION = ("off", "auto", "float16", "bfloat16")
# Initialisers of the papers, by name; "default" keeps the builder's (Glorot uniform in Keras).
INITIALIZERS = ("default", "normal", "truncated_normal", "glorot_uniform", "glorot_normal",
                "he_normal", "he_uniform")
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")

SCHEDULES = {
    "constant": {},
    "cosine": {"alpha": 0.0},
    "step": {"boundaries": None, "factor": 0.1},
    "exponential": {"rate": None, "every": 1.0, "staircase": True},
    "linear": {"end": 0.0},
    "plateau": {"factor": 0.1, "patience": 5, "monitor": "val_loss", "min_lr": 0.0},
}


class ConfigError(ValueError):
    """A recipe value that cannot be used; the message names the key."""


@functools.lru_cache(maxsize=None)
def data_layer():
    """What the checks of the pipeline keys read of kerasnets.data (the policy names,
    `parse_source`, `DatasetStatistics`); None where TensorFlow, which kerasnets.data
    needs, is not installed.

    Without it a recipe is still loaded, for its model, optimizer, schedule and
    loss (the jax and torch backends training from arrays, as
    `benchmarks/gpu_train.py` does): `data` and `policy` are then checked to be
    strings and `dataset_statistics` a mapping, and checked in full wherever
    TensorFlow is there to run the pipeline that reads them.
    """
    try:
        from kerasnets.data import augment
        from kerasnets.data.sources import SOURCE_FORMS, parse_source
        from kerasnets.data.statistics import DatasetStatistics
    except ModuleNotFoundError as err:
        if (err.name or "").partition(".")[0] != "tensorflow":
            raise
        return None
    # "auto": the network's own (its registry entry's `augmentation`), else a policy by name.
    return types.SimpleNamespace(policies=("auto", *augment.POLICIES), source_forms=SOURCE_FORMS,
                                 parse_source=parse_source, statistics=DatasetStatistics)


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs; the defaults are the LeNet-5 digits recipe."""

    paper: str = ("LeCun, Bottou, Bengio and Haffner (1998). Gradient-based learning applied "
                  "to document recognition. (Adam with cosine decay instead of the paper's "
                  "stochastic diagonal Levenberg-Marquardt.)")
    model: str = "lenet5"
    model_args: dict = dataclasses.field(default_factory=dict)
    # Start from published weights (a tag of the model, "imagenet") or a weights file:
    # fine-tuning. None: the builder's random initialisation.
    weights: str | None = None
    # VGG only: a trained configuration A (.keras model or weights file) whose first four
    # convolutions and fully connected layers start the network (the paper's section 3.1).
    init_from: str | None = None
    data: str = "digits"
    epochs: int = 60
    batch_size: int = 32
    image_size: int | None = None
    optimizer: str = "adam"
    learning_rate: float = 0.002
    momentum: float = 0.0
    nesterov: bool = False
    rho: float = 0.9
    epsilon: float | None = None
    weight_decay: float = 0.0
    weight_decay_mode: str = "coupled"
    weight_decay_on: str = "kernels"
    schedule: dict = dataclasses.field(default_factory=lambda: {"name": "cosine"})
    label_smoothing: float = 0.0
    aux_weight: float | None = None
    initializer: Any = "default"
    policy: str = "auto"
    scale_range: list | None = None
    # Augmentation after the policy: rotation by up to `rotation` degrees, Gaussian noise of
    # stddev `noise`. For the "inception" policy: the crop's share of the image area
    # (`crop_area`, [low, high]; null: the paper's [0.08, 1]) and the strength of its
    # photometric distortions (`color_distortion`, 0 to 2; null: 1, the paper's).
    rotation: float = 0.0
    noise: float = 0.0
    crop_area: list | None = None
    color_distortion: float | None = None
    # Training examples held in the shuffle buffer (null: the whole split, up to 100,000).
    shuffle_buffer: int | None = None
    # Colour statistics: ImageNet's, or the training split's own ("dataset"), computed in one
    # pass before training: `mean` (subtracted by caffe/torch preprocessing; VGG section 2.1)
    # and `pca` (AlexNet's PCA lighting, section 4.1; "off" switches it off). The run records
    # the numbers in `dataset_statistics` (config.yaml), which a resumed run reuses.
    mean: str = "imagenet"
    pca: str = "imagenet"
    dataset_statistics: dict | None = None
    shift: float = 0.1
    mixed_precision: str = "off"
    jit_compile: Any = "auto"
    clipnorm: float | None = None
    global_clipnorm: float | None = None
    clipvalue: float | None = None
    seed: int = 0
    strategy: str = "auto"
    replica_scaling: bool = True
    monitor: str = "val_accuracy"

    def __post_init__(self):
        validate(self)


# How each key is checked: (kind, extra). Kinds: int/float with bounds, bool, str, choice, ...
def _positive_int(key, value, source):
    _int(key, value, source, low=1)


def _where(source):
    return f" in {source}" if source else ""


def _fail(key, message, value, source):
    raise ConfigError(f"`{key}`{_where(source)} must be {message}; got {value!r}")


def _int(key, value, source, low=0):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        _fail(key, f"an integer >= {low}", value, source)


def _number(key, value, source, low=0.0, high=None, low_open=False, high_open=False,
            none=False):
    if value is None and none:
        return
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low)
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        bounds = f"{'>' if low_open else '>='} {low}"
        if high is not None:
            bounds += f" and {'<' if high_open else '<='} {high}"
        _fail(key, f"a number {bounds}" + (" or null" if none else ""), value, source)


def _choice(key, value, choices, source):
    if value not in choices:
        _fail(key, f"one of {', '.join(map(str, choices))}", value, source)


def _bool(key, value, source):
    if not isinstance(value, bool):
        _fail(key, "true or false", value, source)


def _string(key, value, source):
    if not isinstance(value, str) or not value.strip():
        _fail(key, "a non-empty string", value, source)


def validate(config: TrainConfig, source: str = "") -> None:
    """Checks every field of `config`; raises :class:`ConfigError` naming the first bad key."""
    c = config
    _string("paper", c.paper, source)
    _string("model", c.model, source)
    if not isinstance(c.model_args, dict) or not all(isinstance(k, str) for k in c.model_args):
        _fail("model_args", "a mapping of builder arguments", c.model_args, source)
    check_weights(c.model, c.weights, source)
    check_init_from(c.model, c.init_from, c.weights, source)
    check_data(c.data, source)
    _positive_int("epochs", c.epochs, source)
    _positive_int("batch_size", c.batch_size, source)
    if c.image_size is not None:
        _positive_int("image_size", c.image_size, source)
    _choice("optimizer", c.optimizer, OPTIMIZERS, source)
    _number("learning_rate", c.learning_rate, source, low_open=True)
    _number("momentum", c.momentum, source, 0, 1, high_open=True)
    _bool("nesterov", c.nesterov, source)
    _number("rho", c.rho, source, 0, 1, high_open=True)
    _number("epsilon", c.epsilon, source, low_open=True, none=True)
    _number("weight_decay", c.weight_decay, source)
    _choice("weight_decay_mode", c.weight_decay_mode, WEIGHT_DECAY_MODES, source)
    _choice("weight_decay_on", c.weight_decay_on, WEIGHT_DECAY_ON, source)
    c.schedule = check_schedule(c.schedule, source)
    _number("label_smoothing", c.label_smoothing, source, 0, 1, high_open=True)
    _number("aux_weight", c.aux_weight, source, none=True)
    c.initializer = check_initializer(c.initializer, source)
    data = data_layer()
    if data is None:
        _string("policy", c.policy, source)
    else:
        _choice("policy", c.policy, data.policies, source)
    if c.scale_range is not None:
        if (not isinstance(c.scale_range, (list, tuple)) or len(c.scale_range) != 2
                or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                           for s in c.scale_range)
                or c.scale_range[0] > c.scale_range[1]):
            _fail("scale_range", "[S_min, S_max], two positive integers in order",
                  c.scale_range, source)
        c.scale_range = [int(s) for s in c.scale_range]
    _number("rotation", c.rotation, source, 0, 180)
    _number("noise", c.noise, source)
    check_inception_options(c, source)
    check_statistics_options(c, source)
    if c.shuffle_buffer is not None:
        _positive_int("shuffle_buffer", c.shuffle_buffer, source)
    _number("shift", c.shift, source, 0, 1, high_open=True)
    if c.mixed_precision is True:
        c.mixed_precision = "auto"
    elif c.mixed_precision is False:
        c.mixed_precision = "off"
    _choice("mixed_precision", c.mixed_precision, MIXED_PRECISION, source)
    if c.jit_compile not in ("auto", True, False):
        _fail("jit_compile", "auto, true or false", c.jit_compile, source)
    for key in ("clipnorm", "global_clipnorm", "clipvalue"):
        _number(key, getattr(c, key), source, low_open=True, none=True)
    clips = [key for key in ("clipnorm", "global_clipnorm", "clipvalue") if getattr(c, key)]
    if len(clips) > 1:
        raise ConfigError(f"`{clips[1]}`{_where(source)} cannot be combined with `{clips[0]}`: "
                          "choose one kind of gradient clipping")
    _int("seed", c.seed, source)
    _choice("strategy", c.strategy, STRATEGIES, source)
    _bool("replica_scaling", c.replica_scaling, source)
    _choice("monitor", c.monitor, MONITORS, source)


# Keys of the tf.data pipeline (folder: and tfds: sources) and the value that leaves it as is.
PIPELINE_ONLY = {"policy": "auto", "scale_range": None, "rotation": 0.0, "noise": 0.0,
                 "crop_area": None, "color_distortion": None, "shuffle_buffer": None,
                 "mean": "imagenet", "pca": "imagenet"}
MEANS = ("imagenet", "dataset")
PCAS = ("imagenet", "dataset", "off")


def run_policy(config):
    """The augmentation policy a run on a folder:/tfds: source uses (`policy`, or the
    model's own for "auto"); None for an unknown model."""
    if config.policy != "auto":
        return config.policy
    try:
        return registry.get_spec(config.model).augmentation
    except ValueError:
        return None


def needs_statistics(config):
    """Whether the run computes (or reuses) the training split's colour statistics."""
    return "dataset" in (config.mean, config.pca)


def check_statistics_options(config, source=""):
    """`mean` (imagenet | dataset), `pca` (imagenet | dataset | off) and recorded
    `dataset_statistics`, where the run's preprocessing and policy use them."""
    c = config
    _choice("mean", c.mean, MEANS, source)
    _choice("pca", c.pca, PCAS, source)
    if c.dataset_statistics is not None:
        data = data_layer()
        if data is None:
            if not isinstance(c.dataset_statistics, dict):
                _fail("dataset_statistics", "a mapping or null", c.dataset_statistics, source)
        else:
            try:
                data.statistics.from_dict(c.dataset_statistics)
            except ValueError as err:
                raise ConfigError(f"`dataset_statistics`{_where(source)}: {err}") from None
    try:
        spec = registry.get_spec(c.model)
    except ValueError:
        return  # the unknown model name is reported on its own
    if c.mean == "dataset":
        if c.weights is not None:
            raise ConfigError(f"`mean: dataset`{_where(source)} cannot go with `weights`: the "
                              f"checkpoint fixes its own normalization")
        if spec.preprocessing not in ("caffe", "torch"):
            raise ConfigError(f"`mean: dataset`{_where(source)} needs a preprocessing that "
                              f"subtracts a mean (caffe or torch); {spec.name} uses "
                              f"{spec.preprocessing!r}")
    policy = run_policy(c)
    if c.pca != "imagenet" and policy not in ("alexnet", None):
        raise ConfigError(f"`pca: {c.pca}`{_where(source)} is used by the alexnet policy only; "
                          f"the run's policy is {policy!r} (policy: {c.policy})")


def ignored_on_digits(config):
    """The pipeline keys `config` sets that a run on the bundled digits ignores (they are
    augmented by `shift` alone and shuffled whole); [] for other sources."""
    data = data_layer()
    if data is None:
        return []  # no pipeline without TensorFlow: nothing is run on the digits
    try:
        if data.parse_source(config.data)[0] != "digits":
            return []
    except ValueError:
        return []
    return [key for key, unset in PIPELINE_ONLY.items()
            if getattr(config, key) is not None and getattr(config, key) != unset]


def check_inception_options(config, source=""):
    """`crop_area` ([low, high], 0 < low <= high <= 1) and `color_distortion` ([0, 2]), set
    only where the run's policy is "inception" (the model's own with policy auto)."""
    c = config
    if c.crop_area is not None:
        area = c.crop_area
        if (not isinstance(area, (list, tuple)) or len(area) != 2
                or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in area)
                or not 0 < area[0] <= area[1] <= 1):
            _fail("crop_area", "[low, high], two area fractions with 0 < low <= high <= 1",
                  area, source)
        c.crop_area = [float(a) for a in area]
    _number("color_distortion", c.color_distortion, source, 0, 2, none=True)
    used = [key for key in ("crop_area", "color_distortion") if getattr(c, key) is not None]
    if not used:
        return
    policy = run_policy(c)
    if policy not in ("inception", None):  # None: the unknown model is reported on its own
        raise ConfigError(f"`{used[0]}`{_where(source)} is used by the inception policy only; "
                          f"the run's policy is {policy!r} (policy: {c.policy}): remove "
                          f"`{used[0]}` or set `policy: inception`")


def check_data(data, source=""):
    """`digits`, `folder:PATH` or `tfds:NAME` (`kerasnets.data.sources.parse_source`); a
    string without TensorFlow (:func:`data_layer`)."""
    layer = data_layer()
    if layer is None:
        _string("data", data, source)
        return
    try:
        layer.parse_source(data)
    except ValueError:
        _fail("data", layer.source_forms, data, source)


def check_schedule(schedule, source=""):
    """The schedule mapping with its defaults filled in (a bare name is accepted)."""
    if isinstance(schedule, str):
        schedule = {"name": schedule}
    if not isinstance(schedule, dict) or "name" not in schedule:
        _fail("schedule", f"a mapping with a `name` ({', '.join(SCHEDULES)})", schedule, source)
    name = schedule["name"]
    _choice("schedule.name", name, tuple(SCHEDULES), source)
    known = SCHEDULES[name]
    for key in schedule:
        if key != "name" and key not in known:
            raise ConfigError(
                f"unknown key `schedule.{key}`{_where(source)} for the {name} schedule "
                f"(its keys: {', '.join(known) or 'none'})")
    full = {"name": name, **known, **{k: v for k, v in schedule.items() if k != "name"}}
    if name == "cosine":
        _number("schedule.alpha", full["alpha"], source, 0, 1)
    elif name == "step":
        bounds = full["boundaries"]
        if (not isinstance(bounds, (list, tuple)) or not bounds
                or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and b > 0
                           for b in bounds)
                or list(bounds) != sorted(set(bounds))):
            _fail("schedule.boundaries", "a non-empty increasing list of epochs > 0",
                  bounds, source)
        _number("schedule.factor", full["factor"], source, low_open=True)
    elif name == "exponential":
        _number("schedule.rate", full["rate"], source, 0, 1, low_open=True)
        _number("schedule.every", full["every"], source, low_open=True)
        _bool("schedule.staircase", full["staircase"], source)
    elif name == "linear":
        _number("schedule.end", full["end"], source, 0, 1)
    elif name == "plateau":
        _number("schedule.factor", full["factor"], source, 0, 1, low_open=True, high_open=True)
        _int("schedule.patience", full["patience"], source)
        _choice("schedule.monitor", full["monitor"], MONITORS, source)
        _number("schedule.min_lr", full["min_lr"], source)
    return full


def check_weights(model, weights, source=""):
    """`weights` is None, a weights tag of `model` ("imagenet" where it has any) or a file."""
    if weights is None:
        return
    _string("weights", weights, source)
    if os.path.isfile(weights):
        return
    try:
        tags = registry.weights_tags(model)
    except ValueError:
        return  # the unknown model name is reported on its own
    if weights in tags or (weights == registry.IMAGENET and tags):
        return
    known = f"its tags: {', '.join(tags)}" if tags else f"{model!r} has no published weights"
    raise ConfigError(f"`weights`{_where(source)} must be a weights tag of {model!r} or the path "
                      f"of a weights file; got {weights!r} ({known})")


def check_init_from(model, init_from, weights=None, source=""):
    """`init_from` is None, or for a VGG model the path of an existing file (net A, trained)."""
    if init_from is None:
        return
    _string("init_from", init_from, source)
    try:
        family = registry.get_spec(model).family
    except ValueError:
        return  # the unknown model name is reported on its own
    if family != "vgg":
        raise ConfigError(f"`init_from`{_where(source)} starts a VGG network from a trained "
                          f"configuration A; the model is {model!r} ({family}), not a VGG")
    if not os.path.isfile(init_from):
        _fail("init_from", "the path of an existing .keras model or weights file of VGG "
              "configuration A (vgg11)", init_from, source)
    if weights is not None:
        raise ConfigError(f"`init_from`{_where(source)} cannot be combined with `weights` "
                          f"({weights!r}): choose one starting point")


def check_initializer(initializer, source=""):
    """A name of INITIALIZERS, or `{name: normal|truncated_normal, stddev: S}`; as a mapping."""
    if isinstance(initializer, str):
        initializer = {"name": initializer}
    if not isinstance(initializer, dict) or "name" not in initializer:
        _fail("initializer", f"one of {', '.join(INITIALIZERS)} or a mapping with a `name`",
              initializer, source)
    name = initializer["name"]
    _choice("initializer.name", name, INITIALIZERS, source)
    allowed = ("stddev",) if name in ("normal", "truncated_normal") else ()
    for key in initializer:
        if key != "name" and key not in allowed:
            raise ConfigError(f"unknown key `initializer.{key}`{_where(source)} for the {name} "
                              f"initializer (its keys: {', '.join(allowed) or 'none'})")
    full = dict(initializer)
    if name in ("normal", "truncated_normal"):
        full.setdefault("stddev", 0.01)
        _number("initializer.stddev", full["stddev"], source, low_open=True)
    return full


FIELDS = tuple(field.name for field in dataclasses.fields(TrainConfig))


def config_from_dict(values: dict, source: str = "") -> TrainConfig:
    """A validated :class:`TrainConfig` from a mapping; unknown keys are errors."""
    if not isinstance(values, dict):
        raise ConfigError(f"a recipe{_where(source)} must be a mapping of keys to values; "
                          f"got {type(values).__name__}")
    for key in values:
        if key not in FIELDS:
            import difflib

            close = difflib.get_close_matches(str(key), FIELDS, n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise ConfigError(f"unknown key `{key}`{_where(source)}{hint}")
    config = TrainConfig.__new__(TrainConfig)
    defaults = TrainConfig.__dataclass_fields__
    for name, field in defaults.items():
        if name in values:
            value = values[name]
        elif field.default_factory is not dataclasses.MISSING:
            value = field.default_factory()
        else:
            value = field.default
        setattr(config, name, value)
    validate(config, source)
    return config


def load_config(path) -> TrainConfig:
    """Reads and validates a YAML recipe; the file must name its `paper`."""
    import yaml

    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            values = yaml.safe_load(handle)
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {str(err).splitlines()[0]}") from None
    if values is None:
        values = {}
    if isinstance(values, dict) and "paper" not in values:
        raise ConfigError(f"`paper` is missing in {path}: a recipe cites the paper it follows")
    return config_from_dict(values, path)


def override(config: TrainConfig, **changes) -> TrainConfig:
    """A copy of `config` with `changes` (None values ignored), validated."""
    values = config_to_dict(config)
    values.update({k: v for k, v in changes.items() if v is not None})
    return config_from_dict(values)


def config_to_dict(config: TrainConfig) -> dict:
    """The config as plain values, as a YAML recipe would hold them."""
    return dataclasses.asdict(config)
