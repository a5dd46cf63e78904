"""`kerasnets export`: SavedModel and TFLite from a registered name or a .keras file."""

import json
import os
import pathlib
import stat

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasnets
from kerasnets.cli import main
from kerasnets.export import TFLiteModel, save_keras


def test_saved_model_under_savedmodels_by_default_and_never_overwritten(tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["export", "lenet5", "--format", "saved_model"]) == 0
    out = capsys.readouterr().out.splitlines()
    # A registered name has random weights: said first, and recorded in the metadata.
    assert out[0].startswith("weights: random (lenet5 built from the registry, untrained)")
    assert out[1].startswith("wrote SavedModel savedmodels/lenet5 (")
    assert out[1].endswith("with metadata.json in it")
    assert out[2].startswith("verified on 8 inputs: max |difference| ")
    # Near-equal scores of an untrained network make its top-1 agreement noise.
    assert out[2].endswith(", so the agreement says nothing)")
    assert sorted(p.name for p in (tmp_path / "savedmodels").iterdir()) == ["lenet5"]
    meta = json.loads((tmp_path / "savedmodels" / "lenet5" / "metadata.json").read_text())
    assert meta["weights"]["random"] is True
    assert "without trained weights" in meta["weights"]["source"]
    assert meta["preprocessing"]["mode"] == "unit" and meta["labels"] is None
    loaded = tf.saved_model.load(str(tmp_path / "savedmodels" / "lenet5"))
    assert "serving_default" in loaded.signatures
    stamp = (tmp_path / "savedmodels" / "lenet5" / "saved_model.pb").stat().st_mtime_ns

    assert main(["export", "lenet5", "--format", "saved_model"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("kerasnets export: error: savedmodels/lenet5 already exists")
    assert "--overwrite" in err
    assert (tmp_path / "savedmodels" / "lenet5" / "saved_model.pb").stat().st_mtime_ns == stamp

    assert main(["export", "lenet5", "--format", "saved_model", "--overwrite"]) == 0
    assert (tmp_path / "savedmodels" / "lenet5" / "saved_model.pb").stat().st_mtime_ns != stamp


def test_int8_tflite_from_a_keras_file_with_labels(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    model = kerasnets.build("lenet5", classes=3)
    source = save_keras(model, tmp_path / "digits_net.keras").path
    labels = tmp_path / "labels.txt"
    labels.write_text("zero\none\ntwo\n")
    out = tmp_path / "exports"
    assert main(["export", source, "--format", "tflite", "--quantize", "int8", "--io-dtype",
                 "uint8", "--labels", str(labels), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote TFLite int8 {out / 'digits_net_int8.tflite'} (" in printed
    assert "verified on 8 inputs: " in printed and "says nothing" not in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "digits_net_int8.labels.txt", "digits_net_int8.metadata.json", "digits_net_int8.tflite",
    ]
    assert (out / "digits_net_int8.labels.txt").read_text() == "zero\none\ntwo\n"
    meta = json.loads((out / "digits_net_int8.metadata.json").read_text())
    assert meta["quantization"] == "int8" and meta["input"]["dtype"] == "uint8"
    assert meta["outputs"][0]["shape"] == [1, 3]
    # The model's name (lenet5) finds the registry's preprocessing.
    assert meta["preprocessing"]["mode"] == "unit"
    assert TFLiteModel(out / "digits_net_int8.tflite").input["dtype"].__name__ == "uint8"


@pytest.mark.parametrize("args, code, message", [
    (["lenet6", "--format", "tflite"], 2, "Unknown model name 'lenet6'"),
    (["lenet5", "--format", "saved_model", "--quantize", "int8"], 2,
     "--quantize applies to --format tflite only"),
    (["missing.keras", "--format", "tflite"], 2, "no such model file: missing.keras"),
])
def test_errors_are_one_line(tmp_path, capsys, args, code, message):
    assert main(["export", *args, "--out", str(tmp_path)]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert list(pathlib.Path(tmp_path).iterdir()) == []


def test_format_is_required(capsys):
    with pytest.raises(SystemExit) as info:
        main(["export", "lenet5"])
    assert info.value.code == 2
    assert "--format" in capsys.readouterr().err


def training_run(folder, data, classes=3):
    """A .keras file laid out as recipes/train.py leaves it: config.yaml and labels beside."""
    keras.utils.set_random_seed(0)
    folder.mkdir()
    source = save_keras(kerasnets.build("lenet5", classes=classes), folder / "net.keras").path
    (folder / "net.training").mkdir()
    (folder / "net.training" / "config.yaml").write_text(f"model: lenet5\ndata: {data}\n")
    (folder / "net.labels.txt").write_text("".join(f"class {i}\n" for i in range(classes)))
    return source


def test_a_trained_keras_file_keeps_its_recorded_class_names(tmp_path, capfd):
    source = training_run(tmp_path / "run", "folder:/photos")
    out = tmp_path / "exports"
    assert main(["export", source, "--format", "tflite", "--out", str(out)]) == 0
    printed = capfd.readouterr()
    assert f"class names: 3 from {tmp_path / 'run' / 'net.labels.txt'}" in printed.out
    assert "weights: random" not in printed.out
    assert (out / "net.labels.txt").read_text() == "class 0\nclass 1\nclass 2\n"
    meta = json.loads((out / "net.metadata.json").read_text())
    assert meta["labels"] == "net.labels.txt" and meta["weights"]["random"] is False
    assert "trained on folder:/photos" in meta["weights"]["source"]
    # The converter's and LiteRT's native notices do not reach the user.
    for noise in ("XNNPACK", "absl::InitializeLog", "oneDNN", "I0000"):
        assert noise not in printed.err, printed.err


def test_int8_of_a_model_trained_on_other_data_needs_calibration(tmp_path, capsys):
    source = training_run(tmp_path / "run", "tfds:cifar10")
    out = tmp_path / "exports"
    assert main(["export", source, "--format", "tflite", "--quantize", "int8",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--calibration is required" in err
    assert "trained on tfds:cifar10" in err and "config.yaml" in err
    assert not out.exists()  # refused before any work

    images = np.random.default_rng(0).uniform(0, 1, (12, 32, 32, 1)).astype("float32")
    np.save(tmp_path / "calibration.npy", images)
    assert main(["export", source, "--format", "tflite", "--quantize", "int8", "--out",
                 str(out), "--calibration", str(tmp_path / "calibration.npy")]) == 0
    printed = capsys.readouterr().out
    assert f"int8 calibration: 12 images of {tmp_path / 'calibration.npy'} (--calibration)" \
        in printed
    meta = json.loads((out / "net_int8.metadata.json").read_text())
    assert meta["calibration"] == {"source": f"{tmp_path / 'calibration.npy'} (--calibration)",
                                   "images": 12}


def test_int8_calibration_states_its_source(tmp_path, capsys):
    # Trained on the digits: they calibrate it by default, and the metadata says so.
    source = training_run(tmp_path / "run", "digits", classes=10)
    out = tmp_path / "exports"
    assert main(["export", source, "--format", "tflite", "--quantize", "int8",
                 "--out", str(out)]) == 0
    meta = json.loads((out / "net_int8.metadata.json").read_text())
    assert meta["calibration"]["images"] == 200
    assert meta["calibration"]["source"].startswith("the training split of scikit-learn's")
    assert "the model's training data, recorded in" in meta["calibration"]["source"]
    # A registered name: the digits are its default, said as such.
    assert main(["export", "lenet5", "--format", "tflite", "--quantize", "int8",
                 "--out", str(out)]) == 0
    meta = json.loads((out / "lenet5_int8.metadata.json").read_text())
    assert meta["calibration"]["source"].endswith("the default for a registered network")
    assert meta["weights"]["random"] is True
    capsys.readouterr()


def test_exports_get_the_users_umask(tmp_path):
    old = os.umask(0o027)
    try:
        assert main(["export", "lenet5", "--format", "saved_model", "--out", str(tmp_path)]) == 0
        assert main(["export", "lenet5", "--format", "tflite", "--out", str(tmp_path)]) == 0
    finally:
        os.umask(old)
    folder = tmp_path / "lenet5"
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode)
             for p in [folder, *folder.rglob("*")]}
    assert modes[str(folder.relative_to(tmp_path))] == 0o750
    assert modes["lenet5/variables"] == 0o750  # TensorFlow makes it 0o755 whatever the umask
    assert modes["lenet5/saved_model.pb"] == 0o640
    assert set(modes.values()) == {0o750, 0o640}, modes
    for name in ("lenet5.tflite", "lenet5.metadata.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name
