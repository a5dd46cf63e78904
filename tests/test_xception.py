"""Facts about Xception (Chollet 2017) and its match with keras.applications.Xception."""

import kerasnets.models.xception  # noqa: F401  (registers `xception` before the package lists it)

import keras
import numpy as np
import pytest

import kerasnets
from kerasnets import profile
from kerasnets.models.xception import Xception
from tolerances import BATCH_STATISTICS

PARAMS = 22_910_480
# One middle flow module: three 728 -> 728 separable 3x3 convolutions
# (depthwise 3*3*728 + pointwise 728*728, no bias), each with batch
# normalization (gamma, beta, moving mean and variance: 4*728).
MIDDLE_MODULE_PARAMS = 3 * (3 * 3 * 728 + 728 * 728 + 4 * 728)
# Multiply-adds of convolutions and the classifier at 299x299 (kerasnets.profile);
# the figure usually quoted for Xception is 8.4 G.
MACS_299 = 8_357_403_496


@pytest.fixture(scope="module")
def model():
    return kerasnets.build("xception")


@pytest.fixture(scope="module")
def reference():
    return keras.applications.Xception(weights=None, classifier_activation=None)


def test_registered_with_the_paper_metadata():
    info = kerasnets.model_info("xception")
    assert info["family"] == "xception"
    assert info["paper"]["authors"] == "Chollet" and info["paper"]["year"] == 2017
    assert "Depthwise Separable Convolutions" in info["paper"]["title"]
    assert info["input_shape"] == (299, 299, 3)
    assert info["min_input_shape"] == (71, 71, 3)
    assert info["parameters"] == PARAMS
    assert info["preprocessing"] == "tf"
    assert kerasnets.list_models(family="xception") == ["xception"]


def test_parameter_count(model):
    assert model.count_params() == PARAMS
    assert model.input_shape == (None, 299, 299, 3)
    assert model.output_shape == (None, 1000)
    assert model.layers[-1].activation.__name__ == "softmax"


