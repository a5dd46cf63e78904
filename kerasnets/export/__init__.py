"""Exporting trained models: the `.keras` file, TF SavedModel and TFLite (LiteRT).

    save_keras(model, "savedmodels/lenet5.keras")
    export_saved_model(model, "savedmodels/lenet5")
    export_tflite(model, "savedmodels/lenet5.tflite", class_names=names)
    export_tflite(model, "savedmodels/lenet5_int8.tflite", quantize="int8",
                  representative_data=train_images, class_names=names)

    export_all(model, {"saved_model": "out/lenet5", "tflite_int8": "out/lenet5_int8.tflite"},
               class_names=names, representative_data=train_images)

Every exporter returns an `ExportResult` (path, size, verification figures,
metadata). Every export is atomic (written beside the destination, renamed into place),
refuses to replace an existing one without `overwrite=True`, and is verified
against the Keras model before it is written unless `verify=False`.
"""

from kerasnets.export.converted import ConvertedWeights, convert_weights
from kerasnets.export.formats import FORMATS, ExportOptions, export_all
from kerasnets.export.keras_file import save_keras
from kerasnets.export.saved_model import SavedModelExport, SavedModelRunner, export_saved_model
from kerasnets.export.tflite import (
    IO_DTYPES,
    QUANTIZATIONS,
    FlexOpsError,
    TFLiteExport,
    TFLiteModel,
    companion_paths,
    convert_tflite,
    evaluate_tflite,
    export_tflite,
)
from kerasnets.export.verify import ExportResult, VerificationError

__all__ = [
    "convert_weights",
    "ConvertedWeights",
    "export_all",
    "FORMATS",
    "ExportOptions",
    "ExportResult",
    "save_keras",
    "export_saved_model",
    "SavedModelExport",
    "SavedModelRunner",
    "export_tflite",
    "convert_tflite",
    "evaluate_tflite",
    "companion_paths",
    "TFLiteExport",
    "TFLiteModel",
    "FlexOpsError",
    "VerificationError",
    "QUANTIZATIONS",
    "IO_DTYPES",
]
