"""Every recipe in recipes/configs/ loads, cites its paper and trains one step with its model."""

import pathlib

import keras
import numpy as np
import pytest

import kerasnets
from kerasnets.training import build_model, compile_model, load_config, repeat_labels

CONFIGS = sorted((pathlib.Path(__file__).resolve().parents[1] / "recipes" / "configs").glob("*.yaml"))
# The recipes, each present.
EXPECTED = {"alexnet", "vgg16", "googlenet", "inception_v3", "resnet50", "stochastic_depth",
            "densenet121", "mobilenet_v1", "mobilenet_v2", "shufflenet_v1", "lenet5",
            "bn_inception"}


def test_the_papers_recipes_are_there():
    assert EXPECTED <= {path.stem for path in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_trains_one_step_on_a_small_input(path):
    config = load_config(path)
    text = path.read_text()
    assert text.startswith("#") and "paper:" in text  # documented and citing
    assert str(kerasnets.get_spec(config.model).paper.year) in config.paper
    spec = kerasnets.get_spec(config.model)
    # The smallest input the model takes with its classifier: the default size for those with
    # fully connected layers on a flattened map (AlexNet, VGG), 65 for GoogLeNet's and
    # 75 for Inception v3's auxiliary classifiers.
    side = spec.input_shape[0] if spec.fixed_input else max(
        spec.min_input_shape[0], 65 if config.model_args.get("aux_logits") else 0)
    shape = (side, side, spec.input_shape[-1])
    keras.utils.set_random_seed(0)
    try:
        model = build_model(config, shape, classes=10)
    except ValueError as err:  # Inception v3's auxiliary classifier needs the full 299
        assert "must be at least" in str(err)
        shape = spec.input_shape
        model = build_model(config, shape, classes=10)
    compile_model(model, config, steps_per_epoch=10, jit_compile=False, run_eagerly=True)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, *shape)).astype("float32")
    y = np.array([1, 7])
    targets = repeat_labels(model, y) if len(model.outputs) > 1 else y
    before = [np.array(v) for v in model.trainable_variables[:3]]
    logs = model.train_on_batch(x, targets, return_dict=True)
    assert np.isfinite(logs["loss"]), logs
    assert any(not np.array_equal(b, np.array(v))
               for b, v in zip(before, model.trainable_variables[:3]))
    assert int(model.optimizer.iterations) == 1
