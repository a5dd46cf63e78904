"""Facts about DenseNet (Huang et al. 2017) and its match with keras.applications' DenseNets."""

import kerasnets.models.densenet  # noqa: F401  (registers the DenseNets before the package lists them)

import math

import h5py
import keras
import numpy as np
import pytest

import kerasnets
from kerasnets import profile
from kerasnets.models import densenet, pretrained
from kerasnets.models.densenet import DenseNet
from tolerances import BATCH_STATISTICS

NAMES = ["densenet121", "densenet169", "densenet201", "densenet264", "densenet40_k12",
         "densenet_bc100_k12"]
# keras.applications.DenseNet121/169/201(weights=None).count_params().
KERAS_TWINS = {
    "densenet121": (keras.applications.DenseNet121, 8_062_504, 1024),
    "densenet169": (keras.applications.DenseNet169, 14_307_880, 1664),
    "densenet201": (keras.applications.DenseNet201, 20_242_984, 1920),
}
# Blocks 6-12-64-48; derivation in kerasnets/models/densenet.py, and by
# `expected_params` below.
DENSENET264_PARAMS = 33_736_232
DENSENET264_CHANNELS = 2688
# CIFAR forms: all weights, and the trainable ones (without the moving
# statistics of batch normalization), which is what the paper counts.
DENSENET40_PARAMS, DENSENET40_TRAINABLE = 1_037_818, 1_019_722
BC100_PARAMS, BC100_TRAINABLE = 793_150, 769_162
# Convolution and classifier multiply-adds of DenseNet-121 at 224x224
# (kerasnets.profile); torchvision quotes 2.83 GFLOPS (multiply-adds) for it.
DENSENET121_MACS = 2_834_161_664
# DenseNet-121's structure without bottleneck and compression.
PLAIN_121, PLAIN_121_RATIO = 20_934_696, 2.6


def expected_params(block_config, growth_rate, bottleneck, compression, initial_channels,
                    stem="imagenet", classes=1000, trainable_only=False):
    """The parameter count of section 3's structure, summed layer by layer.

    Batch normalization has gamma and beta per channel, plus the moving mean
    and variance unless `trainable_only`; no convolution has a bias.
    """
    bn = 2 if trainable_only else 4
    k = growth_rate
    if stem == "imagenet":
        total = 7 * 7 * 3 * initial_channels + bn * initial_channels
    else:
        total = 3 * 3 * 3 * initial_channels
    channels = initial_channels
    for b, layers_in_block in enumerate(block_config):
        for _ in range(layers_in_block):
            if bottleneck:  # BN, 1x1 conv to 4k, BN, 3x3 conv to k
                total += bn * channels + channels * 4 * k + bn * 4 * k + 9 * 4 * k * k
            else:  # BN, 3x3 conv to k
                total += bn * channels + 9 * channels * k
            channels += k
        if b < len(block_config) - 1:
            out = math.floor(compression * channels)
            total += bn * channels + channels * out
            channels = out
    return total + bn * channels + channels * classes + classes


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.fixture(scope="module")
def densenet121_pair():
    ours = kerasnets.build("densenet121", classifier_activation=None)
    theirs = keras.applications.DenseNet121(weights=None, classifier_activation=None)
    return ours, theirs


@pytest.fixture(scope="module", params=["densenet169", "densenet201"])
def smaller_pair(request):
    # 64x64 keeps a 2x2 map after the last transition, so batch statistics
    # still average over something, at a twelfth of the 224x224 cost.
    name = request.param
    shape = (64, 64, 3)
    ours = kerasnets.build(name, classifier_activation=None, input_shape=shape)
    theirs = KERAS_TWINS[name][0](weights=None, classifier_activation=None, input_shape=shape)
    return name, ours, theirs


@pytest.fixture(scope="module")
def densenet264_small():
    return kerasnets.build("densenet264", input_shape=(32, 32, 3), classes=10)


