"""Facts about BN-Inception (Ioffe & Szegedy 2015) and Inception v3 (Szegedy et al. 2016)."""

import kerasnets.models.inception  # noqa: F401  (registers the models before the package lists them)

import json
import os

import h5py
import keras
import numpy as np
import pytest

import kerasnets
from conftest import run_with_backend
from kerasnets import profile
from kerasnets.models.inception import BN_INCEPTION_MODULES, BNInception, InceptionV3
from tolerances import BATCH_STATISTICS

# --- BN-Inception -------------------------------------------------------------
# Every convolution has no bias and is followed by BN without scale: beta,
# moving mean and moving variance, 3 parameters per output channel.


def conv(k, c_in, c_out):
    """Parameters of a k x k convolution (a (kh, kw) pair also) + its normalization."""
    kh, kw = (k, k) if isinstance(k, int) else k
    return kh * kw * c_in * c_out + 3 * c_out


def bn_module_params(c_in, f1, r3, f3, rd, fd, pool, proj):
    """Figure 5 columns: 1x1; reduce + 3x3; reduce + 3x3 + 3x3; (pool) + projection."""
    params = conv(1, c_in, r3) + conv(3, r3, f3) + conv(1, c_in, rd) + conv(3, rd, fd) + conv(
        3, fd, fd)
    if f1:
        params += conv(1, c_in, f1)
    if proj is not None:
        params += conv(1, c_in, proj)
    return params


def bn_module_channels(c_in, f1, r3, f3, rd, fd, pool, proj):
    return f1 + f3 + fd + (c_in if proj is None else proj)


def bn_inception_params(classes=1000):
    stem = conv(7, 3, 64) + conv(1, 64, 64) + conv(3, 64, 192)
    total, channels = stem, 192
    for filters in BN_INCEPTION_MODULES.values():
        total += bn_module_params(channels, *filters)
        channels = bn_module_channels(channels, *filters)
    return total + channels * classes + classes


BN_PARAMS = 11_295_240
# Multiply-adds of convolutions and the classifier at 224x224 (kerasnets.profile).
# The figure quoted for BN-Inception is ~2G (the paper's table has no ops column).
BN_MACS_224 = 2_032_600_064

# --- Inception v3 -------------------------------------------------------------
V3_PARAMS = 23_851_784
# keras.applications' graph at 299x299; the paper says "5 billion multiply-adds"
# (14% less); 326M of the difference are the 1x1 -> 5x5 branches of mixed0-2,
# which the released network has and Figure 5 does not.
V3_MACS_299 = 5_713_216_096
# The auxiliary head: 1x1 conv 768 -> 128 + BN, 5x5 conv 128 -> 768 + BN, FC 768 -> classes.
AUX_PARAMS = conv(1, 768, 128) + conv(5, 128, 768) + 768 * 1000 + 1000


@pytest.fixture(scope="module")
def bn_inception():
    return kerasnets.build("bn_inception")


@pytest.fixture(scope="module")
def reference():
    return keras.applications.InceptionV3(weights=None, classifier_activation=None)


@pytest.fixture(scope="module")
def v3(reference):
    model = kerasnets.build("inception_v3", classifier_activation=None)
    model.set_weights(reference.get_weights())
    return model


