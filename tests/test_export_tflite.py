"""TFLite export: the four quantizations, builtin ops only, companions, verification, atomicity."""

import json
import os
import pathlib

import keras
import numpy as np
import pytest

import kerasnets
from kerasnets.export import (
    FlexOpsError,
    TFLiteModel,
    VerificationError,
    companion_paths,
    convert_tflite,
    export_tflite,
)
from kerasnets.export.metadata import preprocessing_info, random_inputs

DIGITS = [str(d) for d in range(10)]


@pytest.fixture(scope="module")
def lenet():
    keras.utils.set_random_seed(1)
    return kerasnets.build("lenet5", classes=10)


@pytest.fixture(scope="module")
def calibration():
    return random_inputs((32, 32, 1), "unit", count=64, seed=3)


@pytest.fixture(scope="module")
def samples():
    return random_inputs((32, 32, 1), "unit", count=16, seed=4)


def names(folder):
    return sorted(p.name for p in pathlib.Path(folder).iterdir())


def test_float32_agrees_with_keras_and_writes_companions(lenet, samples, tmp_path):
    path = tmp_path / "lenet5.tflite"
    result = export_tflite(lenet, path, class_names=DIGITS, sample_inputs=samples)
    assert names(tmp_path) == ["lenet5.labels.txt", "lenet5.metadata.json", "lenet5.tflite"]
    assert result.path == str(path) and result.size_bytes == path.stat().st_size
    # 61,706 float32 weights, plus the graph.
    assert 61_706 * 4 < result.size_bytes < 61_706 * 4 + 20_000
    assert result.verification["samples"] == 16
    assert result.verification["max_abs_diff"] <= 1e-4
    assert result.verification["top1_agreement"] == 1.0

    # Independently of the export's own check: LiteRT vs Keras on other inputs.
    x = random_inputs((32, 32, 1), "unit", count=10, seed=9)
    got = TFLiteModel(path, num_threads=2).predict(x)
    np.testing.assert_allclose(got, lenet.predict(x, verbose=0), atol=1e-4)

    assert (tmp_path / "lenet5.labels.txt").read_text() == "".join(f"{d}\n" for d in DIGITS)
    meta = json.loads((tmp_path / "lenet5.metadata.json").read_text())
    assert meta["file"] == "lenet5.tflite" and meta["labels"] == "lenet5.labels.txt"
    assert meta["quantization"] == "float32"
    assert meta["input"]["shape"] == [1, 32, 32, 1] and meta["input"]["dtype"] == "float32"
    assert meta["input"]["quantization"] is None
    assert [o["shape"] for o in meta["outputs"]] == [[1, 10]]
    assert meta["preprocessing"]["mode"] == "unit"  # from the registry, by the model's name
    assert meta["preprocessing"]["mean"] == [0.0] and meta["preprocessing"]["std"] == [255.0]
    assert meta["verification"]["max_abs_diff"] == result.verification["max_abs_diff"]


@pytest.mark.slow
def test_float32_of_googlenet_at_a_small_input(tmp_path):
    keras.utils.set_random_seed(2)
    model = kerasnets.build("googlenet", input_shape=(64, 64, 3), include_top=True, classes=7,
                            classifier_activation=None)
    path = tmp_path / "googlenet.tflite"
    result = export_tflite(model, path)  # no class names: no labels file
    assert names(tmp_path) == ["googlenet.metadata.json", "googlenet.tflite"]
    assert result.labels_path is None
    meta = json.loads((tmp_path / "googlenet.metadata.json").read_text())
    assert meta["labels"] is None
    assert meta["preprocessing"]["mode"] == "caffe" and meta["preprocessing"]["channel_order"] == "BGR"
    assert meta["preprocessing"]["mean"] == [103.939, 116.779, 123.68]
    x = random_inputs((64, 64, 3), "caffe", count=4, seed=5)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(TFLiteModel(path).predict(x), expected, atol=1e-4)
    assert result.verification["max_abs_diff"] <= 1e-4


