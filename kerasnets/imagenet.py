"""ImageNet in and out: `preprocess_input` for a network's weights, `decode_predictions` by name.

The keras.applications habit (`keras.applications.imagenet_utils`), for every
network and weights tag of the registry:

    x = kerasnets.preprocess_input(images, "resnet18", weights="tv_in1k")
    kerasnets.decode_predictions(model.predict(x), top=5)
    # [[("n02123045", "tabby", 0.61), ...], ...]

`preprocess_input` applies the arithmetic the tag's checkpoint was trained with
(`kerasnets.registry.normalization_for`: scaling, mean/std, BGR for Caffe
checkpoints) to pixels in [0, 255], RGB, on NumPy arrays and on tensors of any
Keras backend (through `keras.ops`, so symbolic Keras tensors too).

The 1000 ILSVRC-2012 class names ship with the package
(`imagenet_class_index.json`, no download): the WordNet ids in class-index order
(sorted, the order of torchvision's and timm's ImageFolder labels and of every
checkpoint here) with the first lemma of each synset, spaces made underscores.
The file is byte for byte keras.applications' `imagenet_class_index.json`
(md5 :data:`CLASS_INDEX_MD5`); it was written from timm's
`timm/data/_info/imagenet_synsets.txt` and `imagenet_synset_to_lemma.txt`
(Apache-2.0; WordNet names, WordNet licence).
"""

from __future__ import annotations

import functools
import json
import os

import keras
import numpy as np

from kerasnets.checks import check_choice, check_range
from kerasnets.registry import IMAGENET, Normalization, get_spec, normalization_for, weights_tags

__all__ = ["CLASS_INDEX_FILE", "CLASS_INDEX_MD5", "NUM_CLASSES", "class_index", "class_names",
           "decode_predictions", "preprocess_input", "input_normalization", "DATA_FORMATS"]

CLASS_INDEX_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "imagenet_class_index.json")
# keras.applications.imagenet_utils checks its download of the same file against this hash.
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"
NUM_CLASSES = 1000
DATA_FORMATS = ("channels_last", "channels_first")


@functools.lru_cache(maxsize=None)
def class_index() -> tuple[tuple[str, str], ...]:
    """The ImageNet-1k classes as (WordNet id, name) pairs, in class-index order."""
    with open(CLASS_INDEX_FILE, encoding="utf-8") as f:
        index = json.load(f)
    return tuple(tuple(index[str(i)]) for i in range(len(index)))


def class_names() -> list[str]:
    """The 1000 ImageNet class names in class-index order ("tench", "goldfish", ...)."""
    return [name for _, name in class_index()]


def decode_predictions(preds, top=5):
    """The `top` classes of each prediction: a list, per image, of (WordNet id, name, score).

    `preds` is a batch of ImageNet scores, shape (samples, 1000): a NumPy array
    or a tensor of any backend. As keras.applications' `decode_predictions`
    (same tuples, highest score first, same error for another shape), with the
    class names bundled instead of downloaded.
    """
    shape = tuple(getattr(preds, "shape", np.shape(preds)))
    if len(shape) != 2 or shape[1] != NUM_CLASSES:
        raise ValueError(
            "`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
            f"(samples, {NUM_CLASSES})). Received array with shape: {shape}"
        )
    check_range("top", top, 1, NUM_CLASSES, integer=True)
    preds = keras.ops.convert_to_numpy(preds)
    index = class_index()
    results = []
    for pred in preds:
        top_indices = pred.argsort()[-int(top):][::-1]
        result = [index[i] + (pred[i],) for i in top_indices]
        result.sort(key=lambda entry: entry[2], reverse=True)
        results.append(result)
    return results


