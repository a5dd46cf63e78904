"""Each preset's description states its own multiply-adds and size, not its base model's.

A preset (`register_alias` with overrides: mobilenet_v1_0.25_128,
mobilenet_v2_0.35_96, shufflenet_v1_g8_0.5, ...) is built, counted with
kerasnets.profile, and its description must state that count to the precision
it prints ("11.9M multiply-adds"), its input size and its width or groups.
71 presets, each built once, with initial weights drawn by numpy (tests/fast_init.py;
counts do not depend on the weights): about a minute.
"""

import re

import keras
import pytest

import fast_init
import kerasnets
from kerasnets import profile
from kerasnets.registry import get_spec

PRESETS = kerasnets.list_models(include_aliases=True)
PRESETS = [name for name in PRESETS if get_spec(name).alias_of is not None]
MACS = re.compile(r"(\d+(?:\.\d+)?)M multiply-adds")


@pytest.fixture(scope="module")
def numpy_initializers():
    from keras.src.initializers import random_initializers

    original = random_initializers.random
    fast_init.install()
    yield
    random_initializers.random = original


def test_the_presets_are_the_mobilenets_and_shufflenets():
    assert {get_spec(name).alias_of for name in PRESETS} == {
        "mobilenet_v1", "mobilenet_v2", "shufflenet_v1"}
    assert len(PRESETS) == 16 + 30 + 25


@pytest.mark.parametrize("name", PRESETS)
def test_description_states_the_presets_own_multiply_adds_and_size(name, numpy_initializers):
    spec = get_spec(name)
    model = spec.build()
    macs = profile(model).macs
    keras.backend.clear_session()
    stated = MACS.findall(spec.description)
    assert len(stated) == 1, spec.description
    decimals = len(stated[0].partition(".")[2])
    assert stated[0] == f"{macs / 1e6:.{decimals}f}", (name, macs, spec.description)
    assert spec.description != get_spec(spec.alias_of).description
    size = spec.input_shape[0]
    defaults = spec.defaults
    if "alpha" in defaults:  # "MobileNet v2 0.35-96: ..."
        assert f" {defaults['alpha']}-{size}:" in spec.description
    else:  # "ShuffleNet 0.5x (g = 8): ... at 224."
        assert f" {defaults['scale']:g}x (g = {defaults['groups']})" in spec.description
        assert spec.description.endswith(f" at {size}.")


def test_mobilenet_v2_0_35_96_is_11_9m_multiply_adds_not_300m():
    description = get_spec("mobilenet_v2_0.35_96").description
    assert "11.9M multiply-adds" in description and "300M" not in description
