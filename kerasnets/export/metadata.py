"""What an app must know to feed an exported model: preprocessing in numbers, and more.

The registry names a preprocessing mode per network (`ModelSpec.preprocessing`),
and each published checkpoint its own statistics (a
:class:`~kerasnets.registry.Normalization`: torchvision's mean/std, Caffe's BGR
means); here either becomes the per-channel `mean` and `std` that map a camera
pixel `p` in [0, 255] to the model's input, `x = (p - mean) / std`, in the
channel order given, as TFLite metadata's NormalizationOptions state it. The
other facts every export's `metadata.json` holds are made here too: where the
weights come from (`weights_info`: random ones are said to be random;
`published_export`: a weights tag's checkpoint, its preprocessing and, for
ImageNet, the 1000 class names of `labels.txt`), the class names checked
against the model, the versions that wrote it.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasnets import __version__
from kerasnets.imagenet import NUM_CLASSES, class_names
from kerasnets.registry import (
    Normalization,
    get_spec,
    normalization,
    normalization_for,
    published_weights,
)

__all__ = ["preprocessing_info", "random_inputs", "model_preprocessing", "weights_info",
           "published_export", "check_class_names", "producer", "value_range"]

# The data set whose class names ship with the package (kerasnets.imagenet).
IMAGENET_DATASET = "imagenet-1k"

_WORDS = {
    "unit": "scale pixels from [0, 255] to [0, 1]",
    "tf": "scale pixels from [0, 255] to [-1, 1]",
    "torch": "scale pixels to [0, 1], subtract the ImageNet mean and divide by the "
             "ImageNet standard deviation, per RGB channel",
    "caffe": "reorder channels RGB to BGR and subtract the ImageNet mean per channel "
             "(0-255 scale)",
}


def preprocessing_info(mode, channels=3):
    """The preprocessing `mode` (caffe/tf/torch/unit, or a checkpoint's
    :class:`~kerasnets.registry.Normalization`) as words and numbers, for `channels`."""
    if mode is None:
        return {
            "mode": None,
            "description": "unknown: the model was not built from the registry and no "
                           "preprocessing was given",
        }
    if isinstance(mode, Normalization):
        norm, words = mode, _normalization_words(mode)
        if len(norm.mean) != channels:
            raise ValueError(f"the {norm.mode!r} normalization ({norm.channel_order}) is for "
                             f"{len(norm.mean)}-channel images; the model takes {channels}")
        mode = norm.mode
    elif mode not in _WORDS:
        raise ValueError(f"unknown preprocessing mode {mode!r}; one of caffe, tf, torch, unit")
    else:
        norm, words = normalization(mode, channels), _WORDS[mode]
    mean, std = (list(round(v, 4) for v in values) for values in norm.pixel_mean_std())
    order = norm.channel_order
    return {
        "mode": mode,
        "description": words,
        "channel_order": order,
        "pixel_range": [0, 255],
        "mean": mean,
        "std": std,
        "formula": "input = (pixel - mean) / std, per channel, in channel_order",
    }


def _normalization_words(norm):
    """A normalization in words (a checkpoint's, or a training set's own statistics): its
    mode's when it is that mode's arithmetic."""
    if norm.mode in _WORDS:
        try:
            if normalization(norm.mode, len(norm.mean)) == norm:
                return _WORDS[norm.mode]
        except ValueError:
            pass
    reorder = "reorder channels RGB to BGR, " if norm.channel_order == "BGR" else ""
    scale = f"{norm.scale:g}"
    return (f"{reorder}scale pixels from [0, 255] to [0, {scale}], subtract the mean "
            f"and divide by the standard deviation below, per channel")


def value_range(mode):
    """(low, high) of the inputs that `mode` (or a Normalization) makes from pixels in
    [0, 255]; None if unknown."""
    if mode is None:
        return None
    channels = len(mode.mean) if isinstance(mode, Normalization) else 3
    info = preprocessing_info(mode, channels)
    mean, std = np.float64(info["mean"]), np.float64(info["std"])
    return float(np.min((0.0 - mean) / std)), float(np.max((255.0 - mean) / std))


def weights_info(random, source):
    """The `weights` entry of an export's metadata: `random` (True: untrained) and `source`."""
    return {"random": bool(random), "source": str(source)}


def published_export(network, tag, model=None):
    """What an export of `network` built with the weights `tag` ("imagenet" or a tag) records.

    A dict: "preprocessing", the checkpoint's
    :class:`~kerasnets.registry.Normalization` (:func:`preprocessing_info` reads it);
    "weights", the metadata's `weights` entry (:func:`weights_info` with the
    network, the tag and its "checkpoint": source, URL, format, top-1, licence,
    input size, crop fraction, builder structure); "class_names", the 1000
    ImageNet class names (`kerasnets.imagenet`) for an ImageNet-1k checkpoint
    whose classifier `model` keeps (None otherwise: include_top=False, or other
    classes).
    """
    spec = get_spec(network)
    published = published_weights(spec.name, tag)
    checkpoint = published.describe()
    checkpoint.pop("normalization")  # the metadata's "preprocessing" states it
    weights = weights_info(False, f"{published.source}'s {published.network or spec.name} "
                                  f"checkpoint (weights={tag!r})")
    weights.update(network=spec.name, tag=tag, checkpoint=checkpoint)
    names = None
    classes = None if model is None else model.outputs[0].shape[-1]
    if published.dataset == IMAGENET_DATASET and classes == NUM_CLASSES:
        names = class_names()
    return {"preprocessing": normalization_for(spec.name, tag), "weights": weights,
            "class_names": names}


def check_class_names(model, class_names):
    """`class_names` as a list of strings, one per class of `model`'s (first) output."""
    if class_names is None:
        return None
    if isinstance(class_names, (str, bytes)):
        raise ValueError("`class_names` must be a list of names, one per class; got a string")
    names = [str(c) for c in class_names]
    if any("\n" in c or "\r" in c for c in names):
        raise ValueError("class names must not contain line breaks")
    classes = model.outputs[0].shape[-1]
    if classes is not None and len(names) != classes:
        raise ValueError(f"{len(names)} class names for a model with {classes} output classes")
    return names


def producer():
    """The versions that wrote an export."""
    versions = {"kerasnets": __version__, "keras": keras.__version__}
    try:
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    except ImportError:
        versions["tensorflow"] = None
    return versions


def model_preprocessing(model):
    """The registry's preprocessing mode for a model named like a registered network, or None."""
    try:
        return get_spec(model.name).preprocessing
    except (ValueError, TypeError):
        return None


def random_inputs(shape, mode, count=8, seed=0):
    """`count` random images of `shape` (H, W, C), preprocessed as `mode` (a mode or a
    Normalization) would (unit if None)."""
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0.0, 255.0, size=(count, *shape)).astype(np.float32)
    if isinstance(mode, Normalization):
        if len(mode.mean) != shape[-1]:
            mode = "unit"
    elif mode is None or (mode in ("caffe", "torch") and shape[-1] != 3):
        mode = "unit"
    info = preprocessing_info(mode, shape[-1])
    mean = np.float32(info["mean"])
    std = np.float32(info["std"])
    return ((pixels - mean) / std).astype(np.float32)
