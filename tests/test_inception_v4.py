"""Facts about Inception-v4 and Inception-ResNet v1 and v2 (Szegedy et al. 2017)."""

import kerasnets.models.inception_v4  # noqa: F401  (registers the family before listing)

import json
import re

import keras
import numpy as np
import pytest

import kerasnets
from conftest import run_with_backend
from kerasnets import profile
from kerasnets.models.inception_v4 import InceptionResNet, InceptionV4
from tolerances import BATCH_STATISTICS

NAMES = ("inception_resnet_v1", "inception_resnet_v2", "inception_resnet_v2_paper",
         "inception_v4")
# (total with the batch normalization moving statistics, trainable).
PARAMS = {
    # The Inception-v4 count (timm's): batch normalization with a scale.
    "inception_v4": (42_742_984, 42_679_816),
    "inception_resnet_v1": (22_783_368, 22_756_328),
    # keras.applications.InceptionResNetV2: normalization without a scale.
    "inception_resnet_v2": (55_873_736, 55_813_192),
    "inception_resnet_v2_paper": (32_466_792, 32_433_928),
}
# Channels of the last feature map.
FEATURES = {"inception_v4": 1536, "inception_resnet_v1": 1792, "inception_resnet_v2": 1536,
            "inception_resnet_v2_paper": 2144}
# Multiply-adds of convolutions and the classifier at 299x299 (kerasnets.profile);
# timm quotes 12.28 G for Inception-v4 and 13.16 G for Inception-ResNet-v2.
MACS_299 = {"inception_v4": 12_253_974_624, "inception_resnet_v2": 13_155_794_016}
SMALL = {"input_shape": (75, 75, 3), "include_top": False}
TINY_RESNET = {**SMALL, "block_repeats": (1, 1, 1)}


def trainable_count(model):
    return int(sum(keras.ops.size(w) for w in model.trainable_weights))


def shapes(model):
    return {l.name: tuple(l.output.shape[1:]) for l in model.layers}


@pytest.fixture(scope="module")
def v4():
    return kerasnets.build("inception_v4")


@pytest.fixture(scope="module")
def v1():
    return kerasnets.build("inception_resnet_v1")


@pytest.fixture(scope="module")
def v2_paper():
    return kerasnets.build("inception_resnet_v2_paper")


@pytest.fixture(scope="module")
def v2():
    # Logits, to compare with keras.applications; the count does not depend on it.
    return kerasnets.build("inception_resnet_v2", classifier_activation=None)


@pytest.fixture(scope="module")
def reference():
    return keras.applications.InceptionResNetV2(weights=None, classifier_activation=None)


@pytest.fixture(scope="module")
def models(v4, v1, v2, v2_paper):
    return {"inception_v4": v4, "inception_resnet_v1": v1, "inception_resnet_v2": v2,
            "inception_resnet_v2_paper": v2_paper}


# ---------------------------------------------------------------- registry and counts


def test_registry_metadata():
    assert tuple(kerasnets.list_models(family="inception_v4")) == NAMES
    for name in NAMES:
        info = kerasnets.model_info(name)
        assert info["family"] == "inception_v4"
        assert info["paper"]["authors"] == "Szegedy, Ioffe, Vanhoucke, Alemi"
        assert info["paper"]["year"] == 2017
        assert info["paper"]["title"] == (
            "Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning"
        )
        assert info["input_shape"] == (299, 299, 3)
        assert info["min_input_shape"] == (75, 75, 3)
        assert info["preprocessing"] == "tf"
        assert info["fixed_input"] is False
        assert info["parameters"] == PARAMS[name][0]


def test_parameter_counts_total_and_trainable(models):
    for name, model in models.items():
        total, trainable = PARAMS[name]
        assert model.count_params() == total == kerasnets.get_spec(name).params, name
        assert trainable_count(model) == trainable, name
        assert model.output_shape == (None, 1000)
        assert model.input_shape == (None, 299, 299, 3)
        # The non-trainable weights are the moving mean and variance of each normalization.
        channels = sum(l.weights[0].shape[0] for l in model.layers
                       if isinstance(l, keras.layers.BatchNormalization))
        assert total - trainable == 2 * channels


