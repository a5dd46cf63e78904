"""What every family builder shares: the keras.applications arguments.

`prepare_inputs` checks `weights`, `input_shape` and `input_tensor`, makes
the input layer and resolves `weights="imagenet"` (the one place a builder
does); `classifier_head` and `finish_model` give the end of the network the
meaning `include_top`, `pooling`, `classes` and `classifier_activation` have
in keras.applications. `registration` and `register_presets` are what the
family modules' registrations share.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings
import zipfile
import zlib

import keras
from keras import layers

from kerasnets.checks import check_bool, check_choice, check_range
from kerasnets.models import pretrained
from kerasnets.models.convert import fully_convolutional
from kerasnets.models.weights_file import check_weights_file, invalid_file
from kerasnets.registry import register_alias, register_model
from kerasnets.weights.readers import read_state
from kerasnets.weights.transfer import load_state

POOLING_CHOICES = (None, "avg", "max")


def registration(**shared):
    """`register_model` with the arguments a family's networks (or a group of them) share.

    `register = registration(family="resnet", paper=PAPER, input_shape=..., ...)`,
    then `@register(params=...)` on each variant; a variant's own arguments
    (`paper=PAPER_V2`, `published_weights=...`) add to or override the shared ones.
    """
    return functools.partial(register_model, **shared)


def register_presets(target, presets):
    """Registers presets of `target`: `{alias: {"params": ..., "description": ...,
    "published_weights": ..., **builder overrides}}`; each builds a model named after its alias.
    """
    for alias, preset in presets.items():
        register_alias(alias, target, **{"name": alias, **preset})


def channel_axis() -> int:
    return -1 if keras.config.image_data_format() == "channels_last" else 1


def check_weights(weights) -> None:
    """`weights` is None, a resolved checkpoint, or the path of an existing Keras weights file."""
    if weights is None or isinstance(weights, pretrained.Checkpoint):
        return
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if not isinstance(weights, str):
        raise ValueError(
            "`weights` must be None (random initialization), a weights tag ('imagenet', ...) or "
            f"the path to a weights file (.weights.h5, .h5 or .keras); got {weights!r}"
        )
    if weights == "imagenet":
        raise ValueError(
            "`weights` must be None (random initialization) or the path to a weights file; "
            "got 'imagenet', but no ImageNet weights are published for this network "
            "(`kerasnets.list_models(pretrained=True)` lists the networks that have some: "
            f"{', '.join(pretrained.published_networks())}). "
            "Train it (recipes/train.py) and pass the path of the saved weights file "
            "(.weights.h5 or .keras), e.g. weights='runs/model.weights.h5'."
        )
    if not os.path.isfile(weights):
        looks_like_tag = os.sep not in weights and "." not in weights
        what = (f"no file at {weights!r}, and no checkpoint of this network is tagged {weights!r}"
                if looks_like_tag else f"no file at {weights!r}")
        raise ValueError(
            "`weights` must be None (random initialization), one of the network's weights tags "
            "(`kerasnets.model_info(name)['weights']`) or the path to an existing "
            f"weights file (.weights.h5, .h5 or .keras); {what}."
        )
    check_weights_file(weights)


def _image_shape(default_shape, data_format):
    h, w, c = default_shape
    return (h, w, c) if data_format == "channels_last" else (c, h, w)


def resolve_input_shape(input_shape, *, default_shape, min_shape, require_default,
                        input_tensor=None, weights=None):
    """The input shape for a builder, checked as keras.applications checks it.

    `default_shape` and `min_shape` are (height, width, channels). With
    `require_default` (a classifier on a flattened feature map) the spatial size
    must be the default one. Spatial sizes may be None (any size) otherwise.
    """
    data_format = keras.config.image_data_format()
    if input_shape is None and input_tensor is not None:
        shape = tuple(input_tensor.shape)
        input_shape = shape[1:] if len(shape) == 4 else shape
    if input_shape is None:
        return _image_shape(default_shape, data_format)
    input_shape = tuple(None if d is None else int(d) for d in input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            f"`input_shape` must have 3 dimensions (height, width, channels); got {input_shape}"
        )
    if data_format == "channels_last":
        h, w, c = input_shape
    else:
        c, h, w = input_shape
    default_c = default_shape[2]
    if c is None:
        raise ValueError(f"`input_shape` needs a known channel count; got {input_shape}")
    if weights is not None and c != default_c:
        raise ValueError(
            f"`input_shape` has {c} channels, but the weights are for {default_c}-channel "
            f"input: use {default_c} channels with `weights`, or weights=None"
        )
    if require_default and (h, w) != tuple(default_shape[:2]):
        raise ValueError(
            f"`input_shape` must be {_image_shape((*default_shape[:2], c), data_format)} with "
            f"include_top=True (the classifier has fully connected layers on a flattened map); "
            f"got {input_shape}. Use include_top=False for other sizes."
        )
    min_h, min_w = min_shape[:2]
    for dim, low, what in ((h, min_h, "height"), (w, min_w, "width")):
        if dim is not None and dim < low:
            raise ValueError(
                f"`input_shape` {what} must be at least {low} for this network; got "
                f"{input_shape} (the smallest input is "
                f"{_image_shape((min_h, min_w, c), data_format)})"
            )
    return input_shape


def prepare_inputs(*, include_top, weights, input_tensor, input_shape, pooling, classes,
                   classifier_activation, default_shape, min_shape,
                   fixed_input=False, published_as=None, weights_structure=None):
    """Checks the keras.applications arguments; returns the input tensor and the weights.

    `published_as` names the registered network being built, whose published
    weights (its own or its presets') `weights="imagenet"` means (None, or a
    network without published weights: none are published for what is being
    built); `weights_structure` holds the builder arguments those files depend
    on (see `pretrained.published_name`; the input size is added here). The
    weights come back resolved: None or the path of a weights file, checked.
    """
    check_bool("include_top", include_top)
    if published_as is not None and not pretrained.is_tag(weights, published_as):
        published_as = None
    if published_as is None:
        check_weights(weights)
    check_choice("pooling", pooling, POOLING_CHOICES)
    if include_top:
        check_range("classes", classes, 1, integer=True)
    if include_top and classifier_activation is not None and not callable(classifier_activation):
        # Fails early with the Keras message for an unknown activation name.
        keras.activations.get(classifier_activation)
    shape = resolve_input_shape(
        input_shape,
        default_shape=default_shape,
        min_shape=min_shape,
        require_default=fixed_input and include_top,
        input_tensor=input_tensor,
        weights=weights,
    )
    if published_as is not None:
        weights = pretrained.resolve_weights(
            weights, published_as, include_top=include_top, classes=classes,
            **(weights_structure or {}), input_size=_spatial_size(shape),
        )
        check_weights(weights)
    if input_tensor is None:
        return layers.Input(shape=shape), weights
    if not keras.utils.is_keras_tensor(input_tensor):
        return layers.Input(tensor=input_tensor, shape=shape), weights
    return input_tensor, weights


def _spatial_size(shape):
    """(height, width) of an input shape, or None when both are unknown."""
    h, w = shape[:2] if channel_axis() == -1 else shape[1:]
    return None if h is None and w is None else (h, w)


def pooled_features(x, pooling, name_prefix=""):
    """Applies `pooling` (None, "avg", "max") to a feature map, as include_top=False does."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=f"{name_prefix}avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=f"{name_prefix}max_pool")(x)
    return x


