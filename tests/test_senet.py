"""Facts about the Squeeze-and-Excitation networks (Hu, Shen, Sun 2018)."""

import kerasnets.models.senet  # noqa: F401  (registers the networks before the package lists them)

import math

import keras
import numpy as np
import pytest

import kerasnets
from kerasnets import profile
from kerasnets.layers import SqueezeExcite, StochasticDepth
from kerasnets.models import inception as I
from kerasnets.models import resnet as R
from kerasnets.models import senet as S

# model.count_params() at the defaults (1000 classes): the registered counts.
PARAMS = {
    "se_resnet50": 28_141_144,
    "se_resnet101": 49_432_216,
    "se_resnet152": 66_973_272,
    "se_resnext50_32x4d": 27_628_120,
    "se_resnext101_32x4d": 49_093_272,
    "senet154": 115_336_536,
    "se_inception_v3": 25_513_404,
}
# Trainable parameters (without the normalizations' moving statistics): the
# counts of the released models as ported by Cadene's pretrainedmodels and
# timm's legacy_senet (the targets for se_resnet50,
# se_resnext50_32x4d and senet154).
TRAINABLE = {
    "se_resnet50": 28_088_024,
    "se_resnet101": 49_326_872,
    "se_resnet152": 66_821_848,
    "se_resnext50_32x4d": 27_559_896,
    "se_resnext101_32x4d": 48_955_416,
    "senet154": 115_088_984,
    "se_inception_v3": 25_478_972,
}
NAMES = sorted(PARAMS)
RESIDUAL = [n for n in NAMES if n != "se_inception_v3"]
# Channels C_s and blocks N_s of the four stages of the 50-layer networks.
STAGES_50 = ((256, 3), (512, 4), (1024, 6), (2048, 3))
# Output channels of Inception v3's eleven modules, mixed0 ... mixed10.
INCEPTION_V3_MODULE_CHANNELS = (256, 288, 288, 768, 768, 768, 768, 768, 1280, 2048, 2048)
# Multiply-adds at 224x224 (kerasnets.profile): ResNet-50 in the released
# layout (stride in the first 1x1 convolution, no biases) and SE-ResNet-50,
# the paper's "3.86 vs 3.87 GFLOPs" (section 4).
MACS_RESNET50 = 3_857_973_248
MACS_SE_RESNET50 = 3_866_007_552
MACS_SENET154 = 20_701_509_632


def se_block_params(channels, ratio=16):
    """C * C/r + C/r * C weights, C/r + C biases."""
    units = channels // ratio
    return 2 * channels * units + units + channels


def trainable(model):
    return sum(math.prod(w.shape) for w in model.trainable_weights)


