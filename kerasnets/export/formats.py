"""Every export format by name, and `export_all`: one model to several formats in one call.

`FORMATS` maps a format key to its exporter, `exporter(model, path, options)
-> ExportResult`::

    keras            NAME.keras                         (save_keras)
    saved_model      NAME/ with metadata.json, labels   (export_saved_model)
    tflite           NAME.tflite (float32) + companions (export_tflite)
    tflite_float16, tflite_dynamic, tflite_int8         the quantized TFLite files

The training recipe (`kerasnets.training`) and the `kerasnets export` command
both go through :func:`export_all`. A new format is one exporter module and
one entry in `FORMATS`. A model built with published weights is exported with
`weights_tag=` (the tag it was built with): its metadata then records the
checkpoint's preprocessing (mean/std, channel order) and provenance, and an
ImageNet-1k classifier gets the 1000 class names as its labels file.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from kerasnets.checks import check_choice
from kerasnets.export import files
from kerasnets.export.keras_file import save_keras
from kerasnets.export.metadata import published_export
from kerasnets.export.saved_model import export_saved_model
from kerasnets.export.tflite import companion_paths, export_tflite
from kerasnets.export.verify import ExportResult

__all__ = ["ExportOptions", "FORMATS", "export_all", "target_paths", "with_published_weights"]


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """What the exporters take besides the model and the path (each reads what it uses).

    `class_names`, `preprocessing` ("auto": the registry's) and `weights` go into
    the metadata; `representative_data` calibrates int8 (and gives the TFLite
    verification its inputs when `sample_inputs` is None); `calibration_source`
    says in words where it comes from. `weights_tag` names the published
    checkpoint the model was built with ("imagenet" or a tag of the registered
    network `network`, the model's name by default): it supplies the
    preprocessing (for "auto" or None, or the checkpoint's own mode; another
    mode is refused), `class_names` (ImageNet's
    1000, when not given) and the `weights` entry (see
    :func:`kerasnets.export.metadata.published_export`).
    """

    class_names: Any = None
    preprocessing: str | None = "auto"
    weights: dict | None = None
    overwrite: bool = False
    verify: bool = True
    sample_inputs: Any = None
    representative_data: Any = None
    calibration_source: str | None = None
    io_dtype: str = "int8"
    weights_tag: str | None = None
    network: str | None = None


def _keras(model, path, options):
    return save_keras(model, path, overwrite=options.overwrite)


def _saved_model(model, path, options):
    return export_saved_model(model, path, overwrite=options.overwrite, verify=options.verify,
                              sample_inputs=options.sample_inputs,
                              class_names=options.class_names,
                              preprocessing=options.preprocessing, weights=options.weights)


def _tflite(quantize):
    def export(model, path, options):
        return export_tflite(model, path, quantize=quantize,
                             representative_data=options.representative_data,
                             io_dtype=options.io_dtype, class_names=options.class_names,
                             preprocessing=options.preprocessing, overwrite=options.overwrite,
                             verify=options.verify, sample_inputs=options.sample_inputs,
                             weights=options.weights,
                             calibration_source=options.calibration_source)

    export.__name__ = f"export_tflite_{quantize}"
    return export


FORMATS: dict[str, Callable[..., ExportResult]] = {
    "keras": _keras,
    "saved_model": _saved_model,
    "tflite": _tflite("float32"),
    "tflite_float16": _tflite("float16"),
    "tflite_dynamic": _tflite("dynamic"),
    "tflite_int8": _tflite("int8"),
}


def target_paths(key, path):
    """Every path the export `key` writes at `path` (a TFLite file has two companions)."""
    check_choice("format", key, tuple(FORMATS))
    return [path, *companion_paths(path)] if key.startswith("tflite") else [path]


def with_published_weights(model, options):
    """`options` with what its `weights_tag` says filled in (unchanged without a tag)."""
    if options.weights_tag is None:
        return options
    published = published_export(options.network or model.name, options.weights_tag, model)
    norm = published["preprocessing"]
    preprocessing = options.preprocessing
    if preprocessing in ("auto", None, norm.mode) or preprocessing == norm:
        preprocessing = norm
    else:
        raise ValueError(f"`preprocessing` {preprocessing!r} contradicts weights_tag="
                         f"{options.weights_tag!r}, whose checkpoint expects the {norm.mode!r} "
                         f"normalization {norm}: pass preprocessing='auto'")
    class_names = published["class_names"] if options.class_names is None \
        else options.class_names
    weights = {**(options.weights or {}), **published["weights"]}
    return dataclasses.replace(options, preprocessing=preprocessing, class_names=class_names,
                               weights=weights)


def export_all(model, targets, **options):
    """Writes `model` in each format of `targets` ({format key: path}), in that order.

    `options` are the fields of :class:`ExportOptions`. Every path (and TFLite
    companion) is checked first: without `overwrite`, an existing one is a
    `FileExistsError` before anything is written. Returns {format key:
    ExportResult}.
    """
    options = with_published_weights(model, ExportOptions(**options))
    files.check_free([p for key, path in targets.items() for p in target_paths(key, path)],
                     options.overwrite)
    return {key: FORMATS[key](model, path, options) for key, path in targets.items()}