def classifier_head(x, *, include_top, pooling, classes, classifier_activation,
                    dropout_rate=0.0, pool_name="avg_pool", top=None):
    """The end of a network as keras.applications' `include_top` and `pooling` define it.

    With `include_top`: global average pooling (`pool_name`), dropout when
    `dropout_rate` > 0, and the Dense classifier "predictions"; or `top(x)`,
    for a network whose paper ends otherwise (fully connected layers on a
    flattened map, NIN's convolutional classifier). Without it: the feature
    map, or its global `pooling` ("avg", "max").
    """
    if not include_top:
        return pooled_features(x, pooling)
    if top is not None:
        return top(x)
    x = layers.GlobalAveragePooling2D(name=pool_name)(x)
    if dropout_rate > 0:
        # Only then: at rate 0 the graph is keras.applications' layer for layer.
        x = layers.Dropout(dropout_rate, name="dropout")(x)
    return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)


def fully_connected_classifier(x, hidden, names, *, dropout_rate, classes,
                               classifier_activation):
    """Flatten, then ReLU fully connected layers each followed by dropout, then the output layer.

    `hidden` are the hidden layers' units and `names` their layer names (fc6/fc7
    in AlexNet, fc1/fc2 in keras.applications' VGG); the output layer is
    "predictions".
    """
    x = layers.Flatten(name="flatten")(x)
    for units, name in zip(hidden, names):
        x = layers.Dense(units, activation="relu", name=name)(x)
        x = layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)


