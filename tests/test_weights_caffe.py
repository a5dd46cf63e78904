"""Caffe model-zoo networks load their PyTorch ports' checkpoints exactly.

GoogLeNet `weights="bvlc"` (crowsonkb/pytorch-caffe-models' port of the BVLC
model) and NIN `weights="caffe"` (ProGamerGov/pytorch-nin's port of the Caffe
model zoo's NIN-ImageNet), both fast: each reference (tests/reference/, random weights) is
saved as the port's .pth, loaded through `weights=` and compared with
tests/checkpoint_check.py; and the structure options those checkpoints need
(`padding="symmetric"`, `ceil_mode=True`) are checked on their own.

The BVLC AlexNet has no PyTorch port published as a file: its tag reads the
original .caffemodel (tests/test_weights_alexnet.py).
"""


import numpy as np
import pytest
from torch import nn

import kerasnets
import checkpoint_check
from checkpoint_check import (assert_close, assert_tag_matches, images_for, prefill_cache,
                              randomize, reference_logits)
from reference import caffe_googlenet, caffe_nin

# (name, tag, input shape): GoogLeNet at 72x72: conv1 36, pool1 18, pool2 9, pool3 4
# (keras "same" would give 5: the odd map where ceil mode and "same" part), pool4 2;
# NIN at 224x224, where its port's last 6x6 average pooling is global.
FAST_TAGS = [("googlenet", "bvlc", (72, 72, 3)), ("nin", "caffe", (224, 224, 3))]
LOGITS = {"classifier_activation": None}


def reference_for(name, tag):
    """The PyTorch port behind `name`'s checkpoint `tag`, with random weights (logits out)."""
    if (name, tag) == ("googlenet", "bvlc"):
        return caffe_googlenet.GoogLeNet()
    if (name, tag) == ("nin", "caffe"):
        return caffe_nin.NINLogits()
    raise KeyError((name, tag))



@pytest.mark.parametrize("name, tag, input_shape", FAST_TAGS,
                         ids=[f"{name}-{tag}" for name, tag, _ in FAST_TAGS])
def test_tag_matches_its_reference(name, tag, input_shape, tmp_path, monkeypatch):
    checkpoint_check.without_file_hash(name, tag, monkeypatch.setitem)
    assert_tag_matches(name, tag, reference_for(name, tag), tmp_path=tmp_path,
                       monkeypatch=monkeypatch, input_shape=input_shape, build_kwargs=LOGITS)


@pytest.mark.slow
def test_googlenet_bvlc_at_its_published_size(tmp_path, monkeypatch):
    checkpoint_check.without_file_hash("googlenet", "bvlc", monkeypatch.setitem)
    assert_tag_matches("googlenet", "bvlc", caffe_googlenet.GoogLeNet(), tmp_path=tmp_path,
                       monkeypatch=monkeypatch, build_kwargs=LOGITS)


@pytest.mark.slow
def test_googlenet_bvlc_without_its_classifier(tmp_path, monkeypatch):
    # include_top=False: the classifier's keys are skipped, the features are the port's.
    checkpoint_check.without_file_hash("googlenet", "bvlc", monkeypatch.setitem)
    monkeypatch.setenv("KERASNETS_CACHE_DIR", str(tmp_path))
    reference = randomize(caffe_googlenet.GoogLeNet())
    prefill_cache("googlenet", "bvlc", reference.state_dict(), tmp_path)
    reference.loss3_classifier = nn.Identity()  # the port then returns its pooled features
    model = kerasnets.build("googlenet", weights="bvlc", include_top=False, pooling="avg",
                            input_shape=(72, 72, 3))
    images = images_for("googlenet", "bvlc", (72, 72, 3))
    assert_close(np.asarray(model(images)), reference_logits(reference, images),
                 "googlenet bvlc include_top=False")


def test_checkpoints_are_registered():
    bvlc = kerasnets.get_spec("googlenet").published_weights["bvlc"]
    assert bvlc.top1 == 68.7  # the BVLC model's readme, centre crop
    assert bvlc.structure == {"lrn": True, "padding": "symmetric", "ceil_mode": True}
    assert bvlc.format == "pth"
    nin = kerasnets.get_spec("nin").published_weights["caffe"]
    assert nin.top1 == 59.36  # the model zoo gist
    assert nin.structure == {"ceil_mode": True}
    for published in (bvlc, nin):
        assert published.normalization.channel_order == "BGR"
        assert published.normalization.mean == (104.0, 117.0, 123.0)
        assert published.input_size == (224, 224)
    # AlexNet's BVLC checkpoint is read from its .caffemodel (tests/test_weights_alexnet.py).
    assert kerasnets.get_spec("alexnet").published_weights["bvlc"].format == "caffemodel"


def pool_sizes(model, names):
    return [model.get_layer(name).output.shape[1] for name in names]


GOOGLENET_POOLS = ["pool1_3x3_s2", "pool2_3x3_s2", "pool3_3x3_s2", "pool4_3x3_s2"]


def test_googlenet_ceil_mode_pools_as_caffe():
    # Caffe: ceil((n - 3) / 2) + 1; keras "same": ceil(n / 2), one more at odd n (9 -> 5).
    caffe = kerasnets.build("googlenet", ceil_mode=True, input_shape=(72, 72, 3))
    same = kerasnets.build("googlenet", input_shape=(72, 72, 3))
    assert pool_sizes(caffe, GOOGLENET_POOLS) == [18, 9, 4, 2]
    assert pool_sizes(same, GOOGLENET_POOLS) == [18, 9, 5, 3]
    assert caffe.count_params() == same.count_params() == 6_998_552


def test_googlenet_symmetric_padding_pads_conv1_by_three():
    model = kerasnets.build("googlenet", padding="symmetric", include_top=False,
                            input_shape=(224, 224, 3))
    assert model.get_layer("conv1_7x7_s2_pad").padding == ((3, 3), (3, 3))
    assert model.get_layer("conv1_7x7_s2").output.shape[1:3] == (112, 112)


@pytest.mark.parametrize("kwargs, message", [
    ({"padding": "valid"}, "`padding` must be one of ('same', 'symmetric'); got 'valid'"),
    ({"ceil_mode": 1}, "`ceil_mode` must be True or False; got 1"),
])
def test_googlenet_structure_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError) as error:
        kerasnets.build("googlenet", **kwargs)
    assert str(error.value) == message


def test_nin_ceil_mode_pools_as_caffe():
    # The released model: 224 -> 54 -> 27 -> 13 -> 6 ("valid" pooling: 26, 12, 5).
    names = ["block1_pool", "block2_pool", "block3_pool"]
    caffe = kerasnets.build("nin", ceil_mode=True)
    assert pool_sizes(caffe, names) == [27, 13, 6]
    assert pool_sizes(kerasnets.build("nin"), names) == [26, 12, 5]
    assert caffe.count_params() == 7_595_176


def test_nin_ceil_mode_is_for_max_pooling_only():
    with pytest.raises(ValueError, match=r"`ceil_mode=True` pools as Caffe's max pooling does; "
                                         r"configuration 'cifar10' average-pools too"):
        kerasnets.build("nin_cifar10", ceil_mode=True)
    with pytest.raises(ValueError, match=r"`ceil_mode` must be True or False; got 'yes'"):
        kerasnets.build("nin", ceil_mode="yes")
