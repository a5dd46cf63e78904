"""Facts about ResNet v1/v2 (He et al. 2016), the CIFAR ResNets, ResNeXt (Xie et al. 2017)
and stochastic depth (Huang et al. 2016), and the match with keras.applications' ResNets."""

import kerasnets.models.resnet  # noqa: F401  (registers the networks before the package lists them)

import keras
import numpy as np
import pytest

import kerasnets
from kerasnets import profile
from kerasnets.layers import SqueezeExcite, StochasticDepth, linear_decay_rates
from kerasnets.models import resnet as R
from tolerances import BATCH_STATISTICS

# model.count_params() at the defaults (1000 classes; 10 for CIFAR). The keras
# twins have exactly keras.applications' counts.
PARAMS = {
    "resnet18": 11_703_912,
    "resnet34": 21_823_208,
    "resnet50": 25_636_712,
    "resnet101": 44_707_176,
    "resnet152": 60_419_944,
    "resnet50_v2": 25_613_800,
    "resnet101_v2": 44_675_560,
    "resnet152_v2": 60_380_648,
    "resnext50_32x4d": 25_097_128,
    "resnext101_32x4d": 44_315_560,
    "resnext101_32x8d": 88_994_216,
    "resnet20": 271_098,
    "resnet32": 466_426,
    "resnet44": 661_754,
    "resnet56": 857_082,
    "resnet110": 1_736_058,
    "resnet1202": 19_510_906,
}
# Trainable parameters (without the normalizations' moving statistics): the
# ResNeXt paper's (and torchvision's) counts.
TRAINABLE = {"resnext50_32x4d": 25_028_904, "resnext101_32x8d": 88_791_336}
# Multiply-adds at 224x224 (kerasnets.profile) and the published figures:
# Table 1 (1.8, 3.6, 3.8, 7.6, 11.3 GFLOPs), torchvision's 1.81 and 3.66 for
# the basic-block nets, 3.86 for ResNet-50 with keras.applications' (Caffe's)
# stride in the first 1x1 convolution, 4.23 for ResNeXt-50 (32x4d).
MACS_224 = {
    "resnet18": (1_814_073_344, 1.81e9),
    "resnet34": (3_663_761_408, 3.66e9),
    "resnet50": (3_857_973_248, 3.86e9),
    "resnet101": (7_570_194_432, 7.57e9),
    "resnet152": (11_282_415_616, 11.28e9),
    "resnext50_32x4d": (4_230_479_872, 4.23e9),
}
# Section 4.2, Table 6: parameters of the CIFAR-10 ResNets.
CIFAR_PAPER_PARAMS = {20: 0.27e6, 32: 0.46e6, 44: 0.66e6, 56: 0.85e6, 110: 1.7e6, 1202: 19.4e6}

CIFAR = ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet1202"]
IMAGENET = [n for n in PARAMS if n not in CIFAR]
TWINS = {
    "resnet50": keras.applications.ResNet50,
    "resnet101": keras.applications.ResNet101,
    "resnet152": keras.applications.ResNet152,
    "resnet50_v2": keras.applications.ResNet50V2,
    "resnet101_v2": keras.applications.ResNet101V2,
    "resnet152_v2": keras.applications.ResNet152V2,
}


def cifar_params(depth, classes=10, preact=False):
    """count_params() of a 6n+2 CIFAR ResNet: no conv biases, option A shortcuts (no weights)."""
    n = (depth - 2) // 6

    def bn(channels):  # gamma, beta, moving mean and variance
        return 4 * channels

    total = 3 * 3 * 3 * 16 + (0 if preact else bn(16))
    in_channels = 16
    for channels in (16, 32, 64):
        for _ in range(n):
            total += 9 * in_channels * channels + 9 * channels * channels + bn(channels)
            # v1: BN after each convolution; v2: BN on the unit's input and after conv 1.
            total += bn(in_channels) if preact else bn(channels)
            in_channels = channels
    return total + (bn(64) if preact else 0) + 64 * classes + classes


