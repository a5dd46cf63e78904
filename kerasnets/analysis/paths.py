"""The unravelled view of a residual network: its paths, their lengths, their gradients.

Veit, Wilber and Belongie (2016), "Residual Networks Behave Like Ensembles of
Relatively Shallow Networks", NeurIPS, sections 3 and 4. A network of n
residual blocks is a collection of 2^n paths, one for each subset of the
blocks whose residual branch it goes through (it takes the shortcut of the
others); C(n, k) of them go through k branches, so path lengths follow the
binomial distribution (in a 54-block network 95% of paths have 19 to 35
blocks). Section 4.2 measures how much gradient reaches the input through
paths of each length: sample k blocks, let the gradient go back through
those blocks' branches and the other blocks' shortcuts only, and take the
norm of the gradient at the input. Multiplied by the number of paths of
that length it gives the total gradient per length: almost all of it comes
from paths of 5 to 17 blocks in their 54-block ResNet, 0.45% of all paths.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import textwrap

import keras
import numpy as np
from keras import ops
from matplotlib.figure import Figure

from kerasnets.analysis import blocks as B
from kerasnets.analysis import graph as G


@dataclasses.dataclass(frozen=True)
class PathLengths:
    """The paths of an n-block residual network by length: exact counts and fractions."""

    blocks: int
    lengths: tuple  # 0 .. n
    counts: tuple  # C(n, k), exact integers
    fraction: np.ndarray  # C(n, k) / 2^n

    @property
    def total(self):
        return 2 ** self.blocks

    def share(self, low, high):
        """The fraction of all paths that go through `low` to `high` blocks (inclusive)."""
        return sum(c for k, c in zip(self.lengths, self.counts) if low <= k <= high) / self.total


def path_length_distribution(n):
    """The 2^n paths of a network of `n` residual blocks by length (Veit et al., Figure 6a).

    Length k (the number of residual branches a path goes through) has
    C(n, k) paths: a binomial distribution with mean n / 2.
    """
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"`n` (the number of residual blocks) must be an integer >= 1; got {n!r}")
    n = int(n)
    counts = tuple(math.comb(n, k) for k in range(n + 1))
    fraction = np.array([c / 2 ** n for c in counts])
    return PathLengths(n, tuple(range(n + 1)), counts, fraction)


@dataclasses.dataclass(frozen=True)
class EffectivePaths:
    """Gradient magnitude reaching the input through paths of each length (Veit et al. Fig. 6).

    `mean[i]`: the mean norm of the input gradient of one image through one
    path of `lengths[i]` blocks (over the sampled paths and the images);
    `total[i]`: that times the number of paths of that length, C(n, k).
    """

    blocks: int
    lengths: tuple
    mean: np.ndarray
    total: np.ndarray
    samples: int
    images: int

    def effective_range(self, share=0.9):
        """The shortest run of lengths (low, high) holding `share` of the total gradient.

        Returns (low, high, fraction of all paths with a length in it): the
        paper's "effective paths" (5 to 17 blocks, 0.45% of the paths, in a
        54-block network).
        """
        if not 0 < share <= 1:
            raise ValueError(f"`share` must be a number in (0, 1]; got {share!r}")
        total = np.asarray(self.total, dtype=float)
        best = None
        for i in range(len(total)):
            for j in range(i, len(total)):
                if total[i:j + 1].sum() >= share * total.sum() - 1e-12:
                    if best is None or j - i < best[1] - best[0]:
                        best = (i, j)
                    break
        low, high = self.lengths[best[0]], self.lengths[best[1]]
        return low, high, path_length_distribution(self.blocks).share(low, high)


def input_gradient(loss_fn, x):
    """The gradient of the scalar `loss_fn(x)` with respect to `x`, on the Keras backend in use."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = loss_fn(x)
        return tape.gradient(loss, x)
    if backend == "jax":
        import jax

        return jax.grad(loss_fn)(ops.convert_to_tensor(x))
    if backend == "torch":
        x = ops.convert_to_tensor(x).detach().requires_grad_(True)
        loss_fn(x).backward()
        return x.grad
    raise ValueError(f"effective_paths needs the tensorflow, jax or torch backend; got {backend}")


def _probabilities_out(model):
    activation = getattr(model.layers[-1], "activation", None)
    return activation is keras.activations.softmax


