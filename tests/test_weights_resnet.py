"""Every published ResNet / ResNeXt checkpoint loads into our networks, equal to its reference.

For each weights tag the reference implementation (torchvision's ResNet, whose
keys and computation timm's ResNet shares, or akamaster's CIFAR ResNet; see
tests/reference/) is built with random weights and random BatchNorm statistics,
saved as the source publishes it, and loaded through `weights=tag`; the logits
agree within checkpoint_check.TOLERANCE. Fast by default for one tag of each
source (resnet18 tv_in1k, resnet20 akamaster); every other tag is `slow`. The
structure options the checkpoints need (bn_epsilon, use_bias, stride_at,
zero_pad_side) are checked here too.
"""


import numpy as np
import pytest
import torch

import kerasnets
from kerasnets import registry
from kerasnets.models import pretrained
from kerasnets.models import resnet as R

import checkpoint_check
from checkpoint_check import assert_tag_matches, prefill_cache
from reference import akamaster_cifar_resnet, torchvision_resnet

NETWORKS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
            "resnext50_32x4d", "resnext101_32x4d", "resnext101_32x8d",
            "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet1202")
# The converted checkpoints (keras.applications' "imagenet" files have their own tests).
ALL_TAGS = [(name, tag) for name in NETWORKS for tag in registry.weights_tags(name)
            if tag != "imagenet"]
FAST_TAGS = [("resnet18", "tv_in1k"), ("resnet20", "akamaster")]
SLOW_TAGS = [case for case in ALL_TAGS if case not in FAST_TAGS]
# Small inputs: the ImageNet networks at 64x64 (a 2x2 map before pooling), CIFAR's at 32x32.
IMAGENET_TEST_SHAPE = (64, 64, 3)
CIFAR_TEST_SHAPE = (32, 32, 3)


# The last convolution of each residual branch is scaled by
# min(RESIDUAL_DAMPING, DEPTH_DAMPING / sqrt(blocks)): with the references' He
# initialization every branch about doubles the variance, and the logits of a deep
# random network grow past 1e7 (ResNet-152), where the relative tolerance says
# little. Damped, they stay within about 0.5-10 for every network here (ResNet-1202's
# 600 blocks need the depth term).
RESIDUAL_DAMPING = 0.2
DEPTH_DAMPING = 1.5


def damp_residual_branches(reference):
    branches = []
    for block in reference.modules():
        last = getattr(block, "conv3", None) or getattr(block, "conv2", None)
        if block is not reference and last is not None:
            branches.append(last)
    factor = min(RESIDUAL_DAMPING, DEPTH_DAMPING / len(branches) ** 0.5)
    with torch.no_grad():
        for last in branches:
            last.weight.mul_(factor)
    return reference


def reference_for(name, tag):
    """The reference implementation of `name`'s checkpoint `tag`, with random weights."""
    torch.manual_seed(0)
    if tag == "akamaster":
        reference = akamaster_cifar_resnet.BUILDERS[name]()
    else:
        reference = torchvision_resnet.BUILDERS[name]()
    return damp_residual_branches(reference)


def input_shape_for(name, tag):
    return CIFAR_TEST_SHAPE if tag == "akamaster" else IMAGENET_TEST_SHAPE



def check_tag(name, tag, tmp_path, monkeypatch):
    checkpoint_check.without_file_hash(name, tag, monkeypatch.setitem)
    diff = assert_tag_matches(name, tag, reference_for(name, tag), tmp_path=tmp_path,
                              monkeypatch=monkeypatch, input_shape=input_shape_for(name, tag),
                              build_kwargs={"classifier_activation": None})
    print(f"{name} weights={tag!r}: max |difference| {diff:.3g}")  # shown with -s
    return diff


@pytest.mark.parametrize("name,tag", FAST_TAGS)
def test_checkpoint_equals_reference(name, tag, tmp_path, monkeypatch):
    check_tag(name, tag, tmp_path, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("name,tag", SLOW_TAGS)
def test_every_checkpoint_equals_reference(name, tag, tmp_path, monkeypatch):
    check_tag(name, tag, tmp_path, monkeypatch)


def test_every_tag_is_tested_and_complete():
    """resnet18/34, the three ResNeXts and the six CIFAR ResNets have weights; each tag is whole."""
    assert set(FAST_TAGS) <= set(ALL_TAGS)
    pretrained = set(kerasnets.list_models(pretrained=True))
    assert set(NETWORKS) <= pretrained
    for name, tag in ALL_TAGS:
        published = registry.published_weights(name, tag)
        assert published.top1 and published.licence and published.input_size
        assert published.crop_fraction and published.normalization is not None
        assert published.convert is not None and published.structure
    assert registry.default_tag(registry.get_spec("resnet18")) == "tv_in1k"
    assert registry.default_tag(registry.get_spec("resnext101_32x4d")) == "gluon_in1k"
    assert registry.default_tag(registry.get_spec("resnet50")) == "imagenet"
    assert registry.published_weights("resnet20", "akamaster").classes == 10


def test_include_top_false_leaves_the_classifier_out(tmp_path, monkeypatch):
    reference = reference_for("resnet20", "akamaster")
    checkpoint_check.without_file_hash("resnet20", "akamaster", monkeypatch.setitem)
    monkeypatch.setenv(pretrained.CACHE_DIR_ENV, str(tmp_path))
    prefill_cache("resnet20", "akamaster", reference.state_dict(), tmp_path)
    model = kerasnets.build("resnet20", weights="akamaster", include_top=False, pooling="avg")
    assert model.output_shape == (None, 64)
    conv1 = reference.conv1.weight.detach().numpy().transpose(2, 3, 1, 0)
    np.testing.assert_allclose(model.get_layer("conv1_conv").get_weights()[0], conv1)


# ----------------------------------------------------------------- structure options


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def torch_count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name,kwargs", [
    ("resnet18", {"use_bias": False}),
    ("resnet20", {}),
    pytest.param("resnext50_32x4d", {}, marks=pytest.mark.slow),
])
def test_trainable_parameters_equal_the_reference(name, kwargs):
    """torchvision's ResNet-18 (11,689,512) and ResNeXt-50 (25,028,904), akamaster's ResNet-20."""
    tag = "akamaster" if name == "resnet20" else "tv_in1k"
    model = kerasnets.build(name, input_shape=input_shape_for(name, tag), **kwargs)
    assert trainable_count(model) == torch_count(reference_for(name, tag))


