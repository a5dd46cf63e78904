"""Evaluation as in the papers: centre crop, ten crops, multi-scale and dense evaluation.

The views (`center_crop`, `ten_crop`, `multi_scale`) are image operations of
:mod:`kerasnets.data.transforms` that `kerasnets.data.eval_pipeline` maps over
the data; this module runs models on them. The `predict_*` helpers average a
model's outputs over the views of each image and return `(scores, labels)`; the
`evaluate_*` helpers return `{"top1": ..., "top5": ...}`. Models are called
with `predict_on_batch` on NumPy arrays, so any Keras backend works. A `Splits`
source must have as many classes as the model scores, and the square views need
a square model (or one of any input size): both are ValueErrors before any
image is read.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerasnets.data.pipeline import eval_pipeline, resolve_preprocessing, split_dataset
from kerasnets.data.preprocess import preprocess
from kerasnets.data.sources import Splits
from kerasnets.data.transforms import (  # noqa: F401  (the views, re-exported)
    center_crop,
    decode,
    default_resize,
    multi_scale,
    resize_shorter_side,
    ten_crop,
)
from kerasnets.registry import get_spec

__all__ = [
    "center_crop",
    "ten_crop",
    "multi_scale",
    "top_k_accuracy",
    "predict",
    "evaluate",
    "evaluate_center_crop",
    "evaluate_ten_crop",
    "evaluate_multi_scale",
    "predict_dense",
    "evaluate_dense",
]


def top_k_accuracy(scores, labels, k):
    """The fraction of rows whose label is among the `k` highest scores (k capped at the classes)."""
    scores = np.asarray(scores)
    labels = np.asarray(labels).reshape(-1)
    k = min(int(k), scores.shape[-1])
    top = np.argsort(-scores, axis=-1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def _accuracies(scores, labels):
    return {"top1": top_k_accuracy(scores, labels, 1), "top5": top_k_accuracy(scores, labels, 5)}


def _class_scores(model, images):
    """Model outputs for a batch; a score map (B, h, w, K) is averaged over positions."""
    scores = np.asarray(model.predict_on_batch(images))
    if scores.ndim == 4:
        scores = scores.mean(axis=(1, 2))
    return scores


def _image_size(model, image_size):
    """The crop size: `image_size`, else the model's input size (None for any size).

    The crops are square; a model of another fixed input shape is refused
    here rather than failing on the first batch.
    """
    if image_size is not None:
        return image_size
    shape = model.input_shape
    if len(shape) != 4:
        return None
    height, width = shape[1:3]
    if height is not None and width is not None and height != width:
        raise ValueError(
            f"model {model.name!r} takes {height}x{width} (height x width) images, but the "
            "centre, ten-crop and multi-scale views are square crops: build it with a square "
            "input shape, or evaluate a form of it that takes any input size on whole images "
            "(`evaluate_dense`)"
        )
    return height if height is not None else width


def _check_classes(model, source):
    """Raises ValueError when a Splits source has another number of classes than the model scores."""
    if not isinstance(source, Splits):
        return
    shape = model.output_shape
    shape = shape[0] if isinstance(shape, list) else shape
    if shape[-1] != source.num_classes:
        raise ValueError(
            f"model {model.name!r} scores {shape[-1]} classes, but the source has "
            f"{source.num_classes}: evaluate it on the classes it was trained for"
        )


def _no_images(source, split):
    where = f" in its {split!r} split" if isinstance(source, Splits) else ""
    return ValueError(f"`source` has no images to evaluate{where}")


def predict(model, model_name, source, method="center", batch_size=32, **kwargs):
    """Averaged outputs `(scores, labels)` of `model` over the views of `method`.

    `method` and the other arguments are those of
    :func:`kerasnets.data.eval_pipeline`, the crop size being the model's
    input size unless `image_size` is given.
    """
    _check_classes(model, source)
    kwargs["image_size"] = _image_size(model, kwargs.get("image_size"))
    ds = eval_pipeline(model_name, source, batch_size, method=method, **kwargs)
    all_scores, all_labels = [], []
    for images, labels in ds.as_numpy_iterator():
        if images.ndim == 5:
            count, views = images.shape[:2]
            scores = _class_scores(model, images.reshape((count * views,) + images.shape[2:]))
            scores = scores.reshape(count, views, -1).mean(axis=1)
        else:
            scores = _class_scores(model, images)
        all_scores.append(scores)
        all_labels.append(labels)
    if not all_scores:
        raise _no_images(source, kwargs.get("split", "validation"))
    return np.concatenate(all_scores), np.concatenate(all_labels)


def evaluate(model, model_name, source, method="center", batch_size=32, **kwargs):
    """Top-1 and top-5 accuracy of `model` with the views of `method`: {"top1", "top5"}."""
    return _accuracies(*predict(model, model_name, source, method, batch_size, **kwargs))


def evaluate_center_crop(model, model_name, source, batch_size=32, **kwargs):
    """Top-1/top-5 accuracy on centre crops (see :func:`evaluate`)."""
    return evaluate(model, model_name, source, "center", batch_size, **kwargs)


def evaluate_ten_crop(model, model_name, source, batch_size=32, **kwargs):
    """Top-1/top-5 accuracy averaging the ten crops of :func:`ten_crop`."""
    return evaluate(model, model_name, source, "ten_crop", batch_size, **kwargs)


def evaluate_multi_scale(model, model_name, source, scales=None, batch_size=32, **kwargs):
    """Top-1/top-5 accuracy averaging centre crops and mirrors over test scales `scales`."""
    return evaluate(model, model_name, source, "multi_scale", batch_size, scales=scales,
                    **kwargs)


def predict_dense(model, model_name, source, scales=None, flip=True, split="validation",
                  preprocessing=None, mean=None, std=None):
    """Dense evaluation: a fully convolutional `model` on whole images, scores averaged.

    Simonyan and Zisserman (2015), section 3.2 (after Sermanet et al.'s
    OverFeat): the fully connected layers become convolutions
    (`kerasnets.models.convert.fully_convolutional`, or the AlexNet/VGG
    builders' `fully_convolutional=True`), the network runs on the whole image
    with its shorter side resized to each Q in `scales` (256 for 224-pixel
    models by default), and the class score map is averaged over positions,
    over the mirror image (`flip`) and over the scales. Images go one at a
    time, their sizes differing. Returns `(scores, labels)`.
    """
    spec = get_spec(model_name)
    channels = spec.input_shape[-1]
    mode = resolve_preprocessing(preprocessing, spec)
    _check_classes(model, source)
    if scales is None:
        scales = (default_resize(spec.input_shape[0], spec.crop_fraction),)
    ds, _ = split_dataset(source, split)

    def views(image, label):
        image = decode(image, channels)
        per_scale = []
        for scale in scales:
            resized = resize_shorter_side(image, scale)
            batch = tf.stack([resized, tf.image.flip_left_right(resized)]) if flip else resized[None]
            per_scale.append(preprocess(batch, mode, mean, std))
        return tuple(per_scale), label

    ds = ds.map(views, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)
    all_scores, all_labels = [], []
    for per_scale, label in ds.as_numpy_iterator():
        scores = np.mean([_class_scores(model, batch).mean(axis=0) for batch in per_scale], axis=0)
        all_scores.append(scores)
        all_labels.append(label)
    if not all_scores:
        raise _no_images(source, split)
    return np.stack(all_scores), np.array(all_labels)


def evaluate_dense(model, model_name, source, scales=None, flip=True, **kwargs):
    """Top-1/top-5 accuracy of dense evaluation (see :func:`predict_dense`)."""
    return _accuracies(*predict_dense(model, model_name, source, scales, flip, **kwargs))