def test_inception_resnet_v1_count_from_the_figures():
    def conv_bn(c_in, c_out, kh, kw=None):
        # Kernel without bias; gamma, beta, moving mean and variance.
        return kh * (kh if kw is None else kw) * c_in * c_out + 4 * c_out

    def linear(c_in, c_out):  # the residual branch's 1x1 convolution, with bias
        return c_in * c_out + c_out

    # Figure 14: 32 3x3/2, 32 3x3, 64 3x3, pool, 80 1x1, 192 3x3, 256 3x3/2.
    stem = (conv_bn(3, 32, 3) + conv_bn(32, 32, 3) + conv_bn(32, 64, 3) + conv_bn(64, 80, 1)
            + conv_bn(80, 192, 3) + conv_bn(192, 256, 3))
    # Figure 10 on 256 channels: 32 | 32-32 | 32-32-32, linear 96 -> 256.
    block_a = (3 * conv_bn(256, 32, 1) + 3 * conv_bn(32, 32, 3) + linear(96, 256))
    # Figure 7 with Table 1's k, l, m, n = 192, 192, 256, 384: 256 -> 896 channels.
    reduction_a = (conv_bn(256, 384, 3) + conv_bn(256, 192, 1) + conv_bn(192, 192, 3)
                   + conv_bn(192, 256, 3))
    # Figure 11 on 896 channels: 128 | 128-128 1x7-128 7x1, linear 256 -> 896.
    block_b = (2 * conv_bn(896, 128, 1) + conv_bn(128, 128, 1, 7) + conv_bn(128, 128, 7, 1)
               + linear(256, 896))
    # Figure 12: 256-384/2 | 256-256/2 | 256-256-256/2 | pool: 896 -> 1792 channels.
    reduction_b = (3 * conv_bn(896, 256, 1) + conv_bn(256, 384, 3) + 3 * conv_bn(256, 256, 3))
    # Figure 13 on 1792 channels: 192 | 192-192 1x3-192 3x1, linear 384 -> 1792.
    block_c = (2 * conv_bn(1792, 192, 1) + conv_bn(192, 192, 1, 3) + conv_bn(192, 192, 3, 1)
               + linear(384, 1792))
    classifier = 1792 * 1000 + 1000
    assert (stem, block_a, reduction_a, block_b, reduction_b, block_c) == (
        616_864, 77_824, 1_712_128, 691_072, 3_350_016, 1_602_304)
    total = stem + 5 * block_a + reduction_a + 10 * block_b + reduction_b + 5 * block_c
    assert total + classifier == PARAMS["inception_resnet_v1"][0]


def test_multiply_adds_at_299(v4, v2):
    assert profile(v4).macs == MACS_299["inception_v4"]
    assert profile(v2).macs == MACS_299["inception_resnet_v2"]
    assert abs(MACS_299["inception_v4"] - 12.28e9) / 12.28e9 < 0.01
    assert abs(MACS_299["inception_resnet_v2"] - 13.16e9) / 13.16e9 < 0.01


# ---------------------------------------------------------------- structure


