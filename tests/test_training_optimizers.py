"""Weight decay both ways against hand-computed updates; label smoothing and auxiliary weights."""

import keras
import numpy as np
import pytest

import kerasnets.models.googlenet  # noqa: F401  (registers googlenet)
from kerasnets.training import (
    SGD,
    SparseCategoricalCrossentropy,
    TrainConfig,
    build_model,
    build_optimizer,
    compile_model,
    override,
    reinitialize,
    repeat_labels,
)

LR, MOMENTUM, WD = 0.01, 0.9, 0.0005
W0 = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
GRADS = [np.array([[0.1, 0.2], [-0.3, 0.4]], np.float32),
         np.array([[-0.5, 0.1], [0.2, 0.0]], np.float32)]


def run_steps(optimizer, w0=W0, grads=GRADS):
    variable = keras.Variable(w0.copy(), name="kernel")
    for grad in grads:
        optimizer.apply([keras.ops.convert_to_tensor(grad)], [variable])
    return np.array(variable)


def test_coupled_weight_decay_is_the_alexnet_update_rule():
    # Krizhevsky et al. 2012, section 5: v <- 0.9 v - 0.0005 eps w - eps g;  w <- w + v.
    w, v = W0.astype(np.float64), np.zeros_like(W0, np.float64)
    for grad in GRADS:
        v = MOMENTUM * v - WD * LR * w - LR * grad
        w = w + v
    config = override(TrainConfig(), optimizer="sgd", learning_rate=LR, momentum=MOMENTUM,
                      weight_decay=WD, weight_decay_mode="coupled",
                      schedule={"name": "constant"})
    optimizer = build_optimizer(config)
    assert isinstance(optimizer, SGD) and optimizer.l2 == WD and optimizer.weight_decay is None
    np.testing.assert_allclose(run_steps(optimizer), w, rtol=1e-6, atol=1e-7)


def test_decoupled_weight_decay_stays_out_of_the_momentum():
    # Keras' (AdamW-style) decay: w <- w - lr * wd * w, then the plain momentum step.
    w, v = W0.astype(np.float64), np.zeros_like(W0, np.float64)
    for grad in GRADS:
        w = w - LR * WD * w
        v = MOMENTUM * v - LR * grad
        w = w + v
    config = override(TrainConfig(), optimizer="sgd", learning_rate=LR, momentum=MOMENTUM,
                      weight_decay=WD, weight_decay_mode="decoupled",
                      schedule={"name": "constant"})
    optimizer = build_optimizer(config)
    assert optimizer.l2 == 0.0 and optimizer.weight_decay == WD
    result = run_steps(optimizer)
    np.testing.assert_allclose(result, w, rtol=1e-6, atol=1e-7)
    # The two rules differ (the coupled decay accumulates in the velocity).
    coupled = run_steps(build_optimizer(override(config, weight_decay_mode="coupled")))
    assert np.abs(coupled - result).max() > 1e-7


def test_biases_do_not_decay_unless_asked():
    bias0, grad = np.array([1.0, -1.0], np.float32), np.array([0.5, 0.5], np.float32)
    for mode in ("coupled", "decoupled"):
        config = override(TrainConfig(), optimizer="sgd", learning_rate=0.1, weight_decay=0.1,
                          weight_decay_mode=mode, schedule={"name": "constant"})
        variable = keras.Variable(bias0.copy(), name="bias")
        build_optimizer(config).apply([keras.ops.convert_to_tensor(grad)], [variable])
        np.testing.assert_allclose(np.array(variable), bias0 - 0.1 * grad, rtol=1e-6)
        variable = keras.Variable(bias0.copy(), name="bias")
        build_optimizer(override(config, weight_decay_on="all")).apply(
            [keras.ops.convert_to_tensor(grad)], [variable])
        np.testing.assert_allclose(np.array(variable), bias0 - 0.1 * (grad + 0.1 * bias0),
                                   rtol=1e-6)


