"""Lesion studies at test time: top-1 error with blocks deleted or reordered.

Veit, Wilber and Belongie (2016), section 5. Deleting one block of a trained
residual network barely moves its error, while deleting a layer of a plain
(VGG-style) network destroys it; the error grows smoothly with the number
of blocks deleted (Figure 5a) and with the Kendall tau distance of a
reordering (Figure 5b). `lesion_study` runs either experiment on any
residual network of the package or, for deletions, on a plain network's
blocks (`plain_blocks`), and returns a `LesionTable` that writes a CSV and
plots itself.
"""

from __future__ import annotations

import csv
import dataclasses
import textwrap

import keras
import numpy as np
from keras import ops
from matplotlib.figure import Figure

from kerasnets.analysis import blocks as B
from kerasnets.analysis import graph as G

KINDS = ("delete", "reorder")


@dataclasses.dataclass
class LesionTable:
    """The rows of a lesion study: one per lesioned network evaluated.

    kind "delete": columns deleted (the number of blocks), blocks (their
    names), top1_error. kind "reorder": swaps (random swaps of blocks of
    equal shape), kendall_tau, permutation, top1_error. The first row is
    the intact network.
    """

    kind: str
    model_name: str
    rows: list
    images: int

    @property
    def columns(self):
        return list(self.rows[0])

    @property
    def baseline(self):
        return self.rows[0]["top1_error"]

    def x(self):
        key = "deleted" if self.kind == "delete" else "kendall_tau"
        return np.array([row[key] for row in self.rows], dtype=float)

    def errors(self):
        return np.array([row["top1_error"] for row in self.rows], dtype=float)

    def mean_by_x(self):
        """(x values, mean error at each): the error curve over the draws."""
        x, errors = self.x(), self.errors()
        keys = sorted(set(x.tolist()), reverse=self.kind == "reorder")
        return np.array(keys), np.array([errors[x == k].mean() for k in keys])

    def write_csv(self, path):
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["model", *self.columns])
            writer.writeheader()
            for row in self.rows:
                writer.writerow({"model": self.model_name, **row})
        return path

    def plot(self, path, *, others=(), title=None):
        """Writes the error curve (with each draw as a dot) of this table and `others`."""
        return plot_lesion_tables([self, *others], path, title=title)


def plot_lesion_tables(tables, path, *, title=None):
    """One figure of several lesion tables of the same kind (a ResNet and its plain twin, say)."""
    kinds = {table.kind for table in tables}
    if len(kinds) != 1:
        raise ValueError(f"the tables must be of one kind; got {sorted(kinds)}")
    kind = kinds.pop()
    figure = Figure(figsize=(6, 4), dpi=110)
    axes = figure.add_subplot()
    for table in tables:
        x, mean = table.mean_by_x()
        line, = axes.plot(x, 100 * mean, marker="o", label=table.model_name)
        axes.scatter(table.x(), 100 * table.errors(), s=8, alpha=0.35, color=line.get_color())
    if kind == "delete":
        axes.set_xlabel("number of blocks deleted")
    else:
        axes.set_xlabel("Kendall tau of the block order")
        axes.invert_xaxis()
    axes.set_ylabel("top-1 error (%)")
    axes.set_ylim(0, 100)
    axes.grid(alpha=0.3)
    axes.legend()
    axes.set_title("Error with blocks deleted at test time" if kind == "delete"
                   else "Error with blocks reordered at test time")
    if title:
        figure.suptitle(textwrap.fill(title, 80), fontsize=9)
    figure.tight_layout()
    figure.savefig(path)
    return path


def as_arrays(data, input_rank):
    """(images, labels) numpy arrays from a pair of arrays or a tf.data data set of pairs."""
    if isinstance(data, (tuple, list)) and len(data) == 2:
        images, labels = data
        return np.asarray(images, dtype="float32"), np.asarray(labels).reshape(-1)
    if hasattr(data, "as_numpy_iterator"):
        elements = list(data.as_numpy_iterator())
        if not elements:
            raise ValueError("`data` is an empty data set")
        images = [np.asarray(x) for x, _ in elements]
        labels = [np.asarray(y).reshape(-1) for _, y in elements]
        if images[0].ndim == input_rank - 1:  # unbatched
            return np.stack(images).astype("float32"), np.concatenate(labels)
        return np.concatenate(images).astype("float32"), np.concatenate(labels)
    raise ValueError(
        "`data` must be a pair (images, labels) of arrays or a tf.data.Dataset of "
        f"(image, label) elements or batches; got {type(data).__name__}"
    )


def top1_error(graph, units, images, labels, *, batch_size=256, **rewiring):
    """The top-1 error of `graph` rewired (see graph.execute) on numpy images and labels."""
    wrong = 0
    for start in range(0, len(images), batch_size):
        out = G.execute(graph, units, images[start:start + batch_size], training=False,
                        **rewiring)
        predicted = ops.convert_to_numpy(out).argmax(axis=-1)
        wrong += int((predicted != labels[start:start + batch_size]).sum())
    return wrong / len(images)


