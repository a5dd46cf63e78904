"""kerasnets.layers.BatchNormalization: Keras' layer, with tensorflow's fused kernel in training."""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasnets
from kerasnets.layers import BatchNormalization

CASES = [
    ((4, 7, 7, 16), {}),
    ((2, 5, 5, 8), {"epsilon": 1e-5, "scale": False}),
    ((3, 4, 6, 8), {"center": False, "momentum": 0.9, "epsilon": 2e-5}),
    # A single value per channel: variance 0, and the gradients pass through
    # 1 / sqrt(epsilon), which amplifies round-off; 1e-4 there.
    ((1, 1, 1, 4), {}),
]
TOLERANCE = {(1, 1, 1, 4): 1e-4}


def _pair(shape, kwargs, rng, axis=-1):
    keras_layer = keras.layers.BatchNormalization(axis=axis, **kwargs)
    ours = BatchNormalization(axis=axis, **kwargs)
    keras_layer.build(shape)
    ours.build(shape)
    # Non-trivial gamma, beta and moving statistics, the same in both.
    values = [w.numpy() + rng.uniform(0.2, 1.0, w.shape).astype("float32")
              for w in keras_layer.weights]
    keras_layer.set_weights(values)
    ours.set_weights(values)
    return keras_layer, ours


def _training_step(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * tf.sin(3.0 * y))
    gradients = tape.gradient(loss, [x] + layer.trainable_weights)
    return [y] + gradients + [w.value for w in layer.non_trainable_weights]


@pytest.mark.parametrize("shape,kwargs", CASES)
def test_training_outputs_gradients_and_moving_statistics_equal_keras(shape, kwargs):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(2.0, 3.0, shape).astype("float32"))
    keras_layer, ours = _pair(shape, kwargs, rng)
    start = ours.moving_mean.numpy().copy()
    expected = _training_step(keras_layer, x)
    got = _training_step(ours, x)
    names = (["outputs", "d/dx"] + [f"d/d{w.name}" for w in ours.trainable_weights]
             + [w.name for w in ours.non_trainable_weights])
    assert len(got) == len(expected) == len(names) == 1 + 1 + kwargs.get("scale", True) + \
        kwargs.get("center", True) + 2
    for name, a, b in zip(names, got, expected):
        scale = max(1.0, float(np.abs(b.numpy()).max()))
        tolerance = TOLERANCE.get(shape, 1e-5)
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=tolerance * scale,
                                   rtol=tolerance, err_msg=name)
    # The moving statistics moved: a test of the update, not of two no-ops.
    assert np.abs(ours.moving_mean.numpy() - start).min() > 1e-3


def _op_types(layer, x, training):
    graph = tf.function(lambda t: layer(t, training=training)).get_concrete_function(x).graph
    return {op.type for op in graph.get_operations()}


def test_fused_kernel_runs_in_training_and_keras_layer_in_inference():
    x = tf.zeros((2, 5, 5, 8))
    layer = BatchNormalization()
    layer.build(x.shape)
    assert "FusedBatchNormV3" in _op_types(layer, x, training=True)
    # Inference is Keras' own call (moving statistics, no fused op).
    assert "FusedBatchNormV3" not in _op_types(layer, x, training=False)
    assert "FusedBatchNormV3" not in _op_types(keras.layers.BatchNormalization(), x, True)


def test_frozen_layer_uses_its_moving_statistics_in_training():
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(1.0, 2.0, (2, 3, 3, 4)).astype("float32"))
    keras_layer, ours = _pair(x.shape, {}, rng)
    ours.trainable = keras_layer.trainable = False
    before = ours.moving_variance.numpy().copy()
    np.testing.assert_allclose(ours(x, training=True).numpy(),
                               keras_layer(x, training=True).numpy(), atol=1e-6)
    np.testing.assert_array_equal(ours.moving_variance.numpy(), before)
    assert "FusedBatchNormV3" not in _op_types(ours, x, training=True)


@pytest.mark.parametrize("shape,axis", [((2, 4, 5, 5), 1), ((3, 6, 8), -1)])
def test_other_layouts_and_ranks_are_keras_layer(shape, axis):
    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(0.0, 2.0, shape).astype("float32"))
    keras_layer, ours = _pair(shape, {}, rng, axis=axis)
    assert "FusedBatchNormV3" not in _op_types(ours, x, training=True)
    for a, b in zip(_training_step(ours, x), _training_step(keras_layer, x)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, rtol=1e-5)