@pytest.fixture(scope="module")
def built():
    """Each ImageNet network at its defaults (logits), built once for the whole module."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = kerasnets.build(name, classifier_activation=None)
        return cache[name]

    yield get
    cache.clear()


def test_registered_with_the_paper_metadata():
    assert kerasnets.list_models(family="resnet") == sorted(
        n for n in PARAMS if not n.startswith("resnext")
    )
    assert kerasnets.list_models(family="resnext") == [
        "resnext101_32x4d", "resnext101_32x8d", "resnext50_32x4d",
    ]
    for name, count in PARAMS.items():
        info = kerasnets.model_info(name)
        assert info["parameters"] == count, name
        if name in CIFAR:
            assert info["input_shape"] == (32, 32, 3) and info["classes"] == 10
            assert info["min_input_shape"] == (8, 8, 3)
            assert "Deep Residual Learning" in info["paper"]["title"]
        else:
            assert info["input_shape"] == (224, 224, 3) and info["classes"] == 1000
            assert info["min_input_shape"] == (32, 32, 3)
        assert info["paper"]["year"] == (2017 if "resnext" in name else 2016)
    assert kerasnets.model_info("resnet50_v2")["paper"]["title"] == (
        "Identity Mappings in Deep Residual Networks"
    )
    assert "Aggregated Residual Transformations" in kerasnets.model_info(
        "resnext50_32x4d")["paper"]["title"]
    # keras.applications' preprocessing of the twins: caffe for v1, tf for v2.
    assert kerasnets.model_info("resnet50")["preprocessing"] == "caffe"
    assert kerasnets.model_info("resnet152_v2")["preprocessing"] == "tf"


@pytest.mark.parametrize("name", IMAGENET)
def test_imagenet_counts_and_multiply_adds(name, built):
    model = built(name)
    assert model.count_params() == PARAMS[name]
    assert model.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 1000)
    result = profile(model)  # from the graph's shapes: no forward pass
    assert result.params == PARAMS[name]
    if name in MACS_224:
        exact, published = MACS_224[name]
        assert result.macs == exact
        assert abs(result.macs - published) / published < 0.01
    if name in TRAINABLE:
        assert result.trainable_params == TRAINABLE[name]
    names = {l.name for l in model.layers}
    assert {"conv1_conv", "conv2_block1_1_conv", "conv5_block2_out", "avg_pool",
            "predictions"} <= names


@pytest.mark.parametrize(
    "name",
    ["resnet50", "resnet50_v2"]
    + [pytest.param(n, marks=pytest.mark.slow) for n in
       ("resnet101", "resnet152", "resnet101_v2", "resnet152_v2")],
)
def test_keras_applications_weights_load_and_give_the_same_outputs(name, built):
    ours_224 = built(name)
    size = (64, 64, 3)
    # The same layers on a 64x64 input: shares the weights, no rebuild.
    ours = keras.models.clone_model(ours_224, input_tensors=keras.Input(size),
                                    clone_function=lambda layer: layer)
    reference = TWINS[name](weights=None, input_shape=size, classifier_activation=None)
    assert reference.count_params() == PARAMS[name]
    assert [l.name for l in ours.layers if l.weights] == [
        l.name for l in reference.layers if l.weights
    ]
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in reference.weights]
    ours.set_weights(reference.get_weights())
    x = np.random.default_rng(0).uniform(-1, 1, (2, *size)).astype("float32")
    for training in (False, True):
        # With the initial moving statistics inference-mode normalization does
        # little; in training mode every normalization rescales (see test_xception).
        expected = keras.ops.convert_to_numpy(reference(x, training=training))
        got = keras.ops.convert_to_numpy(ours(x, training=training))
        assert np.abs(expected).max() > 0.1
        tolerance = BATCH_STATISTICS if training else {"atol": 1e-5, "rtol": 1e-5}
        np.testing.assert_allclose(got, expected, **tolerance)


def test_table_1_stages_of_resnet50(built):
    model = built("resnet50")
    shape = {l.name: tuple(l.output.shape[1:]) for l in model.layers}
    assert shape["conv1_relu"] == (112, 112, 64)
    assert shape["pool1_pool"] == (56, 56, 64)
    for stage, (size, blocks) in zip((2, 3, 4, 5), ((56, 3), (28, 4), (14, 6), (7, 3))):
        assert shape[f"conv{stage}_block{blocks}_out"] == (size, size, 256 * 2 ** (stage - 2))
        assert f"conv{stage}_block{blocks + 1}_out" not in shape
        assert f"conv{stage}_block1_0_conv" in shape  # one projection per stage (option B)
        assert f"conv{stage}_block2_0_conv" not in shape
    # keras.applications (Caffe) downsamples in the first 1x1 convolution.
    assert model.get_layer("conv3_block1_1_conv").strides == (2, 2)
    assert model.get_layer("conv3_block1_2_conv").strides == (1, 1)
    assert len([l for l in model.layers if isinstance(l, keras.layers.Conv2D)]) == 49 + 4
    # ResNet-101/152: 23 and 36 blocks in conv4, 8 in conv3 for 152.
    assert "conv4_block23_out" in {l.name for l in built("resnet101").layers}
    names152 = {l.name for l in built("resnet152").layers}
    assert {"conv3_block8_out", "conv4_block36_out"} <= names152


def test_basic_block_resnets():
    model = kerasnets.build("resnet18", include_top=False, input_shape=(32, 32, 3))
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.kernel_size for c in convs if c.kernel_size != (1, 1)] == [(7, 7)] + [(3, 3)] * 16
    names = [l.name for l in model.layers]
    # 64 -> 64 needs no projection; each later stage starts with one.
    assert "conv2_block1_0_conv" not in names
    assert [n for n in names if n.endswith("_0_conv")] == [
        "conv3_block1_0_conv", "conv4_block1_0_conv", "conv5_block1_0_conv",
    ]
    assert model.get_layer("conv3_block1_1_conv").strides == (2, 2)
    assert model.output_shape == (None, 1, 1, 512)
    assert model.count_params() == PARAMS["resnet18"] - (512 * 1000 + 1000)
    assert "conv5_block2_out" in names and "conv5_block3_out" not in names


def test_v2_full_preactivation_units(built):
    model = built("resnet50_v2")
    names = [l.name for l in model.layers]
    assert "conv1_bn" not in names  # the stem is not normalized: the first unit's preact is
    assert names.index("conv2_block1_preact_bn") < names.index("conv2_block1_1_conv")
    assert names[-4:] == ["post_bn", "post_relu", "avg_pool", "predictions"]
    shape = {l.name: tuple(l.output.shape[1:]) for l in model.layers}
    # keras.applications' v2 downsamples in the last unit of conv2-conv4.
    assert shape["conv2_block2_out"] == (56, 56, 256)
    assert shape["conv2_block3_out"] == (28, 28, 256)
    assert shape["conv5_block3_out"] == (7, 7, 2048)
    assert isinstance(model.get_layer("conv2_block3_0_pool"), keras.layers.MaxPooling2D)
    assert not model.get_layer("conv2_block1_1_conv").use_bias
    assert model.get_layer("conv2_block1_3_conv").use_bias
    # No ReLU after the addition.
    assert isinstance(model.get_layer("conv2_block1_out"), keras.layers.Add)


def test_resnext_grouped_bottlenecks(built):
    model = built("resnext50_32x4d")
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert not any(c.use_bias for c in convs)
    for stage, width in zip((2, 3, 4, 5), (128, 256, 512, 1024)):
        grouped = model.get_layer(f"conv{stage}_block1_2_conv")
        assert (grouped.groups, grouped.filters, grouped.kernel_size) == (32, width, (3, 3))
        assert model.get_layer(f"conv{stage}_block1_3_conv").filters == 2 * width
    # ResNeXt downsamples in the 3x3 convolution.
    assert model.get_layer("conv3_block1_1_conv").strides == (1, 1)
    assert model.get_layer("conv3_block1_2_conv").strides == (2, 2)
    wide = built("resnext101_32x8d")
    assert wide.get_layer("conv2_block1_2_conv").filters == 256
    assert "conv4_block23_out" in {l.name for l in wide.layers}
    # Cardinality and width are arguments.
    small = R.ResNeXt((1, 1, 1, 1), cardinality=8, bottleneck_width=2, include_top=False,
                      input_shape=(32, 32, 3))
    assert small.get_layer("conv2_block1_2_conv").groups == 8
    assert small.get_layer("conv2_block1_2_conv").filters == 16


@pytest.mark.parametrize("name", CIFAR[:-1])
def test_cifar_parameter_counts(name):
    depth = int(name[6:])
    model = kerasnets.build(name)
    assert model.count_params() == PARAMS[name] == cifar_params(depth)
    assert abs(model.count_params() - CIFAR_PAPER_PARAMS[depth]) / CIFAR_PAPER_PARAMS[depth] < 0.03
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) + 1 == depth  # 6n + 2 weighted layers: convolutions and the classifier
    assert all(c.kernel_size == (3, 3) and not c.use_bias for c in convs)


def test_resnet1202_count_by_formula():
    assert PARAMS["resnet1202"] == cifar_params(1202)
    assert abs(cifar_params(1202) - 19.4e6) / 19.4e6 < 0.03
    # Trainable: without the moving statistics (2 per normalized channel).
    bn_channels = 16 + 200 * 2 * (16 + 32 + 64)
    assert cifar_params(1202) - 2 * bn_channels == 19_421_274


@pytest.mark.slow
def test_resnet1202_builds_with_its_count():
    model = kerasnets.build("resnet1202")
    assert model.count_params() == PARAMS["resnet1202"]
    assert len([l for l in model.layers if isinstance(l, keras.layers.Conv2D)]) == 1201


def test_cifar_option_a_shortcut_subsamples_and_pads_zeros():
    model = kerasnets.build("resnet20", input_shape=(9, 9, 3))
    shortcut = model.get_layer("conv3_block1_0_pad")
    assert isinstance(shortcut, R.ChannelZeroPadding) and not shortcut.weights
    probe = keras.Model(model.input, [model.get_layer("conv2_block3_out").output,
                                       shortcut.output, model.get_layer("conv4_block1_0_pad").output])
    x = np.random.default_rng(0).normal(size=(2, 9, 9, 3)).astype("float32")
    before, padded, padded4 = (keras.ops.convert_to_numpy(t) for t in probe(x))
    assert padded.shape == (2, 5, 5, 32) and padded4.shape == (2, 3, 3, 64)
    np.testing.assert_array_equal(padded[..., :16], before[:, ::2, ::2, :])
    np.testing.assert_array_equal(padded[..., 16:], 0)
    # No projection anywhere: option A adds no parameters.
    assert not [l for l in model.layers if isinstance(l, keras.layers.Conv2D)
                and l.kernel_size == (1, 1)]
    layer = R.ChannelZeroPadding((1, 2))
    assert keras.ops.convert_to_numpy(layer(np.ones((1, 2, 2, 3), "float32"))).tolist()[0][0][0] \
        == [0, 1, 1, 1, 0, 0]
    with pytest.raises(ValueError, match=r"`padding` must be a pair"):
        R.ChannelZeroPadding((1, -1))


def test_cifar_preact_form():
    model = kerasnets.build("resnet20", preact=True)
    # BN moves from after the second convolution to before the first: the same count.
    assert model.count_params() == cifar_params(20, preact=True) == PARAMS["resnet20"]
    assert model.name == "resnet20_v2"
    names = [l.name for l in model.layers]
    assert "conv1_bn" not in names and names[-4:] == ["post_bn", "post_relu", "avg_pool",
                                                       "predictions"]
    for block in ("conv2_block2", "conv3_block1", "conv4_block3"):
        assert names.index(f"{block}_preact_bn") < names.index(f"{block}_1_conv")
        assert isinstance(model.get_layer(f"{block}_out"), keras.layers.Add)
        assert f"{block}_2_bn" not in names
    # The first unit's shortcut leaves after its activation (appendix of the
    # paper); the others take the unit's input.
    first = model.get_layer("conv2_block1_out")
    assert first.input[0] is model.get_layer("conv2_block1_preact_relu").output
    second = model.get_layer("conv2_block2_out")
    assert second.input[0] is model.get_layer("conv2_block1_out").output
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    assert keras.ops.convert_to_numpy(model(x, training=True)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"`preact` must be True or False"):
        kerasnets.build("resnet20", preact=1)


# ---------------------------------------------------------------- stochastic depth


def _drops(model):
    return [l for l in model.layers if isinstance(l, StochasticDepth)]


def test_stochastic_depth_linear_decay_in_every_builder():
    cifar = kerasnets.build("resnet20", drop_path_rate=0.5)
    drops = _drops(cifar)
    assert [d.name for d in drops] == [
        f"conv{s}_block{b}_drop" for s in (2, 3, 4) for b in (1, 2, 3)
    ]
    # p_l = 1 - (l / L)(1 - p_L): the drop rates rise to 0.5 in the last block.
    assert [d.rate for d in drops] == pytest.approx([0.5 * l / 9 for l in range(1, 10)])
    assert [d.rate for d in drops] == pytest.approx(linear_decay_rates(0.5, 9))
    # Expected depth: sum of p_l = (3L - 1) / 4 for p_L = 0.5.
    assert sum(d.survival_probability for d in drops) == pytest.approx((3 * 9 - 1) / 4)
    assert sum(1 - r for r in linear_decay_rates(0.5, 54)) == pytest.approx((3 * 54 - 1) / 4)
    # Nothing is added without it, so the networks keep keras.applications' layout.
    assert not _drops(kerasnets.build("resnet20"))
    assert cifar.count_params() == PARAMS["resnet20"]
    small = dict(include_top=False, input_shape=(32, 32, 3), drop_path_rate=0.2)
    others = {
        "v1 basic": kerasnets.build("resnet18", **small),
        "v1 bottleneck": R.ResNet(R.imagenet_stages((1, 2, 1, 1)), R.bottleneck_block, **small),
        "v2": R.ResNet(R.imagenet_stages((1, 2, 1, 1), strides=R.V2_STRIDES),
                       R.preact_bottleneck_block, preact=True, downsample_at="last", **small),
        "resnext": R.ResNeXt((1, 2, 1, 1), **small),
        "cifar v2": kerasnets.build("resnet20", preact=True, drop_path_rate=0.2),
    }
    for kind, model in others.items():
        drops = _drops(model)
        assert [d.rate for d in drops] == pytest.approx(linear_decay_rates(0.2, len(drops))), kind
        # On the residual branch, right before the addition.
        for d in drops:
            add = d.name[: -len("drop")] + ("add" if kind.startswith(("v1", "resnext")) else "out")
            assert d.output is model.get_layer(add).input[1], kind
    assert len(_drops(others["v1 basic"])) == 8
    assert len(_drops(others["cifar v2"])) == 9


@pytest.mark.parametrize("scale_at", ["train", "test"])
def test_stochastic_depth_survival_matches_p_l(scale_at):
    model = kerasnets.build("resnet20", drop_path_rate=0.5, drop_path_scale_at=scale_at,
                            input_shape=(8, 8, 3))
    drops = _drops(model)
    p = np.array([d.survival_probability for d in drops])
    probe = keras.Model(model.input, [d.input for d in drops] + [d.output for d in drops])
    x = np.random.default_rng(0).normal(size=(256, 8, 8, 3)).astype("float32")

    def branch_scales(training):
        tensors = [keras.ops.convert_to_numpy(t) for t in probe(x, training=training)]
        ins, outs = tensors[: len(drops)], tensors[len(drops):]
        # Per sample, out = scale * in: the scale each branch was multiplied by.
        return np.stack([
            (o * i).reshape(len(x), -1).sum(1) / (i * i).reshape(len(x), -1).sum(1)
            for i, o in zip(ins, outs)
        ], axis=1)

    inference = branch_scales(False)
    np.testing.assert_allclose(inference, np.broadcast_to(1.0 if scale_at == "train" else p,
                                                          inference.shape), rtol=1e-5)
    scales = np.concatenate([branch_scales(True) for _ in range(8)])  # 2048 draws per block
    kept = scales > 1e-6
    keep_value = 1 / p if scale_at == "train" else np.ones_like(p)
    np.testing.assert_allclose(scales, kept * keep_value, rtol=1e-4, atol=1e-6)
    n = len(scales)
    survival = kept.mean(axis=0)
    tolerance = 5 * np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(survival - p) < tolerance), (survival, p)
    # Whole branches are dropped per sample, so the depth varies by sample;
    # its mean is the expected depth (3L - 1) / 4 = 6.5 for L = 9.
    depth = kept.sum(axis=1)
    assert depth.min() < depth.max()
    assert abs(depth.mean() - 6.5) < 5 * np.sqrt((p * (1 - p)).sum() / n)
    # Equivalent in expectation: a branch's mean training scale is its inference scale.
    assert np.all(np.abs(scales.mean(axis=0) - inference[0]) < 5 * keep_value * np.sqrt(
        p * (1 - p) / n))


def test_stochastic_depth_inference_is_deterministic_and_keeps_every_block():
    model = kerasnets.build("resnet20", drop_path_rate=0.5)
    plain = kerasnets.build("resnet20")
    plain.set_weights(model.get_weights())
    x = np.random.default_rng(1).normal(size=(4, 32, 32, 3)).astype("float32")
    first = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_array_equal(first, keras.ops.convert_to_numpy(model(x, training=False)))
    np.testing.assert_allclose(first, keras.ops.convert_to_numpy(plain(x, training=False)),
                               rtol=1e-6, atol=1e-6)
    train_a = keras.ops.convert_to_numpy(model(x, training=True))
    train_b = keras.ops.convert_to_numpy(model(x, training=True))
    assert not np.allclose(train_a, train_b)


def test_scaling_at_train_or_test_are_the_same_network():
    """scale_at="test" (the paper) = scale_at="train" with each branch's last BN scaled by p_l."""
    models = {}
    for scale_at in ("test", "train"):
        keras.utils.set_random_seed(7)  # the same dropping masks in both
        models[scale_at] = kerasnets.build("resnet20", drop_path_rate=0.5,
                                           drop_path_scale_at=scale_at)
    paper, ours = models["test"], models["train"]
    paper.set_weights([np.random.default_rng(i).uniform(0.5, 1.5, w.shape).astype("float32")
                       if "gamma" in w.path or "variance" in w.path else keras.ops.convert_to_numpy(w)
                       for i, w in enumerate(paper.weights)])
    ours.set_weights(paper.get_weights())
    for d in _drops(ours):
        bn = ours.get_layer(d.name.replace("_drop", "_2_bn"))
        gamma, beta, mean, variance = bn.get_weights()
        p = d.survival_probability
        bn.set_weights([gamma * p, beta * p, mean, variance])
    x = np.random.default_rng(2).normal(size=(8, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(x, training=False)),
                               keras.ops.convert_to_numpy(paper(x, training=False)),
                               rtol=1e-5, atol=1e-5)
    for _ in range(3):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(x, training=True)),
                                   keras.ops.convert_to_numpy(paper(x, training=True)),
                                   rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- hooks, files, errors