def test_schedules_follow_the_papers():
    config = override(TrainConfig(), optimizer="sgd", learning_rate=0.1, epochs=90,
                      schedule={"name": "step", "boundaries": [30, 60]})
    rate = build_optimizer(config, steps_per_epoch=10).learning_rate
    schedule = build_optimizer(config, steps_per_epoch=10)._learning_rate
    assert [float(schedule(s)) for s in (0, 299, 300, 600, 899)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.001, 0.001])
    assert float(rate) == pytest.approx(0.1)
    inception = override(config, learning_rate=0.045,
                         schedule={"name": "exponential", "rate": 0.94, "every": 2})
    schedule = build_optimizer(inception, steps_per_epoch=10)._learning_rate
    assert [float(schedule(s)) for s in (0, 19, 20, 45)] == pytest.approx(
        [0.045, 0.045, 0.045 * 0.94, 0.045 * 0.94 ** 2])
    linear = override(config, learning_rate=0.5, epochs=4, schedule={"name": "linear"})
    schedule = build_optimizer(linear, steps_per_epoch=10)._learning_rate
    assert [float(schedule(s)) for s in (0, 20, 40)] == pytest.approx([0.5, 0.25, 0.0])
    assert float(build_optimizer(override(config, schedule={"name": "plateau"})).learning_rate) \
        == pytest.approx(0.1)
    clipped = build_optimizer(override(config, global_clipnorm=2.0))
    assert clipped.global_clipnorm == 2.0


def test_label_smoothing_changes_the_loss_as_documented():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    labels = np.array([0, 2])
    eps = 0.1
    smoothed = float(SparseCategoricalCrossentropy(label_smoothing=eps)(labels, probabilities))
    ce = -np.log(probabilities[[0, 1], labels])
    uniform = -np.log(probabilities).mean(axis=1)
    assert smoothed == pytest.approx(np.mean((1 - eps) * ce + eps * uniform), rel=1e-5)
    plain = float(SparseCategoricalCrossentropy()(labels, probabilities))
    assert plain == pytest.approx(ce.mean(), rel=1e-5)
    logits = np.log(probabilities)
    assert float(SparseCategoricalCrossentropy(eps, from_logits=True)(labels, logits)) == \
        pytest.approx(smoothed, rel=1e-5)
    with pytest.raises(ValueError, match=r"`label_smoothing` must be in \[0, 1\); got 1"):
        SparseCategoricalCrossentropy(label_smoothing=1)


def test_auxiliary_weight_and_label_smoothing_in_the_compiled_loss():
    shape = (65, 65, 3)
    config = override(TrainConfig(), model="googlenet", model_args={"aux_logits": True},
                      optimizer="sgd", label_smoothing=0.1)
    keras.utils.set_random_seed(0)
    model = build_model(config, shape, classes=5)
    x = np.random.default_rng(0).uniform(-1, 1, (4, *shape)).astype("float32")
    y = np.array([0, 1, 2, 3])
    outputs = model.predict(x, verbose=0)
    per_head = [float(SparseCategoricalCrossentropy(0.1)(y, out)) for out in outputs]
    for aux_weight, expected in ((None, 0.3), (0.0, 0.0), (1.0, 1.0)):
        compile_model(model, override(config, aux_weight=aux_weight), run_eagerly=True)
        loss = model.evaluate(x, repeat_labels(model, y), verbose=0, return_dict=True)["loss"]
        assert loss == pytest.approx(per_head[0] + expected * (per_head[1] + per_head[2]),
                                     rel=1e-4)


def test_initializers_redraw_the_kernels():
    config = override(TrainConfig(), initializer={"name": "normal", "stddev": 0.01})
    keras.utils.set_random_seed(0)
    model = build_model(config, (32, 32, 1), classes=10)
    kernels = [np.array(v) for v in model.trainable_variables if v.name == "kernel"]
    assert len(kernels) == 5
    big = np.concatenate([k.ravel() for k in kernels])
    assert np.std(big) == pytest.approx(0.01, rel=0.05) and abs(np.mean(big)) < 1e-3
    biases = [np.array(v) for v in model.trainable_variables if v.name == "bias"]
    assert all(not b.any() for b in biases)  # the builder's zeros are kept
    assert reinitialize(model, "default") == 0
    assert reinitialize(model, "he_normal", seed=1) == 5
    first = np.array(model.trainable_variables[0])
    fan_in = np.prod(first.shape[:-1])
    assert np.std(first) == pytest.approx(np.sqrt(2 / fan_in), rel=0.35)