def recompute_batch_norm_statistics(model, images, *, batch_size=256):
    """Sets each batch normalization's moving mean and variance to their average over `images`.

    After a short training run the moving averages (momentum 0.99) still
    remember their initial values and the network in inference mode is far
    worse than in training mode; lesion studies evaluate in inference mode.
    Each batch of `images` (numpy) runs in training mode with every
    BatchNormalization's momentum set so that the moving statistics end as
    the mean of the batches' statistics (Wu and Johnson's "precise BN").
    """
    B.check_positive_int("batch_size", batch_size)
    norms = [layer for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    try:
        for count, start in enumerate(range(0, len(images), batch_size), start=1):
            for layer in norms:
                layer.momentum = (count - 1) / count
            model(np.asarray(images[start:start + batch_size], dtype="float32"), training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
    return model


def lesion_study(model, data, kind="delete", *, counts=None, draws=5, blocks=None, seed=0,
                 batch_size=256):
    """Top-1 error of `model` with blocks deleted (or reordered) at test time: a `LesionTable`.

    `data`: (images, labels) arrays or a tf.data.Dataset of them (the
    network's preprocessing already applied). The blocks are
    `residual_blocks(model)` or, in a network without shortcuts,
    `plain_blocks(model)`; `blocks` (indices or names, default: every
    deletable one) limits the study to some of them.

    kind="delete": for each count k in `counts` (default 0 .. the number of
    blocks), k = 1 deletes each block in turn (Veit et al., Figure 3) and
    k > 1 draws `draws` random sets of k blocks (Figure 5a). kind="reorder"
    (residual networks): for each number of swaps s in `counts` (default 1
    .. the number of blocks), `draws` permutations made of s random swaps of
    two blocks of the same shape, with their Kendall tau (Figure 5b).
    """
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {KINDS}; got {kind!r}")
    B.check_positive_int("draws", draws)
    B.check_positive_int("batch_size", batch_size)
    graph = G.trace(model)
    units = B.model_units(graph)
    if kind == "reorder" and units[0].add is None:
        raise ValueError(f"kind='reorder' needs a residual network; {model.name!r} has no "
                         "residual blocks")
    if blocks is None:
        chosen = [i for i, u in enumerate(units) if B.is_deletable(u)]
    else:
        chosen = B.resolve_indices(units, blocks, "blocks")
        B.check_deletable(units, chosen)
    images, labels = as_arrays(data, len(graph.inputs[0].shape))
    rng = np.random.default_rng(seed)

    def error(**rewiring):
        return top1_error(graph, units, images, labels, batch_size=batch_size, **rewiring)

    if kind == "delete":
        counts = range(len(chosen) + 1) if counts is None else counts
        rows = [{"deleted": 0, "blocks": "", "top1_error": error()}]
        for k in counts:
            k = int(k)
            if k == 0:
                continue
            if not 0 < k <= len(chosen):
                raise ValueError(f"`counts` must be in [0, {len(chosen)}]; got {k}")
            if k == 1:
                sets = [[i] for i in chosen]
            else:
                sets = [sorted(rng.choice(chosen, size=k, replace=False).tolist())
                        for _ in range(draws)]
            for deleted in sets:
                rows.append({"deleted": k, "blocks": " ".join(units[i].name for i in deleted),
                             "top1_error": error(deleted=deleted)})
        return LesionTable(kind, model.name, rows, len(images))

    groups = {}
    for i in chosen:
        groups.setdefault((units[i].input_shape, units[i].output_shape), []).append(i)
    swappable = [g for g in groups.values() if len(g) > 1]
    if not swappable:
        raise ValueError(f"model {model.name!r} has no two blocks of the same shape to swap")
    counts = range(1, len(chosen) + 1) if counts is None else counts
    identity = list(range(len(units)))
    rows = [{"swaps": 0, "kendall_tau": 1.0, "permutation": " ".join(map(str, identity)),
             "top1_error": error()}]
    weights = np.array([len(g) * (len(g) - 1) for g in swappable], dtype=float)
    for swaps in counts:
        swaps = int(swaps)
        if swaps < 1:
            raise ValueError(f"`counts` (numbers of swaps) must be >= 1 for reorder; got {swaps}")
        for _ in range(draws):
            order = list(identity)
            for _ in range(swaps):
                group = swappable[rng.choice(len(swappable), p=weights / weights.sum())]
                a, b = rng.choice(group, size=2, replace=False)
                order[a], order[b] = order[b], order[a]
            rows.append({"swaps": swaps, "kendall_tau": B.kendall_tau(order),
                         "permutation": " ".join(map(str, order)),
                         "top1_error": error(order=order)})
    return LesionTable(kind, model.name, rows, len(images))
