"""Runs registered models on the backend named by KERAS_BACKEND (a subprocess of the tests).

    python backend_models_check.py JOB.json

JOB.json: {"models": [{"id", "name", "kwargs", "weights", "input"}], "output": path}.
Each model is built, loads the weights file written by the tensorflow run,
predicts on the saved input, and the outputs go to one .npz at "output".
The tests run it through fast_init.py (initial weights from numpy: they are
overwritten by the weights file anyway).
"""

import json
import os
import sys

import numpy as np

# The checkout's own kerasnets, whichever copy is installed (as backend_layers_check.py):
# the script's folder, not the working directory, starts sys.path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(job_path):
    with open(job_path) as f:
        job = json.load(f)
    import keras

    import kerasnets

    results = {}
    for item in job["models"]:
        kwargs = dict(item["kwargs"])
        if "input_shape" in kwargs and kwargs["input_shape"] is not None:
            kwargs["input_shape"] = tuple(kwargs["input_shape"])
        model = kerasnets.build(item["name"], **kwargs)
        model.load_weights(item["weights"])
        x = np.load(item["input"])
        # predict: the compiled path (jax.jit, torch without grad), in one batch
        results[item["id"]] = model.predict(x, batch_size=len(x), verbose=0)
        del model
        keras.backend.clear_session()
    np.savez(job["output"], backend=keras.backend.backend(), **results)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main(sys.argv[1])
