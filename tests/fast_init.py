"""Runs a test script with initial weights drawn by numpy (a test helper).

    python tests/fast_init.py SCRIPT ARGS...    or    python tests/fast_init.py -c CODE ARGS...

On the jax backend, every random initializer of a freshly built model compiles
an XLA program per weight shape (about 0.2 s each on these CPUs: 13 s to build
bn_inception, against 1 s on tensorflow). The cross-backend checks overwrite
those weights with a weights file at once, so here the initializers draw from
numpy with the same distributions instead. Only the initializers are changed:
random ops inside a model (dropout, drop path) keep the backend's own.
"""

import runpy
import sys

import numpy as np


class _NumpyRandom:
    """Stands in for keras.src.random.random inside the initializers module."""

    def __init__(self, original):
        self._original = original
        self._rng = np.random.default_rng(0)

    def __getattr__(self, name):
        return getattr(self._original, name)

    def uniform(self, shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        return self._rng.uniform(minval, maxval, size=shape).astype(dtype or "float32")

    def normal(self, shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return self._rng.normal(mean, stddev, size=shape).astype(dtype or "float32")

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        values = self._rng.normal(0.0, 1.0, size=shape)
        while np.any(outside := np.abs(values) > 2.0):  # redraw beyond two deviations
            values[outside] = self._rng.normal(0.0, 1.0, size=int(outside.sum()))
        return (mean + stddev * values).astype(dtype or "float32")


def install():
    """Patches keras' initializers module; a keras without it is left alone."""
    try:
        from keras.src.initializers import random_initializers
    except ImportError:
        return False
    if not hasattr(random_initializers, "random"):
        return False
    random_initializers.random = _NumpyRandom(random_initializers.random)
    return True


def main(argv):
    install()
    if argv[0] == "-c":
        sys.argv = ["-c", *argv[2:]]
        exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})
    else:
        sys.argv = list(argv)
        runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
