"""Stochastic depth as Huang et al. publish it: batch mode (branch not computed), uniform rule.

Huang, Sun, Liu, Sedra and Weinberger (2016), "Deep Networks with Stochastic
Depth", ECCV: `drop_path_mode="batch"` (kerasnets.layers.BatchStochasticDepth)
drops a block's residual branch for the whole mini-batch and then does not
compute it; `drop_path_rule="uniform"` gives every block p_l = p_L.
tests/backend_stochastic_depth_check.py holds the per-backend checks (skipped
work, BN statistics, fit); it runs here on tensorflow and in subprocesses on
jax and torch.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasnets
from backend_stochastic_depth_check import check, tiny_resnet20
from conftest import FAST_INIT, ROOT, TESTS
from kerasnets.layers import (
    BatchStochasticDepth,
    StochasticDepth,
    drop_path_rates,
    linear_decay_rates,
    uniform_rates,
)
from kerasnets.models import resnet

SCRIPT = os.path.join(TESTS, "backend_stochastic_depth_check.py")


def _np(x):
    return keras.ops.convert_to_numpy(x)


# ---------------------------------------------------------------- survival rules


def test_uniform_and_linear_rules():
    assert uniform_rates(0.5, 4) == [0.5, 0.5, 0.5, 0.5]
    assert drop_path_rates(0.5, 4, "uniform") == [0.5] * 4
    assert drop_path_rates(0.5, 4) == linear_decay_rates(0.5, 4) == [0.125, 0.25, 0.375, 0.5]
    assert drop_path_rates(0.5, 4, "linear") == [0.125, 0.25, 0.375, 0.5]
    # Expected depth of the 54-block ResNet-110 (section 3): L p_L uniform, (3L - 1) / 4 linear.
    assert sum(1 - r for r in uniform_rates(0.5, 54)) == pytest.approx(27)
    assert sum(1 - r for r in linear_decay_rates(0.5, 54)) == pytest.approx((3 * 54 - 1) / 4)


@pytest.mark.parametrize("call, fragments", [
    (lambda: drop_path_rates(0.5, 4, "exponential"),
     ("`drop_path_rule`", "'linear', 'uniform'", "'exponential'")),
    (lambda: uniform_rates(1.0, 4), ("`drop_path_rate`", "[0, 1)", "1.0")),
    (lambda: uniform_rates(0.5, 0), ("`num_blocks`", "[1, inf)", "0")),
    (lambda: kerasnets.build("resnet20", drop_path_rate=0.5, drop_path_rule="constant"),
     ("`drop_path_rule`", "'constant'")),
    (lambda: kerasnets.build("resnet20", drop_path_rate=0.5, drop_path_mode="block"),
     ("`drop_path_mode`", "'sample', 'batch'", "'block'")),
])
def test_invalid_arguments_are_named(call, fragments):
    with pytest.raises(ValueError) as error:
        call()
    for fragment in fragments:
        assert fragment in str(error.value)


def test_uniform_rule_sets_every_block_rate():
    model = kerasnets.build("resnet20", drop_path_rate=0.3, drop_path_rule="uniform",
                            input_shape=(16, 16, 3))
    rates = [layer.rate for layer in model.layers if isinstance(layer, StochasticDepth)]
    assert rates == [pytest.approx(0.3)] * 9
    batch = tiny_resnet20(drop_path_rule="uniform")
    rates = [layer.rate for layer in batch.layers if isinstance(layer, BatchStochasticDepth)]
    assert rates == [pytest.approx(0.5)] * 9


# ---------------------------------------------------------------- structure


def test_batch_mode_structure_keeps_names_adds_and_parameters():
    plain = kerasnets.build("resnet20", input_shape=(16, 16, 3))
    model = tiny_resnet20()
    assert model.count_params() == plain.count_params() == 271_098
    wrappers = [layer for layer in model.layers if isinstance(layer, BatchStochasticDepth)]
    assert [w.name for w in wrappers] == [
        f"conv{s}_block{b}_drop" for s in (2, 3, 4) for b in (1, 2, 3)]
    assert [w.rate for w in wrappers] == pytest.approx(linear_decay_rates(0.5, 9))
    for wrapper in wrappers:
        block = wrapper.name[:-len("_drop")]
        add = model.get_layer(f"{block}_add")
        shortcut, branch = add.input
        assert branch._keras_history[0] is wrapper
        assert shortcut._keras_history[0] is not wrapper
        inner = [layer.name for layer in wrapper.branch.layers]
        assert inner[0] == f"{block}_branch_input"
        assert all(name.startswith(f"{block}_") for name in inner)
        assert f"{block}_1_conv" in inner and f"{block}_2_bn" in inner
    # The outer graph keeps the shortcut layers and no branch layer.
    outer = {layer.name for layer in model.layers}
    assert "conv3_block1_0_pad" in outer and "conv3_block1_1_conv" not in outer
    # Every weight of the plain network is somewhere, under its name.
    nested = resnet.named_layers(model)
    for layer in plain.layers[1:]:
        assert [w.shape for w in nested[layer.name].weights] == [w.shape for w in layer.weights]


def test_profile_counts_the_nested_branches():
    plain = kerasnets.profile(kerasnets.build("resnet20", input_shape=(16, 16, 3)))
    batch = kerasnets.profile(tiny_resnet20())
    assert (batch.params, batch.macs) == (plain.params, plain.macs)


def test_no_wrapper_without_drop_path():
    model = kerasnets.build("resnet20", drop_path_mode="batch", drop_path_rule="uniform",
                            input_shape=(16, 16, 3))
    plain = kerasnets.build("resnet20", input_shape=(16, 16, 3))
    assert [layer.name for layer in model.layers[1:]] == [layer.name for layer in plain.layers[1:]]
    assert not any(isinstance(layer, (BatchStochasticDepth, StochasticDepth))
                   for layer in model.layers)


def test_preact_branch_starts_where_the_shortcut_leaves():
    # The first unit's shortcut is taken after its pre-activation (Identity
    # Mappings, appendix): that BN-ReLU stays outside the branch, shared; in
    # the other units it is the branch's own.
    model = tiny_resnet20(preact=True)
    first = [layer.name for layer in model.get_layer("conv2_block1_drop").branch.layers]
    second = [layer.name for layer in model.get_layer("conv2_block2_drop").branch.layers]
    assert "conv2_block1_preact_bn" not in first
    assert "conv2_block1_preact_relu" in {layer.name for layer in model.layers}
    assert second[1:3] == ["conv2_block2_preact_bn", "conv2_block2_preact_relu"]
    assert model.get_layer("conv2_block2_out").input[1]._keras_history[0].name == (
        "conv2_block2_drop")


# ---------------------------------------------------------------- behaviour


def _block_model(rate=0.5, scale_at="train"):
    """One CIFAR down-sampling block (16 -> 32 channels, stride 2, option A) in batch mode."""
    inputs = keras.Input((8, 8, 16))
    with resnet.drop_path_mode("batch"):
        outputs = resnet.basic_block(inputs, 32, 2, name="conv3_block1", shortcut="zero_pad",
                                     use_bias=False, drop_rate=rate, drop_scale_at=scale_at)
    return keras.Model(inputs, outputs)


def test_dropped_block_is_its_shortcut_for_the_whole_batch():
    keras.utils.set_random_seed(1)
    block = _block_model(rate=0.5)
    wrapper = block.get_layer("conv3_block1_drop")
    x = np.random.default_rng(0).normal(size=(6, 8, 8, 16)).astype("float32")
    shortcut = _np(keras.Model(block.input, block.get_layer("conv3_block1_add").input[0])(x))
    dropped = np.maximum(shortcut, 0.0)  # relu(shortcut + 0)
    kept = np.maximum(shortcut + _np(wrapper.branch(x, training=True)) / 0.5, 0.0)
    seen = []
    for _ in range(16):
        out = _np(block(x, training=True))
        if np.allclose(out, dropped, atol=1e-6):
            seen.append("dropped")
        else:
            # Not a per-sample mix: every sample has its full block.
            np.testing.assert_allclose(out, kept, rtol=1e-5, atol=1e-5)
            seen.append("kept")
    assert set(seen) == {"dropped", "kept"}, seen  # 2 * 0.5 ** 16 chance of a false failure
    # Inference: always the full block, unscaled ("train" convention).
    full = np.maximum(shortcut + _np(wrapper.branch(x, training=False)), 0.0)
    np.testing.assert_allclose(_np(block(x, training=False)), full, rtol=1e-5, atol=1e-5)


def test_forced_keep_and_the_test_time_convention():
    block = _block_model(rate=0.25, scale_at="test")
    wrapper = block.get_layer("conv3_block1_drop")
    x = np.random.default_rng(1).normal(size=(3, 8, 8, 16)).astype("float32")
    branch_train = _np(wrapper.branch(x, training=True))
    np.testing.assert_allclose(_np(wrapper(x, training=True, keep=True)), branch_train,
                               rtol=1e-5, atol=1e-6)  # unscaled in training
    assert not np.any(_np(wrapper(x, training=True, keep=False)))
    np.testing.assert_allclose(_np(wrapper(x, training=False)),
                               0.75 * _np(wrapper.branch(x, training=False)),
                               rtol=1e-5, atol=1e-6)  # p * f(x) at inference
    # keep is only a training-time decision.
    np.testing.assert_allclose(_np(wrapper(x, training=False, keep=False)),
                               _np(wrapper(x, training=False)))


def test_dropped_branch_weights_get_zero_gradients():
    # Not none: momentum and weight decay still act on them, as in the paper's Torch code.
    wrapper = _block_model().get_layer("conv3_block1_drop")
    x = np.ones((2, 8, 8, 16), "float32")
    for keep in (False, tf.constant(False)):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(wrapper(x, training=True, keep=keep))
        grads = tape.gradient(loss, wrapper.branch.trainable_variables)
        assert all(g is not None and not np.any(_np(g)) for g in grads)


def test_skipped_branch_on_tensorflow():
    # Skipped work, BN statistics and fit, as on jax and torch below.
    _assert_backend_result(check(), "tensorflow")


def _assert_backend_result(result, backend):
    assert result["backend"] == backend
    assert result["blocks"] == 9
    assert result["dropped_max_abs"] == 0.0 and result["dropped_shape"] == [4, 8, 8, 32]
    assert not result["dropped_stats_changed"], "a dropped block must not update its BN"
    assert result["kept_stats_changed"]
    assert result["kept_max_diff"] < 1e-5
    if backend in ("tensorflow", "torch"):
        # Eager: the dropped branch's convolution is not called at all.
        assert (result["dropped_calls"], result["kept_calls"]) == (0, 1)
    if backend in ("tensorflow", "jax"):
        # Compiled: one conditional per block in the traced training call.
        assert result["wrapper_conditionals"] == 1
        assert result["model_conditionals"] == 9
    assert result["fit_steps"] == 2 and np.isfinite(result["fit_loss"])


def test_skipped_branch_and_fit_on_jax_and_torch(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    procs = {}
    for backend in ("jax", "torch"):
        procs[backend] = subprocess.Popen(
            # fast_init: numpy initializers (on jax each random initializer compiles).
            [sys.executable, FAST_INIT, SCRIPT, str(tmp_path / f"{backend}.json")],
            env={**env, "KERAS_BACKEND": backend}, cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
    for backend, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        if proc.returncode:
            pytest.fail(f"KERAS_BACKEND={backend} {SCRIPT} failed:\n{out[-2000:]}\n{err[-6000:]}")
        _assert_backend_result(json.loads((tmp_path / f"{backend}.json").read_text()), backend)


@pytest.mark.slow
def test_fit_under_xla_on_tensorflow():
    # keras' jit_compile="auto" is False on a CPU-only tensorflow; the
    # conditionals must compile under XLA too (on an accelerator it is True).
    model = resnet.CifarResNet(8, input_shape=(16, 16, 3), drop_path_rate=0.5,
                               drop_path_mode="batch")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=True)
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(8, 16, 16, 3)).astype("float32")
    history = model.fit(x, rng.integers(0, 10, size=8), batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    assert int(_np(model.optimizer.iterations)) == 2


# ---------------------------------------------------------------- saving and weights


def test_keras_file_round_trip(tmp_path):
    model = tiny_resnet20(drop_path_scale_at="test")
    x = np.random.default_rng(3).uniform(size=(2, 16, 16, 3)).astype("float32")
    path = tmp_path / "batch.keras"
    model.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(_np(again(x, training=False)), _np(model(x, training=False)),
                               rtol=1e-6, atol=1e-6)
    wrapper = again.get_layer("conv4_block3_drop")
    assert isinstance(wrapper, BatchStochasticDepth)
    assert (wrapper.rate, wrapper.scale_at) == (pytest.approx(0.5), "test")
    assert wrapper.branch.get_layer("conv4_block3_2_bn").name == "conv4_block3_2_bn"


def test_weights_load_into_a_batch_mode_network(tmp_path):
    plain = kerasnets.build("resnet20", input_shape=(16, 16, 3))
    rng = np.random.default_rng(4)
    plain.set_weights([rng.normal(size=w.shape).astype("float32") * 0.1
                       + (1.0 if "variance" in w.path else 0.0) for w in plain.weights])
    path = tmp_path / "plain.weights.h5"
    plain.save_weights(path)
    model = tiny_resnet20(weights=str(path))
    x = rng.uniform(size=(2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(_np(model(x, training=False)), _np(plain(x, training=False)),
                               rtol=1e-5, atol=1e-5)


def test_gated_unit_branch_takes_the_gate_and_matches_sample_mode():
    # Exclusive gating ("Identity Mappings", Fig. 2c): the gate g(x) feeds the
    # shortcut and the branch, so the branch model takes (x, g(x)).
    kwargs = dict(input_shape=(16, 16, 3), drop_path_rate=0.5,
                  shortcut_variant="exclusive_gating")
    sample = kerasnets.build("resnet20", **kwargs)
    batch = kerasnets.build("resnet20", drop_path_mode="batch", **kwargs)
    branch = batch.get_layer("conv2_block2_drop").branch
    assert [t.name for t in branch.inputs] == ["conv2_block2_branch_input",
                                               "conv2_block2_branch_input_2"]
    assert "conv2_block2_residual_gate" in [layer.name for layer in branch.layers]
    targets = resnet.named_layers(batch)
    for layer in sample.layers:
        if layer.weights:
            targets[layer.name].set_weights(layer.get_weights())
    x = np.random.default_rng(5).uniform(size=(2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(_np(batch(x, training=False)), _np(sample(x, training=False)),
                               rtol=1e-5, atol=1e-5)
