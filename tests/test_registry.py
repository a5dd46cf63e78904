"""The registry and the contract every builder keeps: names, metadata, parameter counts,
the keras.applications arguments, weights files, `.keras` round trips."""

import warnings

import keras
import numpy as np
import pytest

import kerasnets
from model_configs import HEAVY, configs, default_run_models


def test_list_models_globs_and_families():
    vggs = kerasnets.list_models("vgg*")
    assert vggs == ["vgg11", "vgg11_lrn", "vgg13", "vgg16", "vgg16_conv1", "vgg19"]
    assert kerasnets.list_models(family="alexnet") == ["alexnet", "alexnet_one_tower"]
    assert kerasnets.list_models("nothing*") == []
    assert kerasnets.list_models("lenet*") == ["lenet5", "lenet5_paper"]


def test_list_models_refuses_a_pattern_or_family_that_is_not_a_string():
    with pytest.raises(TypeError, match=r"`pattern` must be a string or None; got int 5"):
        kerasnets.list_models(pattern=5)
    with pytest.raises(TypeError, match=r"`family` must be a string or None; got list"):
        kerasnets.list_models(family=["vgg"])


@pytest.mark.parametrize("value, shown", [("x", "str 'x'"),
                                          (np.zeros((1, 32, 32, 1)), "ndarray array")])
def test_build_refuses_an_input_tensor_that_is_not_a_keras_tensor(value, shown):
    with pytest.raises(ValueError, match=r"`input_tensor` must be None or a Keras tensor "
                                         r"\(`keras.Input\(...\)` or a layer's output\); got "
                                         + shown):
        kerasnets.build("lenet5", input_tensor=value)


def test_unknown_name_names_the_closest():
    with pytest.raises(ValueError, match=r"Unknown model name 'vgg17'.*vgg16"):
        kerasnets.build("vgg17")
    with pytest.raises(ValueError, match=r"alexnet"):
        kerasnets.build("alexnt")


def test_model_info_has_the_metadata():
    info = kerasnets.model_info("alexnet")
    assert info["family"] == "alexnet"
    assert info["paper"]["year"] == 2012
    assert "ImageNet Classification" in info["paper"]["title"]
    assert info["input_shape"] == (227, 227, 3)
    assert info["min_input_shape"] == (67, 67, 3)
    assert info["parameters"] == 60_965_224
    assert kerasnets.model_info("LeNet5")["input_shape"] == (32, 32, 1)


def test_register_model_decorator_and_duplicates():
    from kerasnets import registry

    @kerasnets.register_model(
        "tiny_test_net", family="test", paper=registry.Paper("A", 2000, "T"),
        input_shape=(8, 8, 1), params=18, num_classes=2,
    )
    def tiny_test_net(classes=2, **kwargs):
        inputs = keras.Input((8, 8, 1))
        x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 1)(inputs))
        return keras.Model(inputs, keras.layers.Dense(classes)(x))

    try:
        assert "tiny_test_net" in kerasnets.list_models("tiny*")
        assert kerasnets.build("tiny_test_net").count_params() == 18
        with pytest.raises(ValueError, match="already registered"):
            kerasnets.register_model(
                "tiny_test_net", family="test", paper=registry.Paper("A", 2000, "T"),
                input_shape=(8, 8, 1), params=1,
            )(tiny_test_net)
    finally:
        registry._REGISTRY.pop("tiny_test_net", None)


# ---------------------------------------------------------------- parameter counts


# The families whose own test files build every variant and pin its count
# (tests/test_<family>.py); the default run builds the others here, -m slow all.
PINNED_ELSEWHERE = {"inception", "inception_v4", "resnet", "resnext", "senet", "densenet",
                    "mobilenet", "shufflenet"}


@pytest.mark.parametrize("name", [
    n for n in default_run_models() if kerasnets.get_spec(n).family not in PINNED_ELSEWHERE])
def test_parameter_count_matches_the_paper(name):
    model = kerasnets.build(name)
    assert model.count_params() == kerasnets.get_spec(name).params
    del model
    keras.backend.clear_session()


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    n for n in kerasnets.list_models()
    if n in HEAVY or kerasnets.get_spec(n).family in PINNED_ELSEWHERE])
def test_parameter_count_of_the_others(name):
    test_parameter_count_matches_the_paper(name)


def test_exact_counts_the_issue_names():
    expected = {
        "lenet5": 61_706,
        "lenet5_paper": 61_706 - 2_416 + 1_516 + 12 + 32,
        "alexnet": 60_965_224,
        "vgg11": 132_863_336,
        "vgg11_lrn": 132_863_336,
        "vgg13": 133_047_848,
        "vgg16_conv1": 133_638_952,
        "vgg16": 138_357_544,
        "vgg19": 143_667_240,
    }
    for name, count in expected.items():
        assert kerasnets.get_spec(name).params == count, name


