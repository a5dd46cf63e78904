"""`save_keras`: a .keras file appears whole or not at all, and is never replaced by accident."""

import os
import pathlib

import keras
import numpy as np
import pytest

from kerasnets.export import save_keras


@pytest.fixture(scope="module")
def model():
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))


class FailingModel:
    """Writes part of a file, then fails, as a save interrupted by a full disk would."""

    def save(self, path, overwrite=True):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 partial")
        raise OSError("No space left on device")


def leftovers(folder):
    return sorted(p.name for p in pathlib.Path(folder).iterdir() if ".tmp-" in p.name)


def test_saves_a_loadable_file(model, tmp_path):
    path = tmp_path / "nested" / "folder" / "net.keras"
    result = save_keras(model, path)
    assert result.path == os.fspath(path) and result.format == "keras"
    assert result.size_bytes == os.path.getsize(path)
    loaded = keras.saving.load_model(path)
    x = np.ones((2, 4), dtype="float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert leftovers(path.parent) == []


def test_new_file_gets_the_usual_permissions(model, tmp_path):
    # The temporary file is made private (0600); the saved file must not stay so.
    umask = os.umask(0o022)
    try:
        path = save_keras(model, tmp_path / "net.keras").path
    finally:
        os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o644


def test_refuses_to_overwrite(model, tmp_path):
    path = tmp_path / "net.keras"
    path.write_bytes(b"previous model")
    with pytest.raises(FileExistsError, match="overwrite=True") as info:
        save_keras(model, path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == b"previous model"
    assert leftovers(tmp_path) == []


def test_overwrite_replaces_the_file(model, tmp_path):
    path = tmp_path / "net.keras"
    path.write_bytes(b"previous model")
    save_keras(model, path, overwrite=True)
    assert keras.saving.load_model(path).count_params() == model.count_params()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("overwrite", [False, True])
def test_failed_save_keeps_the_existing_file(tmp_path, overwrite):
    path = tmp_path / "net.keras"
    if overwrite:
        path.write_bytes(b"previous model")
    with pytest.raises(OSError, match="No space left"):
        save_keras(FailingModel(), path, overwrite=overwrite)
    if overwrite:
        assert path.read_bytes() == b"previous model"
    else:
        assert not path.exists()
    assert leftovers(tmp_path) == []


def test_failed_save_of_a_real_model_leaves_nothing(model, tmp_path, monkeypatch):
    path = tmp_path / "net.keras"
    path.write_bytes(b"previous model")
    real_save = type(model).save

    def save_then_fail(self, filepath, *args, **kwargs):
        real_save(self, filepath, *args, **kwargs)
        raise KeyboardInterrupt  # even an interrupt must not leave a temporary file

    monkeypatch.setattr(type(model), "save", save_then_fail)
    with pytest.raises(KeyboardInterrupt):
        save_keras(model, path, overwrite=True)
    assert path.read_bytes() == b"previous model"
    assert leftovers(tmp_path) == []


def test_a_file_that_appears_during_the_save_is_not_replaced(model, tmp_path, monkeypatch):
    path = tmp_path / "net.keras"
    real_save = type(model).save

    def racing_save(self, filepath, *args, **kwargs):
        path.write_bytes(b"written by another process")
        real_save(self, filepath, *args, **kwargs)

    monkeypatch.setattr(type(model), "save", racing_save)
    with pytest.raises(FileExistsError):
        save_keras(model, path)
    assert path.read_bytes() == b"written by another process"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["net.h5", "net.weights.h5", "net", "net.keras.bak"])
def test_path_must_end_with_keras(model, tmp_path, name):
    with pytest.raises(ValueError, match=r"\.keras"):
        save_keras(model, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_path_must_not_be_a_folder(model, tmp_path):
    folder = tmp_path / "net.keras"
    folder.mkdir()
    with pytest.raises(IsADirectoryError):
        save_keras(model, folder, overwrite=True)


def _weight_file_contents(path):
    import h5py

    contents = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, item: contents.__setitem__(
            name, item[()].tobytes() if isinstance(item, h5py.Dataset) else dict(item.attrs)))
    return contents


def test_cached_skipsets_save_the_same_file_without_building_throwaway_layers(
        tmp_path, monkeypatch):
    from keras.src.backend.common import global_state

    from kerasnets.export.keras_file import cache_saving_skipsets

    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.BatchNormalization()(x)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    net = keras.Model(inputs, outputs)
    net.compile(keras.optimizers.Adam(), "mse")
    net.train_on_batch(np.ones((2, 6, 6, 3), "float32"), np.ones((2, 2), "float32"))
    for key in [k for k in list(global_state.GLOBAL_STATE_TRACKER.__dict__)
                if k.startswith("saving_attr_skip")]:
        monkeypatch.delattr(global_state.GLOBAL_STATE_TRACKER, key)

    built = []
    original_init = keras.layers.Layer.__init__

    def counting_init(self, *args, **kwargs):
        built.append(type(self).__name__)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(keras.layers.Layer, "__init__", counting_init)
    net.save_weights(tmp_path / "keras.weights.h5")
    net.save_weights(tmp_path / "keras_again.weights.h5")
    # Keras' own lookup misses its cache: throw-away layers on every save.
    assert built.count("Layer") >= 2 * 4

    cache_saving_skipsets()
    built.clear()
    net.save_weights(tmp_path / "cached.weights.h5")
    assert built == []
    assert _weight_file_contents(tmp_path / "cached.weights.h5") == _weight_file_contents(
        tmp_path / "keras.weights.h5")