def test_inception_v4_follows_figures_3_to_9(v4):
    shape = shapes(v4)
    # Figure 3, the stem.
    assert shape["conv_1a"] == (149, 149, 32)
    assert shape["conv_2a"] == (147, 147, 32)
    assert shape["conv_2b"] == (147, 147, 64)
    assert shape["mixed_3a"] == (73, 73, 160)
    assert shape["mixed_4a"] == (71, 71, 192)
    assert shape["mixed_5a"] == (35, 35, 384)
    for i in range(1, 5):
        assert shape[f"inception_a{i}"] == (35, 35, 384)
    assert shape["reduction_a"] == (17, 17, 1024)  # 384 + n + m = 384 + 384 + 256
    for i in range(1, 8):
        assert shape[f"inception_b{i}"] == (17, 17, 1024)
    assert "inception_b8" not in shape and "inception_a5" not in shape
    assert shape["reduction_b"] == (8, 8, 1536)
    for i in range(1, 4):
        assert shape[f"inception_c{i}"] == (8, 8, 1536)
    assert shape["avg_pool"] == (1536,)
    assert v4.get_layer("dropout").rate == pytest.approx(0.2)  # keep 0.8
    assert v4.layers[-1].activation.__name__ == "softmax"
    # Reduction-A's k, l, m, n = 192, 224, 256, 384 (Table 1).
    filters = [v4.get_layer(f"reduction_a_branch{n}").filters for n in
               ("1_conv1", "1_conv2", "1_conv3", "0_conv")]
    assert filters == [192, 224, 256, 384]
    convs = [l for l in v4.layers if isinstance(l, keras.layers.Conv2D)]
    assert convs and not any(l.use_bias for l in convs)
    norms = [l for l in v4.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert len(norms) == len(convs) == 149 and all(l.scale for l in norms)
    # Inception-C splits a branch into a 1x3 and a 3x1 convolution (Figure 6).
    assert v4.get_layer("inception_c1_branch2_conv4a").kernel_size == (1, 3)
    assert v4.get_layer("inception_c1_branch2_conv4b").kernel_size == (3, 1)


def test_average_pooling_is_3x3_stride_1_same(v4):
    pools = [l for l in v4.layers if isinstance(l, keras.layers.AveragePooling2D)]
    assert len(pools) == 4 + 7 + 3
    for pool in pools:
        assert (pool.pool_size, pool.strides, pool.padding) == ((3, 3), (1, 1), "same")


def test_average_pooling_leaves_the_padding_out_of_the_count():
    # TF-slim's SAME average pooling divides by the number of real pixels: on
    # a 1x1 map (Inception-C at the 75x75 minimum) it is the identity, and a
    # corner of a 3x3 map is the mean of its 4 neighbours.
    pool = keras.layers.AveragePooling2D(3, strides=1, padding="same")
    x = np.arange(9, dtype="float32").reshape(1, 3, 3, 1)
    got = keras.ops.convert_to_numpy(pool(x))[0, :, :, 0]
    assert got[0, 0] == pytest.approx((0 + 1 + 3 + 4) / 4)
    assert got[1, 1] == pytest.approx(4.0)
    one = np.full((1, 1, 1, 2), 5.0, "float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(pool(one)), one)


def test_inception_resnet_v1_follows_figures_10_to_15(v1):
    shape = shapes(v1)
    assert shape["conv_4b"] == (35, 35, 256)  # Figure 14's output
    for i in range(1, 6):
        assert shape[f"block35_{i}_ac"] == (35, 35, 256)
    assert shape["mixed_6a"] == (17, 17, 896)
    for i in range(1, 11):
        assert shape[f"block17_{i}_ac"] == (17, 17, 896)
    assert shape["mixed_7a"] == (8, 8, 1792)
    for i in range(1, 6):
        assert shape[f"block8_{i}_ac"] == (8, 8, 1792)
    assert "block35_6_add" not in shape and "block17_11_add" not in shape
    assert "block8_6_add" not in shape and "conv_7b" not in shape
    assert shape["avg_pool"] == (1792,)
    assert v1.get_layer("dropout").rate == pytest.approx(0.2)
    # The linear 1x1 convolution: bias, no normalization, no activation.
    linear = v1.get_layer("block17_3_conv")
    assert linear.use_bias and linear.activation.__name__ == "linear"
    assert linear.kernel_size == (1, 1) and linear.filters == 896


def test_inception_resnet_v2_paper_follows_figures_3_and_15_to_19(v2_paper):
    shape = shapes(v2_paper)
    assert shape["mixed_5a"] == (35, 35, 384)  # Figure 3's stem
    for i in range(1, 6):
        assert shape[f"block35_{i}_ac"] == (35, 35, 384)
    # Table 1: k, l, m, n = 256, 256, 384, 384.
    assert shape["mixed_6a"] == (17, 17, 1152)
    for i in range(1, 11):
        assert shape[f"block17_{i}_ac"] == (17, 17, 1152)
    assert shape["mixed_7a"] == (8, 8, 2144)  # 1152 + 384 + 288 + 320
    for i in range(1, 6):
        assert shape[f"block8_{i}_ac"] == (8, 8, 2144)
    assert "block8_6_add" not in shape and "conv_7b" not in shape
    assert shape["avg_pool"] == (2144,)
    # Figure 17's and 19's branches.
    assert [v2_paper.get_layer(f"block17_1_branch1_conv{i}").filters for i in (1, 2, 3)] == [
        128, 160, 192]
    assert [v2_paper.get_layer(f"block8_1_branch1_conv{i}").filters for i in (1, 2, 3)] == [
        192, 224, 256]


def test_residual_scales_by_default(v1, v2):
    scales = {l.name: l.scale for l in v2.layers if isinstance(l, keras.layers.Rescaling)}
    assert len(scales) == 10 + 20 + 10
    assert {scales[f"block35_{i}_scale"] for i in range(1, 11)} == {0.17}
    assert {scales[f"block17_{i}_scale"] for i in range(1, 21)} == {0.1}
    assert {scales[f"block8_{i}_scale"] for i in range(1, 10)} == {0.2}
    # TF-slim's last block adds its residual unscaled and has no ReLU.
    assert scales["block8_10_scale"] == 1.0
    assert "block8_10_ac" not in {l.name for l in v2.layers}
    assert v1.get_layer("block35_2_scale").scale == 0.17
    assert v1.get_layer("block8_5_scale").scale == 0.2


# ---------------------------------------------------------------- keras.applications twin


def test_inception_resnet_v2_is_keras_applications_twin(v2, reference):
    assert v2.count_params() == reference.count_params() == 55_873_736
    assert [tuple(w.shape) for w in v2.weights] == [tuple(w.shape) for w in reference.weights]
    v2.set_weights(reference.get_weights())
    x = np.random.default_rng(0).uniform(-1, 1, (2, 299, 299, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(reference(x, training=False))
    got = keras.ops.convert_to_numpy(v2(x, training=False))
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
    # With batch statistics every normalization rescales, and the logits are
    # O(1) rather than the ~1e-2 of inference at initialization.
    expected = keras.ops.convert_to_numpy(reference(x, training=True))
    got = keras.ops.convert_to_numpy(v2(x, training=True))
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(got, expected, **BATCH_STATISTICS)


def test_inception_resnet_v2_layer_names_follow_keras_applications(v2, reference):
    ours = [l.name for l in v2.layers if l.weights]
    theirs = [l.name for l in reference.layers if l.weights]
    assert len(ours) == len(theirs) == 449
    counter = re.compile(r"(conv2d|batch_normalization)(_\d+)?$")
    named = [(a, b) for a, b in zip(ours, theirs) if not counter.match(b)]
    # The linear convolutions of the 40 blocks, conv_7b and its normalization, predictions.
    assert len(named) == 40 + 2 + 1
    assert all(a == b for a, b in named)
    # keras' conv2d_N counters become names by position.
    assert not any(counter.match(name) for name in ours)
    assert ours[:2] == ["conv_1a", "conv_1a_bn"]
    assert "mixed_5b_branch3_conv" in ours and "block35_10_branch2_conv3" in ours
    assert not [l for l in v2.layers if isinstance(l, keras.layers.Dropout)]
    assert not any(l.scale for l in v2.layers if isinstance(l, keras.layers.BatchNormalization))
    shape = shapes(v2)
    names_and_shapes = {
        "mixed_5b": (35, 35, 320), "block35_10_ac": (35, 35, 320), "mixed_6a": (17, 17, 1088),
        "block17_20_ac": (17, 17, 1088), "mixed_7a": (8, 8, 2080),
        "block8_10_add": (8, 8, 2080), "conv_7b_ac": (8, 8, 1536), "avg_pool": (1536,),
        "predictions": (1000,),
    }
    for name, expected in names_and_shapes.items():
        assert shape[name] == expected, name
    for name in ("block35_1_mixed", "block35_1_conv", "block35_1_ac", "conv_7b_bn"):
        assert reference.get_layer(name) is not None and name in shape


def test_imagenet_weights_go_through_pretrained():
    pytest.importorskip("kerasnets.models.pretrained")
    with pytest.raises(ValueError, match=r"classes"):
        kerasnets.build("inception_resnet_v2", weights="imagenet", classes=10)


# ---------------------------------------------------------------- inputs and arguments


@pytest.fixture(scope="module")
def features():
    """Each network without its classifier, for any input size (the residual ones 1 / 1 / 1)."""
    return {
        name: kerasnets.build(
            name, include_top=False, input_shape=(None, None, 3),
            **({} if name == "inception_v4" else {"block_repeats": (1, 1, 1)}),
        )
        for name in NAMES
    }


def test_minimum_input_and_features(features):
    for name, model in features.items():
        assert model.compute_output_shape((1, 75, 75, 3)) == (1, 1, 1, FEATURES[name]), name
        # The network's stride is 32: every 32 pixels past 75 add one to the last map.
        assert model.compute_output_shape((1, 139, 203, 3)) == (1, 3, 5, FEATURES[name]), name
    with pytest.raises(ValueError, match=r"height must be at least 75"):
        kerasnets.build("inception_v4", include_top=False, input_shape=(74, 75, 3))
    with pytest.raises(ValueError, match=r"width must be at least 75"):
        kerasnets.build("inception_resnet_v2", include_top=False, input_shape=(75, 74, 3))
    smallest = kerasnets.build("inception_resnet_v1", input_shape=(75, 75, 3), classes=10,
                               block_repeats=(1, 1, 1))
    assert smallest.output_shape == (None, 10)
    assert smallest.get_layer("mixed_7a").output.shape[1:] == (1, 1, 1792)


def test_include_top_false_counts_and_pooling(features):
    classifier = 1536 * 1000 + 1000
    assert features["inception_v4"].count_params() == PARAMS["inception_v4"][0] - classifier
    assert features["inception_v4"].output_shape == (None, None, None, 1536)
    for pooling in ("avg", "max"):
        pooled = kerasnets.build("inception_resnet_v2_paper", include_top=False, pooling=pooling,
                                 input_shape=(75, 75, 3), block_repeats=(1, 1, 1))
        assert pooled.output_shape == (None, 2144)
        assert pooled.layers[-1].name == f"{pooling}_pool"


def test_residual_scale_validation():
    for bad in (0, -0.1, 1.5, "0.1", True, None):
        with pytest.raises(ValueError, match=r"`residual_scale` must be a number in \(0, 1\]"):
            kerasnets.build("inception_resnet_v1", residual_scale=bad, **TINY_RESNET)
    for bad in ((0.1, 0.2), (0.1, 0.2, 0.3, 0.4), (0.1, 0.2, 0.0)):
        with pytest.raises(ValueError, match=r"`residual_scale` must be a number"):
            kerasnets.build("inception_resnet_v2", residual_scale=bad, **TINY_RESNET)
    one = kerasnets.build("inception_resnet_v2_paper", residual_scale=1, **TINY_RESNET)
    assert {l.scale for l in one.layers if isinstance(l, keras.layers.Rescaling)} == {1.0}


def test_residual_scale_scales_the_residual_before_the_addition():
    kwargs = {**TINY_RESNET, "include_top": True, "classes": 10,
              "classifier_activation": None}
    low = kerasnets.build("inception_resnet_v1", residual_scale=(0.1, 0.15, 0.3), **kwargs)
    high = kerasnets.build("inception_resnet_v1", residual_scale=0.3, **kwargs)
    high.set_weights(low.get_weights())  # the scales are no weights
    x = np.random.default_rng(2).uniform(-1, 1, (2, 75, 75, 3)).astype("float32")
    a = keras.ops.convert_to_numpy(low(x, training=True))
    b = keras.ops.convert_to_numpy(high(x, training=True))
    assert np.abs(a - b).max() > 1e-3
    # block35_1_add = its input + 0.1 * block35_1_conv, then ReLU.
    probe = keras.Model(low.input, [low.get_layer(n).output for n in
                                     ("conv_4b_ac", "block35_1_conv", "block35_1_add",
                                      "block35_1_ac")])
    block_input, residual, added, out = (keras.ops.convert_to_numpy(t) for t in probe(x))
    np.testing.assert_allclose(added, block_input + np.float32(0.1) * residual, rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(out, np.maximum(added, 0), rtol=1e-6, atol=1e-6)
    assert low.get_layer("block17_1_scale").scale == 0.15
    assert low.get_layer("block8_1_scale").scale == 0.3


def test_bad_arguments_name_the_argument():
    triple = "a triple"
    cases = [  # (model, argument, value, what the message says it must be)
        ("inception_resnet_v1", "block_repeats", (0, 1, 1), r"an integer in \[1, inf\)"),
        ("inception_resnet_v2", "block_repeats", (1, 1), triple),
        ("inception_resnet_v2", "block_repeats", 10, triple),
        ("inception_resnet_v2_paper", "block_repeats", (1, 2.5, 1), "an integer"),
        ("inception_v4", "dropout_rate", 1.0, r"a number in \[0, 1\)"),
        ("inception_resnet_v1", "dropout_rate", -0.1, r"a number in \[0, 1\)"),
        ("inception_v4", "batch_norm_scale", 1, "True or False"),
        ("inception_resnet_v2", "batch_norm_scale", "no", "True or False"),
        ("inception_v4", "weights", "in21k", "None .*no checkpoint of this network is tagged"),
        ("inception_resnet_v1", "weights", "imagenet", "None .*got 'imagenet'"),
        ("inception_v4", "pooling", "sum", "one of"),
        ("inception_resnet_v2", "classes", 0, r"an integer in \[1, inf\)"),
    ]
    for name, argument, value, what in cases:
        with pytest.raises(ValueError, match=rf"`{argument}` must be {what}"):
            kerasnets.build(name, **{argument: value})
    with pytest.raises(ValueError, match=r"`version` must be one of"):
        InceptionResNet(version="v3", stem="figure_3", block_repeats=(1, 1, 1), name="x")
    with pytest.raises(ValueError, match=r"`stem` must be one of"):
        InceptionResNet(version="v1", stem="figure_2", block_repeats=(1, 1, 1), name="x")


def test_batch_norm_scale_option(features):
    # Without a learned scale, each normalization has one trainable vector (gamma) less:
    # TF-slim's Inception-v4 has 42,648,232 trainable parameters, 31,584 fewer.
    with_scale = features["inception_v4"]
    without = InceptionV4(include_top=False, input_shape=(None, None, 3),
                          batch_norm_scale=False)
    norms = [l for l in with_scale.layers if isinstance(l, keras.layers.BatchNormalization)]
    channels = sum(l.weights[0].shape[0] for l in norms)
    assert trainable_count(with_scale) - trainable_count(without) == channels == 31_584
    assert trainable_count(without) == 42_648_232 - (1536 * 1000 + 1000)
    assert not any(l.scale for l in without.layers
                   if isinstance(l, keras.layers.BatchNormalization))


def test_keras_file_round_trip_safe_mode(tmp_path):
    small = kerasnets.build("inception_resnet_v2", input_shape=(75, 75, 3), classes=5,
                            block_repeats=(1, 1, 2), name="irv2_small")
    assert not [l for l in small.layers if isinstance(l, keras.layers.Lambda)]
    path = tmp_path / "irv2.keras"
    small.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 75, 75, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)),
                               keras.ops.convert_to_numpy(small(x)), atol=1e-6)
    assert loaded.get_layer("block8_1_scale").scale == pytest.approx(0.2)


# ---------------------------------------------------------------- backends

BACKEND_SCRIPT = r"""
import json, sys
import keras, numpy as np
from kerasnets.models import inception_v4 as family

def pooling_blocks():
    # Inception-A on a 3x3 map (corners average 4 pixels, edges 6), Inception-B
    # on it, then Inception-C on a 1x1 map (the pooling is the identity there).
    inputs = keras.Input((3, 3, 8))
    x = family.inception_a(inputs, "a")
    x = family.inception_b(x, "b")
    x = keras.layers.MaxPooling2D(3, name="to_1x1")(x)
    return keras.Model(inputs, family.inception_c(x, "c"))

if __name__ == "__main__":
    job = json.load(open(sys.argv[1]))
    model = pooling_blocks()
    model.load_weights(job["weights"])
    out = keras.ops.convert_to_numpy(model(np.load(job["input"]), training=False))
    np.savez(job["output"], backend=keras.backend.backend(), out=out)
"""


def test_average_pooling_blocks_agree_across_backends(tmp_path):
    script = tmp_path / "pooling_blocks.py"
    script.write_text(BACKEND_SCRIPT)
    namespace = {}
    exec(compile(BACKEND_SCRIPT, str(script), "exec"), namespace)
    model = namespace["pooling_blocks"]()
    pools = [l for l in model.layers if isinstance(l, keras.layers.AveragePooling2D)]
    assert len(pools) == 3
    rng = np.random.default_rng(3)
    # Moving statistics that do normalize, so that every branch shapes the output.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.1, c).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.05, 0.2, c).astype("float32"))
    x = rng.uniform(-1, 1, (2, 3, 3, 8)).astype("float32")
    weights, inputs = tmp_path / "blocks.weights.h5", tmp_path / "blocks.npy"
    model.save_weights(weights)
    np.save(inputs, x)
    want = keras.ops.convert_to_numpy(model(x, training=False))
    assert want.shape == (2, 1, 1, 1536) and np.abs(want).max() > 0.1
    for backend in ("torch", "jax"):
        job = tmp_path / f"{backend}.json"
        output = tmp_path / f"{backend}.npz"
        job.write_text(json.dumps({"weights": str(weights), "input": str(inputs),
                                   "output": str(output)}))
        run_with_backend(backend, [str(script), str(job)], timeout=600, fast_init=True)
        got = np.load(output)
        assert str(got["backend"]) == backend
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(got["out"], want, rtol=1e-4, atol=1e-4 * scale,
                                   err_msg=backend)


# ---------------------------------------------------------------- full size


@pytest.mark.slow
@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v1",
                                  "inception_resnet_v2_paper"])
def test_full_size_forward(name, models):
    x = np.random.default_rng(4).uniform(-1, 1, (2, 299, 299, 3)).astype("float32")
    probs = keras.ops.convert_to_numpy(models[name](x, training=False))
    assert probs.shape == (2, 1000)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