def test_keras_applications_weights_load_and_give_the_same_outputs(reference):
    ours = kerasnets.build("xception", classifier_activation=None)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in reference.weights]
    ours.set_weights(reference.get_weights())
    x = np.random.default_rng(0).uniform(-1, 1, (2, 299, 299, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(reference(x, training=False))
    got = keras.ops.convert_to_numpy(ours(x, training=False))
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
    # At initialization the inference-mode logits are ~1e-5 (the moving
    # statistics do not normalize anything yet), which 1e-5 cannot tell apart:
    # with batch statistics every normalization rescales, and the logits are O(1).
    expected = keras.ops.convert_to_numpy(reference(x, training=True))
    got = keras.ops.convert_to_numpy(ours(x, training=True))
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(got, expected, **BATCH_STATISTICS)


def test_layer_names_follow_keras_applications(model, reference):
    ours = [l.name for l in model.layers if l.weights]
    theirs = [l.name for l in reference.layers if l.weights]
    assert len(ours) == len(theirs)
    # keras.applications leaves the four shortcut convolutions and their
    # normalization unnamed ("conv2d_3" style, counter-dependent); ours name them.
    shortcut = {
        f"block{b}_residual_conv{s}" for b in (2, 3, 4, 13) for s in ("", "_bn")
    }
    assert {n for n in ours if n not in theirs} == shortcut
    for mine, keras_name in zip(ours, theirs):
        if mine not in shortcut:
            assert mine == keras_name
    names = {l.name for l in model.layers}
    assert {"block1_conv1", "block2_sepconv1", "block12_sepconv3", "block13_pool",
            "block14_sepconv2_act", "avg_pool", "predictions"} <= names


def test_flows_of_figure_5(model):
    shape = {l.name: tuple(l.output.shape[1:]) for l in model.layers}
    assert shape["block1_conv1"] == (149, 149, 32)
    assert shape["block1_conv2"] == (147, 147, 64)
    assert shape["block2_add"] == (74, 74, 128)
    assert shape["block3_add"] == (37, 37, 256)
    assert shape["block4_add"] == (19, 19, 728)  # entry flow output
    for block in range(5, 13):  # the middle flow, 8 times
        assert shape[f"block{block}_add"] == (19, 19, 728)
        assert all(not model.get_layer(f"block{block}_sepconv{i}").use_bias for i in (1, 2, 3))
    assert shape["block13_add"] == (10, 10, 1024)
    assert shape["block14_sepconv2_act"] == (10, 10, 2048)
    separable = [l for l in model.layers if isinstance(l, keras.layers.SeparableConv2D)]
    plain = [l for l in model.layers if type(l) is keras.layers.Conv2D]
    # 36 convolutional layers in the feature extractor (section 3), plus 4 shortcuts.
    assert len(separable) + len(plain) == 36 + 4
    assert len(separable) == 34


def test_include_top_false_and_pooling():
    features = kerasnets.build("xception", include_top=False, input_shape=(71, 71, 3))
    assert features.output_shape == (None, 3, 3, 2048)
    assert features.count_params() == PARAMS - (2048 * 1000 + 1000)
    for pooling in ("avg", "max"):
        pooled = kerasnets.build(
            "xception", include_top=False, input_shape=(71, 71, 3), pooling=pooling,
            middle_flow_repeats=1,
        )
        assert pooled.output_shape == (None, 2048)
    any_size = kerasnets.build("xception", include_top=False, input_shape=(None, None, 3),
                               middle_flow_repeats=1)
    assert any_size.output_shape == (None, None, None, 2048)
    ten = kerasnets.build("xception", classes=10, input_shape=(71, 71, 3),
                          middle_flow_repeats=1)
    assert ten.output_shape == (None, 10)


def test_input_too_small_names_the_minimum():
    with pytest.raises(ValueError, match=r"height must be at least 71"):
        kerasnets.build("xception", include_top=False, input_shape=(70, 70, 3))
    with pytest.raises(ValueError, match=r"width must be at least 71"):
        kerasnets.build("xception", include_top=False, input_shape=(71, 70, 3))


def test_keras_application_argument_errors():
    with pytest.raises(ValueError, match=r"`pooling` must be one of"):
        kerasnets.build("xception", include_top=False, pooling="sum")
    with pytest.raises(ValueError, match=r"`weights` must be None .*no file at 'missing.h5'"):
        kerasnets.build("xception", weights="missing.h5")
    # weights="imagenet" loads keras.applications' file: tests/test_pretrained.py.
    with pytest.raises(ValueError, match=r"`classes` must be an integer"):
        kerasnets.build("xception", classes=0)


def test_middle_flow_repeats():
    assert MIDDLE_MODULE_PARAMS == 1_618_344
    four = Xception(middle_flow_repeats=4)
    assert four.count_params() == PARAMS - 4 * MIDDLE_MODULE_PARAMS == 16_437_104
    # Blocks are numbered by position: the exit flow follows the last middle module.
    names = {l.name for l in four.layers}
    assert "block8_sepconv3" in names and "block9_pool" in names and "block10_sepconv2" in names
    assert "block11_sepconv1" not in names
    for bad in (0, 2.5, -1, "8", True):
        with pytest.raises(ValueError, match=r"`middle_flow_repeats` must be an integer in \[1"):
            Xception(middle_flow_repeats=bad, include_top=False, input_shape=(71, 71, 3))


def test_multiply_adds_at_299(model):
    result = profile(model)
    assert result.macs == MACS_299
    assert abs(result.macs - 8.4e9) / 8.4e9 < 0.02
    assert result.params == PARAMS


def test_keras_file_round_trip_safe_mode(tmp_path):
    small = Xception(include_top=True, classes=5, input_shape=(71, 71, 3),
                     middle_flow_repeats=1, name="xception_small")
    assert not [l for l in small.layers if isinstance(l, keras.layers.Lambda)]
    path = tmp_path / "xception.keras"
    small.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 71, 71, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(small(x)),
        atol=1e-6,
    )
    assert loaded.name == "xception_small"
