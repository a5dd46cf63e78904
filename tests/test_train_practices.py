"""Training practices from the library to the recipe: rotation and noise, the Inception crop
area and colour strength, the CIFAR policy, Adagrad, truncated-normal kernels, the plateau."""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import load_script
from kerasnets import data as kd
from kerasnets.data import augment as aug
import kerasnets
from kerasnets.training import build_model, compile_model, override
from kerasnets.training.config import ConfigError, TrainConfig, config_from_dict, ignored_on_digits
from kerasnets.training.optimizers import Adagrad, build_optimizer
from kerasnets.training.run import load_data, schedule_callbacks

PAPER = "A paper (2015)."


def seed(n):
    return tf.constant([n, 0], tf.int64)


# ---------------------------------------------------------------- the CIFAR policy


def test_cifar_policy_is_a_crop_of_the_zero_padded_image_or_its_mirror():
    image = np.random.default_rng(0).uniform(0.1, 1, (32, 32, 3)).astype("float32")
    padded = np.pad(image, ((4, 4), (4, 4), (0, 0)))
    assert aug.POLICIES["cifar"] is not None
    offsets, flips = set(), 0
    for n in range(40):
        out = aug.POLICIES["cifar"](tf.constant(image), seed(n),
                                    aug.PolicyOptions(size=32)).numpy()
        assert out.shape == (32, 32, 3)
        matches = [(top, left, flipped) for top in range(9) for left in range(9)
                   for flipped in (False, True)
                   if np.array_equal(out, (padded[top:top + 32, left:left + 32, :][:, ::-1]
                                           if flipped else padded[top:top + 32, left:left + 32]))]
        assert matches, f"seed {n}: not a 32x32 window of the padded image or its mirror"
        offsets.add(matches[0][:2])
        flips += matches[0][2]
    assert len(offsets) > 10 and 5 < flips < 35  # positions and mirrors both vary


def test_cifar_networks_train_with_the_cifar_policy():
    for name in ("resnet20", "resnet110", "resnet1202", "plain56", "densenet_bc100_k12"):
        assert kd.default_policy(name) == "cifar", name
    assert kd.default_policy("lenet5") == "none"  # the digits keep `shift`


# ---------------------------------------------------------------- Inception crop area, colour


def test_crop_area_bounds_the_inception_crop():
    image = tf.constant(np.random.default_rng(1).uniform(size=(100, 100, 3)), tf.float32)
    areas = []
    for n in range(30):
        *_, height, width = aug.inception_crop_window(tf.shape(image), seed(n),
                                                      area_range=(0.35, 1.0))
        areas.append(int(height) * int(width) / 100**2)
    # The sampled window covers at least 35% (a little less after rounding to pixels).
    assert min(areas) >= 0.33 and max(areas) <= 1.0


def test_color_distortion_strength_scales_and_zero_switches_it_off():
    image = tf.constant(np.random.default_rng(2).uniform(0.2, 0.8, (16, 16, 3)), tf.float32)
    assert np.array_equal(aug.scaled_color_distortion(image, seed(0), 0.0).numpy(), image.numpy())
    change = {s: np.mean([np.abs(aug.scaled_color_distortion(image, seed(n), s) - image)
                          for n in range(20)]) for s in (0.25, 1.0)}
    assert 0 < change[0.25] < change[1.0] / 2
    # Strength 1 is Inception's color_distortion itself.
    assert np.allclose(aug.scaled_color_distortion(image, seed(3), 1.0),
                       aug.color_distortion(image, seed(3)))
    with pytest.raises(ValueError, match=r"strength.*\[0, 2\].*3"):
        aug.scaled_color_distortion(image, seed(0), 3)


