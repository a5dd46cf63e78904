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


# Refusals (issue 13): data that does not fit the model, broken files, empty splits
# and impossible sizes are one `evaluate.py: error:` line and exit 2, run in-process.

def run_here(*args):
    from conftest import load_script, run_inline

    return run_inline(load_script(SCRIPT, "evaluate_recipe").main, [str(a) for a in args])


def one_error(result):
    """The single error line of a run that exited with 2 and no traceback."""
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(errors) == 1, result.stderr[-3000:]
    return errors[0]


def accuracies(scores, labels):
    top1 = float(np.mean(np.argmax(scores, -1) == labels))
    top5 = float(np.mean([label in np.argsort(-s)[:5] for s, label in zip(scores, labels)]))
    return top1, top5


def write_folder(root, classes, per_class):
    """An image_folder source: `per_class` 40x40 PNGs in each of `classes` sub-folders."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def three_class_resnet(tmp_path_factory):
    """A 3-class ResNet-20 (RGB, 32x32) as a .keras file and as a .weights.h5 file."""
    keras.utils.set_random_seed(0)
    model = kerasnets.build("resnet20", classes=3)
    folder = tmp_path_factory.mktemp("resnet3")
    model.save(folder / "resnet20.keras")
    model.save_weights(folder / "resnet20.weights.h5")
    return model, folder / "resnet20.keras", folder / "resnet20.weights.h5"


def test_a_model_of_other_classes_is_refused_naming_both_counts(three_class_resnet, tmp_path):
    from kerasnets.data import evaluate_center_crop

    model, path, weights = three_class_resnet
    output = tmp_path / "result.json"
    # A 3-class RGB model on the 10-class (grayscale) digits: not "top-1 0.1".
    assert one_error(run_here("--model", path, "--output", output)) == (
        "evaluate.py: error: argument --data: the model scores 3 classes, but digits has 10: "
        "evaluate it on the classes it was trained for")
    assert one_error(run_here("--model", "resnet20", "--weights", weights, "--classes", 3,
                              "--output", output)) == (
        "evaluate.py: error: argument --classes: digits has 10 classes, not 3: the model's "
        "outputs must be the data's classes")
    # Without --classes the network is built for the data's 10: the 3-class file does not fit.
    error = one_error(run_here("--model", "resnet20", "--weights", weights, "--output", output))
    assert error.startswith(
        f"evaluate.py: error: argument --weights: the weights file {str(weights)!r} does not "
        f"fit the model 'resnet20' built with input shape (32, 32, 3) and output shape "
        f"(None, 10)"), error
    assert not output.exists()
    # The library refuses it too, before reading an image.
    with pytest.raises(ValueError, match=r"^model 'resnet20' scores 3 classes, but the source "
                                         r"has 10: evaluate it on the classes it was trained"):
        evaluate_center_crop(model, "resnet20", digits(channels=3), split="test")


def test_a_model_of_other_channels_is_refused(tmp_path):
    kerasnets.build("lenet5", input_shape=(32, 32, 3)).save(tmp_path / "lenet5.keras")
    assert one_error(run_here("--model", tmp_path / "lenet5.keras")) == (
        "evaluate.py: error: argument --model: the model takes 3-channel images, but the data "
        "are read as 1-channel images for lenet5 (input 32x32x1); pass --registered-as the "
        "name of a network with 3-channel input")


def test_top5_is_reported_only_with_more_than_five_classes(three_class_resnet, tmp_path):
    from kerasnets.data import evaluate_center_crop, image_folder

    model, path, _ = three_class_resnet
    folder = write_folder(tmp_path / "colours", ("blue", "green", "red"), per_class=10)
    output = tmp_path / "colours.json"
    result = run_here("--model", path, "--data", f"folder:{folder}", "--output", output)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(output.read_text())
    # Every label is among the top 5 of 3 classes: no top-5 line, no "top5" key.
    assert sorted(record) == ["crop", "data", "model", "registered_as", "scales", "split", "top1",
                              "top1_error"]
    assert record["top1_error"] == pytest.approx(1 - record["top1"])
    assert "top-5" not in result.stdout
    source = image_folder(folder, validation_fraction=0.1, test_fraction=0.1, seed=0)
    expected = evaluate_center_crop(model, "resnet20", source, split="test")["top1"]
    assert record["top1"] == pytest.approx(expected)
    assert f"top-1 accuracy: {expected:.4f}" in result.stdout


def test_test_scales_below_the_smallest_input_are_refused(model_file, tmp_path):
    _, lenet = model_file
    resnet = tmp_path / "resnet20.keras"
    kerasnets.build("resnet20").save(resnet)
    output = tmp_path / "result.json"
    for args, message in [
        # LeNet-5's converted classifier (C5 is 5x5 on a 32x32 input) needs 32 pixels.
        (["--model", lenet, "--crop", "dense", "--scales", "16,32"],
         "argument --scales: 16 is below the input its fully connected classifier was built "
         "for, 32x32: use test scales (shorter sides) of at least 32"),
        (["--model", lenet, "--scales", "24,40"],
         "argument --scales: 24 is below the 32x32 crop taken at each scale: use test scales "
         "(shorter sides) of at least 32"),
        # ResNet-20's registered min_input_shape is 8x8.
        (["--model", resnet, "--crop", "dense", "--scales", "4"],
         "argument --scales: 4 is below the smallest input of resnet20, 8x8: use test scales "
         "(shorter sides) of at least 8"),
    ]:
        assert one_error(run_here(*args, "--output", output)) == f"evaluate.py: error: {message}"
    assert not output.exists()


def test_a_non_square_model_is_refused_by_crops_and_evaluated_densely(tmp_path):
    from kerasnets.data import evaluate_center_crop, preprocess

    keras.utils.set_random_seed(0)
    model = kerasnets.build("resnet20", input_shape=(32, 48, 3))
    path = tmp_path / "wide.keras"
    model.save(path)
    output = tmp_path / "result.json"
    for args, crop in [([], "center"), (["--crop", "ten"], "ten"),
                       (["--scales", "48"], "center with --scales")]:
        assert one_error(run_here("--model", path, "--output", output, *args)) == (
            f"evaluate.py: error: argument --crop: the model takes 32x48 (height x width) "
            f"images, but --crop {crop} evaluates square crops: use --crop dense (whole "
            f"images) or a model with a square input")
    with pytest.raises(ValueError, match=r"^model 'resnet20' takes 32x48 \(height x width\) "
                                         r"images, but the centre, ten-crop and multi-scale "
                                         r"views are square crops"):
        evaluate_center_crop(model, "resnet20", digits(channels=3))
    # Dense evaluation uses both sides: the digits come 32x48, and at Q = 32 (the shorter
    # side) the network, rebuilt for any size, sees exactly its own input.
    result = run_here("--model", path, "--crop", "dense", "--scales", 32, "--output", output)
    assert result.returncode == 0, result.stderr[-3000:]
    images, labels = (np.concatenate(p) for p in zip(
        *digits(image_size=(32, 48), channels=3).test.batch(512).as_numpy_iterator()))
    x = preprocess(images, "torch").numpy()
    scores = (model.predict(x, verbose=0) + model.predict(x[:, :, ::-1], verbose=0)) / 2
    top1, top5 = accuracies(scores, labels)
    record = json.loads(output.read_text())
    assert record["top1"] == pytest.approx(top1) and record["top5"] == pytest.approx(top5)


def test_a_split_without_images_is_a_one_line_error(model_file, tmp_path):
    from kerasnets.data import evaluate_center_crop, image_folder

    _, path = model_file
    # Three images a class: a tenth of them rounds to none for validation and test.
    few = write_folder(tmp_path / "few", ("a", "b"), per_class=3)
    output = tmp_path / "result.json"
    assert one_error(run_here("--model", path, "--data", f"folder:{few}",
                              "--output", output)) == (
        f"evaluate.py: error: argument --split: the test split of folder:{few} has no images "
        f"(images per split: train 6, validation 0, test 0)")
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    error = one_error(run_here("--model", path, "--data", f"folder:{empty}", "--output", output))
    assert error.startswith(f"evaluate.py: error: argument --data: `path` {str(empty)!r} has no")
    source = image_folder(few, validation_fraction=0.1, test_fraction=0.1, seed=0)
    with pytest.raises(ValueError, match=r"^`source` has no images to evaluate in its 'test' "
                                         r"split$"):
        evaluate_center_crop(kerasnets.build("lenet5", classes=2), "lenet5", source,
                             split="test")


def test_broken_model_and_weights_files_are_one_line_errors(model_file, tmp_path):
    model, path = model_file
    whole = path.read_bytes()
    truncated, garbage = tmp_path / "truncated.keras", tmp_path / "garbage.keras"
    truncated.write_bytes(whole[: len(whole) // 2])
    garbage.write_bytes(b"<html>502 Bad Gateway</html>")
    model.save_weights(tmp_path / "lenet5.weights.h5")
    weights = (tmp_path / "lenet5.weights.h5").read_bytes()
    cut = tmp_path / "cut.weights.h5"
    cut.write_bytes(weights[: len(weights) // 2])
    output = tmp_path / "result.json"
    tail = "It may be truncated (an interrupted download or copy) or not a Keras file at all."
    for file in (truncated, garbage):
        assert one_error(run_here("--model", file, "--output", output)) == (
            f"evaluate.py: error: argument --model: {str(file)!r} is not a valid, complete "
            f"Keras model file: a .keras file is a zip archive and this one cannot be read as "
            f"one (File is not a zip file). {tail}")
        assert one_error(run_here("--model", "lenet5", "--weights", file,
                                  "--output", output)) == (
            f"evaluate.py: error: argument --weights: {str(file)!r} is not a valid, complete "
            f"Keras weights file: a .keras file is a zip archive and this one cannot be read "
            f"as one (File is not a zip file). {tail}")
    error = one_error(run_here("--model", "lenet5", "--weights", cut, "--output", output))
    assert error.startswith(
        f"evaluate.py: error: argument --weights: {str(cut)!r} is not a valid, complete Keras "
        f"weights file: a .weights.h5 file is HDF5 and this one cannot be opened as HDF5 "
        f"(Unable to synchronously open file (truncated file: ") and error.endswith(tail), error
    assert not output.exists()


def test_dense_evaluation_of_a_registered_name_loads_its_weights(model_file, tmp_path):
    # The weights of the plain LeNet-5 go into it before its classifier is made convolutional:
    # the same result as the .keras file's (test_dense_crop_averages_the_image_and_its_mirror).
    model, _ = model_file
    weights = tmp_path / "lenet5.weights.h5"
    model.save_weights(weights)
    output = tmp_path / "dense.json"
    result = run_here("--model", "lenet5", "--weights", weights, "--crop", "dense",
                      "--scales", 32, "--output", output)
    assert result.returncode == 0, result.stderr[-3000:]
    images, labels = (np.concatenate(p) for p in zip(
        *digits(image_size=32).test.batch(512).as_numpy_iterator()))
    scores = (model.predict(images, verbose=0) + model.predict(images[:, :, ::-1], verbose=0)) / 2
    top1, top5 = accuracies(scores, labels)
    record = json.loads(output.read_text())
    assert (record["registered_as"], record["crop"]) == ("lenet5", "dense")
    assert record["top1"] == pytest.approx(top1) and record["top5"] == pytest.approx(top5)


# Issue 17: VGG's multi-crop and multi-crop & dense evaluation, ensembles, errors as in the papers.

def digits_source():
    from kerasnets.data.sources import open_source

    return open_source("digits", channels=1, image_size=32)


def assert_record_is(record, result):
    for k in (1, 5):
        assert record[f"top{k}"] == pytest.approx(result[f"top{k}"])
        assert record[f"top{k}_error"] == pytest.approx(1 - result[f"top{k}"])


@pytest.mark.slow  # 33 s; tests/test_evaluate_modes.py checks the library functions by value
def test_multi_crop_and_multi_crop_dense_equal_the_library(model_file, tmp_path):
    from kerasnets.data import evaluate_multi_crop, evaluate_multi_crop_dense

    model, path = model_file
    output = tmp_path / "multi.json"
    result = run_here("--model", path, "--crop", "multi", "--output", output)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(output.read_text())
    # VGG's Q = 256, 384, 512 scaled to LeNet-5's 32 pixels.
    assert (record["crop"], record["scales"]) == ("multi", [37, 55, 73])
    assert_record_is(record, evaluate_multi_crop(model, "lenet5", digits_source(),
                                                 split="test", image_size=32))
    assert f"top-1 accuracy: {record['top1']:.4f}, error: {record['top1_error']:.4f}" \
        in result.stdout

    output = tmp_path / "fused.json"
    result = run_here("--model", path, "--crop", "multi+dense", "--scales", "32,40",
                      "--output", output)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(output.read_text())
    assert (record["crop"], record["scales"]) == ("multi+dense", [32, 40])
    assert_record_is(record, evaluate_multi_crop_dense(model, "lenet5", digits_source(),
                                                       scales=(32, 40), split="test"))


def test_two_models_are_an_ensemble(model_file, tmp_path):
    from kerasnets.data import evaluate_ensemble

    model, path = model_file
    keras.utils.set_random_seed(1)
    other = kerasnets.build("lenet5", classes=10)
    first, second = tmp_path / "a.keras", tmp_path / "b.keras"
    model.save(first)
    other.save(second)
    result = run_here("--model", first, "--model", second)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "a.ensemble.eval.json").read_text())
    assert record["models"] == [str(first), str(second)] and "model" not in record
    assert_record_is(record, evaluate_ensemble([model, other], "lenet5", digits_source(),
                                               split="test", image_size=32, resize=32))


def test_a_bad_model_in_an_ensemble_is_a_one_line_error_naming_it(model_file, tmp_path):
    _, path = model_file
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"<html>502 Bad Gateway</html>")
    resnet = tmp_path / "resnet20.keras"
    kerasnets.build("resnet20", classes=10).save(resnet)
    output = tmp_path / "result.json"
    assert one_error(run_here("--model", path, "--model", garbage, "--output", output)) \
        .startswith(f"evaluate.py: error: argument --model: {str(garbage)!r} is not a valid, "
                    f"complete Keras model file")
    assert one_error(run_here("--model", path, "--model", resnet, "--output", output)) == (
        f"evaluate.py: error: argument --model: {resnet} is registered as 'resnet20', but "
        f"{path} as 'lenet5': an ensemble's models are one network (pass --registered-as to "
        f"evaluate them as one)")
    assert one_error(run_here("--model", path, "--model", "lenet5", "--output", output)) == (
        "evaluate.py: error: argument --model: an ensemble averages .keras files (each carries "
        "its weights); lenet5 is not one")
    assert not output.exists()
