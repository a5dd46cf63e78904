"""kerasnets.layers: the papers' definitions, serialization, and the three backends."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import importlib.util  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from kerasnets.layers import (  # noqa: E402
    ChannelShuffle,
    LocalResponseNormalization,
    SqueezeExcite,
    StochasticDepth,
    linear_decay_rates,
)

CHECK_SCRIPT = Path(__file__).with_name("backend_layers_check.py")


def _load_check_module():
    spec = importlib.util.spec_from_file_location("backend_layers_check", CHECK_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load_check_module()


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _large_input(shape=(2, 5, 6, 12), seed=0):
    """Activations large enough that the LRN denominator is far from k ** beta."""
    return (np.random.default_rng(seed).normal(size=shape) * 30.0).astype("float32")


def _apply(layer, x, data_format="channels_last", training=False):
    """Through a Functional model with unknown batch and spatial sizes."""
    channels = x.shape[-1] if data_format == "channels_last" else x.shape[1]
    spatial = (None,) * (x.ndim - 2)
    shape = spatial + (channels,) if data_format == "channels_last" else (channels,) + spatial
    inputs = keras.Input(shape=shape)
    outputs = layer(inputs)
    assert tuple(outputs.shape) == (None,) + shape
    return _np(keras.Model(inputs, outputs)(x, training=training))


def _raises(factory, *fragments):
    with pytest.raises(ValueError) as info:
        factory()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


# --------------------------------------------------------------------------- LRN


@pytest.mark.parametrize("k, n, alpha, beta", check.LRN_CONFIGS)
def test_lrn_equals_tf_local_response_normalization(k, n, alpha, beta):
    tf = pytest.importorskip("tensorflow")
    x = _large_input()
    expected = tf.nn.local_response_normalization(
        x, depth_radius=(n - 1) // 2, bias=k, alpha=alpha, beta=beta
    ).numpy()
    got = _apply(LocalResponseNormalization(k, n, alpha, beta), x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # The neighbours' energy matters here: not just a division by k ** beta.
    no_neighbours = x / k**beta
    assert np.max(np.abs(got - no_neighbours) / np.abs(no_neighbours)) > 0.05
    assert np.max(np.abs(got - x) / np.abs(x)) > 0.05


@pytest.mark.parametrize("k, n, alpha, beta", check.LRN_CONFIGS)
def test_lrn_tensorflow_kernel_equals_the_generic_form_with_gradients(k, n, alpha, beta):
    # On tensorflow a channels-last 4-D input goes through tf.nn.local_response_normalization;
    # other ranks (and jax, torch) through the window sum of shifted slices. Same values,
    # same gradients: the positions of a (B, H, W, C) batch as a (B * H, W, C) one.
    tf = pytest.importorskip("tensorflow")
    x = _large_input()
    layer = LocalResponseNormalization(k, n, alpha, beta)

    def value_and_gradient(t):
        t = tf.constant(t)
        with tf.GradientTape() as tape:
            tape.watch(t)
            y = layer(t)
            loss = tf.reduce_sum(tf.sin(y))
        return y.numpy(), tape.gradient(loss, t).numpy()

    fast = value_and_gradient(x)
    generic = value_and_gradient(x.reshape(-1, *x.shape[2:]))
    for a, b in zip(fast, generic):
        np.testing.assert_allclose(a, b.reshape(x.shape), rtol=1e-5, atol=1e-6)


def test_lrn_truncates_the_window_at_the_channel_edges():
    x = _large_input(shape=(1, 1, 1, 6))
    k, n, alpha, beta = 1.0, 5, 1e-3, 0.75
    sq = x[0, 0, 0] ** 2
    expected = [
        x[0, 0, 0, i] / (k + alpha * sq[max(0, i - 2): i + 3].sum()) ** beta for i in range(6)
    ]
    got = _apply(LocalResponseNormalization(k, n, alpha, beta), x)[0, 0, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_lrn_channels_first_is_the_transpose_of_channels_last():
    x = _large_input()
    last = _apply(LocalResponseNormalization(data_format="channels_last"), x)
    first = _apply(
        LocalResponseNormalization(data_format="channels_first"),
        np.transpose(x, (0, 3, 1, 2)),
        "channels_first",
    )
    np.testing.assert_allclose(np.transpose(first, (0, 2, 3, 1)), last, rtol=1e-6)


def test_lrn_mixed_precision_does_not_overflow():
    x = _large_input() * 10.0  # squares up to ~1e7, far past float16's 65504
    full = _np(LocalResponseNormalization(k=1.0, alpha=1e-3)(x))
    half = _np(LocalResponseNormalization(k=1.0, alpha=1e-3, dtype="mixed_float16")(x))
    assert half.dtype == np.float16 and np.all(np.isfinite(half))
    np.testing.assert_allclose(half.astype("float32"), full, rtol=2e-3, atol=1e-3)


def test_lrn_default_data_format_follows_keras_config():
    assert LocalResponseNormalization().data_format == keras.config.image_data_format()


@pytest.mark.parametrize(
    "kwargs, fragments",
    [
        ({"n": 4}, ("`n`", "odd", "[1, inf)", "4")),
        ({"n": 0}, ("`n`", "[1, inf)", "got 0")),
        ({"n": 5.0}, ("`n`", "5.0")),
        ({"k": 0.0}, ("`k`", "(0, inf)", "0.0")),
        ({"alpha": -1e-4}, ("`alpha`", "[0, inf)", "-0.0001")),
        ({"beta": -0.75}, ("`beta`", "[0, inf)", "-0.75")),
        ({"data_format": "NHWC"}, ("`data_format`", "channels_first", "'NHWC'")),
    ],
)
def test_lrn_rejects_invalid_arguments(kwargs, fragments):
    _raises(lambda: LocalResponseNormalization(**kwargs), *fragments)


# --------------------------------------------------------------- ChannelShuffle


def test_channel_shuffle_is_the_papers_permutation():
    channels, groups = 12, 3
    x = np.broadcast_to(np.arange(channels, dtype="float32"), (2, 3, 4, channels)).copy()
    got = _apply(ChannelShuffle(groups), x)
    reference = np.arange(channels).reshape(groups, channels // groups).T.reshape(-1)
    formula = [(j % groups) * (channels // groups) + j // groups for j in range(channels)]
    np.testing.assert_array_equal(reference, formula)
    np.testing.assert_array_equal(got, np.broadcast_to(reference, got.shape))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("groups", [2, 3, 4, 6])
def test_channel_shuffle_twice_with_complementary_groups_is_identity(groups, data_format):
    x = _large_input(shape=(2, 3, 5, 12))
    if data_format == "channels_first":
        x = np.transpose(x, (0, 3, 1, 2))
    once = _apply(ChannelShuffle(groups, data_format), x, data_format)
    assert not np.array_equal(once, x)
    twice = _apply(ChannelShuffle(12 // groups, data_format), once, data_format)
    np.testing.assert_array_equal(twice, x)


def test_channel_shuffle_channels_first_is_the_transpose_of_channels_last():
    x = _large_input(shape=(2, 3, 5, 12))
    last = _apply(ChannelShuffle(4, "channels_last"), x)
    first = _apply(ChannelShuffle(4, "channels_first"), np.transpose(x, (0, 3, 1, 2)),
                   "channels_first")
    np.testing.assert_array_equal(np.transpose(first, (0, 2, 3, 1)), last)


def test_channel_shuffle_needs_channels_divisible_by_groups():
    _raises(lambda: ChannelShuffle(5)(keras.Input(shape=(None, None, 12))), "12", "5",
            "`groups`", "divisible")


@pytest.mark.parametrize("groups", [0, -3, 2.5, True])
def test_channel_shuffle_rejects_invalid_groups(groups):
    _raises(lambda: ChannelShuffle(groups), "`groups`", "[1, inf)", repr(groups))


# -------------------------------------------------------------- StochasticDepth

SURVIVAL_BATCH = 4000


def _draw(layer, x, calls=2):
    return np.concatenate([_np(layer(x, training=True)) for _ in range(calls)])


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_stochastic_depth_keeps_each_sample_with_probability_p(rate):
    p = 1.0 - rate
    x = np.random.default_rng(1).uniform(0.5, 1.5, size=(SURVIVAL_BATCH, 2, 2, 3))
    x = x.astype("float32")
    out = _draw(StochasticDepth(rate, seed=42), x)
    xs = np.concatenate([x, x])
    kept = np.all(np.isclose(out, xs / p, rtol=1e-6), axis=(1, 2, 3))
    dropped = np.all(out == 0.0, axis=(1, 2, 3))
    # One draw per sample, broadcast over H, W and C: all or nothing.
    assert np.all(kept ^ dropped)
    sigma = np.sqrt(p * (1 - p) / len(out))
    assert abs(kept.mean() - p) < 4 * sigma


def test_stochastic_depth_training_output_is_unbiased():
    rate = 0.3
    p = 1.0 - rate
    x = np.full((SURVIVAL_BATCH, 1, 1, 1), 2.0, "float32")
    out = _draw(StochasticDepth(rate, scale_at="train", seed=5), x)
    # Each output is 2 / p with probability p: mean 2, std 2 * sqrt((1 - p) / p).
    sigma = 2.0 * np.sqrt((1 - p) / p / len(out))
    assert abs(out.mean() - 2.0) < 4 * sigma


def test_stochastic_depth_scale_at_test_is_unscaled_in_training():
    x = np.random.default_rng(2).uniform(0.5, 1.5, size=(256, 2, 2, 3)).astype("float32")
    out = _np(StochasticDepth(0.5, scale_at="test", seed=0)(x, training=True))
    kept = np.all(out == x, axis=(1, 2, 3))
    dropped = np.all(out == 0.0, axis=(1, 2, 3))
    assert np.all(kept ^ dropped) and 0 < kept.sum() < len(x)


@pytest.mark.parametrize("scale_at, factor", [("train", 1.0), ("test", 0.75)])
def test_stochastic_depth_inference_is_deterministic(scale_at, factor):
    x = _large_input()
    layer = StochasticDepth(0.25, scale_at=scale_at)
    first, second = _apply(layer, x), _np(layer(x, training=False))
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, factor * x, rtol=1e-7)
    np.testing.assert_array_equal(_np(layer(x)), first)


@pytest.mark.parametrize("scale_at", ["train", "test"])
def test_stochastic_depth_rate_zero_is_identity(scale_at):
    x = _large_input()
    layer = StochasticDepth(0.0, scale_at=scale_at)
    np.testing.assert_array_equal(_apply(layer, x, training=True), x)
    np.testing.assert_array_equal(_np(layer(x, training=False)), x)


def test_stochastic_depth_same_seed_same_draws():
    x = np.ones((64, 1, 1, 1), "float32")
    a = _np(StochasticDepth(0.5, seed=11)(x, training=True))
    b = _np(StochasticDepth(0.5, seed=11)(x, training=True))
    np.testing.assert_array_equal(a, b)


def test_linear_decay_expected_depth_of_the_110_layer_resnet():
    # 54 residual blocks, p_L = 0.5: E[depth] = sum_l p_l = (3L - 1) / 4 (paper, section 3).
    blocks = 54
    rates = linear_decay_rates(0.5, blocks)
    assert len(rates) == blocks
    assert rates[0] == pytest.approx(0.5 / blocks) and rates[-1] == 0.5
    assert all(a < b for a, b in zip(rates, rates[1:]))
    assert sum(1.0 - r for r in rates) == pytest.approx((3 * blocks - 1) / 4, rel=1e-12, abs=0)
    assert linear_decay_rates(0.0, 3) == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "factory, fragments",
    [
        (lambda: StochasticDepth(1.0), ("`rate`", "[0, 1)", "1.0")),
        (lambda: StochasticDepth(-0.1), ("`rate`", "[0, 1)", "-0.1")),
        (lambda: StochasticDepth(0.1, scale_at="both"), ("`scale_at`", "'train'", "'both'")),
        (lambda: StochasticDepth(0.1, seed=1.5), ("`seed`", "1.5")),
        (lambda: linear_decay_rates(1.0, 10), ("`drop_path_rate`", "[0, 1)", "1.0")),
        (lambda: linear_decay_rates(0.5, 0), ("`num_blocks`", "[1, inf)", "0")),
        (lambda: linear_decay_rates(0.5, 2.0), ("`num_blocks`", "2.0")),
    ],
)
def test_stochastic_depth_rejects_invalid_arguments(factory, fragments):
    _raises(factory, *fragments)


# ---------------------------------------------------------------- SqueezeExcite


def test_squeeze_excite_parameter_count():
    layer = SqueezeExcite(ratio=16)
    layer.build((None, 7, 7, 256))
    # C * C/r + C/r + C/r * C + C, as in the paper's section 4 (biases included).
    assert layer.count_params() == 256 * 16 + 16 + 16 * 256 + 256 == 8464
    assert (layer.reduce.name, layer.reduce.units) == ("reduce", 16)
    assert (layer.expand.name, layer.expand.units) == ("expand", 256)
    assert layer.reduce.use_bias and layer.expand.use_bias


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_squeeze_excite_multiply_adds_in_profile(data_format):
    from kerasnets import profile

    shape = (7, 5, 256) if data_format == "channels_last" else (256, 7, 5)
    inputs = keras.Input(shape=shape)
    model = keras.Model(inputs, SqueezeExcite(ratio=16, data_format=data_format, name="se")(inputs))
    # The two FC layers (256 -> 16 -> 256) and one product per element for the rescale.
    assert profile(model).macs == 2 * 256 * 16 + 7 * 5 * 256 == 17_152
    layer = model.get_layer("se")
    with pytest.raises(ValueError, match="known spatial size"):
        layer.multiply_adds((None, None, None, 256) if data_format == "channels_last"
                            else (None, 256, None, None), None)


def test_squeeze_excite_min_units():
    small = SqueezeExcite(ratio=16)
    small.build((None, 4, 4, 8))
    assert small.reduce.units == 1
    floor = SqueezeExcite(ratio=16, min_units=4)
    floor.build((None, 4, 4, 8))
    assert floor.reduce.units == 4


def _se_numpy(layer, x, data_format):
    (w1, b1), (w2, b2) = layer.reduce.get_weights(), layer.expand.get_weights()
    axes = (1, 2) if data_format == "channels_last" else (2, 3)
    hidden = np.maximum(x.mean(axis=axes) @ w1 + b1, 0.0)
    gate = 1.0 / (1.0 + np.exp(-(hidden @ w2 + b2)))
    if data_format == "channels_last":
        return x * gate[:, None, None, :]
    return x * gate[:, :, None, None]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_squeeze_excite_equals_numpy_reference(data_format):
    x = _large_input(shape=(3, 5, 4, 32)) / 30.0
    if data_format == "channels_first":
        x = np.transpose(x, (0, 3, 1, 2))
    layer = SqueezeExcite(ratio=4, data_format=data_format)
    _apply(layer, x, data_format)
    # Random biases too, so that the relu and the gate are not trivial.
    rng = np.random.default_rng(3)
    for sub in (layer.reduce, layer.expand):
        kernel, bias = sub.get_weights()
        sub.set_weights([kernel, rng.normal(size=bias.shape).astype("float32")])
    got = _np(layer(x))
    np.testing.assert_allclose(got, _se_numpy(layer, x, data_format), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ratio", [0, -4, "16", None])
def test_squeeze_excite_rejects_invalid_ratio(ratio):
    _raises(lambda: SqueezeExcite(ratio=ratio), "`ratio`", "(0, inf)", repr(ratio))


def test_squeeze_excite_rejects_invalid_min_units():
    _raises(lambda: SqueezeExcite(min_units=0), "`min_units`", "[1, inf)", "0")


# ------------------------------------------------------------- serialization

LAYER_FACTORIES = {
    "lrn": lambda: LocalResponseNormalization(k=1.0, n=3, alpha=0.05, beta=0.5, name="lrn"),
    "channel_shuffle": lambda: ChannelShuffle(4, name="shuffle"),
    "stochastic_depth": lambda: StochasticDepth(0.3, scale_at="test", seed=9, name="drop"),
    "squeeze_excite": lambda: SqueezeExcite(ratio=4, min_units=2, name="se"),
}


@pytest.mark.parametrize("kind", sorted(LAYER_FACTORIES))
def test_get_config_round_trip(kind):
    layer = LAYER_FACTORIES[kind]()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    rebuilt = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(rebuilt) is type(layer) and rebuilt.get_config() == config


@pytest.mark.parametrize("kind", sorted(LAYER_FACTORIES))
def test_keras_file_round_trip(kind, tmp_path):
    inputs = keras.Input(shape=(None, None, 12))
    features = keras.layers.Conv2D(12, 1)(inputs)
    layer = LAYER_FACTORIES[kind]()
    outputs = keras.layers.Add()([features, layer(features)])
    model = keras.Model(inputs, outputs)
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.get_layer(layer.name)) is type(layer)
    x = _large_input(shape=(2, 5, 3, 12))
    np.testing.assert_array_equal(_np(loaded(x)), _np(model(x)))


# ---------------------------------------------------------------- backends


def _check_inputs():
    rng = np.random.default_rng(2024)
    channels, units = 12, 3  # SqueezeExcite(ratio=4) on 12 channels
    return {
        "x": _large_input(shape=(3, 5, 6, channels), seed=7),
        "sd_x": rng.uniform(0.5, 1.5, size=(64, 2, 2, 3)).astype("float32"),
        "se_reduce_kernel": (rng.normal(size=(channels, units)) * 0.05).astype("float32"),
        "se_reduce_bias": rng.normal(size=(units,)).astype("float32"),
        "se_expand_kernel": rng.normal(size=(units, channels)).astype("float32"),
        "se_expand_bias": rng.normal(size=(channels,)).astype("float32"),
    }


@pytest.fixture(scope="module")
def check_inputs():
    return _check_inputs()


@pytest.fixture(scope="module")
def reference_outputs(check_inputs):
    """The check script's outputs in this process (tensorflow unless KERAS_BACKEND says)."""
    return check.compute(check_inputs)


