"""Which configuration of each registered model the registry-wide tests build.

Three tiers. "family" (the default run): one network per family, the one
with the fewest parameters, in its cheap form: a fully connected classifier
of more than 100M parameters is left out (include_top=False at the smallest
input), and networks that pool globally are built at their smallest input
with 10 classes. Every network's own test file pins its counts, shapes and
keras.applications weight copies, so the default run still covers each
model; the registry-wide checks (three backends, .keras round trip) cost a
build per backend and would take most of the 20-minute budget for all 46.
"all" (`-m slow`): every network in its cheap form. "full" (`-m slow`):
every network at its paper size.
"""

from __future__ import annotations

import kerasnets

BIG_CLASSIFIER = 100_000_000
# Networks too deep to build three times over in the default run (resnet1202:
# 4,212 layers, 16-46 s a build, and Python's default recursion limit is too
# low to load it back from .keras). Their own test files check them by
# formula; `-m slow` builds them here.
HEAVY = {"resnet1202"}


def fast_kwargs(name: str) -> dict:
    spec = kerasnets.get_spec(name)
    if spec.fixed_input:
        if spec.params > BIG_CLASSIFIER:
            return {"include_top": False, "input_shape": spec.min_input_shape, "pooling": "avg"}
        return {"classes": 10}
    return {"input_shape": spec.min_input_shape, "classes": 10}


def full_kwargs(name: str) -> dict:
    return {}


def family_representatives():
    """One network per family, the one with the fewest parameters (ties: by name)."""
    chosen = {}
    for name in default_run_models():
        spec = kerasnets.get_spec(name)
        best = chosen.get(spec.family)
        if best is None or (spec.params, name) < (kerasnets.get_spec(best).params, best):
            chosen[spec.family] = name
    return sorted(chosen.values())


def configs(tier: str = "family"):
    """[(config id, model name, kwargs)] of the tier: "family", "all" or "full"."""
    if tier == "full":
        return [(name, name, full_kwargs(name)) for name in kerasnets.list_models()]
    if tier == "all":
        return [(name, name, fast_kwargs(name)) for name in kerasnets.list_models()]
    if tier == "family":
        return [(name, name, fast_kwargs(name)) for name in family_representatives()]
    raise ValueError(f"tier must be 'family', 'all' or 'full'; got {tier!r}")


def default_run_models():
    """The registered models the default (fast) run builds: all but the HEAVY ones."""
    return [name for name in kerasnets.list_models() if name not in HEAVY]
