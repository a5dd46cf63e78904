"""Facts about MobileNet v1 (Howard et al. 2017) and v2 (Sandler et al. 2018), and their
match with keras.applications.MobileNet / MobileNetV2."""

import kerasnets.models.mobilenet  # noqa: F401  (registers the MobileNets before the package lists them)

import keras
import numpy as np
import pytest

import kerasnets
from kerasnets import profile
from kerasnets.models import pretrained
from kerasnets.models.mobilenet import MobileNetV1, MobileNetV2, make_divisible
from tolerances import BATCH_STATISTICS

# keras.applications.MobileNet(alpha=a).count_params(), 1000 classes.
V1_PARAMS = {1.0: 4_253_864, 0.75: 2_601_976, 0.5: 1_342_536, 0.25: 475_544}
# kerasnets.profile at 224x224: convolutions, depthwise convolutions and the
# classifier. The paper's Table 6/7: 569M, 325M, 149M, 41M.
V1_MACS_224 = {1.0: 568_740_352, 0.75: 325_400_448, 0.5: 149_497_088, 0.25: 41_030_272}
# Table 7 (alpha 1.0): 418M, 290M, 186M at 192, 160, 128.
V1_MACS_BY_SIZE = {192: 418_121_728, 160: 290_675_200, 128: 186_400_768}
V1_PAPER_MACS_BY_SIZE = {192: 418e6, 160: 290e6, 128: 186e6}
# keras.applications.MobileNetV2(alpha=a).count_params().
V2_PARAMS = {0.35: 1_691_208, 0.5: 1_987_224, 0.75: 2_663_064, 1.0: 3_538_984,
             1.3: 5_431_048, 1.4: 6_156_712}
V2_MACS_224 = 300_774_272  # the paper's Table 4/5: 300M


def _all_aliases():
    v1 = [(f"mobilenet_v1_{float(a)}_{s}", "v1", float(a), s)
          for a in pretrained.MOBILENET_V1_ALPHAS for s in pretrained.MOBILENET_V1_SIZES]
    v2 = [(f"mobilenet_v2_{float(a)}_{s}", "v2", float(a), s)
          for a in pretrained.MOBILENET_V2_ALPHAS for s in pretrained.MOBILENET_V2_SIZES]
    return v1 + v2


def _np(x):
    return keras.ops.convert_to_numpy(x)


# ---------------------------------------------------------------- registry


def test_registered_with_the_paper_metadata():
    v1 = kerasnets.model_info("mobilenet_v1")
    assert v1["family"] == "mobilenet"
    assert v1["paper"]["year"] == 2017 and v1["paper"]["authors"].startswith("Howard")
    assert "Efficient Convolutional Neural Networks for Mobile" in v1["paper"]["title"]
    assert v1["parameters"] == V1_PARAMS[1.0]
    v2 = kerasnets.model_info("mobilenet_v2")
    assert v2["paper"]["year"] == 2018 and v2["paper"]["authors"].startswith("Sandler")
    assert "Inverted Residuals and Linear Bottlenecks" in v2["paper"]["title"]
    assert v2["parameters"] == V2_PARAMS[1.0]
    for info in (v1, v2):
        assert info["input_shape"] == (224, 224, 3)
        assert info["min_input_shape"] == (32, 32, 3)
        assert info["preprocessing"] == "tf"
        assert info["fixed_input"] is False