def test_registered_with_the_paper_metadata():
    assert kerasnets.list_models(family="densenet") == sorted(NAMES)
    for name in NAMES:
        info = kerasnets.model_info(name)
        assert info["family"] == "densenet"
        assert info["paper"]["authors"] == "Huang, Liu, van der Maaten, Weinberger"
        assert info["paper"]["year"] == 2017
        assert info["paper"]["title"] == "Densely Connected Convolutional Networks"
        assert "1608.06993" in info["paper"]["url"]
        assert info["preprocessing"] == "torch"
        assert info["fixed_input"] is False
    for name in NAMES[:4]:
        info = kerasnets.model_info(name)
        assert info["input_shape"] == (224, 224, 3)
        assert info["min_input_shape"] == (32, 32, 3)
        assert info["classes"] == 1000
    for name in NAMES[4:]:
        info = kerasnets.model_info(name)
        assert info["input_shape"] == (32, 32, 3)
        assert info["min_input_shape"] == (4, 4, 3)
        assert info["classes"] == 10
    params = {name: kerasnets.model_info(name)["parameters"] for name in NAMES}
    assert params == {
        "densenet121": 8_062_504,
        "densenet169": 14_307_880,
        "densenet201": 20_242_984,
        "densenet264": DENSENET264_PARAMS,
        "densenet40_k12": DENSENET40_PARAMS,
        "densenet_bc100_k12": BC100_PARAMS,
    }


def test_densenet121_at_224_matches_keras_applications(densenet121_pair):
    ours, theirs = densenet121_pair
    assert ours.count_params() == theirs.count_params() == 8_062_504
    assert ours.input_shape == (None, 224, 224, 3) and ours.output_shape == (None, 1000)
    assert ours.get_layer("relu").output.shape[1:] == (7, 7, 1024)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(0).uniform(-1, 1, (2, 224, 224, 3)).astype("float32")
    _assert_same_outputs(ours, theirs, x)


def test_densenet169_and_201_match_keras_applications(smaller_pair):
    name, ours, theirs = smaller_pair
    _, count, channels = KERAS_TWINS[name]
    assert ours.count_params() == theirs.count_params() == count
    assert ours.get_layer("relu").output.shape[1:] == (2, 2, channels)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(1).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    _assert_same_outputs(ours, theirs, x)


def _assert_same_outputs(ours, theirs, x):
    expected = keras.ops.convert_to_numpy(theirs(x, training=False))
    got = keras.ops.convert_to_numpy(ours(x, training=False))
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
    # At initialization the inference-mode logits are tiny (the moving
    # statistics normalize nothing yet), which 1e-5 cannot tell apart: with
    # batch statistics every normalization rescales, and the logits are O(1).
    expected = keras.ops.convert_to_numpy(theirs(x, training=True))
    got = keras.ops.convert_to_numpy(ours(x, training=True))
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(got, expected, **BATCH_STATISTICS)


def test_layer_names_follow_keras_applications(densenet121_pair):
    ours, theirs = densenet121_pair
    # [1:]: the input layers' names come from a session counter.
    mine = [l.name for l in ours.layers[1:]]
    keras_names = [l.name for l in theirs.layers[1:]]
    assert len(mine) == len(keras_names)
    # keras.applications leaves its two ZeroPadding2D layers unnamed.
    differ = [(m, k) for m, k in zip(mine, keras_names) if m != k]
    assert [m for m, _ in differ] == ["conv1_pad", "pool1_pad"]
    assert all(isinstance(theirs.get_layer(k), keras.layers.ZeroPadding2D) for _, k in differ)
    assert {"conv1_conv", "conv1_bn", "pool1", "conv2_block1_0_bn", "conv2_block1_1_conv",
            "conv2_block1_2_conv", "conv2_block6_concat", "pool2_conv", "pool2_pool",
            "conv5_block16_concat", "bn", "avg_pool", "predictions"} <= set(mine)


