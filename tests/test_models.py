"""Facts from the papers about LeNet-5, AlexNet, VGG and NiN, and the builder contracts."""

import warnings

import keras
import numpy as np
import pytest

import kerasnets
from kerasnets import profile
from model_configs import HEAVY, configs, default_run_models

# ---------------------------------------------------------------- registry / API


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


def test_lenet5_per_layer_counts():
    model = kerasnets.build("lenet5")
    counts = {layer.name: layer.count_params() for layer in model.layers if layer.weights}
    assert counts == {"c1": 156, "c3": 2_416, "c5": 48_120, "f6": 10_164, "predictions": 850}
    assert model.output_shape == (None, 10)
    assert model.input_shape == (None, 32, 32, 1)
    assert model.layers[-1].activation.__name__ == "softmax"


def test_lenet5_paper_options():
    # Trainable S-layers: a coefficient and a bias per map, 2*6 + 2*16 parameters.
    paper = kerasnets.build("lenet5", activation="scaled_tanh", subsampling="subsampling")
    assert paper.count_params() == 61_706 + 12 + 32
    assert paper.get_layer("s2").count_params() == 12
    assert paper.get_layer("s4").count_params() == 32
    x = np.linspace(-1, 1, 32 * 32, dtype="float32").reshape(1, 32, 32, 1)
    assert np.isfinite(keras.ops.convert_to_numpy(paper(x))).all()
    sigmoid = kerasnets.build("lenet5", activation="sigmoid", subsampling="max")
    assert sigmoid.get_layer("c1").activation.__name__ == "sigmoid"
    assert isinstance(sigmoid.get_layer("s2"), keras.layers.MaxPooling2D)
    with pytest.raises(ValueError, match=r"`activation` must be one of .*got 'swish'"):
        kerasnets.build("lenet5", activation="swish")
    with pytest.raises(ValueError, match=r"`subsampling` must be one of"):
        kerasnets.build("lenet5", subsampling="median")


def test_scaled_tanh_is_the_papers_squashing_function():
    from kerasnets.models.lenet import scaled_tanh

    x = np.array([-2.0, 0.0, 1.0], dtype="float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(scaled_tanh(x)), 1.7159 * np.tanh(2 / 3 * x), rtol=1e-6
    )
    # f(1) = 1 and f(-1) = -1: the point of A = 1.7159, S = 2/3 (Appendix A).
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scaled_tanh(np.float32(1))), 1.0,
                               atol=2e-4)


def test_trainable_subsampling_sums_2x2_times_coefficient_plus_bias():
    from kerasnets.models.lenet import TrainableSubsampling

    layer = TrainableSubsampling()
    x = np.arange(2 * 4 * 4 * 3, dtype="float32").reshape(2, 4, 4, 3)
    layer.build(x.shape)
    layer.set_weights([np.array([1.0, 2.0, -1.0], "float32"), np.array([0.5, 0, 1], "float32")])
    got = keras.ops.convert_to_numpy(layer(x))
    sums = x.reshape(2, 2, 2, 2, 2, 3).sum(axis=(2, 4))
    np.testing.assert_allclose(got, sums * [1, 2, -1] + [0.5, 0, 1], rtol=1e-6)


def test_alexnet_structure():
    model = kerasnets.build("alexnet")
    assert model.input_shape == (None, 227, 227, 3)
    groups = {l.name: l.groups for l in model.layers if isinstance(l, keras.layers.Conv2D)}
    assert groups == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}
    shapes = {l.name: l.output.shape[1:] for l in model.layers}
    assert shapes["conv1"] == (55, 55, 96)
    assert shapes["pool1"] == (27, 27, 96)
    assert shapes["pool2"] == (13, 13, 256)
    assert shapes["pool5"] == (6, 6, 256)
    pools = [l for l in model.layers if isinstance(l, keras.layers.MaxPooling2D)]
    assert all(p.pool_size == (3, 3) and p.strides == (2, 2) for p in pools)  # overlapping
    lrns = [l.name for l in model.layers if type(l).__name__ == "LocalResponseNormalization"]
    assert lrns == ["norm1", "norm2"]
    norm = model.get_layer("norm1")
    assert (norm.k, norm.n, norm.alpha, norm.beta) == (2.0, 5, 1e-4, 0.75)
    drops = [l.rate for l in model.layers if isinstance(l, keras.layers.Dropout)]
    assert drops == [0.5, 0.5]


def test_alexnet_one_tower_without_lrn():
    model = kerasnets.build("alexnet", towers=1, lrn=False)
    assert model.count_params() == 62_378_344
    assert not [l for l in model.layers if type(l).__name__ == "LocalResponseNormalization"]
    assert all(l.groups == 1 for l in model.layers if isinstance(l, keras.layers.Conv2D))
    with pytest.raises(ValueError, match=r"`towers` must be one of \(1, 2\); got 3"):
        kerasnets.build("alexnet", towers=3)


