"""TFLite (LiteRT) export: float32, float16, dynamic-range and full-integer int8.

Conversion goes through Keras' own LiteRT exporter (`model.export(format="litert")`:
an ExportArchive SavedModel, then `tf.lite.TFLiteConverter.from_saved_model`),
restricted to the TFLite builtin ops: a model that would need Flex (Select TF)
ops fails with :class:`FlexOpsError` naming them, since a mobile app would have
to ship the TensorFlow kernels library to run it. The input has a fixed batch
of 1, what a mobile app feeds, so the graph has no dynamic-shape ops.

Each `.tflite` file is written with two companions beside it, named after it:
`NAME.labels.txt` (one class name a line, when the class names are known) and
`NAME.metadata.json` (input and output shape, dtype and quantization, the
preprocessing an app must apply, the verification figures). A folder holding
several exports of one model (`lenet5.tflite`, `lenet5_int8.tflite`) thus keeps
one pair per file, where a plain `labels.txt` and `metadata.json` would collide.

Unless `verify=False`, the converted model is run with the LiteRT interpreter
(`ai-edge-litert`) before anything is written: float32 must agree with Keras to
1e-4 or :class:`VerificationError` is raised; for the quantized types the
largest difference and the top-1 agreement on the sample inputs are recorded.

Every representative (calibration) image is checked before the conversion:
its shape must be the model's input shape, its values real numbers, finite,
and within the range the preprocessing gives (when it is known); a bad one
is a `ValueError` naming `representative_data` and the image's index. The
metadata states where the calibration images came from and how many were used.
"""

from __future__ import annotations

import json
import os
import re
import tempfile

import numpy as np

from kerasnets.checks import check_choice
from kerasnets.export import files
from kerasnets.export.metadata import (
    check_class_names,
    model_preprocessing,
    preprocessing_info,
    producer,
    random_inputs,
    value_range,
)
from kerasnets.export.rewrite import (
    average_pooling_as_depthwise,
    channel_shuffle_by_planes,
    max_pooling_as_same,
    per_tensor_where_uniform,
)
from kerasnets.export.verify import ExportResult, VerificationError, verify_outputs
from kerasnets.logs import native_logs_filtered

__all__ = [
    "QUANTIZATIONS",
    "IO_DTYPES",
    "FlexOpsError",
    "VerificationError",
    "TFLiteExport",
    "TFLiteModel",
    "convert_tflite",
    "export_tflite",
    "companion_paths",
    "evaluate_tflite",
]

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")
IO_DTYPES = ("int8", "uint8", "float32")
FLOAT32_TOLERANCE = 1e-4
DEFAULT_CALIBRATION_SAMPLES = 200
DEFAULT_VERIFICATION_SAMPLES = 8


class FlexOpsError(ValueError):
    """The model needs TensorFlow ops that the TFLite builtin op set lacks."""

    def __init__(self, ops, details=""):
        self.ops = tuple(ops)
        super().__init__(
            f"the model needs TensorFlow ops that are not TFLite builtins: "
            f"{', '.join(self.ops) or '(unnamed)'}. Mobile runtimes would need the Flex "
            f"(Select TF ops) delegate; replace the layers that use them.{details}"
        )


# What export_tflite returns (the result every exporter returns).
TFLiteExport = ExportResult


def companion_paths(path):
    """The labels and metadata paths that go with the `.tflite` file `path`."""
    stem = os.fspath(path)[: -len(".tflite")]
    return stem + ".labels.txt", stem + ".metadata.json"


def _input_shape(model):
    if len(model.inputs) != 1:
        raise ValueError(f"TFLite export takes models with one input; this one has "
                         f"{len(model.inputs)}")
    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise ValueError(f"TFLite export needs a fixed input size; the model's input is "
                         f"{(None, *shape)}: build it with an explicit input_shape")
    return shape


def calibration_images(data, limit=DEFAULT_CALIBRATION_SAMPLES, shape=None, preprocessing=None):
    """The first `limit` images of `data`, one by one, as float32 arrays of shape (H, W, C).

    `data` is an array of images (N, H, W, C), a `tf.data.Dataset` of images or of
    (image, label) pairs, batched or not, or any iterable of those. Each image
    is checked: real numbers, finite, of `shape` (H, W, C) when given, and
    within the range the `preprocessing` mode gives (when given); a bad one
    raises `ValueError` naming `representative_data` and its index.
    """
    if data is None:
        return
    if hasattr(data, "as_numpy_iterator"):
        data = data.as_numpy_iterator()
    elif isinstance(data, np.ndarray):
        data = iter(data[:limit])
    bounds = value_range(preprocessing)
    count = 0
    for item in data:
        if count >= limit:
            return
        if isinstance(item, (tuple, list)):
            item = item[0]
        try:
            item = np.asarray(item)
        except ValueError as err:  # ragged nested lists
            raise ValueError(f"`representative_data` image {count} is not an array of "
                             f"numbers: {err}") from None
        if item.dtype.kind not in "uif":
            raise ValueError(
                f"`representative_data` image {count} has dtype {item.dtype}; the images must "
                "be real numbers (preprocessed as the model's inputs)")
        batch = item if item.ndim == 4 else item[np.newaxis]
        for image in batch:
            if count >= limit:
                return
            _check_image(image, count, shape, bounds, preprocessing)
            yield image.astype(np.float32)
            count += 1