@contextlib.contextmanager
def recursion_limit(limit):
    """Raises Python's recursion limit to at least `limit` for the duration of the block.

    For networks of thousands of layers (ResNet-1202), whose functional graph
    Keras walks recursively, a few Python frames per layer.
    """
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def finish_model(inputs, outputs, *, input_tensor, weights, name):
    """Makes the Model (with the source inputs of `input_tensor`) and loads `weights`."""
    if input_tensor is not None:
        model_inputs = keras.utils.get_source_inputs(input_tensor)
        if len(model_inputs) == 1:
            # One input, not a one-element list: the model is then called with an
            # array as it is without input_tensor (no Keras structure warning).
            model_inputs = model_inputs[0]
    else:
        model_inputs = inputs
    model = keras.Model(model_inputs, outputs, name=name)
    if weights is not None:
        load_weights(model, weights)
    return model


def load_weights(model, path) -> None:
    """Loads a weights file, turning a mismatch into an error that says what to check.

    A file that is not what its extension says (see `check_weights_file`),
    or whose contents turn out corrupt while loading, raises ValueError naming it.
    A converted checkpoint (`pretrained.Checkpoint`) is read and mapped onto
    the layers (`kerasnets.weights.transfer.load_state`).
    """
    if isinstance(path, pretrained.Checkpoint):
        load_checkpoint(model, path)
        return
    path = os.fspath(path)
    check_weights_file(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(path)
    except (ValueError, KeyError) as err:
        raise ValueError(
            f"the weights file {path!r} does not fit the model {model.name!r} "
            f"built with input shape {tuple(model.input_shape)[1:]} and output shape "
            f"{model.output_shape}: check `include_top`, `classes` and the variant "
            f"arguments it was saved with. ({err})"
        ) from err
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
        # Opened, but corrupt inside (a bad CRC, an unreadable HDF5 chunk).
        raise invalid_file(path, "weights file", f"reading it failed ({err})") from err
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                              warning.lineno)


def load_checkpoint(model, checkpoint) -> None:
    """Maps a published PyTorch checkpoint onto `model` (see `kerasnets.weights.transfer`)."""
    published = checkpoint.published
    state = read_state(checkpoint.path, published.format)
    try:
        load_state(model, state, published.convert)
    except ValueError as err:
        raise ValueError(f"the {checkpoint.label} checkpoint {checkpoint.path!r} does not load "
                         f"into {model.name!r}: {err}") from err


def fully_convolutional_variant(builder, arguments, *, default_shape):
    """Builds `builder(**arguments)` at its default size and converts its classifier.

    Used by the builders' `fully_convolutional=True`; `input_shape` then means
    the input of the converted network (default: any size).
    """
    args = dict(arguments)
    args.pop("fully_convolutional")
    if not args.get("include_top", True):
        raise ValueError(
            "`fully_convolutional=True` converts the fully connected classifier and needs "
            "include_top=True"
        )
    if args.pop("input_tensor", None) is not None:
        raise ValueError("`fully_convolutional=True` does not take an `input_tensor`")
    input_shape = args.pop("input_shape", None)
    channels = default_shape[2] if input_shape is None else input_shape[channel_axis()]
    h, w = default_shape[:2]
    fixed = (h, w, channels) if channel_axis() == -1 else (channels, h, w)
    model = builder(**args, input_shape=fixed, fully_convolutional=False)
    return fully_convolutional(model, input_shape=input_shape, name=args.get("name"))
