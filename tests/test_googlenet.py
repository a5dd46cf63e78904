import kerasnets.models.googlenet  # noqa: F401

# Facts from "Going deeper with convolutions" (Szegedy et al. 2015) about GoogLeNet.

import keras
import numpy as np
import pytest

import kerasnets
from conftest import run_with_backend
from kerasnets import profile
from kerasnets.layers import LocalResponseNormalization

MODULES = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
# Table 1, `ops` column: multiply-adds of each inception module at 224x224.
TABLE_OPS = dict(zip(MODULES, (128e6, 304e6, 73e6, 88e6, 100e6, 119e6, 170e6, 54e6, 71e6)))
# Table 1, `output size` column: channels after each module.
TABLE_CHANNELS = dict(zip(MODULES, (256, 480, 512, 512, 512, 528, 832, 832, 1024)))


@pytest.fixture(scope="module")
def googlenet():
    return kerasnets.build("googlenet")


@pytest.fixture(scope="module")
def googlenet_aux():
    return kerasnets.build("googlenet", aux_logits=True)


def test_registry_metadata():
    info = kerasnets.model_info("googlenet")
    assert info["family"] == "googlenet"
    assert info["paper"]["year"] == 2015
    assert info["paper"]["title"] == "Going deeper with convolutions"
    assert info["input_shape"] == (224, 224, 3)
    assert info["min_input_shape"] == (32, 32, 3)
    assert info["parameters"] == 6_998_552
    assert info["preprocessing"] == "caffe"
    assert kerasnets.get_spec("inception_v1") is kerasnets.get_spec("googlenet")


def test_parameter_counts(googlenet, googlenet_aux):
    assert googlenet.count_params() == 6_998_552
    assert kerasnets.get_spec("googlenet").params == 6_998_552
    assert googlenet_aux.count_params() == 13_378_280
    # Each auxiliary head: 1x1 conv 512|528 -> 128, FC 2048 -> 1024, FC 1024 -> 1000.
    head = 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000
    assert profile(googlenet_aux).params_of("aux1") == 512 * 128 + head
    assert profile(googlenet_aux).params_of("aux2") == 528 * 128 + head


def test_no_batch_normalization_and_lrn_as_caffe(googlenet):
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in googlenet.layers)
    norms = [l for l in googlenet.layers if isinstance(l, LocalResponseNormalization)]
    assert [l.name for l in norms] == ["pool1_norm1", "conv2_norm2"]
    # Caffe's local_size 5, alpha 1e-4 (on the window mean) is alpha 2e-5 on the sum.
    assert all((l.n, l.alpha, l.beta, l.k) == (5, 2e-5, 0.75, 1.0) for l in norms)
    no_lrn = kerasnets.build("googlenet", lrn=False)
    assert not any(isinstance(l, LocalResponseNormalization) for l in no_lrn.layers)
    assert no_lrn.count_params() == 6_998_552


def test_stem_and_module_shapes_follow_table_1(googlenet):
    shape = {l.name: tuple(l.output.shape[1:]) for l in googlenet.layers}
    assert shape["conv1_7x7_s2"] == (112, 112, 64)
    assert shape["pool1_3x3_s2"] == (56, 56, 64)
    assert shape["conv2_3x3"] == (56, 56, 192)
    assert shape["pool2_3x3_s2"] == (28, 28, 192)
    grids = dict(zip(MODULES, (28, 28, 14, 14, 14, 14, 14, 7, 7)))
    for module in MODULES:
        grid = grids[module]
        assert shape[f"inception_{module}_output"] == (grid, grid, TABLE_CHANNELS[module])
    assert shape["pool3_3x3_s2"] == (14, 14, 480)
    assert shape["pool4_3x3_s2"] == (7, 7, 832)
    assert shape["avg_pool"] == (1024,)
    assert googlenet.get_layer("dropout").rate == 0.4
    assert googlenet.output_shape == (None, 1000)
    assert googlenet.layers[-1].activation.__name__ == "softmax"


