"""The identity-mapping ablations of He, Zhang, Ren, Sun (2016), "Identity Mappings in Deep
Residual Networks": the shortcut variants of Figure 2 / Table 1 and the activation placements
of Figure 4 / Table 2, as options of the ResNet builders (kerasnets.models.resnet)."""

import json
import os

import keras
import numpy as np
import pytest

import kerasnets
from conftest import run_with_backend
from kerasnets import analysis
from kerasnets.models import resnet as R

SIZE = 16  # CIFAR nets at 16x16: two stride-2 stages leave 4x4
SHORTCUT_VARIANTS = ["constant_scaling", "exclusive_gating", "shortcut_only_gating",
                     "conv1x1_shortcut", "dropout_shortcut"]
POST_UNITS = ["original", "bn_after_addition", "relu_before_addition", "relu_only_preactivation"]
# resnet20's blocks: (name, input channels, output channels, stride).
CIFAR_BLOCKS = [(f"conv{s}_block{b}", c_in if b == 1 else c_out, c_out,
                 2 if b == 1 and s > 2 else 1)
                for s, c_in, c_out in ((2, 16, 16), (3, 16, 32), (4, 32, 64)) for b in (1, 2, 3)]


def cifar(depth=20, **kwargs):
    return kerasnets.build(f"resnet{depth}", input_shape=(SIZE, SIZE, 3), **kwargs)


def structure(model):
    """The model's config (layers, their settings and connections), its input layer's automatic
    name left out."""
    text = json.dumps(model.get_config(), sort_keys=True, default=str)
    return text.replace(f'"{model.layers[0].name}"', '"INPUT"')


def adds(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Add)]


def source(tensor):
    """The layer that made `tensor`."""
    return tensor._keras_history.operation


def add_inputs(model, name):
    """Names of the layers feeding the Add `name` (shortcut first, then the branch)."""
    return [source(t).name for t in model.get_layer(name).input]