@pytest.fixture(scope="module", params=["jax", "torch"])
def backend_outputs(request, check_inputs, tmp_path_factory):
    backend = request.param
    pytest.importorskip(backend)
    folder = tmp_path_factory.mktemp(f"layers_{backend}")
    inputs, outputs = folder / "inputs.npz", folder / "outputs.npz"
    np.savez(inputs, **check_inputs)
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if backend == "jax":
        env.setdefault("JAX_PLATFORMS", "cpu")
    result = subprocess.run(
        [sys.executable, str(CHECK_SCRIPT), str(inputs), str(outputs)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, f"{backend} check failed:\n{result.stderr[-4000:]}"
    with np.load(outputs) as data:
        out = dict(data)
    assert str(out.pop("backend")) == backend
    return backend, out


def test_backend_matches_reference(backend_outputs, reference_outputs):
    backend, out = backend_outputs
    random_keys = {"sd_train_train", "sd_test_train", "fit_loss"}
    assert set(out) == set(reference_outputs)
    for key in sorted(set(out) - random_keys):
        np.testing.assert_allclose(
            out[key], reference_outputs[key], rtol=1e-5, atol=1e-6,
            err_msg=f"{key} on {backend}",
        )
    assert np.all(np.isfinite(out["fit_loss"]))


def test_backend_stochastic_depth_training_draws(backend_outputs, check_inputs):
    backend, out = backend_outputs
    x = check_inputs["sd_x"]
    p = 1.0 - check.SD_RATE
    for key, scale in (("sd_train_train", 1.0 / p), ("sd_test_train", 1.0)):
        y = out[key]
        kept = np.all(np.isclose(y, x * scale, rtol=1e-5), axis=(1, 2, 3))
        dropped = np.all(y == 0.0, axis=(1, 2, 3))
        assert np.all(kept ^ dropped), f"{key} on {backend}: a sample neither kept nor dropped"
        assert 0 < kept.sum() < len(x), f"{key} on {backend}: {kept.sum()} of {len(x)} kept"
