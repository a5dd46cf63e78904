"""int8 TFLite of the mobile networks, trained briefly on the digits at 96x96: top-1 kept.

Each network trains once per pytest run (module fixture: 3 epochs of
mobilenet_v2, 84 s, and 2 of shufflenet_v1, 65 s, on 2 cores; 2.6 minutes in
all). Measured 2026-12-04: int8 top-1 agreement with Keras 0.9916 (mobilenet_v2)
and 0.9944 (shufflenet_v1, after its export-time rewrite, kerasnets.export.rewrite). Batch
normalization momentum is lowered to 0.9 for this brief run: at keras.applications'
0.999 the moving statistics of so few steps are still near their initial values
and the inference-mode model is at chance, which would make any agreement trivial.

Behind the `slow` marker (about 4 minutes with both networks, a fifth of the default
run's budget); the default run checks int8 on LeNet-5 (tests/test_export_tflite.py and
the main job's accuracy in tests/test_recipe_train.py).
"""

import kerasnets.models.mobilenet  # noqa: F401  (registers the networks)
import kerasnets.models.shufflenet  # noqa: F401

import keras
import numpy as np
import pytest

import kerasnets
from kerasnets.data import batched, digits
from kerasnets.export import TFLiteModel, export_tflite

NETWORKS = {
    "mobilenet_v2": dict(alpha=0.35, weights=None),
    "shufflenet_v1": dict(groups=3, scale=0.5),
}
EPOCHS = {"mobilenet_v2": 3, "shufflenet_v1": 2}
LEARNING_RATE = 0.01  # Adam, cosine decay to 0 over the run

pytestmark = pytest.mark.slow


def train(name):
    spec = kerasnets.get_spec(name)
    keras.utils.set_random_seed(0)
    splits = digits(image_size=96, channels=3, preprocessing=spec.preprocessing)
    model = kerasnets.build(name, input_shape=(96, 96, 3), classes=10, **NETWORKS[name])
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    steps = -(-splits.sizes["train"] // 32) * EPOCHS[name]
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(batched(splits.train, 32, shuffle=True, seed=0), epochs=EPOCHS[name], shuffle=False,
              verbose=0)  # the data set shuffles itself; shuffle=False silences Keras
    test = batched(splits.test, 512).as_numpy_iterator()
    images, labels = (np.concatenate(part) for part in zip(*test))
    return model, splits, images, labels


@pytest.fixture(scope="module", params=sorted(NETWORKS))
def trained(request, tmp_path_factory):
    name = request.param
    model, splits, images, labels = train(name)
    folder = tmp_path_factory.mktemp(name)
    preprocessing = kerasnets.get_spec(name).preprocessing
    float32 = export_tflite(model, folder / f"{name}.tflite", class_names=splits.class_names,
                            preprocessing=preprocessing, sample_inputs=images[:8])
    int8 = export_tflite(model, folder / f"{name}_int8.tflite", quantize="int8",
                         representative_data=splits.train, class_names=splits.class_names,
                         preprocessing=preprocessing, sample_inputs=images[:8])
    return name, model, images, labels, float32, int8


def test_float32_agrees_to_1e4(trained):
    _, model, images, _, float32, _ = trained
    assert float32.verification["max_abs_diff"] <= 1e-4
    got = TFLiteModel(float32.path).predict(images[:32])
    np.testing.assert_allclose(got, model.predict(images[:32], verbose=0), atol=1e-4)


def test_int8_keeps_top1_agreement_and_accuracy(trained):
    name, model, images, labels, _, int8 = trained
    expected = model.predict(images, verbose=0)
    got = TFLiteModel(int8.path).predict(images)
    keras_accuracy = np.mean(expected.argmax(-1) == labels)
    int8_accuracy = np.mean(got.argmax(-1) == labels)
    agreement = np.mean(got.argmax(-1) == expected.argmax(-1))
    print(f"{name}: keras {keras_accuracy:.4f}, int8 {int8_accuracy:.4f}, "
          f"agreement {agreement:.4f}")
    assert keras_accuracy >= 0.85  # trained, so that agreement means something
    assert agreement >= 0.98
    assert int8_accuracy >= keras_accuracy - 0.01
    meta = int8.metadata
    assert meta["input"]["dtype"] == "int8" and meta["input"]["shape"] == [1, 96, 96, 3]
    assert meta["preprocessing"]["mode"] == kerasnets.get_spec(name).preprocessing
    assert int8.size_bytes < 0.5 * trained[4].size_bytes  # int8 weights: a quarter, plus graph