def test_vgg_configurations_follow_table_1():
    def convs(name):
        model = kerasnets.build(name, include_top=False, input_shape=(32, 32, 3))
        return [
            l.kernel_size[0] for l in model.layers if isinstance(l, keras.layers.Conv2D)
        ]

    assert convs("vgg11") == [3] * 8
    assert convs("vgg13") == [3] * 10
    assert convs("vgg16_conv1") == [3] * 6 + [1] + [3, 3, 1] + [3, 3, 1]
    assert convs("vgg16") == [3] * 13
    assert convs("vgg19") == [3] * 16
    lrn = kerasnets.build("vgg11_lrn", include_top=False, input_shape=(32, 32, 3))
    names = [l.name for l in lrn.layers]
    assert names[1:4] == ["block1_conv1", "block1_lrn", "block1_pool"]


def test_nin_structure():
    model = kerasnets.build("nin")
    assert not [l for l in model.layers if isinstance(l, keras.layers.Dense)]
    assert model.get_layer("block4_mlp2").filters == 1000
    assert isinstance(model.get_layer("avg_pool"), keras.layers.GlobalAveragePooling2D)
    assert model.get_layer("block4_conv").output.shape[1:] == (5, 5, 1024)
    # Each mlpconv layer: a conv and two 1x1 convs ("cccp" in the released model).
    for block in (1, 2, 3):
        assert model.get_layer(f"block{block}_mlp1").kernel_size == (1, 1)
        assert model.get_layer(f"block{block}_mlp2").kernel_size == (1, 1)
    cifar = kerasnets.build("nin_cifar10")
    assert cifar.output_shape == (None, 10)
    assert [cifar.get_layer(f"block1_{n}").filters for n in ("conv", "mlp1", "mlp2")] == [
        192, 160, 96,
    ]
    top_off = kerasnets.build("nin", include_top=False, pooling="avg")
    assert top_off.output_shape == (None, 1024)


# ---------------------------------------------------------------- profiler


def test_profile_totals_match_the_issue():
    assert profile(kerasnets.build("lenet5")).macs == 416_520
    assert profile(kerasnets.build("alexnet")).macs == 724_406_816
    assert profile(kerasnets.build("vgg16")).macs == 15_470_264_320


def test_profile_per_layer_rows_and_table(capsys):
    result = profile(kerasnets.build("lenet5"), print_table=True)
    c1 = result.by_name("c1")
    assert (c1.params, c1.macs, c1.output_shape) == (156, 117_600, (None, 28, 28, 6))
    assert result.by_name("c3").macs == 240_000
    assert result.by_name("f6").macs == 10_080
    assert result.params == 61_706
    out = capsys.readouterr().out
    assert "416,520" in out and "61,706" in out and "c5" in out


def test_profile_counts_grouped_and_depthwise_convolutions():
    inputs = keras.Input((8, 8, 16))
    x = keras.layers.Conv2D(32, 3, padding="same", groups=4, name="grouped")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw")(x)
    x = keras.layers.SeparableConv2D(8, 3, strides=2, padding="same", name="sep")(x)
    model = keras.Model(inputs, x)
    result = profile(model)
    assert result.by_name("grouped").macs == 8 * 8 * 32 * 9 * 16 // 4
    assert result.by_name("dw").macs == 8 * 8 * 32 * 2 * 9
    assert result.by_name("sep").macs == 4 * 4 * 64 * 9 + 4 * 4 * 64 * 8


# ---------------------------------------------------------------- errors


def test_weights_must_be_none_or_a_file(tmp_path):
    with pytest.raises(ValueError, match=r"`weights` must be None .*got 'imagenet'"):
        kerasnets.build("vgg11", weights="imagenet")
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


@pytest.mark.parametrize(
    "name, reference", [("vgg16", "VGG16"), ("vgg19", "VGG19")]
)
def test_keras_applications_weights_load_into_ours(name, reference):
    ref = getattr(keras.applications, reference)(weights=None)
    ours = kerasnets.build(name)
    assert [w.shape for w in ours.weights] == [w.shape for w in ref.weights]
    ours.set_weights(ref.get_weights())
    x = np.random.default_rng(1).uniform(-1, 1, (2, 224, 224, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours(x, training=False)),
        keras.ops.convert_to_numpy(ref(x, training=False)),
        atol=1e-5, rtol=1e-5,
    )
    # The layer names match too, so by-name loading of published files works.
    ref_names = [l.name for l in ref.layers if l.weights]
    assert [l.name for l in ours.layers if l.weights] == ref_names


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


# ---------------------------------------------------------------- fully convolutional


