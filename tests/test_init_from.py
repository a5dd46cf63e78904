"""`init_from`: a deeper VGG started from a trained configuration A (Simonyan and
Zisserman 2015, section 3.1), in the recipe config, `build_model` and recipes/train.py."""

import pathlib

import keras
import numpy as np
import pytest
import yaml

import kerasnets
from conftest import load_script, run_inline
from kerasnets.training import ConfigError, TrainConfig, config_from_dict
from kerasnets.training.build import build_model

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "recipes" / "train.py")
A_CONVOLUTIONS = ["block1_conv1", "block2_conv1", "block3_conv1", "block3_conv2"]
# Without the fully connected classifier a VGG takes any input from 32x32: small and fast.
FEATURES = {"include_top": False}


@pytest.fixture(scope="module")
def net_a(tmp_path_factory):
    """A vgg11 (configuration A) "trained": saved as .keras, as train.py saves its models."""
    keras.utils.set_random_seed(1)
    model = kerasnets.build("vgg11", include_top=False, input_shape=(32, 32, 3))
    path = tmp_path_factory.mktemp("net_a") / "vgg11.keras"
    model.save(path)
    return model, str(path)


def test_the_config_checks_init_from(net_a, tmp_path):
    _, path = net_a
    assert TrainConfig().init_from is None
    config = config_from_dict({"model": "vgg16", "init_from": path})
    assert config.init_from == path
    with pytest.raises(ConfigError, match=r"`init_from` starts a VGG network from a trained "
                                          r"configuration A; the model is 'resnet50' \(resnet\), "
                                          r"not a VGG"):
        config_from_dict({"model": "resnet50", "init_from": path})
    missing = str(tmp_path / "none.keras")
    with pytest.raises(ConfigError, match=r"`init_from` must be the path of an existing .keras "
                                          rf"model or weights file .*; got '{missing}'"):
        config_from_dict({"model": "vgg16", "init_from": missing})
    with pytest.raises(ConfigError, match=r"`init_from` cannot be combined with `weights` "
                                          r"\('imagenet'\)"):
        config_from_dict({"model": "vgg16", "init_from": path, "weights": "imagenet"})
    with pytest.raises(ConfigError, match=r"`init_from` must be a non-empty string; got 3"):
        config_from_dict({"model": "vgg16", "init_from": 3})


def test_build_model_starts_from_net_a(net_a):
    model_a, path = net_a
    config = config_from_dict({"model": "vgg16", "model_args": FEATURES, "init_from": path,
                               "initializer": "he_normal", "seed": 3})
    model = build_model(config, (32, 32, 3), classes=10)
    plain = build_model(config_from_dict({"model": "vgg16", "model_args": FEATURES,
                                          "initializer": "he_normal", "seed": 3}),
                        (32, 32, 3), classes=10)
    numpy = keras.ops.convert_to_numpy
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Conv2D):
            continue
        kernel, bias = (numpy(w) for w in layer.weights)
        if layer.name in A_CONVOLUTIONS:  # A's, after the recipe's initialiser ran
            np.testing.assert_array_equal(kernel, numpy(model_a.get_layer(layer.name).kernel))
            np.testing.assert_array_equal(bias, numpy(model_a.get_layer(layer.name).bias))
        else:  # the recipe's random initialisation, as without init_from
            np.testing.assert_array_equal(kernel, numpy(plain.get_layer(layer.name).kernel))
    # A weights file of A (not a whole model) goes into vgg11 built with the same arguments.
    weights = pathlib.Path(path).with_name("vgg11.weights.h5")
    model_a.save_weights(weights)
    from_weights = build_model(config_from_dict({"model": "vgg13", "model_args": FEATURES,
                                                 "init_from": str(weights)}),
                               (32, 32, 3), classes=10)
    np.testing.assert_array_equal(numpy(from_weights.get_layer("block3_conv2").kernel),
                                  numpy(model_a.get_layer("block3_conv2").kernel))


class ReadConfigAndInterrupt(keras.callbacks.Callback):
    """Reads the run's config.yaml where training begins (written by then), then stops the
    run as Ctrl-C does (a run without a finished epoch leaves no folder behind)."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.recorded = None

    def on_train_begin(self, logs=None):
        self.recorded = yaml.safe_load(self.path.read_text())
        raise KeyboardInterrupt


def test_train_py_takes_init_from_and_records_it(net_a, tmp_path):
    _, path = net_a
    main = load_script(SCRIPT, "train_recipe").main
    result = run_inline(main, ["--model", "resnet20", "--init-from", path, "--epochs", "1",
                               "--output-dir", str(tmp_path / "bad")])
    assert result.returncode == 2
    assert result.stderr.startswith("train.py: error: `init_from` starts a VGG network")
    assert "'resnet20'" in result.stderr and not (tmp_path / "bad").exists()
    out = tmp_path / "out"
    args = ["--model", "vgg16", "--model-arg", "include_top=false", "--image-size", "32",
            "--init-from", path, "--epochs", "1", "--no-tflite", "--quiet",
            "--output-dir", str(out)]
    reader = ReadConfigAndInterrupt(out / "vgg16.training" / "config.yaml")
    result = run_inline(lambda argv: main(argv, callbacks=[reader]), args)
    assert result.returncode == 130, result.stderr[-3000:]
    assert reader.recorded["init_from"] == path and reader.recorded["model"] == "vgg16"