def test_weights_must_be_none_or_a_file(tmp_path):
    with pytest.raises(ValueError, match=r"`weights` must be None .*got 'imagenet'"):
        kerasnets.build("vgg11_lrn", weights="imagenet")
    with pytest.raises(ValueError, match=r"no file at 'tv_in1k', and no checkpoint of this "
                                         r"network is tagged 'tv_in1k'"):
        kerasnets.build("lenet5", weights="tv_in1k")
    with pytest.raises(ValueError, match=r"no file at"):
        kerasnets.build("lenet5", weights=str(tmp_path / "missing.weights.h5"))
    with pytest.raises(ValueError, match=r"`weights` must be None"):
        kerasnets.build("lenet5", weights=3)


def test_input_shape_errors(tmp_path):
    with pytest.raises(ValueError, match=r"height must be at least 67.*\(20, 300, 3\)"):
        kerasnets.build("alexnet", include_top=False, input_shape=(20, 300, 3))
    with pytest.raises(ValueError, match=r"must be \(224, 224, 3\) with include_top=True"):
        kerasnets.build("vgg16", input_shape=(256, 256, 3))
    with pytest.raises(ValueError, match=r"3 dimensions"):
        kerasnets.build("vgg16", input_shape=(224, 224))
    weights = tmp_path / "lenet.weights.h5"
    kerasnets.build("lenet5").save_weights(str(weights))
    with pytest.raises(ValueError, match=r"has 3 channels, but the weights are for 1-channel"):
        kerasnets.build("lenet5", weights=str(weights), input_shape=(32, 32, 3))


def test_hyper_parameter_errors():
    with pytest.raises(ValueError, match=r"`dropout_rate` must be a number in \[0, 1\); got 1.5"):
        kerasnets.build("vgg16", dropout_rate=1.5)
    with pytest.raises(ValueError, match=r"`classes` must be an integer in \[1, inf\); got 0"):
        kerasnets.build("nin", classes=0)
    with pytest.raises(ValueError, match=r"`pooling` must be one of"):
        kerasnets.build("nin", include_top=False, pooling="sum")
    with pytest.raises(ValueError, match=r"Could not interpret activation"):
        kerasnets.build("lenet5", classifier_activation="nope")


def test_weights_file_loads_and_mismatch_is_explained(tmp_path):
    model = kerasnets.build("lenet5", classes=10)
    path = tmp_path / "lenet.weights.h5"
    model.save_weights(str(path))
    again = kerasnets.build("lenet5", weights=str(path))
    x = np.random.default_rng(0).random((2, 32, 32, 1), dtype="float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(x)), keras.ops.convert_to_numpy(again(x))
    )
    with pytest.raises(ValueError, match=r"does not fit the model 'lenet5'.*`classes`"):
        kerasnets.build("lenet5", weights=str(path), classes=5)


# ---------------------------------------------------------------- keras.applications arguments


def test_include_top_false_pooling_and_input_tensor():
    for pooling, shape in ((None, (None, 2, 2, 512)), ("avg", (None, 512)), ("max", (None, 512))):
        model = kerasnets.build("vgg11", include_top=False, input_shape=(64, 64, 3),
                                pooling=pooling)
        assert model.output_shape == shape
    tensor = keras.Input((96, 96, 3), name="my_input")
    model = kerasnets.build("alexnet", include_top=False, input_tensor=tensor, pooling="avg")
    assert model.inputs[0] is tensor
    assert model.output_shape == (None, 256)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. Keras' "structure of `inputs` doesn't match"
        out = model(np.zeros((1, 96, 96, 3), "float32"))
    assert tuple(out.shape) == (1, 256)
    model = kerasnets.build("alexnet", classes=7, classifier_activation=None, name="mine")
    assert model.name == "mine" and model.output_shape == (None, 7)
    assert model.get_layer("predictions").activation.__name__ == "linear"


# ---------------------------------------------------------------- keras.applications weights


def test_legacy_h5_notop_file_loads(tmp_path):
    # keras.applications publishes legacy HDF5 files (e.g. the VGG16 "notop" file).
    from keras.src.legacy.saving import legacy_h5_format
    import h5py

    ref = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    path = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, ref)
    ours = kerasnets.build("vgg16", include_top=False, input_shape=(32, 32, 3),
                           weights=str(path))
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- .keras round trip


@pytest.mark.parametrize("config_id, name, kwargs", configs("family"))
def test_keras_file_round_trip(tmp_path, config_id, name, kwargs):
    model = kerasnets.build(name, **kwargs)
    path = tmp_path / f"{config_id}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode=True by default
    x = np.random.default_rng(3).uniform(-1, 1, (2, *model.input_shape[1:])).astype("float32")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
    )
    del model, loaded
    keras.backend.clear_session()


@pytest.mark.slow
@pytest.mark.parametrize("config_id, name, kwargs", configs("all") + configs("full"))
def test_keras_file_round_trip_full_size(tmp_path, config_id, name, kwargs):
    import sys

    # Keras walks a functional graph recursively: resnet1202's 4,212 layers
    # need a higher limit than Python's default 1,000 to load.
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 50_000))
    try:
        test_keras_file_round_trip(tmp_path, config_id, name, kwargs)
    finally:
        sys.setrecursionlimit(old)