def test_aliases_resolve_to_their_alpha_and_size():
    aliases = _all_aliases()
    assert len(aliases) == 16 + 30
    for alias, version, alpha, size in aliases:
        spec = kerasnets.get_spec(alias)
        assert spec.name == alias
        assert spec.defaults["alpha"] == alpha and isinstance(spec.defaults["alpha"], float)
        assert spec.input_shape == (size, size, 3)
        assert spec.family == "mobilenet" and spec.preprocessing == "tf"
        assert spec.builder is kerasnets.get_spec(f"mobilenet_{version}").builder
        assert spec.params == (V1_PARAMS if version == "v1" else V2_PARAMS)[alpha]
        assert spec.alias_of == f"mobilenet_{version}"
    # Presets are listed only on request, so registry-wide tests build each network once.
    assert kerasnets.list_models("mobilenet*") == ["mobilenet_v1", "mobilenet_v2"]
    assert set(kerasnets.list_models("mobilenet*", include_aliases=True)) == {
        "mobilenet_v1", "mobilenet_v2", *(a for a, *_ in aliases)}
    assert "mobilenet_v1_0.25_128" in {a for a, *_ in aliases}
    assert "mobilenet_v2_0.35_96" in {a for a, *_ in aliases}
    assert "mobilenet_v2_1.3_224" in {a for a, *_ in aliases}


def test_alias_builds_with_its_defaults():
    v1 = kerasnets.build("mobilenet_v1_0.25_128")
    assert v1.name == "mobilenet_v1_0.25_128"
    assert v1.input_shape == (None, 128, 128, 3)
    assert v1.count_params() == V1_PARAMS[0.25]
    assert v1.get_layer("conv1").filters == 8
    v2 = kerasnets.build("mobilenet_v2_0.35_96", include_top=False, pooling="avg")
    assert v2.input_shape == (None, 96, 96, 3)
    assert v2.output_shape == (None, 1280)
    assert v2.count_params() == V2_PARAMS[0.35] - (1280 * 1000 + 1000)
    # Arguments still override the alias's defaults.
    other = kerasnets.build("mobilenet_v1_0.25_128", input_shape=(160, 160, 3), classes=10)
    assert other.input_shape == (None, 160, 160, 3) and other.output_shape == (None, 10)


# ---------------------------------------------------------------- MobileNet v1


@pytest.mark.parametrize("alpha", [1.0, 0.75, 0.5, 0.25])
def test_v1_parameters_and_multiply_adds_at_224(alpha):
    model = MobileNetV1(alpha=alpha)
    assert model.count_params() == V1_PARAMS[alpha]
    result = profile(model)
    assert result.macs == V1_MACS_224[alpha]
    assert model.output_shape == (None, 1000)
    assert model.layers[-1].activation.__name__ == "softmax"


def test_v1_multiply_adds_of_the_resolution_multiplier():
    for size, macs in V1_MACS_BY_SIZE.items():
        model = MobileNetV1(input_shape=(size, size, 3))
        assert profile(model).macs == macs
        assert abs(macs - V1_PAPER_MACS_BY_SIZE[size]) / V1_PAPER_MACS_BY_SIZE[size] < 0.02
        assert model.count_params() == V1_PARAMS[1.0]


def test_v1_layers_of_table_1():
    model = MobileNetV1()
    shape = {l.name: tuple(l.output.shape[1:]) for l in model.layers}
    assert shape["conv1_relu"] == (112, 112, 32)
    expected = [(112, 64), (56, 128), (56, 128), (28, 256), (28, 256)] + [(14, 512)] * 6 + [
        (7, 1024), (7, 1024)]
    for block, (size, channels) in enumerate(expected, start=1):
        assert shape[f"conv_pw_{block}_relu"] == (size, size, channels), block
        assert model.get_layer(f"conv_dw_{block}").kernel_size == (3, 3)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    depthwise = [l for l in model.layers if isinstance(l, keras.layers.DepthwiseConv2D)]
    # Section 3.2: 28 layers counting depthwise and pointwise separately, with the classifier.
    assert len(convs) + len(depthwise) == 28
    assert all(not l.use_bias for l in convs[:-1] + depthwise)
    relus = [l for l in model.layers if isinstance(l, keras.layers.ReLU)]
    assert len(relus) == 27 and all(float(l.max_value) == 6.0 for l in relus)
    assert model.get_layer("dropout").rate == 1e-3