def test_train_pipeline_takes_crop_area_and_color_distortion_for_inception_only():
    images = np.random.default_rng(3).uniform(size=(4, 40, 48, 3)).astype("float32")
    source = tf.data.Dataset.from_tensor_slices((images, np.arange(4, dtype="int32")))
    batch = next(iter(kd.train_pipeline("mobilenet_v1", source, 4, image_size=32, seed=0,
                                        crop_area=(0.35, 1), color_distortion=0.5)))
    assert batch[0].shape == (4, 32, 32, 3)
    with pytest.raises(ValueError, match=r"`crop_area` is used by the 'inception' policy only"):
        kd.train_pipeline("resnet20", source, 4, crop_area=(0.35, 1))
    with pytest.raises(ValueError, match=r"`color_distortion` is used by the 'inception'"):
        kd.train_pipeline("mobilenet_v1", source, 4, policy="vgg", color_distortion=0.5)
    with pytest.raises(ValueError, match=r"`crop_area` must be .*0 < low <= high <= 1.*0\.5, 0\.2"):
        kd.train_pipeline("mobilenet_v1", source, 4, crop_area=(0.5, 0.2))
    with pytest.raises(ValueError, match="color_distortion"):
        kd.train_pipeline("mobilenet_v1", source, 4, color_distortion=2.5)


# ---------------------------------------------------------------- the recipe keys


def test_recipe_keys_are_validated_naming_the_key():
    config = config_from_dict({"paper": PAPER, "model": "mobilenet_v1", "rotation": 10,
                               "noise": 0.02, "crop_area": [0.35, 1], "color_distortion": 0.5,
                               "shuffle_buffer": 1000, "data": "tfds:imagenette"})
    assert config.crop_area == [0.35, 1.0] and config.rotation == 10
    bad = [({"rotation": 200}, "`rotation`"), ({"noise": -1}, "`noise`"),
           ({"crop_area": [0.5, 0.1]}, "`crop_area`"), ({"crop_area": 0.5}, "`crop_area`"),
           ({"color_distortion": 3}, "`color_distortion`"),
           ({"shuffle_buffer": 0}, "`shuffle_buffer`")]
    for values, key in bad:
        with pytest.raises(ConfigError, match=key):
            config_from_dict({"paper": PAPER, "model": "mobilenet_v1", "data": "tfds:imagenette",
                              **values}, "r.yaml")
    # The digits are augmented by `shift` alone: the keys they ignore are named (and logged).
    digits = config_from_dict({"paper": PAPER, "model": "mobilenet_v1", "rotation": 10,
                               "noise": 0.02, "shuffle_buffer": 64, "crop_area": [0.35, 1]})
    assert ignored_on_digits(digits) == ["rotation", "noise", "crop_area", "shuffle_buffer"]
    assert ignored_on_digits(config) == []
    # Set where the policy does not use it: an error that says which policy the run has.
    with pytest.raises(ConfigError, match=r"`crop_area` in r.yaml is used by the inception "
                                          r"policy only; the run's policy is 'cifar'"):
        config_from_dict({"paper": PAPER, "model": "resnet56", "crop_area": [0.35, 1]}, "r.yaml")
    with pytest.raises(ConfigError, match=r"`color_distortion`.*'vgg'"):
        config_from_dict({"paper": PAPER, "model": "mobilenet_v1", "policy": "vgg",
                          "data": "tfds:imagenette", "color_distortion": 0.5})


