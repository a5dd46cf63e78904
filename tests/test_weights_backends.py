"""Every family's fast weights tags load equal to their reference on jax and torch too.

Each tests/test_weights_<family>.py names its fast tags (`FAST_TAGS`) and its
reference implementations (`reference_for(name, tag)`); their checkpoints go
into one pre-filled cache, and one subprocess per backend builds every one of
them through `weights=tag` (tests/backend_weights_check.py).
"""

import glob
import importlib
import os

import numpy as np
import pytest

from kerasnets import registry

from checkpoint_check import assert_close, images_for, prefill_cache, randomize, reference_logits
from conftest import run_with_backend

TESTS = os.path.dirname(os.path.abspath(__file__))


def fast_cases():
    """(module, name, tag, input_shape) for every FAST_TAGS entry of the weights tests."""
    cases = []
    for path in sorted(glob.glob(os.path.join(TESTS, "test_weights_*.py"))):
        module_name = os.path.basename(path)[:-3]
        if module_name == "test_weights_backends":
            continue
        module = importlib.import_module(module_name)
        for entry in getattr(module, "FAST_TAGS", ()):
            name, tag, *shape = entry
            cases.append((module, name, tag, tuple(shape[0]) if shape else None))
    return cases


def default_shape(name):
    """The input to test at: the default for fixed-input networks, else at most 96 pixels."""
    spec = registry.get_spec(name)
    if spec.fixed_input:
        return spec.input_shape
    side = max(spec.min_input_shape[0], min(96, spec.input_shape[0]))
    return (side, side, spec.input_shape[2])


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_fast_tags_agree_with_their_references_on(backend, tmp_path):
    cases, expected = [], {}
    for index, (module, name, tag, shape) in enumerate(fast_cases()):
        reference = randomize(module.reference_for(name, tag), seed=index)
        prefill_cache(name, tag, reference.state_dict(), tmp_path)
        shape = shape or default_shape(name)
        images = images_for(name, tag, shape, batch=2, seed=index)
        path = tmp_path / f"input_{index}.npy"
        np.save(path, images)
        case_id = f"case{index}"
        expected[case_id] = (f"{name} {tag}", reference_logits(reference, images))
        cases.append({"id": case_id, "name": name, "tag": tag, "input": str(path),
                      "kwargs": {"input_shape": list(shape), "classifier_activation": None}})
    assert len(cases) >= 5, "every family's weights test names its FAST_TAGS"
    from checkpoint_check import backend_outputs

    outputs = backend_outputs(backend, cases, tmp_path, run_with_backend)
    for case_id, (what, want) in expected.items():
        assert_close(outputs[case_id], want, f"{backend}: {what}")