@pytest.mark.parametrize("alpha,depth_multiplier", [(1.0, 1), (0.75, 1), (0.5, 1), (0.25, 1),
                                                    (0.25, 2)])
def test_v1_keras_applications_weights_give_the_same_outputs(alpha, depth_multiplier):
    size = 128
    reference = keras.applications.MobileNet(
        weights=None, alpha=alpha, depth_multiplier=depth_multiplier, dropout=0.0,
        input_shape=(size, size, 3), classifier_activation=None,
    )
    ours = MobileNetV1(alpha=alpha, depth_multiplier=depth_multiplier, dropout_rate=0.0,
                       input_shape=(size, size, 3), classifier_activation=None)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in reference.weights]
    assert [l.name for l in ours.layers if l.weights] == [
        l.name for l in reference.layers if l.weights]
    ours.set_weights(reference.get_weights())
    x = np.random.default_rng(0).uniform(-1, 1, (2, size, size, 3)).astype("float32")
    np.testing.assert_allclose(_np(ours(x, training=False)), _np(reference(x, training=False)),
                               atol=1e-5, rtol=1e-5)
    # Inference-mode logits at initialization are tiny (the moving statistics
    # normalize nothing yet); with batch statistics they are O(1).
    expected = _np(reference(x, training=True))
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(_np(ours(x, training=True)), expected, **BATCH_STATISTICS)


def test_v1_output_shapes_at_default_and_minimum_input():
    features = MobileNetV1(include_top=False)
    assert features.output_shape == (None, 7, 7, 1024)
    assert features.count_params() == V1_PARAMS[1.0] - (1024 * 1000 + 1000)
    small = MobileNetV1(include_top=False, input_shape=(32, 32, 3), alpha=0.5)
    assert small.output_shape == (None, 1, 1, 512)
    for pooling in ("avg", "max"):
        assert MobileNetV1(include_top=False, pooling=pooling, alpha=0.25,
                           input_shape=(32, 32, 3)).output_shape == (None, 256)
    any_size = MobileNetV1(include_top=False, input_shape=(None, None, 3), alpha=0.25)
    assert any_size.output_shape == (None, None, None, 256)
    ten = MobileNetV1(classes=10, input_shape=(32, 32, 3), alpha=0.25)
    assert ten.output_shape == (None, 10)
    x = np.zeros((1, 32, 32, 3), "float32")
    assert _np(ten(x)).shape == (1, 10)


def test_v1_argument_errors():
    for bad in (0, 1.5, -0.5, "1.0", True, 0.01):
        with pytest.raises(ValueError, match=r"`alpha` must be"):
            MobileNetV1(alpha=bad)
    for bad in (0, 1.5, "2"):
        with pytest.raises(ValueError, match=r"`depth_multiplier` must be an integer in \[1"):
            MobileNetV1(depth_multiplier=bad)
    for bad in (1.0, -0.1, "0.5"):
        with pytest.raises(ValueError, match=r"`dropout_rate` must be a number in \[0, 1\)"):
            MobileNetV1(dropout_rate=bad)
    with pytest.raises(ValueError, match=r"height must be at least 32"):
        MobileNetV1(include_top=False, input_shape=(31, 64, 3))
    with pytest.raises(ValueError, match=r"`pooling` must be one of"):
        MobileNetV1(include_top=False, pooling="sum")


# ---------------------------------------------------------------- MobileNet v2


@pytest.mark.parametrize("alpha", [0.35, 1.0, 1.4])
def test_v2_parameters(alpha):
    model = MobileNetV2(alpha=alpha, input_shape=(96, 96, 3))
    assert model.count_params() == V2_PARAMS[alpha]