@pytest.mark.parametrize("quantize, low, high", [
    ("float16", 61_706 * 2, 61_706 * 2 + 20_000),
    ("dynamic", 61_706, 61_706 + 20_000),
])
def test_float16_and_dynamic_range(lenet, samples, tmp_path, quantize, low, high):
    path = tmp_path / f"lenet5_{quantize}.tflite"
    result = export_tflite(lenet, path, quantize=quantize, sample_inputs=samples)
    assert low < result.size_bytes < high
    meta = json.loads(pathlib.Path(result.metadata_path).read_text())
    assert meta["quantization"] == quantize
    assert meta["input"]["dtype"] == "float32"  # float in and out
    got = TFLiteModel(path).predict(samples)
    expected = lenet.predict(samples, verbose=0)
    assert np.abs(got - expected).max() < 0.01
    assert result.verification["top1_agreement"] >= 0.9


@pytest.mark.parametrize("io_dtype", ["int8", "uint8", "float32"])
def test_int8_input_output_types_and_parameters(lenet, calibration, samples, tmp_path, io_dtype):
    path = tmp_path / "lenet5_int8.tflite"
    result = export_tflite(lenet, path, quantize="int8", representative_data=calibration,
                           io_dtype=io_dtype, class_names=DIGITS, sample_inputs=samples)
    assert 61_706 < result.size_bytes < 61_706 + 25_000
    meta = result.metadata
    assert meta == json.loads(pathlib.Path(result.metadata_path).read_text())
    assert meta["input"]["dtype"] == io_dtype and meta["outputs"][0]["dtype"] == io_dtype
    interpreter = TFLiteModel(path)
    scale, zero_point = interpreter.input["quantization"]
    if io_dtype == "float32":
        assert meta["input"]["quantization"] is None
    else:
        assert meta["input"]["quantization"]["scale"] == pytest.approx(scale)
        assert meta["input"]["quantization"]["zero_point"] == zero_point
        # Inputs in [0, 1] (the "unit" mode) calibrate to 1/255 steps over the whole range.
        assert scale == pytest.approx(1 / 255, rel=1e-3)
        assert zero_point == (-128 if io_dtype == "int8" else 0)
        assert "q = clip(round(input /" in meta["preprocessing"]["quantized_input"]
        # The softmax output is quantized in 1/256 steps.
        assert meta["outputs"][0]["quantization"]["scale"] == pytest.approx(1 / 256)
    got = interpreter.predict(samples)
    assert np.abs(got - lenet.predict(samples, verbose=0)).max() < 0.05


def test_int8_needs_a_representative_dataset(lenet, tmp_path):
    with pytest.raises(ValueError, match="representative_data"):
        export_tflite(lenet, tmp_path / "x.tflite", quantize="int8")
    with pytest.raises(ValueError, match=r"shape \(16, 16, 1\).*\(32, 32, 1\)"):
        export_tflite(lenet, tmp_path / "x.tflite", quantize="int8",
                      representative_data=np.zeros((4, 16, 16, 1), "float32"))
    assert names(tmp_path) == []


def bad_images(index, change):
    images = np.random.default_rng(0).uniform(0, 1, (6, 32, 32, 1)).astype("float32")
    images = list(images)
    images[index] = change(images[index])
    return images