@pytest.fixture(scope="module")
def v3_aux():
    return kerasnets.build("inception_v3", aux_logits=True, classifier_activation=None)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(-1, 1, (2, 299, 299, 3)).astype("float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_registered_with_the_paper_metadata():
    bn = kerasnets.model_info("bn_inception")
    assert bn["family"] == "inception" and bn["preprocessing"] == "tf"
    assert bn["paper"]["authors"] == "Ioffe, Szegedy" and bn["paper"]["year"] == 2015
    assert bn["paper"]["title"].startswith("Batch Normalization")
    assert bn["input_shape"] == (224, 224, 3) and bn["min_input_shape"] == (32, 32, 3)
    assert bn["parameters"] == BN_PARAMS and bn["aliases"] == ("inception_v2",)
    assert kerasnets.get_spec("inception_v2").name == "bn_inception"
    v3 = kerasnets.model_info("inception_v3")
    assert v3["family"] == "inception" and v3["preprocessing"] == "tf"
    assert v3["paper"]["year"] == 2016 and "Rethinking the Inception" in v3["paper"]["title"]
    assert v3["input_shape"] == (299, 299, 3) and v3["min_input_shape"] == (75, 75, 3)
    assert v3["parameters"] == V3_PARAMS
    assert kerasnets.list_models(family="inception") == ["bn_inception", "inception_v3"]


# --- BN-Inception ---------------------------------------------------------------


def test_bn_inception_parameter_count_by_module(bn_inception):
    assert bn_inception_params() == BN_PARAMS
    assert bn_inception.count_params() == BN_PARAMS
    result = profile(bn_inception)
    channels = 192
    for module, filters in BN_INCEPTION_MODULES.items():
        assert result.params_of(f"inception_{module}_") == bn_module_params(channels, *filters)
        channels = bn_module_channels(channels, *filters)
    assert bn_inception.output_shape == (None, 1000)
    assert bn_inception.layers[-1].activation.__name__ == "softmax"
    # Every convolution: no bias, then BN with a shift and no scale.
    convs = [l for l in bn_inception.layers if isinstance(l, keras.layers.Conv2D)]
    norms = [l for l in bn_inception.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert len(convs) == len(norms) == 3 + 7 * 8 + 5 * 2
    assert not any(l.use_bias for l in convs)
    assert all(l.center and not l.scale for l in norms)
    assert sum(l.filters for l in convs) == 10_016  # what BN scales (gamma) would add


def test_bn_inception_grid_sizes_of_figure_5(bn_inception):
    shape = {l.name: tuple(l.output.shape[1:]) for l in bn_inception.layers}
    assert shape["conv1_7x7_s2_relu"] == (112, 112, 64)
    assert shape["pool1_3x3_s2"] == (56, 56, 64)
    assert shape["conv2_3x3_relu"] == (56, 56, 192)
    assert shape["pool2_3x3_s2"] == (28, 28, 192)
    # The table's depths, but 4c/4d/4e where its output column disagrees with its
    # own filter columns (576, 576, 1024 printed; 160+160+160+128 = 608 ...).
    expected = {"3a": (28, 256), "3b": (28, 320), "3c": (14, 576), "4a": (14, 576),
                "4b": (14, 576), "4c": (14, 608), "4d": (14, 608), "4e": (7, 1056),
                "5a": (7, 1024), "5b": (7, 1024)}
    for module, (grid, depth) in expected.items():
        assert shape[f"inception_{module}_output"] == (grid, grid, depth), module
    assert shape["avg_pool"] == (1024,)
    names = {l.name for l in bn_inception.layers}
    pools = {m: type(bn_inception.get_layer(f"inception_{m}_pool")).__name__
             for m in BN_INCEPTION_MODULES}
    assert {m for m, kind in pools.items() if kind == "MaxPooling2D"} == {"3c", "4e", "5b"}
    for module in ("3c", "4e"):  # stride 2, no 1x1 branch, pooling passed through
        assert f"inception_{module}_1x1" not in names
        assert f"inception_{module}_pool_proj" not in names
        assert bn_inception.get_layer(f"inception_{module}_3x3").strides == (2, 2)
        assert bn_inception.get_layer(f"inception_{module}_double_3x3_2").strides == (2, 2)
        assert bn_inception.get_layer(f"inception_{module}_double_3x3_1").strides == (1, 1)


def test_bn_inception_multiply_adds_at_224(bn_inception):
    result = profile(bn_inception)
    assert result.macs == BN_MACS_224
    assert abs(result.macs - 2e9) / 2e9 < 0.02
    # The stem's full 7x7 convolution: 112*112*64*7*7*3 (the paper's separable one: 34M).
    assert result.by_name("conv1_7x7_s2").macs == 112 * 112 * 64 * 7 * 7 * 3 == 118_013_952


def test_bn_inception_minimum_input_and_arguments():
    small = kerasnets.build("inception_v2", input_shape=(32, 32, 3), classes=10)
    assert small.output_shape == (None, 10)
    assert small.count_params() == bn_inception_params(10)
    features = BNInception(include_top=False, pooling="max", input_shape=(32, 32, 3))
    assert features.output_shape == (None, 1024)
    assert features.count_params() == BN_PARAMS - (1024 * 1000 + 1000)
    with pytest.raises(ValueError, match=r"height must be at least 32"):
        BNInception(include_top=False, input_shape=(31, 32, 3))
    dropout = BNInception(dropout_rate=0.4, input_shape=(32, 32, 3), classes=10)
    assert dropout.get_layer("dropout").rate == 0.4
    assert dropout.count_params() == small.count_params()
    assert "dropout" not in {l.name for l in small.layers}  # the default: no dropout
    for bad in (-0.1, 1.0, "0.4", True):
        with pytest.raises(ValueError, match=r"`dropout_rate` must be a number in \[0, 1\)"):
            BNInception(dropout_rate=bad, input_shape=(32, 32, 3))
    # "imagenet" is Cadene's Caffe port, which needs the Caffe structure (its tag sets it).
    with pytest.raises(ValueError, match=r"`weights='imagenet'` \(the 'cadene' checkpoint\) "
                                         r"needs use_bias=True"):
        BNInception(weights="imagenet")


def test_same_average_pooling_excludes_the_padding_on_every_backend_we_run():
    # The modules' 3x3/1 "same" average pooling pads one pixel on each side;
    # the corner output is the mean of the 2x2 pixels inside the image.
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    y = numpy(keras.layers.AveragePooling2D(3, strides=1, padding="same")(x))[0, :, :, 0]
    assert y[0, 0] == pytest.approx((0 + 1 + 4 + 5) / 4)
    assert y[0, 1] == pytest.approx((0 + 1 + 2 + 4 + 5 + 6) / 6)
    assert y[1, 1] == pytest.approx(np.mean(x[0, :3, :3, 0]))


@pytest.mark.slow  # ~3 minutes on 2 shared cores (jax and torch subprocesses)
def test_tf_jax_and_torch_agree(tmp_path):
    """The average-pooling modules give tensorflow's outputs on jax and torch (to 1e-4)."""
    script = os.path.join(os.path.dirname(__file__), "backend_models_check.py")
    configs = {
        # 33x33: odd sizes, so every stride-2 "same" layer pads unevenly.
        "bn_inception": ("bn_inception", {"input_shape": [33, 33, 3], "classes": 10}),
        "inception_v3": ("inception_v3", {"input_shape": [75, 75, 3], "classes": 10}),
    }
    rng = np.random.default_rng(3)
    items, expected = [], {}
    for key, (name, kwargs) in configs.items():
        model = kerasnets.build(name, classifier_activation=None,
                                **{**kwargs, "input_shape": tuple(kwargs["input_shape"])})
        # Random moving statistics, so inference mode normalizes something.
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                c = layer.moving_mean.shape[0]
                layer.moving_mean.assign(rng.normal(0, 0.5, c).astype("float32"))
                layer.moving_variance.assign(rng.uniform(0.05, 0.3, c).astype("float32"))
                layer.beta.assign(rng.normal(0, 0.5, c).astype("float32"))
        x = rng.uniform(-1, 1, (2, *model.input_shape[1:])).astype("float32")
        weights, inputs = str(tmp_path / f"{key}.weights.h5"), str(tmp_path / f"{key}.npy")
        model.save_weights(weights)
        np.save(inputs, x)
        expected[key] = numpy(model(x, training=False))
        assert np.abs(expected[key]).max() > 0.1
        items.append({"id": key, "name": name, "kwargs": {**kwargs, "classifier_activation": None},
                      "weights": weights, "input": inputs})
    for backend in ("jax", "torch"):
        job, output = tmp_path / f"{backend}.json", tmp_path / f"{backend}.npz"
        job.write_text(json.dumps({"models": items, "output": str(output)}))
        # The check script imports kerasnets; this module registers its models
        # whether or not kerasnets.models imports it yet.
        code = ("import runpy, sys; import kerasnets.models.inception; "
                "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
        run_with_backend(backend, ["-c", code, script, str(job)])
        got = np.load(output)
        assert str(got["backend"]) == backend
        for key, want in expected.items():
            scale = max(1.0, float(np.abs(want).max()))
            np.testing.assert_allclose(got[key], want, rtol=1e-4, atol=1e-4 * scale,
                                       err_msg=f"{key} on {backend}")


# --- Inception v3 ---------------------------------------------------------------


def test_v3_parameter_count_and_layer_order(v3, reference):
    assert v3.count_params() == reference.count_params() == V3_PARAMS
    assert [tuple(w.shape) for w in v3.weights] == [tuple(w.shape) for w in reference.weights]
    ours = [l for l in v3.layers if l.weights]
    theirs = [l for l in reference.layers if l.weights]
    # kerasnets' BatchNormalization and Conv2D are Keras' under the same class name.
    assert [type(l).__name__ for l in ours] == [type(l).__name__ for l in theirs]
    names = [l.name for l in ours]
    assert names[:2] == ["stem_conv1_conv", "stem_conv1_bn"]
    assert "mixed0_branch1x1_conv" in names and "mixed9_branch3x3_2a_bn" in names
    assert names[-1] == "predictions"
    # keras' block names are kept.
    for name in [f"mixed{i}" for i in range(11)] + ["mixed9_0", "mixed9_1", "avg_pool"]:
        assert tuple(v3.get_layer(name).output.shape) == tuple(reference.get_layer(name).output.shape)
    assert v3.get_layer("mixed7").output.shape == (None, 17, 17, 768)
    assert v3.get_layer("mixed10").output.shape == (None, 8, 8, 2048)


def test_keras_applications_weights_give_the_same_outputs(v3, reference, images):
    expected = numpy(reference(images, training=False))
    np.testing.assert_allclose(numpy(v3(images, training=False)), expected, atol=1e-5, rtol=1e-5)
    # At initialization the inference-mode logits are ~1e-5 (the moving
    # statistics normalize nothing yet), which 1e-5 cannot tell apart: with
    # batch statistics every normalization rescales, and the logits are O(1).
    expected = numpy(reference(images, training=True))
    got = numpy(v3(images, training=True))
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(got, expected, **BATCH_STATISTICS)


def test_v3_multiply_adds_at_299(v3):
    result = profile(v3)
    assert result.macs == V3_MACS_299
    assert 1.1 < result.macs / 5e9 < 1.15
    five_by_five = sum(result.macs_of(f"mixed{i}_branch5x5") for i in range(3))
    assert five_by_five == 35 * 35 * ((192 + 256 + 288) * 48 + 3 * 25 * 48 * 64) == 325_516_800


def test_v3_minimum_input_and_arguments():
    features = InceptionV3(include_top=False, input_shape=(75, 75, 3))
    assert features.output_shape == (None, 1, 1, 2048)
    assert features.count_params() == V3_PARAMS - (2048 * 1000 + 1000)
    pooled = InceptionV3(include_top=False, pooling="avg", input_shape=(75, 75, 3))
    assert pooled.output_shape == (None, 2048)
    small = kerasnets.build("inception_v3", input_shape=(75, 75, 3), classes=10,
                            dropout_rate=0.5)
    assert small.output_shape == (None, 10)
    assert small.get_layer("dropout").rate == 0.5
    assert small.count_params() == V3_PARAMS - 2048 * 990 - 990
    with pytest.raises(ValueError, match=r"height must be at least 75"):
        InceptionV3(include_top=False, input_shape=(74, 75, 3))
    for bad in (-0.5, 1, None):
        with pytest.raises(ValueError, match=r"`dropout_rate` must be a number in \[0, 1\)"):
            InceptionV3(dropout_rate=bad)
    with pytest.raises(ValueError, match=r"`weights='imagenet'` with include_top=True needs "
                                         r"classes=1000"):
        InceptionV3(weights="imagenet", classes=10)


def test_aux_head_outputs_and_parameters(v3_aux):
    assert AUX_PARAMS == 3_327_592
    assert v3_aux.output_names == ["predictions", "aux_predictions"]
    assert v3_aux.output_shape == [(None, 1000), (None, 1000)]
    assert v3_aux.count_params() == V3_PARAMS + AUX_PARAMS
    assert profile(v3_aux).params_of("aux_") == AUX_PARAMS
    shape = {l.name: tuple(l.output.shape[1:]) for l in v3_aux.layers}
    assert shape["aux_pool"] == (5, 5, 768)  # 5x5/3 average pooling of mixed7's 17x17
    assert shape["aux_conv1_act"] == (5, 5, 128)
    assert shape["aux_conv2_act"] == (1, 1, 768)
    assert v3_aux.get_layer("aux_pool").input.name == v3_aux.get_layer("mixed7").output.name
    larger = InceptionV3(aux_logits=True, input_shape=(331, 331, 3), classes=7)
    assert larger.output_shape == [(None, 7), (None, 7)]


def test_aux_model_main_path_has_the_weights_of_the_plain_model(v3_aux, v3, images):
    main_path = keras.Model(v3_aux.input, v3_aux.outputs[0])
    assert [tuple(w.shape) for w in main_path.weights] == [tuple(w.shape) for w in v3.weights]
    assert [w.path for w in main_path.weights] == [w.path for w in v3.weights]
    main_path.set_weights(v3.get_weights())
    x = images[:1]
    for training in (False, True):
        np.testing.assert_array_equal(numpy(main_path(x, training=training)),
                                      numpy(v3(x, training=training)))
    main, aux = v3_aux(x, training=True)
    np.testing.assert_array_equal(numpy(main), numpy(v3(x, training=True)))
    assert numpy(aux).shape == (1, 1000)


def test_aux_argument_errors():
    with pytest.raises(ValueError, match=r"`aux_logits=True` .*needs include_top=True"):
        InceptionV3(aux_logits=True, include_top=False)
    for bad in (1, "yes", None):
        with pytest.raises(ValueError, match=r"`aux_logits` must be True or False"):
            InceptionV3(aux_logits=bad)
    with pytest.raises(ValueError, match=r"height must be at least 299"):
        InceptionV3(aux_logits=True, input_shape=(298, 299, 3))
    with pytest.raises(ValueError, match=r"width must be at least 299"):
        InceptionV3(aux_logits=True, input_shape=(299, 298, 3))


def test_legacy_h5_file_of_keras_applications_loads(reference, tmp_path, images):
    # keras.applications' published files are legacy .h5 weight files, read by
    # layer order; one written from the reference stands in for "imagenet".
    from keras.src.legacy.saving import legacy_h5_format

    path = str(tmp_path / "inception_v3_tf_kernels.h5")
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    loaded = InceptionV3(weights=path, classifier_activation=None)
    expected = numpy(reference(images[:1], training=True))
    np.testing.assert_allclose(numpy(loaded(images[:1], training=True)), expected,
                               **BATCH_STATISTICS)
    # With the auxiliary head the file loads into the main path.
    aux = InceptionV3(weights=path, aux_logits=True, classifier_activation=None)
    main, _ = aux(images[:1], training=True)
    np.testing.assert_allclose(numpy(main), expected, **BATCH_STATISTICS)


def test_aux_model_trains_with_fit():
    model = InceptionV3(aux_logits=True, classes=3, dropout_rate=0.2)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss={"predictions": "sparse_categorical_crossentropy",
              "aux_predictions": "sparse_categorical_crossentropy"},
        loss_weights={"predictions": 1.0, "aux_predictions": 0.4},
        # One step: tracing the train function would take 5x longer than running it.
        run_eagerly=True,
    )
    x = np.random.default_rng(1).uniform(-1, 1, (2, 299, 299, 3)).astype("float32")
    y = np.array([0, 2])
    before = [numpy(w).copy() for w in model.get_layer("aux_predictions").weights]
    history = model.fit(x, {"predictions": y, "aux_predictions": y}, epochs=1, batch_size=2,
                        verbose=0)
    logs = history.history
    assert set(logs) >= {"loss", "predictions_loss", "aux_predictions_loss"}
    total = logs["predictions_loss"][0] + 0.4 * logs["aux_predictions_loss"][0]
    assert logs["loss"][0] == pytest.approx(total, rel=1e-4)
    assert np.isfinite(logs["loss"][0])
    after = model.get_layer("aux_predictions").weights
    assert not np.allclose(numpy(after[0]), before[0])
