"""Data sources: labelled images as `tf.data.Dataset`s, split into train, validation and test.

Every source returns a :class:`Splits` of unbatched datasets of
`(image, label)` pairs: float32 images of shape `image_shape` (height, width,
channels), int32 labels in `[0, num_classes)`. Images are scaled for the
model's preprocessing mode (`kerasnets.get_spec(name).preprocessing`, "unit"
by default: values in [0, 1]). :func:`batched` turns a split into the batches
`model.fit` reads.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from kerasnets.models.common import check_choice, check_range
from kerasnets.registry import PREPROCESSING_MODES

__all__ = ["Splits", "digits", "batched"]

# keras.applications' ImageNet statistics for the "caffe" and "torch" modes (RGB order).
_CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class Splits:
    """A labelled image data set split three ways; each split an unbatched `tf.data.Dataset`."""

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    class_names: tuple[str, ...]
    num_classes: int
    image_shape: tuple[int, int, int]

    @property
    def sizes(self) -> dict[str, int]:
        """The number of examples in each split."""
        return {
            name: int(getattr(self, name).cardinality())
            for name in ("train", "validation", "test")
        }


def digits(image_size=32, channels=1, validation_fraction=0.1, test_fraction=0.2, seed=0,
           preprocessing="unit"):
    """scikit-learn's bundled handwritten digits (1,797 8x8 images, 10 classes), resized.

    The images (0 to 16 in the original) are scaled to [0, 1], resized with
    bilinear interpolation to `image_size` (an int, or a (height, width) pair)
    and repeated to `channels` (1 or 3). The split is stratified by class and
    fixed by `seed`: `test_fraction` and `validation_fraction` of all 1,797
    images go to the test and validation splits, the rest to train.
    """
    height, width = _image_size(image_size)
    check_choice("channels", channels, (1, 3))
    check_range("validation_fraction", validation_fraction, 0, 1, high_inclusive=False)
    check_range("test_fraction", test_fraction, 0, 1, high_inclusive=False)
    check_range("seed", seed, 0, 2**32 - 1, integer=True)
    check_choice("preprocessing", preprocessing, PREPROCESSING_MODES)

    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.float32)[..., np.newaxis] / 16.0
    labels = bunch.target.astype(np.int32)
    class_names = tuple(str(name) for name in bunch.target_names)

    # Resized once, eagerly: 1,797 small images cost far less than a per-epoch map.
    images = tf.image.resize(images, (height, width), method="bilinear").numpy()
    images = np.clip(images, 0.0, 1.0)
    if channels == 3:
        images = np.repeat(images, 3, axis=-1)
    images = _scale(images, preprocessing)

    train, validation, test = _stratified_split(
        labels, validation_fraction, test_fraction, len(class_names), int(seed)
    )
    return _splits(images, labels, (train, validation, test), class_names)


def batched(ds, batch_size, shuffle=False, seed=None, augment=None):
    """Batches a split for `model.fit`/`evaluate`: cache, optional shuffle, batch, prefetch.

    With `shuffle`, the order changes every epoch and is reproducible for a `seed`.
    `augment`, a callable on a batch of images (a Keras random preprocessing
    layer, say), is applied to every batch after the cache, so it draws anew
    every epoch.
    """
    check_range("batch_size", batch_size, 1, integer=True)
    if augment is not None and not callable(augment):
        raise ValueError(f"`augment` must be None or a callable on a batch of images; got {augment!r}")
    ds = ds.cache()
    if shuffle:
        size = int(ds.cardinality())
        buffer = size if size > 0 else 10_000
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(int(batch_size))
    if augment is not None:
        # Sequential on purpose: a parallel map would draw the random numbers out of order.
        ds = ds.map(lambda images, labels: (augment(images), labels))
    return ds.prefetch(tf.data.AUTOTUNE)


def _image_size(image_size):
    if isinstance(image_size, (tuple, list)):
        if len(image_size) != 2:
            raise ValueError(
                f"`image_size` must be an integer or a (height, width) pair; got {image_size!r}"
            )
        for dim in image_size:
            check_range("image_size", dim, 1, integer=True)
        return int(image_size[0]), int(image_size[1])
    check_range("image_size", image_size, 1, integer=True)
    return int(image_size), int(image_size)


def _scale(images, preprocessing):
    """Maps [0, 1] RGB (or gray) images to the input range of a preprocessing mode."""
    if preprocessing == "unit":
        return images
    if preprocessing == "tf":
        return images * 2.0 - 1.0
    if images.shape[-1] != 3:
        raise ValueError(
            f"`preprocessing` {preprocessing!r} normalizes 3 RGB channels; use channels=3"
        )
    if preprocessing == "torch":
        return ((images - np.float32(_TORCH_MEAN)) / np.float32(_TORCH_STD)).astype(np.float32)
    # "caffe": 0-255 BGR, the ImageNet mean subtracted per channel.
    return (images[..., ::-1] * 255.0 - np.float32(_CAFFE_MEAN_RGB[::-1])).astype(np.float32)


def _split_count(fraction, total):
    return int(round(fraction * total))


def _stratified_split(labels, validation_fraction, test_fraction, num_classes, seed):
    """Indices of train, validation and test: disjoint, stratified, fixed by `seed`."""
    from sklearn.model_selection import train_test_split

    total = len(labels)
    n_test = _split_count(test_fraction, total)
    n_validation = _split_count(validation_fraction, total)
    for argument, count in (("test_fraction", n_test), ("validation_fraction", n_validation)):
        if 0 < count < num_classes:
            raise ValueError(
                f"`{argument}` gives {count} of {total} examples, fewer than the "
                f"{num_classes} classes a stratified split needs: use 0 or at least "
                f"{num_classes / total:.4f}"
            )
    if total - n_test - n_validation < num_classes:
        raise ValueError(
            f"`validation_fraction` + `test_fraction` must leave at least {num_classes} "
            f"training examples; got {validation_fraction} + {test_fraction}"
        )
    rest = np.arange(total)
    test = np.array([], dtype=np.int64)
    validation = np.array([], dtype=np.int64)
    if n_test:
        rest, test = train_test_split(
            rest, test_size=n_test, stratify=labels[rest], random_state=seed
        )
    if n_validation:
        rest, validation = train_test_split(
            rest, test_size=n_validation, stratify=labels[rest], random_state=seed
        )
    return np.sort(rest), np.sort(validation), np.sort(test)


def _splits(images, labels, indices, class_names):
    def dataset(index):
        return tf.data.Dataset.from_tensor_slices((images[index], labels[index]))

    train, validation, test = (dataset(index) for index in indices)
    return Splits(
        train=train,
        validation=validation,
        test=test,
        class_names=class_names,
        num_classes=len(class_names),
        image_shape=tuple(int(d) for d in images.shape[1:]),
    )