@pytest.fixture(scope="module")
def built():
    """Builds each registered network once at its defaults (SENet-154 included: ~3 s)."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = kerasnets.build(name)
        return cache[name]

    return get


@pytest.fixture(scope="module")
def resnet50_base():
    """SE-ResNet-50 without its gates: ResNet-50 in the released (bias-free) layout."""
    return R.ResNet(R.imagenet_stages(R.IMAGENET_BLOCKS[50]), R.bottleneck_block,
                    use_bias=False, name="resnet50_base")


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_registered_with_the_paper_metadata():
    assert kerasnets.list_models(family="senet") == NAMES
    for name in NAMES:
        info = kerasnets.model_info(name)
        assert info["family"] == "senet"
        assert info["paper"]["authors"] == "Hu, Shen, Sun" and info["paper"]["year"] == 2018
        assert info["paper"]["title"] == "Squeeze-and-Excitation Networks"
        assert info["parameters"] == PARAMS[name]
        if name == "se_inception_v3":
            assert info["input_shape"] == (299, 299, 3)
            assert info["min_input_shape"] == (75, 75, 3)
            assert info["preprocessing"] == "tf"
        else:
            assert info["input_shape"] == (224, 224, 3)
            assert info["min_input_shape"] == (32, 32, 3)
            assert info["preprocessing"] == "torch"


@pytest.mark.parametrize("name", NAMES)
def test_parameter_counts(name, built):
    model = built(name)
    assert model.count_params() == PARAMS[name]
    assert trainable(model) == TRAINABLE[name]
    assert model.output_shape == (None, 1000)
    assert model.layers[-1].activation.__name__ == "softmax"
    # No convolution has a bias (each is followed by batch normalization).
    assert not [l.name for l in model.layers
                if isinstance(l, keras.layers.Conv2D) and l.use_bias]


def test_se_overhead_is_2_over_r_sum_of_c_squared_plus_biases(built, resnet50_base):
    """Section 4: the gates add (2/r) * sum_s N_s * C_s^2 weights (plus C/r + C biases each)."""
    weights = sum(n * 2 * c * c // 16 for c, n in STAGES_50)
    biases = sum(n * (c // 16 + c) for c, n in STAGES_50)
    assert weights == 2_514_944 and weights + biases == 2_530_992
    # The paper: ~2.5M more parameters than ResNet-50's ~25M (a 10% increase).
    assert trainable(resnet50_base) == 25_557_032  # torchvision's ResNet-50
    assert trainable(built("se_resnet50")) - trainable(resnet50_base) == weights + biases
    assert built("se_resnet50").count_params() - resnet50_base.count_params() == 2_530_992
    resnext50 = kerasnets.build("resnext50_32x4d")
    assert built("se_resnext50_32x4d").count_params() - resnext50.count_params() == 2_530_992
    # Per stage, gate by gate.
    se = profile(built("se_resnet50"))
    for s, (c, n) in enumerate(STAGES_50, start=2):
        for b in range(1, n + 1):
            assert se.params_of(f"conv{s}_block{b}_se") == se_block_params(c)


def test_se_inception_v3_overhead_per_module(built):
    extra = sum(se_block_params(c) for c in INCEPTION_V3_MODULE_CHANNELS)
    assert extra == 1_661_620
    assert PARAMS["se_inception_v3"] == 23_851_784 + extra  # inception_v3's count
    model = built("se_inception_v3")
    gates = [l for l in model.layers if isinstance(l, SqueezeExcite)]
    assert [g.name for g in gates] == [f"mixed{i}_se" for i in range(11)]
    for gate, channels in zip(gates, INCEPTION_V3_MODULE_CHANNELS):
        assert gate.input is model.get_layer(gate.name[:-3]).output  # the module's concatenation
        assert tuple(gate.output.shape)[-1] == channels
    assert model.get_layer("avg_pool").input is gates[-1].output


def test_senet154_count_by_formula():
    """The released SENet-154, counted by hand: 115,088,984 trainable parameters."""
    bn = 2  # gamma and beta
    stem = (3 * 3 * 3 * 64 + bn * 64) + (3 * 3 * 64 * 64 + bn * 64) + (3 * 3 * 64 * 128 + bn * 128)
    total, in_channels = stem, 128
    for f, blocks in zip((64, 128, 256, 512), (3, 8, 36, 3)):
        out = 4 * f
        kernel = 1 if f == 64 else 3  # the 3x3/2 downsampling shortcuts of conv3-conv5
        total += kernel * kernel * in_channels * out + bn * out
        for _ in range(blocks):
            total += in_channels * 2 * f + bn * 2 * f  # 1x1, 2f
            total += 3 * 3 * (2 * f // 64) * out + bn * out  # 3x3, 64 groups, 4f
            total += out * out + bn * out  # 1x1, 4f
            total += se_block_params(out)
            in_channels = out
    total += 2048 * 1000 + 1000
    assert total == TRAINABLE["senet154"]


def test_senet154_layout(built):
    model = built("senet154")
    shape = {l.name: tuple(l.output.shape[1:]) for l in model.layers}
    assert shape["conv1_1_conv"] == (112, 112, 64)
    assert shape["conv1_2_conv"] == (112, 112, 64)
    assert shape["conv1_3_conv"] == (112, 112, 128)
    assert shape["pool1_pool"] == (56, 56, 128)
    assert "conv1_conv" not in shape  # no 7x7 convolution
    first = model.get_layer("conv2_block1_1_conv")
    grouped = model.get_layer("conv2_block1_2_conv")
    assert first.filters == 128 and grouped.filters == 256 and grouped.groups == 64
    assert model.get_layer("conv2_block1_3_conv").filters == 256
    assert model.get_layer("conv2_block1_0_conv").kernel_size == (1, 1)
    for s, size in ((3, 28), (4, 14), (5, 7)):
        shortcut = model.get_layer(f"conv{s}_block1_0_conv")
        assert shortcut.kernel_size == (3, 3) and shortcut.strides == (2, 2)
        assert model.get_layer(f"conv{s}_block1_2_conv").strides == (2, 2)
        assert shape[f"conv{s}_block1_out"][:2] == (size, size)
    assert shape["conv5_block3_out"] == (7, 7, 2048)
    assert len([l for l in model.layers if isinstance(l, SqueezeExcite)]) == 3 + 8 + 36 + 3
    assert model.get_layer("dropout").rate == pytest.approx(0.2)
    assert model.get_layer("predictions").input is model.get_layer("dropout").output
    features = kerasnets.build("senet154", include_top=False, pooling="avg",
                               input_shape=(32, 32, 3))
    assert features.output_shape == (None, 2048)
    assert "dropout" not in {l.name for l in features.layers}


def test_se_gates_on_the_residual_branch_and_layer_names(built, resnet50_base):
    model = built("se_resnet50")
    gates = [l for l in model.layers if isinstance(l, SqueezeExcite)]
    assert len(gates) == 16 and gates[0].name == "conv2_block1_se"
    assert all(g.ratio == 16 for g in gates)
    assert model.get_layer("conv2_block1_se").input is model.get_layer("conv2_block1_3_bn").output
    assert model.get_layer("conv2_block1_add").input[1] is gates[0].output
    # keras.applications' ResNet names, plus the gates.
    ours = [l.name for l in model.layers if l.weights and not isinstance(l, SqueezeExcite)]
    theirs = [l.name for l in resnet50_base.layers if l.weights]
    assert len(ours) == len(theirs) and set(ours) == set(theirs)
    # SE-ResNet downsamples in the first 1x1 convolution, SE-ResNeXt in the grouped 3x3.
    assert model.get_layer("conv3_block1_1_conv").strides == (2, 2)
    resnext = built("se_resnext50_32x4d")
    assert resnext.get_layer("conv3_block1_1_conv").strides == (1, 1)
    assert resnext.get_layer("conv3_block1_2_conv").strides == (2, 2)
    assert resnext.get_layer("conv3_block1_2_conv").groups == 32


@pytest.mark.parametrize("name", NAMES)
def test_output_shapes_at_default_and_min_input(name, built, monkeypatch):
    # Without `weights` the lookup of published weights is never made.
    from kerasnets.models import pretrained

    def refuse(*args, **kwargs):
        raise AssertionError("resolve_weights called")

    monkeypatch.setattr(pretrained, "resolve_weights", refuse)
    spec = kerasnets.get_spec(name)
    last = "mixed10_se" if name == "se_inception_v3" else "conv5_block3_out"
    grid = 8 if name == "se_inception_v3" else 7
    model = built(name)
    assert model.input_shape == (None, *spec.input_shape)
    assert tuple(model.get_layer(last).output.shape[1:]) == (grid, grid, 2048)
    small = kerasnets.build(name, include_top=False, input_shape=spec.min_input_shape)
    assert small.output_shape == (None, 1, 1, 2048)
    with pytest.raises(ValueError, match="must be at least"):
        kerasnets.build(name, include_top=False,
                        input_shape=(spec.min_input_shape[0] - 1, *spec.min_input_shape[1:]))


def test_se_costs_few_multiply_adds(built, resnet50_base):
    """Section 4: SE-ResNet-50 needs ~3.87 GFLOPs, ResNet-50 ~3.86 (a 0.26% increase)."""
    se, base = profile(built("se_resnet50")).macs, profile(resnet50_base).macs
    assert (se, base) == (MACS_SE_RESNET50, MACS_RESNET50)
    assert (round(se / 1e9, 2), round(base / 1e9, 2)) == (3.87, 3.86)
    assert 0 < (se - base) / base < 0.0026
    # The two FC layers of each gate and its rescale (H * W * C products).
    gates = sum(n * (2 * c * (c // 16) + size * size * c)
                for (c, n), size in zip(STAGES_50, (56, 28, 14, 7)))
    assert se - base == gates == 8_034_304
    assert profile(built("senet154")).macs == MACS_SENET154  # ~20.7 G


def test_se_ratio_is_validated_and_sets_the_gates():
    cheap = dict(include_top=False, input_shape=(32, 32, 3))
    for name in ("se_resnet50", "se_resnext50_32x4d", "senet154"):
        for bad in (0, -4, None, "16", True):
            with pytest.raises(ValueError, match=r"`se_ratio` must be a number in \(0, inf\)"):
                kerasnets.build(name, se_ratio=bad, **cheap)
    for bad in (0, None):
        with pytest.raises(ValueError, match=r"`se_ratio` must be a number in \(0, inf\)"):
            kerasnets.build("se_inception_v3", se_ratio=bad, include_top=False,
                            input_shape=(75, 75, 3))
    eight = kerasnets.build("se_resnet50", se_ratio=8, **cheap)
    sixteen = PARAMS["se_resnet50"] - (2048 * 1000 + 1000)
    extra = sum(n * (se_block_params(c, 8) - se_block_params(c)) for c, n in STAGES_50)
    assert eight.count_params() == sixteen + extra
    assert eight.get_layer("conv5_block1_se").reduce.units == 2048 // 8


def test_bad_arguments_name_the_argument():
    cheap = dict(include_top=False, input_shape=(32, 32, 3))
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"`drop_path_rate` must be a number in \[0, 1\)"):
            kerasnets.build("se_resnet50", drop_path_rate=bad, **cheap)
        with pytest.raises(ValueError, match=r"`dropout_rate` must be a number in \[0, 1\)"):
            kerasnets.build("senet154", dropout_rate=bad)
    with pytest.raises(ValueError, match=r"`cardinality` must be an integer in \[1"):
        kerasnets.build("se_resnext50_32x4d", cardinality=0, **cheap)
    with pytest.raises(ValueError, match=r"`cardinality` must be an integer in \[1"):
        kerasnets.build("senet154", cardinality=2.5, **cheap)
    with pytest.raises(ValueError, match=r"`depth` must be one of \(50, 101, 152\)"):
        S.SEResNet(34, **cheap)
    # The dropout head checks the classifier's arguments as include_top=True does.
    with pytest.raises(ValueError, match=r"`classes` must be an integer"):
        kerasnets.build("senet154", classes=0)
    # SE-Inception-v3 has no published weights; "imagenet" is the released SENets' "in1k"
    # (tests/test_weights_senet.py), whose structure a conflicting argument contradicts.
    with pytest.raises(ValueError, match=r"`weights` must be None .*got 'imagenet'"):
        kerasnets.build("se_inception_v3", weights="imagenet")
    for name in ("se_resnet50", "senet154"):
        with pytest.raises(ValueError, match=r"weights='imagenet' .* needs ceil_mode=True"):
            kerasnets.build(name, weights="imagenet", ceil_mode=False)


def test_drop_path_rate_on_an_se_network():
    """Stochastic depth through resnet.py: linear decay over the 16 blocks, after each gate."""
    kwargs = dict(input_shape=(32, 32, 3), classes=10)
    model = kerasnets.build("se_resnext50_32x4d", drop_path_rate=0.3, **kwargs)
    drops = [l for l in model.layers if isinstance(l, StochasticDepth)]
    assert len(drops) == 16
    np.testing.assert_allclose([d.rate for d in drops], [0.3 * l / 16 for l in range(1, 17)])
    assert drops[0].input is model.get_layer("conv2_block1_se").output
    assert model.get_layer("conv2_block1_add").input[1] is drops[0].output
    plain = kerasnets.build("se_resnext50_32x4d", **kwargs)
    assert plain.count_params() == model.count_params()
    for layer in plain.layers:  # by name: the extra layers change the topological order
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    x = np.random.default_rng(1).normal(size=(4, 32, 32, 3)).astype("float32")
    first = _np(model(x, training=False))
    np.testing.assert_array_equal(first, _np(model(x, training=False)))
    np.testing.assert_allclose(first, _np(plain(x, training=False)), rtol=1e-6, atol=1e-6)
    assert not np.allclose(_np(model(x, training=True)), _np(model(x, training=True)))


def _small_senet154(**kwargs):
    """SENet-154's stem, blocks and head on two small stages (8 groups)."""
    stages = [R.Stage(32, 1, 1), R.Stage(64, 2, 2)]
    return S.SENet(stages, S.senet154_bottleneck_block, stem=S.deep_stem,
                   block_kwargs={"cardinality": 8}, dropout_rate=0.2,
                   **{"classes": 5, "input_shape": (32, 32, 3), "name": "senet_small", **kwargs})