def test_v2_multiply_adds_and_table_2():
    model = MobileNetV2()
    assert model.count_params() == V2_PARAMS[1.0]
    assert profile(model).macs == V2_MACS_224
    assert abs(V2_MACS_224 - 300e6) / 300e6 < 0.01
    shape = {l.name: tuple(l.output.shape[1:]) for l in model.layers}
    assert shape["Conv1_relu"] == (112, 112, 32)
    assert shape["expanded_conv_project_BN"] == (112, 112, 16)
    # Table 2: the last block of each bottleneck sequence.
    for block, out in [(2, (56, 56, 24)), (5, (28, 28, 32)), (9, (14, 14, 64)),
                       (12, (14, 14, 96)), (15, (7, 7, 160)), (16, (7, 7, 320))]:
        assert shape[f"block_{block}_project_BN"] == out, block
        # Expansion t = 6 of the block's input channels.
        expand = model.get_layer(f"block_{block}_expand")
        assert expand.filters == 6 * expand.input.shape[-1]
    assert shape["out_relu"] == (7, 7, 1280)
    # Residual connections only at stride 1 between equal widths.
    adds = sorted(int(l.name.split("_")[1]) for l in model.layers
                  if isinstance(l, keras.layers.Add))
    assert adds == [2, 4, 5, 7, 8, 9, 11, 12, 14, 15]
    # Linear bottlenecks: nothing after a projection's normalization but an Add or the next block.
    names = {l.name for l in model.layers}
    assert not [n for n in names if n.endswith("project_relu")]
    relus = [l for l in model.layers if isinstance(l, keras.layers.ReLU)]
    assert all(float(l.max_value) == 6.0 for l in relus)
    assert len(relus) == 1 + 1 + 16 * 2 + 1


@pytest.mark.parametrize("alpha", [0.35, 1.0, 1.4])
def test_v2_keras_applications_weights_give_the_same_outputs(alpha):
    size = 96
    reference = keras.applications.MobileNetV2(
        weights=None, alpha=alpha, input_shape=(size, size, 3), classifier_activation=None)
    ours = MobileNetV2(alpha=alpha, input_shape=(size, size, 3), classifier_activation=None)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in reference.weights]
    assert [l.name for l in ours.layers if l.weights] == [
        l.name for l in reference.layers if l.weights]
    ours.set_weights(reference.get_weights())
    x = np.random.default_rng(1).uniform(-1, 1, (2, size, size, 3)).astype("float32")
    np.testing.assert_allclose(_np(ours(x, training=False)), _np(reference(x, training=False)),
                               atol=1e-5, rtol=1e-5)
    expected = _np(reference(x, training=True))
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(_np(ours(x, training=True)), expected, **BATCH_STATISTICS)


def test_v2_odd_input_pads_as_keras_applications():
    # correct_pad: one pixel each side for odd sizes, bottom/right only for even ones.
    model = MobileNetV2(include_top=False, input_shape=(33, 33, 3), alpha=0.35)
    assert model.get_layer("block_1_pad").padding == ((1, 1), (1, 1))  # 17x17 map
    assert model.get_layer("block_3_pad").padding == ((1, 1), (1, 1))  # 9x9
    even = MobileNetV2(include_top=False, input_shape=(32, 32, 3), alpha=0.35)
    assert even.get_layer("block_1_pad").padding == ((0, 1), (0, 1))
    assert even.output_shape == (None, 1, 1, 1280)
    assert model.output_shape == (None, 2, 2, 1280)


def test_v2_make_divisible_is_keras_applications_rule():
    from keras.src.applications.mobilenet_v2 import _make_divisible

    for value in np.arange(1, 400, 0.35):
        assert make_divisible(value, 8) == _make_divisible(value, 8)
    assert MobileNetV2(alpha=1.4, include_top=False, input_shape=(32, 32, 3)).get_layer(
        "Conv_1").filters == 1792
    assert MobileNetV2(alpha=0.5, include_top=False, input_shape=(32, 32, 3)).get_layer(
        "Conv_1").filters == 1280


