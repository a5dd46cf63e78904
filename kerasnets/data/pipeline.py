"""The pipeline builder: one call from a model name and a source to batches for `fit`/`evaluate`.

`train_pipeline` decodes, augments (the model family's paper policy, plus
optional rotation, noise, RandAugment, MixUp, CutMix), preprocesses (the
registry's mode), batches and prefetches, with parallel maps. Randomness is
stateless: each element gets its own seed from `tf.data.Dataset.random`, a
new sequence every epoch, so that with `seed` and `deterministic=True` two
runs give identical batches. `eval_pipeline` gives centre crops, ten crops,
multi-scale or multi-crop views (see `kerasnets.data.evaluate`). With `weights=` (a
published weights tag of the network, or "imagenet"), preprocessing travels
with the checkpoint: its mean/std and channel order (BGR for Caffe
checkpoints), its crop fraction and its input size replace the network's.

A source is a :class:`~kerasnets.data.sources.Splits` (its `split` is used)
or a `tf.data.Dataset` of `(image, label)` pairs, the image a file path
(tf.string), an integer image (uint8 scaled by 255) or a float image in [0, 1].
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerasnets.checks import check_bool, check_choice, check_range
from kerasnets.data import augment as aug
from kerasnets.data.preprocess import preprocess
from kerasnets.data.sources import MAX_BATCH_SIZE, Splits
from kerasnets.data.statistics import DatasetStatistics
from kerasnets.data.transforms import (
    center_crop,
    decode,
    default_resize,
    default_scales,
    multi_crop,
    multi_scale,
    ten_crop,
)
from kerasnets.registry import (
    PREPROCESSING_MODES,
    get_spec,
    normalization_for,
    published_weights,
)

__all__ = ["POLICIES", "EVAL_METHODS", "decode", "default_policy", "train_pipeline",
           "eval_pipeline", "resolve_preprocessing", "weights_inputs", "split_dataset"]

# The names of the training augmentation policies (kerasnets.data.augment.POLICIES).
POLICIES = tuple(aug.POLICIES)
EVAL_METHODS = ("center", "ten_crop", "multi_scale", "multi_crop")


def default_policy(model_name):
    """The augmentation policy of a model's paper (its registry entry's `augmentation`):
    "alexnet", "vgg", "inception" or "none"."""
    return get_spec(model_name).augmentation


def train_pipeline(model_name, source, batch_size=32, *, policy=None, image_size=None,
                   seed=None, deterministic=True, cache=False, shuffle=True,
                   shuffle_buffer=None, repeat=False, drop_remainder=False,
                   scale_range=None, pca=True, rotation=0.0, noise=0.0, randaugment=False,
                   mixup=0.0, cutmix=0.0, num_classes=None, preprocessing=None, mean=None,
                   std=None, split="train", weights=None, crop_area=None,
                   color_distortion=None):
    """The training `tf.data.Dataset` of `model_name` over a source: (images, labels) batches.

    Images come out `image_size` square (the registry's input size by default; the
    checkpoint's with `weights`) with the model's channels, augmented by `policy`
    (:func:`default_policy` by default) then, if asked, `rotation` (max degrees),
    Gaussian `noise` (stddev), Keras' `RandAugment`, `MixUp` (alpha) and `CutMix`
    (factor), and preprocessed by `preprocessing` (the registry's mode by default;
    `mean` and `std` as in :func:`kerasnets.data.preprocess.preprocess`), or, with
    `weights` (None, "imagenet" or a weights tag of the network), as that
    checkpoint expects: see :func:`weights_inputs`. Labels are int32, or one-hot
    float32 of `num_classes` (from a Splits source by default) with MixUp or
    CutMix. `batch_size` is an integer in [1, 65536]
    (`kerasnets.data.sources.MAX_BATCH_SIZE`). `scale_range` is VGG's [S_min,
    S_max], two integers with image_size <= S_min <= S_max ((256, 512) scaled by
    image_size / 224 by default; equal ends for a fixed S), for the "vgg" policy
    only: the others refuse it. `pca` switches AlexNet's PCA lighting (skipped for
    1-channel models, which have no RGB to shift): True (ImageNet's eigenvalues
    and eigenvectors), False, or the training set's, as a
    :class:`~kerasnets.data.statistics.DatasetStatistics` or an (eigval,
    eigvec) pair. For the "inception" policy
    only (the others refuse them): `crop_area` (low, high), the random crop's
    share of the image area, 0 < low <= high <= 1 ((0.08, 1) by default), and
    `color_distortion`, the strength of its photometric distortions in [0, 2]
    (1 by default, 0 for none).

    `cache` (True for memory or a file name) keeps decoded images between
    epochs; the Keras layers (RandAugment, MixUp, CutMix) run sequentially on
    batches, everything else in parallel maps. With a `seed` and
    `deterministic=True` two runs give identical batches; `deterministic=False`
    lets parallel maps hand elements over out of order, for speed.
    """
    spec = get_spec(model_name)
    inputs = weights_inputs(spec, weights, preprocessing, mean, std)
    size = _size(image_size, spec, inputs["input_size"])
    channels = spec.input_shape[-1]
    policy = default_policy(model_name) if policy is None else policy
    check_choice("policy", policy, POLICIES)
    check_range("batch_size", batch_size, 1, MAX_BATCH_SIZE, integer=True)
    scale_range = _scale_range(scale_range, policy, size)
    crop_area, color_distortion = _inception_options(crop_area, color_distortion, policy)
    check_bool("deterministic", deterministic)
    check_bool("shuffle", shuffle)
    check_bool("randaugment", randaugment)
    check_range("rotation", rotation, 0, 180)
    check_range("noise", noise, 0)
    check_range("mixup", mixup, 0)
    check_range("cutmix", cutmix, 0)
    if seed is not None:
        check_range("seed", seed, 0, 2**31 - 2, integer=True)
    mode = inputs["preprocessing"]
    ds, num_classes = split_dataset(source, split, num_classes)
    if (mixup or cutmix) and not num_classes:
        raise ValueError("`num_classes` is needed for one-hot labels with `mixup` or `cutmix`")
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31 - 2))
    files = ds.element_spec[0].dtype == tf.string

    def read(image, label):
        return decode(image, channels), label

    if cache:
        ds = ds.map(read, num_parallel_calls=tf.data.AUTOTUNE)
        ds = _skip_bad_files(ds, files)
        ds = ds.cache() if cache is True else ds.cache(str(cache))
    if shuffle:
        ds = ds.shuffle(_buffer(ds, shuffle_buffer), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    # One seed per element, a new sequence every epoch (rerandomize_each_iteration).
    seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True).batch(2)
    ds = tf.data.Dataset.zip((ds, seeds))
    policy_fn = aug.POLICIES[policy]
    pca, pca_eigen = _pca(pca)
    options = aug.PolicyOptions(size=size, scale_range=scale_range, pca=pca,
                                pca_eigen=pca_eigen,
                                crop_fraction=inputs["crop_fraction"], area_range=crop_area,
                                color_distortion=color_distortion)

    def augment(element, element_seed):
        image, label = element
        if not cache:
            image, label = read(image, label)
        policy_seed, rotation_seed, noise_seed = tf.unstack(
            tf.random.experimental.stateless_split(element_seed, 3))
        image = policy_fn(image, policy_seed, options)
        if rotation:
            image = aug.random_rotation(image, rotation_seed, rotation)
        if noise:
            image = aug.gaussian_noise(image, noise_seed, noise)
        return tf.ensure_shape(image, (size, size, channels)), label

    ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    if not cache:
        ds = _skip_bad_files(ds, files)
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder,
                  num_parallel_calls=tf.data.AUTOTUNE)
    ds = _batch_augment(ds, randaugment, mixup, cutmix, num_classes, seed)
    ds = ds.map(lambda images, labels: (preprocess(images, mode, mean, std), labels),
                num_parallel_calls=tf.data.AUTOTUNE)
    return _finish(ds, deterministic)


def eval_pipeline(model_name, source, batch_size=32, *, method="center", image_size=None,
                  resize=None, scales=None, grid=5, cache=False, preprocessing=None, mean=None,
                  std=None, split="validation", deterministic=True, weights=None):
    """The evaluation `tf.data.Dataset` of `model_name`: (views, labels) batches, in order.

    `method` "center": images (B, size, size, C), the centre crop after
    resizing the shorter side to `resize` (by default size / the network's
    `crop_fraction`: 256 for 224 and for AlexNet's 227). "ten_crop": (B, 10,
    size, size, C), see :func:`kerasnets.data.transforms.ten_crop`. "multi_scale": (B, 2 * len(Q),
    size, size, C), the centre crop and its mirror at each test scale Q in
    `scales` ((256, 384, 512) scaled by size / 224 by default). "multi_crop":
    (B, len(Q) * grid * grid * 2, size, size, C), VGG's `grid` x `grid` crops and
    their mirrors at each test scale Q in `scales` (150 views at the defaults),
    see :func:`kerasnets.data.transforms.multi_crop`. `resize` and
    every scale are integers no smaller than the crop `size` (a ValueError
    here, not when the data is read); `batch_size` is an integer in [1, 65536].
    `weights` (None, "imagenet" or a weights tag of the network): the
    checkpoint's input size, crop fraction and preprocessing replace the
    network's (:func:`weights_inputs`), as the source evaluated it.
    Dense evaluation works on whole images: see
    :func:`kerasnets.data.evaluate.evaluate_dense`.
    """
    spec = get_spec(model_name)
    inputs = weights_inputs(spec, weights, preprocessing, mean, std)
    size = _size(image_size, spec, inputs["input_size"])
    channels = spec.input_shape[-1]
    check_choice("method", method, EVAL_METHODS)
    check_range("batch_size", batch_size, 1, MAX_BATCH_SIZE, integer=True)
    check_range("grid", grid, 1, integer=True)
    mode = inputs["preprocessing"]
    resize = default_resize(size, inputs["crop_fraction"]) if resize is None \
        else _resize(resize, size)
    scales = default_scales(size) if scales is None else _scales(scales, size)
    ds, _ = split_dataset(source, split, None)
    files = ds.element_spec[0].dtype == tf.string
    ds = ds.map(lambda image, label: (decode(image, channels), label),
                num_parallel_calls=tf.data.AUTOTUNE)
    ds = _skip_bad_files(ds, files)
    if cache:
        ds = ds.cache() if cache is True else ds.cache(str(cache))

    def views(image, label):
        if method == "center":
            image = center_crop(image, size, resize)
        elif method == "ten_crop":
            image = ten_crop(image, size, resize)
        elif method == "multi_crop":
            image = multi_crop(image, size, scales, int(grid))
        else:
            image = multi_scale(image, size, scales)
        return image, label

    ds = ds.map(views, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(int(batch_size), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda images, labels: (preprocess(images, mode, mean, std), labels),
                num_parallel_calls=tf.data.AUTOTUNE)
    return _finish(ds, deterministic)


def _size(image_size, spec, input_size=None):
    if image_size is None:
        height, width = input_size or spec.input_shape[:2]
        if height != width:
            raise ValueError(f"{spec.name} takes {height}x{width} inputs: pass a square `image_size`")
        return int(height)
    check_range("image_size", image_size, 1, integer=True)
    return int(image_size)


def _is_integer(value):
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, bool) and float(value).is_integer())


def _resize(resize, size):
    """The shorter side to resize to before cropping `size`: an integer >= size."""
    if not _is_integer(resize) or resize < size:
        raise ValueError(f"`resize` must be an integer no smaller than the crop size "
                         f"(image_size) {size}; got {resize!r}")
    return int(resize)


def _scales(scales, size):
    if isinstance(scales, (str, bytes)) or not hasattr(scales, "__iter__"):
        raise ValueError(f"`scales` must be a sequence of test scales (integers no smaller "
                         f"than the crop size {size}); got {scales!r}")
    scales = tuple(scales)
    if not scales:
        raise ValueError(f"`scales` must hold at least one test scale; got {scales!r}")
    for scale in scales:
        if not _is_integer(scale) or scale < size:
            raise ValueError(f"`scales` must be integers no smaller than the crop size "
                             f"(image_size) {size}; got {scale!r} in {scales!r}")
    return tuple(int(scale) for scale in scales)


def _inception_options(crop_area, color_distortion, policy):
    """(area_range, colour strength) for the "inception" policy, checked; the others refuse them."""
    if policy != "inception":
        for name, value in (("crop_area", crop_area), ("color_distortion", color_distortion)):
            if value is not None:
                raise ValueError(f"`{name}` is used by the 'inception' policy only; policy "
                                 f"{policy!r} ignores it: pass {name}=None or "
                                 f"policy='inception' (got {name}={value!r})")
        return None, 1.0
    if crop_area is not None:
        ok = (not isinstance(crop_area, (str, bytes)) and hasattr(crop_area, "__len__")
              and len(crop_area) == 2
              and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in crop_area))
        if not ok or not 0 < crop_area[0] <= crop_area[1] <= 1:
            raise ValueError(f"`crop_area` must be a pair (low, high) of area fractions with "
                             f"0 < low <= high <= 1; got {crop_area!r}")
        crop_area = (float(crop_area[0]), float(crop_area[1]))
    if color_distortion is None:
        return crop_area, 1.0
    return crop_area, float(check_range("color_distortion", color_distortion, 0, 2))


def _scale_range(scale_range, policy, size):
    """VGG's (S_min, S_max) for the "vgg" policy, checked; None for the others, which refuse one."""
    if policy != "vgg":
        if scale_range is not None:
            raise ValueError(f"`scale_range` is used by the 'vgg' policy only; policy {policy!r} "
                             f"ignores it: pass scale_range=None or policy='vgg' "
                             f"(got scale_range={scale_range!r})")
        return None
    if scale_range is None:
        return tuple(int(round(s * size / 224)) for s in (256, 512))
    if (isinstance(scale_range, (str, bytes)) or not hasattr(scale_range, "__len__")
            or len(scale_range) != 2):
        raise ValueError(f"`scale_range` must be a pair (S_min, S_max) for policy 'vgg'; "
                         f"got {scale_range!r}")
    low, high = scale_range
    if not (_is_integer(low) and _is_integer(high)) or low < 1 or high < 1:
        raise ValueError(f"`scale_range` must be two positive integers (S_min, S_max) for "
                         f"policy 'vgg'; got {scale_range!r}")
    if low > high:
        raise ValueError(f"`scale_range` must have S_min <= S_max for policy 'vgg'; "
                         f"got {scale_range!r}")
    if low < size:
        raise ValueError(f"`scale_range` S_min must be no smaller than the crop size "
                         f"(image_size) {size} for policy 'vgg'; got {scale_range!r}")
    return int(low), int(high)


