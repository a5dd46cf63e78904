"""weights="imagenet": keras.applications' published files, fetched and cached, never here.

No test downloads: the loading path is exercised on a file the test writes into
the cache folder (as a finished download leaves it), and the failure path on
an address that refuses connections.
"""

import dataclasses
import hashlib

import h5py
import keras
import numpy as np
import pytest

import kerasnets
from kerasnets import registry
from kerasnets.models import pretrained

KERAS_APPS = "keras.src.applications"


def published(key):
    """The published files of `key`, read from its registry entry."""
    files = pretrained.published(key)
    assert files is not None, key
    return files


def patch_published(monkeypatch, key, files):
    """`key`'s registry entry with other published files, for one test."""
    spec = registry.get_spec(key)
    monkeypatch.setitem(registry._REGISTRY, spec.name, dataclasses.replace(
        spec, published_weights={"imagenet": files}))


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(pretrained.CACHE_DIR_ENV, str(tmp_path))
    (tmp_path / "models").mkdir()
    return tmp_path / "models"


def test_the_files_and_hashes_are_keras_applications():
    import importlib

    for key, module, top, notop in [
        ("inception_v3", "inception_v3", "WEIGHTS_PATH", "WEIGHTS_PATH_NO_TOP"),
        ("xception", "xception", "WEIGHTS_PATH", "WEIGHTS_PATH_NO_TOP"),
        ("vgg16", "vgg16", "WEIGHTS_PATH", "WEIGHTS_PATH_NO_TOP"),
        ("densenet121", "densenet", "DENSENET121_WEIGHT_PATH",
         "DENSENET121_WEIGHT_PATH_NO_TOP"),
    ]:
        source = importlib.import_module(f"{KERAS_APPS}.{module}")
        assert published(key).top.url == getattr(source, top)
        assert published(key).notop.url == getattr(source, notop)
    resnet = importlib.import_module(f"{KERAS_APPS}.resnet")
    for key, name in [("resnet50", "resnet50"), ("resnet152_v2", "resnet152v2")]:
        top, notop = resnet.WEIGHTS_HASHES[name]
        assert published(key).top.file_hash == top
        assert published(key).notop.file_hash == notop
        assert published(key).top.url == (
            f"{resnet.BASE_WEIGHTS_PATH}{name}_weights_tf_dim_ordering_tf_kernels.h5")
    assert published("inception_resnet_v2").notop.file_hash == (
        "d19885ff4a710c122648d3b5c3b684e4")
    # MobileNet: every width and size keras.applications trained.
    assert published("mobilenet_v1_0.25_128").top.url.endswith(
        "mobilenet/mobilenet_2_5_128_tf.h5")
    assert published("mobilenet_v2_1.4_224").notop.url.endswith(
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.4_224_no_top.h5")
    names = pretrained.published_models()
    assert len([k for k in names if k.startswith("mobilenet_v1_")]) == 16
    assert len([k for k in names if k.startswith("mobilenet_v2_")]) == 30


def test_imagenet_loads_the_cached_file(cache, monkeypatch):
    # A notop Xception file in keras.applications' legacy HDF5 format, with
    # its hash in place of the published one (a test cannot make that file).
    from keras.src.legacy.saving import legacy_h5_format

    reference = keras.applications.Xception(weights=None, include_top=False,
                                            input_shape=(71, 71, 3))
    entry = published("xception").notop
    path = cache / entry.filename
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    patched = pretrained.PublishedWeights(
        published("xception").top,
        pretrained.WeightsFile(entry.filename, "http://127.0.0.1:9/never-used.h5", md5(path)),
    )
    patch_published(monkeypatch, "xception", patched)
    ours = kerasnets.build("xception", weights="imagenet", include_top=False,
                           input_shape=(71, 71, 3))
    for got, expected in zip(ours.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, expected)
    assert pretrained.fetch("xception", include_top=False) == str(path)


def test_a_failed_download_names_the_url_and_the_cache_folder(cache, monkeypatch):
    url = "http://127.0.0.1:9/inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
    entry = published("inception_v3").top
    patch_published(monkeypatch, "inception_v3", pretrained.PublishedWeights(
        pretrained.WeightsFile(entry.filename, url, entry.file_hash),
        published("inception_v3").notop,
    ))
    with pytest.raises(pretrained.WeightsDownloadError) as caught:
        pretrained.fetch("inception_v3", include_top=True)
    message = str(caught.value)
    assert url in message
    assert str(cache) in message
    assert entry.filename in message and entry.file_hash in message
    assert "weights=<path" in message
    # One clear error, not a chain of internals.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert isinstance(caught.value, OSError)
    assert list(cache.iterdir()) == []


def test_a_cached_file_with_the_wrong_hash_is_fetched_again(cache, monkeypatch):
    entry = published("vgg16").notop
    (cache / entry.filename).write_bytes(b"truncated download")
    patch_published(monkeypatch, "vgg16", pretrained.PublishedWeights(
        published("vgg16").top,
        pretrained.WeightsFile(entry.filename, "http://127.0.0.1:9/x.h5", entry.file_hash),
    ))
    with pytest.raises(pretrained.WeightsDownloadError, match=r"http://127\.0\.0\.1:9/x\.h5"):
        kerasnets.build("vgg16", weights="imagenet", include_top=False, input_shape=(32, 32, 3))


def test_a_broken_cached_file_without_a_hash_is_fetched_again(cache, monkeypatch):
    # MobileNet's files have no published hash: an interrupted download (a cut HDF5
    # file) is found by opening it, removed and fetched again, not handed to h5py.
    key = "mobilenet_v1_0.25_128"
    entry = published(key).top
    url = "http://127.0.0.1:9/mobilenet_2_5_128_tf.h5"
    patch_published(monkeypatch, key, pretrained.PublishedWeights(
        pretrained.WeightsFile(entry.filename, url, None), published(key).notop))
    with h5py.File(cache / "whole.h5", "w") as f:
        f.create_dataset("kernel", data=np.zeros((64, 64), np.float32))
    whole = (cache / "whole.h5").read_bytes()
    (cache / "whole.h5").unlink()
    (cache / entry.filename).write_bytes(whole[: len(whole) // 2])
    with pytest.raises(pretrained.WeightsDownloadError, match=r"http://127\.0\.0\.1:9/mobilenet"):
        pretrained.fetch(key, include_top=True)
    assert list(cache.iterdir()) == []
    # A complete file is used as it is, without a download.
    (cache / entry.filename).write_bytes(whole)
    assert pretrained.fetch(key, include_top=True) == str(cache / entry.filename)


@pytest.mark.parametrize("name, kwargs, key, include_top", [
    ("xception", {}, "xception", True),
    ("xception", {"include_top": False}, "xception", False),
    ("vgg16", {}, "vgg16", True),
    ("vgg19", {"include_top": False}, "vgg19", False),
])
def test_each_twin_asks_for_its_own_file(monkeypatch, name, kwargs, key, include_top):
    asked = []

    class Stop(Exception):
        pass

    def fake_fetch(key, *, include_top, tag="imagenet"):
        asked.append((key, include_top))
        raise Stop

    monkeypatch.setattr(pretrained, "fetch", fake_fetch)
    with pytest.raises(Stop):
        kerasnets.build(name, weights="imagenet", **kwargs)
    assert asked == [(key, include_top)]


def test_imagenet_argument_errors():
    with pytest.raises(ValueError, match=r"needs classes=1000 .*got classes=10"):
        kerasnets.build("xception", weights="imagenet", classes=10)
    with pytest.raises(ValueError, match=r"needs middle_flow_repeats=8"):
        kerasnets.build("xception", weights="imagenet", middle_flow_repeats=4)
    with pytest.raises(ValueError, match=r"no published 'imagenet' weights for 'lenet5'"):
        pretrained.weights_file("lenet5", include_top=True)


@pytest.mark.parametrize("name", ["lenet5", "vgg11_lrn", "densenet264", "inception_resnet_v1"])
def test_networks_without_published_weights_say_so(name):
    with pytest.raises(ValueError, match=r"no ImageNet weights are published for this network"
                                         r".*list_models\(pretrained=True\).*xception.*"
                                         r"pass the path of the saved weights"):
        kerasnets.build(name, weights="imagenet")
