"""recipes/train.py's recipe options: configs, model arguments, data folders, precision, errors."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import load_script, run_inline

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "recipes" / "train.py")


def run(*args, env=None):
    environment = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    environment.update(TF_CPP_MIN_LOG_LEVEL="2", **(env or {}))
    return subprocess.run([sys.executable, SCRIPT, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=environment)


def one_error(result, option):
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("train.py: error:")]
    assert len(errors) == 1 and option in errors[0], result.stderr[-2000:]
    return errors[0]


@pytest.mark.parametrize("args, option", [
    (["--data", "mnist"], "--data"),
    (["--model-arg", "alpha"], "--model-arg"),
    (["--strategy", "ring"], "--strategy"),
    (["--mixed-precision", "int8"], "--mixed-precision"),
    (["--cpu-devices", "0"], "--cpu-devices"),
    (["--weight-decay", "-1"], "--weight-decay"),
    (["--label-smoothing", "1"], "--label-smoothing"),
    (["--clip-global-norm", "0"], "--clip-global-norm"),
    (["--config", "recipes/configs/none.yaml"], "--config"),
])
def test_bad_values_give_a_one_line_error(args, option, tmp_path):
    one_error(run(*args, "--output-dir", str(tmp_path)), option)
    assert list(tmp_path.iterdir()) == []


def test_config_errors_and_strategies_without_their_setting(tmp_path, monkeypatch):
    # In this process: these stop before training (a subprocess each would cost 8 s).
    monkeypatch.delenv("TF_CONFIG", raising=False)
    main = load_script(SCRIPT, "train_recipe").main
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("paper: x\nmodel: lenet5\nbatchsize: 3\n")
    error = one_error(run_inline(main, ["--config", str(recipe), "--output-dir",
                                        str(tmp_path / "o")]), "--config")
    assert "unknown key `batchsize`" in error and "batch_size" in error
    error = one_error(run_inline(main, ["--strategy", "multiworker", "--output-dir",
                                        str(tmp_path / "o")]), "--strategy")
    assert "TF_CONFIG" in error
    error = one_error(run_inline(main, ["--model-arg", "towers=3", "--model", "alexnet",
                                        "--image-size", "67", "--epochs", "1",
                                        "--output-dir", str(tmp_path / "o")]), "alexnet")
    assert "towers" in error
    assert not (tmp_path / "o" / "alexnet.keras").exists()


def test_folder_data_with_a_config_mixed_precision_and_clipping(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("bright", "dark"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(20):
            level = 200 if label == "bright" else 40
            pixels = np.clip(rng.normal(level, 20, (40, 40, 3)), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(tmp_path / "images" / label / f"{i}.png")
    out = tmp_path / "out"
    result = run("--config", "recipes/configs/lenet5.yaml", "--data",
                 f"folder:{tmp_path / 'images'}", "--epochs", "2", "--batch-size", "8",
                 "--mixed-precision", "bfloat16", "--clip-global-norm", "1.0",
                 "--no-jit-compile", "--weight-decay", "0.0005", "--initializer", "he_normal",
                 "--output-dir", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "lenet5 on folder:" in result.stdout and "32 train, 4 validation, 4 test" in \
        result.stdout
    run_config = yaml.safe_load((out / "lenet5.training" / "config.yaml").read_text())
    assert (run_config["mixed_precision"], run_config["global_clipnorm"],
            run_config["weight_decay"], run_config["initializer"]) == (
        "bfloat16", 1.0, 0.0005, {"name": "he_normal"})
    # TFLite only for the digits unless asked.
    assert sorted(p.name for p in out.iterdir()) == ["lenet5", "lenet5.keras", "lenet5.training"]
    import keras

    model = keras.saving.load_model(out / "lenet5.keras")
    assert model.outputs[0].dtype == "float32"  # the loss and outputs stay float32
    assert model.layers[1].dtype_policy.name == "mixed_bfloat16"


def test_tfds_data_prepared_on_first_use_then_trained_on_from_its_files(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    from tfds_blobs import KerasnetsBlobs

    from kerasnets.data.sources import tfds_splits

    data_dir = tmp_path / "tfds"
    # Not prepared: the recipe prepares it (here from the generator; cifar10 would download).
    splits = tfds_splits("kerasnets_blobs", data_dir=str(data_dir))
    assert KerasnetsBlobs.name == "kerasnets_blobs"
    assert (splits.class_names, splits.sizes) == (("dark", "bright"),
                                                  {"train": 40, "validation": 12, "test": 12})
    assert (data_dir / "kerasnets_blobs" / "1.0.0" / "dataset_info.json").is_file()
    with pytest.raises(ValueError, match="tfds data set 'no_such_set' is not available"):
        tfds_splits("no_such_set", data_dir=str(data_dir))
    # Another process knows only the files under TFDS_DATA_DIR.
    out = tmp_path / "out"
    result = run("--data", "tfds:kerasnets_blobs", "--model", "lenet5", "--epochs", "1",
                 "--batch-size", "8", "--output-dir", str(out), env={"TFDS_DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "lenet5 on tfds:kerasnets_blobs: 40 train, 12 validation, 12 test images of " \
           "32x32x1" in result.stdout
    assert (out / "lenet5.keras").is_file() and (out / "lenet5").is_dir()


def test_fine_tuning_from_a_weights_tag_keeps_the_checkpoint_and_adds_a_head(tmp_path,
                                                                             monkeypatch):
    """--weights TAG: the checkpoint's features, a new 10-class classifier (its own had 5)."""
    from checkpoint_check import prefill_cache, randomize
    from test_weights_transfer import TOY, TorchLeNet5, register_tag

    from kerasnets.models import pretrained

    monkeypatch.delenv("TF_CONFIG", raising=False)
    register_tag(monkeypatch, "toy", pretrained.url_weights("http://127.0.0.1:9/lenet5-toy.pth",
                                                            **{**TOY, "classes": 5}))
    monkeypatch.setenv(pretrained.CACHE_DIR_ENV, str(tmp_path / "cache"))
    reference = randomize(TorchLeNet5())
    reference.output = __import__("torch").nn.Linear(84, 5)
    prefill_cache("lenet5", "toy", reference.state_dict(), tmp_path / "cache")
    main = load_script(SCRIPT, "train_recipe").main
    result = run_inline(main, ["--weights", "nope", "--output-dir", str(tmp_path / "bad")])
    error = one_error(result, "error")
    assert "`weights` must be a weights tag of 'lenet5' or the path of a weights file; got " \
           "'nope' (its tags: toy)" in error
    result = run_inline(main, ["--weights", "toy", "--epochs", "1", "--learning-rate", "1e-12",
                               "--no-tflite", "--quiet", "--output-dir", str(tmp_path / "out")])
    assert result.returncode == 0, result.stderr[-3000:]
    import keras

    model = keras.saving.load_model(tmp_path / "out" / "lenet5.keras")
    kernel = reference.c1.weight.detach().numpy().transpose(2, 3, 1, 0)
    np.testing.assert_allclose(model.get_layer("c1").get_weights()[0], kernel, atol=1e-6)
    assert model.output_shape == (None, 10)
