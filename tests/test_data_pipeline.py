"""Facts about image_folder, tfds, the pipeline builder and the evaluation helpers."""

import warnings

import keras
import numpy as np
import pytest
import skimage.data
import tensorflow as tf

import kerasnets.models.alexnet  # noqa: F401  (registers the models the pipelines look up)
import kerasnets.models.googlenet  # noqa: F401
import kerasnets.models.lenet  # noqa: F401
import kerasnets.models.vgg  # noqa: F401
import kerasnets.models.xception  # noqa: F401
from kerasnets.data import (
    Splits,
    decode,
    default_policy,
    digits,
    eval_pipeline,
    evaluate_center_crop,
    evaluate_dense,
    evaluate_multi_scale,
    evaluate_ten_crop,
    image_folder,
    predict,
    tfds,
    top_k_accuracy,
    train_pipeline,
)

PHOTOS = {"astronaut": skimage.data.astronaut, "chelsea": skimage.data.chelsea,
          "coffee": skimage.data.coffee}


def write(path, image, fmt="jpeg"):
    encoders = {"jpeg": tf.io.encode_jpeg, "png": tf.io.encode_png}
    path.write_bytes(encoders[fmt](image).numpy())


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three classes of small photos (4 JPEGs + 1 PNG each), plus one bad file of each kind."""
    root = tmp_path_factory.mktemp("photos")
    for name, photo in PHOTOS.items():
        photo = tf.image.resize(photo(), (60, 80), antialias=True).numpy().astype(np.uint8)
        (root / name).mkdir()
        for i in range(4):
            write(root / name / f"{i}.jpg", photo[i:, 2 * i:])
        write(root / name / "4.png", photo, "png")
    good = tf.io.encode_jpeg(skimage.data.chelsea()).numpy()
    (root / "chelsea" / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (root / "chelsea" / "empty.jpg").write_bytes(b"")
    (root / "coffee" / "readme.txt").write_text("not an image")
    (root / "coffee" / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # corrupt
    return root


@pytest.fixture(scope="module")
def splits(folder):
    with pytest.warns(UserWarning, match=r"skipped 4 of 19 files .*2 corrupt or truncated, "
                                         r"1 empty, 1 not an image"):
        return image_folder(folder, validation_fraction=0.4, seed=0)


def test_image_folder_classes_splits_and_skipped_files(splits):
    assert isinstance(splits, Splits)
    assert splits.class_names == ("astronaut", "chelsea", "coffee")
    assert splits.skipped == 4
    assert splits.sizes == {"train": 9, "validation": 6, "test": 0}  # 5 per class, 2 validate
    assert splits.image_shape == (None, None, 3)
    labels = [int(y) for _, y in splits.validation]
    assert sorted(labels) == [0, 0, 1, 1, 2, 2]
    paths = {bytes(p.numpy()).decode() for p, _ in splits.train.concatenate(splits.validation)}
    assert len(paths) == 15 and not any("truncated" in p or "fake" in p for p in paths)


def test_image_folder_split_is_seeded(folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = [
            sorted(bytes(p.numpy()).decode() for p, _ in image_folder(folder, 0.4, seed=s).validation)
            for s in (0, 0, 1, 2)
        ]
    assert paths[0] == paths[1]
    assert paths[0] != paths[2] or paths[0] != paths[3]


def test_image_folder_reads_gif_and_bmp(tmp_path):
    photo = skimage.data.coffee()[:40, :50]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    from PIL import Image

    Image.fromarray(photo).save(tmp_path / "a" / "x.gif")
    Image.fromarray(photo).save(tmp_path / "b" / "y.bmp")
    source = image_folder(tmp_path, validation_fraction=0)
    assert source.skipped == 0 and source.sizes["train"] == 2
    images, labels = next(iter(train_pipeline("vgg16", source, 2, image_size=32, seed=0,
                                              shuffle=False)))
    assert images.shape == (2, 32, 32, 3) and labels.numpy().tolist() == [0, 1]


def test_image_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no class sub-folders"):
        image_folder(tmp_path)
    (tmp_path / "loose.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match="no class sub-folders"):
        image_folder(tmp_path)
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "a.txt").write_text("x")
    with pytest.warns(UserWarning, match="skipped 1 of 1"):
        with pytest.raises(ValueError, match="no readable JPEG, PNG, BMP or GIF"):
            image_folder(tmp_path)
    with pytest.raises(ValueError, match="`validation_fraction`"):
        image_folder(tmp_path, validation_fraction=1.0)


def test_unverified_corrupt_files_are_dropped_not_fatal(folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = image_folder(folder, validation_fraction=0, verify=False)
    assert source.sizes["train"] == 17  # the two corrupt files are only found when decoded
    labels = np.concatenate([y for _, y in train_pipeline("xception", source, 8, image_size=32,
                                                         seed=0).as_numpy_iterator()])
    assert len(labels) == 15


@pytest.mark.parametrize(
    "model, policy, size, channels, low, high",
    [
        ("alexnet", "alexnet", 227, 3, -130.0, 160.0),  # caffe: BGR minus means
        ("vgg16", "vgg", 224, 3, -125.0, 160.0),
        ("xception", "inception", 299, 3, -1.0, 1.0),  # tf: [-1, 1]
    ],
)
def test_train_pipeline_shapes_dtypes_and_ranges(splits, model, policy, size, channels, low, high):
    assert default_policy(model) == policy
    images, labels = next(iter(train_pipeline(model, splits, 4, seed=0)))
    assert images.shape == (4, size, size, channels) and images.dtype == tf.float32
    assert labels.shape == (4,) and labels.dtype == tf.int32
    assert low <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= high


def test_train_pipeline_on_digits_for_lenet():
    source = digits()
    assert default_policy("lenet5") == "none"
    images, labels = next(iter(train_pipeline("lenet5", source, 16, seed=0)))
    assert images.shape == (16, 32, 32, 1) and labels.dtype == tf.int32
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
    images, _ = next(iter(train_pipeline("googlenet", source, 16, seed=0, image_size=48)))
    assert images.shape == (16, 48, 48, 3)  # gray repeated to the model's RGB


def test_determinism_with_a_seed(splits):
    def run(seed):
        ds = train_pipeline("googlenet", splits, 4, seed=seed, image_size=48, rotation=10,
                            noise=0.01)
        return [[x.numpy() for x, _ in ds] for _ in range(2)], [
            y.numpy().tolist() for _, y in ds]

    (first, second), _ = run(3)
    (again_first, again_second), _ = run(3)
    for a, b in zip(first + second, again_first + again_second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], second[0])  # a new draw every epoch
    (other, _), _ = run(4)
    assert not np.array_equal(first[0], other[0])


def test_batch_augmentation_layers(splits):
    ds = train_pipeline("googlenet", splits, 4, seed=0, image_size=32, randaugment=True,
                        mixup=0.2, cutmix=1.0, drop_remainder=True)
    images, labels = next(iter(ds))
    assert images.shape == (4, 32, 32, 3)
    assert labels.shape == (4, 3) and labels.dtype == tf.float32  # one-hot, mixed
    np.testing.assert_allclose(labels.numpy().sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="`num_classes`"):
        train_pipeline("googlenet", splits.train, 4, mixup=0.2)


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"policy": "autoaugment"}, "policy"), ({"batch_size": 0}, "batch_size"),
     ({"preprocessing": "zscore"}, "preprocessing"), ({"rotation": -1}, "rotation"),
     ({"seed": -1}, "seed"), ({"policy": "vgg", "scale_range": (100, 512)}, "scale_range")],
)
def test_train_pipeline_invalid_arguments(splits, kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        train_pipeline("vgg16", splits, **{"batch_size": 2, **kwargs})


def test_eval_pipeline_shapes(splits):
    for method, shape in [("center", (2, 32, 32, 3)), ("ten_crop", (2, 10, 32, 32, 3)),
                          ("multi_scale", (2, 4, 32, 32, 3))]:
        images, labels = next(iter(eval_pipeline("vgg16", splits, 2, method=method,
                                                 image_size=32, scales=(40, 48))))
        assert images.shape == shape, method
        assert labels.numpy().tolist() == [0, 0]  # in order, not shuffled


# --- evaluation helpers on colour classes that a fixed model tells apart --------------------


@pytest.fixture(scope="module")
def colours():
    """Images of mostly red, green or blue (labels 0, 1, 2) of different sizes, as uint8."""
    rng = np.random.default_rng(0)
    images, labels = [], []
    for i in range(9):
        label = i % 3
        image = rng.integers(0, 60, (40 + i, 50, 3)).astype(np.uint8)
        image[..., label] += 150
        images.append(image)
        labels.append(label)
    return tf.data.Dataset.from_generator(
        lambda: zip(images, labels),
        output_signature=(tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((), tf.int32)),
    )


@pytest.fixture(scope="module")
def colour_model():
    """A fully convolutional model scoring class c by the mean of channel c (after 'tf' scaling)."""
    inputs = keras.Input((None, None, 3))
    scale = keras.layers.Conv2D(3, 1, use_bias=False)
    scores = keras.layers.Softmax()(scale(inputs))
    scale.set_weights([10.0 * np.eye(3, dtype=np.float32)[None, None]])
    return keras.Model(inputs, scores)


def test_top_k_accuracy():
    scores = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5]])
    assert top_k_accuracy(scores, [2, 0, 0], 1) == pytest.approx(1 / 3)
    assert top_k_accuracy(scores, [2, 0, 0], 2) == pytest.approx(2 / 3)
    assert top_k_accuracy(scores, [2, 0, 0], 5) == 1.0  # k capped at the 3 classes


def test_evaluation_helpers(colour_model, colours):
    kwargs = {"image_size": 24, "preprocessing": "tf"}
    exact = {"top1": 1.0, "top5": 1.0}
    assert evaluate_center_crop(colour_model, "xception", colours, batch_size=4, **kwargs) == exact
    assert evaluate_ten_crop(colour_model, "xception", colours, batch_size=4, **kwargs) == exact
    assert evaluate_multi_scale(colour_model, "xception", colours, scales=(30, 36),
                                batch_size=4, **kwargs) == exact
    assert evaluate_dense(colour_model, "xception", colours, scales=(32, 40),
                          preprocessing="tf") == exact
    wrong = colours.map(lambda image, label: (image, (label + 1) % 3))
    assert evaluate_ten_crop(colour_model, "xception", wrong, **kwargs)["top1"] == 0.0
    scores, labels = predict(colour_model, "xception", colours, "ten_crop", **kwargs)
    assert scores.shape == (9, 3) and labels.tolist() == [0, 1, 2] * 3
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)  # averaged probabilities


def test_ten_crop_averages_the_ten_views(colour_model, colours):
    scores, _ = predict(colour_model, "xception", colours, "ten_crop", image_size=24,
                        preprocessing="tf")
    views, _ = next(iter(eval_pipeline("xception", colours, 9, method="ten_crop",
                                       image_size=24, preprocessing="tf")))
    each = colour_model.predict_on_batch(views.numpy().reshape(90, 24, 24, 3))
    np.testing.assert_allclose(scores, each.mean(axis=(1, 2)).reshape(9, 10, 3).mean(axis=1),
                               rtol=1e-5)


def test_dense_evaluation_averages_positions_mirror_and_scales():
    from kerasnets.data import predict_dense
    from kerasnets.models.convert import fully_convolutional

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
    x = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(x))
    fixed = keras.Model(inputs, x)
    dense = fully_convolutional(fixed)
    images = np.random.default_rng(1).integers(0, 256, (3, 16, 16, 3)).astype(np.uint8)
    source = tf.data.Dataset.from_tensor_slices((images, np.array([0, 1, 2], np.int32)))
    x = images.astype(np.float32) / 127.5 - 1.0
    # At the original size the dense form is the original network.
    scores, labels = predict_dense(dense, "xception", source, scales=(16,), flip=False,
                                   preprocessing="tf")
    np.testing.assert_allclose(scores, fixed.predict_on_batch(x), rtol=1e-4, atol=1e-6)
    assert labels.tolist() == [0, 1, 2]
    scores, _ = predict_dense(dense, "xception", source, scales=(16,), preprocessing="tf")
    mirrored = (fixed.predict_on_batch(x) + fixed.predict_on_batch(x[:, :, ::-1])) / 2
    np.testing.assert_allclose(scores, mirrored, rtol=1e-4, atol=1e-6)
    # A larger scale gives a map of positions, averaged: still a distribution over classes.
    scores, _ = predict_dense(dense, "xception", source, scales=(16, 24), preprocessing="tf")
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(scores, mirrored)


def test_tfds_source_with_mock_data(tmp_path):
    tfds_lib = pytest.importorskip("tensorflow_datasets")
    with tfds_lib.testing.mock_data(num_examples=6):
        dataset, class_names = tfds("cifar10", "train", data_dir=str(tmp_path), with_info=True)
        assert len(class_names) == 10 and all(isinstance(n, str) for n in class_names)
        assert dataset.element_spec[0].dtype == tf.uint8
        assert dataset.element_spec[1].dtype == tf.int32
        images, labels = next(iter(train_pipeline("xception", dataset, 6, image_size=32, seed=0)))
        assert images.shape == (6, 32, 32, 3) and labels.shape == (6,)
        with pytest.raises(ValueError, match="not an image-classification"):
            tfds("imdb_reviews", "train", data_dir=str(tmp_path))


# --- bad input: refused when the pipeline is built, or read rather than dropped ------------


def tiny_source(channels=3, count=2, size=40):
    """A tf.data source of `count` random float images in [0, 1], labels 0, 1, ..."""
    images = np.random.default_rng(0).random((count, size, size + 8, channels), np.float32)
    return tf.data.Dataset.from_tensor_slices((images, np.arange(count, dtype=np.int32)))


def test_cmyk_jpeg_is_decoded_to_gray_for_a_one_channel_model(tmp_path):
    from PIL import Image

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Image.new("CMYK", (40, 36), (0, 255, 255, 0)).save(tmp_path / "a" / "red.jpg", "JPEG")
    Image.new("L", (40, 36), 200).save(tmp_path / "b" / "gray.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing skipped
        source = image_folder(tmp_path, validation_fraction=0)
    assert source.skipped == 0 and source.sizes["train"] == 2
    red = decode(tf.constant(str(tmp_path / "a" / "red.jpg")), 1)
    assert red.shape == (36, 40, 1)
    np.testing.assert_allclose(red.numpy(), 76 / 255, atol=2 / 255)  # 0.299 * 255, red's luma
    images, labels = next(iter(train_pipeline("lenet5", source, 2, seed=0, shuffle=False)))
    assert images.shape == (2, 32, 32, 1) and labels.numpy().tolist() == [0, 1]
    np.testing.assert_allclose(images[0].numpy(), 76 / 255, atol=2 / 255)
    np.testing.assert_allclose(images[1].numpy(), 200 / 255, atol=1 / 255)
    evaluated = np.concatenate([y for _, y in eval_pipeline("lenet5", source, 2, split="train")
                                .as_numpy_iterator()])
    assert evaluated.tolist() == [0, 1]


def test_batch_size_errors_state_the_upper_bound():
    source = tiny_source()
    for build in (train_pipeline, eval_pipeline):
        for bad in (0, 65537, 2.5):
            with pytest.raises(ValueError) as error:
                build("vgg16", source, bad, image_size=32)
            assert str(error.value) == f"`batch_size` must be an integer in [1, 65536]; got {bad}"
        assert build("vgg16", source, 65536, image_size=32) is not None


@pytest.mark.parametrize(
    "policy, scale_range, words",
    [("vgg", 40, ["`scale_range`", "pair", "40"]),
     ("vgg", (40, 48, 64), ["`scale_range`", "pair", "(40, 48, 64)"]),
     ("vgg", (64, 40), ["`scale_range`", "S_min <= S_max", "(64, 40)"]),
     ("vgg", (0, 40), ["`scale_range`", "positive", "(0, 40)"]),
     ("vgg", (40.5, 48), ["`scale_range`", "integers", "(40.5, 48)"]),
     ("vgg", (24, 48), ["`scale_range`", "crop size", "32", "(24, 48)"]),
     ("alexnet", (40, 64), ["`scale_range`", "'alexnet'", "(40, 64)"]),
     ("inception", (40, 64), ["`scale_range`", "'inception'", "(40, 64)"]),
     ("none", (40, 64), ["`scale_range`", "'none'", "(40, 64)"])],
)
def test_scale_range_is_checked_for_every_policy(policy, scale_range, words):
    with pytest.raises(ValueError) as error:
        train_pipeline("vgg16", tiny_source(), 2, policy=policy, image_size=32,
                       scale_range=scale_range)
    for word in words:
        assert word in str(error.value), (word, str(error.value))


def test_scale_range_as_a_list_and_a_fixed_scale():
    for scale_range in ([32, 48], (40, 40)):  # a config file gives a list
        images, _ = next(iter(train_pipeline("vgg16", tiny_source(), 2, policy="vgg",
                                             image_size=32, scale_range=scale_range, seed=0)))
        assert images.shape == (2, 32, 32, 3)


@pytest.mark.parametrize(
    "kwargs, words",
    [({"method": "center", "resize": 24}, ["`resize`", "crop size", "32", "got 24"]),
     ({"method": "ten_crop", "resize": 31}, ["`resize`", "crop size", "32", "got 31"]),
     ({"method": "multi_scale", "scales": (40, 24)}, ["`scales`", "crop size", "32", "got 24"]),
     ({"method": "multi_scale", "scales": ()}, ["`scales`", "at least one"]),
     ({"method": "multi_scale", "scales": 40}, ["`scales`", "sequence", "got 40"])],
)
def test_eval_sizes_smaller_than_the_crop_are_refused_when_built(kwargs, words):
    with pytest.raises(ValueError) as error:
        eval_pipeline("vgg16", tiny_source(), 2, image_size=32, **kwargs)
    for word in words:
        assert word in str(error.value), (word, str(error.value))


def test_eval_sizes_equal_to_the_crop_are_fine():
    images, _ = next(iter(eval_pipeline("vgg16", tiny_source(), 2, image_size=32, resize=32)))
    assert images.shape == (2, 32, 32, 3)
    images, _ = next(iter(eval_pipeline("vgg16", tiny_source(), 2, image_size=32,
                                        method="multi_scale", scales=[32, 36])))
    assert images.shape == (2, 4, 32, 32, 3)


def test_alexnet_policy_on_a_one_channel_model_skips_pca_lighting():
    source = tiny_source(channels=1, count=4)

    def batches(pca):
        ds = train_pipeline("lenet5", source, 4, policy="alexnet", pca=pca, seed=5,
                            shuffle=False)
        return [images.numpy() for images, _ in ds]

    with_pca, without = batches(True), batches(False)
    assert with_pca[0].shape == (4, 32, 32, 1)
    for a, b in zip(with_pca, without):
        np.testing.assert_array_equal(a, b)