def _check_image(image, index, shape, bounds, preprocessing):
    where = f"`representative_data` image {index}"
    if shape is not None and tuple(image.shape) != tuple(shape):
        raise ValueError(f"{where} has shape {tuple(image.shape)}; the model takes "
                         f"{tuple(shape)}")
    if not np.all(np.isfinite(image)):
        raise ValueError(f"{where} has {int(np.sum(~np.isfinite(image)))} values that are NaN "
                         "or infinite")
    if bounds is not None and image.size:
        low, high = bounds
        slack = 0.05 * (high - low)  # resampling may overshoot a little
        lowest, highest = float(np.min(image)), float(np.max(image))
        if lowest < low - slack or highest > high + slack:
            raise ValueError(
                f"{where} has values in [{lowest:.4g}, {highest:.4g}], outside the range "
                f"[{low:.4g}, {high:.4g}] that the {preprocessing!r} preprocessing gives to "
                "pixels in [0, 255]: the images must be preprocessed as the model's inputs")


def _sample_images(model, sample_inputs, representative_data, preprocessing):
    if sample_inputs is not None:
        return np.asarray(sample_inputs, dtype=np.float32)
    if representative_data is not None:
        images = list(calibration_images(representative_data, DEFAULT_VERIFICATION_SAMPLES,
                                         shape=_input_shape(model), preprocessing=preprocessing))
        if images:
            return np.stack(images)
    return random_inputs(_input_shape(model), preprocessing, DEFAULT_VERIFICATION_SAMPLES)


_SELECT_OPS = re.compile(r"TF Select ops: ([^\n]+)")
_UNSUPPORTED_OP = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")
_CUSTOM_OPS = re.compile(r"Custom ops: ([^\n]+)")


def _not_builtin_ops(message):
    ops = []
    for pattern in (_SELECT_OPS, _CUSTOM_OPS):
        for match in pattern.finditer(message):
            ops += [op.strip() for op in match.group(1).split(",")]
    ops += _UNSUPPORTED_OP.findall(message)
    return list(dict.fromkeys(op for op in ops if op))


def convert_tflite(model, quantize="float32", representative_data=None, io_dtype="int8",
                   calibration_samples=DEFAULT_CALIBRATION_SAMPLES, preprocessing=None):
    """The `.tflite` flatbuffer of `model` (bytes), with TFLite builtin ops only.

    `quantize`: "float32" (none), "float16" (weights stored as float16),
    "dynamic" (int8 weights, activations quantized on the fly) or "int8" (weights
    and activations int8, calibrated on the first `calibration_samples` images of
    `representative_data`, which is then required; `io_dtype` is the input and
    output type: int8, uint8 or float32). Each calibration image is checked (see
    :func:`calibration_images`; `preprocessing` gives the range of its values).
    """
    return _convert(model, quantize, representative_data, io_dtype, calibration_samples,
                    preprocessing)[0]


