"""`kerasnets export`: SavedModel and TFLite from a registered name or a .keras file."""

import json
import pathlib

import keras
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
    assert out[0].startswith("wrote SavedModel savedmodels/lenet5 (")
    assert out[1].startswith("verified on 8 inputs: max |difference| ")
    assert sorted(p.name for p in (tmp_path / "savedmodels").iterdir()) == ["lenet5"]
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
    source = save_keras(model, tmp_path / "digits_net.keras")
    labels = tmp_path / "labels.txt"
    labels.write_text("zero\none\ntwo\n")
    out = tmp_path / "exports"
    assert main(["export", source, "--format", "tflite", "--quantize", "int8", "--io-dtype",
                 "uint8", "--labels", str(labels), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote TFLite int8 {out / 'digits_net_int8.tflite'} (" in printed
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
