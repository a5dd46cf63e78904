"""The Inception checkpoints (Inception-v4, Inception-ResNet-v2, BN-Inception) load exactly.

For every tag, the reference implementation (tests/reference: timm's
Inception-v4 and Inception-ResNet-v2, Cadene's BN-Inception) with random
weights is saved in the source's format and loaded through
`kerasnets.build(name, weights=tag)`; the logits agree within 1e-4 x
max(1, max |logit|) (tests/checkpoint_check.py). And the structure options
those checkpoints need.
"""

import kerasnets.models.inception  # noqa: F401  (registers the families before listing)
import kerasnets.models.inception_v4  # noqa: F401


import keras
import pytest
import torch

import kerasnets
import checkpoint_check
from checkpoint_check import (assert_close, assert_tag_matches, images_for, prefill_cache,
                              randomize)
from kerasnets.models import pretrained
from kerasnets.models.inception import BNInception
from kerasnets.models.inception_v4 import InceptionV4
from reference.cadene_bninception import BNInception as CadeneBNInception
from reference.timm_inception_resnet_v2 import InceptionResnetV2 as TimmInceptionResnetV2
from reference.timm_inception_v4 import CadeneInceptionV4
from reference.timm_inception_v4 import InceptionV4 as TimmInceptionV4

REFERENCES = {
    ("inception_v4", "tf_in1k"): TimmInceptionV4,
    ("inception_v4", "cadene"): CadeneInceptionV4,
    ("inception_resnet_v2", "tf_in1k"): TimmInceptionResnetV2,
    ("inception_resnet_v2", "tf_ens_adv_in1k"): TimmInceptionResnetV2,
    ("bn_inception", "cadene"): CadeneBNInception,
}
# Small inputs: the minimum of the Inception-v4 family (75 -> 1x1 at the end);
# 98 gives BN-Inception's Caffe max poolings an odd input (49x49 after the
# stem's convolution), where ceil mode and "same" differ.
INPUT_SHAPES = {"inception_v4": (75, 75, 3), "inception_resnet_v2": (75, 75, 3),
                "bn_inception": (98, 98, 3)}
# One network per source and family, fast; the rest under -m slow.
FAST_TAGS = [("inception_v4", "tf_in1k"), ("bn_inception", "cadene")]
SLOW_TAGS = [key for key in REFERENCES if key not in FAST_TAGS]
CAFFE_STRUCTURE = {"use_bias": True, "batch_norm_scale": True, "bn_epsilon": 1e-5,
                   "padding": "symmetric", "ceil_mode": True, "count_include_pad": True}


def reference_for(name, tag) -> torch.nn.Module:
    """The reference implementation of `name`'s checkpoint `tag`, random weights."""
    torch.manual_seed(0)
    return REFERENCES[(name, tag)]()



def check_tag(name, tag, tmp_path, monkeypatch):
    checkpoint_check.without_file_hash(name, tag, monkeypatch.setitem)
    diff = assert_tag_matches(
        name, tag, reference_for(name, tag), tmp_path=tmp_path, monkeypatch=monkeypatch,
        input_shape=INPUT_SHAPES[name], build_kwargs={"classifier_activation": None},
    )
    print(f"{name} weights={tag!r}: max |difference| {diff:.3g}")
    return diff