def preprocess_input(images, name, weights=IMAGENET, data_format=None):
    """Pixels in [0, 255] (RGB) made the inputs that the network `name` with `weights` expects.

    `weights`: "imagenet" (the network's default checkpoint), a weights tag of
    the network (`kerasnets.model_info(name)["weights"]`), or None (the
    network's preprocessing mode, as for training from scratch); a network
    without published weights takes its preprocessing mode for "imagenet" too.
    The arithmetic is the checkpoint's (`kerasnets.registry.normalization_for`):
    `(pixels * scale / 255 - mean) / std` per channel, the channels reordered to
    BGR for Caffe checkpoints. So for keras.applications' weights it equals
    `keras.applications.<family>.preprocess_input`, for torchvision's and timm's
    `ToTensor()` + `Normalize(mean, std)`, for Caffe's the BGR mean subtraction.

    `images`: a batch (or one image), channels last, or channels first with
    `data_format="channels_first"` (default: `keras.config.image_data_format()`).
    A NumPy array (or nested lists) gives a NumPy array (float32 for integer
    pixels; never changed in place, unlike keras'), a backend or symbolic
    Keras tensor a tensor of the same kind, through `keras.ops`.
    """
    data_format = keras.config.image_data_format() if data_format is None else data_format
    check_choice("data_format", data_format, DATA_FORMATS)
    norm = input_normalization(name, weights)
    as_numpy = isinstance(images, (np.ndarray, np.generic, list, tuple))
    if as_numpy:
        images = np.asarray(images)
        if not np.issubdtype(images.dtype, np.floating):
            images = images.astype(keras.config.floatx())
        rank = images.ndim
    else:
        rank = len(images.shape)
    if rank < 3:
        raise ValueError(f"`images` must be an image (3 dimensions) or a batch of images (4); "
                         f"got shape {tuple(images.shape)}")
    axis = rank - 1 if data_format == "channels_last" else rank - 3
    channels = images.shape[axis]
    if channels != len(norm.mean):
        raise ValueError(
            f"{name} with weights={weights!r} takes {len(norm.mean)}-channel images "
            f"({norm.channel_order}); got shape {tuple(images.shape)} with {channels} channels "
            f"on axis {axis} ({data_format})")
    mean, std = norm.pixel_mean_std()
    stats_shape = [1] * rank
    stats_shape[axis] = channels
    if as_numpy:
        mean = np.reshape(np.asarray(mean, images.dtype), stats_shape)
        std = np.reshape(np.asarray(std, images.dtype), stats_shape)
        if norm.channel_order == "BGR":
            images = np.flip(images, axis)
        return (images - mean) / std
    ops = keras.ops
    if not keras.backend.is_float_dtype(keras.backend.standardize_dtype(images.dtype)):
        images = ops.cast(images, keras.config.floatx())
    dtype = images.dtype
    if norm.channel_order == "BGR":
        images = ops.flip(images, axis=axis)
    mean = ops.reshape(ops.convert_to_tensor(mean, dtype=dtype), stats_shape)
    std = ops.reshape(ops.convert_to_tensor(std, dtype=dtype), stats_shape)
    return (images - mean) / std


def input_normalization(name, weights=IMAGENET) -> Normalization:
    """The :class:`~kerasnets.registry.Normalization` of network `name` with `weights`
    ("imagenet", a tag, or None), checked: an unknown tag is a ValueError listing the tags."""
    spec = get_spec(name)
    if weights is None:
        return normalization_for(spec.name, None)
    if not isinstance(weights, str):
        raise ValueError(f"`weights` must be None, {IMAGENET!r} or a weights tag of {spec.name}; "
                         f"got {type(weights).__name__} {weights!r}")
    tags = weights_tags(spec.name)
    if weights != IMAGENET and weights not in tags:
        allowed = ", ".join(repr(t) for t in (IMAGENET, *tags)) if tags else f"{IMAGENET!r}"
        raise ValueError(f"unknown `weights` tag {weights!r} for {spec.name}; one of None, "
                         f"{allowed}")
    return normalization_for(spec.name, weights if tags else None)