def test_keras_file_round_trip_safe_mode_and_weights_file(tmp_path):
    model = _small_senet154(drop_path_rate=0.2)
    assert not [l for l in model.layers if isinstance(l, keras.layers.Lambda)]
    assert len([l for l in model.layers if isinstance(l, StochasticDepth)]) == 3
    path = tmp_path / "senet_small.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.name == "senet_small"
    assert isinstance(loaded.get_layer("conv3_block2_se"), SqueezeExcite)
    x = np.random.default_rng(3).normal(size=(2, 32, 32, 3)).astype("float32")
    expected = _np(model(x))
    np.testing.assert_allclose(_np(loaded(x)), expected, atol=1e-6)
    # `weights=` loads into the dropout head's model too, and `input_tensor` is its input.
    weights = tmp_path / "senet_small.weights.h5"
    model.save_weights(weights)
    tensor = keras.Input(shape=(32, 32, 3))
    again = _small_senet154(drop_path_rate=0.2, weights=str(weights), input_tensor=tensor)
    assert again.inputs[0] is tensor
    np.testing.assert_allclose(_np(again(x)), expected, atol=1e-6)


def test_se_inception_v3_keeps_the_auxiliary_classifier():
    model = kerasnets.build("se_inception_v3", aux_logits=True)
    assert model.count_params() == PARAMS["se_inception_v3"] + 3_327_592
    assert model.get_layer("aux_pool").input is model.get_layer("mixed7_se").output
    assert [tuple(o.shape) for o in model.outputs] == [(None, 1000), (None, 1000)]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_full_size_forward_pass(name, built):
    model = built(name)
    h, w, c = kerasnets.get_spec(name).input_shape
    x = np.random.default_rng(0).normal(size=(2, h, w, c)).astype("float32")
    y = _np(model(x, training=False))
    assert y.shape == (2, 1000)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
