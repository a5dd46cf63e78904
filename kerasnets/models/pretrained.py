"""ImageNet weights that keras.applications publishes, for the networks that are its twins.

Where a kerasnets network has the structure and weight order of a
keras.applications model (VGG16/19, Inception v3, Inception-ResNet v2, Xception,
ResNet-50/101/152 and their v2s, DenseNet-121/169/201, MobileNet v1 and v2),
`weights="imagenet"` loads the very files keras.applications loads: the same
URLs, fetched once with `keras.utils.get_file` into the same cache
(`$KERAS_HOME/models`, by default `~/.keras/models`, so a file that
keras.applications already downloaded is reused) and checked against the
published hashes where keras.applications publishes one (MobileNet's files
have none). `KERASNETS_CACHE_DIR` moves the cache (the files go into its
`models` folder).

Builders of those networks call `resolve_weights` first; it turns "imagenet"
into the local path of the right file and leaves every other value to
`common.check_weights`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import keras

from kerasnets.models.weights_file import check_weights_file

BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
CACHE_DIR_ENV = "KERASNETS_CACHE_DIR"
CACHE_SUBDIR = "models"
IMAGENET_CLASSES = 1000


@dataclass(frozen=True)
class WeightsFile:
    """One published file: its name in the cache, its URL and its hash (md5 or sha256)."""

    filename: str
    url: str
    file_hash: str | None = None


@dataclass(frozen=True)
class PublishedWeights:
    """The files of one network: with the classifier (`top`) and without it (`notop`)."""

    top: WeightsFile
    notop: WeightsFile


def _keras_applications(folder, top_name, top_hash, notop_name, notop_hash):
    return PublishedWeights(
        WeightsFile(top_name, f"{BASE_URL}{folder}/{top_name}", top_hash),
        WeightsFile(notop_name, f"{BASE_URL}{folder}/{notop_name}", notop_hash),
    )


def _tf_kernels(folder, stem, top_hash, notop_hash):
    """keras.applications' usual `{stem}_weights_tf_dim_ordering_tf_kernels[_notop].h5` pair."""
    name = f"{stem}_weights_tf_dim_ordering_tf_kernels"
    return _keras_applications(folder, f"{name}.h5", top_hash, f"{name}_notop.h5", notop_hash)


# The hashes are those in keras/src/applications/*.py (keras 3.15).
PUBLISHED: dict[str, PublishedWeights] = {
    "inception_v3": _tf_kernels(
        "inception_v3", "inception_v3",
        "9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63",
    ),
    "inception_resnet_v2": _tf_kernels(
        "inception_resnet_v2", "inception_resnet_v2",
        "e693bd0210a403b3192acc6073ad2e96", "d19885ff4a710c122648d3b5c3b684e4",
    ),
    "xception": _tf_kernels(
        "xception", "xception",
        "0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97",
    ),
    "vgg16": _tf_kernels(
        "vgg16", "vgg16",
        "64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc",
    ),
    "vgg19": _tf_kernels(
        "vgg19", "vgg19",
        "cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6",
    ),
    "resnet50": _tf_kernels(
        "resnet", "resnet50",
        "2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626",
    ),
    "resnet101": _tf_kernels(
        "resnet", "resnet101",
        "f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21",
    ),
    "resnet152": _tf_kernels(
        "resnet", "resnet152",
        "100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c",
    ),
    "resnet50_v2": _tf_kernels(
        "resnet", "resnet50v2",
        "3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917",
    ),
    "resnet101_v2": _tf_kernels(
        "resnet", "resnet101v2",
        "6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5",
    ),
    "resnet152_v2": _tf_kernels(
        "resnet", "resnet152v2",
        "a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33",
    ),
    "densenet121": _tf_kernels(
        "densenet", "densenet121",
        "9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738",
    ),
    "densenet169": _tf_kernels(
        "densenet", "densenet169",
        "d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b",
    ),
    "densenet201": _tf_kernels(
        "densenet", "densenet201",
        "1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1",
    ),
}

