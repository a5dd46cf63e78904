"""What every exporter shares: its result, and the check of an export against Keras.

An exported model is run on sample inputs and compared with the Keras model:
the largest absolute difference of the outputs and the top-1 agreement. Where a
format must compute the same function (SavedModel: 1e-5, float32 TFLite: 1e-4)
a larger difference is a :class:`VerificationError` and nothing is written; for
quantized formats the figures are recorded only.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["ExportResult", "VerificationError", "compare", "verify_outputs"]


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What an exporter wrote: the same fields for every format.

    `format`: "keras", "saved_model" or "tflite"; `quantization`: the TFLite
    quantization (None for the others); `verification`: the figures of
    :func:`verify_outputs` (None when not verified); `metadata`: the contents of
    the metadata file written with it (`metadata_path`; inside the folder for a
    SavedModel); `labels_path`: the class names file, when written.
    """

    format: str
    path: str
    size_bytes: int
    verification: dict | None = None
    metadata: dict | None = None
    metadata_path: str | None = None
    labels_path: str | None = None
    quantization: str | None = None


class VerificationError(AssertionError):
    """The exported model does not compute what the Keras model computes."""


def compare(expected, actual):
    """Largest absolute difference and top-1 agreement of two (lists of) outputs."""
    expected = expected if isinstance(expected, list) else [expected]
    actual = actual if isinstance(actual, list) else [actual]
    diff = max(float(np.max(np.abs(e - a))) for e, a in zip(expected, actual))
    agree = float(np.mean(np.argmax(expected[0], -1) == np.argmax(actual[0], -1)))
    return {"max_abs_diff": diff, "top1_agreement": agree, "samples": int(len(expected[0]))}


def verify_outputs(model, samples, predict, *, tolerance, what):
    """Runs `predict` (the export) and `model` on `samples` and compares them.

    Returns the figures of :func:`compare` with the `tolerance` applied (None:
    recorded only); raises :class:`VerificationError` naming `what` beyond it.
    """
    samples = np.asarray(samples, dtype=np.float32)
    expected = model.predict(samples, verbose=0)
    expected = [np.asarray(e) for e in expected] if isinstance(expected, list) else \
        np.asarray(expected)
    result = compare(expected, predict(samples))
    result["tolerance"] = tolerance
    if tolerance is not None and not result["max_abs_diff"] <= tolerance:
        raise VerificationError(
            f"{what} differs from the Keras model by up to {result['max_abs_diff']:.3g} on "
            f"{result['samples']} sample inputs (tolerance {tolerance:g})"
        )
    return result