def _convert(model, quantize, representative_data, io_dtype, calibration_samples,
             preprocessing):
    """(flatbuffer, number of calibration images used)."""
    import keras
    import tensorflow as tf

    check_choice("quantize", quantize, QUANTIZATIONS)
    check_choice("io_dtype", io_dtype, IO_DTYPES)
    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"TFLite export needs the tensorflow backend (KERAS_BACKEND="
                         f"tensorflow); this one is {keras.backend.backend()!r}")
    shape = _input_shape(model)
    options = {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    if quantize != "float32":
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        options["target_spec"]["supported_types"] = [tf.float16]
    images = []
    if quantize == "int8":
        if representative_data is None:
            raise ValueError("int8 quantization needs `representative_data`: images "
                             "preprocessed as the model's inputs, to calibrate the ranges")
        images = list(calibration_images(representative_data, calibration_samples, shape=shape,
                                         preprocessing=preprocessing))
        if not images:
            raise ValueError("`representative_data` holds no images")

        def representative_dataset():
            for image in images:
                yield [image[np.newaxis]]

        options["representative_dataset"] = representative_dataset
        options["target_spec"]["supported_ops"] = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        options["inference_input_type"] = getattr(tf, io_dtype)
        options["inference_output_type"] = getattr(tf, io_dtype)

    # Equal functions in ops XNNPACK runs faster (kerasnets.export.rewrite): average
    # pooling as a depthwise convolution (XNNPACK's is float-only), a stem's max
    # pooling without the zero padding XNNPACK cannot fuse into it; in int8, channel
    # shuffles moving whole planes (XNNPACK's 1-byte transposes of small tiles are slow).
    model = average_pooling_as_depthwise(max_pooling_as_same(model))
    if quantize == "int8":
        model = channel_shuffle_by_planes(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.tflite")
        try:
            # The converter's MLIR and calibration notices are dropped (kerasnets.logs).
            with native_logs_filtered():
                model.export(path, format="litert", verbose=False,
                             input_signature=[tf.TensorSpec((1, *shape), tf.float32)], **options)
        except Exception as err:  # the converter raises its own ConverterError
            ops = _not_builtin_ops(str(err))
            if ops:
                raise FlexOpsError(ops) from None
            raise
        with open(path, "rb") as f:
            content = f.read()
    if quantize == "int8":
        content = per_tensor_where_uniform(content)
    return content, len(images)


class TFLiteModel:
    """A `.tflite` model run with the LiteRT interpreter, in float in and out.

    Quantized inputs and outputs are quantized and dequantized here with the
    file's own scale and zero point, so that results compare with Keras'.
    Images are fed one at a time (the exported batch size is 1).
    """

    def __init__(self, model, num_threads=1):
        from ai_edge_litert.interpreter import Interpreter

        # LiteRT's INFO lines (runtime initialised, XNNPACK delegate created) are dropped.
        with native_logs_filtered():
            if isinstance(model, (bytes, bytearray)):
                self.interpreter = Interpreter(model_content=bytes(model),
                                               num_threads=num_threads)
            else:
                self.interpreter = Interpreter(model_path=os.fspath(model),
                                               num_threads=num_threads)
            signatures = self.interpreter.get_signature_list()
            self.signature = next(iter(signatures))
            self.runner = self.interpreter.get_signature_runner(self.signature)
            details = self.runner.get_input_details()
            # The delegate is applied at the first run: one on zeros, here, inside the filter.
            self.runner(**{name: np.zeros(d["shape"], d["dtype"]) for name, d in details.items()})
        self.input_names = list(signatures[self.signature]["inputs"])
        self.output_names = sorted(signatures[self.signature]["outputs"], key=_output_order)
        self.input_details = self.runner.get_input_details()
        self.output_details = self.runner.get_output_details()

    @property
    def input(self):
        return self.input_details[self.input_names[0]]

    def invoke(self, x):
        """Runs the model on one already-typed input (batch 1); raw outputs by name."""
        return self.runner(**{self.input_names[0]: x})

    def predict(self, images):
        """Float outputs for a batch of float images: an array, or a list for several outputs."""
        images = np.asarray(images, dtype=np.float32)
        spec = self.input
        results = [[] for _ in self.output_names]
        for image in images:
            x = _quantize(image[np.newaxis], spec)
            outputs = self.invoke(x)
            for i, name in enumerate(self.output_names):
                results[i].append(_dequantize(outputs[name], self.output_details[name]))
        results = [np.concatenate(r) for r in results]
        return results[0] if len(results) == 1 else results


def _output_order(name):
    match = re.search(r"(\d+)$", name)
    return (int(match.group(1)) if match else 0, name)


def _quantize(x, spec):
    dtype = np.dtype(spec["dtype"])
    if dtype == np.float32:
        return x
    scale, zero_point = spec["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def _dequantize(y, spec):
    if np.dtype(spec["dtype"]) == np.float32:
        return y
    scale, zero_point = spec["quantization"]
    return ((y.astype(np.float32) - zero_point) * scale).astype(np.float32)


def verify_tflite(model, content, quantize, samples):
    """Runs `content` on `samples` and compares with `model`; raises for float32 beyond 1e-4."""
    return verify_outputs(model, samples, TFLiteModel(content).predict,
                          tolerance=FLOAT32_TOLERANCE if quantize == "float32" else None,
                          what="the float32 TFLite model")


def _tensor_info(details):
    scale, zero_point = details["quantization"]
    dtype = np.dtype(details["dtype"]).name
    return {
        "shape": [int(d) for d in details["shape"]],
        "dtype": dtype,
        "quantization": None if dtype == "float32" else {
            "scale": float(scale), "zero_point": int(zero_point),
            "real_value": "(q - zero_point) * scale",
        },
    }


def build_metadata(model, tflite, quantize, preprocessing, labels_name, path, verification,
                   weights=None, calibration=None):
    """The `metadata.json` content for a converted model."""
    spec = tflite.input
    inputs = dict(name=tflite.input_names[0], **_tensor_info(spec))
    prep = preprocessing_info(preprocessing, inputs["shape"][-1])
    if inputs["quantization"] is not None:
        q = inputs["quantization"]
        prep["quantized_input"] = (
            f"after the preprocessing above, q = clip(round(input / {q['scale']:.8g}) + "
            f"{q['zero_point']}, {np.iinfo(inputs['dtype']).min}, "
            f"{np.iinfo(inputs['dtype']).max}) as {inputs['dtype']}"
        )
    outputs = [dict(name=name, **_tensor_info(tflite.output_details[name]))
               for name in tflite.output_names]
    return {
        "file": os.path.basename(path),
        "model": model.name,
        "format": "tflite",
        "quantization": quantize,
        "input": inputs,
        "outputs": outputs,
        "preprocessing": prep,
        "labels": labels_name,
        "weights": weights,
        "calibration": calibration,
        "verification": verification,
        "producer": producer(),
    }


def export_tflite(model, path, quantize="float32", representative_data=None, io_dtype="int8",
                  class_names=None, preprocessing="auto", overwrite=False, verify=True,
                  sample_inputs=None, calibration_samples=DEFAULT_CALIBRATION_SAMPLES,
                  weights=None, calibration_source=None):
    """Writes `model` to the `.tflite` file `path` with its labels and metadata; atomically.

    `quantize`, `representative_data`, `io_dtype`, `calibration_samples`: as in
    :func:`convert_tflite`. `class_names`: the labels to write (no labels file
    when None). `preprocessing`: the mode to record (caffe/tf/torch/unit); "auto"
    takes the registry's for a model named like a registered network. With
    `verify`, the converted model is checked against `model` on `sample_inputs`
    (default: the first representative images, else random in-range images)
    before anything is written. Existing files are replaced only with `overwrite`.
    `weights` (:func:`~kerasnets.export.metadata.weights_info`: random or
    trained, from where) and, for int8, `calibration_source` (words saying where
    `representative_data` comes from) are recorded in the metadata.
    Returns a :class:`TFLiteExport`.
    """
    path = os.fspath(path)
    if not path.endswith(".tflite"):
        raise ValueError(f"`path` must end with '.tflite'; got {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"`path` {path!r} is a folder; give the path of a .tflite file")
    check_choice("quantize", quantize, QUANTIZATIONS)
    check_choice("io_dtype", io_dtype, IO_DTYPES)
    if preprocessing == "auto":
        preprocessing = model_preprocessing(model)
    labels_path, metadata_path = companion_paths(path)
    class_names = check_class_names(model, class_names)
    targets = [metadata_path, path] + ([labels_path] if class_names is not None else [])
    files.check_free(targets, overwrite)

    content, calibrated = _convert(model, quantize, representative_data, io_dtype,
                                   calibration_samples, preprocessing)
    calibration = None
    if quantize == "int8":
        calibration = {"source": calibration_source or "`representative_data` given to "
                                                        "export_tflite",
                       "images": calibrated}
    verification = None
    if verify:
        samples = _sample_images(model, sample_inputs, representative_data, preprocessing)
        verification = verify_tflite(model, content, quantize, samples)
    tflite = TFLiteModel(content)
    labels_name = os.path.basename(labels_path) if class_names is not None else None
    metadata = build_metadata(model, tflite, quantize, preprocessing, labels_name, path,
                              verification, weights=weights, calibration=calibration)

    with files.staging_folder(path) as tmp:
        moves = []
        if class_names is not None:
            staged = os.path.join(tmp, "labels.txt")
            with open(staged, "w", encoding="utf-8") as f:
                f.write("".join(f"{name}\n" for name in class_names))
            moves.append((staged, labels_path))
        staged = os.path.join(tmp, "metadata.json")
        with open(staged, "w", encoding="utf-8") as f:
            json.dump(metadata, f, indent=2)
            f.write("\n")
        moves.append((staged, metadata_path))
        staged = os.path.join(tmp, "model.tflite")
        with open(staged, "wb") as f:
            f.write(content)
        moves.append((staged, path))  # last: when it appears, its companions are there
        files.publish_files(moves, overwrite)
    return ExportResult(
        format="tflite", path=path, size_bytes=len(content), verification=verification,
        metadata=metadata, metadata_path=metadata_path,
        labels_path=labels_path if class_names is not None else None, quantization=quantize,
    )


def evaluate_tflite(path, images, labels, num_threads=1):
    """Top-1 accuracy of the `.tflite` model at `path` on float images and integer labels."""
    predictions = TFLiteModel(path, num_threads=num_threads).predict(images)
    if isinstance(predictions, list):
        predictions = predictions[0]
    return float(np.mean(np.argmax(predictions, -1) == np.asarray(labels)))

