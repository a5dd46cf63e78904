"""Facts about ShuffleNet (Zhang, Zhou, Lin, Sun 2018): Table 1's network, Table 2's complexities."""

import kerasnets.models.shufflenet  # noqa: F401  (registers ShuffleNet before the package lists it)

import json
import os

import keras
import numpy as np
import pytest

import kerasnets
from conftest import run_with_backend
from kerasnets import profile
from kerasnets.layers import ChannelShuffle
from kerasnets.models.shufflenet import (
    GROUPS,
    SCALES,
    STAGE_CHANNELS,
    ShuffleNetV1,
    first_conv_channels,
    stage_channels,
)

# model.count_params() with 1000 classes, by (groups, scale).
PARAMS = {
    (1, 1.0): 1_546_624, (2, 1.0): 1_754_248, (3, 1.0): 1_890_208, (4, 1.0): 1_996_088,
    (8, 1.0): 2_473_936,
    (1, 0.5): 541_828, (2, 0.5): 654_560, (3, 0.5): 730_564, (4, 0.5): 792_544,
    (8, 0.5): 1_031_032,
    (1, 0.25): 213_418, (2, 0.25): 272_934, (3, 0.25): 312_022, (4, 0.25): 346_672,
    (8, 0.25): 464_296,
    (1, 1.5): 3_015_388, (2, 1.5): 3_304_820, (3, 1.5): 3_479_932, (4, 1.5): 3_618_492,
    (8, 1.5): 4_331_152,
    (1, 2.0): 4_948_120, (2, 2.0): 5_298_696, (3, 2.0): 5_499_736, (4, 2.0): 5_649_016,
    (8, 2.0): 6_600_568,
}
# kerasnets.profile at 224x224 (convolutions and the classifier).
MACS = {
    (1, 1.0): 143_078_976, (2, 1.0): 140_836_512, (3, 1.0): 137_460_672,
    (4, 1.0): 134_339_776, (8, 1.0): 138_365_952,
    (4, 0.5): 37_943_936, (8, 0.25): 12_426_240,
}
# Table 2 (MFLOPs, i.e. multiply-adds): ShuffleNet 1x for g = 1, 2, 3, 4, 8,
# and the 0.5x (g = 4) and 0.25x (g = 8) networks of Table 2.
PAPER_MACS = {
    (1, 1.0): 143e6, (2, 1.0): 140e6, (3, 1.0): 137e6, (4, 1.0): 133e6, (8, 1.0): 137e6,
    (4, 0.5): 38e6, (8, 0.25): 13e6,
}


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def g3():
    return ShuffleNetV1()


# ---------------------------------------------------------------- registry


def test_registered_with_the_paper_metadata():
    info = kerasnets.model_info("shufflenet_v1")
    assert info["family"] == "shufflenet"
    assert info["paper"]["authors"].startswith("Zhang") and info["paper"]["year"] == 2018
    assert "An Extremely Efficient Convolutional Neural Network" in info["paper"]["title"]
    assert info["input_shape"] == (224, 224, 3)
    assert info["min_input_shape"] == (32, 32, 3)
    assert info["parameters"] == PARAMS[(3, 1.0)]
    assert info["preprocessing"] == "torch"


def test_aliases_resolve_to_their_groups_and_scale():
    for groups in GROUPS:
        for scale in SCALES:
            alias = f"shufflenet_v1_g{groups}_{scale}"
            spec = kerasnets.get_spec(alias)
            assert spec.name == alias
            assert spec.defaults["groups"] == groups and spec.defaults["scale"] == scale
            assert spec.input_shape == (224, 224, 3) and spec.preprocessing == "torch"
            assert spec.params == PARAMS[(groups, scale)]
    assert kerasnets.list_models("shufflenet*") == ["shufflenet_v1"]
    assert len(kerasnets.list_models("shufflenet*", include_aliases=True)) == 1 + 25
    assert kerasnets.get_spec("shufflenet_v1_g3_1.0").defaults["scale"] == 1.0
    model = kerasnets.build("shufflenet_v1_g8_0.25")
    assert model.name == "shufflenet_v1_g8_0.25"
    assert model.count_params() == PARAMS[(8, 0.25)]
    assert model.get_layer("stage4_unit1_gconv2").groups == 8


# ---------------------------------------------------------------- counts


def test_default_is_1x_g3(g3):
    assert g3.count_params() == PARAMS[(3, 1.0)]
    assert profile(g3).macs == MACS[(3, 1.0)]
    assert g3.output_shape == (None, 1000)
    assert g3.layers[-1].activation.__name__ == "softmax"


