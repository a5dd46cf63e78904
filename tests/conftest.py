import contextlib
import importlib.util
import io
import os
import subprocess
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
sys.path.insert(0, TESTS)
FAST_INIT = os.path.join(TESTS, "fast_init.py")


def run_with_backend(backend, args, timeout=900, fast_init=False, **kwargs):
    """Runs `python args...` in a subprocess with KERAS_BACKEND=backend; returns CompletedProcess.

    fast_init=True: for scripts that load a weights file (or only check shapes),
    initial weights come from numpy (tests/fast_init.py); on jax that saves a
    compilation per weight shape.
    """
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    prefix = [FAST_INIT] if fast_init else []
    proc = subprocess.run(
        [sys.executable, *prefix, *args], env=env, capture_output=True, text=True, timeout=timeout,
        cwd=ROOT, **kwargs,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"KERAS_BACKEND={backend} {' '.join(map(str, args))} failed "
            f"({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def load_script(path, name):
    """A recipe script (recipes/train.py, ...) imported as a module."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_inline(main, args):
    """Calls a recipe's `main(args)` in this process: (exit code, stdout, stderr).

    For the runs that stop with an error before training: a subprocess would
    spend most of its time importing tensorflow again. An exception other than
    SystemExit propagates, so a traceback fails the test.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit:
            code = exit.code
    return subprocess.CompletedProcess(args, code or 0, out.getvalue(), err.getvalue())
