"""Which configuration of each registered model the tests build.

The default (fast) run builds every registered network, but the giants in a
cheaper form: a fully connected classifier of more than 100M parameters is
left out (include_top=False at the smallest input), and networks that pool
globally are built at their smallest input with 10 classes. `-m slow` builds
everything at its paper size.
"""

from __future__ import annotations

import kerasnets

BIG_CLASSIFIER = 100_000_000


def fast_kwargs(name: str) -> dict:
    spec = kerasnets.get_spec(name)
    if spec.fixed_input:
        if spec.params > BIG_CLASSIFIER:
            return {"include_top": False, "input_shape": spec.min_input_shape, "pooling": "avg"}
        return {"classes": 10}
    return {"input_shape": spec.min_input_shape, "classes": 10}


def full_kwargs(name: str) -> dict:
    return {}


def configs(slow: bool = False):
    """[(config id, model name, kwargs)] for every registered model."""
    pick = full_kwargs if slow else fast_kwargs
    return [(name, name, pick(name)) for name in kerasnets.list_models()]