def resolve_preprocessing(preprocessing, spec):
    """The preprocessing mode to apply: `preprocessing` if given, else the registry's, checked."""
    mode = spec.preprocessing if preprocessing is None else preprocessing
    check_choice("preprocessing", mode, PREPROCESSING_MODES)
    return mode


def weights_inputs(spec, weights=None, preprocessing=None, mean=None, std=None):
    """What the inputs of network `spec` (a ModelSpec or name) with `weights` must be.

    A dict: "preprocessing" (a mode, or the checkpoint's
    :class:`~kerasnets.registry.Normalization`: what
    :func:`kerasnets.data.preprocess.preprocess` applies), "crop_fraction" and
    "input_size" ((height, width), or None for the network's). With
    `weights=None` these are the network's (and `preprocessing` its mode when
    given). With a tag (or "imagenet", the default tag) they are the
    checkpoint's, where it states them; `preprocessing` may then only name
    the checkpoint's own mode, and `mean`/`std` are refused, since the
    checkpoint fixes them.
    """
    spec = get_spec(spec) if isinstance(spec, str) else spec
    if weights is None:
        return {"preprocessing": resolve_preprocessing(preprocessing, spec),
                "crop_fraction": spec.crop_fraction, "input_size": None}
    if not isinstance(weights, str):
        raise ValueError(f"`weights` must be None or a weights tag of {spec.name} (a string); "
                         f"got {type(weights).__name__} {weights!r}")
    published = published_weights(spec.name, weights)
    norm = normalization_for(spec.name, weights)
    if mean is not None or std is not None:
        raise ValueError(f"`mean` and `std` come with weights={weights!r} ({published.source}'s "
                         f"checkpoint: mean {norm.mean}, std {norm.std}, {norm.channel_order}); "
                         f"got mean={mean!r}, std={std!r}: leave them out or use weights=None")
    if preprocessing is not None and preprocessing != norm.mode:
        raise ValueError(f"`preprocessing` {preprocessing!r} contradicts weights={weights!r}, "
                         f"whose checkpoint expects the {norm.mode!r} normalization: leave "
                         f"`preprocessing` out or use weights=None")
    return {"preprocessing": norm,
            "crop_fraction": published.crop_fraction or spec.crop_fraction,
            "input_size": tuple(published.input_size) if published.input_size else None}


