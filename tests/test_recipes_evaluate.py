"""recipes/evaluate.py: top-1/top-5 of a .keras model on the digits, printed and written as JSON."""

import json
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import kerasnets
from kerasnets.data import digits

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "recipes" / "evaluate.py")


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = kerasnets.build("lenet5", classes=10)
    path = tmp_path_factory.mktemp("eval") / "lenet5.keras"
    model.save(path)
    return model, path


def test_center_crop_matches_the_model_and_writes_json(model_file):
    model, path = model_file
    result = run("--model", str(path))
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(path.with_name("lenet5.eval.json").read_text())
    images, labels = (np.concatenate(p) for p in zip(
        *digits(image_size=32).test.batch(512).as_numpy_iterator()))
    scores = model.predict(images, verbose=0)
    top1 = float(np.mean(np.argmax(scores, -1) == labels))
    top5 = float(np.mean([label in np.argsort(-s)[:5] for s, label in zip(scores, labels)]))
    assert record["top1"] == pytest.approx(top1) and record["top5"] == pytest.approx(top5)
    assert f"top-1 accuracy: {top1:.4f}" in result.stdout
    assert (record["crop"], record["split"], record["registered_as"]) == ("center", "test", "lenet5")

    again = run("--model", str(path), "--crop", "ten")
    assert again.returncode == 2 and "--overwrite" in again.stderr
    ten = run("--model", str(path), "--crop", "ten", "--output", str(path.with_suffix(".ten.json")))
    assert ten.returncode == 0, ten.stderr[-3000:]
    record = json.loads(path.with_suffix(".ten.json").read_text())
    assert record["crop"] == "ten" and 0 <= record["top1"] <= record["top5"] <= 1


def test_bad_options_give_a_one_line_error(tmp_path):
    for args, option in ((["--model", str(tmp_path / "none.keras")], "--model"),
                         (["--model", "lenet5"], "--weights"),
                         (["--model", "x.keras", "--crop", "five"], "--crop"),
                         (["--model", "x.keras", "--scales", "a,b"], "--scales")):
        result = run(*args)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if "error:" in line]
        assert len(errors) == 1 and option in errors[0], result.stderr


def test_dense_crop_averages_the_image_and_its_mirror(model_file, tmp_path):
    # At the model's own size (--scales 32) the fully convolutional LeNet-5 gives one
    # score vector per view: dense evaluation is then the mean of image and mirror.
    from conftest import load_script, run_inline

    model, path = model_file
    output = tmp_path / "dense.json"
    result = run_inline(load_script(SCRIPT, "evaluate_recipe").main,
                        ["--model", str(path), "--crop", "dense", "--scales", "32",
                         "--output", str(output)])
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(output.read_text())
    assert (record["crop"], record["scales"]) == ("dense", [32])
    images, labels = (np.concatenate(p) for p in zip(
        *digits(image_size=32).test.batch(512).as_numpy_iterator()))
    scores = (model.predict(images, verbose=0) + model.predict(images[:, :, ::-1], verbose=0)) / 2
    top1 = float(np.mean(np.argmax(scores, -1) == labels))
    top5 = float(np.mean([label in np.argsort(-s)[:5] for s, label in zip(scores, labels)]))
    assert record["top1"] == pytest.approx(top1) and record["top5"] == pytest.approx(top5)
    plain = float(np.mean(np.argmax(model.predict(images, verbose=0), -1) == labels))
    assert f"top-1 accuracy: {top1:.4f}" in result.stdout and top1 != plain