def test_module_multiply_adds_match_the_ops_column(googlenet):
    prof = profile(googlenet)
    for module in MODULES:
        macs = prof.macs_of(f"inception_{module}_")
        assert macs == pytest.approx(TABLE_OPS[module], rel=0.10), module
    # All within 1% but 5a (51.1M against the table's 54M).
    assert prof.macs_of("inception_5a_") == 51_079_168
    # conv1: 7x7x3x64 at 112x112 (the table's 34M does not add up).
    assert prof.macs_of("conv1_") == 112 * 112 * 64 * 7 * 7 * 3 == 118_013_952


def test_total_multiply_adds(googlenet):
    macs = profile(googlenet).macs
    assert macs == pytest.approx(1.58e9, rel=0.01)
    assert macs == 1_582_671_872


def test_aux_logits_outputs(googlenet_aux):
    assert googlenet_aux.output_names == ["predictions", "aux1_predictions", "aux2_predictions"]
    assert googlenet_aux.output_shape == [(None, 1000)] * 3
    names = [l.name for l in googlenet_aux.layers]
    assert {"aux1_ave_pool", "aux1_conv", "aux1_fc", "aux1_drop_fc", "aux1_predictions",
            "aux2_predictions"} <= set(names)
    pool = googlenet_aux.get_layer("aux1_ave_pool")
    assert isinstance(pool, keras.layers.AveragePooling2D)
    assert (pool.pool_size, pool.strides, pool.padding) == ((5, 5), (3, 3), "valid")
    assert tuple(pool.output.shape[1:]) == (4, 4, 512)
    assert tuple(googlenet_aux.get_layer("aux2_ave_pool").output.shape[1:]) == (4, 4, 528)
    assert googlenet_aux.get_layer("aux1_drop_fc").rate == 0.7
    # The auxiliary heads cost little: 1,591,044,096 - 1,582,671,872 multiply-adds.
    assert profile(googlenet_aux).macs - 1_582_671_872 == 2 * (
        16 * 128 * 512 + 2048 * 1024 + 1024 * 1000) + 16 * 128 * 16

    small = kerasnets.build("googlenet", aux_logits=True, input_shape=(65, 65, 3), classes=7,
                            aux_dropout_rate=0.5, classifier_activation=None)
    assert small.output_shape == [(None, 7)] * 3
    out = small(np.zeros((2, 65, 65, 3), "float32"))
    assert [tuple(o.shape) for o in out] == [(2, 7)] * 3


def test_smaller_inputs_and_feature_extraction():
    # The main classifier pools globally: any input of at least 32x32 works.
    model = kerasnets.build("googlenet", input_shape=(32, 32, 3), classes=10)
    assert model.output_shape == (None, 10)
    assert model.get_layer("inception_5b_output").output.shape[1:] == (1, 1, 1024)
    features = kerasnets.build("googlenet", include_top=False, input_shape=(None, None, 3))
    assert features.output_shape == (None, None, None, 1024)
    pooled = kerasnets.build("googlenet", include_top=False, pooling="max",
                             input_shape=(64, 96, 3))
    assert pooled.output_shape == (None, 1024)
    assert pooled.count_params() == 6_998_552 - 1_025_000


def test_errors():
    with pytest.raises(ValueError, match="aux_logits.*include_top"):
        kerasnets.build("googlenet", aux_logits=True, include_top=False)
    with pytest.raises(ValueError, match="`aux_logits`"):
        kerasnets.build("googlenet", aux_logits="yes")
    with pytest.raises(ValueError, match="`dropout_rate`"):
        kerasnets.build("googlenet", dropout_rate=1.0)
    with pytest.raises(ValueError, match="`aux_dropout_rate`"):
        kerasnets.build("googlenet", aux_logits=True, aux_dropout_rate=-0.1)
    with pytest.raises(ValueError, match="`lrn`"):
        kerasnets.build("googlenet", lrn=1)
    with pytest.raises(ValueError, match="at least 32"):
        kerasnets.build("googlenet", input_shape=(31, 64, 3))
    with pytest.raises(ValueError, match="at least 65"):
        kerasnets.build("googlenet", aux_logits=True, input_shape=(64, 224, 3))
    with pytest.raises(ValueError, match="known height and width"):
        kerasnets.build("googlenet", aux_logits=True, input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="`pooling`"):
        kerasnets.build("googlenet", include_top=False, pooling="mean")


