"""What a mobile app must know to feed an exported model: preprocessing in numbers.

The registry names a preprocessing mode per network (`ModelSpec.preprocessing`);
here each mode becomes the per-channel `mean` and `std` that map a camera pixel
`p` in [0, 255] to the model's input, `x = (p - mean) / std`, in the channel
order given, as TFLite metadata's NormalizationOptions state it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["preprocessing_info", "random_inputs", "model_preprocessing"]

_IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


def preprocessing_info(mode, channels=3):
    """The preprocessing `mode` (caffe/tf/torch/unit) as words and numbers, for `channels`."""
    if mode is None:
        return {
            "mode": None,
            "description": "unknown: the model was not built from the registry and no "
                           "preprocessing was given",
        }
    if mode == "unit":
        mean, std, order = [0.0] * channels, [255.0] * channels, "RGB"
        words = "scale pixels from [0, 255] to [0, 1]"
    elif mode == "tf":
        mean, std, order = [127.5] * channels, [127.5] * channels, "RGB"
        words = "scale pixels from [0, 255] to [-1, 1]"
    elif mode in ("torch", "caffe"):
        if channels != 3:
            raise ValueError(f"preprocessing {mode!r} normalizes 3 RGB channels; got {channels}")
        if mode == "torch":
            mean = [round(255.0 * m, 4) for m in _TORCH_MEAN]
            std = [round(255.0 * s, 4) for s in _TORCH_STD]
            order = "RGB"
            words = ("scale pixels to [0, 1], subtract the ImageNet mean and divide by the "
                     "ImageNet standard deviation, per RGB channel")
        else:
            mean, std, order = list(_IMAGENET_MEAN_RGB[::-1]), [1.0] * 3, "BGR"
            words = "reorder channels RGB to BGR and subtract the ImageNet mean per channel (0-255 scale)"
    else:
        raise ValueError(f"unknown preprocessing mode {mode!r}; one of caffe, tf, torch, unit")
    return {
        "mode": mode,
        "description": words,
        "channel_order": order,
        "pixel_range": [0, 255],
        "mean": mean,
        "std": std,
        "formula": "input = (pixel - mean) / std, per channel, in channel_order",
    }


def model_preprocessing(model):
    """The registry's preprocessing mode for a model named like a registered network, or None."""
    from kerasnets.registry import get_spec

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