def test_train_cli_options_reach_the_config_and_the_pipeline(monkeypatch, tmp_path):
    train = load_script("recipes/train.py", "train_practices_cli")
    args = train.build_parser().parse_args(
        ["--rotation", "15", "--noise", "0.05", "--crop-area", "0.35,1",
         "--color-distortion", "0.5", "--shuffle-buffer", "64"])
    assert (args.rotation, args.noise, args.crop_area, args.color_distortion,
            args.shuffle_buffer) == (15.0, 0.05, [0.35, 1.0], 0.5, 64)
    for option, text in (("--crop-area", "1,0.35"), ("--crop-area", "0.3"),
                         ("--rotation", "-1"), ("--color-distortion", "5")):
        with pytest.raises(SystemExit):
            train.build_parser().parse_args([option, text])
    # main() hands them to training.train in the config; the run's load_data to the pipeline.
    seen = {}

    def fake_train(config, *_args, **_kwargs):
        seen["config"] = config

    monkeypatch.setattr("kerasnets.training.train", fake_train)
    assert train.main(["--model", "mobilenet_v1", "--data", "folder:" + str(tmp_path / "d"),
                       "--rotation", "15", "--noise", "0.05", "--crop-area", "0.35,1",
                       "--color-distortion", "0.5", "--shuffle-buffer", "64", "--no-tflite",
                       "--output-dir", str(tmp_path / "out")]) == 0
    config = seen["config"]
    assert (config.rotation, config.noise, config.crop_area, config.color_distortion,
            config.shuffle_buffer) == (15.0, 0.05, [0.35, 1.0], 0.5, 64)
    calls = {}

    def fake_pipeline(*args, **kwargs):
        calls.update(kwargs)
        return tf.data.Dataset.range(1)

    monkeypatch.setattr(kd, "train_pipeline", fake_pipeline)
    monkeypatch.setattr(kd, "eval_pipeline", lambda *a, **k: tf.data.Dataset.range(1).batch(1))
    splits = types.SimpleNamespace(train=None, class_names=("a", "b"),
                                   sizes={"train": 4, "validation": 0, "test": 0})
    monkeypatch.setattr("kerasnets.training.run.open_source", lambda *a, **k: splits)
    spec = kerasnets.get_spec("mobilenet_v1")
    load_data(config, spec, (32, 32), 4, 0)
    assert {k: calls[k] for k in ("rotation", "noise", "crop_area", "color_distortion",
                                  "shuffle_buffer")} == {
        "rotation": 15.0, "noise": 0.05, "crop_area": [0.35, 1.0], "color_distortion": 0.5,
        "shuffle_buffer": 64}


# ---------------------------------------------------------------- optimizers and initialisers


def test_adagrad_is_built_with_the_configured_rate_and_epsilon():
    config = override(TrainConfig(), optimizer="adagrad", learning_rate=0.05, epsilon=1e-6,
                      schedule="constant", weight_decay=1e-4)
    optimizer = build_optimizer(config)
    assert isinstance(optimizer, Adagrad) and isinstance(optimizer, keras.optimizers.Adagrad)
    assert float(optimizer.learning_rate) == pytest.approx(0.05)
    assert optimizer.epsilon == pytest.approx(1e-6) and optimizer.l2 == pytest.approx(1e-4)
    # Coupled weight decay: one step on a zero gradient still moves a kernel (g = wd * w).
    kernel = keras.Variable(np.ones((2, 2), "float32"), name="kernel")
    optimizer.apply_gradients([(keras.ops.zeros((2, 2)), kernel)])
    assert np.all(np.array(kernel) < 1)
    decoupled = build_optimizer(override(config, weight_decay_mode="decoupled"))
    assert decoupled.l2 == 0 and decoupled.weight_decay == pytest.approx(1e-4)


def test_truncated_normal_initializer_draws_within_two_deviations():
    config = override(TrainConfig(), initializer={"name": "truncated_normal", "stddev": 0.1})
    keras.utils.set_random_seed(0)
    model = build_model(config, (32, 32, 1), classes=10)
    kernels = np.concatenate([np.array(v).ravel() for v in model.trainable_variables
                              if v.name == "kernel"])
    assert kernels.size > 10_000
    assert np.std(kernels) == pytest.approx(0.1 * 0.8796, rel=0.05)
    assert np.max(np.abs(kernels)) <= 2 * 0.1 + 1e-6


# ---------------------------------------------------------------- the plateau schedule


def test_plateau_schedule_divides_the_rate_by_ten_when_the_metric_stalls():
    config = override(TrainConfig(), optimizer="sgd", learning_rate=0.1,
                      schedule={"name": "plateau", "factor": 0.1, "patience": 0,
                                "monitor": "val_loss"})
    assert schedule_callbacks(override(config, schedule="cosine")) == []
    callbacks = schedule_callbacks(config, has_validation=False)
    assert len(callbacks) == 1 and callbacks[0].monitor == "loss"
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, use_bias=False)(inputs))
    compile_model(model, config, jit_compile=False)
    x = np.zeros((16, 4), "float32")  # zero inputs: zero gradients, a loss that cannot improve
    y = np.arange(16) % 3
    # patience 0: every epoch after the first fails to improve (the loss stays put) -> /10.
    model.fit(x, y, epochs=4, batch_size=16, verbose=0, callbacks=callbacks)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1 * 0.1**3, rel=1e-5)
