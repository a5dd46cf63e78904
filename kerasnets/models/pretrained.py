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

Each network's files are in its registry entry (`ModelSpec.published_weights`,
given at registration with :func:`tf_kernels` and the MobileNet helpers here);
MobileNet's files per (alpha, size) are those of its presets
(`mobilenet_v1_0.25_128`, ...). Every builder reaches :func:`resolve_weights`
the same way, through `common.prepare_inputs(published_as=...)`: it turns
"imagenet" into the local path of the file that fits the structure being
built and leaves every other value to `common.check_weights`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

import keras

from kerasnets.models.weights_file import check_weights_file
from kerasnets.registry import (
    IMAGENET,
    PublishedWeights,
    WeightsFile,
    default_tag,
    get_spec,
    list_models,
    weights_tags,
)
from kerasnets.weights.readers import format_of, require_reader

__all__ = ["WeightsFile", "PublishedWeights", "keras_applications", "tf_kernels",
           "mobilenet_v1_files", "mobilenet_v2_files", "published", "published_models",
           "published_networks", "published_name", "cache_folder", "WeightsDownloadError",
           "weights_file", "fetch", "resolve_weights", "hub_weights", "url_weights", "Checkpoint",
           "fetch_published", "HUB_URL", "is_tag"]

BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
CACHE_DIR_ENV = "KERASNETS_CACHE_DIR"
CACHE_SUBDIR = "models"
IMAGENET_CLASSES = 1000
HUB_URL = "https://huggingface.co/{repo}/resolve/main/{filename}"


# The top-1 accuracy keras.applications publishes for its files, by file stem: 100 minus
# the single-crop top-1 error of keras-applications' README table (ILSVRC-2012 validation,
# 224x224, 299x299 for Inception and Xception), and keras.io/api/applications' table for
# the networks that README leaves out (ResNet-101/152 and the v2s). MobileNet's are for
# input 224 per width; keras.applications publishes none for its smaller inputs.
KERAS_TOP1 = {
    "vgg16": 71.268, "vgg19": 71.256, "resnet50": 74.704, "resnet101": 76.4,
    "resnet152": 76.6, "resnet50v2": 76.0, "resnet101v2": 77.2, "resnet152v2": 78.0,
    "inception_v3": 77.898, "inception_resnet_v2": 80.256, "xception": 79.006,
    "densenet121": 74.52, "densenet169": 76.074, "densenet201": 77.064,
    "mobilenet_v1_0.25": 51.582, "mobilenet_v1_0.5": 64.292, "mobilenet_v1_0.75": 68.412,
    "mobilenet_v1_1.0": 70.424, "mobilenet_v2_0.35": 60.086, "mobilenet_v2_0.5": 65.194,
    "mobilenet_v2_0.75": 69.532, "mobilenet_v2_1.0": 71.336, "mobilenet_v2_1.3": 74.68,
    "mobilenet_v2_1.4": 75.23,
}
# The licences of the weights keras.applications hosts, by folder, as its documentation
# states them (the weights of the original authors' releases it ported).
KERAS_LICENCES = {
    "vgg16": "CC-BY-4.0", "vgg19": "CC-BY-4.0",
    "resnet": "MIT",  # v1: Kaiming He's release; the v2 files are Apache-2.0 (below)
    "inception_v3": "Apache-2.0", "inception_resnet_v2": "Apache-2.0", "xception": "MIT",
    "densenet": "BSD-3-Clause", "mobilenet": "Apache-2.0", "mobilenet_v2": "Apache-2.0",
}


