"""Reading a published PyTorch checkpoint as a dict of numpy arrays.

safetensors files are read with numpy alone (`safetensors.numpy`: no torch
needed). `.pth` files are pickles of torch tensors: they need torch, and are
read with `torch.load(weights_only=True)`, which refuses anything but tensors
and plain containers (a checkpoint cannot run code). Training checkpoints that
wrap the state dict (`{"state_dict": ...}`, `{"model": ...}`) are unwrapped,
and the `module.` prefix of `torch.nn.DataParallel` is dropped.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

from kerasnets.weights.caffemodel import read_caffemodel

__all__ = ["read_state", "require_reader", "format_of", "TORCH_MISSING"]

TORCH_MISSING = (
    "reading a PyTorch .pth checkpoint needs torch, which is not installed: "
    "pip install \"kerasnets[torch]\" (the CPU build: torch==2.13.0), or convert the file once "
    "where torch is installed (`kerasnets convert`) and use the .weights.h5 it writes"
)
SAFETENSORS_MISSING = "reading a .safetensors checkpoint needs safetensors: pip install safetensors"
_EXTENSIONS = {".safetensors": "safetensors", ".pth": "pth", ".pt": "pth", ".th": "pth",
               ".tar": "pth", ".bin": "pth", ".caffemodel": "caffemodel"}
_WRAPPERS = ("state_dict", "model", "model_state", "net")


def format_of(filename: str) -> str:
    """"safetensors" or "pth" by the file's extension (ValueError for others)."""
    extension = os.path.splitext(filename)[1].lower()
    if extension not in _EXTENSIONS:
        raise ValueError(f"cannot tell the checkpoint format of {filename!r}: expected a "
                         f"file ending in one of {', '.join(sorted(_EXTENSIONS))}")
    return _EXTENSIONS[extension]


def require_reader(format: str) -> None:
    """ImportError naming the package to install when `format` cannot be read here.

    Called before any download, so a missing package costs no waiting.
    """
    if format == "caffemodel":
        return  # read with numpy alone (kerasnets.weights.caffemodel)
    module = {"safetensors": "safetensors", "pth": "torch"}.get(format)
    if module is None:
        raise ValueError(f"format must be 'safetensors', 'pth' or 'caffemodel'; got {format!r}")
    if importlib.util.find_spec(module) is None:
        raise ImportError(TORCH_MISSING if module == "torch" else SAFETENSORS_MISSING)


def read_state(path: str, format: str | None = None) -> dict[str, np.ndarray]:
    """The state dict in the file `path` as {key: numpy array}."""
    path = os.fspath(path)
    format = format or format_of(path)
    require_reader(format)
    if format == "caffemodel":
        return read_caffemodel(path)
    if format == "safetensors":
        from safetensors.numpy import load_file  # noqa: PLC0415  (optional package)

        try:
            return dict(load_file(path))
        except Exception as err:  # safetensors raises its own SafetensorError
            raise ValueError(f"{path!r} is not a readable safetensors file ({err})") from err
    import torch  # noqa: PLC0415  (optional package)

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in many kinds
        raise ValueError(f"{path!r} is not a readable PyTorch checkpoint ({err})") from err
    return _unwrap(loaded, path)


def _unwrap(loaded, path):
    for _ in range(3):
        if isinstance(loaded, dict):
            inner = next((loaded[key] for key in _WRAPPERS if isinstance(loaded.get(key), dict)),
                         None)
            if inner is not None and not _is_state(loaded):
                loaded = inner
                continue
        break
    if not isinstance(loaded, dict) or not _is_state(loaded):
        raise ValueError(f"{path!r} holds no state dict of tensors (found "
                         f"{type(loaded).__name__})")
    state = {}
    for key, value in loaded.items():
        if not hasattr(value, "numpy"):
            continue
        name = key[len("module."):] if key.startswith("module.") else key
        state[name] = value.detach().cpu().float().numpy() if value.is_floating_point() \
            else value.cpu().numpy()
    return state


def _is_state(mapping):
    return any(hasattr(value, "numpy") for value in mapping.values())