def test_keras_choices_for_imagenet(densenet121_pair):
    ours, _ = densenet121_pair
    norms = [l for l in ours.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert norms and all(l.epsilon == 1.001e-5 for l in norms)
    convs = [l for l in ours.layers if isinstance(l, keras.layers.Conv2D)]
    assert not any(l.use_bias for l in convs)
    for b in (2, 3, 4):
        pool = ours.get_layer(f"pool{b}_pool")
        assert isinstance(pool, keras.layers.AveragePooling2D)
        assert pool.pool_size == (2, 2) and pool.strides == (2, 2) and pool.padding == "valid"
    assert not [l for l in ours.layers if isinstance(l, keras.layers.Dropout)]


def test_table_1_shapes_of_densenet121(densenet121_pair):
    ours, _ = densenet121_pair
    shape = {l.name: tuple(l.output.shape[1:]) for l in ours.layers}
    assert shape["conv1_conv"] == (112, 112, 64)
    assert shape["pool1"] == (56, 56, 64)
    # Each dense layer adds k = 32 channels; each transition halves them and the size.
    assert shape["conv2_block6_concat"] == (56, 56, 64 + 6 * 32)
    assert shape["pool2_pool"] == (28, 28, 128)
    assert shape["conv3_block12_concat"] == (28, 28, 128 + 12 * 32)
    assert shape["pool3_pool"] == (14, 14, 256)
    assert shape["conv4_block24_concat"] == (14, 14, 256 + 24 * 32)
    assert shape["pool4_pool"] == (7, 7, 512)
    assert shape["conv5_block16_concat"] == (7, 7, 512 + 16 * 32)
    assert shape["conv2_block1_1_conv"] == (56, 56, 4 * 32)  # the bottleneck's 4k
    assert ours.get_layer("conv2_block1_2_conv").kernel_size == (3, 3)
    # 121 = 1 + 2 * (6 + 12 + 24 + 16) convolutions in dense layers + 3 transitions + 1 fc.
    convs = [l for l in ours.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) + 1 == 121


def test_multiply_adds_of_densenet121(densenet121_pair):
    ours, _ = densenet121_pair
    macs = profile(ours).macs
    assert macs == DENSENET121_MACS
    assert abs(macs - 2.83e9) / 2.83e9 < 0.005


def test_minimum_input_and_include_top_false():
    features = kerasnets.build("densenet121", include_top=False, input_shape=(32, 32, 3))
    assert features.output_shape == (None, 1, 1, 1024)
    assert features.count_params() == 8_062_504 - (1024 * 1000 + 1000)
    pooled = kerasnets.build("densenet121", include_top=False, input_shape=(None, None, 3),
                             pooling="max")
    assert pooled.output_shape == (None, 1024)
    for name in ("densenet121", "densenet264"):
        with pytest.raises(ValueError, match=r"height must be at least 32"):
            kerasnets.build(name, include_top=False, input_shape=(31, 32, 3))
    with pytest.raises(ValueError, match=r"width must be at least 4"):
        kerasnets.build("densenet40_k12", input_shape=(32, 3, 3))


def test_densenet264(densenet264_small):
    model = densenet264_small
    assert expected_params(densenet.DENSENET264_BLOCKS, 32, True, 0.5, 64) == DENSENET264_PARAMS
    # Same weights as at 224x224 with 1000 classes, less the classifier difference.
    assert model.count_params() == DENSENET264_PARAMS - DENSENET264_CHANNELS * 990 - 990
    assert model.output_shape == (None, 10)
    assert model.get_layer("relu").output.shape[1:] == (1, 1, DENSENET264_CHANNELS)
    assert model.get_layer("conv4_block64_concat").output.shape[-1] == 256 + 64 * 32
    assert model.get_layer("conv5_block48_concat").output.shape[-1] == 1152 + 48 * 32
    names = {l.name for l in model.layers}
    assert "conv4_block65_0_bn" not in names and "conv5_block49_0_bn" not in names


def test_counts_by_formula_for_the_imagenet_networks():
    for name, blocks in (("densenet121", densenet.DENSENET121_BLOCKS),
                         ("densenet169", densenet.DENSENET169_BLOCKS),
                         ("densenet201", densenet.DENSENET201_BLOCKS)):
        assert expected_params(blocks, 32, True, 0.5, 64) == KERAS_TWINS[name][1]


def test_cifar_densenet40_k12():
    model = kerasnets.build("densenet40_k12")
    assert model.count_params() == DENSENET40_PARAMS
    assert trainable_count(model) == DENSENET40_TRAINABLE
    assert expected_params((12, 12, 12), 12, False, 1.0, 16, "cifar", 10) == DENSENET40_PARAMS
    assert expected_params((12, 12, 12), 12, False, 1.0, 16, "cifar", 10,
                           trainable_only=True) == DENSENET40_TRAINABLE
    # Table 2: 1.0M parameters.
    assert round(DENSENET40_TRAINABLE / 1e6, 1) == 1.0
    assert abs(DENSENET40_TRAINABLE - 1.0e6) / 1.0e6 < 0.07
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    first = model.get_layer("conv1_conv")
    assert first.kernel_size == (3, 3) and first.strides == (1, 1) and first.filters == 16
    shape = {l.name: tuple(l.output.shape[1:]) for l in model.layers}
    # Three blocks of 12 layers at 32, 16 and 8; no compression keeps the channels.
    assert shape["conv2_block12_concat"] == (32, 32, 16 + 12 * 12)
    assert shape["pool2_pool"] == (16, 16, 160)
    assert shape["conv3_block12_concat"] == (16, 16, 160 + 12 * 12)
    assert shape["pool3_pool"] == (8, 8, 304)
    assert shape["conv4_block12_concat"] == (8, 8, 304 + 12 * 12)
    assert "conv4_block13_0_bn" not in shape and "pool4_conv" not in shape
    assert "conv1_bn" not in shape and "pool1" not in shape
    assert not [l for l in model.layers if isinstance(l, keras.layers.Dropout)]
    # No bottleneck: 36 3x3 convolutions in the blocks, 1x1 only in the 2 transitions;
    # L = 40 with the first convolution and the classifier.
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert [l.kernel_size for l in convs].count((1, 1)) == 2
    assert len(convs) + 1 == 40


def test_cifar_densenet_bc100_k12():
    model = kerasnets.build("densenet_bc100_k12")
    assert model.count_params() == BC100_PARAMS
    assert trainable_count(model) == BC100_TRAINABLE
    assert expected_params((16, 16, 16), 12, True, 0.5, 24, "cifar", 10) == BC100_PARAMS
    assert expected_params((16, 16, 16), 12, True, 0.5, 24, "cifar", 10,
                           trainable_only=True) == BC100_TRAINABLE
    # Table 2: 0.8M parameters.
    assert round(BC100_TRAINABLE / 1e6, 1) == 0.8
    assert abs(BC100_TRAINABLE - 0.8e6) / 0.8e6 < 0.05
    assert model.get_layer("conv1_conv").filters == 2 * 12
    shape = {l.name: tuple(l.output.shape[1:]) for l in model.layers}
    assert shape["conv2_block1_1_conv"] == (32, 32, 48)
    assert shape["conv2_block16_concat"] == (32, 32, 24 + 16 * 12)
    assert shape["pool2_pool"] == (16, 16, 108)  # compression 0.5 of 216
    assert shape["pool3_pool"] == (8, 8, 150)  # of 108 + 192 = 300
    assert shape["conv4_block16_concat"] == (8, 8, 150 + 16 * 12)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) + 1 == 100