def keras_applications(folder, top_name, top_hash, notop_name, notop_hash, *, key,
                       **details):
    """The `{"imagenet": ...}` entry of a registration for two files of keras.applications.

    `key` is the file stem whose published top-1 `KERAS_TOP1` holds (None
    where keras.applications publishes none); `details` are PublishedWeights'
    `network` and `structure`.
    """
    licence = KERAS_LICENCES[folder]
    if folder == "resnet":
        licence = "Apache-2.0" if key.endswith("v2") else "MIT"
    return {IMAGENET: PublishedWeights(
        WeightsFile(top_name, f"{BASE_URL}{folder}/{top_name}", top_hash),
        WeightsFile(notop_name, f"{BASE_URL}{folder}/{notop_name}", notop_hash),
        top1=KERAS_TOP1.get(key), licence=licence,
        **details,
    )}


def tf_kernels(folder, stem, top_hash, notop_hash, **details):
    """keras.applications' usual `{stem}_weights_tf_dim_ordering_tf_kernels[_notop].h5` pair
    (the hashes are those in keras/src/applications/*.py, keras 3.15)."""
    name = f"{stem}_weights_tf_dim_ordering_tf_kernels"
    return keras_applications(folder, f"{name}.h5", top_hash, f"{name}_notop.h5", notop_hash,
                              key=stem, **details)


# MobileNet v1: every width multiplier at every input size keras.applications
# trained ("mobilenet_1_0_224_tf.h5"); no hashes are published for these.
MOBILENET_V1_ALPHAS = (0.25, 0.5, 0.75, 1.0)
MOBILENET_V1_SIZES = (128, 160, 192, 224)
_MOBILENET_V1_ALPHA_TEXT = {0.25: "2_5", 0.5: "5_0", 0.75: "7_5", 1.0: "1_0"}
# MobileNet v2: keras.applications' six width multipliers at five sizes.
MOBILENET_V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
MOBILENET_V2_SIZES = (96, 128, 160, 192, 224)


def mobilenet_v1_files(alpha, size):
    """The published MobileNet v1 files of width `alpha` at input `size` (no hashes)."""
    text = _MOBILENET_V1_ALPHA_TEXT[alpha]
    return keras_applications("mobilenet", f"mobilenet_{text}_{size}_tf.h5", None,
                              f"mobilenet_{text}_{size}_tf_no_top.h5", None,
                              key=f"mobilenet_v1_{float(alpha)}" if size == 224 else None,
                              network="MobileNet v1", structure={"depth_multiplier": 1})


def mobilenet_v2_files(alpha, size):
    """The published MobileNet v2 files of width `alpha` at input `size` (no hashes)."""
    name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{size}"
    return keras_applications("mobilenet_v2", f"{name}.h5", None, f"{name}_no_top.h5", None,
                              key=f"mobilenet_v2_{float(alpha)}" if size == 224 else None,
                              network="MobileNet v2")


def hub_weights(repo_id: str, *, filename: str = "model.safetensors", **fields) -> PublishedWeights:
    """A checkpoint hosted on the Hugging Face hub (`timm/resnet18.tv_in1k`), as a tag's entry.

    It is fetched with `huggingface_hub` (its cache, offline mode and checks);
    the cache name in `cache_folder()` is the repository's name with the file's
    extension (`resnet18.tv_in1k.safetensors`): a file placed there by hand is
    used without asking the hub. `fields` are PublishedWeights' (convert, top1,
    licence, source, structure, normalization, ...).
    """
    extension = os.path.splitext(filename)[1]
    file = WeightsFile(f"{repo_id.split('/')[-1]}{extension}",
                       HUB_URL.format(repo=repo_id, filename=filename))
    return PublishedWeights(file, None, format=format_of(filename), hub=repo_id, **fields)


def url_weights(url: str, *, file_hash: str | None = None, filename: str | None = None,
                **fields) -> PublishedWeights:
    """A checkpoint at a plain URL (`.pth`, `.pth.tar`, `.th` or `.safetensors`), as a tag's entry.

    `file_hash`: its sha256 (or the leading hex digits of it that torchvision
    puts in its file names), md5 or sha1; `filename` its name in the cache
    (default: the URL's last part).
    """
    name = filename or url.rstrip("/").split("/")[-1]
    return PublishedWeights(WeightsFile(name, url, file_hash), None, format=format_of(name),
                            **fields)


