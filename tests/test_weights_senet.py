"""The released SENets load into ours: timm's legacy SENets ("in1k") and Cadene's files ("cadene").

Each tag's checkpoint is made from the reference implementation with random
weights (tests/reference/cadene_senet.py: Cadene's code, and timm's global-pooling
head on it) and loaded through `kerasnets.build(name, weights=tag)`; the logits
must agree (tests/checkpoint_check.py). Fast: se_resnet50 "in1k" at 64x64; the
other tags under `-m slow` (Cadene's head pools a fixed 7x7 window: 224x224).
"""

import keras
import numpy as np
import pytest
import torch

import kerasnets
from checkpoint_check import assert_tag_matches
from kerasnets.layers import SqueezeExcite
from kerasnets.models import resnet as R
from kerasnets.models import senet as S
from reference import cadene_senet

NETWORKS = ("se_resnet50", "se_resnet101", "se_resnet152", "se_resnext50_32x4d",
            "se_resnext101_32x4d", "senet154")
TAGS = ("in1k", "cadene")
# timm's head pools globally (any size from 32x32); Cadene's AvgPool2d(7) needs 224x224.
SMALL = (64, 64, 3)
FULL = (224, 224, 3)
# (name, tag, input shape), as tests/test_weights_backends.py reads them.
FAST_TAGS = [("se_resnet50", "in1k", SMALL)]
SLOW_TAGS = [(name, tag) for name in NETWORKS for tag in TAGS
             if (name, tag) not in {fast[:2] for fast in FAST_TAGS}]
LOGITS = {"classifier_activation": None}


def reference_for(name, tag):
    """The reference network of `name`'s checkpoint `tag`, with random weights."""
    if tag == "cadene":
        return cadene_senet.cadene(name)
    return cadene_senet.timm_legacy(name)


def input_shape_for(name, tag):
    return FULL if tag == "cadene" else SMALL


def check_tag(name, tag, tmp_path, monkeypatch):
    return assert_tag_matches(name, tag, reference_for(name, tag), tmp_path=tmp_path,
                              monkeypatch=monkeypatch, input_shape=input_shape_for(name, tag),
                              build_kwargs=LOGITS)


@pytest.mark.parametrize("name, tag", [fast[:2] for fast in FAST_TAGS])
def test_tag_matches_the_reference(name, tag, tmp_path, monkeypatch):
    diff = check_tag(name, tag, tmp_path, monkeypatch)
    print(f"{name} {tag}: max |diff| {diff:.3g}")


@pytest.mark.slow
@pytest.mark.parametrize("name, tag", SLOW_TAGS)
def test_every_tag_matches_the_reference(name, tag, tmp_path, monkeypatch):
    diff = check_tag(name, tag, tmp_path, monkeypatch)
    print(f"{name} {tag}: max |diff| {diff:.3g}")


def test_tags_are_registered_with_their_sources():
    for name in NETWORKS:
        info = kerasnets.model_info(name)
        assert info["default_weights"] == "in1k"
        assert list(info["weights"]) == ["in1k", "cadene"]
        timm, cadene = info["weights"]["in1k"], info["weights"]["cadene"]
        assert timm["hub"] == f"timm/legacy_{name.replace('se_res', 'seres')}.in1k"
        assert timm["format"] == "safetensors" and cadene["format"] == "pth"
        assert cadene["url"].startswith("http://data.lip6.fr/cadene/pretrainedmodels/")
        for entry in (timm, cadene):
            assert entry["structure"] == {"bn_epsilon": 1e-5, "ceil_mode": True}
            assert entry["input_size"] == [224, 224] and entry["crop_fraction"] == 0.875
            assert entry["normalization"]["mean"] == [0.485, 0.456, 0.406]
            assert entry["normalization"]["channel_order"] == "RGB"
            assert entry["top1"] == timm["top1"] and entry["licence"]
    assert kerasnets.model_info("senet154")["weights"]["cadene"]["top1"] == 81.304
    assert kerasnets.model_info("se_resnet50")["weights"]["in1k"]["top1"] == 77.636
    assert kerasnets.model_info("se_inception_v3")["weights"] == {}