@pytest.mark.parametrize(
    "bottleneck, compression",
    [(True, 0.5), (False, 0.5), (True, 1.0), (False, 1.0), (True, 0.3)],
)
def test_bottleneck_and_compression_change_the_count_by_formula(bottleneck, compression):
    kwargs = dict(growth_rate=12, bottleneck=bottleneck, compression=compression,
                  initial_channels=16, stem="cifar", classes=10, input_shape=(8, 8, 3))
    model = DenseNet((4, 5, 6), **kwargs)
    assert model.count_params() == expected_params((4, 5, 6), 12, bottleneck, compression, 16,
                                                   "cifar", 10)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    one_by_one = [l for l in convs if l.kernel_size == (1, 1)]
    assert len(one_by_one) == 2 + (15 if bottleneck else 0)
    assert model.get_layer("pool2_conv").filters == math.floor(compression * (16 + 4 * 12))


def test_bottleneck_and_compression_savings_at_densenet121_size():
    # The 121-layer structure without bottleneck and compression (k = 32,
    # 64 initial channels) holds PLAIN_121 / 8,062,504 times the weights:
    # the point of DenseNet-BC.
    plain = DenseNet(densenet.DENSENET121_BLOCKS, bottleneck=False, compression=1.0,
                     input_shape=(32, 32, 3))
    assert plain.count_params() == expected_params(densenet.DENSENET121_BLOCKS, 32, False, 1.0,
                                                   64) == PLAIN_121
    assert plain.get_layer("relu").output.shape[-1] == 64 + 58 * 32
    assert round(PLAIN_121 / 8_062_504, 1) == PLAIN_121_RATIO


def test_compression_is_validated():
    for bad in (0, 0.0, -0.5, 1.01, 2, "0.5", None, True):
        with pytest.raises(ValueError, match=r"`compression` must be a number in \(0, 1\]"):
            DenseNet((2, 2), compression=bad, stem="cifar", classes=10)
    with pytest.raises(ValueError, match=r"`compression` 0.01 leaves no channels"):
        DenseNet((2, 2), compression=0.01, growth_rate=4, stem="cifar", classes=10)
    with pytest.raises(ValueError, match=r"`compression` must be a number in \(0, 1\]"):
        kerasnets.build("densenet_bc100_k12", compression=0)
    # theta = 1 is DenseNet without compression: transitions keep the channels.
    keep = DenseNet((2, 2), compression=1, growth_rate=4, stem="cifar", classes=10)
    assert keep.get_layer("pool2_conv").filters == 8 + 2 * 4