def published(key: str, tag: str = IMAGENET) -> PublishedWeights | None:
    """The checkpoint `tag` of the registered name `key` itself (its ModelSpec), or None."""
    try:
        return get_spec(key).published_weights.get(tag)
    except ValueError:
        return None


def published_models(tag: str = IMAGENET) -> list[str]:
    """The registered names (presets included) that have the checkpoint `tag` themselves."""
    return sorted(name for name in list_models(include_aliases=True) if published(name, tag))


def published_networks() -> list[str]:
    """The networks with published weights, their own or their presets'
    (`mobilenet_v1` for `mobilenet_v1_0.25_128`)."""
    return list_models(pretrained=True)


def published_name(model_name: str, tag: str = IMAGENET, *, asked: str | None = None,
                   **structure) -> str:
    """The registered name whose checkpoint `tag` fits `structure`: `model_name` itself or
    one of its presets.

    `structure` holds the builder arguments being built that the files depend
    on, and `input_size`, the (height, width) of the input (None for an input
    of unknown size, which takes the files of the network's default size, as
    keras.applications does for sizes it did not train). A candidate fits when
    `structure` has every value its files need: their `PublishedWeights.structure`
    (Xception's middle_flow_repeats=8) and, for a preset, the arguments it
    fixes (MobileNet's alpha) and its input size (its files were trained at
    that size). ValueError says what was published otherwise (naming the
    `weights` value the user `asked` for, "imagenet" for the default tag).
    """
    base = get_spec(model_name)
    given = dict(structure)
    if "input_size" in given:
        size = given["input_size"]
        given["input_size"] = tuple(base.input_shape[:2]) if size is None else tuple(size)
    candidates = []
    for name in [base.name, *_presets(base.name)]:
        files = published(name, tag)
        if files is not None:
            candidates.append((name, files, _needs(get_spec(name), files, given)))
    if not candidates:
        raise ValueError(f"no published {tag!r} weights for {model_name!r}; available for: "
                         f"{', '.join(published_models(tag))}")
    for name, _, needs in candidates:
        if all(given.get(key) == value for key, value in needs.items()):
            return name
    raise ValueError(_unpublished_structure(base, candidates, given, tag, asked or tag))


def _presets(model_name):
    return [name for name in list_models(include_aliases=True)
            if get_spec(name).alias_of == model_name]


def _needs(spec, files, given):
    """What `spec`'s files need of the structure arguments in `given`."""
    needs = {key: value for key, value in files.structure.items()}
    if spec.alias_of is not None:
        needs.update({key: value for key, value in spec.defaults.items()
                      if key in given and key != "input_size"})
        if "input_size" in given and files.format == "keras":
            needs["input_size"] = tuple(spec.input_shape[:2])
    return needs


def _unpublished_structure(base, candidates, given, tag, asked):
    """The message for a structure no published file fits."""
    shared = {key: value for key, value in candidates[0][2].items()
              if all(needs.get(key, value) == value and key in needs
                     for _, _, needs in candidates)}
    for key, value in shared.items():
        if given.get(key) != value:
            networks = "networks" if len(candidates) > 1 else "network"
            which = f"`weights={asked!r}`" + (f" (the {tag!r} checkpoint)" if asked != tag
                                               else "")
            return (f"{which} needs {key}={value!r} (the published {networks}); "
                    f"got {key}={given.get(key)!r}")
    files = candidates[0][1]
    varying = [key for key in candidates[0][2] if key not in shared]
    values = {key: tuple(sorted({needs[key] for _, _, needs in candidates})) for key in varying}
    arguments = [key for key in varying if key != "input_size"]
    wanted = " and ".join(f"{key} in {values[key]}" for key in arguments)
    got = [f"{key}={given.get(key)!r}" for key in arguments]
    hint = "Use one of those or weights=None."
    if "input_size" in varying:
        sizes = tuple(h for h, _ in values["input_size"])
        wanted += f" at input sizes {sizes} (square)"
        got.append("input size {}x{}".format(*given["input_size"]))
        hint = ("Use one of those, weights=None, or include_top=False with input_shape=(None, "
                f"None, {base.input_shape[2]}) (the {base.input_shape[0]} weights, at any size).")
    wanted = f"for {wanted}" if arguments else wanted.strip()
    return (f"`weights={asked!r}`: {files.source} publishes {files.network or base.name} "
            f"weights {wanted}; got {' and '.join(got)}. {hint}")