def test_v2_output_shapes_and_argument_errors():
    assert MobileNetV2(include_top=False).output_shape == (None, 7, 7, 1280)
    small = MobileNetV2(classes=10, input_shape=(32, 32, 3), alpha=0.35)
    assert small.output_shape == (None, 10)
    assert _np(small(np.zeros((1, 32, 32, 3), "float32"))).shape == (1, 10)
    for bad in (0.3, 1.5, 0, "1.0", True):
        with pytest.raises(ValueError, match=r"`alpha` must be a number in \[0.35, 1.4\]"):
            MobileNetV2(alpha=bad)
    with pytest.raises(ValueError, match=r"width must be at least 32"):
        MobileNetV2(include_top=False, input_shape=(32, 31, 3))


# ---------------------------------------------------------------- weights="imagenet"


class Stop(Exception):
    pass


@pytest.fixture
def asked(monkeypatch):
    calls = []

    def fake_fetch(key, *, include_top, tag="imagenet"):
        calls.append((key, include_top))
        raise Stop

    monkeypatch.setattr(pretrained, "fetch", fake_fetch)
    return calls


@pytest.mark.parametrize("name,kwargs,key,include_top", [
    ("mobilenet_v1", {}, "mobilenet_v1_1.0_224", True),
    ("mobilenet_v1", {"alpha": 0.5, "input_shape": (160, 160, 3), "include_top": False},
     "mobilenet_v1_0.5_160", False),
    ("mobilenet_v1", {"include_top": False, "input_shape": (None, None, 3)},
     "mobilenet_v1_1.0_224", False),
    ("mobilenet_v1_0.75_192", {"include_top": False}, "mobilenet_v1_0.75_192", False),
    ("mobilenet_v2", {}, "mobilenet_v2_1.0_224", True),
    ("mobilenet_v2", {"alpha": 1.3, "input_shape": (128, 128, 3)}, "mobilenet_v2_1.3_128", True),
    ("mobilenet_v2", {"alpha": 0.5, "input_tensor": keras.Input((96, 96, 3))},
     "mobilenet_v2_0.5_96", True),
])
def test_imagenet_asks_for_the_file_of_its_alpha_and_size(asked, name, kwargs, key, include_top):
    with pytest.raises(Stop):
        kerasnets.build(name, weights="imagenet", **kwargs)
    assert asked == [(key, include_top)]


def test_every_alias_asks_for_its_own_file(asked):
    for alias, *_ in _all_aliases():
        with pytest.raises(Stop):
            kerasnets.build(alias, weights="imagenet")
    assert asked == [(alias, True) for alias, *_ in _all_aliases()]
    assert {key for key, _ in asked} == {
        k for k in pretrained.published_models() if k.startswith("mobilenet_")}


def test_imagenet_refuses_what_was_not_published(asked):
    for kwargs in ({"alpha": 0.3}, {"input_shape": (200, 200, 3)},
                   {"include_top": False, "input_shape": (128, 160, 3)}):
        with pytest.raises(ValueError, match=r"publishes MobileNet v1 weights for alpha in "
                                             r"\(0.25, 0.5, 0.75, 1.0\) at input sizes "
                                             r"\(128, 160, 192, 224\)"):
            MobileNetV1(weights="imagenet", **kwargs)
    for kwargs in ({"alpha": 0.6}, {"input_shape": (64, 64, 3)}, {"alpha": 1.3,
                                                                   "input_shape": (96, 128, 3)}):
        with pytest.raises(ValueError, match=r"publishes MobileNet v2 weights for alpha in "
                                             r"\(0.35, 0.5, 0.75, 1.0, 1.3, 1.4\) at input "
                                             r"sizes \(96, 128, 160, 192, 224\)"):
            MobileNetV2(weights="imagenet", **kwargs)
    with pytest.raises(ValueError, match=r"needs depth_multiplier=1"):
        MobileNetV1(weights="imagenet", depth_multiplier=2)
    with pytest.raises(ValueError, match=r"needs classes=1000 .*got classes=10"):
        MobileNetV2(weights="imagenet", classes=10)
    assert asked == []