@pytest.mark.parametrize("images, message", [
    (bad_images(3, lambda x: np.where(x > 0.5, np.nan, x)),
     r"`representative_data` image 3 has \d+ values that are NaN or infinite"),
    (bad_images(1, lambda x: x * 255),
     r"`representative_data` image 1 has values in \[.*\], outside the range \[0, 1\] that "
     r"the 'unit' preprocessing gives"),
    (bad_images(4, lambda x: x[:16]),
     r"`representative_data` image 4 has shape \(16, 32, 1\); the model takes \(32, 32, 1\)"),
    (bad_images(2, lambda x: x.astype(str)),
     r"`representative_data` image 2 has dtype <U\d+; the images must be real numbers"),
])
def test_every_representative_image_is_checked(lenet, tmp_path, images, message):
    with pytest.raises(ValueError, match=message):
        export_tflite(lenet, tmp_path / "x.tflite", quantize="int8", representative_data=images,
                      preprocessing="unit")
    assert names(tmp_path) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"quantize": "int4"},
     r"`quantize` must be one of \('float32', 'float16', 'dynamic', 'int8'\); got 'int4'"),
    ({"io_dtype": "int16"}, r"`io_dtype` must be one of \('int8', 'uint8', 'float32'\); got 'int16'"),
])
def test_bad_arguments(lenet, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        export_tflite(lenet, tmp_path / "x.tflite", **kwargs)
    with pytest.raises(ValueError, match=r"must end with '\.tflite'"):
        export_tflite(lenet, tmp_path / "x.tfl")


@keras.saving.register_keras_serializable(package="kerasnets_tests")
class Cosh(keras.layers.Layer):
    """keras.ops.cosh becomes tf.Cosh, which TFLite has no builtin kernel for."""

    def call(self, x):
        return keras.ops.cosh(x)


def test_a_model_needing_flex_ops_fails_naming_the_op(tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3)(inputs)
    outputs = Cosh()(x)
    model = keras.Model(inputs, outputs)
    with pytest.raises(FlexOpsError, match=r"not TFLite builtins: Cosh\.") as info:
        export_tflite(model, tmp_path / "cosh.tflite", preprocessing="unit")
    assert info.value.ops == ("Cosh",)
    assert isinstance(info.value, ValueError)
    assert names(tmp_path) == []


def test_refuses_to_overwrite_any_of_the_three_files(lenet, tmp_path):
    path = tmp_path / "lenet5.tflite"
    labels, metadata = companion_paths(path)
    pathlib.Path(metadata).write_text("previous")
    with pytest.raises(FileExistsError, match="overwrite=True") as info:
        export_tflite(lenet, path, class_names=DIGITS)
    assert str(metadata) in str(info.value)
    assert names(tmp_path) == ["lenet5.metadata.json"]
    assert pathlib.Path(metadata).read_text() == "previous"


def test_overwrite_replaces_all_three(lenet, tmp_path):
    path = tmp_path / "lenet5.tflite"
    for p in (path, *companion_paths(path)):
        pathlib.Path(p).write_text("previous")
    export_tflite(lenet, path, class_names=DIGITS, overwrite=True)
    assert names(tmp_path) == ["lenet5.labels.txt", "lenet5.metadata.json", "lenet5.tflite"]
    assert TFLiteModel(path).input["shape"].tolist() == [1, 32, 32, 1]
    assert json.loads(pathlib.Path(companion_paths(path)[1]).read_text())["quantization"] == \
        "float32"


def test_failed_verification_writes_nothing(lenet, tmp_path, monkeypatch):
    real_predict = TFLiteModel.predict
    monkeypatch.setattr(TFLiteModel, "predict", lambda self, x: real_predict(self, x) + 1e-3)
    path = tmp_path / "lenet5.tflite"
    with pytest.raises(VerificationError, match=r"differs from the Keras model by up to 0\.001"):
        export_tflite(lenet, path, class_names=DIGITS)
    assert names(tmp_path) == []
    # verify=False skips the check (and so writes the file).
    result = export_tflite(lenet, path, verify=False)
    assert result.verification is None and result.metadata["verification"] is None
    assert path.is_file()


def test_convert_returns_the_flatbuffer(lenet):
    content = convert_tflite(lenet)
    assert content[4:8] == b"TFL3"  # the TFLite flatbuffer identifier


@pytest.mark.parametrize("mode, mean, std", [
    ("unit", [0.0] * 3, [255.0] * 3),
    ("tf", [127.5] * 3, [127.5] * 3),
    ("torch", [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]),
    ("caffe", [103.939, 116.779, 123.68], [1.0] * 3),
])
def test_preprocessing_in_numbers(mode, mean, std):
    info = preprocessing_info(mode, 3)
    assert info["mean"] == pytest.approx(mean) and info["std"] == pytest.approx(std)
    assert info["channel_order"] == ("BGR" if mode == "caffe" else "RGB")
    # The numbers reproduce the data pipeline's scaling of a [0, 1] image.
    from kerasnets.data.sources import _scale

    pixels = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    ordered = pixels[..., ::-1] if mode == "caffe" else pixels
    ours = (ordered - np.float32(info["mean"])) / np.float32(info["std"])
    np.testing.assert_allclose(ours, _scale(pixels / 255.0, mode), atol=1e-3)


@pytest.mark.slow
def test_float32_of_xception_at_its_minimum_input(tmp_path):
    model = kerasnets.build("xception", input_shape=(71, 71, 3), classes=5)
    result = export_tflite(model, tmp_path / "xception.tflite")
    assert result.verification["max_abs_diff"] <= 1e-4
    assert os.path.getsize(result.path) > 4 * model.count_params()