@pytest.mark.parametrize("groups,scale", [(1, 1.0), (2, 1.0), (4, 1.0), (8, 1.0), (4, 0.5),
                                          (8, 0.25)])
def test_parameters_and_multiply_adds_of_table_2(groups, scale):
    model = ShuffleNetV1(groups=groups, scale=scale)
    assert model.count_params() == PARAMS[(groups, scale)]
    macs = profile(model).macs
    assert macs == MACS[(groups, scale)]
    tolerance = 0.03 if scale == 1.0 else 0.05
    paper = PAPER_MACS[(groups, scale)]
    assert abs(macs - paper) / paper < tolerance


@pytest.mark.slow
@pytest.mark.parametrize("groups,scale", sorted(PARAMS))
def test_parameter_count_of_every_variant(groups, scale):
    model = ShuffleNetV1(groups=groups, scale=scale, input_shape=(32, 32, 3))
    assert model.count_params() == PARAMS[(groups, scale)]


def test_channels_per_scale_are_divisible_by_the_groups():
    for groups in GROUPS:
        assert stage_channels(groups, 1.0) == STAGE_CHANNELS[groups]  # Table 1 unchanged
        assert first_conv_channels(groups, 1.0) == 24
        for scale in SCALES:
            first = first_conv_channels(groups, scale)
            assert first % groups == 0 and first >= 24 * scale
            for channels, table in zip(stage_channels(groups, scale), STAGE_CHANNELS[groups]):
                # The bottleneck (1/4) and every unit's branch are multiples of g.
                assert channels % (4 * groups) == 0
                assert abs(channels - scale * table) <= 2 * groups
    assert stage_channels(3, 0.5) == (120, 240, 480)
    assert stage_channels(4, 0.5) == (144, 272, 544)  # 136 -> 144: the halves go up
    assert stage_channels(8, 0.25) == (96, 192, 384)
    assert [first_conv_channels(8, s) for s in (0.25, 0.5, 2.0)] == [8, 16, 48]


# ---------------------------------------------------------------- structure


