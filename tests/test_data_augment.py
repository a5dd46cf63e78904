"""Facts about the augmentation, preprocessing and evaluation views, one image at a time."""

import numpy as np
import pytest
import tensorflow as tf

from kerasnets.data import augment as aug
from kerasnets.data import center_crop, channel_means, multi_scale, preprocess, ten_crop
from kerasnets.data import sources


def coordinates(height, width):
    """An image whose channels hold each pixel's row and column (and zeros)."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return tf.constant(np.stack([rows, cols, np.zeros_like(rows)], -1), tf.float32)


def seed(i):
    return tf.constant([i, 7], tf.int64)


def window_of(crop):
    """(top, left, flipped) of a crop of `coordinates`, checking it is one contiguous window."""
    crop = np.asarray(crop)
    rows, cols = crop[..., 0], crop[..., 1]
    size_h, size_w = rows.shape
    np.testing.assert_array_equal(rows, np.broadcast_to(rows[:, :1], rows.shape))
    np.testing.assert_array_equal(rows[:, 0], rows[0, 0] + np.arange(size_h))
    flipped = cols[0, 0] > cols[0, -1]
    step = -1 if flipped else 1
    np.testing.assert_array_equal(cols, cols[:, :1] + step * np.arange(size_w)[None, :])
    return int(rows[0, 0]), int(cols[0, -1] if flipped else cols[0, 0]), bool(flipped)


def test_alexnet_crops_stay_inside_and_flip_is_a_mirror():
    image = coordinates(256, 300)  # shorter side already 256: the resize is the identity
    windows = [window_of(aug.alexnet_augment(image, seed(i), pca=False)) for i in range(40)]
    tops, lefts, flips = zip(*windows)
    assert 0 <= min(tops) and max(tops) <= 256 - 224
    assert 0 <= min(lefts) and max(lefts) <= 300 - 224
    assert set(flips) == {True, False}  # both, about half each
    assert len(set(zip(tops, lefts))) > 30  # positions vary with the seed
    out = aug.alexnet_augment(image, seed(0), crop_size=227, pca=False)
    assert out.shape == (227, 227, 3) and out.dtype == tf.float32


def test_alexnet_resizes_the_shorter_side_to_256():
    image = tf.random.stateless_uniform((375, 500, 3), seed=[1, 2])
    assert aug.resize_shorter_side(image, 256).shape == (256, 341, 3)
    assert aug.resize_shorter_side(tf.transpose(image, [1, 0, 2]), 256).shape == (341, 256, 3)
    out = aug.alexnet_augment(image, seed(3))
    assert out.shape == (224, 224, 3)


def test_random_flip_is_exactly_the_image_or_its_mirror():
    image = tf.random.stateless_uniform((5, 7, 3), seed=[3, 4])
    outcomes = set()
    for i in range(16):
        out = aug.random_flip(image, seed(i)).numpy()
        if np.array_equal(out, image.numpy()):
            outcomes.add("same")
        else:
            np.testing.assert_array_equal(out, image.numpy()[:, ::-1])
            outcomes.add("mirror")
    assert outcomes == {"same", "mirror"}


def test_pca_lighting_is_a_constant_shift_with_the_eigen_covariance():
    image = tf.fill((6, 5, 3), 0.5)
    shifted = aug.pca_lighting(image, seed(0)).numpy() - 0.5
    np.testing.assert_allclose(shifted, np.broadcast_to(shifted[0, 0], shifted.shape), atol=1e-7)
    assert np.abs(shifted[0, 0]).max() > 0

    draws = 4000
    shifts = (
        tf.data.Dataset.range(draws)
        .map(lambda i: aug.pca_lighting(tf.zeros((1, 1, 3)), tf.stack([i, 11]))[0, 0])
        .batch(draws)
        .get_single_element()
        .numpy()
        .astype(np.float64)
    )
    eigval = np.array(aug.IMAGENET_EIGVAL) / 255.0
    eigvec = np.array(aug.IMAGENET_EIGVEC)
    expected = eigvec @ np.diag((0.1 * eigval) ** 2) @ eigvec.T
    np.testing.assert_allclose(np.cov(shifts.T), expected, atol=0.06 * expected.max())
    # In the eigenbasis the coefficients are alpha_i * lambda_i, alpha_i ~ N(0, 0.1).
    alphas = np.linalg.solve(eigvec, shifts.T).T / eigval
    np.testing.assert_allclose(alphas.std(axis=0), 0.1, rtol=0.05)
    np.testing.assert_allclose(alphas.mean(axis=0), 0.0, atol=0.01)
    # The scale on [0, 1] images: a total standard deviation of 0.1 * |eigval| / 255.
    total_std = np.sqrt(np.trace(np.cov(shifts.T)))
    np.testing.assert_allclose(total_std, 0.1 * np.linalg.norm(aug.IMAGENET_EIGVAL) / 255, rtol=0.05)


def _jittered_scale(out, original_height):
    # Bilinear downscaling of a row ramp is linear: neighbouring rows differ by H / S.
    step = np.median(np.diff(np.asarray(out)[:, 0, 0]))
    return original_height / step


def test_vgg_scale_jitter_respects_s_min_s_max():
    image = coordinates(600, 700)  # larger than S_max: every S is a downscaling
    scales = []
    for i in range(30):
        out = aug.vgg_scale_jitter(image, seed(i), scale_range=(256, 512))
        assert out.shape == (224, 224, 3)
        scales.append(_jittered_scale(out, 600))
    assert 255.5 <= min(scales) and max(scales) <= 512.5
    assert max(scales) - min(scales) > 150  # drawn across the range, not fixed
    fixed = [_jittered_scale(aug.vgg_scale_jitter(image, seed(i), (384, 384)), 600)
             for i in range(3)]
    np.testing.assert_allclose(fixed, 384, atol=0.5)


def test_inception_crop_respects_area_and_aspect_bounds():
    shape = tf.constant([400, 400, 3])
    areas, aspects = [], []
    for i in range(150):
        top, left, height, width = (int(v) for v in aug.inception_crop_window(shape, seed(i)))
        assert 0 <= top and top + height <= 400 and 0 <= left and left + width <= 400
        areas.append(height * width / 400**2)
        aspects.append(width / height)
    # Integer window sides round the bounds by under a pixel's worth.
    assert min(areas) >= 0.08 - 0.005 and max(areas) <= 1.0
    assert min(aspects) >= 3 / 4 - 0.02 and max(aspects) <= 4 / 3 + 0.02
    assert min(areas) < 0.2 and max(areas) > 0.8
    image = tf.random.stateless_uniform((300, 400, 3), seed=[5, 6])
    out = aug.inception_augment(image, seed(1), size=299)
    assert out.shape == (299, 299, 3) and out.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(out)) and float(tf.reduce_max(out)) <= 1.0


def test_augmentation_is_a_function_of_the_seed():
    image = tf.random.stateless_uniform((300, 400, 3), seed=[5, 6])
    for fn in (aug.alexnet_augment, aug.vgg_scale_jitter, aug.inception_augment,
               aug.random_rotation, aug.gaussian_noise, aug.color_distortion):
        a, b, c = fn(image, seed(1)), fn(image, seed(1)), fn(image, seed(2))
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert not np.array_equal(a.numpy(), c.numpy()), fn.__name__


def test_rotation_and_noise():
    image = coordinates(41, 41) / 40.0
    np.testing.assert_allclose(aug.random_rotation(image, seed(0), max_degrees=0.0), image,
                               atol=1e-5)
    rotated = aug.random_rotation(image, seed(0), max_degrees=30.0).numpy()
    assert rotated.shape == (41, 41, 3)
    np.testing.assert_allclose(rotated[20, 20], image[20, 20], atol=1e-5)  # about the centre
    assert np.abs(rotated - image.numpy()).max() > 0.05
    noise = aug.gaussian_noise(tf.zeros((100, 100, 3)), seed(0), stddev=0.1).numpy()
    assert abs(noise.std() - 0.1) < 0.005 and abs(noise.mean()) < 0.005


def test_ten_crop_views_sit_at_the_corners_and_centre():
    image = coordinates(40, 50)
    views = ten_crop(image, 20).numpy()
    assert views.shape == (10, 20, 20, 3)
    corners = [(0, 0), (0, 30), (20, 0), (20, 30), (10, 15)]
    for k, (top, left) in enumerate(corners):
        assert window_of(views[k]) == (top, left, False)
        assert window_of(views[k + 5]) == (top, left, True)
        np.testing.assert_array_equal(views[k + 5], views[k][:, ::-1])
    assert ten_crop(tf.zeros((375, 500, 3)), 224, resize=256).shape == (10, 224, 224, 3)


def test_center_crop_and_multi_scale():
    assert window_of(center_crop(coordinates(40, 50), 20)) == (10, 15, False)
    assert center_crop(tf.zeros((375, 500, 3)), 224, resize=256).shape == (224, 224, 3)
    views = multi_scale(tf.zeros((375, 500, 3)), 224, (256, 384)).numpy()
    assert views.shape == (4, 224, 224, 3)
    image = tf.random.stateless_uniform((375, 500, 3), seed=[1, 1])
    views = multi_scale(image, 224, (256, 384)).numpy()
    np.testing.assert_array_equal(views[1], views[0][:, ::-1])
    np.testing.assert_array_equal(views[2], center_crop(image, 224, 384).numpy())


def test_preprocessing_modes():
    image = tf.constant([[[0.0, 0.5, 1.0]]])
    np.testing.assert_allclose(preprocess(image, "unit"), image)
    np.testing.assert_allclose(preprocess(image, "tf"), [[[-1.0, 0.0, 1.0]]])
    np.testing.assert_allclose(  # BGR, ImageNet means subtracted
        preprocess(image, "caffe"), [[[255 - 103.939, 127.5 - 116.779, 0 - 123.68]]], rtol=1e-6)
    np.testing.assert_allclose(
        preprocess(image, "caffe", mean=(10, 20, 30)), [[[225, 107.5, -10]]], rtol=1e-6)
    np.testing.assert_allclose(
        preprocess(image, "torch"),
        [[[(0 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (1 - 0.406) / 0.225]]], rtol=1e-5)
    # The same mapping as the digits source's.
    pixels = np.random.default_rng(0).random((2, 4, 4, 3)).astype(np.float32)
    for mode in ("caffe", "tf", "torch", "unit"):
        np.testing.assert_allclose(preprocess(pixels, mode), sources._scale(pixels, mode),
                                   rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="`mode`"):
        preprocess(image, "zscore")


def test_channel_means_of_the_training_set():
    images = np.zeros((2, 4, 4, 3), np.uint8)
    images[0] = (255, 0, 51)
    images[1, :2] = (0, 255, 51)  # half the pixels of the second image
    ds = tf.data.Dataset.from_tensor_slices((images, np.zeros(2, np.int32)))
    np.testing.assert_allclose(channel_means(ds), [127.5, 63.75, 38.25], rtol=1e-5)


def test_alexnet_augment_on_gray_skips_pca_lighting():
    gray = tf.random.stateless_uniform((256, 300, 1), seed=[5, 6])
    rgb = tf.repeat(gray, 3, axis=-1)
    for i in range(4):
        out = aug.alexnet_augment(gray, seed(i))  # pca=True by default
        assert out.shape == (224, 224, 1)
        np.testing.assert_array_equal(out, aug.alexnet_augment(gray, seed(i), pca=False))
        # The same crop and flip as an RGB image's, without its colour shift.
        np.testing.assert_array_equal(out[..., 0],
                                      aug.alexnet_augment(rgb, seed(i), pca=False)[..., 0])
    assert not np.array_equal(aug.alexnet_augment(rgb, seed(0)),
                              aug.alexnet_augment(rgb, seed(0), pca=False))  # RGB still lit


def test_pca_lighting_refuses_images_that_are_not_rgb():
    for shape in ((8, 8, 1), (8, 8, 4)):
        with pytest.raises(ValueError) as error:
            aug.pca_lighting(tf.zeros(shape), seed(0))
        assert "3 channels" in str(error.value) and str(shape) in str(error.value)


@pytest.mark.parametrize("scale_range", [(512, 256), (0, 256), (256,), 256])
def test_vgg_scale_jitter_refuses_a_bad_scale_range(scale_range):
    with pytest.raises(ValueError) as error:
        aug.vgg_scale_jitter(tf.zeros((300, 300, 3)), seed(0), scale_range)
    assert "`scale_range`" in str(error.value) and repr(scale_range) in str(error.value)
