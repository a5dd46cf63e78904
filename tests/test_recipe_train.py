"""`recipes/train.py`, run as a user runs it: in a subprocess, from the repository root."""

import json
import os
import pathlib
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import load_script, run_inline

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "recipes" / "train.py"
ACCURACY = re.compile(r"^test accuracy: (\d\.\d{4})$", re.MULTILINE)
EXPORTED = re.compile(
    r"^saved (SavedModel|TFLite float32|TFLite int8): (\S+) \(([\d,]+) bytes\), "
    r"test accuracy: (\d\.\d{4})$", re.MULTILINE,
)
OUTPUTS = [
    "lenet5", "lenet5.keras", "lenet5.labels.txt", "lenet5.metadata.json", "lenet5.tflite",
    "lenet5_int8.labels.txt", "lenet5_int8.metadata.json", "lenet5_int8.tflite",
    "lenet5.training",
]
# The run's folder once it has finished (its checkpoints are gone: nothing to resume).
RUN_FILES = ["best.keras", "config.yaml", "history.csv", "history.png", "logs"]


def exports(stdout):
    """{kind: (path, size, accuracy)} from the lines that report the exports."""
    return {kind: (path, int(size.replace(",", "")), float(accuracy))
            for kind, path, size, accuracy in EXPORTED.findall(stdout)}


def check_exports(stdout, folder, accuracy, cwd=ROOT):
    found = exports(stdout)
    assert sorted(found) == ["SavedModel", "TFLite float32", "TFLite int8"], stdout
    assert found["SavedModel"][0] == os.path.join(str(folder), "lenet5")
    assert found["TFLite float32"][0] == os.path.join(str(folder), "lenet5.tflite")
    assert found["TFLite int8"][0] == os.path.join(str(folder), "lenet5_int8.tflite")
    for kind in ("TFLite float32", "TFLite int8"):
        assert (pathlib.Path(cwd) / found[kind][0]).stat().st_size == found[kind][1]
    # 61,706 weights: 4 bytes each in float32, 1 in int8 (plus the graph).
    assert 61_706 * 4 < found["TFLite float32"][1] < 61_706 * 4 + 20_000
    assert 61_706 < found["TFLite int8"][1] < 61_706 + 25_000
    # The float exports compute what Keras computes; int8 loses little.
    assert found["SavedModel"][2] == accuracy
    assert abs(found["TFLite float32"][2] - accuracy) <= 0.003  # one image of 359
    assert found["TFLite int8"][2] >= accuracy - 0.03
    return found


def run(*args, cwd=ROOT, timeout=300):
    # As a user runs it: TensorFlow's log level not set (the CLI's in-process tests set it).
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
    )


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("train.py: error:")]


def load_recipe():
    return load_script(SCRIPT, "train_recipe")


def test_help_documents_every_option():
    result = run("--help")
    assert result.returncode == 0, result.stderr
    parser = load_recipe().build_parser()
    for action in parser._actions:
        for option in action.option_strings:
            assert option in result.stdout
        assert action.help, f"{action.option_strings} has no help text"
    for option in ("--model", "--epochs", "--batch-size", "--learning-rate", "--seed",
                   "--output-dir", "--overwrite", "--quiet"):
        assert option in result.stdout
    assert "Adam" in result.stdout  # the optimizer is stated