def cache_folder() -> str:
    """The folder the published files are downloaded to (and looked up in)."""
    root = os.environ.get(CACHE_DIR_ENV) or _keras_home()
    return os.path.join(os.path.expanduser(root), CACHE_SUBDIR)


class WeightsDownloadError(OSError):
    """The published weights could not be fetched (no network, proxy, bad cache file)."""


def weights_file(key: str, *, include_top: bool, tag: str = IMAGENET) -> WeightsFile:
    """The published file for `key` (see `published_models`), with or without classifier."""
    files = published(key, tag)
    if files is None:
        raise ValueError(
            f"no published {tag!r} weights for {key!r}; available for: "
            f"{', '.join(published_models(tag))}"
        )
    return files.top if include_top or files.notop is None else files.notop


def fetch(key: str, *, include_top: bool, tag: str = IMAGENET) -> str:
    """Downloads (once) and returns the local path of `key`'s published weights file.

    See :func:`fetch_published`.
    """
    files = published(key, tag)
    weights_file(key, include_top=include_top, tag=tag)  # the error for an unknown key
    return fetch_published(files, include_top=include_top, label=f"{key!r} ({tag})")


def fetch_published(files: PublishedWeights, *, include_top: bool, label: str) -> str:
    """Downloads (once) and returns the local path of a published checkpoint.

    The cache folder (`cache_folder()`) is looked in first: a file there whose
    hash matches (or that has no published hash) is used as it is, so a file
    copied there by hand serves a machine without network access. One whose
    hash does not match is fetched again, and so is a Keras file without a
    published hash (MobileNet's) that is not a complete HDF5 file (an
    interrupted download, see `weights_file.check_weights_file`). Hub-hosted
    files come through `huggingface_hub` (its own cache), the others through
    `keras.utils.get_file`. If the download fails the error names the URL
    and the cache folder, so the file can be placed there by hand.
    """
    entry = files.top if include_top or files.notop is None else files.notop
    if files.format != "keras":
        require_reader(files.format)  # before any download
    folder = cache_folder()
    cached = os.path.join(folder, entry.filename)
    if os.path.isfile(cached):
        if files.format == "keras" and entry.file_hash is None:
            try:
                check_weights_file(cached)
            except ValueError:
                os.remove(cached)
        elif files.format != "keras":
            if _hash_matches(cached, entry.file_hash):
                return cached
            os.remove(cached)
    if not files.direct_download:
        raise WeightsDownloadError(
            f"the weights of {label} are not downloaded automatically: {files.source} shares "
            f"them at {entry.url} (a folder page, not a file). Download the file there by hand "
            f"and save it as {cached} (or set {CACHE_DIR_ENV} to a folder whose "
            f"'{CACHE_SUBDIR}' subfolder holds it), or convert a copy you have with "
            "`kerasnets convert NAME --weights TAG --checkpoint FILE`."
        )
    try:
        if files.hub is not None:
            return _hub_download(files.hub, entry.url.rsplit("/", 1)[-1])
        return keras.utils.get_file(
            entry.filename,
            entry.url,
            cache_subdir=CACHE_SUBDIR,
            file_hash=entry.file_hash if files.format == "keras" else None,
            cache_dir=os.path.dirname(folder),
        ) if files.format == "keras" else _download_checked(entry, folder)
    except (Exception, KeyboardInterrupt) as err:  # get_file raises bare Exceptions
        if isinstance(err, (KeyboardInterrupt, ImportError)):
            raise
        hash_note = f" (md5 {entry.file_hash})" if entry.file_hash and files.format == "keras" \
            else ""
        raise WeightsDownloadError(
            f"could not download the weights of {label} from {entry.url}: {err}. "
            f"Without network access, copy that file{hash_note} into {folder} as "
            f"{entry.filename!r} (or set {CACHE_DIR_ENV} to a folder whose "
            f"'{CACHE_SUBDIR}' subfolder holds it), or pass weights=<path of a weights file>."
        ) from None


