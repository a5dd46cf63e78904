"""LeNet-5 (LeCun et al. 1998): per-layer counts, C3's connection table, the paper's options."""

import keras
import numpy as np
import pytest

import kerasnets
from kerasnets import profile


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
