"""Evaluation as in the papers: centre crop, ten crops, multi-scale, multi-crop, dense, ensembles.

The views (`center_crop`, `ten_crop`, `multi_scale`, `multi_crop`) are image
operations of :mod:`kerasnets.data.transforms` that `kerasnets.data.eval_pipeline`
maps over the data; this module runs models on them. The `predict_*` helpers
average a model's class probabilities over the views of each image and return
`(scores, labels)`; the `evaluate_*` helpers return `{"top1": ..., "top5": ...}`.
A model whose classifier has no softmax (built with `classifier_activation=None`:
its outputs are logits, see :func:`outputs_logits`) has the softmax applied to
each view's outputs before averaging, as the papers average the softmax. Models
are called with `predict_on_batch` on NumPy arrays, so any Keras backend works.
A `Splits` source must have as many classes as the model scores, and the square
views need a square model (or one of any input size): both are ValueErrors
before any image is read.

Combinations: :func:`predict_multi_crop_dense` averages the multi-crop and the
dense evaluation of one model (VGG's Table 5, last rows);
:func:`predict_ensemble` averages several models' probabilities (VGG combines
its S = 256 and S = 384 models; AlexNet averages several CNNs).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasnets.checks import check_range
from kerasnets.data.pipeline import (
    EVAL_METHODS,
    eval_pipeline,
    resolve_preprocessing,
    split_dataset,
)
from kerasnets.data.preprocess import preprocess
from kerasnets.data.sources import MAX_BATCH_SIZE, Splits
from kerasnets.data.transforms import (  # noqa: F401  (the views, re-exported)
    center_crop,
    decode,
    default_resize,
    default_scales,
    multi_crop,
    multi_scale,
    resize_shorter_side,
    ten_crop,
)
from kerasnets.models.convert import fully_convolutional
from kerasnets.registry import get_spec

__all__ = [
    "center_crop",
    "ten_crop",
    "multi_scale",
    "multi_crop",
    "ENSEMBLE_METHODS",
    "outputs_logits",
    "top_k_accuracy",
    "predict",
    "evaluate",
    "evaluate_center_crop",
    "evaluate_ten_crop",
    "evaluate_multi_scale",
    "predict_multi_crop",
    "evaluate_multi_crop",
    "whole_image_form",
    "predict_dense",
    "evaluate_dense",
    "predict_multi_crop_dense",
    "evaluate_multi_crop_dense",
    "predict_ensemble",
    "evaluate_ensemble",
]

# What `predict_ensemble` can run: the cropped views, dense, and multi-crop & dense.
ENSEMBLE_METHODS = EVAL_METHODS + ("dense", "multi_crop+dense")
# Layers between a classifier and the model's output that keep probabilities probabilities.
_PASS_THROUGH = (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalAveragePooling1D,
                 keras.layers.AveragePooling2D, keras.layers.Dropout, keras.layers.Flatten,
                 keras.layers.Reshape, keras.layers.Identity)


def top_k_accuracy(scores, labels, k):
    """The fraction of rows whose label is among the `k` highest scores (k capped at the classes)."""
    scores = np.asarray(scores)
    labels = np.asarray(labels).reshape(-1)
    k = min(int(k), scores.shape[-1])
    top = np.argsort(-scores, axis=-1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def _accuracies(scores, labels):
    return {"top1": top_k_accuracy(scores, labels, 1), "top5": top_k_accuracy(scores, labels, 5)}


def outputs_logits(model):
    """True when `model`'s (first) output is logits: no softmax ends its classifier.

    The output layer is followed back through pooling, dropout, reshaping and
    linear activations (the float32 cast of mixed precision, the spatial
    average of `fully_convolutional`) to the layer that computed the scores:
    a `Softmax` layer or a softmax activation gives probabilities; a linear
    activation (`classifier_activation=None`) or a layer without one gives
    logits. Another activation (a sigmoid, ...) counts as probabilities:
    its outputs are averaged as they are. The same rule as
    `kerasnets.training.losses.is_logits`, which training uses for the loss.
    """
    tensor = model.outputs[0]
    while True:
        layer, node_index, _ = tensor._keras_history
        if isinstance(layer, keras.layers.Softmax):
            return False
        activation = getattr(layer, "activation", None)
        name = getattr(activation, "__name__", None)
        linear = activation is None or name == "linear"
        passes = isinstance(layer, _PASS_THROUGH) or (
            isinstance(layer, keras.layers.Activation) and linear)
        if not passes:
            return linear
        inputs = layer._inbound_nodes[node_index].input_tensors
        if len(inputs) != 1:
            return linear
        tensor = inputs[0]


def _softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def _class_scores(model, images, logits=False, chunk=None):
    """Class probabilities for a batch (softmax of `logits`), at most `chunk` images a call.

    A score map (B, h, w, K) is averaged over positions (after the softmax).
    """
    chunk = chunk or len(images)
    parts = []
    for start in range(0, len(images), chunk):
        scores = np.asarray(model.predict_on_batch(images[start:start + chunk]))
        if logits:
            scores = _softmax(scores.astype(np.float64)).astype(scores.dtype)
        if scores.ndim == 4:
            scores = scores.mean(axis=(1, 2))
        parts.append(scores)
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


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
    """Averaged probabilities `(scores, labels)` of `model` over the views of `method`.

    `method` and the other arguments are those of
    :func:`kerasnets.data.eval_pipeline`, the crop size being the model's
    input size unless `image_size` is given. For "multi_crop" (150 views an
    image at the defaults) `batch_size` counts crops, not images: the model
    scores at most `batch_size` crops a call, and images are read
    max(1, batch_size // crops per image) at a time, so that memory holds
    about `batch_size` crops (or one image's) rather than images x 150.
    """
    _check_classes(model, source)
    kwargs["image_size"] = _image_size(model, kwargs.get("image_size"))
    logits = outputs_logits(model)
    chunk, images_per_batch = None, batch_size
    if method == "multi_crop":
        check_range("batch_size", batch_size, 1, MAX_BATCH_SIZE, integer=True)
        grid = check_range("grid", kwargs.get("grid", 5), 1, integer=True)
        scales = kwargs.get("scales")
        # The pipeline checks the scales; a malformed value counts one here.
        count = len(scales) if hasattr(scales, "__len__") else 3 if scales is None else 1
        views = max(1, count) * int(grid) ** 2 * 2
        chunk, images_per_batch = int(batch_size), max(1, int(batch_size) // views)
    ds = eval_pipeline(model_name, source, images_per_batch, method=method, **kwargs)
    all_scores, all_labels = [], []
    for images, labels in ds.as_numpy_iterator():
        if images.ndim == 5:
            count, views = images.shape[:2]
            scores = _class_scores(model, images.reshape((count * views,) + images.shape[2:]),
                                   logits, chunk)
            scores = scores.reshape(count, views, -1).mean(axis=1)
        else:
            scores = _class_scores(model, images, logits)
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


def predict_multi_crop(model, model_name, source, scales=None, grid=5, batch_size=64,
                       **kwargs):
    """Multi-crop evaluation `(scores, labels)`: probabilities averaged over VGG's crops.

    Simonyan and Zisserman (2015), section 3.2 and Table 5: at each test scale
    Q in `scales` ((256, 384, 512) scaled by the crop size / 224 by default) a
    `grid` x `grid` grid of crops and their mirrors, 150 crops an image at the
    defaults (:func:`kerasnets.data.transforms.multi_crop`). `batch_size`
    counts crops: the model scores at most that many a call (see
    :func:`predict`). Other arguments are those of
    :func:`kerasnets.data.eval_pipeline`.
    """
    return predict(model, model_name, source, "multi_crop", batch_size, scales=scales,
                   grid=grid, **kwargs)


def evaluate_multi_crop(model, model_name, source, scales=None, grid=5, batch_size=64,
                        **kwargs):
    """Top-1/top-5 accuracy of multi-crop evaluation (see :func:`predict_multi_crop`)."""
    return _accuracies(*predict_multi_crop(model, model_name, source, scales, grid, batch_size,
                                           **kwargs))


def whole_image_form(model, model_name):
    """`model` in a form that runs on whole images of any size, for dense evaluation.

    A model that already takes any height and width is returned as it is. A
    fixed-input network of registered name `model_name` (a flattened map
    under a fully connected classifier: LeNet-5, AlexNet, VGG) has its
    classifier made convolutional
    (:func:`kerasnets.models.convert.fully_convolutional`); any other network
    is rebuilt on an input of any height and width, with its weights. A
    ValueError says why a model cannot be rebuilt.
    """
    shape = model.input_shape
    if shape[1] is None and shape[2] is None:
        return model
    try:
        if get_spec(model_name).fixed_input:
            return fully_convolutional(model)
        whole = keras.models.clone_model(model, input_tensors=keras.Input((None, None, shape[3])))
        whole.set_weights(model.get_weights())
        return whole
    except Exception as err:  # noqa: BLE001  (any layer that needs its input size)
        lines = str(err).strip().splitlines()
        raise ValueError(
            f"dense evaluation runs the network on whole images, but model {model.name!r} "
            f"takes only {shape[1]}x{shape[2]} images and cannot be rebuilt for any size: "
            f"{lines[0] if lines else type(err).__name__}") from err


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
    logits = outputs_logits(model)
    all_scores, all_labels = [], []
    for per_scale, label in ds.as_numpy_iterator():
        scores = np.mean([_class_scores(model, batch, logits).mean(axis=0)
                          for batch in per_scale], axis=0)
        all_scores.append(scores)
        all_labels.append(label)
    if not all_scores:
        raise _no_images(source, split)
    return np.stack(all_scores), np.array(all_labels)


def evaluate_dense(model, model_name, source, scales=None, flip=True, **kwargs):
    """Top-1/top-5 accuracy of dense evaluation (see :func:`predict_dense`)."""
    return _accuracies(*predict_dense(model, model_name, source, scales, flip, **kwargs))


def _same_labels(labels, first, what, other):
    if not np.array_equal(labels, first):
        where = int(np.argmax(labels != first)) if labels.shape == first.shape else None
        detail = (f"the labels differ first at image {where}" if where is not None else
                  f"{len(first)} and {len(labels)} images")
        raise ValueError(f"{what} and {other} read the images in different orders ({detail}): "
                         "evaluate a source that yields the same images in the same order "
                         "every time it is read (no reshuffling)")


def predict_multi_crop_dense(model, model_name, source, scales=None, grid=5, batch_size=64,
                             flip=True, split="validation", image_size=None, preprocessing=None,
                             mean=None, std=None, dense_model=None):
    """Multi-crop & dense evaluation `(scores, labels)`: the two probabilities averaged.

    Simonyan and Zisserman (2015), Table 5, its best rows: the soft-max of
    multi-crop evaluation (:func:`predict_multi_crop`, `model` on crops) and
    of dense evaluation (:func:`predict_dense`, `dense_model` on whole images:
    :func:`whole_image_form` of `model` by default) averaged per image, both at
    the test scales `scales` ((256, 384, 512) scaled by the crop size / 224 by
    default). The two passes must see the images in the same order: their
    labels are compared, a ValueError if they differ.
    """
    size = _image_size(model, image_size)
    if scales is None:
        scales = default_scales(size if size is not None else get_spec(model_name).input_shape[0])
    common = {"split": split, "preprocessing": preprocessing, "mean": mean, "std": std}
    crops, labels = predict_multi_crop(model, model_name, source, scales, grid, batch_size,
                                       image_size=size, **common)
    dense_model = whole_image_form(model, model_name) if dense_model is None else dense_model
    dense, dense_labels = predict_dense(dense_model, model_name, source, scales, flip, **common)
    _same_labels(dense_labels, labels, "the dense pass", "the multi-crop pass")
    return (crops + dense) / 2, labels


def evaluate_multi_crop_dense(model, model_name, source, scales=None, grid=5, batch_size=64,
                              **kwargs):
    """Top-1/top-5 accuracy of multi-crop & dense evaluation (:func:`predict_multi_crop_dense`)."""
    return _accuracies(*predict_multi_crop_dense(model, model_name, source, scales, grid,
                                                 batch_size, **kwargs))


def _predict_method(model, model_name, source, method, batch_size, kwargs):
    if method == "dense":
        return predict_dense(whole_image_form(model, model_name), model_name, source, **kwargs)
    if method == "multi_crop+dense":
        return predict_multi_crop_dense(model, model_name, source, batch_size=batch_size,
                                        **kwargs)
    return predict(model, model_name, source, method, batch_size, **kwargs)


def _output_classes(model):
    shape = model.output_shape
    return (shape[0] if isinstance(shape, list) else shape)[-1]


def predict_ensemble(models, model_name, source, method="center", batch_size=32, **kwargs):
    """An ensemble's `(scores, labels)`: the models' class probabilities averaged per image.

    Krizhevsky et al. (2012), section 6, average the predictions of several
    CNNs; Simonyan and Zisserman (2015), section 4.4, the soft-max outputs of
    several models. Each of `models` (Keras models registered as `model_name`,
    taking the same input and scoring the same classes) is evaluated with
    `method`, one of :data:`ENSEMBLE_METHODS` ("center", "ten_crop",
    "multi_scale", "multi_crop", "dense" on each model's
    :func:`whole_image_form`, or "multi_crop+dense"), and the other arguments
    of that method; a model of logits has the softmax applied first
    (:func:`outputs_logits`). Every model must see the images in the same
    order: their labels are compared, a ValueError if they differ.
    """
    if isinstance(models, keras.Model) or not isinstance(models, (list, tuple)) or not models:
        raise ValueError(f"`models` must be a non-empty list of Keras models; got "
                         f"{type(models).__name__} {models!r:.80}")
    if method not in ENSEMBLE_METHODS:
        raise ValueError(f"`method` must be one of {', '.join(map(repr, ENSEMBLE_METHODS))}; "
                         f"got {method!r}")
    for index, model in enumerate(models):
        if not isinstance(model, keras.Model):
            raise ValueError(f"`models[{index}]` must be a Keras model; got "
                             f"{type(model).__name__}")
        if index and tuple(model.input_shape) != tuple(models[0].input_shape):
            raise ValueError(f"`models[{index}]` ({model.name!r}) takes input "
                             f"{model.input_shape}, but `models[0]` ({models[0].name!r}) takes "
                             f"{models[0].input_shape}: an ensemble's models take the same input")
        if index and _output_classes(model) != _output_classes(models[0]):
            raise ValueError(f"`models[{index}]` ({model.name!r}) scores "
                             f"{_output_classes(model)} classes, but `models[0]` "
                             f"({models[0].name!r}) scores {_output_classes(models[0])}: an "
                             f"ensemble's models score the same classes")
    total, first = None, None
    for index, model in enumerate(models):
        scores, labels = _predict_method(model, model_name, source, method, batch_size, kwargs)
        if first is None:
            total, first = scores.astype(np.float64), labels
        else:
            _same_labels(labels, first, f"`models[{index}]`", "`models[0]`")
            total += scores
    return (total / len(models)).astype(np.float32), first


def evaluate_ensemble(models, model_name, source, method="center", batch_size=32, **kwargs):
    """Top-1/top-5 accuracy of an ensemble of `models` (see :func:`predict_ensemble`)."""
    return _accuracies(*predict_ensemble(models, model_name, source, method, batch_size,
                                         **kwargs))
