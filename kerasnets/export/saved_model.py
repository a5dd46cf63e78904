"""TensorFlow SavedModel export, with a serving signature, atomically.

Keras' own exporter writes the folder (`model.export(format="tf_saved_model")`:
the `serve` endpoint and the `serving_default` signature, inference mode). It
is written into a temporary folder beside the destination and renamed into
place, so a reader never sees half a SavedModel. Unless `verify=False`, the
written folder is loaded back with `tf.saved_model.load` and its serving
signature must agree with the Keras model to 1e-5 before it is moved in.

The folder also holds, beside `saved_model.pb`, `metadata.json` (the
signature's input and outputs, the preprocessing an app must apply, where the
weights come from, the verification figures) and, when the class names are
given, `labels.txt` (one a line). TensorFlow ignores both when loading.
"""

from __future__ import annotations

import json
import os

import numpy as np

from kerasnets.export import files
from kerasnets.export.metadata import (
    check_class_names,
    model_preprocessing,
    preprocessing_info,
    producer,
    random_inputs,
)
from kerasnets.export.verify import ExportResult, verify_outputs

__all__ = ["SavedModelExport", "export_saved_model", "SavedModelRunner"]

SAVED_MODEL_TOLERANCE = 1e-5
LABELS_FILE = "labels.txt"
METADATA_FILE = "metadata.json"


# What export_saved_model returns (the result every exporter returns).
SavedModelExport = ExportResult


class SavedModelRunner:
    """A SavedModel folder loaded with `tf.saved_model.load`, called via `serving_default`."""

    def __init__(self, path):
        import tensorflow as tf

        self.loaded = tf.saved_model.load(os.fspath(path))
        self.signature = self.loaded.signatures["serving_default"]
        _, kwargs = self.signature.structured_input_signature
        if len(kwargs) != 1:
            raise ValueError(f"expected one input in the serving signature; got {list(kwargs)}")
        self.input_name = next(iter(kwargs))
        self.output_names = sorted(self.signature.structured_outputs,
                                   key=lambda n: (len(n), n))

    def predict(self, images, batch_size=256):
        """Outputs for a batch of float images: an array, or a list for several outputs."""
        import tensorflow as tf

        images = np.asarray(images, dtype=np.float32)
        chunks = [self.signature(**{self.input_name: tf.constant(images[i:i + batch_size])})
                  for i in range(0, len(images), batch_size)]
        results = [np.concatenate([c[name].numpy() for c in chunks]) for name in self.output_names]
        return results[0] if len(results) == 1 else results


def export_saved_model(model, path, overwrite=False, verify=True, sample_inputs=None,
                       class_names=None, preprocessing="auto", weights=None):
    """Writes `model` as a TF SavedModel folder at `path`; atomically. Returns a SavedModelExport.

    An existing folder is replaced only with `overwrite=True`; otherwise
    `FileExistsError` is raised before anything is written. `sample_inputs`
    (default: 8 random in-range images) feed the verification. `class_names`
    go to `labels.txt` in the folder (none when None); `preprocessing`
    (caffe/tf/torch/unit; "auto": the registry's for a model named like a
    registered network) and `weights` (:func:`~kerasnets.export.metadata.weights_info`:
    random or trained, from where) are recorded in its `metadata.json`.
    """
    path = os.fspath(path).rstrip(os.sep) or os.sep
    if path.endswith((".keras", ".tflite", ".h5")):
        raise ValueError(f"`path` is the folder of a SavedModel; got the file name {path!r}")
    class_names = check_class_names(model, class_names)
    if preprocessing == "auto":
        preprocessing = model_preprocessing(model)
    files.check_free([path], overwrite)
    verification = None
    with files.staging_folder(path) as tmp:
        staged = os.path.join(tmp, "saved_model")
        model.export(staged, format="tf_saved_model", verbose=False)
        if verify:
            if sample_inputs is None:
                shape = tuple(model.inputs[0].shape[1:])
                if any(d is None for d in shape):
                    raise ValueError("pass `sample_inputs` to verify a model of variable "
                                     "input size")
                sample_inputs = random_inputs(shape, preprocessing)
            verification = verify_outputs(model, sample_inputs,
                                          SavedModelRunner(staged).predict,
                                          tolerance=SAVED_MODEL_TOLERANCE, what="the SavedModel")
        metadata = build_metadata(model, preprocessing, class_names, weights, verification)
        if class_names is not None:
            with open(os.path.join(staged, LABELS_FILE), "w", encoding="utf-8") as f:
                f.write("".join(f"{name}\n" for name in class_names))
        with open(os.path.join(staged, METADATA_FILE), "w", encoding="utf-8") as f:
            json.dump(metadata, f, indent=2)
            f.write("\n")
        files.publish_folder(staged, path, overwrite)
    return ExportResult(
        format="saved_model", path=path, size_bytes=files.folder_size(path),
        verification=verification, metadata=metadata,
        metadata_path=os.path.join(path, METADATA_FILE),
        labels_path=os.path.join(path, LABELS_FILE) if class_names is not None else None,
    )


def build_metadata(model, preprocessing, class_names, weights, verification):
    """The `metadata.json` content of a SavedModel folder."""
    shape = [None, *model.inputs[0].shape[1:]]
    outputs = model.outputs
    return {
        "model": model.name,
        "format": "tf_saved_model",
        "signature": "serving_default",
        "input": {"shape": shape, "dtype": "float32"},
        "outputs": [{"name": f"output_{i}", "shape": [None, *o.shape[1:]], "dtype": "float32"}
                    for i, o in enumerate(outputs)],
        "preprocessing": preprocessing_info(preprocessing, shape[-1]),
        "labels": LABELS_FILE if class_names is not None else None,
        "weights": weights,
        "verification": verification,
        "producer": producer(),
    }