def test_table_1_output_sizes_and_units(g3):
    shape = {l.name: tuple(l.output.shape[1:]) for l in g3.layers}
    assert shape["conv1_relu"] == (112, 112, 24)
    assert shape["pool1"] == (56, 56, 24)
    for stage_id, units, size, channels in [(2, 4, 28, 240), (3, 8, 14, 480), (4, 4, 7, 960)]:
        # A stride-2 unit ends in its concatenation, a stride-1 unit in its ReLU.
        assert shape[f"stage{stage_id}_unit1_concat"] == (size, size, channels)
        for unit in range(2, units + 1):
            assert shape[f"stage{stage_id}_unit{unit}_relu"] == (size, size, channels)
        assert f"stage{stage_id}_unit{units + 1}_relu" not in shape
        assert shape[f"stage{stage_id}_unit1_gconv2"] == (
            size, size, channels - (24 if stage_id == 2 else channels // 2))
    assert shape["global_average_pooling"] == (960,)


def test_shufflenet_unit_of_figure_2(g3):
    layer = g3.get_layer
    # Stage 2's first pointwise convolution is not grouped, and needs no shuffle.
    assert layer("stage2_unit1_gconv1").groups == 1
    assert "stage2_unit1_shuffle" not in {l.name for l in g3.layers}
    for name in ("stage2_unit2", "stage3_unit1", "stage4_unit4"):
        assert layer(f"{name}_gconv1").groups == 3 and layer(f"{name}_gconv2").groups == 3
        assert isinstance(layer(f"{name}_shuffle"), ChannelShuffle)
        assert layer(f"{name}_shuffle").groups == 3
        # Bottleneck: 1/4 of the unit's output channels.
        output = layer(f"{name}_concat" if name.endswith("unit1") else f"{name}_relu").output
        assert layer(f"{name}_gconv1").filters == output.shape[-1] // 4
        # GConv -> shuffle -> DWConv, and BN without ReLU after the depthwise conv.
        assert layer(f"{name}_shuffle").input is layer(f"{name}_gconv1_relu").output
        assert layer(f"{name}_gconv2").input is layer(f"{name}_dwconv_bn").output
    assert not [l for l in g3.layers if l.name.endswith("dwconv_relu")]
    for stage_id in (2, 3, 4):
        pool = layer(f"stage{stage_id}_unit1_shortcut_pool")
        assert isinstance(pool, keras.layers.AveragePooling2D)
        assert (pool.pool_size, pool.strides, pool.padding) == ((3, 3), (2, 2), "valid")
        assert layer(f"stage{stage_id}_unit1_shortcut_pad").padding == ((1, 1), (1, 1))
        assert layer(f"stage{stage_id}_unit1_dwconv").strides == (2, 2)
        assert isinstance(layer(f"stage{stage_id}_unit1_concat"), keras.layers.Concatenate)
        assert isinstance(layer(f"stage{stage_id}_unit2_add"), keras.layers.Add)
    # The first convolution, then 16 units of 2 pointwise and 1 depthwise convolutions.
    convs = [l for l in g3.layers if isinstance(l, keras.layers.Conv2D)]
    depthwise = [l for l in g3.layers if isinstance(l, keras.layers.DepthwiseConv2D)]
    assert len(convs) == 1 + 16 * 2 and len(depthwise) == 16
    assert all(not l.use_bias for l in convs + depthwise)


def test_stride_2_unit_equals_the_papers_relu_after_concatenation():
    # The ReLU sits on the branch, before the concatenation; the shortcut
    # pools a ReLU's output. ReLU(concat) of Figure 2(c) would change nothing:
    # every stride-2 unit's output is already >= 0, shortcut channels included.
    model = ShuffleNetV1(groups=3, scale=0.5, include_top=False, input_shape=(64, 64, 3))
    names = [f"stage{s}_unit1_concat" for s in (2, 3, 4)]
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    x = np.random.default_rng(1).uniform(-3, 3, (2, 64, 64, 3)).astype("float32")
    for name, out in zip(names, probe(x)):
        out = _np(out)
        assert out.min() >= 0.0 and (out > 0).mean() > 0.2, name
    assert not [l for l in model.layers if l.name.endswith("unit1_relu")]


@pytest.mark.parametrize("size", [(66, 50), (65, 33)])
def test_shortcut_average_pooling_counts_the_zero_padding(size):
    model = ShuffleNetV1(groups=2, scale=0.25, include_top=False, input_shape=(*size, 3))
    probe = keras.Model(model.input, [model.get_layer("pool1").output,
                                      model.get_layer("stage2_unit1_shortcut_pool").output])
    x = np.random.default_rng(0).uniform(-1, 1, (2, *size, 3)).astype("float32")
    pooled_in, pooled = (_np(t) for t in probe(x))
    padded = np.pad(pooled_in, ((0, 0), (1, 1), (1, 1), (0, 0)))
    h, w = pooled.shape[1:3]
    assert (h, w) == ((pooled_in.shape[1] + 1) // 2, (pooled_in.shape[2] + 1) // 2)
    expected = np.stack([
        np.stack([padded[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3].sum(axis=(1, 2)) / 9
                  for j in range(w)], axis=1)
        for i in range(h)], axis=1)
    np.testing.assert_allclose(pooled, expected, atol=1e-6)
    # The corner windows hold padded zeros, so this differs from an average of valid pixels.
    assert np.abs(pooled[:, 0, 0] - padded[:, 1:3, 1:3].mean(axis=(1, 2))).max() > 1e-3


BACKEND_SCRIPT = """
import json, sys
import numpy as np
import keras
from kerasnets.models.shufflenet import ShuffleNetV1
folder, size = sys.argv[1], json.loads(sys.argv[2])
model = ShuffleNetV1(groups=3, scale=0.5, classes=10, input_shape=(*size, 3),
                     classifier_activation=None)
model.load_weights(f"{folder}/weights.weights.h5")
probe = keras.Model(model.input, [model.output,
                                  model.get_layer("stage3_unit1_shortcut_pool").output])
x = np.load(f"{folder}/x.npy")
for mode in ("inference", "training"):
    outs = probe(x, training=mode == "training")
    for i, out in enumerate(outs):
        np.save(f"{folder}/{keras.backend.backend()}_{mode}_{i}.npy",
                keras.ops.convert_to_numpy(out))
"""


@pytest.mark.parametrize("backend", ["torch", pytest.param("jax", marks=pytest.mark.slow)])
def test_backends_agree_with_tensorflow_on_uneven_sizes(tmp_path, backend):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("compares the other backends with tensorflow")
    size = (66, 50)  # odd maps along the way: 33x25, 17x13, 9x7
    model = ShuffleNetV1(groups=3, scale=0.5, classes=10, input_shape=(*size, 3),
                         classifier_activation=None)
    # Moving statistics away from 0 and 1, so that inference mode normalizes too.
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            mean, var = layer.moving_mean, layer.moving_variance
            mean.assign(rng.normal(0, 0.1, mean.shape).astype("float32"))
            var.assign(rng.uniform(0.5, 1.5, var.shape).astype("float32"))
    model.save_weights(tmp_path / "weights.weights.h5")
    x = rng.uniform(-1, 1, (2, *size, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    probe = keras.Model(model.input, [model.output,
                                      model.get_layer("stage3_unit1_shortcut_pool").output])
    script = tmp_path / "check.py"
    script.write_text(BACKEND_SCRIPT)
    run_with_backend(backend, [str(script), str(tmp_path), json.dumps(list(size))], timeout=300,
                     fast_init=True)
    for mode in ("inference", "training"):
        expected = [_np(t) for t in probe(x, training=mode == "training")]
        for i, want in enumerate(expected):
            got = np.load(tmp_path / f"{backend}_{mode}_{i}.npy")
            assert got.shape == want.shape
            assert np.abs(want).max() > 0.1
            np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_tflite_converts_with_builtin_ops_and_agrees(tmp_path):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("TFLite export needs the tensorflow backend")
    from kerasnets.export.tflite import TFLiteModel, convert_tflite

    model = ShuffleNetV1(groups=8, scale=0.25, classes=10, input_shape=(66, 50, 3))
    content = convert_tflite(model)  # builtin ops only, or FlexOpsError
    x = np.random.default_rng(2).uniform(-1, 1, (2, 66, 50, 3)).astype("float32")
    np.testing.assert_allclose(TFLiteModel(content).predict(x), _np(model(x)), atol=1e-5)


# ---------------------------------------------------------------- builder arguments


def test_output_shapes_at_default_and_minimum_input():
    features = ShuffleNetV1(groups=8, include_top=False)
    assert features.output_shape == (None, 7, 7, 1536)
    assert features.count_params() == PARAMS[(8, 1.0)] - (1536 * 1000 + 1000)
    small = ShuffleNetV1(groups=1, scale=0.25, include_top=False, input_shape=(32, 32, 3))
    assert small.output_shape == (None, 1, 1, 144)
    for pooling in ("avg", "max"):
        pooled = ShuffleNetV1(groups=4, scale=0.25, include_top=False, pooling=pooling,
                              input_shape=(32, 32, 3))
        assert pooled.output_shape == (None, 272)
    any_size = ShuffleNetV1(scale=0.25, include_top=False, input_shape=(None, None, 3))
    assert any_size.output_shape == (None, None, None, 240)
    ten = ShuffleNetV1(scale=0.25, classes=10, input_shape=(32, 32, 3))
    assert ten.output_shape == (None, 10)
    assert _np(ten(np.zeros((1, 32, 32, 3), "float32"))).shape == (1, 10)


def test_argument_errors():
    for bad in (5, 0, 16, True, "3", 3.5):
        with pytest.raises(ValueError, match=r"`groups` must be one of \(1, 2, 3, 4, 8\)"):
            ShuffleNetV1(groups=bad)
    for bad in (0.75, 3, "1.0", True, None):
        with pytest.raises(ValueError,
                           match=r"`scale` must be one of \(0.25, 0.5, 1.0, 1.5, 2.0\)"):
            ShuffleNetV1(scale=bad)
    # "imagenet" is megvii's checkpoint, which the builder called directly does not twin.
    with pytest.raises(ValueError, match=r"`weights='imagenet'` \(the 'megvii' checkpoint\) "
                                         r"needs shuffle='transposed'"):
        ShuffleNetV1(weights="imagenet")
    with pytest.raises(ValueError, match=r"`weights='imagenet'` \(the 'megvii' checkpoint\) "
                                         r"needs scale=1.0"):
        ShuffleNetV1(weights="imagenet", scale=0.5, shuffle="transposed", bn_epsilon=1e-5)
    with pytest.raises(ValueError, match=r"height must be at least 32"):
        ShuffleNetV1(include_top=False, input_shape=(31, 32, 3))
    with pytest.raises(ValueError, match=r"`classes` must be an integer"):
        ShuffleNetV1(classes=0)


def test_keras_file_round_trip_safe_mode(tmp_path):
    model = ShuffleNetV1(groups=4, scale=0.25, classes=5, input_shape=(32, 32, 3),
                         name="shufflenet_small")
    assert not [l for l in model.layers if isinstance(l, keras.layers.Lambda)]
    path = tmp_path / "shufflenet.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(_np(loaded(x)), _np(model(x)), atol=1e-6)
    assert os.path.getsize(path) > 0 and loaded.name == "shufflenet_small"
