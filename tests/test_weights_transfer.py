"""Loading a PyTorch checkpoint by tag: the layout arithmetic, the completeness checks, the files.

A LeNet-5 written in torch stands for a reference implementation here: its
checkpoint is registered for one test as a tag of `lenet5` and loaded through
the public `weights=` path (fetch from a pre-filled cache, read, map).
"""

import dataclasses
import importlib.util
import os

import keras
import numpy as np
import pytest
import torch
from keras import layers

import kerasnets
from kerasnets import registry
from kerasnets.models import pretrained
from kerasnets.weights import readers
from kerasnets.weights.transfer import load_state

from checkpoint_check import assert_close, assert_tag_matches, prefill_cache, randomize


class TorchLeNet5(torch.nn.Module):
    """LeNet-5 as kerasnets builds it (tanh, average pooling), in torch."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 6, 5)
        self.c3 = torch.nn.Conv2d(6, 16, 5)
        self.c5 = torch.nn.Conv2d(16, 120, 5)
        self.f6 = torch.nn.Linear(120, 84)
        self.output = torch.nn.Linear(84, 10)

    def forward(self, x):
        x = torch.nn.functional.avg_pool2d(torch.tanh(self.c1(x)), 2)
        x = torch.nn.functional.avg_pool2d(torch.tanh(self.c3(x)), 2)
        x = torch.tanh(self.c5(x)).flatten(1)
        return self.output(torch.tanh(self.f6(x)))


def lenet_mapping(m):
    for layer in ("c1", "c3", "c5"):
        m.conv(layer, layer)
    m.dense("f6", "f6")
    m.dense("predictions", "output")


def register_tag(monkeypatch, tag, published):
    spec = registry.get_spec("lenet5")
    monkeypatch.setitem(registry._REGISTRY, "lenet5", dataclasses.replace(
        spec, published_weights={tag: published}))


TOY = dict(convert=lenet_mapping, top1=99.0, licence="test", source="a test",
           classes=10, dataset="digits")


@pytest.mark.parametrize("format", ["pth", "safetensors"])
def test_a_tag_loads_its_checkpoint_through_the_cache(format, tmp_path, monkeypatch):
    if format == "pth":
        published = pretrained.url_weights("http://127.0.0.1:9/lenet5-toy.pth", **TOY)
    else:
        published = pretrained.hub_weights("kerasnets-test/lenet5.toy", **TOY)
    register_tag(monkeypatch, "toy", published)
    assert pretrained.is_tag("toy", "lenet5") and pretrained.is_tag("imagenet", "lenet5")
    diff = assert_tag_matches("lenet5", "toy", TorchLeNet5(), tmp_path=tmp_path,
                              monkeypatch=monkeypatch,
                              build_kwargs={"classifier_activation": None})
    assert diff < 1e-5
    # "imagenet" means the first tag; include_top=False leaves the classifier's arrays out.
    features = kerasnets.build("lenet5", weights="imagenet", include_top=False)
    full = kerasnets.build("lenet5", weights="toy")
    np.testing.assert_array_equal(features.get_layer("c5").get_weights()[0],
                                  full.get_layer("c5").get_weights()[0])
    with pytest.raises(ValueError, match=r"needs classes=10 \(the digits classifier\); got "
                                         r"classes=3"):
        kerasnets.build("lenet5", weights="toy", classes=3)


def test_an_incomplete_or_wrong_mapping_names_what_is_left(tmp_path, monkeypatch):
    def forgets_f6(m):
        for layer in ("c1", "c3", "c5"):
            m.conv(layer, layer)
        m.dense("predictions", "output")

    register_tag(monkeypatch, "toy", pretrained.url_weights("http://127.0.0.1:9/x.pth",
                                                            **{**TOY, "convert": forgets_f6}))
    monkeypatch.setenv(pretrained.CACHE_DIR_ENV, str(tmp_path))
    prefill_cache("lenet5", "toy", TorchLeNet5().state_dict(), tmp_path)
    with pytest.raises(ValueError, match=r"'lenet5' weights 'toy' \(a test\) checkpoint .* does "
                                         r"not fit the model .*layers without weights from it: "
                                         r"f6; arrays of it no layer takes: f6.bias, f6.weight"):
        kerasnets.build("lenet5", weights="toy")

    model = kerasnets.build("lenet5")
    state = {k: v.numpy() for k, v in TorchLeNet5().state_dict().items()}
    state["c3.weight"] = state["c3.weight"][:, :3]
    with pytest.raises(ValueError, match=r"layer 'c3' \(Conv2D\) has weights of shapes "
                                         r"\[\(5, 5, 6, 16\), \(16,\)\]; 'c3' gives "
                                         r"\[\(5, 5, 3, 16\), \(16,\)\]"):
        load_state(model, state, lenet_mapping)
    state = {k: v.numpy() for k, v in TorchLeNet5().state_dict().items()}
    del state["c1.bias"]
    with pytest.raises(ValueError, match=r"layer 'c1' has a bias, the checkpoint has no "
                                         r"'c1.bias'"):
        load_state(model, state, lenet_mapping)


def test_flatten_order_depthwise_and_groups_match_torch():
    """Dense after Flatten (torch C,H,W vs Keras H,W,C), depthwise with a multiplier, groups."""
    inputs = keras.Input((6, 6, 4))
    x = layers.Conv2D(8, 3, groups=2, name="grouped")(inputs)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False, name="depthwise")(x)
    x = layers.BatchNormalization(epsilon=1e-5, name="bn")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(5, name="fc")(x)
    model = keras.Model(inputs, outputs)

    reference = torch.nn.Sequential(
        torch.nn.Conv2d(4, 8, 3, groups=2), torch.nn.Conv2d(8, 16, 3, groups=8, bias=False),
        torch.nn.BatchNorm2d(16), torch.nn.Flatten(), torch.nn.Linear(16 * 2 * 2, 5))
    randomize(reference)
    state = {k: v.numpy() for k, v in reference.state_dict().items()}

    def mapping(m):
        m.conv("grouped", "0")
        m.depthwise("depthwise", "1")
        m.batch_norm("bn", "2")
        m.dense("fc", "4", flatten_chw=(16, 2, 2))

    load_state(model, state, mapping)
    images = np.random.default_rng(0).standard_normal((2, 6, 6, 4)).astype("float32")
    with torch.no_grad():
        want = reference(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
    assert assert_close(model.predict(images, verbose=0), want) < 1e-5


def test_pth_files_are_unwrapped_and_need_torch(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pth.tar"
    torch.save({"state_dict": {"module.c1.weight": torch.ones(2, 1, 1, 1)}, "epoch": 3}, path)
    state = readers.read_state(str(path))
    assert list(state) == ["c1.weight"] and state["c1.weight"].shape == (2, 1, 1, 1)
    (tmp_path / "bad.pth").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match=r"bad.pth' is not a readable PyTorch checkpoint"):
        readers.read_state(str(tmp_path / "bad.pth"))
    with pytest.raises(ValueError, match=r"cannot tell the checkpoint format of 'x.npz'"):
        readers.format_of("x.npz")

    # Without torch, a .pth tag says what to install before downloading anything.
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else find_spec(name, *a))
    published = pretrained.url_weights("http://127.0.0.1:9/lenet5-toy.pth", **TOY)
    monkeypatch.setenv(pretrained.CACHE_DIR_ENV, str(tmp_path))
    with pytest.raises(ImportError, match=r'needs torch.*pip install "kerasnets\[torch\]"'):
        pretrained.fetch_published(published, include_top=True, label="toy")
    assert not (tmp_path / "models").exists()


def test_offline_hub_and_url_errors_say_where_to_put_the_file(tmp_path, monkeypatch):
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setenv(pretrained.CACHE_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    published = pretrained.hub_weights("kerasnets-test/lenet5.toy", **TOY)
    folder = os.path.join(str(tmp_path), "models")
    with pytest.raises(pretrained.WeightsDownloadError,
                       match=r"from https://huggingface.co/kerasnets-test/lenet5.toy/resolve/main/"
                             r"model.safetensors: .*copy that file into " + folder +
                             r" as 'lenet5.toy.safetensors'"):
        pretrained.fetch_published(published, include_top=True, label="toy")
    # A file in huggingface_hub's own cache is found offline.
    snapshot = tmp_path / "hub" / "models--kerasnets-test--lenet5.toy" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").write_bytes(b"x")
    (tmp_path / "hub" / "models--kerasnets-test--lenet5.toy" / "refs").mkdir()
    (tmp_path / "hub" / "models--kerasnets-test--lenet5.toy" / "refs" / "main").write_text(
        "abc123")
    found = pretrained.fetch_published(published, include_top=True, label="toy")
    assert found == str(snapshot / "model.safetensors")

    # A plain URL: the torchvision-style sha256 prefix is checked on a cached file.
    url = pretrained.url_weights("http://127.0.0.1:9/lenet5-1234abcd.pth", file_hash="1234abcd",
                                 **TOY)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "lenet5-1234abcd.pth"), "wb") as f:
        f.write(b"wrong bytes")
    with pytest.raises(pretrained.WeightsDownloadError, match=r"http://127.0.0.1:9/"
                                                              r"lenet5-1234abcd.pth"):
        pretrained.fetch_published(url, include_top=True, label="toy")
    assert not os.path.exists(os.path.join(folder, "lenet5-1234abcd.pth"))
    # A 40-digit hash is a sha1 (the BVLC model zoo's), a 32-digit one an md5.
    import hashlib

    with open(os.path.join(folder, "x.caffemodel"), "wb") as f:
        f.write(b"caffe")
    for algorithm in (hashlib.sha1, hashlib.md5, hashlib.sha256):
        digest = algorithm(b"caffe").hexdigest()
        assert pretrained._hash_matches(os.path.join(folder, "x.caffemodel"), digest)
        assert not pretrained._hash_matches(os.path.join(folder, "x.caffemodel"),
                                            "0" * len(digest))


def test_tag_structure_is_set_by_the_tag_and_conflicts_are_refused(monkeypatch):
    spec = registry.get_spec("resnet20")
    published = pretrained.url_weights("http://127.0.0.1:9/resnet20.th",
                                       structure={"shortcut": "zero_pad"},
                                       **{**TOY, "convert": lenet_mapping})
    monkeypatch.setitem(registry._REGISTRY, "resnet20", dataclasses.replace(
        spec, published_weights={"toy": published}))
    with pytest.raises(ValueError, match=r"weights='toy' \(a test's resnet20 checkpoint\) needs "
                                         r"shortcut='zero_pad'; got shortcut='projection'"):
        kerasnets.build("resnet20", weights="toy", shortcut="projection")
    assert registry.list_models("resnet2*", pretrained=True) == ["resnet20"]
    info = registry.model_info("resnet20")
    assert info["default_weights"] == "toy"
    assert info["weights"]["toy"]["structure"] == {"shortcut": "zero_pad"}
    assert info["weights"]["toy"]["top1"] == 99.0


def test_a_manual_download_says_where_to_put_the_file(tmp_path, monkeypatch):
    """megvii shares a folder page: nothing is fetched, the message says what to do."""
    monkeypatch.setenv(pretrained.CACHE_DIR_ENV, str(tmp_path))
    published = pretrained.url_weights("https://1drv.ms/f/s!folder", filename="toy.pth.tar",
                                       direct_download=False, **TOY)
    with pytest.raises(pretrained.WeightsDownloadError,
                       match=r"are not downloaded automatically: a test shares them at "
                             r"https://1drv.ms/f/s!folder \(a folder page, not a file\)\. "
                             r"Download the file there by hand and save it as "
                             + str(tmp_path) + r"/models/toy.pth.tar"):
        pretrained.fetch_published(published, include_top=True, label="toy")
    assert not (tmp_path / "models").exists()
    # Placed there, it is used.
    (tmp_path / "models").mkdir()
    torch.save(TorchLeNet5().state_dict(), tmp_path / "models" / "toy.pth.tar")
    assert pretrained.fetch_published(published, include_top=True, label="toy") == str(
        tmp_path / "models" / "toy.pth.tar")
