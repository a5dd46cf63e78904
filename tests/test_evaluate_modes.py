"""Multi-crop, multi-crop & dense, and ensemble evaluation against hand computations."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasnets.data import (
    eval_pipeline,
    multi_crop,
    outputs_logits,
    predict,
    predict_dense,
    predict_ensemble,
    predict_multi_crop,
    predict_multi_crop_dense,
)
from kerasnets.data.transforms import resize_shorter_side
from kerasnets.models.convert import fully_convolutional


def offsets(side, size, grid=5):
    return [round(i * (side - size) / (grid - 1)) for i in range(grid)]


def hand_crops(image, size, scales, grid=5):
    """The grid crops and their mirrors, cut with numpy slices from the resized image."""
    views = []
    for scale in scales:
        resized = resize_shorter_side(tf.convert_to_tensor(image), scale).numpy()
        height, width = resized.shape[:2]
        crops = [resized[top:top + size, left:left + size]
                 for top in offsets(height, size, grid) for left in offsets(width, size, grid)]
        views += crops + [crop[:, ::-1] for crop in crops]
    return np.stack(views)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def tiny_cnn(seed, activation="softmax", size=16):
    """A fixed-input CNN (Flatten + Dense classifier) of 3 classes on size x size RGB."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.Dense(3, activation=activation)(keras.layers.Flatten()(x))
    return keras.Model(inputs, x)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, shape, dtype=np.uint8)
            for shape in ((20, 24, 3), (22, 18, 3), (19, 19, 3))]


def source_of(images):
    labels = [0, 1, 2]
    return tf.data.Dataset.from_generator(
        lambda: zip(images, labels),
        output_signature=(tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((), tf.int32)))


def test_multi_crop_views_are_the_grid_and_its_mirrors():
    image = np.random.default_rng(1).random((40, 50, 3)).astype(np.float32)
    views = multi_crop(image, 24, (32, 40, 48)).numpy()
    # VGG: 5x5 crops and their mirrors, 50 per scale, 150 for three scales.
    assert views.shape == (150, 24, 24, 3)
    for s, scale in enumerate((32, 40, 48)):
        resized = resize_shorter_side(tf.constant(image), scale).numpy()
        height, width = resized.shape[:2]
        assert min(height, width) == scale
        block = views[50 * s: 50 * (s + 1)]
        # The four corners and the grid's centre, row by row: slices of the resized image.
        for row, col, top, left in [(0, 0, 0, 0), (0, 4, 0, width - 24), (4, 0, height - 24, 0),
                                    (4, 4, height - 24, width - 24),
                                    (2, 2, round((height - 24) / 2), round((width - 24) / 2))]:
            np.testing.assert_array_equal(block[5 * row + col],
                                          resized[top:top + 24, left:left + 24])
        # The second 25 are the first 25 mirrored left-right.
        np.testing.assert_array_equal(block[25:], block[:25, :, ::-1])
    np.testing.assert_array_equal(views, hand_crops(image, 24, (32, 40, 48)))
    with pytest.raises(ValueError, match=r"`grid` must be a positive integer .*got 0"):
        multi_crop(image, 24, (32,), grid=0)


def test_eval_pipeline_multi_crop_defaults_to_vgg_scales(images):
    # 16-pixel crops: Q = (256, 384, 512) * 16 / 224 = (18, 27, 37), 150 views an image.
    views, labels = next(iter(eval_pipeline("xception", source_of(images), 3,
                                            method="multi_crop", image_size=16,
                                            preprocessing="tf")))
    assert views.shape == (3, 150, 16, 16, 3) and labels.numpy().tolist() == [0, 1, 2]
    expected = hand_crops(images[1].astype(np.float32) / 255, 16, (18, 27, 37)) * 2 - 1
    np.testing.assert_allclose(views[1].numpy(), expected, atol=1e-5)
    views, _ = next(iter(eval_pipeline("xception", source_of(images), 3, method="multi_crop",
                                       image_size=16, scales=(16, 20), grid=3)))
    assert views.shape == (3, 2 * 3 * 3 * 2, 16, 16, 3)