def test_mixed_precision_outputs_float16_close_to_keras():
    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(0.5, 2.0, (2, 6, 6, 8)).astype("float16"))
    keras_layer = keras.layers.BatchNormalization(dtype="mixed_float16")
    ours = BatchNormalization(dtype="mixed_float16")
    expected, got = keras_layer(x, training=True), ours(x, training=True)
    assert got.dtype == expected.dtype == tf.float16
    np.testing.assert_allclose(got.numpy().astype("float32"),
                               expected.numpy().astype("float32"), atol=2e-3)
    np.testing.assert_allclose(ours.moving_variance.numpy(),
                               keras_layer.moving_variance.numpy(), rtol=1e-3)


def _small_network(layer_class):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3)(inputs)
    x = layer_class()(x)  # unnamed: its weights are addressed by class name
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(5)(x))


def test_fit_matches_keras_layer_and_weight_files_load_both_ways(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.normal(0.0, 1.0, (32, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 5, 32)
    keras.utils.set_random_seed(0)
    theirs = _small_network(keras.layers.BatchNormalization)
    ours = _small_network(BatchNormalization)
    ours.set_weights(theirs.get_weights())
    for model in (theirs, ours):
        model.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)

    # Weight files carry the same paths, in both directions.
    theirs.save_weights(tmp_path / "keras.weights.h5")
    ours.save_weights(tmp_path / "ours.weights.h5")
    fresh_ours, fresh_theirs = _small_network(BatchNormalization), _small_network(
        keras.layers.BatchNormalization)
    fresh_ours.load_weights(tmp_path / "keras.weights.h5")
    fresh_theirs.load_weights(tmp_path / "ours.weights.h5")
    np.testing.assert_allclose(fresh_ours(x), theirs(x), atol=1e-6)
    np.testing.assert_allclose(fresh_theirs(x), ours(x), atol=1e-6)

    # A .keras file restores the kerasnets layer, moving statistics included.
    ours.save(tmp_path / "ours.keras")
    loaded = keras.saving.load_model(tmp_path / "ours.keras")
    assert type(loaded.layers[2]) is BatchNormalization
    np.testing.assert_allclose(loaded(x), ours(x), atol=1e-6)


def test_a_keras_file_saved_with_keras_batch_normalization_loads_with_the_same_outputs(
        tmp_path, monkeypatch):
    # What every .keras file of a kerasnets model saved before this layer holds.
    from kerasnets.models import shufflenet

    with monkeypatch.context() as patch:
        patch.setattr(shufflenet, "BatchNormalization", keras.layers.BatchNormalization)
        old = kerasnets.build("shufflenet_v1", input_shape=(64, 64, 3), classes=10)
    assert not any(isinstance(l, BatchNormalization) for l in old.layers)
    x = np.random.default_rng(5).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    old.save(tmp_path / "old.keras")
    old.save_weights(tmp_path / "old.weights.h5")
    loaded = keras.saving.load_model(tmp_path / "old.keras")
    np.testing.assert_allclose(loaded(x, training=False), old(x, training=False), atol=1e-5)
    today = kerasnets.build("shufflenet_v1", input_shape=(64, 64, 3), classes=10)
    assert any(isinstance(l, BatchNormalization) for l in today.layers)
    today.load_weights(tmp_path / "old.weights.h5")
    np.testing.assert_allclose(today(x, training=False), old(x, training=False), atol=1e-5)
    np.testing.assert_allclose(today(x, training=True), old(x, training=True),
                               atol=1e-4, rtol=1e-4)


def test_every_family_builds_its_batch_normalization_from_kerasnets():
    for name, kwargs in [("resnet18", {}), ("mobilenet_v2", {}), ("densenet121", {}),
                         ("inception_v3", {}), ("shufflenet_v1", {}), ("se_resnet50", {}),
                         ("xception", {}), ("vgg11", {"batch_norm": True}),
                         ("bn_inception", {}), ("inception_resnet_v2", {})]:
        model = kerasnets.build(name, **kwargs)
        norms = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
        assert norms, name
        assert all(type(l) is BatchNormalization for l in norms), name
    # and no family module constructs Keras' layer directly.
    models = Path(kerasnets.__file__).parent / "models"
    direct = [p.name for p in models.glob("*.py") if "layers.BatchNormalization(" in p.read_text()]
    assert direct == []
