"""The recipe path on the jax backend with array data needs no TensorFlow (issue 18).

Each check runs in a subprocess where TensorFlow cannot be found: a
`sitecustomize` module on PYTHONPATH replaces the path finder by one that
finds every module but `tensorflow` and `tensorflow.*`, as if it were not
installed (so `importlib.util.find_spec("tensorflow")` is None, as torch's
dynamo expects of a missing package). Child processes inherit it.
"""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytest.importorskip("jax")

SITECUSTOMIZE = """\
import importlib.abc, importlib.machinery, sys


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "tensorflow":
            return None
        return importlib.machinery.PathFinder.find_spec(name, path, target)


sys.meta_path[sys.meta_path.index(importlib.machinery.PathFinder)] = _NoTensorFlow()
"""

RECIPE_PATH = """\
import json, sys
import numpy as np
import keras
import kerasnets
from kerasnets.training import (build_model, compile_model, load_config,
                                mixed_precision_policy, override)

try:
    import tensorflow  # noqa: F401
    blocked = False
except ModuleNotFoundError:
    blocked = True
config = override(load_config("recipes/configs/resnet56_cifar.yaml"), model="resnet20",
                  batch_size=4)
keras.mixed_precision.set_global_policy(mixed_precision_policy("bfloat16"))
model = build_model(config, (32, 32, 3), 10)
compile_model(model, config, steps_per_epoch=1, jit_compile=True)
x = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
y = np.arange(4) % 10
history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
print(json.dumps({"backend": keras.backend.backend(), "blocked": blocked,
                  "loss": float(history.history["loss"][0]),
                  "optimizer": type(model.optimizer).__name__,
                  "tensorflow": "tensorflow" in sys.modules}))
"""


@pytest.fixture(scope="module")
def no_tensorflow_env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("no_tensorflow")
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
               PYTHONPATH=os.pathsep.join([str(folder), ROOT, os.environ.get("PYTHONPATH", "")]))
    return env


@pytest.mark.slow  # 18 s; the benchmark's test below runs the same path in its child
def test_recipe_path_trains_on_arrays_without_tensorflow(no_tensorflow_env):
    done = subprocess.run([sys.executable, "-c", RECIPE_PATH], cwd=ROOT, env=no_tensorflow_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["blocked"], "the import blocker let tensorflow through"
    assert result["backend"] == "jax"
    assert result["optimizer"] == "SGD"  # the recipe's, kerasnets.training.optimizers.SGD
    assert result["loss"] == result["loss"]  # not NaN
    assert not result["tensorflow"]


def test_gpu_train_benchmark_runs_without_tensorflow(no_tensorflow_env):
    command = [sys.executable, os.path.join(ROOT, "benchmarks", "gpu_train.py"),
               "--models", "resnet20", "--recipe", "recipes/configs/resnet56_cifar.yaml",
               "--classes", "10", "--batch", "4", "--size", "32", "--steps", "2",
               "--warmup", "1", "--no-torch"]
    done = subprocess.run(command, cwd=ROOT, env=no_tensorflow_env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "NOT a GPU measurement: ran on CPU"
    assert lines[1].startswith("gpu_train: training images/s, batch 4, 32x32 crops of 37x37")
    assert "NOT a GPU measurement" in lines[1]
    row = next(line for line in lines if line.startswith("resnet20 "))
    cells = row.split()
    assert cells[1] == "recipes/configs/resnet56_cifar.yaml"
    assert float(cells[2].replace(",", "")) > 0  # keras images/s
    assert cells[3:5] == ["-", "-"]  # no torch side
    assert row.endswith("not imported")