def effective_paths(model, images, labels=None, *, lengths=None, samples=8, seed=0,
                    from_logits=None):
    """Veit et al.'s estimate of the gradient reaching the input through paths of each length.

    For each path length k (`lengths`, default 0 .. n for n residual blocks),
    `samples` draws of k blocks: the gradient of the cross-entropy of
    `images` (a numpy batch) with respect to the input goes back through
    the residual branches of those k blocks and the shortcuts of the others,
    one path per draw (section 4.2). The forward pass is the network's own
    (in inference mode: batch normalization uses its moving statistics).
    `labels` (integer classes) default to the network's own predictions;
    `from_logits` (default: True unless the last layer applies a softmax)
    says what the network outputs. Returns an `EffectivePaths`.
    """
    graph = G.trace(model)
    units = G.residual_units(graph)
    if not units:
        raise ValueError(f"model {model.name!r} has no residual blocks: it has a single path")
    n = len(units)
    if lengths is None:
        lengths = range(n + 1)
    lengths = tuple(int(k) for k in lengths)
    if not lengths or any(k < 0 or k > n for k in lengths):
        raise ValueError(f"`lengths` must be path lengths in [0, {n}]; got {lengths!r}")
    B.check_positive_int("samples", samples)
    images = np.asarray(images, dtype="float32")
    if from_logits is None:
        from_logits = not _probabilities_out(model)
    if labels is None:
        outputs = ops.convert_to_numpy(G.execute(graph, units, images, training=False))
        labels = outputs.argmax(axis=-1)
    labels = np.asarray(labels).astype("int32").reshape(-1)
    batch = len(images)
    rng = np.random.default_rng(seed)
    replicated = np.concatenate([images] * samples)
    targets = ops.convert_to_tensor(np.concatenate([labels] * samples))
    gate_shape = (samples * batch,) + (1,) * (len(units[0].output.shape) - 1)
    means = []
    for k in lengths:
        active = np.zeros((samples, n), dtype="float32")
        for draw in range(samples):
            active[draw, rng.choice(n, size=k, replace=False)] = 1.0
        per_sample = np.repeat(active, batch, axis=0)  # (samples * batch, n)
        gates = {j: ops.convert_to_tensor(per_sample[:, j].reshape(gate_shape))
                 for j in range(n)}

        def loss_fn(x, gates=gates):
            out = G.execute(graph, units, x, gates=gates, training=False)
            losses = keras.losses.sparse_categorical_crossentropy(targets, out,
                                                                   from_logits=from_logits)
            return ops.sum(losses)

        gradient = ops.convert_to_numpy(input_gradient(loss_fn, replicated))
        norms = np.sqrt((gradient.reshape(len(gradient), -1).astype("float64") ** 2).sum(1))
        means.append(norms.mean())
    means = np.array(means)
    counts = np.array([math.comb(n, k) for k in lengths], dtype=float)
    return EffectivePaths(n, lengths, means, means * counts, int(samples), batch)


def plot_paths(effective, path, *, title=None):
    """Writes the two panels of Veit et al.'s Figure 6 for an `EffectivePaths` to `path` (PNG).

    Left: the distribution of path lengths (the number of paths of each
    length, binomial); right: the gradient magnitude reaching the input per
    path (`effective.mean`) and in total per length (`effective.total`, the
    mean times the number of paths), on two axes.
    """
    lengths = path_length_distribution(effective.blocks)
    figure = Figure(figsize=(10, 3.8), dpi=110)
    left, right = figure.subplots(1, 2)
    left.bar(lengths.lengths, lengths.counts, color="#4c72b0")
    left.set_xlabel("path length (residual branches on the path)")
    left.set_ylabel("number of paths")
    left.set_title(f"Distribution of path length ({effective.blocks} blocks, "
                   f"2^{effective.blocks} paths)")
    right.plot(effective.lengths, effective.mean, marker="o", color="#c44e52",
               label="per path (mean)")
    right.set_xlabel("path length")
    right.set_ylabel("gradient norm at the input, per path", color="#c44e52")
    twin = right.twinx()
    twin.plot(effective.lengths, effective.total, marker="s", color="#4c72b0",
              label="all paths of the length")
    twin.set_ylabel("total gradient norm of the paths of that length", color="#4c72b0")
    right.set_title(f"Gradient per path length ({effective.samples} draws x "
                    f"{effective.images} images)")
    for axes in (left, right):
        axes.grid(alpha=0.3)
    if title:
        figure.suptitle(textwrap.fill(title, 120), fontsize=10)
    figure.tight_layout()
    figure.savefig(path)
    return path


def paths_rows(effective):
    """The rows of `paths.csv`: per length, the number and share of paths and the gradients."""
    lengths = path_length_distribution(effective.blocks)
    return [{"length": k, "paths": lengths.counts[k], "fraction": lengths.fraction[k],
             "gradient_per_path": mean, "gradient_total": total}
            for k, mean, total in zip(effective.lengths, effective.mean, effective.total)]