# MobileNet v1: every width multiplier at every input size keras.applications
# trained ("mobilenet_1_0_224_tf.h5"); no hashes are published for these.
MOBILENET_V1_ALPHAS = (0.25, 0.5, 0.75, 1.0)
MOBILENET_V1_SIZES = (128, 160, 192, 224)
_MOBILENET_V1_ALPHA_TEXT = {0.25: "2_5", 0.5: "5_0", 0.75: "7_5", 1.0: "1_0"}
for _alpha in MOBILENET_V1_ALPHAS:
    for _size in MOBILENET_V1_SIZES:
        _text = _MOBILENET_V1_ALPHA_TEXT[_alpha]
        PUBLISHED[f"mobilenet_v1_{_alpha}_{_size}"] = _keras_applications(
            "mobilenet", f"mobilenet_{_text}_{_size}_tf.h5", None,
            f"mobilenet_{_text}_{_size}_tf_no_top.h5", None,
        )

# MobileNet v2: keras.applications' six width multipliers at five sizes.
MOBILENET_V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
MOBILENET_V2_SIZES = (96, 128, 160, 192, 224)
for _alpha in MOBILENET_V2_ALPHAS:
    for _size in MOBILENET_V2_SIZES:
        _name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(_alpha)}_{_size}"
        PUBLISHED[f"mobilenet_v2_{_alpha}_{_size}"] = _keras_applications(
            "mobilenet_v2", f"{_name}.h5", None, f"{_name}_no_top.h5", None,
        )


def published_models() -> list[str]:
    """The keys that have published ImageNet weights (network names and MobileNet variants)."""
    return sorted(PUBLISHED)


def cache_folder() -> str:
    """The folder the published files are downloaded to (and looked up in)."""
    root = os.environ.get(CACHE_DIR_ENV) or _keras_home()
    return os.path.join(os.path.expanduser(root), CACHE_SUBDIR)


class WeightsDownloadError(OSError):
    """The published weights could not be fetched (no network, proxy, bad cache file)."""


def weights_file(key: str, *, include_top: bool) -> WeightsFile:
    """The published file for `key` (see `published_models`), with or without classifier."""
    if key not in PUBLISHED:
        raise ValueError(
            f"no published ImageNet weights for {key!r}; available for: "
            f"{', '.join(published_models())}"
        )
    return PUBLISHED[key].top if include_top else PUBLISHED[key].notop


def fetch(key: str, *, include_top: bool) -> str:
    """Downloads (once) and returns the local path of `key`'s published weights file.

    A file already in the cache is used when its hash matches; one whose
    hash does not match is fetched again, and so is one without a published
    hash (MobileNet's) that is not a complete HDF5 file (an interrupted
    download, see `weights_file.check_weights_file`). If the download fails the error
    names the URL and the cache folder, so the file can be placed there by
    hand (on a machine without network access, for example).
    """
    entry = weights_file(key, include_top=include_top)
    folder = cache_folder()
    cached = os.path.join(folder, entry.filename)
    if entry.file_hash is None and os.path.isfile(cached):
        try:
            check_weights_file(cached)
        except ValueError:
            os.remove(cached)
    try:
        return keras.utils.get_file(
            entry.filename,
            entry.url,
            cache_subdir=CACHE_SUBDIR,
            file_hash=entry.file_hash,
            cache_dir=os.path.dirname(folder),
        )
    except (Exception, KeyboardInterrupt) as err:  # get_file raises bare Exceptions
        if isinstance(err, KeyboardInterrupt):
            raise
        hash_note = f" (md5 {entry.file_hash})" if entry.file_hash else ""
        raise WeightsDownloadError(
            f"could not download the ImageNet weights of {key!r} from {entry.url}: {err}. "
            f"Without network access, copy that file{hash_note} into {folder} as "
            f"{entry.filename!r} (or set {CACHE_DIR_ENV} to a folder whose "
            f"'{CACHE_SUBDIR}' subfolder holds it), or pass weights=<path of a weights file>."
        ) from None


def _keras_home() -> str:
    from keras.src.backend import config

    return config.keras_home()


def resolve_weights(weights, key: str, *, include_top: bool, classes: int):
    """Turns `weights="imagenet"` into the local path of the published file for `key`.

    Any other value is returned unchanged (None, or a weights file path that
    `common.check_weights` will check). As in keras.applications, ImageNet
    weights with the classifier need `classes=1000`.
    """
    if not (isinstance(weights, str) and weights == "imagenet"):
        return weights
    if include_top is True and classes != IMAGENET_CLASSES:
        raise ValueError(
            f"`weights='imagenet'` with include_top=True needs classes={IMAGENET_CLASSES} "
            f"(the ImageNet classifier); got classes={classes!r}. Use include_top=False "
            "to put your own classifier on the pretrained features."
        )
    return fetch(key, include_top=bool(include_top))
