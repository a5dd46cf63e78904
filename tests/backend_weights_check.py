"""Builds networks with a weights tag on the backend named by KERAS_BACKEND (a test subprocess).

    python backend_weights_check.py JOB.json

JOB.json: {"cases": [{"id", "name", "tag", "kwargs", "input"}], "output": path, "cache": dir}.
The checkpoints are read from the pre-filled cache `cache` (KERASNETS_CACHE_DIR), so the
real loading path runs; each network's outputs on the saved input go to one .npz.
"""

import json
import os
import sys

import numpy as np


def main(job_path):
    with open(job_path) as f:
        job = json.load(f)
    os.environ["KERASNETS_CACHE_DIR"] = job["cache"]
    import keras

    import kerasnets

    results = {}
    for case in job["cases"]:
        kwargs = dict(case.get("kwargs") or {})
        if kwargs.get("input_shape") is not None:
            kwargs["input_shape"] = tuple(kwargs["input_shape"])
        model = kerasnets.build(case["name"], weights=case["tag"], **kwargs)
        x = np.load(case["input"])
        results[case["id"]] = np.asarray(model.predict(x, batch_size=len(x), verbose=0))
        del model
        keras.backend.clear_session()
    np.savez(job["output"], backend=keras.backend.backend(), **results)


if __name__ == "__main__":
    main(sys.argv[1])
