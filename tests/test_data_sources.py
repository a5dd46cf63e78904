"""Facts about the data sources: sizes, shapes, ranges, and a split that is fixed and fair."""

import collections
import hashlib
import os

import numpy as np
import pytest
import tensorflow as tf

from kerasnets.data import Splits, batched, digits, image_folder
from kerasnets.data import sources

TOTAL = 1797  # images in scikit-learn's load_digits


def arrays(ds):
    pairs = [(x.numpy(), y.numpy()) for x, y in ds]
    return np.array([x for x, _ in pairs]), np.array([y for _, y in pairs])


def fingerprints(images):
    return collections.Counter(hashlib.sha1(image.tobytes()).hexdigest() for image in images)


@pytest.fixture(scope="module")
def splits():
    return digits()


@pytest.fixture(scope="module")
def split_arrays(splits):
    return {name: arrays(getattr(splits, name)) for name in ("train", "validation", "test")}


def test_sizes_add_up_to_the_whole_data_set(splits):
    assert isinstance(splits, Splits)
    assert splits.sizes == {"train": 1258, "validation": 180, "test": 359}
    assert sum(splits.sizes.values()) == TOTAL


def test_metadata(splits):
    assert splits.num_classes == 10
    assert splits.class_names == tuple(str(i) for i in range(10))
    assert splits.image_shape == (32, 32, 1)


def test_shapes_types_and_range(splits, split_arrays):
    spec = splits.train.element_spec
    assert spec[0].shape == (32, 32, 1) and spec[0].dtype == tf.float32
    assert spec[1].shape == () and spec[1].dtype == tf.int32
    images, labels = split_arrays["train"]
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert images.max() > 0.9  # scaled by 16, not by 255
    assert set(labels.tolist()) == set(range(10))


def test_splits_partition_the_data_set(split_arrays):
    # Together the splits hold every image exactly as often as the full data set does.
    everything = digits(validation_fraction=0, test_fraction=0)
    assert everything.sizes == {"train": TOTAL, "validation": 0, "test": 0}
    union = collections.Counter()
    for images, _ in split_arrays.values():
        union += fingerprints(images)
    assert union == fingerprints(arrays(everything.train)[0])


def test_split_indices_are_disjoint_and_cover_everything():
    labels = np.repeat(np.arange(10), 50)
    train, validation, test = sources._stratified_split(labels, 0.1, 0.2, 10, seed=3)
    assert (len(train), len(validation), len(test)) == (350, 50, 100)
    assert not set(train) & set(validation) and not set(train) & set(test)
    assert not set(validation) & set(test)
    assert sorted([*train, *validation, *test]) == list(range(500))


def test_split_is_deterministic_for_a_seed(split_arrays):
    again = digits(seed=0)
    for name, (images, labels) in split_arrays.items():
        other_images, other_labels = arrays(getattr(again, name))
        np.testing.assert_array_equal(images, other_images)
        np.testing.assert_array_equal(labels, other_labels)
    assert fingerprints(arrays(digits(seed=1).test)[0]) != fingerprints(split_arrays["test"][0])


def test_splits_are_stratified(split_arrays):
    for name, (_, labels) in split_arrays.items():
        counts = np.bincount(labels, minlength=10)
        share = len(labels) / 10
        # load_digits has 174 to 183 images per class; each split keeps that balance.
        assert counts.min() >= share * 0.9 - 1 and counts.max() <= share * 1.1 + 1, (name, counts)


def test_image_size_and_channels():
    splits = digits(image_size=(28, 20), channels=3, validation_fraction=0, test_fraction=0.5)
    assert splits.image_shape == (28, 20, 3)
    image, _ = next(iter(splits.test))
    assert image.shape == (28, 20, 3)
    np.testing.assert_array_equal(image[..., 0], image[..., 2])  # gray repeated


def test_preprocessing_modes():
    image, _ = next(iter(digits(image_size=8, preprocessing="tf").test))
    assert -1.0 <= float(tf.reduce_min(image)) and float(tf.reduce_max(image)) <= 1.0
    assert float(tf.reduce_min(image)) == -1.0
    image, _ = next(iter(digits(image_size=8, channels=3, preprocessing="caffe").test))
    assert float(tf.reduce_min(image)) < -100  # 0-255 BGR, ImageNet means subtracted
    with pytest.raises(ValueError, match="channels=3"):
        digits(preprocessing="torch")


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"image_size": 0}, "image_size"),
        ({"image_size": (32,)}, "image_size"),
        ({"image_size": 2.5}, "image_size"),
        ({"channels": 2}, "channels"),
        ({"validation_fraction": -0.1}, "validation_fraction"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"test_fraction": 0.001}, "test_fraction"),
        ({"validation_fraction": 0.5, "test_fraction": 0.5}, "validation_fraction"),
        ({"seed": -1}, "seed"),
        ({"preprocessing": "zscore"}, "preprocessing"),
    ],
)
def test_invalid_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        digits(**kwargs)


def test_batched():
    ds = tf.data.Dataset.from_tensor_slices((np.arange(10, dtype=np.float32), np.arange(10)))
    batches = list(batched(ds, 4))
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), np.arange(10))

    shuffled = batched(ds, 10, shuffle=True, seed=1)
    first = next(iter(shuffled))[0].numpy()
    assert sorted(first) == list(range(10))
    again = next(iter(batched(ds, 10, shuffle=True, seed=1)))[0].numpy()
    np.testing.assert_array_equal(first, again)  # reproducible for a seed

    doubled = next(iter(batched(ds, 10, augment=lambda x: x * 2)))[0].numpy()
    np.testing.assert_array_equal(doubled, np.arange(10) * 2)
    with pytest.raises(ValueError, match="`batch_size`"):
        batched(ds, 0)
    with pytest.raises(ValueError, match="`augment`"):
        batched(ds, 2, augment="flip")