@pytest.mark.parametrize(
    "args, option",
    [
        (["--epochs", "0"], "--epochs"),
        (["--epochs", "two"], "--epochs"),
        (["--batch-size", "-1"], "--batch-size"),
        (["--learning-rate", "0"], "--learning-rate"),
        (["--learning-rate", "nan"], "--learning-rate"),
        (["--shift", "1"], "--shift"),
        (["--seed", "-3"], "--seed"),
    ],
)
def test_bad_option_values_give_a_one_line_error(args, option, tmp_path):
    result = run(*args, "--output-dir", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and option in errors[0], result.stderr


def test_unknown_model_gives_a_one_line_error(tmp_path):
    result = run_inline(load_recipe().main, ["--model", "lenet6", "--output-dir", str(tmp_path)])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and "--model" in errors[0] and "lenet5" in errors[0], result.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_litert_is_named_before_any_training(tmp_path, monkeypatch):
    # As on a platform without LiteRT wheels: the TFLite exports cannot be verified.
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    start = time.monotonic()
    result = run_inline(load_recipe().main, ["--epochs", "1", "--output-dir", str(tmp_path)])
    assert result.returncode == 2
    assert time.monotonic() - start < 20
    assert "Traceback" not in result.stderr and "Epoch" not in result.stdout
    assert error_lines(result.stderr) == [
        "train.py: error: --tflite (every TFLite file is run and checked against the model) "
        "needs the ai-edge-litert package, which is not installed: pip install ai-edge-litert; "
        "or pass --no-tflite"], result.stderr
    assert list(tmp_path.iterdir()) == []


def test_trains_saves_and_refuses_to_overwrite(tmp_path):
    import keras

    out = tmp_path / "models"
    result = run("--epochs", "1", "--output-dir", str(out))
    assert result.returncode == 0, result.stderr
    # Nothing on stderr: TensorFlow's C++ start-up lines, the converter's notices, LiteRT's
    # INFO lines and Keras' "input ran out of data" are dropped (kerasnets.logs).
    assert result.stderr == "", result.stderr
    assert re.search(r"^40/40 - .* - val_accuracy: ", result.stdout, re.MULTILINE)  # Keras progress
    accuracy = float(ACCURACY.search(result.stdout).group(1))
    assert 0.0 <= accuracy <= 1.0
    path = out / "lenet5.keras"
    assert f"saved model: {path}" in result.stdout.splitlines()
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)  # no temporary files
    assert sorted(p.name for p in (out / "lenet5.training").iterdir()) == RUN_FILES
    check_exports(result.stdout, out, accuracy)
    meta = json.loads((out / "lenet5_int8.metadata.json").read_text())
    assert meta["input"]["dtype"] == "int8" and meta["preprocessing"]["mode"] == "unit"
    assert (out / "lenet5.labels.txt").read_text() == "".join(f"{d}\n" for d in range(10))

    model = keras.saving.load_model(path)  # safe_mode=True
    probabilities = model.predict(np.random.rand(2, 32, 32, 1).astype("float32"), verbose=0)
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

    before = (path.read_bytes(), path.stat().st_mtime_ns)
    start = time.monotonic()
    main = load_recipe().main  # the refusals in this process: no training, no new import
    result = run_inline(main, ["--epochs", "1", "--output-dir", str(out)])
    assert result.returncode == 2
    assert time.monotonic() - start < 20  # refused before training, not after
    assert "Traceback" not in result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert "--overwrite" in errors[0] and str(path) in errors[0]
    assert "test accuracy" not in result.stdout
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before

    # Any one of the exports present is enough to refuse.
    path.rename(out / "kept.keras")
    result = run_inline(main, ["--epochs", "1", "--output-dir", str(out)])
    assert result.returncode == 2
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and str(out / "lenet5") + " already exists" in errors[0], errors
    (out / "kept.keras").rename(path)

    result = run("--epochs", "1", "--shift", "0", "--batch-size", "128", "--quiet",
                 "--overwrite", "--output-dir", str(out))
    assert result.returncode == 0, result.stderr
    assert "val_accuracy" not in result.stdout
    assert ACCURACY.search(result.stdout)
    assert path.read_bytes() != before[0]
    keras.saving.load_model(path)
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    check_exports(result.stdout, out, float(ACCURACY.search(result.stdout).group(1)))


@pytest.mark.slow
def test_default_run_reaches_97_percent_in_3_minutes(tmp_path):
    start = time.monotonic()
    result = run(cwd=tmp_path, timeout=600)  # no arguments at all
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    accuracy = float(ACCURACY.search(result.stdout).group(1))
    assert accuracy >= 0.97, result.stdout
    assert elapsed < 180, f"took {elapsed:.0f} s"
    path = os.path.join("savedmodels", "lenet5.keras")
    assert f"saved model: {path}" in result.stdout.splitlines()
    assert (tmp_path / path).is_file()
    assert sorted(p.name for p in (tmp_path / "savedmodels").iterdir()) == sorted(OUTPUTS)
    found = check_exports(result.stdout, "savedmodels", accuracy, cwd=tmp_path)
    assert found["TFLite int8"][2] >= accuracy - 0.01  # a trained LeNet-5 loses at most 1 point
