"""Runs kerasnets.analysis under the backend in KERAS_BACKEND, for tests/test_analysis.py.

Usage: KERAS_BACKEND=jax python tests/backend_analysis_check.py job.npz outputs.npz

`job.npz` holds `weights` (a resnet20 weights file's path, 16x16x3 input, no
softmax), `x` and `labels`; the outputs are the network with blocks 1 and 4
deleted, with blocks 4 and 5 swapped, and `effective_paths` at lengths 0, 1, 9
(2 draws, seed 0).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

# The checkout's own kerasnets, whichever copy is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402

import kerasnets  # noqa: E402
from kerasnets import analysis  # noqa: E402


def compute(weights, x, labels):
    model = kerasnets.build("resnet20", input_shape=(16, 16, 3), classifier_activation=None)
    model.load_weights(weights)
    deleted = analysis.delete_blocks(model, [1, 4])(x, training=False)
    swapped = analysis.reorder_blocks(model, [0, 1, 2, 3, 5, 4, 6, 7, 8])(x, training=False)
    paths = analysis.effective_paths(model, x, labels, lengths=[0, 1, 9], samples=2, seed=0)
    return {"deleted": keras.ops.convert_to_numpy(deleted),
            "swapped": keras.ops.convert_to_numpy(swapped), "paths": paths.mean}


def main(job, output):
    job = np.load(job)
    results = compute(str(job["weights"]), job["x"], job["labels"])
    np.savez(output, backend=keras.backend.backend(), **results)


if __name__ == "__main__":
    main(*sys.argv[1:])