# --- image_folder: bad entries are skipped, counted and named, never fatal ------------------


def jpeg(path, seed=0):
    """A small RGB JPEG of random pixels at `path`, its folders made."""
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, "JPEG")


def photo_folder(root):
    """Two classes, "cat" and "dog", of two JPEGs each."""
    for name in ("cat", "dog"):
        for i in range(2):
            jpeg(root / name / f"{i}.jpg", seed=i)
    return root


def folder_warning(record):
    """The text of image_folder's one warning."""
    messages = [str(w.message) for w in record if str(w.message).startswith("image_folder:")]
    assert len(messages) == 1, messages
    return messages[0]


def refuse_for_root(monkeypatch, module, function, paths):
    """Makes `module.function` raise PermissionError on `paths`, as chmod 000 does for others.

    Tests run as root, who reads and lists anything whatever its mode bits.
    """
    if os.geteuid() != 0:
        return
    real = getattr(module, function)
    locked = {os.fspath(path) for path in paths}

    def refused(path, *args, **kwargs):
        if isinstance(path, (str, bytes, os.PathLike)) and os.fspath(path) in locked:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(module, function, refused)


def test_image_folder_counts_and_names_unreadable_folders(tmp_path, monkeypatch):
    photo_folder(tmp_path)
    jpeg(tmp_path / "cat" / "locked" / "2.jpg")
    locked = [tmp_path / "cat" / "locked", tmp_path / "dog"]
    refuse_for_root(monkeypatch, os, "scandir", locked)
    for folder in locked:
        folder.chmod(0)
    try:
        with pytest.warns(UserWarning) as record:
            source = image_folder(tmp_path, validation_fraction=0)
    finally:
        for folder in locked:
            folder.chmod(0o755)
    message = folder_warning(record)
    assert source.skipped == 2
    assert "skipped 2 of 4 files" in message and "(2 unreadable folder)" in message
    assert "'cat/locked'" in message and "'dog'" in message
    assert source.class_names == ("cat", "dog")  # the labels do not shift
    assert source.sizes["train"] == 2
    assert {int(y) for _, y in source.train} == {0}


def test_image_folder_counts_and_names_a_dangling_symlink(tmp_path):
    photo_folder(tmp_path)
    (tmp_path / "dog" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    with pytest.warns(UserWarning) as record:
        source = image_folder(tmp_path, validation_fraction=0)
    message = folder_warning(record)
    assert source.skipped == 1 and source.sizes["train"] == 4
    assert "skipped 1 of 5 files" in message and "(1 dangling symlink)" in message
    assert "'dog/gone.jpg'" in message


def test_image_folder_skips_an_unreadable_file(tmp_path, monkeypatch):
    import builtins

    photo_folder(tmp_path)
    locked = tmp_path / "cat" / "1.jpg"
    refuse_for_root(monkeypatch, builtins, "open", [locked])
    locked.chmod(0)
    try:
        with pytest.warns(UserWarning) as record:
            source = image_folder(tmp_path, validation_fraction=0)
    finally:
        locked.chmod(0o644)
    message = folder_warning(record)
    assert source.skipped == 1 and source.sizes["train"] == 3
    assert "(1 unreadable)" in message and "'cat/1.jpg'" in message
    paths = {bytes(p.numpy()).decode() for p, _ in source.train}
    assert str(locked) not in paths


def test_image_folder_skips_a_file_name_that_is_not_utf8(tmp_path):
    photo_folder(tmp_path)
    bad = os.path.join(os.fsencode(tmp_path / "cat"), b"\xff.jpg")
    with open(tmp_path / "cat" / "0.jpg", "rb") as good, open(bad, "wb") as copy:
        copy.write(good.read())
    with pytest.warns(UserWarning) as record:
        source = image_folder(tmp_path, validation_fraction=0)
    message = folder_warning(record)
    assert source.skipped == 1 and source.sizes["train"] == 4
    assert "(1 name not UTF-8)" in message
    assert r"'cat/\udcff.jpg'" in message  # the undecodable byte, as Python escapes it


def test_image_folder_warning_names_the_first_twenty(tmp_path):
    photo_folder(tmp_path)
    for i in range(25):
        (tmp_path / "cat" / f"note{i:02d}.txt").write_text("x")
    with pytest.warns(UserWarning) as record:
        source = image_folder(tmp_path, validation_fraction=0)
    message = folder_warning(record)
    assert source.skipped == 25
    assert "'cat/note19.txt'" in message and "'cat/note20.txt'" not in message
    assert message.endswith(" and 5 more")


def test_batched_batch_size_states_the_upper_bound():
    ds = tf.data.Dataset.from_tensor_slices((np.arange(3, dtype=np.float32), np.arange(3)))
    for bad in (0, 65537):
        with pytest.raises(ValueError) as error:
            batched(ds, bad)
        assert str(error.value) == f"`batch_size` must be an integer in [1, 65536]; got {bad}"
    assert len(list(batched(ds, 65536))) == 1
