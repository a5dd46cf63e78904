"""Pure image operations: decoding, resizing the shorter side, centre/ten/multi-scale/multi-crop views.

Each takes one image tensor (height, width, channels) and runs eagerly or
inside `tf.data.Dataset.map`. This is the bottom floor of `kerasnets.data`: it
imports nothing else from the package; augmentation, preprocessing, the
sources, the pipelines and evaluation build on it.
"""

from __future__ import annotations

import numbers

import tensorflow as tf

__all__ = ["decode", "resize_shorter_side", "center_crop", "ten_crop", "multi_scale",
           "multi_crop", "grid_offsets", "default_resize", "default_scales"]


def decode(image, channels=None):
    """One image as float32 in [0, 1]: a file path is read and decoded, integers scaled.

    `channels` (1 or 3) converts gray to RGB or RGB to gray when they differ
    (a CMYK JPEG too: it is decoded to RGB, then to gray).
    """
    if image.dtype == tf.string:
        image = _read_image(image, channels or 3)
    if image.dtype.is_integer:
        image = tf.image.convert_image_dtype(image, tf.float32)
    else:
        image = tf.cast(image, tf.float32)
    have = image.shape[-1]
    if channels == 3 and have == 1:
        image = tf.image.grayscale_to_rgb(image)
    elif channels == 1 and have == 3:
        image = tf.image.rgb_to_grayscale(image)
    return image


def _read_image(path, channels):
    contents = tf.io.read_file(path)
    if channels != 1:
        return tf.io.decode_image(contents, channels=channels, expand_animations=False)

    # libjpeg converts CMYK (and YCCK) JPEGs to RGB but not to gray: those go through RGB.
    def cmyk():
        return tf.equal(tf.io.extract_jpeg_shape(contents)[2], 4)

    is_cmyk = tf.cond(tf.io.is_jpeg(contents), cmyk, lambda: tf.constant(False))
    return tf.cond(
        is_cmyk,
        lambda: tf.image.rgb_to_grayscale(tf.io.decode_jpeg(contents, channels=3)),
        lambda: tf.io.decode_image(contents, channels=1, expand_animations=False),
    )


def _hw(image):
    shape = tf.shape(image)
    return shape[0], shape[1]


def resize_shorter_side(image, size):
    """Resizes (bilinear) so that the shorter side is `size`, keeping the aspect ratio.

    `size` may be a scalar tensor. The longer side is rounded to the nearest pixel.
    """
    height, width = _hw(image)
    size = tf.cast(size, tf.float32)
    scale = size / tf.cast(tf.minimum(height, width), tf.float32)
    new_height = tf.cast(tf.round(tf.cast(height, tf.float32) * scale), tf.int32)
    new_width = tf.cast(tf.round(tf.cast(width, tf.float32) * scale), tf.int32)
    size = tf.cast(size, tf.int32)
    # The shorter side is exactly `size`, whatever the rounding of the product did.
    new_height = tf.where(height <= width, size, tf.maximum(new_height, size))
    new_width = tf.where(height <= width, tf.maximum(new_width, size), size)
    return tf.image.resize(image, tf.stack([new_height, new_width]), method="bilinear")


def _crop(image, top, left, size):
    return tf.image.crop_to_bounding_box(image, top, left, size, size)


def center_crop(image, size, resize=None):
    """The central `size` x `size` crop, after resizing the shorter side to `resize` if given."""
    if resize is not None:
        image = resize_shorter_side(image, resize)
    shape = tf.shape(image)
    return _crop(image, (shape[0] - size) // 2, (shape[1] - size) // 2, size)


def ten_crop(image, size, resize=None):
    """Ten views (10, size, size, C): four corners and the centre, then their mirrors.

    Krizhevsky et al. (2012), section 4.1: "extracting five 224x224 patches
    (the four corner patches and the center patch) as well as their horizontal
    reflections (hence ten patches in all), and averaging the predictions".
    Order: top-left, top-right, bottom-left, bottom-right, centre, then the
    same five mirrored left-right. The shorter side is resized to `resize`
    first if given.
    """
    if resize is not None:
        image = resize_shorter_side(image, resize)
    shape = tf.shape(image)
    bottom, right = shape[0] - size, shape[1] - size
    crops = tf.stack([
        _crop(image, 0, 0, size),
        _crop(image, 0, right, size),
        _crop(image, bottom, 0, size),
        _crop(image, bottom, right, size),
        _crop(image, bottom // 2, right // 2, size),
    ])
    return tf.concat([crops, tf.image.flip_left_right(crops)], axis=0)


def multi_scale(image, size, scales):
    """Views (2 * len(scales), size, size, C): at each test scale Q, the centre crop and its mirror.

    Simonyan and Zisserman (2015), section 4.2 evaluate at several test scales
    Q and average; this is the cropped form for fixed-input networks (the dense
    form is :func:`evaluate_dense`).
    """
    views = []
    for scale in scales:
        crop = center_crop(image, size, scale)
        views += [crop, tf.image.flip_left_right(crop)]
    return tf.stack(views)


def grid_offsets(side, size, grid):
    """The `grid` offsets of a `size` crop along a side of `side` pixels, corner to corner.

    round(i * (side - size) / (grid - 1)) for i in 0 .. grid - 1 (rounding half
    to even, as Python's `round`); a grid of 1 is the centre crop's offset,
    (side - size) // 2. `side` may be a scalar tensor; returns a list of int32
    scalars.
    """
    side = tf.convert_to_tensor(side)
    if grid == 1:
        return [(side - size) // 2]
    room = tf.cast(side - size, tf.float64)
    return [tf.cast(tf.round(room * i / (grid - 1)), tf.int32) for i in range(grid)]


def multi_crop(image, size, scales, grid=5):
    """Views (len(scales) * grid * grid * 2, size, size, C): VGG's multi-crop evaluation.

    Simonyan and Zisserman (2015), section 3.2 and Table 5: at each test
    scale Q (the shorter side resized to Q) a regular `grid` x `grid` grid of
    `size` crops, evenly spaced from corner to corner (offsets
    :func:`grid_offsets`), and their horizontal mirrors: "50 crops per
    scale", 150 over the three scales Q = 256, 384, 512. Order: for each
    scale, the grid row by row (top to bottom, left to right within a row),
    then the same crops mirrored left-right.
    """
    if isinstance(grid, bool) or not isinstance(grid, numbers.Integral) or grid < 1:
        raise ValueError(f"`grid` must be a positive integer (crops per side); got {grid!r}")
    views = []
    for scale in scales:
        resized = resize_shorter_side(image, scale)
        height, width = _hw(resized)
        crops = tf.stack([_crop(resized, top, left, size)
                          for top in grid_offsets(height, size, int(grid))
                          for left in grid_offsets(width, size, int(grid))])
        views += [crops, tf.image.flip_left_right(crops)]
    return tf.concat(views, axis=0)


def default_resize(size, crop_fraction=0.875):
    """The shorter side before a centre crop of `size`: size / `crop_fraction`, rounded.

    A network's crop fraction is in its registry entry (`ModelSpec.crop_fraction`):
    0.875 (224 of 256) for most, 227 / 256 for AlexNet.
    """
    return int(round(size / crop_fraction))


def default_scales(size):
    """VGG's test scales Q = (256, 384, 512) for 224, scaled to other sizes."""
    return tuple(int(round(q * size / 224)) for q in (256, 384, 512))
