"""Per-model input preprocessing, from [0, 1] images to what each network was trained on.

The mode comes from the registry (`kerasnets.get_spec(name).preprocessing`):
"caffe" (0-255 BGR, channel means subtracted: AlexNet, VGG, ResNet v1),
"tf" (scaled to [-1, 1]: Inception, Xception, MobileNet), "torch" (mean/std
per channel) or "unit" (left in [0, 1]). Published weights bring their own
statistics (`kerasnets.registry.normalization_for(name, tag)`: torchvision's
mean/std, Caffe's BGR means, timm's 0.5/0.5), a
:class:`~kerasnets.registry.Normalization` that :func:`preprocess` takes in
place of a mode. Images here are float tensors with channels last, any rank.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from kerasnets.checks import check_choice
from kerasnets.data.statistics import dataset_statistics
from kerasnets.registry import (  # noqa: F401  (the ImageNet statistics, re-exported)
    CAFFE_MEAN_RGB,
    PREPROCESSING_MODES,
    TORCH_MEAN,
    TORCH_STD,
    Normalization,
    get_spec,
    normalization,
)

__all__ = ["CAFFE_MEAN_RGB", "TORCH_MEAN", "TORCH_STD", "preprocess", "preprocessing_mode",
           "normalize", "channel_means", "normalization_with"]


def preprocessing_mode(model_name):
    """The registered preprocessing mode of a model name ("caffe", "tf", "torch", "unit")."""
    return get_spec(model_name).preprocessing


def preprocess(images, mode, mean=None, std=None):
    """Maps [0, 1] images to the input range of a preprocessing `mode`.

    "caffe": x * 255, RGB -> BGR (3 channels), minus `mean` (RGB, 0-255 scale;
    ImageNet's by default, or the training set's from :func:`channel_means`,
    as in the VGG paper). "tf": 2x - 1. "torch": (x - mean) / std with `mean`
    and `std` on the [0, 1] scale (ImageNet's by default). "unit": x.
    A :class:`~kerasnets.registry.Normalization` (a checkpoint's statistics)
    in place of `mode` applies its own numbers: see :func:`normalize`.
    """
    if isinstance(mode, Normalization):
        if mean is not None or std is not None:
            raise ValueError(f"`mean` and `std` come with the normalization {mode.mode!r} "
                             f"given as `mode`; got mean={mean!r}, std={std!r}")
        return normalize(images, mode)
    check_choice("mode", mode, PREPROCESSING_MODES)
    images = tf.cast(images, tf.float32)
    if mode == "unit":
        return images
    norm = normalization(mode)
    channels = images.shape[-1]
    reorder = norm.channel_order == "BGR"
    # The statistics in RGB order, on the scale of `images * norm.scale` (a gray image
    # gets their average); `mean` and `std` replace them for "caffe" and "torch".
    if mode == "tf" or mean is None:
        mean = norm.mean[::-1] if reorder else norm.mean
    if mode == "tf" or std is None:
        std = norm.std[::-1] if reorder else norm.std
    mean, std = _per_channel(mean, channels, "mean"), _per_channel(std, channels, "std")
    images = (images * norm.scale - mean) / std
    return images[..., ::-1] if reorder and channels == 3 else images


def normalize(images, norm):
    """[0, 1] images (RGB, channels last) as `norm` says: `(x * scale - mean) / std` per
    channel, the channels in `norm.channel_order` (BGR: reversed first)."""
    images = tf.cast(images, tf.float32)
    channels = images.shape[-1]
    if channels is not None and channels != len(norm.mean):
        raise ValueError(f"the {norm.mode!r} normalization ({norm.channel_order}) takes "
                         f"{len(norm.mean)}-channel images; got {channels} channels")
    if norm.channel_order == "BGR":
        images = images[..., ::-1]
    mean = tf.constant(norm.mean, tf.float32)
    std = tf.constant(norm.std, tf.float32)
    return (images * norm.scale - mean) / std


def _per_channel(values, channels, argument):
    values = np.asarray(values, np.float32).reshape(-1)
    if values.size == 1 and channels != 1:
        values = np.repeat(values, channels)
    if channels is not None and values.size != channels:
        if channels == 1:
            # Gray images against RGB statistics: the mean of the three.
            return tf.constant([values.mean()], tf.float32)
        raise ValueError(
            f"`{argument}` has {values.size} values for images with {channels} channels"
        )
    return tf.constant(values, tf.float32)


def channel_means(dataset):
    """The mean pixel value of each channel over a data set, on the 0-255 scale (RGB).

    Simonyan and Zisserman (2015), section 2.1: "subtracting the mean RGB value,
    computed on the training set, from each pixel". `dataset` yields images or
    (image, label) pairs of any size: file paths, uint8, or floats in [0, 1]
    (see :func:`kerasnets.data.transforms.decode`). Pass the result as `mean` to
    :func:`preprocess` or to the pipelines.
    """
    return np.asarray(dataset_statistics(dataset).mean, np.float32)


def normalization_with(mode, mean=None, std=None, channels=3):
    """The :class:`~kerasnets.registry.Normalization` that :func:`preprocess` applies for
    `mode` with `mean` and `std` (RGB, on the scales :func:`preprocess` takes them; None:
    ImageNet's): what an export's metadata states of a run on its own statistics."""
    check_choice("mode", mode, PREPROCESSING_MODES)
    norm = normalization(mode, channels)
    if mode not in ("caffe", "torch") or (mean is None and std is None):
        return norm
    reorder = norm.channel_order == "BGR"

    def ordered(values, default):
        if values is None:
            return default
        values = tuple(float(v) for v in np.asarray(values, np.float64).reshape(-1))
        return values[::-1] if reorder else values

    return dataclasses.replace(norm, mean=ordered(mean, norm.mean), std=ordered(std, norm.std))
