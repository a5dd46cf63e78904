"""What an app must know to feed an exported model: preprocessing in numbers, and more.

The registry names a preprocessing mode per network (`ModelSpec.preprocessing`);
here each mode becomes the per-channel `mean` and `std` that map a camera pixel
`p` in [0, 255] to the model's input, `x = (p - mean) / std`, in the channel
order given, as TFLite metadata's NormalizationOptions state it. The other
facts every export's `metadata.json` holds are made here too: where the
weights come from (`weights_info`: random ones are said to be random), the
class names checked against the model, the versions that wrote it.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasnets import __version__
from kerasnets.registry import get_spec, normalization

__all__ = ["preprocessing_info", "random_inputs", "model_preprocessing", "weights_info",
           "check_class_names", "producer", "value_range"]

_WORDS = {
    "unit": "scale pixels from [0, 255] to [0, 1]",
    "tf": "scale pixels from [0, 255] to [-1, 1]",
    "torch": "scale pixels to [0, 1], subtract the ImageNet mean and divide by the "
             "ImageNet standard deviation, per RGB channel",
    "caffe": "reorder channels RGB to BGR and subtract the ImageNet mean per channel "
             "(0-255 scale)",
}


def preprocessing_info(mode, channels=3):
    """The preprocessing `mode` (caffe/tf/torch/unit) as words and numbers, for `channels`."""
    if mode is None:
        return {
            "mode": None,
            "description": "unknown: the model was not built from the registry and no "
                           "preprocessing was given",
        }
    if mode not in _WORDS:
        raise ValueError(f"unknown preprocessing mode {mode!r}; one of caffe, tf, torch, unit")
    norm = normalization(mode, channels)
    mean, std = (list(round(v, 4) for v in values) for values in norm.pixel_mean_std())
    order, words = norm.channel_order, _WORDS[mode]
    return {
        "mode": mode,
        "description": words,
        "channel_order": order,
        "pixel_range": [0, 255],
        "mean": mean,
        "std": std,
        "formula": "input = (pixel - mean) / std, per channel, in channel_order",
    }


def value_range(mode):
    """(low, high) of the inputs that `mode` makes from pixels in [0, 255]; None if unknown."""
    if mode is None:
        return None
    info = preprocessing_info(mode, 3)
    mean, std = np.float64(info["mean"]), np.float64(info["std"])
    return float(np.min((0.0 - mean) / std)), float(np.max((255.0 - mean) / std))


def weights_info(random, source):
    """The `weights` entry of an export's metadata: `random` (True: untrained) and `source`."""
    return {"random": bool(random), "source": str(source)}


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
    """`count` random images of `shape` (H, W, C), preprocessed as `mode` would (unit if None)."""
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0.0, 255.0, size=(count, *shape)).astype(np.float32)
    if mode is None or (mode in ("caffe", "torch") and shape[-1] != 3):
        mode = "unit"
    info = preprocessing_info(mode, shape[-1])
    mean = np.float32(info["mean"])
    std = np.float32(info["std"])
    return ((pixels - mean) / std).astype(np.float32)
