"""A training set's own colour statistics: the mean RGB of VGG and the PCA of AlexNet.

Simonyan and Zisserman (2015), section 2.1: "subtracting the mean RGB value,
computed on the training set, from each pixel". Krizhevsky, Sutskever and
Hinton (2012), section 4.1: "PCA on the set of RGB pixel values throughout the
ImageNet training set", whose eigenvectors and eigenvalues shift each training
image's colours (:func:`kerasnets.data.augment.pca_lighting`).
:func:`dataset_statistics` computes both in one pass over a split.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import tensorflow as tf

from kerasnets.data.transforms import decode

__all__ = ["DatasetStatistics", "dataset_statistics"]


@dataclasses.dataclass(frozen=True)
class DatasetStatistics:
    """Per-channel statistics of a set of images' pixels.

    `mean` and `std`: per channel, on the 0-255 scale (RGB). `eigval` and
    `eigvec`: the eigenvalues (largest first) and eigenvectors (columns, in
    that order, each with a non-negative sum, so that the signs are fixed) of
    the channels' covariance for pixels in [0, 1], the eigenvalues multiplied
    by 255: the convention of `kerasnets.data.augment.IMAGENET_EIGVAL`
    (fb.resnet.torch's 0.2175 for ImageNet is 55.46 / 255), which
    :func:`~kerasnets.data.augment.pca_lighting` takes. `images` and
    `pixels`: how many went into them.
    """

    mean: tuple
    std: tuple
    eigval: tuple
    eigvec: tuple
    images: int
    pixels: int

    def to_dict(self):
        """Plain floats and lists, for YAML and JSON."""
        return {"mean": list(self.mean), "std": list(self.std), "eigval": list(self.eigval),
                "eigvec": [list(row) for row in self.eigvec], "images": self.images,
                "pixels": self.pixels}

    def preprocessing_inputs(self, mode):
        """The `mean` (and `std`) that :func:`kerasnets.data.preprocess.preprocess` and the
        pipelines take for preprocessing `mode`: "caffe" subtracts the mean on the 0-255
        scale; "torch" takes mean and std on the [0, 1] scale. ValueError for the others,
        which subtract no mean."""
        if mode == "caffe":
            return {"mean": self.mean}
        if mode == "torch":
            return {"mean": tuple(m / 255.0 for m in self.mean),
                    "std": tuple(s / 255.0 for s in self.std)}
        raise ValueError(f"preprocessing {mode!r} subtracts no mean: a training set's "
                         f"statistics apply to 'caffe' and 'torch' only")

    @classmethod
    def from_dict(cls, values):
        """The inverse of :meth:`to_dict`; a ValueError names what is missing or malformed."""
        if not isinstance(values, dict):
            raise ValueError(f"dataset statistics must be a mapping; got {values!r}")
        missing = [key for key in ("mean", "std", "eigval", "eigvec", "images", "pixels")
                   if key not in values]
        if missing:
            raise ValueError(f"dataset statistics lack {', '.join(missing)}; got {values!r}")
        try:
            mean = tuple(float(v) for v in values["mean"])
            std = tuple(float(v) for v in values["std"])
            eigval = tuple(float(v) for v in values["eigval"])
            eigvec = tuple(tuple(float(v) for v in row) for row in values["eigvec"])
        except (TypeError, ValueError):
            raise ValueError(f"dataset statistics must hold lists of numbers; got {values!r}") \
                from None
        channels = len(mean)
        if not channels or any(len(part) != channels for part in (std, eigval, eigvec)) or any(
                len(row) != channels for row in eigvec):
            raise ValueError(f"dataset statistics of {channels} channels need as many std, "
                             f"eigval and eigvec rows and columns; got {values!r}")
        return cls(mean, std, eigval, eigvec, int(values["images"]), int(values["pixels"]))


def dataset_statistics(dataset, channels=None, log=None):
    """The :class:`DatasetStatistics` of `dataset`'s pixels, in one pass.

    `dataset` yields images or (image, label) pairs of any size: file paths,
    uint8, or floats in [0, 1] (see :func:`kerasnets.data.transforms.decode`),
    decoded with `channels` (by default what the files hold; 3 for RGB
    statistics). Sums of the pixels and of their outer products are kept in
    float64; the covariance is the population one. `log` (a callable), if
    given, gets one line with the figures and the time taken.
    """
    start = time.perf_counter()

    def image_of(*element):
        return decode(element[0], channels)

    ds = dataset.map(image_of, num_parallel_calls=tf.data.AUTOTUNE)
    depth = ds.element_spec.shape[-1]
    if depth is None:
        raise ValueError("`dataset` images must have a known number of channels: pass `channels`")

    def accumulate(state, image):
        total, outer, pixels, images = state
        values = tf.reshape(tf.cast(image, tf.float64), [-1, depth])
        return (total + tf.reduce_sum(values, axis=0),
                outer + tf.matmul(values, values, transpose_a=True),
                pixels + tf.cast(tf.shape(values)[0], tf.float64), images + 1)

    initial = (tf.zeros([depth], tf.float64), tf.zeros([depth, depth], tf.float64),
               tf.constant(0.0, tf.float64), tf.constant(0, tf.int64))
    total, outer, pixels, images = (t.numpy() for t in ds.reduce(initial, accumulate))
    if pixels == 0:
        raise ValueError("`dataset` is empty: no pixels to compute statistics of")
    mean = total / pixels
    covariance = outer / pixels - np.outer(mean, mean)
    eigval, eigvec = np.linalg.eigh(covariance)
    order = np.argsort(eigval)[::-1]
    eigval, eigvec = np.clip(eigval[order], 0.0, None), eigvec[:, order]
    eigvec = eigvec * np.where(eigvec.sum(axis=0) < 0, -1.0, 1.0)
    stats = DatasetStatistics(
        mean=tuple(float(v) for v in mean * 255.0),
        std=tuple(float(v) for v in np.sqrt(np.clip(np.diag(covariance), 0.0, None)) * 255.0),
        eigval=tuple(float(v) for v in eigval * 255.0),
        eigvec=tuple(tuple(float(v) for v in row) for row in eigvec),
        images=int(images), pixels=int(pixels))
    if log is not None:
        log(f"computed the RGB mean {_rounded(stats.mean)} and PCA eigenvalues "
            f"{_rounded(stats.eigval, 3)} (0-255 scale) of {stats.images} images in "
            f"{time.perf_counter() - start:.1f} s")
    return stats


def _rounded(values, digits=1):
    return "(" + ", ".join(f"{v:.{digits}f}" for v in values) + ")"