@pytest.mark.parametrize("size", [33, 112, 113])
def test_ceil_mode_is_pytorchs_ceil_mode_max_pooling(size):
    """stem_pooling(ceil_mode=True) is MaxPool2d(3, 2, ceil_mode=True) on a ReLU's output,
    at even and odd sizes; the default (one pixel of padding) is not."""
    x = np.maximum(np.random.default_rng(size).standard_normal((2, size, size, 4)), 0)
    x = x.astype("float32")
    want = torch.nn.functional.max_pool2d(torch.from_numpy(x.transpose(0, 3, 1, 2)), 3, 2,
                                          ceil_mode=True).numpy().transpose(0, 2, 3, 1)
    inputs = keras.Input((size, size, 4))
    ceil = keras.Model(inputs, S.stem_pooling(inputs, ceil_mode=True))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ceil(x)), want)
    padded = keras.Model(inputs, S.stem_pooling(inputs, ceil_mode=False))
    got = keras.ops.convert_to_numpy(padded(x))
    assert got.shape != want.shape or not np.array_equal(got, want)


def batch_norm_epsilons(model):
    return {l.epsilon for l in model.layers if isinstance(l, keras.layers.BatchNormalization)}


def test_structure_options_keep_the_parameters_and_are_validated():
    cheap = dict(include_top=False, input_shape=(32, 32, 3))
    default = kerasnets.build("se_resnet50", **cheap)
    released = kerasnets.build("se_resnet50", bn_epsilon=1e-5, ceil_mode=True, **cheap)
    assert released.count_params() == default.count_params()
    assert batch_norm_epsilons(released) == {1e-5}
    assert batch_norm_epsilons(default) == {1.001e-5}
    assert released.get_layer("pool1_pad").padding == ((0, 1), (0, 1))
    assert default.get_layer("pool1_pad").padding == ((1, 1), (1, 1))
    # SENet-154's stem and blocks take them too (on two small stages).
    small = S.SENet([R.Stage(32, 1, 1), R.Stage(64, 1, 2)], S.senet154_bottleneck_block,
                    stem="deep", block_kwargs={"cardinality": 8}, bn_epsilon=1e-5,
                    ceil_mode=True, **cheap)
    assert batch_norm_epsilons(small) == {1e-5}
    assert small.get_layer("conv3_block1_0_conv").kernel_size == (3, 3)
    assert small.get_layer("pool1_pad").padding == ((0, 1), (0, 1))
    for bad in (0, -1e-5, "1e-5", None):
        with pytest.raises(ValueError, match=r"`bn_epsilon` must be a number in \(0, inf\)"):
            kerasnets.build("se_resnext50_32x4d", bn_epsilon=bad, **cheap)
    for bad in (1, "yes", None):
        with pytest.raises(ValueError, match=r"`ceil_mode` must be True or False; got"):
            kerasnets.build("se_resnet50", ceil_mode=bad, **cheap)


def test_a_tag_sets_its_structure_and_refuses_another():
    with pytest.raises(ValueError, match=r"weights='in1k' .* needs bn_epsilon=1e-05; "
                                         r"got bn_epsilon=1.001e-05"):
        kerasnets.build("se_resnet50", weights="in1k", bn_epsilon=1.001e-5)
    with pytest.raises(ValueError, match=r"needs ceil_mode=True; got ceil_mode=False"):
        kerasnets.build("senet154", weights="cadene", ceil_mode=False)
    # A direct builder call with a tag but the default structure: refused before any download.
    with pytest.raises(ValueError, match=r"`weights='in1k'` needs bn_epsilon=1e-05"):
        S.SEResNet(50, weights="in1k", published_as="se_resnet50")


def test_the_gate_maps_from_two_1x1_convolutions():
    """Cadene's fc1/fc2 (1x1 convolutions with biases) are the gate's Dense reduce/expand."""
    gate = SqueezeExcite(ratio=4)
    gate.build((None, 3, 3, 8))
    assert [tuple(w.shape) for w in gate.get_weights()] == [(8, 2), (2,), (2, 8), (8,)]