@pytest.mark.parametrize(
    "name, size, fc6, first_fc",
    [("vgg16", 224, (7, 7), "fc1"), ("alexnet", 227, (6, 6), "fc6")],
)
def test_fully_convolutional_equals_the_original(name, size, fc6, first_fc):
    from kerasnets.models import fully_convolutional

    model = kerasnets.build(name)
    dense = fully_convolutional(model)
    assert dense.get_layer(first_fc).kernel_size == fc6
    assert dense.get_layer("predictions").kernel_size == (1, 1)
    assert dense.count_params() == model.count_params()
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (2, size, size, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(dense(x)), keras.ops.convert_to_numpy(model(x)),
        atol=1e-5, rtol=1e-5,
    )
    # Larger images: a score map, averaged over positions.
    big = rng.uniform(-1, 1, (1, size + 64, size + 32, 3)).astype("float32")
    scores = fully_convolutional(model, spatial_average=False)(big)
    assert scores.shape[1] >= 2 and scores.shape[2] >= 2 and scores.shape[3] == 1000
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(dense(big)),
        keras.ops.convert_to_numpy(keras.ops.mean(scores, axis=(1, 2))),
        atol=1e-6,
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.sum(scores, -1)), 1,
                               rtol=1e-5)


def test_fully_convolutional_builder_option():
    model = kerasnets.build("lenet5", fully_convolutional=False)
    assert model.input_shape == (None, 32, 32, 1)
    dense = kerasnets.build("vgg11", fully_convolutional=True, classes=10)
    assert dense.input_shape == (None, None, None, 3)
    assert dense.output_shape == (None, 10)
    assert dense(np.zeros((1, 256, 288, 3), "float32")).shape == (1, 10)
    with pytest.raises(ValueError, match="needs include_top=True"):
        kerasnets.build("alexnet", fully_convolutional=True, include_top=False)
    with pytest.raises(ValueError, match="smaller than the network's input"):
        kerasnets.build("alexnet", fully_convolutional=True, input_shape=(200, 200, 3))


def test_fully_convolutional_rejects_non_chains():
    from kerasnets.models import fully_convolutional

    with pytest.raises(ValueError, match="no Flatten \\+ Dense classifier"):
        fully_convolutional(kerasnets.build("nin_cifar10"))


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


def test_lenet5_c3_connectivity_of_table_1():
    from kerasnets.models.lenet import C3_TABLE

    # Row 0 of Table I: S2 map 0 feeds C3 maps 0, 4, 5, 6, 9, 10, 11, 12, 14, 15.
    assert [j for j, maps in enumerate(C3_TABLE) if 0 in maps] == [0, 4, 5, 6, 9, 10, 11, 12,
                                                                    14, 15]
    assert [len(maps) for maps in C3_TABLE] == [3] * 6 + [4] * 9 + [6]
    model = kerasnets.build("lenet5", c3_connectivity="paper")
    c3 = model.get_layer("c3")
    assert c3.count_params() == 1_516
    assert model.count_params() == 61_706 - 2_416 + 1_516
    assert model.get_layer("c3").output.shape[1:] == (10, 10, 16)
    # 151,600 connections in the paper, of which 1,600 are biases.
    assert profile(model).by_name("c3").macs == 150_000
    # Output map j depends only on its S2 maps: check against a full conv with
    # the unconnected kernel slices zeroed.
    x = np.random.default_rng(4).normal(size=(2, 14, 14, 6)).astype("float32")
    partial = keras.ops.convert_to_numpy(c3(x))
    full = keras.layers.Conv2D(16, 5, activation="tanh")
    full.build((None, 14, 14, 6))
    kernel = np.zeros((5, 5, 6, 16), "float32")
    bias = np.zeros(16, "float32")
    for j, maps in enumerate(C3_TABLE):
        kernel[:, :, list(maps), j] = keras.ops.convert_to_numpy(c3.kernels[j])[..., 0]
        bias[j] = keras.ops.convert_to_numpy(c3.biases[j])[0]
    full.set_weights([kernel, bias])
    np.testing.assert_allclose(partial, keras.ops.convert_to_numpy(full(x)), atol=1e-5)
    with pytest.raises(ValueError, match=r"`c3_connectivity` must be one of"):
        kerasnets.build("lenet5", c3_connectivity="sparse")


def test_lenet5_paper_form_saves_converts_and_trains(tmp_path):
    model = kerasnets.build("lenet5", c3_connectivity="paper", subsampling="subsampling",
                            activation="scaled_tanh")
    path = tmp_path / "paper.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(5).uniform(0, 1, (3, 32, 32, 1)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x)),
                                  keras.ops.convert_to_numpy(model(x)))
    from kerasnets.models import fully_convolutional

    dense = fully_convolutional(model)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dense(x)),
                               keras.ops.convert_to_numpy(model(x)), atol=1e-6)
    model.compile("adam", "sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_layer("c3").get_weights()]
    model.fit(x, np.array([0, 1, 2]), epochs=1, verbose=0)
    after = model.get_layer("c3").get_weights()
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))
