"""Training augmentation of the papers, one image at a time, as stateless TensorFlow ops.

Every function takes one float32 image of shape (height, width, channels) with
values in [0, 1] and a `seed`: an int32/int64 tensor of shape [2], as the
`tf.random.stateless_*` and `tf.image.stateless_random_*` ops take it. The same
image and seed always give the same output, so a pipeline that derives one seed
per element (see `kerasnets.data.pipeline`) is reproducible even when it maps in
parallel. All ops are graph ops: they run inside `tf.data.Dataset.map`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Callable

import tensorflow as tf

from kerasnets.data.transforms import default_resize, resize_shorter_side

__all__ = [
    "IMAGENET_EIGVAL",
    "IMAGENET_EIGVEC",
    "resize_shorter_side",
    "random_crop",
    "random_flip",
    "pca_lighting",
    "alexnet_augment",
    "vgg_scale_jitter",
    "inception_crop_window",
    "inception_crop",
    "color_distortion",
    "inception_augment",
    "scaled_color_distortion",
    "cifar_augment",
    "random_rotation",
    "gaussian_noise",
    "PolicyOptions",
    "POLICIES",
]

# Eigen-decomposition of the covariance of ImageNet's RGB pixel values (0-255
# scale), as published with Caffe's and fb.resnet.torch's AlexNet recipes.
# Columns of IMAGENET_EIGVEC are the eigenvectors, in the order of IMAGENET_EIGVAL.
IMAGENET_EIGVAL = (55.46, 4.794, 1.148)
IMAGENET_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)


def _seeds(seed, count):
    """`count` independent seeds from one: each op of a composite draws from its own."""
    return tf.unstack(tf.random.experimental.stateless_split(seed, count))


def random_crop(image, size, seed):
    """A `size` x `size` crop at a uniformly random position inside the image."""
    channels = tf.shape(image)[2]
    return tf.image.stateless_random_crop(image, tf.stack([size, size, channels]), seed=seed)


def random_flip(image, seed):
    """Mirrors the image left-right with probability 1/2."""
    return tf.image.stateless_random_flip_left_right(image, seed=seed)


def pca_lighting(image, seed, alpha_std=0.1, eigval=IMAGENET_EIGVAL, eigvec=IMAGENET_EIGVEC):
    """AlexNet's PCA colour augmentation ("fancy PCA"): one RGB shift per image.

    Krizhevsky, Sutskever and Hinton (2012), "ImageNet Classification with Deep
    Convolutional Neural Networks", section 4.1: to every pixel add
    `[p1, p2, p3] @ [a1*l1, a2*l2, a3*l3]` with p_i, l_i the eigenvectors and
    eigenvalues of the RGB covariance of the training set and a_i ~ N(0, alpha_std),
    drawn once per image. `eigval` is on the 0-255 scale and divided by 255 here
    because images are in [0, 1]. The result is not clipped (as in the paper and
    fb.resnet.torch), so that the shift stays a constant per image. The image
    must have 3 (RGB) channels.
    """
    shape = tf.TensorShape(image.shape)
    if shape.rank is not None and shape[-1] not in (None, 3):
        raise ValueError(f"pca_lighting shifts RGB colours: `image` must have 3 channels; "
                         f"got shape {tuple(shape)}")
    alpha = tf.random.stateless_normal([3], seed=seed, stddev=alpha_std)
    eigval = tf.constant(eigval, tf.float32) / 255.0
    eigvec = tf.constant(eigvec, tf.float32)
    shift = tf.linalg.matvec(eigvec, alpha * eigval)
    return image + shift


def alexnet_augment(image, seed, crop_size=224, resize=256, flip=True, pca=True, alpha_std=0.1,
                    eigval=IMAGENET_EIGVAL, eigvec=IMAGENET_EIGVEC):
    """AlexNet's training augmentation: shorter side to `resize`, random crop, flip, PCA.

    Krizhevsky et al. (2012), section 4.1: random 224x224 patches (227 in the
    Caffe reference model) and their horizontal reflections of the 256-pixel
    image, plus PCA lighting (:func:`pca_lighting`). Deviation: the paper
    crops the 256x256 centre of the rescaled image first; we keep the whole
    rescaled image, as most reimplementations do. A 1-channel (gray) image
    gets no PCA lighting, which shifts RGB colours (as :func:`inception_augment`
    skips the colour distortion). `eigval` and `eigvec` are the training set's
    PCA (ImageNet's by default; `kerasnets.data.dataset_statistics` computes
    another set's).
    """
    crop_seed, flip_seed, pca_seed = _seeds(seed, 3)
    image = resize_shorter_side(image, resize)
    image = random_crop(image, crop_size, crop_seed)
    if flip:
        image = random_flip(image, flip_seed)
    if pca and image.shape[-1] != 1:
        image = pca_lighting(image, pca_seed, alpha_std=alpha_std, eigval=eigval, eigvec=eigvec)
    return image


def vgg_scale_jitter(image, seed, scale_range=(256, 512), crop_size=224, flip=True):
    """VGG's scale jittering: shorter side S ~ U[S_min, S_max], random crop, flip.

    Simonyan and Zisserman (2015), "Very Deep Convolutional Networks for
    Large-Scale Image Recognition", section 3.1: multi-scale training with S
    drawn uniformly (integers) from [S_min, S_max] = [256, 512] by default;
    `scale_range=(S, S)` is the paper's fixed-scale training (S = 256 or 384).
    The paper's random RGB colour shift is :func:`pca_lighting`, available
    separately. `scale_range` is a pair of positive integers, S_min <= S_max.
    """
    try:
        low, high = scale_range
    except (TypeError, ValueError):
        low = high = None
    numbers_given = isinstance(low, numbers.Real) and isinstance(high, numbers.Real)
    if low is None or (numbers_given and not 1 <= low <= high):
        raise ValueError(f"`scale_range` must be a pair (S_min, S_max) of positive integers "
                         f"with S_min <= S_max; got {scale_range!r}")
    scale_seed, crop_seed, flip_seed = _seeds(seed, 3)
    scale = tf.random.stateless_uniform(
        [], seed=scale_seed, minval=int(low), maxval=int(high) + 1, dtype=tf.int32
    )
    image = resize_shorter_side(image, scale)
    image = random_crop(image, crop_size, crop_seed)
    if flip:
        image = random_flip(image, flip_seed)
    return image


def inception_crop_window(image_shape, seed, area_range=(0.08, 1.0),
                          aspect_ratio_range=(3 / 4, 4 / 3), max_attempts=10):
    """The (top, left, height, width) of an Inception-style random crop.

    The crop covers a fraction of the image's area drawn from `area_range`, with
    width / height in `aspect_ratio_range`. When no such window is found in
    `max_attempts` tries, the whole image is used (TensorFlow's behaviour).
    """
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        image_shape,
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=seed,
        min_object_covered=0.0,
        aspect_ratio_range=aspect_ratio_range,
        area_range=area_range,
        max_attempts=max_attempts,
        use_image_if_no_bounding_boxes=True,
    )
    return begin[0], begin[1], size[0], size[1]


def inception_crop(image, seed, size=299, area_range=(0.08, 1.0),
                   aspect_ratio_range=(3 / 4, 4 / 3)):
    """Inception's random-sized crop, resized (bilinear) to `size` x `size`.

    Szegedy et al. (2015), "Going Deeper with Convolutions", section 6:
    "patches of the image whose size is distributed evenly between 8% and 100%
    of the image area with aspect ratio constrained to the interval [3/4, 4/3]".
    """
    top, left, height, width = inception_crop_window(
        tf.shape(image), seed, area_range=area_range, aspect_ratio_range=aspect_ratio_range
    )
    image = tf.image.crop_to_bounding_box(image, top, left, height, width)
    return tf.image.resize(image, [size, size], method="bilinear")


def color_distortion(image, seed, brightness=32 / 255, saturation=(0.5, 1.5), hue=0.2,
                     contrast=(0.5, 1.5)):
    """Inception's photometric distortions: brightness, saturation, hue, contrast; clipped.

    The colour distortion of Howard (2013), "Some Improvements on Deep
    Convolutional Neural Network Based Image Classification", used by
    GoogLeNet, with the strengths of TensorFlow's Inception preprocessing
    (`distort_color`). Deviation: one fixed order instead of a random one of
    four. A `None` strength skips that distortion. Values are clipped to [0, 1].
    """
    seeds = _seeds(seed, 4)
    if brightness:
        image = tf.image.stateless_random_brightness(image, brightness, seed=seeds[0])
    if saturation:
        image = tf.image.stateless_random_saturation(image, *saturation, seed=seeds[1])
    if hue:
        image = tf.image.stateless_random_hue(image, hue, seed=seeds[2])
    if contrast:
        image = tf.image.stateless_random_contrast(image, *contrast, seed=seeds[3])
    return tf.clip_by_value(image, 0.0, 1.0)


def scaled_color_distortion(image, seed, strength=1.0):
    """:func:`color_distortion` with every strength scaled by `strength` in [0, 2].

    1 is Inception's; 0 leaves the image as it is; the saturation and contrast
    factors span [1 - strength / 2, 1 + strength / 2]. BN-Inception (Ioffe and
    Szegedy 2015, section 4.2.1) "reduce[s] the photometric distortions".
    """
    strength = float(strength)
    if not 0 <= strength <= 2:
        raise ValueError(f"the colour distortion `strength` must be a number in [0, 2] "
                         f"(1: Inception's, 0: none); got {strength!r}")
    if strength == 0:
        return image
    factors = (1 - strength / 2, 1 + strength / 2)
    return color_distortion(image, seed, brightness=strength * 32 / 255, saturation=factors,
                            hue=strength * 0.2, contrast=factors)


def inception_augment(image, seed, size=299, area_range=(0.08, 1.0),
                      aspect_ratio_range=(3 / 4, 4 / 3), flip=True, distort_color=True):
    """Inception's training augmentation: random-sized crop, flip, colour distortion.

    `distort_color`: True (Inception's strengths), False, or a number in [0, 2]
    that scales them (:func:`scaled_color_distortion`).
    """
    crop_seed, flip_seed, color_seed = _seeds(seed, 3)
    image = inception_crop(image, crop_seed, size, area_range, aspect_ratio_range)
    if flip:
        image = random_flip(image, flip_seed)
    if distort_color is not False and image.shape[-1] == 3:
        strength = 1.0 if distort_color is True else distort_color
        image = scaled_color_distortion(image, color_seed, strength)
    return image


def cifar_augment(image, seed, size=32, padding=4, flip=True):
    """The CIFAR augmentation: zero-pad `padding` pixels a side, random `size` crop, flip.

    He, Zhang, Ren and Sun (2016), section 4.2: "4 pixels are padded on each
    side, and a 32x32 crop is randomly sampled from the padded image or its
    horizontal flip"; also Huang et al. (2016, stochastic depth) and DenseNet.
    An image that is not `size` x `size` is resized (bilinear) to it first.
    """
    crop_seed, flip_seed = _seeds(seed, 2)
    if image.shape[0] != size or image.shape[1] != size:
        image = tf.image.resize(image, [size, size], method="bilinear")
    image = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    image = random_crop(image, size, crop_seed)
    if flip:
        image = random_flip(image, flip_seed)
    return image


def random_rotation(image, seed, max_degrees=10.0, fill_mode="reflect"):
    """Rotates about the centre by an angle ~ U[-max_degrees, max_degrees] (bilinear).

    `fill_mode` ("reflect", "constant", "nearest", "wrap") fills the corners.
    """
    angle = tf.random.stateless_uniform([], seed=seed, minval=-1.0, maxval=1.0)
    angle = angle * max_degrees * math.pi / 180.0
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    h = tf.cast(height, tf.float32) - 1.0
    w = tf.cast(width, tf.float32) - 1.0
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Maps each output pixel back to its input position, rotating about the centre.
    transform = tf.stack([
        cos, -sin, (w - (cos * w - sin * h)) / 2.0,
        sin, cos, (h - (sin * w + cos * h)) / 2.0,
        0.0, 0.0,
    ])[tf.newaxis]
    rotated = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[tf.newaxis],
        transforms=transform,
        output_shape=tf.stack([height, width]),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode=fill_mode.upper(),
    )
    return tf.ensure_shape(rotated[0], image.shape)


def gaussian_noise(image, seed, stddev=0.02):
    """Adds independent N(0, stddev) noise to every value (not clipped)."""
    return image + tf.random.stateless_normal(tf.shape(image), seed=seed, stddev=stddev)


# ------------------------------------------------------------------ the papers' policies


@dataclasses.dataclass(frozen=True)
class PolicyOptions:
    """What a training policy needs besides the image and its seed.

    `size`: the square crop the network takes; `scale_range`: VGG's (S_min,
    S_max); `pca`: AlexNet's PCA lighting on or off, `pca_eigen` its
    (eigval, eigvec) (None: ImageNet's); `crop_fraction`: the
    network's crop share of the shorter side (AlexNet's resize is size / it);
    `area_range`: the Inception crop's share of the image area (None: the
    paper's 8% to 100%); `color_distortion`: the strength of Inception's
    photometric distortions (1: the paper's, 0: none).
    """

    size: int
    scale_range: tuple | None = None
    pca: bool = True
    pca_eigen: tuple | None = None
    crop_fraction: float = 0.875
    area_range: tuple | None = None
    color_distortion: float = 1.0


def _alexnet_policy(image, seed, options):
    return alexnet_augment(image, seed, crop_size=options.size,
                           resize=default_resize(options.size, options.crop_fraction),
                           pca=options.pca,
                           **(dict(zip(("eigval", "eigvec"), options.pca_eigen))
                              if options.pca_eigen else {}))


def _vgg_policy(image, seed, options):
    return vgg_scale_jitter(image, seed, options.scale_range, crop_size=options.size)


def _inception_policy(image, seed, options):
    area_range = (0.08, 1.0) if options.area_range is None else tuple(options.area_range)
    return inception_augment(image, seed, size=options.size, area_range=area_range,
                             distort_color=options.color_distortion)


def _cifar_policy(image, seed, options):
    return cifar_augment(image, seed, size=options.size)


def _no_policy(image, seed, options):
    return tf.image.resize(image, [options.size, options.size], method="bilinear")


# Training augmentation by name, `policy(image, seed, options) -> image`: the
# papers' (a network's registry entry names its own, `ModelSpec.augmentation`),
# and "none" (resize to the input size only) for small inputs such as the digits.
# A new policy is one function and one entry here: the pipeline and the recipes'
# configs read this table.
POLICIES: dict[str, Callable] = {
    "alexnet": _alexnet_policy,
    "vgg": _vgg_policy,
    "inception": _inception_policy,
    "cifar": _cifar_policy,
    "none": _no_policy,
}
