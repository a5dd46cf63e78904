"""Proof that a weights tag loads the reference implementation's checkpoint exactly.

`assert_tag_matches(name, tag, reference, ...)`: the reference implementation
(a torch module with random weights, BatchNorm statistics randomised so they
count) is saved in the format its source publishes, under the file name the
tag's download would leave in the cache; `kerasnets.build(name, weights=tag)`
then goes through the real loading path (fetch, served from that pre-filled
cache; read; map) and both networks run on the same images.

`backend_outputs(...)` runs the same build on the jax or torch backend in a
subprocess (tests/backend_weights_check.py) for the cross-backend tests.
"""

from __future__ import annotations

import json
import os

import numpy as np
import torch

from kerasnets import registry
from kerasnets.models import pretrained

TOLERANCE = 1e-4


def randomize(reference: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """`reference` in eval mode with random BatchNorm statistics and affine parameters."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                shape = module.running_mean.shape
                module.running_mean.copy_(torch.randn(shape, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(shape, generator=generator) * 0.5 + 0.75)
                if module.weight is not None:
                    module.weight.copy_(torch.rand(shape, generator=generator) * 0.5 + 0.75)
                    module.bias.copy_(torch.randn(shape, generator=generator) * 0.1)
    return reference.eval()


def save_state(state: dict, path: str, format: str) -> None:
    """A state dict written as the source publishes it (safetensors or torch.save)."""
    tensors = {key: value.detach().contiguous() for key, value in state.items()}
    if format == "safetensors":
        from safetensors.numpy import save_file

        save_file({key: value.numpy() for key, value in tensors.items()}, path)
    else:
        torch.save(tensors, path)


def prefill_cache(name: str, tag: str, state: dict, cache_root) -> str:
    """Writes `state` where fetching `name`'s checkpoint `tag` looks first; returns the path."""
    published = registry.published_weights(name, tag)
    folder = os.path.join(os.fspath(cache_root), pretrained.CACHE_SUBDIR)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, published.top.filename)
    save_state(state, path, published.format)
    return path


def reference_logits(reference: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """The reference's output on NHWC `images` (given to it NCHW)."""
    with torch.no_grad():
        out = reference(torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))))
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out.numpy()


def images_for(name: str, tag: str, input_shape=None, batch: int = 2, seed: int = 0):
    """Random images (NHWC) of `input_shape` (default: the network's default input)."""
    shape = tuple(input_shape or registry.get_spec(name).input_shape)
    return np.random.default_rng(seed).standard_normal((batch, *shape)).astype("float32")


def assert_close(got, want, what=""):
    """max |got - want| <= TOLERANCE * max(1, max |want|); returns the max difference."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shapes {got.shape} != {want.shape}"
    diff = float(np.max(np.abs(got - want)))
    bound = TOLERANCE * max(1.0, float(np.max(np.abs(want))))
    assert diff <= bound, f"{what}: max |difference| {diff:.3g} > {bound:.3g}"
    return diff


def assert_tag_matches(name, tag, reference, *, tmp_path, monkeypatch, input_shape=None,
                       batch=2, seed=0, build_kwargs=None) -> float:
    """Builds `name` with `weights=tag` from `reference`'s checkpoint; asserts equal logits."""
    import kerasnets

    randomize(reference, seed)
    monkeypatch.setenv(pretrained.CACHE_DIR_ENV, str(tmp_path))
    prefill_cache(name, tag, reference.state_dict(), tmp_path)
    kwargs = dict(build_kwargs or {})
    if input_shape is not None:
        kwargs["input_shape"] = tuple(input_shape)
    model = kerasnets.build(name, weights=tag, **kwargs)
    images = images_for(name, tag, input_shape or model.input_shape[1:], batch, seed)
    want = reference_logits(reference, images)
    got = np.asarray(model.predict(images, batch_size=batch, verbose=0))
    return assert_close(got, want, f"{name} weights={tag!r}")


def backend_outputs(backend, cases, tmp_path, run_with_backend):
    """Runs each case {"name", "tag", "kwargs", "input"} on `backend` in a subprocess.

    The checkpoints must already be in the cache under `tmp_path` (prefill_cache).
    Returns {case id: outputs}.
    """
    job = tmp_path / f"job_{backend}.json"
    output = tmp_path / f"out_{backend}.npz"
    job.write_text(json.dumps({"cases": cases, "output": str(output),
                               "cache": str(tmp_path)}))
    here = os.path.dirname(os.path.abspath(__file__))
    run_with_backend(backend, [os.path.join(here, "backend_weights_check.py"), str(job)],
                     fast_init=True)
    with np.load(output) as data:
        return {key: data[key] for key in data.files if key != "backend"}
