"""Data sources: labelled images as `tf.data.Dataset`s, split into train, validation and test.

Every source returns a :class:`Splits` of unbatched datasets of
`(image, label)` pairs with int32 labels in `[0, num_classes)`:
:func:`digits` gives float32 images of shape `image_shape` (height, width,
channels), scaled for a preprocessing mode ("unit" by default: values in
[0, 1]); :func:`image_folder` gives file paths (tf.string), decoded by the
pipelines of `kerasnets.data.pipeline`; :func:`tfds` gives uint8 images of
any size from tensorflow-datasets. :func:`batched` turns a split of ready
images into the batches `model.fit` reads; `kerasnets.data.train_pipeline`
and `eval_pipeline` decode, augment and preprocess any of them.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import pathlib
import warnings

import numpy as np
import tensorflow as tf

from kerasnets.checks import check_choice, check_range
from kerasnets.data.preprocess import preprocess
from kerasnets.registry import PREPROCESSING_MODES, Normalization

__all__ = ["Splits", "digits", "image_folder", "tfds", "batched", "IMAGE_FORMATS",
           "MAX_BATCH_SIZE", "SOURCE_FORMS", "parse_source", "open_source", "tfds_splits"]

# The largest batch the pipelines accept: 65,536 images, the largest batch of
# published ImageNet training (Ying et al., 2018, on a TPU pod). A larger value
# is a mistake (a data set size, a byte count) rather than a batch.
MAX_BATCH_SIZE = 65536


@dataclasses.dataclass(frozen=True)
class Splits:
    """A labelled image data set split three ways; each split an unbatched `tf.data.Dataset`."""

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    class_names: tuple[str, ...]
    num_classes: int
    image_shape: tuple[int | None, int | None, int]
    # Files of the source that were skipped as empty, not images, corrupt or truncated,
    # unreadable, dangling symlinks or not valid UTF-8 by name (and unreadable folders).
    skipped: int = 0

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
    if not isinstance(preprocessing, Normalization):  # else a checkpoint's own numbers
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


# Image formats image_folder reads, by their files' first bytes.
IMAGE_FORMATS = {
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "gif": (b"GIF87a", b"GIF89a"),
    "bmp": (b"BM",),
}


def image_folder(path, validation_fraction=0.2, test_fraction=0.0, seed=0, verify=True):
    """Labelled images from a folder with one sub-folder of JPEG/PNG/BMP/GIF files per class.

    Class names are the sub-folders' names in sorted order (label i is the i-th
    name); files are found recursively in each sub-folder. Each class is split
    on its own (so every split keeps the class balance), the shuffle fixed by
    `seed`: `validation_fraction` and `test_fraction` of its files (rounded) go
    to the validation and test splits. The splits yield `(path, label)` pairs
    (tf.string, int32) that the pipelines decode; `image_shape` is
    `(None, None, 3)`.

    Files that are empty, not JPEG/PNG/BMP/GIF by their first bytes,
    unreadable, dangling symlinks, named by bytes that are not UTF-8, or (with
    `verify`, which decodes every file once, in parallel) corrupt or truncated
    are skipped, as are folders that cannot be listed (each counts as one),
    with one warning that counts them by reason and names them (their paths
    relative to `path`, the first 20); `Splits.skipped` holds the count. A
    missing or empty folder, or one without class sub-folders or without a
    single readable image, raises `ValueError`.
    """
    check_range("validation_fraction", validation_fraction, 0, 1, high_inclusive=False)
    check_range("test_fraction", test_fraction, 0, 1, high_inclusive=False)
    check_range("seed", seed, 0, 2**32 - 1, integer=True)
    root = pathlib.Path(path)
    if not root.is_dir():
        raise ValueError(f"`path` {str(path)!r} is not a folder")
    class_names = tuple(sorted(
        entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith(".")
    ))
    if not class_names:
        raise ValueError(
            f"`path` {str(path)!r} has no class sub-folders: image_folder expects one "
            f"sub-folder of images per class (path/<class name>/<image file>)"
        )
    files, labels = [], []
    skipped = collections.Counter()
    named = []
    for label, name in enumerate(class_names):
        for file, reason in _class_files(root / name):
            reason = reason or _unreadable(file)
            if reason:
                skipped[reason] += 1
                named.append(file)
            else:
                files.append(str(file))
                labels.append(label)
    if verify and files:
        good = set(_decodable(files))
        skipped["corrupt or truncated"] += len(files) - len(good)
        named += [pathlib.Path(files[i]) for i in range(len(files)) if i not in good]
        files = [files[i] for i in sorted(good)]
        labels = [labels[i] for i in sorted(good)]
    total_skipped = sum(skipped.values())
    if total_skipped:
        reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items()) if count)
        warnings.warn(
            f"image_folder: skipped {total_skipped} of {total_skipped + len(files)} files "
            f"in {str(path)!r} ({reasons}): {_names(named, root)}",
            stacklevel=2,
        )
    if not files:
        raise ValueError(f"`path` {str(path)!r} has no readable JPEG, PNG, BMP or GIF images "
                         f"in its class sub-folders {list(class_names)}")
    files = np.array(files)
    labels = np.array(labels, np.int32)
    indices = _per_class_split(labels, validation_fraction, test_fraction, int(seed))
    splits = _splits(files, labels, indices, class_names)
    return dataclasses.replace(splits, image_shape=(None, None, 3), skipped=total_skipped)


def tfds(name, split="train", data_dir=None, download=False, with_info=False):
    """A tensorflow-datasets image-classification split as `(image, label)` pairs.

    Images are uint8 of their stored size (height, width, channels), labels
    int32. `split` takes tfds' split syntax ("train", "train[:90%]", ...). With
    `download`, a data set missing from `data_dir` is downloaded and prepared
    first; otherwise it must be there. With `with_info`, returns
    `(dataset, class_names)`.
    """
    import tensorflow_datasets as tfds_lib

    dataset, info = tfds_lib.load(
        name, split=split, data_dir=data_dir, download=download, as_supervised=True,
        with_info=True, shuffle_files=False,
    )
    label = info.features[info.supervised_keys[1]] if info.supervised_keys else None
    if not isinstance(label, tfds_lib.features.ClassLabel) or len(
        info.features[info.supervised_keys[0]].shape
    ) != 3:
        raise ValueError(f"`name` {name!r} is not an image-classification data set "
                         f"(supervised keys {info.supervised_keys})")
    dataset = dataset.map(lambda image, y: (image, tf.cast(y, tf.int32)))
    if with_info:
        return dataset, tuple(label.names)
    return dataset


def batched(ds, batch_size, shuffle=False, seed=None, augment=None):
    """Batches a split for `model.fit`/`evaluate`: cache, optional shuffle, batch, prefetch.

    With `shuffle`, the order changes every epoch and is reproducible for a `seed`.
    `augment`, a callable on a batch of images (a Keras random preprocessing
    layer, say), is applied to every batch after the cache, so it draws anew
    every epoch.
    """
    check_range("batch_size", batch_size, 1, MAX_BATCH_SIZE, integer=True)
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


# Skipped files named in image_folder's warning; the rest are counted only.
_MAX_NAMED = 20


def _class_files(folder):
    """(path, reason) of every entry under a class folder, sorted by path, as `rglob` finds them.

    Hidden files are left out and symbolic links to folders not followed (as
    `rglob` does). `reason` says why an entry cannot be read ("unreadable
    folder", "dangling symlink", "name not UTF-8"), or is None for a file to
    look at.
    """
    found = []

    def walk(directory):
        try:
            with os.scandir(directory) as scan:
                entries = list(scan)
        except OSError:
            found.append((pathlib.Path(directory), "unreadable folder"))
            return
        for entry in entries:
            path = pathlib.Path(entry.path)
            if _is_dir(entry):
                walk(entry.path)
            elif entry.name.startswith("."):
                continue
            elif not _valid_utf8(entry.path):
                found.append((path, "name not UTF-8"))
            elif _is_file(entry):
                found.append((path, None))
            elif entry.is_symlink() and not os.path.exists(entry.path):
                found.append((path, "dangling symlink"))

    walk(os.fspath(folder))
    return sorted(found, key=lambda item: item[0])


def _is_dir(entry):
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _is_file(entry):
    try:
        return entry.is_file()
    except OSError:
        return False


def _valid_utf8(path):
    # Undecodable bytes of a file name come back from the OS as lone surrogates.
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _names(paths, root):
    """The first skipped paths, relative to `root`, as reprs (undecodable bytes show as \\udcXX)."""
    names = []
    for path in sorted(paths)[:_MAX_NAMED]:
        try:
            path = path.relative_to(root)
        except ValueError:
            pass
        names.append(repr(path.as_posix()))
    more = len(paths) - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _unreadable(file):
    """Why a file cannot be an image ("empty", "not an image", "unreadable"), or None."""
    try:
        with open(file, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return "unreadable"
    if not head:
        return "empty"
    if not any(head.startswith(magic) for magics in IMAGE_FORMATS.values() for magic in magics):
        return "not an image"
    return None


def _decodable(files):
    """Indices of the files that decode, found in one parallel pass that drops the rest."""
    def decode(index, file):
        image = tf.io.decode_image(tf.io.read_file(file), channels=3, expand_animations=False)
        return index, tf.reduce_min(tf.shape(image))

    ds = tf.data.Dataset.from_tensor_slices((np.arange(len(files)), files))
    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    return [int(index) for index, side in ds.ignore_errors().as_numpy_iterator() if side > 0]


def _per_class_split(labels, validation_fraction, test_fraction, seed):
    """Train, validation and test indices: each class shuffled by `seed` and cut by fraction."""
    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = _split_count(test_fraction, len(members))
        n_validation = _split_count(validation_fraction, len(members))
        parts[2].extend(members[:n_test])
        parts[1].extend(members[n_test:n_test + n_validation])
        parts[0].extend(members[n_test + n_validation:])
    return tuple(np.sort(np.array(part, np.int64)) for part in parts)


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
    needs_rgb = preprocessing in ("torch", "caffe") or (
        isinstance(preprocessing, Normalization) and len(preprocessing.mean) == 3)
    if needs_rgb and images.shape[-1] != 3:
        raise ValueError(
            f"`preprocessing` {preprocessing!r} normalizes 3 RGB channels; use channels=3"
        )
    return preprocess(images, preprocessing).numpy()


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

# ------------------------------------------------------------ a source named in words

SOURCE_FORMS = "digits, folder:PATH or tfds:NAME"
SOURCE_KINDS = ("digits", "folder", "tfds")


def parse_source(text):
    """The data source a recipe names, as (kind, argument): ("digits", None),
    ("folder", PATH) or ("tfds", NAME); a ValueError names anything else."""
    if isinstance(text, str):
        if text == "digits":
            return "digits", None
        kind, colon, where = text.partition(":")
        if colon and kind in SOURCE_KINDS[1:] and where.strip():
            return kind, where
    raise ValueError(f"`data` must be {SOURCE_FORMS}; got {text!r}")


def source_argument(text):
    """`text` if :func:`parse_source` reads it, else argparse's error saying the forms: the
    `type` of the recipes' --data options."""
    try:
        parse_source(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {SOURCE_FORMS}; got {text!r}") from None
    return text


def open_source(text, *, image_size, channels, preprocessing="unit"):
    """The :class:`Splits` of a source named as :func:`parse_source` reads it.

    "digits": :func:`digits` at `image_size` with `channels` and `preprocessing`;
    "folder:PATH": :func:`image_folder` split 80/10/10 (seed 0); "tfds:NAME":
    :func:`tfds_splits` (prepared first when it is not yet).
    """
    kind, where = parse_source(text)
    if kind == "digits":
        return digits(image_size=image_size, channels=channels, preprocessing=preprocessing)
    if kind == "folder":
        return image_folder(where, validation_fraction=0.1, test_fraction=0.1, seed=0)
    return tfds_splits(where)


def tfds_splits(name, data_dir=None):
    """A tensorflow-datasets data set as Splits: train, validation (or test), test.

    A data set not yet prepared in `data_dir` (tfds' default: ``TFDS_DATA_DIR``,
    else ``~/tensorflow_datasets``) is downloaded and prepared first, as
    `tfds.load` does; one that tfds does not know, or that cannot be
    downloaded, is a ValueError naming it.
    """
    import tensorflow_datasets as tfds_lib

    try:
        builder = tfds_lib.builder(name, data_dir=data_dir)
    except Exception as err:  # tfds raises many kinds for a missing or unknown data set
        raise ValueError(f"tfds data set {name!r} is not available: "
                         f"{str(err).splitlines()[0]}") from None
    if not builder.info.splits:  # known to tfds, not prepared here
        try:
            builder.download_and_prepare()
        except Exception as err:  # network, manual download, disk: tfds' own message
            raise ValueError(f"tfds data set {name!r} is not prepared in {builder.data_dir} "
                             f"and could not be: {str(err).splitlines()[0]}") from None
    available = set(builder.info.splits)
    if "train" not in available:
        raise ValueError(f"tfds data set {name!r} has no train split (it has {sorted(available)})")
    train, class_names = tfds(name, "train", data_dir=data_dir, with_info=True)
    test = tfds(name, "test", data_dir=data_dir) if "test" in available else None
    validation = tfds(name, "validation", data_dir=data_dir) if "validation" in available \
        else test
    if validation is None:
        train = tfds(name, "train[:90%]", data_dir=data_dir)
        validation = tfds(name, "train[90%:]", data_dir=data_dir)
    if test is None:
        test = validation
    return Splits(train=train, validation=validation, test=test, class_names=class_names,
                  num_classes=len(class_names), image_shape=(None, None, None))