def test_multi_crop_score_is_the_mean_softmax_over_the_crops(images):
    model = tiny_cnn(0)
    scales = (16, 20)
    expected = np.stack([
        model.predict_on_batch(hand_crops(image.astype(np.float32) / 255, 16, scales) * 2 - 1)
        .mean(axis=0) for image in images])
    # 100 crops an image: one image per model call in chunks of 7, or all images at once.
    for batch_size in (7, 512):
        scores, labels = predict_multi_crop(model, "xception", source_of(images), scales,
                                            batch_size=batch_size, preprocessing="tf")
        np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-6)
        assert labels.tolist() == [0, 1, 2]
    # A model of logits: the softmax of each crop is averaged, not the logits.
    logits = tiny_cnn(0, activation=None)
    assert outputs_logits(logits) and not outputs_logits(model)
    scores, _ = predict_multi_crop(logits, "xception", source_of(images), scales,
                                   preprocessing="tf")
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-6)


def test_multi_crop_and_dense_is_the_mean_of_the_two(images):
    model = tiny_cnn(1)
    source = source_of(images)
    kwargs = {"preprocessing": "tf"}
    # vgg16 is a fixed-input network: its dense form is the classifier made convolutional.
    fused, labels = predict_multi_crop_dense(model, "vgg16", source, (16, 20), **kwargs)
    crops, _ = predict_multi_crop(model, "vgg16", source, (16, 20), **kwargs)
    dense, _ = predict_dense(fully_convolutional(model), "vgg16", source, (16, 20), **kwargs)
    np.testing.assert_allclose(fused, (crops + dense) / 2, rtol=1e-5, atol=1e-7)
    assert labels.tolist() == [0, 1, 2]
    assert not np.allclose(crops, dense, atol=1e-4)
    np.testing.assert_allclose(fused.sum(axis=1), 1.0, rtol=1e-5)

    # A source that changes its order between the two passes is refused, not mixed up.
    reads = []

    def shifting():
        reads.append(None)
        order = [0, 1, 2] if len(reads) == 1 else [1, 2, 0]
        return ((images[i], i) for i in order)

    moving = tf.data.Dataset.from_generator(
        shifting,
        output_signature=(tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((), tf.int32)))
    with pytest.raises(ValueError, match=r"^the dense pass and the multi-crop pass read the "
                                         r"images in different orders \(the labels differ "
                                         r"first at image 0\)"):
        predict_multi_crop_dense(model, "vgg16", moving, (16,), **kwargs)


def test_ensemble_is_the_mean_of_the_models_softmax(images):
    probabilities, logits = tiny_cnn(2), tiny_cnn(3, activation=None)
    source = source_of(images)
    kwargs = {"image_size": 16, "preprocessing": "tf"}
    views, _ = next(iter(eval_pipeline("xception", source, 3, **kwargs)))
    expected = (probabilities.predict_on_batch(views.numpy())
                + softmax(logits.predict_on_batch(views.numpy()))) / 2
    scores, labels = predict_ensemble([probabilities, logits], "xception", source, **kwargs)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-7)
    assert labels.tolist() == [0, 1, 2]
    # With another method the ensemble averages each model's result of that method.
    scores, _ = predict_ensemble([probabilities, logits], "xception", source, "multi_crop",
                                 scales=(16, 20), **kwargs)
    each = [predict(m, "xception", source, "multi_crop", scales=(16, 20), **kwargs)[0]
            for m in (probabilities, logits)]
    np.testing.assert_allclose(scores, (each[0] + each[1]) / 2, rtol=1e-5, atol=1e-7)

    with pytest.raises(ValueError, match=r"^`models\[1\]` \('.*'\) takes input "
                                         r"\(None, 20, 20, 3\), but `models\[0\]`"):
        predict_ensemble([probabilities, tiny_cnn(4, size=20)], "xception", source, **kwargs)
    with pytest.raises(ValueError, match=r"^`method` must be one of .*'multi_crop\+dense'; "
                                         r"got 'five'"):
        predict_ensemble([probabilities], "xception", source, "five")
    with pytest.raises(ValueError, match=r"^`models` must be a non-empty list"):
        predict_ensemble(probabilities, "xception", source)
