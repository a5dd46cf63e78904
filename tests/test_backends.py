"""Every registered model runs on the jax and torch backends and agrees with tensorflow.

The tensorflow run (this process) builds each model, saves its weights, input
and output; a subprocess per backend builds the same model, loads the weights
and must reproduce the output to 1e-4.
"""

import json
import os

import keras
import numpy as np
import pytest

import kerasnets
from conftest import run_with_backend
from model_configs import configs

SCRIPT = os.path.join(os.path.dirname(__file__), "backend_models_check.py")


def _reference_run(tmp_path, tier):
    assert keras.backend.backend() == "tensorflow"
    rng = np.random.default_rng(0)
    items, expected = [], {}
    for config_id, name, kwargs in configs(tier):
        kwargs = {**kwargs}
        if kwargs.get("include_top", True):
            kwargs["classifier_activation"] = None  # compare logits, not squashed softmax
        model = kerasnets.build(name, **kwargs)
        shape = (2, *model.input_shape[1:])
        x = rng.uniform(-1.0, 1.0, size=shape).astype("float32")
        weights = str(tmp_path / f"{config_id}.weights.h5")
        model.save_weights(weights)
        inputs = str(tmp_path / f"{config_id}.input.npy")
        np.save(inputs, x)
        expected[config_id] = keras.ops.convert_to_numpy(model(x, training=False))
        items.append(
            {"id": config_id, "name": name, "kwargs": kwargs, "weights": weights, "input": inputs}
        )
        del model
        keras.backend.clear_session()
    return items, expected


def _check_backends(tmp_path, tier):
    items, expected = _reference_run(tmp_path, tier)
    for backend in ("jax", "torch"):
        job = tmp_path / f"{backend}.json"
        output = tmp_path / f"{backend}.npz"
        job.write_text(json.dumps({"models": items, "output": str(output)}))
        run_with_backend(backend, [SCRIPT, str(job)], fast_init=True)
        got = np.load(output)
        assert str(got["backend"]) == backend
        for config_id, want in expected.items():
            have = got[config_id]
            assert have.shape == want.shape, (backend, config_id)
            scale = max(1.0, float(np.abs(want).max()))
            np.testing.assert_allclose(
                have, want, rtol=1e-4, atol=1e-4 * scale, err_msg=f"{config_id} on {backend}"
            )


def test_each_family_agrees_across_backends(tmp_path):
    _check_backends(tmp_path, "family")


@pytest.mark.slow
def test_every_model_agrees_across_backends(tmp_path):
    _check_backends(tmp_path, "all")


@pytest.mark.slow
def test_every_model_agrees_across_backends_full_size(tmp_path):
    _check_backends(tmp_path, "full")