@pytest.mark.parametrize("name, tag", FAST_TAGS)
def test_fast_tag_equals_reference(name, tag, tmp_path, monkeypatch):
    check_tag(name, tag, tmp_path, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("name, tag", SLOW_TAGS)
def test_tag_equals_reference(name, tag, tmp_path, monkeypatch):
    check_tag(name, tag, tmp_path, monkeypatch)


def test_every_tag_has_a_reference():
    for name in ("inception_v4", "inception_resnet_v2", "bn_inception"):
        tags = set(kerasnets.model_info(name)["weights"]) - {"imagenet"}
        assert tags == {tag for network, tag in REFERENCES if network == name}


def test_published_table():
    info = {name: kerasnets.model_info(name) for name in
            ("inception_v4", "inception_resnet_v2", "bn_inception")}
    # Published top-1: timm's results-imagenet.csv, Cadene's README.
    top1 = {("inception_v4", "tf_in1k"): 80.144, ("inception_v4", "cadene"): 80.062,
            ("inception_resnet_v2", "tf_in1k"): 80.434,
            ("inception_resnet_v2", "tf_ens_adv_in1k"): 79.998,
            ("bn_inception", "cadene"): 73.524}
    for (name, tag), value in top1.items():
        assert info[name]["weights"][tag]["top1"] == value
    assert info["inception_v4"]["default_weights"] == "tf_in1k"
    assert info["inception_resnet_v2"]["default_weights"] == "imagenet"
    assert list(info["inception_resnet_v2"]["weights"])[0] == "imagenet"
    caffe = info["bn_inception"]["weights"]["cadene"]
    assert caffe["normalization"] == {"mean": [104.0, 117.0, 128.0], "std": [1.0, 1.0, 1.0],
                                      "scale": 255.0, "channel_order": "BGR"}
    assert caffe["structure"] == CAFFE_STRUCTURE
    assert info["inception_v4"]["weights"]["cadene"]["structure"] == {
        "factorized_order": "tf_slim"}


# ---------------------------------------------------------------- structure options


def test_inception_v4_tf_slim_order_transposes_three_chains():
    model = InceptionV4(input_shape=(75, 75, 3), include_top=False, factorized_order="tf_slim")
    kernel = {layer.name: tuple(layer.kernel_size) for layer in model.layers
              if isinstance(layer, keras.layers.Conv2D)}
    assert kernel["mixed_4a_branch1_conv2"] == (1, 7)  # Figure 3: 7x1 first
    assert [kernel[f"inception_b1_branch2_conv{i}"] for i in range(2, 6)] == [
        (7, 1), (1, 7), (7, 1), (1, 7)]  # Figure 5: 1x7 first
    assert [kernel[f"inception_c1_branch2_conv{i}"] for i in (2, 3)] == [(3, 1), (1, 3)]
    # The same weights in another order: the paper form's count without the classifier.
    assert model.count_params() == 42_742_984 - (1536 * 1000 + 1000)


def test_inception_v4_bad_factorized_order():
    with pytest.raises(ValueError, match=r"`factorized_order` must be one of \('paper', "
                                         r"'tf_slim'\); got 'timm'"):
        InceptionV4(factorized_order="timm")


def test_bn_inception_caffe_structure():
    model = BNInception(input_shape=(98, 98, 3), classifier_activation=None, **CAFFE_STRUCTURE)
    # Cadene's count (11,295,240, without moving statistics) + the 2 x 10,016
    # moving statistics; the paper form has neither biases nor scales, but the
    # same total by coincidence of 10,016 + 10,016 = 2 x 10,016.
    assert model.count_params() == 11_295_240 + 2 * 10_016
    shape = {layer.name: tuple(layer.output.shape[1:3]) for layer in model.layers}
    # Ceil mode on the odd 49x49 map: 24 (Caffe, torch), where "same" gives 25.
    assert shape["pool1_3x3_s2"] == (24, 24)
    assert shape["inception_5b_output"] == (3, 3)
    assert model.get_layer("conv1_7x7_s2_pad").padding == ((3, 3), (3, 3))
    assert model.get_layer("inception_3a_pool_pad").padding == ((1, 1), (1, 1))
    paper = BNInception(input_shape=(98, 98, 3))
    assert tuple(paper.get_layer("pool1_3x3_s2").output.shape[1:3]) == (25, 25)


@pytest.mark.parametrize("kwargs, message", [
    ({"ceil_mode": True}, r"`ceil_mode=True` .* needs padding='symmetric'; got padding='same'"),
    ({"padding": "caffe"}, r"`padding` must be one of \('same', 'symmetric'\); got 'caffe'"),
    ({"bn_epsilon": 0}, r"`bn_epsilon` must be a number in \(0, inf\); got 0"),
    ({"use_bias": 1}, r"`use_bias` must be True or False; got 1"),
    ({"count_include_pad": "yes"}, r"`count_include_pad` must be True or False; got 'yes'"),
])
def test_bn_inception_bad_structure(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BNInception(**kwargs)


def test_tag_refuses_a_contradicting_structure():
    with pytest.raises(ValueError, match="use_bias"):
        kerasnets.build("bn_inception", weights="cadene", use_bias=False)
    with pytest.raises(ValueError, match="factorized_order"):
        InceptionV4(weights="tf_in1k")


def test_tag_without_classifier(tmp_path, monkeypatch):
    """include_top=False leaves the checkpoint's classifier out; the features are the reference's."""
    name, tag = "bn_inception", "cadene"
    checkpoint_check.without_file_hash(name, tag, monkeypatch.setitem)
    reference = randomize(reference_for(name, tag))
    monkeypatch.setenv(pretrained.CACHE_DIR_ENV, str(tmp_path))
    prefill_cache(name, tag, reference.state_dict(), tmp_path)
    model = kerasnets.build(name, weights=tag, include_top=False, pooling="avg",
                            input_shape=INPUT_SHAPES[name])
    images = images_for(name, tag, INPUT_SHAPES[name])
    with torch.no_grad():
        want = reference.features(torch.from_numpy(images.transpose(0, 3, 1, 2))).mean((2, 3))
    assert_close(model.predict(images, verbose=0), want.numpy(), "bn_inception features")
