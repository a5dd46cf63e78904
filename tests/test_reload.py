"""`.keras` files reload after `import kerasnets` alone, in a fresh process.

One network of every family (model_configs' cheap form), the networks that
carry the custom layers the family representatives lack, and models compiled
as recipes/train.py compiles them (the kerasnets optimizers, schedules and
loss) are saved here; one subprocess that runs only `import kerasnets` and
`keras.saving.load_model` (safe_mode=True, the default) loads them all, runs
them and reports the compiled state. Every class kerasnets registers for
serialization must be carried by at least one of the files.
"""

import json
import zipfile

import keras
import numpy as np
import pytest

import kerasnets
from conftest import run_with_backend
from kerasnets.training.build import compile_model
from kerasnets.training.config import TrainConfig, override
from model_configs import configs

# Networks with the custom layers that no family representative has.
EXTRA = [
    ("resnet20_drop_path", "resnet20",
     {"input_shape": (8, 8, 3), "classes": 10, "drop_path_rate": 0.5}),
    ("resnet20_drop_path_batch", "resnet20",
     {"input_shape": (8, 8, 3), "classes": 10, "drop_path_rate": 0.5, "drop_path_mode": "batch"}),
]
# The recipes' optimizers, schedules and losses, compiled into the file (steps of 10 per epoch).
COMPILED = {
    "compiled_sgd": dict(optimizer="sgd", momentum=0.9, weight_decay=5e-4, label_smoothing=0.1,
                         schedule={"name": "step", "boundaries": [2, 4], "factor": 0.1}),
    "compiled_rmsprop": dict(optimizer="rmsprop", momentum=0.9, epsilon=1.0,
                             schedule={"name": "exponential", "rate": 0.94, "every": 2}),
    "compiled_adam": dict(optimizer="adam", weight_decay=1e-4,
                          weight_decay_mode="decoupled", schedule={"name": "cosine"}),
    "compiled_adagrad": dict(optimizer="adagrad", weight_decay=1e-4, epsilon=1e-6,
                             schedule={"name": "constant"}),
}

CHILD = """
import json, sys
import numpy as np
import kerasnets  # the only kerasnets import: it must register everything the files carry
import keras

folder = sys.argv[1]
report = {}
for name in json.load(open(f"{folder}/manifest.json")):
    model = keras.saving.load_model(f"{folder}/{name}.keras")  # safe_mode=True by default
    x = np.load(f"{folder}/{name}.input.npy")
    np.save(f"{folder}/{name}.reloaded.npy", keras.ops.convert_to_numpy(model(x, training=False)))
    entry = {}
    if getattr(model, "optimizer", None) is not None:
        entry["optimizer"] = keras.saving.serialize_keras_object(model.optimizer)
        entry["loss"] = keras.saving.serialize_keras_object(model.loss)
    report[name] = entry
json.dump(report, open(f"{folder}/report.json", "w"), default=str)
"""


def registered_names():
    return sorted(key for key in keras.saving.get_custom_objects()
                  if key.startswith("kerasnets>"))


def carried(path):
    """The kerasnets-registered names that the file's config.json mentions."""
    with zipfile.ZipFile(path) as archive:
        text = archive.read("config.json").decode()
    return {name for name in registered_names() if f'"{name}"' in text}


def serialized(obj):
    return json.loads(json.dumps(keras.saving.serialize_keras_object(obj), default=str))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """{name: (path, input, output, serialized optimizer and loss or None)}, all saved."""
    folder = tmp_path_factory.mktemp("reload")
    rng = np.random.default_rng(0)
    files = {}

    def save(name, model, compiled=None):
        path = folder / f"{name}.keras"
        model.save(path)
        x = rng.uniform(-1, 1, (2, *model.input_shape[1:])).astype("float32")
        np.save(folder / f"{name}.input.npy", x)
        output = keras.ops.convert_to_numpy(model(x, training=False))
        files[name] = (path, x, output, compiled)

    keras.utils.set_random_seed(0)
    for config_id, name, kwargs in configs("family") + EXTRA:
        save(config_id, kerasnets.build(name, **kwargs))
    for name, changes in COMPILED.items():
        model = kerasnets.build("lenet5", classes=10)
        compile_model(model, override(TrainConfig(), **changes), steps_per_epoch=10)
        save(name, model, {"optimizer": serialized(model.optimizer),
                           "loss": serialized(model.loss)})
    keras.backend.clear_session()
    (folder / "manifest.json").write_text(json.dumps(sorted(files)))
    run_with_backend("tensorflow", ["-c", CHILD, str(folder)], timeout=900)
    report = json.loads((folder / "report.json").read_text())
    return folder, files, report


def test_every_registered_class_is_in_a_saved_file(saved):
    _, files, _ = saved
    names = registered_names()
    # The custom layers of kerasnets.layers and of the family modules, the training losses
    # and optimizers: all registered by `import kerasnets` (this process imported more).
    for expected in ("ChannelShuffle", "ChannelZeroPadding", "Conv2D", "LocalResponseNormalization",
                     "PartiallyConnectedConv2D", "SqueezeExcite", "StochasticDepth", "BatchStochasticDepth",
                     "TrainableSubsampling", "scaled_tanh", "SGD", "RMSprop", "Adam", "Adagrad",
                     "SparseCategoricalCrossentropy"):
        assert f"kerasnets>{expected}" in names
    covered = set().union(*(carried(path) for path, *_ in files.values()))
    assert covered == set(names), f"no saved file carries {sorted(set(names) - covered)}"


def test_fresh_process_reloads_every_file_with_the_same_outputs(saved):
    folder, files, report = saved
    assert sorted(report) == sorted(files)
    for name, (_, _, output, _) in files.items():
        reloaded = np.load(folder / f"{name}.reloaded.npy")
        np.testing.assert_allclose(reloaded, output, rtol=1e-5, atol=1e-6, err_msg=name)


def test_fresh_process_restores_the_recipes_optimizers_schedules_and_losses(saved):
    _, files, report = saved
    for name in COMPILED:
        expected = files[name][3]
        assert report[name]["optimizer"] == expected["optimizer"], name
        assert report[name]["loss"] == expected["loss"], name
    sgd = report["compiled_sgd"]["optimizer"]
    assert sgd["registered_name"] == "kerasnets>SGD"
    assert sgd["config"]["l2"] == 5e-4
    assert sgd["config"]["learning_rate"]["class_name"] == "PiecewiseConstantDecay"
    assert report["compiled_sgd"]["loss"]["registered_name"] == \
        "kerasnets>SparseCategoricalCrossentropy"
    assert report["compiled_sgd"]["loss"]["config"]["label_smoothing"] == 0.1
    assert report["compiled_rmsprop"]["optimizer"]["registered_name"] == "kerasnets>RMSprop"
    assert report["compiled_adam"]["optimizer"]["registered_name"] == "kerasnets>Adam"
    assert report["compiled_adagrad"]["optimizer"]["registered_name"] == "kerasnets>Adagrad"