def test_squeeze_excite_hook_on_the_residual_branch():
    model = kerasnets.build("resnet20", se_ratio=4)
    gates = [l for l in model.layers if isinstance(l, SqueezeExcite)]
    assert len(gates) == 9 and gates[0].name == "conv2_block1_se"
    assert model.get_layer("conv2_block1_add").input[1] is gates[0].output
    # Per gate: C -> C/4 -> C, with biases.
    extra = sum(3 * (c * (c // 4) + c // 4 + (c // 4) * c + c) for c in (16, 32, 64))
    assert model.count_params() == PARAMS["resnet20"] + extra
    v2 = R.ResNet(R.imagenet_stages((1, 1, 1, 1), strides=R.V2_STRIDES),
                  R.preact_bottleneck_block, preact=True, downsample_at="last",
                  include_top=False, input_shape=(32, 32, 3), se_ratio=16, drop_path_rate=0.1)
    assert v2.get_layer("conv2_block1_drop").input is v2.get_layer("conv2_block1_se").output


def test_keras_file_round_trip_safe_mode(tmp_path):
    model = kerasnets.build("resnet20", drop_path_rate=0.2, classes=5, input_shape=(16, 16, 3))
    assert not [l for l in model.layers if isinstance(l, keras.layers.Lambda)]
    path = tmp_path / "resnet20.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded.get_layer("conv3_block1_0_pad"), R.ChannelZeroPadding)
    assert loaded.get_layer("conv4_block3_drop").rate == pytest.approx(0.2)
    x = np.random.default_rng(3).normal(size=(2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)),
                               keras.ops.convert_to_numpy(model(x)), atol=1e-6)


def test_include_top_false_pooling_and_sizes():
    features = kerasnets.build("resnet50", include_top=False, input_shape=(32, 32, 3))
    assert features.output_shape == (None, 1, 1, 2048)
    assert features.count_params() == PARAMS["resnet50"] - (2048 * 1000 + 1000)
    pooled = kerasnets.build("resnet18", include_top=False, pooling="max",
                             input_shape=(None, None, 3))
    assert pooled.output_shape == (None, 512)
    assert kerasnets.build("resnet20", classes=100).output_shape == (None, 100)
    with pytest.raises(ValueError, match=r"height must be at least 32"):
        kerasnets.build("resnet18", include_top=False, input_shape=(31, 32, 3))
    with pytest.raises(ValueError, match=r"width must be at least 8"):
        kerasnets.build("resnet20", input_shape=(8, 7, 3))


def test_bad_arguments_name_the_argument():
    cheap = dict(include_top=False, input_shape=(32, 32, 3))
    for bad in (1.0, -0.1, "0.2", True):
        with pytest.raises(ValueError, match=r"`drop_path_rate` must be a number in \[0, 1\)"):
            kerasnets.build("resnet20", drop_path_rate=bad)
    with pytest.raises(ValueError, match=r"`drop_path_scale_at` must be one of \('train', 'test'\)"):
        kerasnets.build("resnet18", drop_path_scale_at="both", **cheap)
    with pytest.raises(ValueError, match=r"`se_ratio` must be a number in \(0, inf\)"):
        kerasnets.build("resnet20", se_ratio=0)
    for bad in (0, 2.5, "32"):
        with pytest.raises(ValueError, match=r"`cardinality` must be an integer in \[1"):
            kerasnets.build("resnext50_32x4d", cardinality=bad, **cheap)
    with pytest.raises(ValueError, match=r"`bottleneck_width` must be an integer in \[1"):
        kerasnets.build("resnext50_32x4d", bottleneck_width=0, **cheap)
    with pytest.raises(ValueError, match=r"`depth` must be 6n \+ 2"):
        R.CifarResNet(21)
    with pytest.raises(ValueError, match=r"`depth` must be an integer in \[8"):
        R.CifarResNet(2)
    with pytest.raises(ValueError, match=r"`shortcut` must be one of"):
        R.ResNet(R.cifar_stages(1), R.basic_block, stem="cifar", shortcut="option_c")
    with pytest.raises(ValueError, match=r"`stem` must be one of"):
        R.ResNet(R.cifar_stages(1), R.basic_block, stem="deep")
    with pytest.raises(ValueError, match=r"`pooling` must be one of"):
        kerasnets.build("resnet20", include_top=False, pooling="sum")
    with pytest.raises(ValueError, match=r"`classes` must be an integer"):
        kerasnets.build("resnet20", classes=0)


def test_imagenet_weights_resolve_to_each_networks_default_checkpoint(monkeypatch):
    """keras.applications' files for its twins; the first converted tag for the others
    (test_weights_resnet checks the checkpoints themselves); none for the CIFAR v2s."""
    from kerasnets.models import pretrained

    asked = []

    class Resolved(Exception):
        pass

    def resolve(weights, key, *, include_top, classes, **structure):
        asked.append((weights, key, include_top, classes, structure))
        raise Resolved

    monkeypatch.setattr(pretrained, "resolve_weights", resolve)
    for name in TWINS:
        with pytest.raises(Resolved):
            kerasnets.build(name, weights="imagenet", include_top=False)
    assert [a[1] for a in asked] == list(TWINS)
    assert all(a[0] == "imagenet" and a[2] is False and a[3] == 1000 for a in asked)
    # The keras.applications files need keras.applications' structure, which is the default.
    assert asked[0][4]["bn_epsilon"] == R.BN_EPSILON and asked[0][4]["stride_at"] == "1x1"
    asked.clear()
    for name in ("resnet18", "resnet34", "resnext50_32x4d", "resnet20", "resnet1202"):
        with pytest.raises(Resolved):
            kerasnets.build(name, weights="imagenet", include_top=False)
    # "imagenet" names the first tag: the registry sets that checkpoint's structure.
    assert all(a[4]["bn_epsilon"] == R.TORCH_BN_EPSILON for a in asked)
    asked.clear()
    with pytest.raises(ValueError, match=r"no ImageNet weights are published"):
        R.CifarResNet(20, preact=True, weights="imagenet")
    assert asked == []


def test_imagenet_weights_with_other_classes_are_refused():
    with pytest.raises(ValueError, match=r"needs classes=1000"):
        kerasnets.build("resnet50", weights="imagenet", classes=10)


def test_weights_file_loads_with_stochastic_depth(tmp_path):
    # Drop-path layers reorder the model's layers; the file (keras.applications'
    # legacy format, as published) must still land on the right layers.
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    reference = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3),
                                            classifier_activation=None)
    path = tmp_path / "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    ours = kerasnets.build("resnet50", weights=str(path), drop_path_rate=0.2,
                           input_shape=(64, 64, 3), classifier_activation=None)
    for layer in (l for l in reference.layers if l.weights):
        for got, want in zip(ours.get_layer(layer.name).get_weights(), layer.get_weights()):
            np.testing.assert_array_equal(got, want)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(x, training=False)),
                               keras.ops.convert_to_numpy(reference(x, training=False)),
                               atol=1e-5, rtol=1e-5)
