"""Recipes are validated on load: unknown keys and bad values are errors naming the key."""

import pytest

from kerasnets.training import ConfigError, TrainConfig, config_from_dict, load_config, override


def write(tmp_path, text):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_defaults_are_the_lenet5_digits_recipe():
    config = TrainConfig()
    assert (config.model, config.data, config.epochs, config.batch_size, config.optimizer,
            config.learning_rate, config.schedule["name"], config.shift) == (
        "lenet5", "digits", 60, 32, "adam", 0.002, "cosine", 0.1)


def test_unknown_key_is_an_error_naming_it(tmp_path):
    path = write(tmp_path, "paper: x\nmodel: lenet5\nlearning_rat: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown key `learning_rat` in .*recipe.yaml "
                                          r"\(did you mean `learning_rate`\?\)"):
        load_config(path)


def test_nested_unknown_key_and_bad_values(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key `schedule.gamma` .*step schedule"):
        load_config(write(tmp_path, "paper: x\nschedule: {name: step, boundaries: [3], gamma: 2}\n"))
    with pytest.raises(ConfigError, match=r"`momentum` in .* must be a number >= 0 and < 1; got 1.5"):
        load_config(write(tmp_path, "paper: x\noptimizer: sgd\nmomentum: 1.5\n"))
    with pytest.raises(ConfigError, match=r"`optimizer` in .* must be one of sgd, rmsprop, adam"):
        load_config(write(tmp_path, "paper: x\noptimizer: lbfgs\n"))
    with pytest.raises(ConfigError, match=r"`schedule.boundaries` .* increasing"):
        load_config(write(tmp_path, "paper: x\nschedule: {name: step, boundaries: [5, 3]}\n"))
    with pytest.raises(ConfigError, match=r"`initializer.name` .* one of default, normal"):
        load_config(write(tmp_path, "paper: x\ninitializer: orthogonal\n"))
    with pytest.raises(ConfigError, match=r"`data` .* digits, folder:PATH or tfds:NAME"):
        load_config(write(tmp_path, "paper: x\ndata: mnist\n"))
    with pytest.raises(ConfigError, match=r"`clipvalue` .* cannot be combined with `clipnorm`"):
        load_config(write(tmp_path, "paper: x\nclipnorm: 1\nclipvalue: 1\n"))


def test_a_recipe_must_cite_its_paper(tmp_path):
    with pytest.raises(ConfigError, match=r"`paper` is missing in .*recipe.yaml"):
        load_config(write(tmp_path, "model: lenet5\n"))
    with pytest.raises(ConfigError, match=r"not valid YAML"):
        load_config(write(tmp_path, "paper: [x\n"))
    with pytest.raises(ConfigError, match=r"must be a mapping"):
        load_config(write(tmp_path, "- paper\n"))


def test_overrides_are_checked_too():
    config = override(TrainConfig(), epochs=3, learning_rate=None)
    assert config.epochs == 3 and config.learning_rate == 0.002
    with pytest.raises(ConfigError, match=r"`epochs` must be an integer >= 1; got 0"):
        override(TrainConfig(), epochs=0)
    with pytest.raises(ConfigError, match=r"`weight_decay_mode` must be one of coupled, decoupled"):
        config_from_dict({"weight_decay_mode": "l2"})
