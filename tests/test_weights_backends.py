"""Every family's fast weights tags load equal to their reference on jax and torch too.

Each tests/test_weights_<family>.py names its fast tags (`FAST_TAGS`) and its
reference implementations (`reference_for(name, tag)`); their checkpoints go
into one pre-filled cache, and one subprocess per backend builds every one of
them through `weights=tag` (tests/backend_weights_check.py).
"""

import functools
import glob
import importlib
import os

import numpy as np
import pytest

from kerasnets import registry

from checkpoint_check import (
    assert_close,
    backend_outputs,
    images_for,
    prefill_cache,
    randomize,
    reference_logits,
)
from conftest import run_with_backend

TESTS = os.path.dirname(os.path.abspath(__file__))


def weights_modules():
    for path in sorted(glob.glob(os.path.join(TESTS, "test_weights_*.py"))):
        module_name = os.path.basename(path)[:-3]
        if module_name != "test_weights_backends":
            yield importlib.import_module(module_name)


def cases(lists=("FAST_TAGS",)):
    """(module, name, tag, input_shape) for the entries of each weights test's `lists`."""
    found = []
    for module in weights_modules():
        for list_name in lists:
            for entry in getattr(module, list_name, ()):
                name, tag, *shape = entry
                found.append((module, name, tag, input_shape(module, name, tag, shape)))
    return found


def input_shape(module, name, tag, given):
    """The input a weights test runs `name` at: its own choice, else `default_shape`."""
    if given:
        return tuple(given[0])
    if hasattr(module, "input_shape_for"):
        return tuple(module.input_shape_for(name, tag))
    return default_shape(name)


def default_shape(name):
    """The input to test at: the default for fixed-input networks, else at most 96 pixels."""
    spec = registry.get_spec(name)
    if spec.fixed_input:
        return spec.input_shape
    side = max(spec.min_input_shape[0], min(96, spec.input_shape[0]))
    return (side, side, spec.input_shape[2])


def check_backend(backend, chosen, tmp_path, timeout=900):
    """Every chosen (module, name, tag, shape) built on `backend` equals its reference."""
    cases_, expected = [], {}
    for index, (module, name, tag, shape) in enumerate(chosen):
        reference = randomize(module.reference_for(name, tag), seed=index)
        # A source with a format of its own (Caffe's .caffemodel) writes its own file.
        write = getattr(module, "write_checkpoint", None)
        if write is not None:
            write(name, tag, reference, tmp_path)
        else:
            prefill_cache(name, tag, reference.state_dict(), tmp_path)
        images = images_for(name, tag, shape, batch=2, seed=index)
        path = tmp_path / f"input_{index}.npy"
        np.save(path, images)
        case_id = f"case{index}"
        expected[case_id] = (f"{name} {tag}", reference_logits(reference, images))
        cases_.append({"id": case_id, "name": name, "tag": tag, "input": str(path),
                       "kwargs": {"input_shape": list(shape), "classifier_activation": None}})
    outputs = backend_outputs(backend, cases_, tmp_path,
                              functools.partial(run_with_backend, timeout=timeout))
    for case_id, (what, want) in expected.items():
        assert_close(outputs[case_id], want, f"{backend}: {what}")


@pytest.mark.parametrize("backend", [pytest.param("jax", marks=pytest.mark.slow), "torch"])
def test_fast_tags_agree_with_their_references_on(backend, tmp_path):
    # One tag of each family's weights test (its first fast one); every tag with -m slow.
    # The default run checks them on torch; jax (40 s) with -m slow, as does
    # tests/test_backends.py every family's network on both.
    chosen = list({module: (module, name, tag, shape)
                   for module, name, tag, shape in reversed(cases())}.values())
    assert len(chosen) >= 8, "every family's weights test names its FAST_TAGS"
    check_backend(backend, chosen, tmp_path)


WEIGHTS_TESTS = sorted(os.path.basename(path)[:-3] for path in
                       glob.glob(os.path.join(TESTS, "test_weights_*.py"))
                       if not path.endswith("test_weights_backends.py"))


def test_every_converted_checkpoint_is_in_a_weights_test():
    """The slow tests below cover every converted file (a network and a preset may share one)."""
    chosen = cases(("FAST_TAGS", "SLOW_TAGS"))
    tested = {registry.published_weights(name, tag).top for _, name, tag, _ in chosen}
    published = {entry.top for name in registry.list_models(include_aliases=True)
                 for entry in registry.get_spec(name).published_weights.values()
                 if entry.format != "keras"}
    assert published <= tested, sorted(file.filename for file in published - tested)


@pytest.mark.slow
@pytest.mark.parametrize("module_name", WEIGHTS_TESTS)
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_every_tag_agrees_with_its_reference_on(backend, module_name, tmp_path):
    """One subprocess per backend and family: every tag of that family's weights test."""
    module = importlib.import_module(module_name)
    chosen = [case for case in cases(("FAST_TAGS", "SLOW_TAGS")) if case[0] is module]
    if not chosen:
        pytest.skip(f"{module_name} names no tags")
    check_backend(backend, chosen, tmp_path, timeout=3600)