def split_dataset(source, split, num_classes=None):
    """(the (image, label) data set of `split` of a Splits source, or the data set itself; classes)."""
    if isinstance(source, Splits):
        check_choice("split", split, ("train", "validation", "test"))
        return getattr(source, split), num_classes or source.num_classes
    if isinstance(source, tf.data.Dataset):
        spec = source.element_spec
        if not isinstance(spec, tuple) or len(spec) != 2:
            raise ValueError(f"`source` must yield (image, label) pairs; got {spec}")
        return source, num_classes
    raise ValueError(f"`source` must be a Splits or a tf.data.Dataset; got {type(source).__name__}")


def _pca(pca):
    """(on, (eigval, eigvec) or None for ImageNet's) from train_pipeline's `pca`."""
    if isinstance(pca, bool):
        return pca, None
    if isinstance(pca, DatasetStatistics):
        return True, (pca.eigval, pca.eigvec)
    try:
        eigval, eigvec = pca
        eigval = tuple(float(v) for v in eigval)
        eigvec = tuple(tuple(float(v) for v in row) for row in eigvec)
    except (TypeError, ValueError):
        eigval = eigvec = ()
    if len(eigval) != 3 or len(eigvec) != 3 or any(len(row) != 3 for row in eigvec):
        raise ValueError(f"`pca` must be True, False, a DatasetStatistics or (eigval, eigvec) "
                         f"with 3 eigenvalues and a 3x3 matrix of eigenvectors; got {pca!r}")
    return True, (eigval, eigvec)