def randomize(model, seed=0):
    """Random weights everywhere (BN statistics and gate biases too): formulas are not trivial."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for w in layer.weights:
            shape = tuple(w.shape)
            if "variance" in w.path:
                values.append(rng.uniform(0.5, 2.0, shape))
            else:
                values.append(rng.normal(0.0, 0.5, shape))
        if values:
            layer.set_weights([v.astype("float32") for v in values])


def outputs(model, names, x, training=False):
    sub = keras.Model(model.input, [model.get_layer(n).output for n in names])
    return [np.asarray(keras.ops.convert_to_numpy(t)) for t in sub(x, training=training)]


def conv1x1(layer, x, stride):
    kernel, bias = (layer.get_weights() + [None])[:2]
    y = x[:, ::stride, ::stride, :] @ kernel[0, 0]
    return y if bias is None else y + bias


def option_a(x, out_channels, stride):
    """Option A by hand: subsample, append zero channels."""
    x = x[:, ::stride, ::stride, :]
    pad = out_channels - x.shape[-1]
    return np.concatenate([x, np.zeros((*x.shape[:3], pad), x.dtype)], axis=-1)


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def bn(layer, x):
    gamma, beta, mean, var = layer.get_weights()
    return gamma * (x - mean) / np.sqrt(var + layer.epsilon) + beta


def previous_out(block):
    """The output layer of the block before `block` in resnet20 (its input)."""
    index = [b for b, *_ in CIFAR_BLOCKS].index(block)
    return "conv1_relu" if index == 0 else f"{CIFAR_BLOCKS[index - 1][0]}_out"


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).normal(size=(2, SIZE, SIZE, 3)).astype("float32")


# ----------------------------------------------------------------- defaults unchanged


def test_defaults_are_todays_networks():
    plain = cifar()
    explicit = cifar(shortcut_variant="identity", unit="original")
    assert structure(explicit) == structure(plain)
    assert plain.count_params() == 271_098
    v2 = cifar(preact=True)
    assert structure(cifar(preact=True, unit="full_preactivation")) == structure(v2)


# ----------------------------------------------------------------- shortcut variants (Figure 2)


@pytest.mark.parametrize("variant", SHORTCUT_VARIANTS)
def test_every_block_keeps_one_add_of_shortcut_and_branch(variant):
    model = cifar(shortcut_variant=variant)
    assert sorted(a.name for a in adds(model)) == sorted(f"{b}_add" for b, *_ in CIFAR_BLOCKS)
    for block, *_ in CIFAR_BLOCKS:
        shortcut, branch = add_inputs(model, f"{block}_add")
        expected = {
            "constant_scaling": (f"{block}_shortcut_scale", f"{block}_residual_scale"),
            "exclusive_gating": (f"{block}_shortcut_gate", f"{block}_residual_gate"),
            "shortcut_only_gating": (f"{block}_shortcut_gate", f"{block}_2_bn"),
            "conv1x1_shortcut": (f"{block}_0_bn", f"{block}_2_bn"),
            "dropout_shortcut": (f"{block}_shortcut_dropout", f"{block}_2_bn"),
        }[variant]
        assert (shortcut, branch) == expected
        assert model.get_layer(f"{block}_out").input is model.get_layer(f"{block}_add").output


def test_gates_are_sigmoid_1x1_convolutions_with_the_papers_bias():
    model = cifar(shortcut_variant="exclusive_gating")
    for block, c_in, c_out, stride in CIFAR_BLOCKS:
        gate = model.get_layer(f"{block}_gate")
        assert gate.kernel_size == (1, 1) and gate.strides == (stride, stride)
        assert gate.activation is keras.activations.sigmoid and gate.use_bias
        assert tuple(gate.kernel.shape) == (1, 1, c_in, c_out)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(gate.bias), -6.0)
        # The gate sees the unit's input, the same tensor as the branch's first convolution.
        assert source(gate.input).name == previous_out(block)
    model = cifar(shortcut_variant="shortcut_only_gating", gate_bias=-3)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.get_layer("conv3_block2_gate").bias), -3.0)
    assert not any(layer.name.endswith("_residual_gate") for layer in model.layers)


@pytest.mark.parametrize("variant", ["exclusive_gating", "shortcut_only_gating",
                                     "constant_scaling", "conv1x1_shortcut"])
def test_block_output_is_the_papers_formula(variant, images):
    """One identity block and one option-A block, by hand from the layer weights."""
    model = cifar(shortcut_variant=variant)
    randomize(model)
    for block, _, c_out, stride in (CIFAR_BLOCKS[1], CIFAR_BLOCKS[3]):
        x, branch, got = outputs(model, [previous_out(block), f"{block}_2_bn", f"{block}_add"],
                                 images)
        h = option_a(x, c_out, stride)
        if variant == "constant_scaling":
            want = 0.5 * h + 0.5 * branch
        elif variant == "conv1x1_shortcut":
            shortcut = conv1x1(model.get_layer(f"{block}_0_conv"), x, stride)
            want = bn(model.get_layer(f"{block}_0_bn"), shortcut) + branch
        else:
            g = sigmoid(conv1x1(model.get_layer(f"{block}_gate"), x, stride))
            assert 0.05 < g.mean() < 0.95  # random weights: a gate neither shut nor open
            want = (1 - g) * h + (g * branch if variant == "exclusive_gating" else branch)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_dropout_shortcut_drops_half_the_shortcut_in_training_only(images):
    model = cifar(shortcut_variant="dropout_shortcut")
    randomize(model)
    block = "conv2_block2"
    x, branch, got = outputs(model, [previous_out(block), f"{block}_2_bn", f"{block}_add"], images)
    np.testing.assert_allclose(got, x + branch, rtol=1e-4, atol=1e-4)
    assert model.get_layer(f"{block}_shortcut_dropout").rate == 0.5
    layer = model.get_layer(f"{block}_shortcut_dropout")
    kept = keras.ops.convert_to_numpy(layer(np.ones((64, 64), "float32"), training=True))
    assert set(np.unique(kept)) <= {0.0, 2.0} and 0.4 < (kept == 0).mean() < 0.6


def gating_params(n, conv1x1=False):
    """Extra parameters of a CIFAR ResNet of 3n blocks: per block a 1x1 convolution with bias
    (gates), or without bias and with BN (1x1 shortcuts, which replace option A's padding)."""
    extra = 0
    for c_in, c_out in ((16, 16), (16, 32), (32, 64)):
        for b in range(n):
            i = c_in if b == 0 else c_out
            extra += i * c_out + (4 * c_out if conv1x1 else c_out)
    return extra


def extra_params(variant, n):
    if variant in ("constant_scaling", "dropout_shortcut"):
        return 0
    return gating_params(n, conv1x1=variant == "conv1x1_shortcut")


@pytest.mark.parametrize("variant, params", [("conv1x1_shortcut", 1_838_330),
                                             ("exclusive_gating", 1_832_282)])
def test_resnet110_parameter_counts(variant, params):
    assert params == 1_736_058 + extra_params(variant, 18)
    assert kerasnets.build("resnet110", shortcut_variant=variant).count_params() == params


@pytest.mark.parametrize("variant", SHORTCUT_VARIANTS)
def test_resnet20_parameter_counts(variant):
    assert cifar(shortcut_variant=variant).count_params() == 271_098 + extra_params(variant, 3)


def test_imagenet_gated_shortcuts_and_1x1_shortcuts():
    base = 11_703_912  # resnet18 (Table 1)
    stages = [(64, 64), (64, 128), (128, 256), (256, 512)]
    gated = sum(c_in * c_out + c_out + (c_out * c_out + c_out) for c_in, c_out in stages)
    model = kerasnets.build("resnet18", input_shape=(32, 32, 3),
                            shortcut_variant="exclusive_gating")
    assert model.count_params() == base + gated
    # The projections stay (conv + bias + BN); identity units get one too (option C).
    ones = sum(c * c + c + 4 * c for _, c in stages[1:]) + 2 * (64 * 64 + 64 + 4 * 64)
    model = kerasnets.build("resnet18", input_shape=(32, 32, 3),
                            shortcut_variant="conv1x1_shortcut")
    assert model.count_params() == base + ones
    assert model.get_layer("conv2_block1_0_conv").strides == (1, 1)
    assert model.get_layer("conv3_block1_0_conv").strides == (2, 2)


# ----------------------------------------------------------------- activation placement (Figure 4)


def small_bottleneck_net(**kwargs):
    stages = [R.Stage(8, 1, 1), R.Stage(16, 2, 2)]
    return R.ResNet(stages, R.bottleneck_block, stem="cifar", input_shape=(SIZE, SIZE, 3),
                    min_shape=(8, 8, 3), classes=3, **kwargs)


@pytest.mark.parametrize("bottleneck", [False, True], ids=["basic", "bottleneck"])
@pytest.mark.parametrize("unit", POST_UNITS)
def test_unit_structure(unit, bottleneck):
    model = small_bottleneck_net(unit=unit) if bottleneck else cifar(unit=unit)
    last = "3" if bottleneck else "2"
    blocks = ["conv2_block1", "conv3_block1", "conv3_block2"] if bottleneck else [
        b for b, *_ in CIFAR_BLOCKS]
    add_name = "add" if unit in ("original", "bn_after_addition") else "out"
    assert sorted(a.name for a in adds(model)) == sorted(f"{b}_{add_name}" for b in blocks)
    names = {layer.name for layer in model.layers}
    for block in blocks:
        shortcut, branch = add_inputs(model, f"{block}_{add_name}")
        after = [source(t).name for t in [model.get_layer(f"{block}_out").input]] if (
            add_name == "add") else []
        if unit == "original":
            assert branch == f"{block}_{last}_bn" and after == [f"{block}_add"]
        elif unit == "bn_after_addition":
            assert branch == f"{block}_{last}_conv" and f"{block}_{last}_bn" not in names
            assert after == [f"{block}_add_bn"]
            assert source(model.get_layer(f"{block}_add_bn").input).name == f"{block}_add"
        elif unit == "relu_before_addition":
            assert branch == f"{block}_{last}_relu"
            relu = model.get_layer(f"{block}_{last}_relu")
            assert source(relu.input).name == f"{block}_{last}_bn"
        else:
            assert branch == f"{block}_{last}_bn"
            first = model.get_layer(f"{block}_1_pad" if (not bottleneck and block.endswith(
                "block1") and block != "conv2_block1") else f"{block}_1_conv")
            assert source(first.input).name == f"{block}_preact_relu"
            # The shortcut takes the unit's raw input, the ReLU is on the branch only.
            preact_input = source(model.get_layer(f"{block}_preact_relu").input).name
            if shortcut not in (f"{block}_0_bn", f"{block}_0_pad"):
                assert shortcut == preact_input
    assert ("post_relu" in names) == (unit == "relu_only_preactivation")
    assert "post_bn" not in names
    reference = small_bottleneck_net() if bottleneck else cifar()
    assert model.count_params() == reference.count_params()


def test_unit_formulas(images):
    """(b): relu(BN(x + F)); (c): x + relu(BN(F)); (d): x + BN(F(relu(x))), by hand."""
    block = "conv2_block2"
    model = cifar(unit="bn_after_addition")
    randomize(model)
    x, conv, got = outputs(model, [previous_out(block), f"{block}_2_conv", f"{block}_out"], images)
    want = np.maximum(bn(model.get_layer(f"{block}_add_bn"), x + conv), 0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    model = cifar(unit="relu_before_addition")
    randomize(model)
    x, conv, got = outputs(model, [previous_out(block), f"{block}_2_conv", f"{block}_out"], images)
    want = x + np.maximum(bn(model.get_layer(f"{block}_2_bn"), conv), 0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert (got >= 0).all() and np.all(got >= x - 1e-6)  # the signal only grows
    model = cifar(unit="relu_only_preactivation")
    randomize(model)
    x, relu, bn2, got = outputs(model, ["conv2_block1_out", f"{block}_preact_relu",
                                        f"{block}_2_bn", f"{block}_out"], images)
    np.testing.assert_allclose(relu, np.maximum(x, 0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, x + bn2, rtol=1e-4, atol=1e-4)


def test_full_preactivation_is_preact():
    unit = cifar(unit="full_preactivation")
    preact = cifar(preact=True)
    assert unit.name == preact.name == "resnet20_v2"
    assert structure(unit) == structure(preact)
    assert unit.count_params() == preact.count_params() == 271_098
    assert [type(layer).__name__ for layer in unit.layers] == [
        type(layer).__name__ for layer in preact.layers]
    # The bottleneck's pre-activation form, downsampling in the first block (the paper's).
    model = small_bottleneck_net(unit="full_preactivation")
    assert model.get_layer("conv3_block1_2_conv").strides == (2, 2)
    assert {"post_bn", "post_relu", "conv3_block2_out"} <= {layer.name for layer in model.layers}
    assert "conv1_bn" not in {layer.name for layer in model.layers}


def test_imagenet_full_preactivation():
    model = kerasnets.build("resnet18", input_shape=(32, 32, 3), unit="full_preactivation")
    names = {layer.name for layer in model.layers}
    assert {"conv2_block1_preact_bn", "post_bn", "conv5_block2_out"} <= names
    assert "conv1_bn" not in names and "conv2_block1_add" not in names
    with pytest.raises(ValueError, match="stride_at"):
        kerasnets.build("resnet50", unit="full_preactivation", stride_at="1x1")


def test_shortcut_variants_combine_with_post_activation_units_and_drop_path():
    model = cifar(unit="relu_before_addition", shortcut_variant="exclusive_gating",
                  drop_path_rate=0.5)
    shortcut, branch = add_inputs(model, "conv4_block3_out")
    assert shortcut == "conv4_block3_shortcut_gate" and branch == "conv4_block3_drop"
    assert source(model.get_layer("conv4_block3_drop").input).name == "conv4_block3_residual_gate"
    model = cifar(shortcut_variant="exclusive_gating", se_ratio=4)
    gated = model.get_layer("conv2_block1_residual_gate")
    assert [source(t).name for t in gated.input] == ["conv2_block1_se", "conv2_block1_gate"]


@pytest.mark.parametrize("kwargs", [{"shortcut_variant": "exclusive_gating"},
                                    {"unit": "bn_after_addition"}, {"unit": "relu_before_addition"},
                                    {"unit": "relu_only_preactivation"}])
def test_kerasnets_analysis_finds_every_block(kwargs):
    """The Add-name contract: conv{s}_block{b}_add or _out, shortcut and branch as its inputs."""
    blocks = analysis.residual_blocks(cifar(**kwargs))
    assert [b.name for b in blocks] == [b for b, *_ in CIFAR_BLOCKS]
    assert [b.output_shape[-1] for b in blocks] == [c for *_, c, _ in CIFAR_BLOCKS]


# ----------------------------------------------------------------- validation


@pytest.mark.parametrize("kwargs, message", [
    ({"shortcut_variant": "gating"}, r"`shortcut_variant` must be one of \('identity', "
                                     r"'constant_scaling', 'exclusive_gating'.*got 'gating'"),
    ({"unit": "preact"}, r"`unit` must be one of \('original', 'bn_after_addition'.*got 'preact'"),
    ({"gate_bias": -6}, r"`gate_bias` is the initial bias of a gated shortcut.*shortcut_variant="
                        r"'identity'"),
    ({"shortcut_variant": "exclusive_gating", "gate_bias": "low"},
     r"`gate_bias` \(the gate's initial bias b_g\) must be a number.*got 'low'"),
    ({"preact": True, "unit": "original"}, r"`unit='original'` needs the post-activation network"),
    ({"unit": "full_preactivation", "shortcut_variant": "constant_scaling"},
     r"`shortcut_variant='constant_scaling'` is for post-activation units"),
    ({"preact": True, "shortcut_variant": "dropout_shortcut"},
     r"full pre-activation units have shortcut_variant='identity' only"),
    ({"weights": "akamaster", "shortcut_variant": "exclusive_gating"},
     r"`weights='akamaster'`: resnet20's published checkpoints.*weights=None"),
    ({"weights": "akamaster", "unit": "full_preactivation"}, r"`weights='akamaster'`"),
])
def test_bad_values_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kerasnets.build("resnet20", **kwargs)


@pytest.mark.parametrize("name, kwargs, message", [
    ("resnet50_v2", {"shortcut_variant": "exclusive_gating"}, "post-activation units"),
    ("resnet50_v2", {"unit": "bn_after_addition"}, "needs the post-activation network"),
    ("resnext50_32x4d", {"unit": "full_preactivation"},
     r"builds preact_bottleneck_block, which takes none of the block options \['bottleneck_width'"),
    ("se_resnet50", {"unit": "bn_after_addition"}, "options of basic_block and bottleneck_block"),
    ("resnet50", {"weights": "imagenet", "unit": "relu_before_addition"},
     r"`weights='imagenet'`: resnet50's published checkpoints"),
])
def test_refused_combinations(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        kerasnets.build(name, **kwargs)


# ----------------------------------------------------------------- saving and backends


@pytest.mark.parametrize("kwargs", [
    {"shortcut_variant": "exclusive_gating", "unit": "relu_only_preactivation"},
    {"shortcut_variant": "constant_scaling", "unit": "bn_after_addition"},
])
def test_keras_file_round_trip(kwargs, tmp_path, images):
    model = cifar(**kwargs)
    randomize(model)
    path = str(tmp_path / "ablation.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(images, training=False), model(images, training=False),
                               rtol=1e-6, atol=1e-6)


BACKEND_MODELS = [
    ("gated", {"shortcut_variant": "exclusive_gating"}),
    ("relu_only", {"unit": "relu_only_preactivation"}),
]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_ablations_run_on_jax_and_torch(backend, tmp_path, images):
    """One gated variant and one activation variant agree with tensorflow's outputs to 1e-4
    (tests/backend_models_check.py in a subprocess per backend)."""
    script = os.path.join(os.path.dirname(__file__), "backend_models_check.py")
    items, expected = [], {}
    for config_id, kwargs in BACKEND_MODELS:
        kwargs = {**kwargs, "classifier_activation": None}
        model = cifar(**kwargs)
        kwargs["input_shape"] = [SIZE, SIZE, 3]
        randomize(model)
        weights, inputs = str(tmp_path / f"{config_id}.weights.h5"), str(tmp_path / "x.npy")
        model.save_weights(weights)
        np.save(inputs, images)
        expected[config_id] = keras.ops.convert_to_numpy(model(images, training=False))
        items.append({"id": config_id, "name": "resnet20", "kwargs": kwargs, "weights": weights,
                      "input": inputs})
    job, output = tmp_path / "job.json", tmp_path / "out.npz"
    job.write_text(json.dumps({"models": items, "output": str(output)}))
    run_with_backend(backend, [script, str(job)], fast_init=True)
    got = np.load(output)
    assert str(got["backend"]) == backend
    for config_id, want in expected.items():
        scale = max(1.0, float(np.abs(want).max()))  # random weights: large logits
        np.testing.assert_allclose(got[config_id], want, rtol=1e-4, atol=1e-4 * scale,
                                   err_msg=config_id)