def test_resnet50_stride_at_3x3_is_torchvisions_v1_5():
    """The stride moves from the first 1x1 to the 3x3 (test_resnet checks the default's 1x1)."""
    v1_5 = kerasnets.build("resnet50", stride_at="3x3", use_bias=False,
                           input_shape=IMAGENET_TEST_SHAPE)
    assert v1_5.get_layer("conv3_block1_1_conv").strides == (1, 1)
    assert v1_5.get_layer("conv3_block1_2_conv").strides == (2, 2)
    assert trainable_count(v1_5) == torch_count(reference_for("resnet50", "tv_in1k"))


def test_bn_epsilon_reaches_every_batch_norm():
    model = kerasnets.build("resnet18", bn_epsilon=1e-5, input_shape=IMAGENET_TEST_SHAPE)
    epsilons = {layer.epsilon for layer in model.layers if hasattr(layer, "epsilon")}
    assert epsilons == {1e-5}
    default = kerasnets.build("resnet20")
    assert {layer.epsilon for layer in default.layers if hasattr(layer, "epsilon")} == {
        R.BN_EPSILON}


def test_zero_pad_side_both_splits_the_zero_channels():
    """akamaster's option A: F.pad(x[:, :, ::2, ::2], planes // 4 channels on each side)."""
    after = kerasnets.build("resnet20")
    both = kerasnets.build("resnet20", zero_pad_side="both")
    assert after.get_layer("conv3_block1_0_pad").padding == (0, 16)
    assert both.get_layer("conv3_block1_0_pad").padding == (8, 8)
    assert both.get_layer("conv4_block1_0_pad").padding == (16, 16)
    x = np.random.default_rng(0).standard_normal((1, 16, 16, 16)).astype("float32")
    padded = np.asarray(both.get_layer("conv3_block1_0_pad")(x[:, ::2, ::2]))
    want = torch.nn.functional.pad(torch.from_numpy(x.transpose(0, 3, 1, 2))[:, :, ::2, ::2],
                                   (0, 0, 0, 0, 8, 8)).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(padded, want)


@pytest.mark.parametrize("kwargs,message", [
    ({"bn_epsilon": 0}, r"`bn_epsilon` must be a number in \(0, inf\); got 0"),
    ({"bn_epsilon": "1e-5"}, r"`bn_epsilon` must be a number in \(0, inf\); got '1e-5'"),
    ({"zero_pad_side": "before"},
     r"`zero_pad_side` must be one of \('after', 'both'\); got 'before'"),
])
def test_bad_structure_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kerasnets.build("resnet20", **kwargs)


def test_bad_stride_at_and_use_bias_are_refused():
    with pytest.raises(ValueError, match=r"`use_bias` must be True or False; got 1"):
        kerasnets.build("resnet18", use_bias=1)
    with pytest.raises(ValueError, match=r"`stride_at` must be one of \('1x1', '3x3'\); got '2x2'"):
        kerasnets.build("resnet50", stride_at="2x2")
    with pytest.raises(ValueError, match=r"`stride_at` must be one of \('3x3',\); got '1x1'"):
        kerasnets.build("resnet18", stride_at="1x1")


def test_a_tag_sets_its_structure_and_refuses_a_contradiction():
    with pytest.raises(ValueError, match=r"needs bn_epsilon=1e-05; got bn_epsilon=0.001"):
        kerasnets.build("resnet18", weights="tv_in1k", bn_epsilon=1e-3)
    with pytest.raises(ValueError, match=r"needs use_bias=False"):
        kerasnets.build("resnet50", weights="tv_in1k", use_bias=True)


def test_a_direct_builder_call_with_the_wrong_structure_is_refused():
    """R.resnet18(weights="tv_in1k") skips the registry's merging: the builder refuses it."""
    with pytest.raises(ValueError, match=r"bn_epsilon"):
        R.resnet18(weights="tv_in1k")
    with pytest.raises(ValueError, match=r"stride_at"):
        R.resnet50(weights="imagenet", stride_at="3x3")