def _buffer(ds, shuffle_buffer):
    if shuffle_buffer is not None:
        check_range("shuffle_buffer", shuffle_buffer, 1, integer=True)
        return int(shuffle_buffer)
    size = int(ds.cardinality())
    return size if 0 < size <= 100_000 else 10_000


def _skip_bad_files(ds, files):
    # image_folder(verify=False) may hand over files that fail to decode: drop them, not the epoch.
    return ds.ignore_errors(log_warning=True) if files else ds


def _batch_augment(ds, randaugment, mixup, cutmix, num_classes, seed):
    """Keras' batch augmentation layers, applied in order; sequential maps keep them seeded."""
    import keras

    if randaugment:
        layer = keras.layers.RandAugment(value_range=(0, 1), seed=seed + 2)
        ds = ds.map(lambda images, labels: (layer(images), labels))
    if mixup or cutmix:
        ds = ds.map(lambda images, labels: (images, tf.one_hot(labels, num_classes)))
    for layer in ([keras.layers.MixUp(alpha=mixup, seed=seed + 3)] if mixup else []) + (
            [keras.layers.CutMix(factor=cutmix, seed=seed + 4)] if cutmix else []):
        def mix(images, labels, layer=layer):
            mixed = layer({"images": images, "labels": labels})
            return mixed["images"], mixed["labels"]
        ds = ds.map(mix)
    return ds


def _finish(ds, deterministic):
    options = tf.data.Options()
    options.deterministic = deterministic
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