def _hub_download(repo_id, filename):
    try:
        import huggingface_hub  # noqa: PLC0415  (imported on the first hub download only)
    except ImportError as err:
        raise ImportError("downloading hub-hosted weights needs huggingface_hub: "
                          "pip install huggingface_hub") from err
    return huggingface_hub.hf_hub_download(repo_id, filename)


def _download_checked(entry, folder):
    """A plain-URL checkpoint into the cache, its hash checked (sha256, prefix or md5)."""
    path = keras.utils.get_file(entry.filename, entry.url, cache_subdir=CACHE_SUBDIR,
                                cache_dir=os.path.dirname(folder))
    if not _hash_matches(path, entry.file_hash):
        os.remove(path)
        raise ValueError(f"the downloaded file's hash is not {entry.file_hash}")
    return path


def _hash_matches(path, file_hash):
    """Whether the file's sha256 (md5 for a 32-digit hash, sha1 for a 40-digit one, as the
    BVLC model zoo publishes) starts with `file_hash`."""
    if not file_hash:
        return True
    algorithm = {32: hashlib.md5, 40: hashlib.sha1}.get(len(file_hash), hashlib.sha256)
    digest = algorithm()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest().startswith(file_hash.lower())


def _keras_home() -> str:
    from keras.src.backend import config

    return config.keras_home()


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A converted checkpoint on disk: the file, its entry and what it is of (for messages)."""

    path: str
    published: PublishedWeights
    label: str


def is_tag(weights, model_name: str) -> bool:
    """Whether `weights` names a checkpoint of `model_name` ("imagenet" or one of its tags)."""
    if not isinstance(weights, str):
        return False
    tags = weights_tags(model_name)
    return weights in tags or (weights == IMAGENET and bool(tags))


def resolve_weights(weights, model_name: str, *, include_top: bool, classes: int, **structure):
    """Turns a weights tag (or "imagenet") into the checkpoint to load.

    The one way every builder resolves `weights` (through
    `common.prepare_inputs(published_as=model_name)`). Keras files come back
    as their local path, converted checkpoints as a :class:`Checkpoint`.
    `structure` picks the file among `model_name`'s and its presets' (see
    `published_name`). Any other value is returned unchanged (None, or a
    weights file path that `common.check_weights` will check). As in
    keras.applications, weights with the classifier need the checkpoint's
    classes (1000 for ImageNet).
    """
    if not is_tag(weights, model_name):
        return weights
    tag = default_tag(get_spec(model_name)) if weights == IMAGENET else weights
    key = published_name(model_name, tag, asked=weights, **structure)
    files = published(key, tag)
    if include_top is True and classes != files.classes:
        raise ValueError(
            f"`weights={weights!r}` with include_top=True needs classes={files.classes} "
            f"(the {files.dataset} classifier); got classes={classes!r}. Use include_top=False "
            "to put your own classifier on the pretrained features."
        )
    path = fetch(key, include_top=bool(include_top), tag=tag)
    if files.format == "keras":
        return path
    return Checkpoint(path, files, f"{key!r} weights {tag!r} ({files.source})")