def test_other_hyper_parameters_are_validated():
    cases = [
        ({"growth_rate": 0}, r"`growth_rate` must be an integer in \[1, inf\)"),
        ({"growth_rate": 12.5}, r"`growth_rate` must be an integer"),
        ({"bottleneck": 1}, r"`bottleneck` must be True or False"),
        ({"initial_channels": 0}, r"`initial_channels` must be an integer in \[1"),
        ({"drop_rate": 1.0}, r"`drop_rate` must be a number in \[0, 1\)"),
        ({"drop_rate": -0.1}, r"`drop_rate` must be a number in \[0, 1\)"),
        ({"stem": "tiny"}, r"`stem` must be one of \('imagenet', 'cifar'\)"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            DenseNet((2, 2), **{"stem": "cifar", "classes": 10, **kwargs})
    for blocks, message in (((), r"at least one dense block"),
                            ((6, 0), r"`block_config\[1\]` must be an integer in \[1"),
                            ((6, 2.5), r"`block_config\[1\]` must be an integer"),
                            (6, r"`block_config` must be a sequence"),
                            ("6", r"`block_config` must be a sequence")):
        with pytest.raises(ValueError, match=message):
            DenseNet(blocks, stem="cifar", classes=10)


def test_drop_rate_after_each_convolution_but_the_first():
    model = kerasnets.build("densenet_bc100_k12", drop_rate=0.2)
    assert model.count_params() == BC100_PARAMS
    drops = [l for l in model.layers if isinstance(l, keras.layers.Dropout)]
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(drops) == len(convs) - 1 == 98
    assert all(d.rate == 0.2 for d in drops)
    # Each dropout follows its convolution directly.
    for conv in convs[1:]:
        name = conv.name[: -len("_conv")] + "_drop"
        assert model.get_layer(name).input is conv.output
    # Dropout draws a new mask per training-mode call and does nothing at inference.
    x = np.random.default_rng(2).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    first, second = (keras.ops.convert_to_numpy(model(x, training=True)) for _ in range(2))
    assert np.abs(first - second).max() > 1e-3
    first, second = (keras.ops.convert_to_numpy(model(x, training=False)) for _ in range(2))
    np.testing.assert_array_equal(first, second)


def _save_legacy_h5(model, path):
    # keras.applications publishes weights in the legacy (Keras 2) .h5 layout.
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


def test_imagenet_weights_resolve_to_keras_applications_files(monkeypatch, tmp_path):
    reference = keras.applications.DenseNet121(weights=None, include_top=False,
                                               input_shape=(32, 32, 3))
    path = str(tmp_path / "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5")
    _save_legacy_h5(reference, path)
    fetched = []

    def fake_fetch(key, *, include_top, tag="imagenet"):
        fetched.append((key, include_top))
        return path

    monkeypatch.setattr(pretrained, "fetch", fake_fetch)
    ours = kerasnets.build("densenet121", weights="imagenet", include_top=False,
                           input_shape=(32, 32, 3))
    assert fetched == [("densenet121", False)]
    for mine, theirs in zip(ours.weights, reference.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(mine),
                                      keras.ops.convert_to_numpy(theirs))
    with pytest.raises(ValueError, match=r"needs classes=1000"):
        kerasnets.build("densenet121", weights="imagenet", classes=10)


def test_only_the_keras_twins_ask_for_imagenet_weights(monkeypatch):
    calls = []

    class Resolved(Exception):
        pass

    def fake_resolve(weights, key, *, include_top, classes, **structure):
        calls.append((weights, key, include_top, classes))
        if weights == "imagenet":
            raise Resolved(key)
        return weights

    monkeypatch.setattr(pretrained, "resolve_weights", fake_resolve)
    for name in ("densenet121", "densenet169", "densenet201"):
        with pytest.raises(Resolved, match=name):
            kerasnets.build(name, weights="imagenet", include_top=False, classes=7)
        assert calls[-1] == ("imagenet", name, False, 7)
    calls.clear()
    for name in ("densenet264", "densenet40_k12", "densenet_bc100_k12"):
        with pytest.raises(ValueError, match=r"`weights` must be None .*got 'imagenet'"):
            kerasnets.build(name, weights="imagenet")
    assert calls == []


def test_keras_file_round_trip_safe_mode(tmp_path):
    small = DenseNet((2, 3), growth_rate=4, stem="cifar", classes=5, drop_rate=0.2,
                     input_shape=(16, 16, 3), name="densenet_small")
    assert not [l for l in small.layers if isinstance(l, keras.layers.Lambda)]
    path = tmp_path / "densenet.keras"
    small.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(3).uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(small(x)), atol=1e-6
    )
    assert loaded.name == "densenet_small"
