"""SavedModel export: a serving signature that reloads and agrees to 1e-5, written atomically."""

import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasnets
from kerasnets.export import SavedModelRunner, VerificationError, export_saved_model
from kerasnets.export.metadata import random_inputs


@pytest.fixture(scope="module")
def lenet():
    keras.utils.set_random_seed(5)
    return kerasnets.build("lenet5", classes=10)


def entries(folder):
    return sorted(p.name for p in pathlib.Path(folder).iterdir())


def test_reloads_with_a_serving_signature_equal_to_keras(lenet, tmp_path):
    path = tmp_path / "savedmodels" / "lenet5"
    result = export_saved_model(lenet, path)
    assert result.path == str(path)
    assert entries(path.parent) == ["lenet5"]  # no temporary folder left
    assert (path / "saved_model.pb").is_file()
    assert result.size_bytes > 4 * 61_706
    assert result.verification["max_abs_diff"] <= 1e-5

    loaded = tf.saved_model.load(str(path))
    assert sorted(loaded.signatures) == ["serve", "serving_default"]
    signature = loaded.signatures["serving_default"]
    (name, spec), = signature.structured_input_signature[1].items()
    assert spec.shape.as_list() == [None, 32, 32, 1]  # any batch size
    x = random_inputs((32, 32, 1), "unit", count=5, seed=1)
    out = signature(**{name: tf.constant(x)})
    np.testing.assert_allclose(out["output_0"].numpy(), lenet.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(loaded.serve(x).numpy(), lenet.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(SavedModelRunner(path).predict(x), lenet.predict(x, verbose=0),
                               atol=1e-5)


def test_refuses_to_overwrite(lenet, tmp_path):
    path = tmp_path / "lenet5"
    path.mkdir()
    (path / "mine.txt").write_text("previous")
    with pytest.raises(FileExistsError, match="overwrite=True") as info:
        export_saved_model(lenet, path)
    assert str(path) in str(info.value)
    assert entries(tmp_path) == ["lenet5"] and entries(path) == ["mine.txt"]


def test_overwrite_replaces_the_folder(lenet, tmp_path):
    path = tmp_path / "lenet5"
    path.mkdir()
    (path / "mine.txt").write_text("previous")
    export_saved_model(lenet, path, overwrite=True)
    assert "mine.txt" not in entries(path) and "saved_model.pb" in entries(path)
    assert entries(tmp_path) == ["lenet5"]


def test_failed_export_leaves_nothing(lenet, tmp_path, monkeypatch):
    real_export = type(lenet).export

    def export_then_fail(self, filepath, *args, **kwargs):
        real_export(self, filepath, *args, **kwargs)
        raise KeyboardInterrupt  # even an interrupt must not leave a partial folder

    monkeypatch.setattr(type(lenet), "export", export_then_fail)
    with pytest.raises(KeyboardInterrupt):
        export_saved_model(lenet, tmp_path / "lenet5")
    assert entries(tmp_path) == []


def test_failed_verification_leaves_nothing(lenet, tmp_path, monkeypatch):
    real_predict = SavedModelRunner.predict
    monkeypatch.setattr(SavedModelRunner, "predict",
                        lambda self, x: real_predict(self, x) * 0.5)
    with pytest.raises(VerificationError, match="SavedModel differs from the Keras model"):
        export_saved_model(lenet, tmp_path / "lenet5")
    assert entries(tmp_path) == []


def test_path_is_a_folder_not_a_file(lenet, tmp_path):
    with pytest.raises(ValueError, match="folder of a SavedModel"):
        export_saved_model(lenet, tmp_path / "lenet5.keras")


@pytest.mark.slow
def test_xception_at_its_minimum_input(tmp_path):
    model = kerasnets.build("xception", input_shape=(71, 71, 3), classes=5)
    result = export_saved_model(model, tmp_path / "xception")
    assert result.verification["max_abs_diff"] <= 1e-5
    x = random_inputs((71, 71, 3), "tf", count=2)
    np.testing.assert_allclose(SavedModelRunner(result.path).predict(x),
                               model.predict(x, verbose=0), atol=1e-5)