def test_keras_file_round_trip_with_aux(tmp_path):
    model = kerasnets.build("googlenet", aux_logits=True, input_shape=(65, 65, 3), classes=5)
    x = np.random.default_rng(0).uniform(0, 255, (2, 65, 65, 3)).astype("float32")
    path = tmp_path / "googlenet_aux.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.count_params() == model.count_params()
    for want, got in zip(model.predict(x, verbose=0), loaded.predict(x, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


BACKEND_SCRIPT = """
import numpy as np, keras, kerasnets.models.googlenet, kerasnets
model = kerasnets.build("googlenet", aux_logits=True, input_shape=(65, 65, 3), classes=4)
assert model.count_params() > 0
out = model.predict(np.ones((1, 65, 65, 3), "float32"), verbose=0)
assert [tuple(o.shape) for o in out] == [(1, 4)] * 3, out
assert all(np.allclose(keras.ops.convert_to_numpy(o).sum(), 1, atol=1e-4) for o in out)
print(keras.backend.backend(), "ok")
"""


def test_runs_on_jax():
    proc = run_with_backend("jax", ["-c", BACKEND_SCRIPT], timeout=300, fast_init=True)
    assert "jax ok" in proc.stdout


def test_batch_norm_after_every_convolution():
    model = kerasnets.build("googlenet", batch_norm=True, lrn=False, aux_logits=True,
                            input_shape=(96, 96, 3), classes=10)
    names = [l.name for l in model.layers]
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) == 3 + 9 * 6 + 2  # stem, the modules' six, one per auxiliary head
    for conv in convs:  # no bias (BN's beta replaces it); BN, then the ReLU
        assert not conv.use_bias and conv.activation.__name__ == "linear"
        bn = model.get_layer(f"{conv.name}_bn")
        assert isinstance(bn, keras.layers.BatchNormalization)
        assert names.index(f"{conv.name}_relu") > names.index(bn.name) > names.index(conv.name)
    assert not [l for l in model.layers if isinstance(l, LocalResponseNormalization)]
    # By hand: each convolution's kernel, and 4 BN values per channel (gamma, beta,
    # moving mean and variance) in place of its bias; the dense layers as they were.
    conv_params = sum(c.kernel_size[0] * c.kernel_size[1] * c.input.shape[-1] * c.filters
                      + 4 * c.filters for c in convs)
    dense_params = sum(l.count_params() for l in model.layers
                       if isinstance(l, keras.layers.Dense))
    assert model.count_params() == conv_params + dense_params
    channels = sum(c.filters for c in convs)
    assert channels == 7280 + 2 * 128
    # The paper's network (1000 classes, 224x224, no auxiliary heads): 6,998,552
    # parameters, and 3 * 7,280 more with batch normalization.
    assert kerasnets.build("googlenet", batch_norm=True).count_params() == 7_020_392
    assert 7_020_392 == 6_998_552 + 3 * 7280
    x = np.random.default_rng(0).uniform(0, 1, (2, 96, 96, 3)).astype("float32")
    outputs = model(x, training=False)
    assert [tuple(o.shape) for o in outputs] == [(2, 10)] * 3
    with pytest.raises(ValueError, match=r"`weights='bvlc'`: no published GoogLeNet "
                                         r"checkpoint has batch normalization"):
        kerasnets.build("googlenet", batch_norm=True, weights="bvlc")
    with pytest.raises(ValueError, match=r"`batch_norm` must be True or False; got None"):
        kerasnets.build("googlenet", batch_norm=None)
    plain = kerasnets.build("googlenet", include_top=False, input_shape=(32, 32, 3))
    assert not [l for l in plain.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert all(l.use_bias for l in plain.layers if isinstance(l, keras.layers.Conv2D))
