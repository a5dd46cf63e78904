import os
import subprocess
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def run_with_backend(backend, args, timeout=900, **kwargs):
    """Runs `python args...` in a subprocess with KERAS_BACKEND=backend; returns CompletedProcess."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout,
        cwd=ROOT, **kwargs,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"KERAS_BACKEND={backend} {' '.join(map(str, args))} failed "
            f"({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc
